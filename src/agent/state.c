// SPDX-License-Identifier: Apache-2.0
/*
 * state.c — CERTS/state.json: which SP key is in use (acknowledged), which one waits for the
 * server's acknowledgement, which profile was in flight, which old keys wait for deletion.
 * Written atomically after every step, so a crash anywhere resumes from the last step.
 * agentq16: the queue of locally renewed certificates lives beside it, in CERTS/backlog.0.pem or
 * backlog.1.pem, appended to, so that a renewal rewrites a few KiB of state and not megabytes.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include <jansson.h>
#include <openssl/bn.h>
#include <openssl/crypto.h>
#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/rand.h>
#include <selfcert/cert.h>
#include "agent.h"
#include "file.h"
#include "text.h"

#define STATE_VERSION 1

void agent_key_clear(struct agent_key *k)
{
	free(k->cert_pem);
	memset(k, 0, sizeof(*k));
}

void agent_state_clear(struct agent_state *st)
{
	agent_key_clear(&st->current);
	agent_key_clear(&st->pending);
	OPENSSL_free(st->renewal_der);
	OPENSSL_free(st->pending_profile);
	for (size_t i = 0; i < st->n_backlog; i++)
		free(st->backlog[i]);
	memset(st, 0, sizeof(*st));
}

int agent_backlog_full(const struct agent_state *st)
{
	size_t bytes = 0, most = AGENT_MAX_BACKLOG;
#ifdef SC_FAILPOINTS
	/* agentq16: fail point (test) builds only, never Release: a smaller bound, so an
	 * integration test fills the queue in seconds through the same code. */
	const char *e = getenv("SC_AGENT_TEST_BACKLOG_MAX");
	char *end = NULL;
	unsigned long v = e != NULL ? strtoul(e, &end, 10) : 0;

	if (e != NULL && end != e && *end == '\0' && v >= 1 && v < AGENT_MAX_BACKLOG)
		most = (size_t)v;
#endif
	if (st->n_backlog >= most)
		return 1;
	for (size_t i = 0; i < st->n_backlog; i++)
		bytes += strlen(st->backlog[i]);
	return bytes > AGENT_BACKLOG_BYTES_MAX;
}

void agent_backlog_removed(struct agent_state *st, size_t i)
{
	if (i < st->q_intact)
		st->q_intact = i;
}

/* The PEM block all of s must be: its header first, its footer (and a newline) last and once. */
#define PEM_HEAD "-----BEGIN CERTIFICATE-----"
#define PEM_FOOT "-----END CERTIFICATE-----\n"
static int one_pem_block(const char *s, size_t len)
{
	const char *foot;

	return len >= sizeof(PEM_HEAD) - 1 + sizeof(PEM_FOOT) - 1 &&
	    memcmp(s, PEM_HEAD, sizeof(PEM_HEAD) - 1) == 0 && memchr(s, '\0', len) == NULL &&
	    (foot = memmem(s, len, PEM_FOOT, sizeof(PEM_FOOT) - 1)) != NULL &&
	    (size_t)(foot - s) + sizeof(PEM_FOOT) - 1 == len;
}

static int64_t random_below(int64_t n)
{
	uint64_t v = 0;

	if (n <= 0 || RAND_bytes((unsigned char *)&v, sizeof(v)) != 1)
		return 0;
	return (int64_t)(v % (uint64_t)n);
}

/* The certificate as PEM text (malloc'd, NUL-terminated), and its serial in lower-case hex. */
static sc_err cert_texts(X509 *cert, char **pem, char serial[65])
{
	BIO *bio = NULL;
	BUF_MEM *mem = NULL;
	BIGNUM *bn = NULL;
	char *hex = NULL;
	sc_err r;

	*pem = NULL;
	if ((bio = BIO_new(BIO_s_mem())) == NULL || !PEM_write_bio_X509(bio, cert)) {
		r = sc_fail(SC_ERR_NOMEM, "encoding the certificate");
		goto out;
	}
	if ((bn = ASN1_INTEGER_to_BN(X509_get0_serialNumber(cert), NULL)) == NULL ||
	    (hex = BN_bn2hex(bn)) == NULL) {
		r = sc_fail(SC_ERR_NOMEM, "encoding the certificate's serial");
		goto out;
	}
	BIO_get_mem_ptr(bio, &mem);
	if ((*pem = malloc(mem->length + 1)) == NULL) {
		r = sc_fail(SC_ERR_NOMEM, "encoding the certificate");
		goto out;
	}
	memcpy(*pem, mem->data, mem->length);
	(*pem)[mem->length] = '\0';
	memset(serial, 0, 65);
	for (size_t i = 0; hex[i] != '\0' && i < 64; i++)
		serial[i] = (char)(hex[i] >= 'A' && hex[i] <= 'F' ? hex[i] - 'A' + 'a' : hex[i]);
	r = SC_OK;
out:
	OPENSSL_free(hex);
	BN_free(bn);
	BIO_free(bio);
	return r;
}

sc_err agent_key_from_cert(struct agent_key *k, uint32_t handle, X509 *cert)
{
	struct sc_issuance iss;
	time_t nb, na;
	int64_t life;
	sc_err r;

	agent_key_clear(k);
	if ((r = sc_issuance_get(cert, &iss)) != SC_OK)
		return sc_fail(r, "the SP's certificate: %s", sc_err_detail());
	if ((r = sc_asn1_time_to_time_t(X509_get0_notBefore(cert), &nb)) != SC_OK ||
	    (r = sc_asn1_time_to_time_t(X509_get0_notAfter(cert), &na)) != SC_OK)
		return r;
	if ((r = cert_texts(cert, &k->cert_pem, k->serial)) != SC_OK)
		return r;
	k->present = 1;
	k->handle = handle;
	sc_hex(iss.profile_id, SC_PROFILE_ID_LEN, k->profile_id);
	k->not_before = (int64_t)nb;
	k->not_after = (int64_t)na;
	/* Two thirds into the lifetime, less up to a tenth of it at random: a fleet that enrolled
	 * together does not come back together. */
	life = k->not_after - k->not_before;
	k->renew_at = k->not_before + life * 2 / 3 - random_below(life / 10 + 1);
	return SC_OK;
}

static json_t *key_json(const struct agent_key *k, int pending)
{
	json_t *j;

	if (!k->present)
		return json_null();
	j = json_pack("{s:I, s:s, s:s, s:I, s:I, s:I, s:s}", "handle", (json_int_t)k->handle,
	    "profile_id", k->profile_id, "serial", k->serial, "not_before",
	    (json_int_t)k->not_before, "not_after", (json_int_t)k->not_after, "renew_at",
	    (json_int_t)k->renew_at, "cert", k->cert_pem ? k->cert_pem : "");
	if (j != NULL && pending)
		json_object_set_new(j, "written", json_boolean(k->written));
	return j;
}

/*
 * #17: "renewal" (base64 DER) and "backlog" (PEM strings), only when there is something.
 * agentq16: with queue (agent_state_save), "backlog_file" names where the queue is instead.
 */
static sc_err renewal_json(const struct agent_state *st, json_t *queue, json_t *j)
{
	json_t *bl;
	char *b64;
	int bad;

	if (st->renewal_der != NULL) {
		if ((b64 = sc_base64_encode(st->renewal_der, st->renewal_len)) == NULL)
			return SC_ERR_NOMEM;
		bad = json_object_set_new(j, "renewal", json_string(b64)) != 0;
		free(b64);
		if (bad)
			return SC_ERR_NOMEM;
	}
	/* #17 (dur11): the pending key's profile, only while there is a pending key. */
	if (st->pending_profile != NULL && st->pending.present) {
		if ((b64 = sc_base64_encode(st->pending_profile, st->pending_profile_len)) == NULL)
			return SC_ERR_NOMEM;
		bad = json_object_set_new(j, "pending_profile", json_string(b64)) != 0;
		free(b64);
		if (bad)
			return SC_ERR_NOMEM;
	}
	/* agent14, crl14: the kept CRL's nextUpdate, with what it was sent for; crl15: a refusal
	 * instead, negative (agent.h). */
	if (st->crl_for[0] != '\0' && (st->crl_refused_until > 0 || st->crl_until > 0) &&
	    (json_object_set_new(j, "crl_until",
	         json_integer(st->crl_refused_until > 0 ? -(json_int_t)st->crl_refused_until
	                                                : (json_int_t)st->crl_until)) != 0 ||
	        json_object_set_new(j, "crl_for", json_string(st->crl_for)) != 0))
		return SC_ERR_NOMEM;
	if (st->n_backlog == 0)
		return SC_OK;
	if (queue != NULL)
		return json_object_set(j, "backlog_file", queue) != 0 ? SC_ERR_NOMEM : SC_OK;
	if ((bl = json_array()) == NULL || json_object_set_new(j, "backlog", bl) != 0)
		return SC_ERR_NOMEM;
	for (size_t i = 0; i < st->n_backlog; i++)
		if (json_array_append_new(bl, json_string(st->backlog[i])) != 0)
			return SC_ERR_NOMEM;
	return SC_OK;
}

/* The state's text; queue (borrowed; NULL: the backlog inline) says where the backlog is. */
static sc_err state_format(const struct agent_state *st, json_t *queue, char **text)
{
	json_t *j = NULL, *retire = NULL, *after = NULL;
	sc_err r;

	*text = NULL;
	if ((retire = json_array()) == NULL || (after = json_array()) == NULL) {
		r = sc_fail(SC_ERR_NOMEM, "state");
		goto out;
	}
	for (size_t i = 0; i < st->n_retire; i++) {
		if (json_array_append_new(retire, json_integer(st->retire[i])) != 0 ||
		    json_array_append_new(after, json_integer(st->retire_after[i])) != 0) {
			r = sc_fail(SC_ERR_NOMEM, "state");
			goto out;
		}
	}
	/* "o" steals retire even when the pack fails. */
	j = json_pack("{s:i, s:o, s:o, s:o, s:o}", "version", STATE_VERSION, "current",
	    key_json(&st->current, 0), "pending", key_json(&st->pending, 1), "inflight",
	    st->has_inflight ? json_pack("{s:s}", "profile_id", st->inflight_id) : json_null(),
	    "retire", retire);
	retire = NULL;
	/* Added after version 1 shipped, optional when read: an older agent's state still loads. */
	if (j != NULL) {
		/* set_new takes `after` whether or not it succeeds. */
		int bad = json_object_set_new(j, "retire_after", after) != 0;

		after = NULL;
		if (bad || json_object_set_new(j, "hook_due", json_boolean(st->hook_due)) != 0 ||
		    (r = renewal_json(st, queue, j)) != SC_OK) {
			r = sc_fail(SC_ERR_NOMEM, "state: encoding");
			goto out;
		}
	}
	if (j == NULL || (*text = json_dumps(j, JSON_INDENT(2) | JSON_SORT_KEYS)) == NULL) {
		r = sc_fail(SC_ERR_NOMEM, "state: encoding");
		goto out;
	}
	r = SC_OK;
out:
	json_decref(after);
	json_decref(retire);
	json_decref(j);
	return r;
}

sc_err agent_state_format(const struct agent_state *st, char **text)
{
	return state_format(st, NULL, text);
}

/* "<folder of state_path>/backlog.<n>.pem" into out. */
static sc_err queue_path(const char *state_path, int n, char *out, size_t out_len)
{
	const char *slash = strrchr(state_path, '/');
	int w = slash == NULL ? snprintf(out, out_len, "backlog.%d.pem", n)
	                      : snprintf(out, out_len, "%.*s/backlog.%d.pem",
	                            (int)(slash - state_path), state_path, n);

	return w < 0 || (size_t)w >= out_len
	    ? sc_fail(SC_ERR_USAGE, "%s: path too long", state_path)
	    : SC_OK;
}

/* agentweak17: entries a pwritev (IOV_MAX is 1024 on Linux; 64 keeps the stack small). */
#define QUEUE_IOV 64

/* The rest of one entry (len bytes of p) at *at, after a short pwritev. */
static sc_err write_rest(int fd, const char *qpath, const char *p, size_t len, off_t *at)
{
	size_t done = 0;

	while (done < len) {
		ssize_t w = pwrite(fd, p + done, len - done, *at);

		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0)
			return sc_fail(SC_ERR_IO, "%s: %s", qpath,
			    w < 0 ? strerror(errno) : "short write");
		done += (size_t)w;
		*at += w;
	}
	return SC_OK;
}

/*
 * Write queue entries [from, n) into backlog.<file>.pem at byte `at` (its committed length;
 * anything past it is a crash's leftover, cut first; 0 or `fresh`: a new file, created anew), and
 * fsync it.
 */
static sc_err queue_write(const char *qpath, const struct agent_state *st, size_t from, off_t at,
    int fresh)
{
	const int new_file = fresh || at == 0; /* created here */
	int fd;
	sc_err r = SC_OK;

	/*
	 * aw17mend: a new file is a new inode, never the old one cut: a name left behind that is a
	 * hard link to a damaged file kept aside (keep_damaged; the unlink after the salvage's commit
	 * did not happen: a crash, a failed save, a failed unlink) would otherwise truncate and
	 * overwrite the copy kept. The name is not the committed queue's (that one is only appended
	 * to), so removing it first loses nothing.
	 */
	if (new_file && unlink(qpath) != 0 && errno != ENOENT)
		return sc_fail(SC_ERR_IO, "%s: %s", qpath, strerror(errno));
	fd = open(qpath, O_WRONLY | O_CREAT | O_NOFOLLOW | O_CLOEXEC | (new_file ? O_EXCL : 0),
	    0644);
	if (fd < 0)
		return sc_fail(SC_ERR_IO, "%s: %s", qpath, strerror(errno));
	if (ftruncate(fd, at) != 0)
		r = sc_fail(SC_ERR_IO, "%s: %s", qpath, strerror(errno));
	/*
	 * agentweak17: QUEUE_IOV entries a pwritev, not one pwrite each: a flush that rewrites the
	 * rest of a 1000-certificate queue (or a salvage) made 1000 system calls (PERFORMANCE.md
	 * 24.3). A short write goes on from where it stopped.
	 */
	for (size_t i = from; r == SC_OK && i < st->n_backlog;) {
		struct iovec iov[QUEUE_IOV];
		int cnt = 0;
		ssize_t w;

		for (size_t j = i; j < st->n_backlog && cnt < QUEUE_IOV; j++, cnt++) {
			iov[cnt].iov_base = st->backlog[j];
			iov[cnt].iov_len = strlen(st->backlog[j]);
		}
		w = pwritev(fd, iov, cnt, at);
		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0) {
			r = sc_fail(SC_ERR_IO, "%s: %s", qpath,
			    w < 0 ? strerror(errno) : "short write");
			break;
		}
		at += w;
		/* Whole entries written move i on; a part of one is written again from its offset
		 * by the single-entry path below. */
		for (int k = 0; k < cnt && w > 0; k++) {
			if ((size_t)w >= iov[k].iov_len) {
				w -= (ssize_t)iov[k].iov_len;
				i++;
				continue;
			}
			r = write_rest(fd, qpath, st->backlog[i] + w, iov[k].iov_len - (size_t)w,
			    &at);
			i++;
			w = 0;
		}
	}
	if (r == SC_OK && fsync(fd) != 0)
		r = sc_fail(SC_ERR_IO, "%s: %s", qpath, strerror(errno));
	if (close(fd) != 0 && r == SC_OK)
		r = sc_fail(SC_ERR_IO, "%s: %s", qpath, strerror(errno));
	/*
	 * A new file's directory entry synced before state.json's rename names it (review of
	 * agentq16: ext4 and XFS journal the two in order, POSIX does not promise it).
	 */
	if (r == SC_OK && new_file)
		r = sc_fsync_dir_of(qpath);
	return r;
}

/*
 * agentq16: the queue is written first, state.json (which names its file, count and length) is
 * the commit. Three cases, each leaving the committed state's queue whole whatever happens
 * before the rename: only appended since the last commit: the new certificates go after the
 * committed length of the same file; only cut at its end: nothing to write (a shorter length);
 * anything else (the flush took some from the front): the whole queue goes into the other file.
 * After the commit an empty queue's files, or the one no longer named, are removed (best effort:
 * a leftover is cut or truncated before it is used again). steps < 3: stop before the removal,
 * < 2: before state.json too (what a crash there leaves; test_agent_state).
 */
sc_err agent_state_save_steps(const char *path, struct agent_state *st, int steps)
{
	char qpath[4200], oldq[4200], *text = NULL;
	json_t *queue = NULL;
	size_t bytes = 0, n = st->n_backlog;
	int file = st->q_file, append = 0;
	sc_err r;

	for (size_t i = 0; i < n; i++)
		bytes += strlen(st->backlog[i]);
	if (n > 0) {
		if (st->q_intact == st->q_count) {
			append = 1; /* nothing committed left: write after the committed length */
		} else if (n <= st->q_intact) {
			append = -1; /* a prefix of the committed queue: nothing to write */
		} else {
			file = !st->q_file;
		}
		if ((r = queue_path(path, file, qpath, sizeof(qpath))) != SC_OK)
			return r;
		if (append >= 0 &&
		    (r = queue_write(qpath, st, append ? st->q_count : 0,
		         append ? (off_t)st->q_bytes : 0, !append)) != SC_OK)
			return r;
		if ((queue = json_pack("{s:s, s:I, s:I}", "name",
		         strrchr(qpath, '/') != NULL ? strrchr(qpath, '/') + 1 : qpath, "count",
		         (json_int_t)n, "bytes", (json_int_t)bytes)) == NULL)
			return sc_fail(SC_ERR_NOMEM, "state");
	}
	if (steps < 2) {
		json_decref(queue);
		return SC_OK;
	}
	r = state_format(st, queue, &text);
	json_decref(queue);
	if (r != SC_OK)
		return sc_fail(r, "%s: %s", path, sc_err_detail());
	r = sc_file_write_atomic(path, text, strlen(text), 0644);
	free(text);
	if (r != SC_OK)
		return r;
	/* Committed. */
	if (n > 0 && file != st->q_file && st->q_count > 0 && steps >= 3 &&
	    queue_path(path, st->q_file, oldq, sizeof(oldq)) == SC_OK)
		(void)unlink(oldq);
	if (n == 0 && st->q_count > 0 && steps >= 3) {
		for (int f = 0; f <= 1; f++)
			if (queue_path(path, f, oldq, sizeof(oldq)) == SC_OK)
				(void)unlink(oldq);
	}
	st->q_file = file;
	st->q_count = n;
	st->q_bytes = bytes;
	st->q_intact = n;
	return SC_OK;
}

sc_err agent_state_save(const char *path, struct agent_state *st)
{
	return agent_state_save_steps(path, st, 3);
}

static int is_hex_id(const char *s)
{
	if (strlen(s) != 2 * SC_PROFILE_ID_LEN)
		return 0;
	for (; *s; s++)
		if (!((*s >= '0' && *s <= '9') || (*s >= 'a' && *s <= 'f')))
			return 0;
	return 1;
}

static sc_err key_load(json_t *j, const char *name, struct agent_key *k)
{
	json_int_t handle, nb, na, ra;
	const char *pid, *serial, *cert;
	int written = 0;
	json_error_t err;

	memset(k, 0, sizeof(*k));
	if (j == NULL || json_is_null(j))
		return SC_OK;
	if (json_unpack_ex(j, &err, JSON_STRICT, "{s:I, s:s, s:s, s:I, s:I, s:I, s:s, s?b}",
	        "handle", &handle, "profile_id", &pid, "serial", &serial, "not_before", &nb,
	        "not_after", &na, "renew_at", &ra, "cert", &cert, "written", &written) != 0)
		return sc_fail(SC_ERR_MALFORMED, "state \"%s\": %s", name, err.text);
	if (handle <= 0 || handle > UINT32_MAX || !is_hex_id(pid) ||
	    strlen(serial) >= sizeof(k->serial) ||
	    strncmp(cert, "-----BEGIN CERTIFICATE-----", 27) != 0 || na <= nb)
		return sc_fail(SC_ERR_MALFORMED, "state \"%s\": a field is out of range", name);
	if ((k->cert_pem = strdup(cert)) == NULL)
		return sc_fail(SC_ERR_NOMEM, "state");
	k->present = 1;
	k->handle = (uint32_t)handle;
	snprintf(k->profile_id, sizeof(k->profile_id), "%s", pid);
	snprintf(k->serial, sizeof(k->serial), "%s", serial);
	k->not_before = nb;
	k->not_after = na;
	k->renew_at = ra;
	k->written = written;
	return SC_OK;
}

/* "retire": at most AGENT_MAX_RETIRE key handles; "retire_after", if there, one time each. */
static sc_err retire_load(json_t *ret, json_t *after, const char *what, struct agent_state *st)
{
	size_t i;
	json_t *e;

	if (after != NULL &&
	    (!json_is_array(after) || json_array_size(after) != json_array_size(ret)))
		return sc_fail(SC_ERR_MALFORMED,
		    "%s: \"retire_after\" is not one time per retired key", what);
	json_array_foreach (ret, i, e) {
		json_t *t = after != NULL ? json_array_get(after, i) : NULL;

		if (!json_is_integer(e) || json_integer_value(e) <= 0 ||
		    json_integer_value(e) > UINT32_MAX)
			return sc_fail(SC_ERR_MALFORMED, "%s: \"retire\"[%zu] is not a key handle",
			    what, i);
		if (t != NULL && (!json_is_integer(t) || json_integer_value(t) < 0))
			return sc_fail(SC_ERR_MALFORMED, "%s: \"retire_after\"[%zu] is not a time",
			    what, i);
		st->retire_after[st->n_retire] = t != NULL ? (int64_t)json_integer_value(t) : 0;
		st->retire[st->n_retire++] = (uint32_t)json_integer_value(e);
	}
	return SC_OK;
}

/*
 * #17: "renewal", strict base64 of at most SC_PROFILE_MAX_DER bytes (decoded again before use),
 * and "backlog", at most AGENT_MAX_BACKLOG PEM certificates.
 */
static sc_err renewal_load(json_t *ren, json_t *bl, json_t *bf, const char *what,
    struct agent_state *st)
{
	size_t i;
	json_t *e;

	if (ren != NULL) {
		if (!json_is_string(ren) ||
		    sc_base64_decode(json_string_value(ren), json_string_length(ren),
		        4 * ((SC_PROFILE_MAX_DER + 2) / 3), &st->renewal_der,
		        &st->renewal_len) != SC_OK ||
		    st->renewal_len == 0)
			return sc_fail(SC_ERR_MALFORMED,
			    "%s: \"renewal\" is not base64 of a profile (at most %d bytes)", what,
			    SC_PROFILE_MAX_DER);
	}
	if (bf != NULL) {
		const char *name = NULL;
		json_int_t count = 0, bytes = 0;
		json_error_t err;

		/* agentq16: backlog.<0|1>.pem holds `count` certificates in its first `bytes`. */
		if (bl != NULL ||
		    json_unpack_ex(bf, &err, JSON_STRICT, "{s:s, s:I, s:I}", "name", &name, "count",
		        &count, "bytes", &bytes) != 0 ||
		    (strcmp(name, "backlog.0.pem") != 0 && strcmp(name, "backlog.1.pem") != 0) ||
		    count < 1 || count > AGENT_MAX_BACKLOG || bytes < count * 50 ||
		    bytes > AGENT_STATE_MAX)
			return sc_fail(SC_ERR_MALFORMED,
			    "%s: \"backlog_file\" is not backlog.0.pem or backlog.1.pem with 1..%d "
			    "certificates in at most %d bytes (and no \"backlog\")",
			    what, AGENT_MAX_BACKLOG, AGENT_STATE_MAX);
		st->q_file = name[8] - '0';
		st->q_count = (size_t)count;
		st->q_bytes = (size_t)bytes;
		return SC_OK; /* read by agent_state_load */
	}
	if (bl == NULL)
		return SC_OK;
	if (!json_is_array(bl) || json_array_size(bl) > AGENT_MAX_BACKLOG)
		return sc_fail(SC_ERR_MALFORMED, "%s: \"backlog\" is not at most %d certificates",
		    what, AGENT_MAX_BACKLOG);
	json_array_foreach (bl, i, e) {
		if (!json_is_string(e) ||
		    !one_pem_block(json_string_value(e), json_string_length(e)))
			return sc_fail(SC_ERR_MALFORMED,
			    "%s: \"backlog\"[%zu] is not a PEM certificate", what, i);
		if ((st->backlog[st->n_backlog] = strdup(json_string_value(e))) == NULL)
			return sc_fail(SC_ERR_NOMEM, "state");
		st->n_backlog++;
	}
	return SC_OK;
}

/* crl15: "crl_until" is a Unix time, positive (kept until) or negative (refused until). */
static int crl_until_ok(const json_t *cu)
{
	json_int_t v = json_integer_value(cu);

	return json_is_integer(cu) && v != 0 && v >= -INT64_MAX;
}

sc_err agent_state_parse(const uint8_t *data, size_t len, const char *what, struct agent_state *st)
{
	json_t *j = NULL, *cur = NULL, *pen = NULL, *inf = NULL, *ret = NULL, *after = NULL;
	json_t *ren = NULL, *bl = NULL, *bf = NULL, *pp = NULL, *cu = NULL, *cf = NULL;
	const char *pid = NULL;
	json_error_t err;
	int version = 0, hook_due = 0;
	sc_err r;

	memset(st, 0, sizeof(*st));
	if (len > AGENT_STATE_MAX)
		return sc_fail(SC_ERR_OVERSIZE, "%s: %zu bytes, at most %d", what, len,
		    AGENT_STATE_MAX);
	if ((j = json_loadb((const char *)data, len, JSON_REJECT_DUPLICATES, &err)) == NULL)
		return sc_fail(SC_ERR_MALFORMED, "%s: not JSON (%s); move it away to start over",
		    what, err.text);
	if (json_unpack_ex(j, &err, JSON_STRICT,
	        "{s:i, s:o, s:o, s:o, s:o, s?o, s?b, s?o, s?o, s?o, s?o, s?o, s?o}", "version",
	        &version, "current", &cur, "pending", &pen, "inflight", &inf, "retire", &ret,
	        "retire_after", &after, "hook_due", &hook_due, "renewal", &ren, "backlog", &bl,
	        "backlog_file", &bf, "pending_profile", &pp, "crl_until", &cu, "crl_for",
	        &cf) != 0 ||
	    version != STATE_VERSION || !json_is_array(ret) ||
	    json_array_size(ret) > AGENT_MAX_RETIRE) {
		r = sc_fail(SC_ERR_MALFORMED, "%s: not a version-%d agent state", what,
		    STATE_VERSION);
		goto out;
	}
	if ((r = key_load(cur, "current", &st->current)) != SC_OK ||
	    (r = key_load(pen, "pending", &st->pending)) != SC_OK)
		goto out;
	if (!json_is_null(inf)) {
		if (json_unpack_ex(inf, &err, JSON_STRICT, "{s:s}", "profile_id", &pid) != 0 ||
		    !is_hex_id(pid)) {
			r = sc_fail(SC_ERR_MALFORMED, "%s: \"inflight\" is damaged", what);
			goto out;
		}
		st->has_inflight = 1;
		snprintf(st->inflight_id, sizeof(st->inflight_id), "%s", pid);
	}
	if ((r = retire_load(ret, after, what, st)) != SC_OK ||
	    (r = renewal_load(ren, bl, bf, what, st)) != SC_OK)
		goto out;
	/*
	 * #17 (dur11): strict base64 of at most SC_PROFILE_MAX_DER bytes, with a pending key. Only
	 * advisory (sent back if the server lost the profile): anything else is dropped with a
	 * warning, never a reason to stop the agent.
	 */
	if (pp != NULL &&
	    (!json_is_string(pp) || !st->pending.present ||
	        sc_base64_decode(json_string_value(pp), json_string_length(pp),
	            4 * ((SC_PROFILE_MAX_DER + 2) / 3), &st->pending_profile,
	            &st->pending_profile_len) != SC_OK ||
	        st->pending_profile_len == 0)) {
		OPENSSL_free(st->pending_profile);
		st->pending_profile = NULL;
		st->pending_profile_len = 0;
		sc_err_clear();
		snprintf(st->warning, sizeof(st->warning),
		    "%s: \"pending_profile\" dropped: not base64 of a profile (at most %d bytes) "
		    "beside a pending key",
		    what, SC_PROFILE_MAX_DER);
	}
	/*
	 * agent14, crl14: a non-zero integer and 32 lower-case hex digits; crl15: negative, a
	 * refusal's end (agent.h). Advisory (at worst one more CRL is sent): anything else is
	 * dropped with a warning; an agent14 state's "crl_until" alone (no "crl_for") silently,
	 * its CRL sent again once.
	 */
	if (cu != NULL && cf != NULL && crl_until_ok(cu) && json_is_string(cf) &&
	    is_hex_id(json_string_value(cf))) {
		if (json_integer_value(cu) > 0)
			st->crl_until = (int64_t)json_integer_value(cu);
		else
			st->crl_refused_until = -(int64_t)json_integer_value(cu);
		snprintf(st->crl_for, sizeof(st->crl_for), "%s", json_string_value(cf));
	} else if ((cu != NULL && !crl_until_ok(cu)) ||
	    (cf != NULL && (!json_is_string(cf) || !is_hex_id(json_string_value(cf))))) {
		if (st->warning[0] == '\0')
			snprintf(st->warning, sizeof(st->warning),
			    "%s: \"crl_until\" dropped: not a non-zero integer with \"crl_for\" "
			    "(32 hex digits)",
			    what);
	}
	st->hook_due = hook_due;
	r = SC_OK;
out:
	if (r != SC_OK)
		agent_state_clear(st);
	json_decref(j);
	return r;
}

/* aw17mend: read(2), replaceable by a test (agent.h) to make a read fail as EIO does. */
ssize_t (*agent_state_read_fn)(int, void *, size_t) = read;

/*
 * agentweak17: the first `want` bytes of the queue file (fewer if it is shorter), without
 * following a link; *size its whole size. SC_ERR_NOT_FOUND if it is missing; SC_ERR_IO (not a
 * regular file, a read error) otherwise.
 */
static sc_err read_head(const char *qpath, size_t want, uint8_t **data, size_t *len, off_t *size)
{
	int fd = open(qpath, O_RDONLY | O_NOFOLLOW | O_CLOEXEC | O_NONBLOCK);
	struct stat sb;
	size_t n;
	sc_err r = SC_OK;

	*data = NULL;
	*len = 0;
	*size = 0;
	if (fd < 0)
		return errno == ENOENT ? SC_ERR_NOT_FOUND
		                       : sc_fail(SC_ERR_IO, "%s: %s", qpath, strerror(errno));
	if (fstat(fd, &sb) != 0 || !S_ISREG(sb.st_mode)) {
		r = sc_fail(SC_ERR_IO, "%s: not a regular file", qpath);
		goto out;
	}
	*size = sb.st_size;
	n = (uint64_t)sb.st_size < want ? (size_t)sb.st_size : want;
	if ((*data = OPENSSL_malloc(n + 1)) == NULL) {
		r = sc_fail(SC_ERR_NOMEM, "%s", qpath);
		goto out;
	}
	while (*len < n) {
		ssize_t got = agent_state_read_fn(fd, *data + *len, n - *len);

		if (got < 0 && errno == EINTR)
			continue;
		/* aw17mend: a read error (EIO) is no truncation: salvaging what was read would
		 * commit a cut queue. SC_ERR_IO, as before agentweak17: the next round retries. */
		if (got < 0) {
			r = sc_fail(SC_ERR_IO, "%s: %s", qpath, strerror(errno));
			goto out;
		}
		if (got == 0)
			break; /* shorter than fstat said: what was read */
		*len += (size_t)got;
	}
	(*data)[*len] = '\0';
out:
	(void)close(fd);
	return r;
}

/*
 * agentweak17: s (len bytes) is one CERTIFICATE block (the normal load's framing) whose base64
 * decodes to one DER SEQUENCE of exactly that length holding a SEQUENCE first (a certificate's
 * shape: its tbsCertificate). Not a full X.509 parse: d2i_X509 costs ~1.2 M instructions a
 * certificate (1.3 G for a full queue, PERFORMANCE.md 24.3), this ~60 k; the server judges the
 * certificate (a block that passes here and is still no certificate is refused and set aside).
 */
static int whole_cert(const char *s, size_t len)
{
	BIO *b;
	char *name = NULL, *header = NULL;
	unsigned char *der = NULL;
	const unsigned char *p;
	long dlen = 0, olen = 0, ilen = 0;
	int tag = 0, cls = 0, ok = 0;

	if (!one_pem_block(s, len) || len > INT32_MAX || (b = BIO_new_mem_buf(s, (int)len)) == NULL)
		return 0;
	if (PEM_read_bio(b, &name, &header, &der, &dlen) == 1 && BIO_eof(b) &&
	    strcmp(name, PEM_STRING_X509) == 0 && header[0] == '\0' && dlen > 2) {
		p = der;
		if (ASN1_get_object(&p, &olen, &tag, &cls, dlen) == V_ASN1_CONSTRUCTED &&
		    tag == V_ASN1_SEQUENCE && cls == V_ASN1_UNIVERSAL && p + olen == der + dlen &&
		    ASN1_get_object(&p, &ilen, &tag, &cls, olen) == V_ASN1_CONSTRUCTED &&
		    tag == V_ASN1_SEQUENCE && cls == V_ASN1_UNIVERSAL)
			ok = 1;
	}
	OPENSSL_free(name);
	OPENSSL_free(header);
	OPENSSL_free(der);
	BIO_free(b);
	ERR_clear_error();
	return ok;
}

/*
 * agentweak17: every whole certificate of a damaged queue's `len` bytes, in order, into
 * st->backlog (at most AGENT_MAX_BACKLOG): a block from its header to the first footer after it
 * with no other header between, which whole_cert reads. *lost: the blocks that were not (a
 * header cut off by another, or by the end of the data; a block that does not decode).
 */
static sc_err salvage(const uint8_t *data, size_t len, struct agent_state *st, size_t *lost)
{
	const char *d = (const char *)data, *foot = NULL;
	size_t at = 0;
	int searched = 0;

	*lost = 0;
	while (at < len && st->n_backlog < AGENT_MAX_BACKLOG) {
		const char *head = memmem(d + at, len - at, PEM_HEAD, sizeof(PEM_HEAD) - 1), *next;
		size_t h, one;

		if (head == NULL)
			break;
		h = (size_t)(head - d);
		/*
		 * aw17mend: the first footer after an earlier header is the first after this one too
		 * while it is not before it; none after an earlier one, none after this one. Searched
		 * again each header, a file of headers without footers took O(headers x length) (1 MiB
		 * of header lines: 34 s; PERFORMANCE.md 24.3).
		 */
		if (!searched || (foot != NULL && foot < head))
			foot = memmem(head, len - h, PEM_FOOT, sizeof(PEM_FOOT) - 1);
		searched = 1;
		next = memmem(head + 1, (foot != NULL ? (size_t)(foot - head) : len - h) - 1,
		    PEM_HEAD, sizeof(PEM_HEAD) - 1);
		(*lost)++; /* taken back below if it is whole */
		if (next != NULL) {
			at = (size_t)(next - d);
			continue;
		}
		if (foot == NULL)
			break;
		one = (size_t)(foot - head) + sizeof(PEM_FOOT) - 1;
		if (whole_cert(head, one)) {
			if ((st->backlog[st->n_backlog] = strndup(head, one)) == NULL)
				return sc_fail(SC_ERR_NOMEM, "state");
			st->n_backlog++;
			(*lost)--;
		}
		at = h + one;
	}
	return SC_OK;
}

/*
 * agentweak17: a damaged queue file kept aside, never over an earlier one: hard-linked as
 * backlog.<n>.pem.damaged-<k> (k the first free of 1..AGENT_DAMAGED_MAX; one that already is
 * this file is used again, so that a salvage retried after a failed save makes no second copy).
 * The queue's own name stays until the salvaged queue is committed (a crash before that finds
 * the damage again). `kept` the name; "!" and why otherwise.
 * aw17mend: where the filesystem has no hard links, or with `by_rename` (the other queue file,
 * which no committed state names), renamed aside at once (renameat2 NOREPLACE): a crash before
 * the commit then finds the queue missing, its certificates in the copy kept. A later write of
 * the name makes a new file (queue_write), so a link left behind never changes the copy.
 */
static void keep_damaged(const char *qpath, int by_rename, char *kept, size_t kept_len)
{
	struct stat q, k;
	int e = 0;

	if (lstat(qpath, &q) != 0) {
		snprintf(kept, kept_len, "!%s", strerror(errno));
		return;
	}
	for (int i = 1; i <= AGENT_DAMAGED_MAX; i++) {
		if (snprintf(kept, kept_len, "%s.damaged-%d", qpath, i) >= (int)kept_len) {
			snprintf(kept, kept_len, "!path too long");
			return;
		}
		if (!by_rename) {
			if (lstat(kept, &k) == 0 && k.st_dev == q.st_dev && k.st_ino == q.st_ino)
				return;
			if (link(qpath, kept) == 0)
				return;
			e = errno;
			if (e == EEXIST)
				continue;
			if (e != EPERM && e != EOPNOTSUPP && e != ENOSYS && e != EMLINK)
				break;
			by_rename = 1; /* no hard links here */
		}
		if (renameat2(AT_FDCWD, qpath, AT_FDCWD, kept, RENAME_NOREPLACE) == 0)
			return;
		e = errno;
		if (e != EEXIST)
			break;
	}
	snprintf(kept, kept_len, "!%s", e == EEXIST ? "all damaged-N names taken" : strerror(e));
}

/*
 * aw17mend: 1 if the other queue file holds exactly the salvaged queue (a salvage whose commit
 * failed wrote it; the retry keeps no copy of its own output), 0 otherwise (read or not).
 */
static int holds_salvage(const char *oq, const struct agent_state *st)
{
	uint8_t *d = NULL;
	size_t len = 0, at = 0;
	int same;

	if (sc_file_read_ex(oq, AGENT_STATE_MAX, SC_FILE_MISSING, &d, &len) != SC_OK) {
		sc_err_clear();
		return 0;
	}
	same = 1;
	for (size_t i = 0; same && i < st->n_backlog; i++) {
		size_t one = strlen(st->backlog[i]);

		same = len - at >= one && memcmp(d + at, st->backlog[i], one) == 0;
		at += one;
	}
	OPENSSL_free(d);
	return same && at == len;
}

/*
 * agentq16: the queue named by state.json: the file's first q_bytes bytes (anything after them a
 * crash's leftover, cut at the next append), q_count PEM certificates one after the other.
 * agentweak17: a missing file, or one shorter or otherwise, is damage, not the end of the
 * agent: it is kept aside (keep_damaged), the whole certificates in its first q_bytes bytes are
 * salvaged in order, the salvaged queue is committed at once (into the other file; state.json
 * names it), and st->salvage says so in one line. Only a read error (SC_ERR_IO: permissions, a
 * link, not a regular file, EIO) still fails; aw17mend: and a damaged file that cannot be kept
 * aside (SC_ERR_MALFORMED), or an other file holding something that cannot be (SC_ERR_IO).
 */
static sc_err queue_load(const char *path, struct agent_state *st)
{
	char qpath[4200], kept[4300], what[300], aside[240], oq[4200], other[4300], also[160] = "";
	uint8_t *data = NULL;
	size_t len = 0, at = 0, lost = 0, want = st->q_count;
	off_t size = 0;
	struct stat ob;
	sc_err r;

	if ((r = queue_path(path, st->q_file, qpath, sizeof(qpath))) != SC_OK)
		return r;
	r = read_head(qpath, st->q_bytes, &data, &len, &size);
	if (r != SC_OK && r != SC_ERR_NOT_FOUND)
		goto out;
	if (r == SC_ERR_NOT_FOUND) {
		snprintf(what, sizeof(what), "missing");
	} else if (len < st->q_bytes) {
		snprintf(what, sizeof(what), "%lld bytes, state.json says %zu: truncated",
		    (long long)size, st->q_bytes);
	} else {
		while (st->n_backlog < st->q_count && at < st->q_bytes) {
			const char *s = (const char *)data + at, *foot;
			size_t rest = st->q_bytes - at, one;

			foot = memmem(s, rest, PEM_FOOT, sizeof(PEM_FOOT) - 1);
			one = foot != NULL ? (size_t)(foot - s) + sizeof(PEM_FOOT) - 1 : 0;
			if (foot == NULL || !one_pem_block(s, one))
				break;
			if ((st->backlog[st->n_backlog] = strndup(s, one)) == NULL) {
				r = sc_fail(SC_ERR_NOMEM, "state");
				goto out;
			}
			st->n_backlog++;
			at += one;
		}
		if (st->n_backlog == st->q_count && at == st->q_bytes) {
			st->q_intact = st->q_count;
			r = SC_OK;
			goto out;
		}
		snprintf(what, sizeof(what),
		    "not the %zu PEM certificates in %zu bytes state.json says", st->q_count,
		    st->q_bytes);
		for (size_t i = 0; i < st->n_backlog; i++)
			free(st->backlog[i]);
		st->n_backlog = 0;
	}
	/* agentweak17: damaged. */
	sc_err_clear();
	if ((r = salvage(data, len, st, &lost)) != SC_OK)
		goto out;
	kept[0] = '\0';
	/*
	 * aw17mend: a damaged file that cannot be kept aside (every damaged-N name taken, a link
	 * or rename error) is not salvaged: the salvage's commit would let it be written over. The
	 * error it was before agentweak17, naming the file.
	 */
	if (data != NULL && (keep_damaged(qpath, 0, kept, sizeof(kept)), kept[0] == '!')) {
		r = sc_fail(SC_ERR_MALFORMED,
		    "%s: damaged (%s), and not kept aside (%s): not salvaged; move it away (named "
		    "by %s)",
		    qpath, what, kept + 1, path);
		goto out;
	}
	/*
	 * aw17mend: the other queue file, which the commit names, is written anew from the
	 * salvaged queue or the next certificate. If it holds something (an older queue: an
	 * earlier state.json restored, a crash's leftover), it is kept aside first as its own
	 * damaged-N, or nothing is committed.
	 */
	if ((r = queue_path(path, !st->q_file, oq, sizeof(oq))) != SC_OK)
		goto out;
	other[0] = '\0';
	if (lstat(oq, &ob) == 0 && S_ISREG(ob.st_mode) && ob.st_size > 0 &&
	    !holds_salvage(oq, st) &&
	    (keep_damaged(oq, 1, other, sizeof(other)), other[0] == '!')) {
		r = sc_fail(SC_ERR_IO, "%s: not kept aside (%s) before a salvage of %s writes it",
		    oq, other + 1, qpath);
		goto out;
	}
	/* The copies' names durable before the commit lets the old names be written anew. */
	if ((data != NULL || other[0] != '\0') && (r = sc_fsync_dir_of(qpath)) != SC_OK)
		goto out;
	/* Committed at once, into the other file: the damaged one is never written again. */
	st->q_file = !st->q_file;
	st->q_count = st->q_bytes = st->q_intact = 0;
	if ((r = agent_state_save(path, st)) != SC_OK)
		goto out;
	if (data != NULL)
		(void)unlink(qpath); /* the copy is its own name now (ENOENT where renamed) */
	if ((data != NULL || other[0] != '\0') && sc_fsync_dir_of(qpath) != SC_OK)
		sc_err_clear(); /* best effort: the salvaged queue is committed */
	sc_err_clear();
	if (data == NULL)
		snprintf(aside, sizeof(aside), "nothing to keep aside");
	else
		snprintf(aside, sizeof(aside), "kept aside as %.200s",
		    strrchr(kept, '/') != NULL ? strrchr(kept, '/') + 1 : kept);
	if (other[0] != '\0')
		snprintf(also, sizeof(also), "; %.40s (not named, not empty) kept aside as %.60s",
		    strrchr(oq, '/') != NULL ? strrchr(oq, '/') + 1 : oq,
		    strrchr(other, '/') != NULL ? strrchr(other, '/') + 1 : other);
	snprintf(st->salvage, sizeof(st->salvage),
	    "%.700s: damaged (%.150s); %.240s; %zu of %zu certificates salvaged (%zu unreadable), the "
	    "queue goes on with them%s",
	    qpath, what, aside, st->n_backlog, want, lost, also);
	r = SC_OK;
out:
	OPENSSL_free(data);
	return r;
}

sc_err agent_state_load(const char *path, struct agent_state *st)
{
	uint8_t *data = NULL;
	size_t len = 0;
	sc_err r;

	memset(st, 0, sizeof(*st));
	r = sc_file_read_ex(path, AGENT_STATE_MAX, SC_FILE_MISSING, &data, &len);
	if (r == SC_ERR_NOT_FOUND)
		return SC_OK;
	if (r != SC_OK)
		return r;
	r = agent_state_parse(data, len, path, st);
	OPENSSL_free(data);
	data = NULL;
	if (r == SC_OK && st->q_count > 0)
		r = queue_load(path, st);
	if (r != SC_OK)
		agent_state_clear(st);
	return r;
}
