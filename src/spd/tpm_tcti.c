// SPDX-License-Identifier: Apache-2.0
/*
 * tpm_tcti.c — a tpm2-tss TCTI over one descriptor opened before the sandbox: /dev/tpmrm0 (or
 * another TPM character device) or one connected stream socket to swtpm. The stock swtpm TCTI
 * reconnects for every command (socket + connect), which spd's seccomp allowlist does not have;
 * this one only reads and writes (docs/TPM.md, research TPM-SP §3.1).
 */
#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>
#include <openssl/crypto.h>
#include "tpm_int.h"

#define TCTI_MAGIC 0x7363747063746931ULL /* "sctpcti1" */
#define TPM_HDR_LEN 10
#define TPM_MAX_RESPONSE 4096

struct fd_tcti {
	TSS2_TCTI_CONTEXT_COMMON_V2 common;
	int fd;
	int device; /* a character device: one read returns one whole response */
	int sent;   /* a command is out and its response not yet read */
};

static int io_all(int fd, uint8_t *p, size_t n, int reading)
{
	while (n > 0) {
		ssize_t k = reading ? read(fd, p, n) : write(fd, p, n);
		if (k < 0 && errno == EINTR)
			continue;
		if (k <= 0)
			return -1;
		p += k;
		n -= (size_t)k;
	}
	return 0;
}

static TSS2_RC fd_transmit(TSS2_TCTI_CONTEXT *c, size_t size, const uint8_t *cmd)
{
	struct fd_tcti *t = (struct fd_tcti *)c;

	if (t->sent)
		return TSS2_TCTI_RC_BAD_SEQUENCE;
	if (io_all(t->fd, (uint8_t *)cmd, size, 0) != 0)
		return TSS2_TCTI_RC_IO_ERROR;
	t->sent = 1;
	return TSS2_RC_SUCCESS;
}

static uint32_t be32(const uint8_t *p)
{
	return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

static TSS2_RC fd_receive(TSS2_TCTI_CONTEXT *c, size_t *size, uint8_t *resp, int32_t timeout)
{
	struct fd_tcti *t = (struct fd_tcti *)c;
	uint32_t len;

	(void)timeout; /* always blocking: the TPM answers or the connection is gone */
	if (resp == NULL) {
		*size = TPM_MAX_RESPONSE;
		return TSS2_RC_SUCCESS;
	}
	if (!t->sent)
		return TSS2_TCTI_RC_BAD_SEQUENCE;
	if (*size < TPM_HDR_LEN)
		return TSS2_TCTI_RC_INSUFFICIENT_BUFFER;
	if (t->device) {
		ssize_t k;
		do
			k = read(t->fd, resp, *size);
		while (k < 0 && errno == EINTR);
		if (k < TPM_HDR_LEN || be32(resp + 2) != (uint32_t)k)
			return TSS2_TCTI_RC_IO_ERROR;
		len = (uint32_t)k;
	} else {
		/* A stream may split a response: the header says how much follows. */
		if (io_all(t->fd, resp, TPM_HDR_LEN, 1) != 0)
			return TSS2_TCTI_RC_IO_ERROR;
		len = be32(resp + 2);
		if (len < TPM_HDR_LEN || len > *size)
			return TSS2_TCTI_RC_MALFORMED_RESPONSE;
		if (io_all(t->fd, resp + TPM_HDR_LEN, len - TPM_HDR_LEN, 1) != 0)
			return TSS2_TCTI_RC_IO_ERROR;
	}
	*size = len;
	t->sent = 0;
	return TSS2_RC_SUCCESS;
}

static void fd_finalize(TSS2_TCTI_CONTEXT *c)
{
	struct fd_tcti *t = (struct fd_tcti *)c;

	if (t->fd >= 0)
		close(t->fd);
	t->fd = -1;
}

static TSS2_RC fd_cancel(TSS2_TCTI_CONTEXT *c)
{
	(void)c;
	return TSS2_TCTI_RC_NOT_IMPLEMENTED;
}

static TSS2_RC fd_poll(TSS2_TCTI_CONTEXT *c, TSS2_TCTI_POLL_HANDLE *h, size_t *n)
{
	(void)c;
	(void)h;
	(void)n;
	return TSS2_TCTI_RC_NOT_IMPLEMENTED;
}

static TSS2_RC fd_locality(TSS2_TCTI_CONTEXT *c, uint8_t l)
{
	(void)c;
	(void)l;
	return TSS2_TCTI_RC_NOT_IMPLEMENTED;
}

static TSS2_RC fd_sticky(TSS2_TCTI_CONTEXT *c, TPM2_HANDLE *h, uint8_t s)
{
	(void)c;
	(void)h;
	(void)s;
	return TSS2_TCTI_RC_NOT_IMPLEMENTED;
}

/* "key=value" in a comma list (swtpm:path=…,host=…): a copy of value in out, or 0 if absent. */
static int conf_get(const char *conf, const char *key, char *out, size_t out_len)
{
	size_t kl = strlen(key);
	const char *p = conf;

	while (p != NULL && *p != '\0') {
		const char *end = strchr(p, ',');
		size_t n = end != NULL ? (size_t)(end - p) : strlen(p);
		if (n > kl && strncmp(p, key, kl) == 0 && p[kl] == '=') {
			if (n - kl - 1 >= out_len)
				return -1;
			memcpy(out, p + kl + 1, n - kl - 1);
			out[n - kl - 1] = '\0';
			return 1;
		}
		p = end != NULL ? end + 1 : NULL;
	}
	return 0;
}

static sc_err connect_unix(const char *path, int *fd)
{
	struct sockaddr_un sa;

	memset(&sa, 0, sizeof(sa));
	sa.sun_family = AF_UNIX;
	if (strlen(path) >= sizeof(sa.sun_path))
		return sc_fail(SC_ERR_USAGE, "tcti: swtpm:path=%s: path too long", path);
	memcpy(sa.sun_path, path, strlen(path));
	if ((*fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0)) < 0 ||
	    connect(*fd, (struct sockaddr *)&sa, sizeof(sa)) != 0) {
		int e = errno;
		if (*fd >= 0)
			close(*fd);
		*fd = -1;
		return sc_fail(SC_ERR_TPM, "tcti: swtpm:path=%s: %s", path, strerror(e));
	}
	return SC_OK;
}

static sc_err connect_tcp(const char *host, const char *port, int *fd)
{
	struct addrinfo hints, *res = NULL, *ai;
	int rc;

	memset(&hints, 0, sizeof(hints));
	hints.ai_socktype = SOCK_STREAM;
	if ((rc = getaddrinfo(host, port, &hints, &res)) != 0)
		return sc_fail(SC_ERR_TPM, "tcti: swtpm:host=%s,port=%s: %s", host, port,
		    gai_strerror(rc));
	*fd = -1;
	for (ai = res; ai != NULL && *fd < 0; ai = ai->ai_next) {
		if ((*fd = socket(ai->ai_family, ai->ai_socktype | SOCK_CLOEXEC, 0)) < 0)
			continue;
		if (connect(*fd, ai->ai_addr, ai->ai_addrlen) != 0) {
			close(*fd);
			*fd = -1;
		}
	}
	freeaddrinfo(res);
	if (*fd < 0)
		return sc_fail(SC_ERR_TPM, "tcti: swtpm:host=%s,port=%s: cannot connect", host,
		    port);
	return SC_OK;
}

sc_err spd_tcti_open(const char *conf, TSS2_TCTI_CONTEXT **out)
{
	struct fd_tcti *t;
	char path[256], host[256], port[16];
	int fd = -1, device = 0, got;
	sc_err r;

	*out = NULL;
	if (strncmp(conf, "device", 6) == 0 && (conf[6] == '\0' || conf[6] == ':')) {
		const char *dev = conf[6] == ':' && conf[7] != '\0' ? conf + 7 : "/dev/tpmrm0";
		if ((fd = open(dev, O_RDWR | O_CLOEXEC)) < 0)
			return sc_fail(SC_ERR_TPM, "tcti: device:%s: %s", dev, strerror(errno));
		device = 1;
	} else if (strncmp(conf, "swtpm", 5) == 0 && (conf[5] == '\0' || conf[5] == ':')) {
		const char *kv = conf[5] == ':' ? conf + 6 : "";
		if ((got = conf_get(kv, "path", path, sizeof(path))) < 0)
			return sc_fail(SC_ERR_USAGE, "tcti: %s: path too long", conf);
		if (got) {
			if ((r = connect_unix(path, &fd)) != SC_OK)
				return r;
		} else {
			if (conf_get(kv, "host", host, sizeof(host)) <= 0)
				snprintf(host, sizeof(host), "localhost");
			if (conf_get(kv, "port", port, sizeof(port)) <= 0)
				snprintf(port, sizeof(port), "2321");
			if ((r = connect_tcp(host, port, &fd)) != SC_OK)
				return r;
		}
	} else {
		return sc_fail(SC_ERR_USAGE,
		    "tcti: '%s': the SP takes device[:PATH] or swtpm:path=SOCKET or "
		    "swtpm:host=H,port=N (one connection, opened before its sandbox)",
		    conf);
	}
	if ((t = calloc(1, sizeof(*t))) == NULL) {
		close(fd);
		return sc_fail(SC_ERR_NOMEM, "tcti");
	}
	t->common.v1.magic = TCTI_MAGIC;
	t->common.v1.version = 2;
	t->common.v1.transmit = fd_transmit;
	t->common.v1.receive = fd_receive;
	t->common.v1.finalize = fd_finalize;
	t->common.v1.cancel = fd_cancel;
	t->common.v1.getPollHandles = fd_poll;
	t->common.v1.setLocality = fd_locality;
	t->common.makeSticky = fd_sticky;
	t->fd = fd;
	t->device = device;
	*out = (TSS2_TCTI_CONTEXT *)t;
	return SC_OK;
}

void spd_tcti_free(TSS2_TCTI_CONTEXT *c)
{
	if (c == NULL)
		return;
	fd_finalize(c);
	free(c);
}

/* One raw command, for what must happen before ESAPI has a context (the leftovers' flush). */
static int raw(TSS2_TCTI_CONTEXT *c, const uint8_t *cmd, size_t len, uint8_t *resp,
    size_t *resp_len)
{
	if (fd_transmit(c, len, cmd) != TSS2_RC_SUCCESS ||
	    fd_receive(c, resp_len, resp, TSS2_TCTI_TIMEOUT_BLOCK) != TSS2_RC_SUCCESS)
		return -1;
	return 0;
}

static void put32(uint8_t *p, uint32_t v)
{
	p[0] = (uint8_t)(v >> 24);
	p[1] = (uint8_t)(v >> 16);
	p[2] = (uint8_t)(v >> 8);
	p[3] = (uint8_t)v;
}

/*
 * Flush every loaded object and session in the range starting at first. Without a resource
 * manager (a raw swtpm socket) what a killed client loaded stays loaded, and the TPM has room
 * for only three objects; on /dev/tpmrm0 the list is this connection's own, so empty.
 */
void spd_tcti_flush_range(TSS2_TCTI_CONTEXT *c, uint32_t first)
{
	uint8_t cmd[22] = { 0x80, 0x01, 0, 0, 0, 22, 0, 0, 0x01, 0x7a, 0, 0, 0, 1 };
	uint8_t resp[TPM_MAX_RESPONSE];
	size_t len = sizeof(resp), i, n;

	put32(cmd + 14, first);
	put32(cmd + 18, 64);
	if (raw(c, cmd, sizeof(cmd), resp, &len) != 0 || len < 19 || be32(resp + 6) != 0)
		return;
	n = be32(resp + 15); /* after the header, moreData and the capability */
	for (i = 0; i < n && 19 + 4 * i + 4 <= len; i++) {
		uint8_t fl[14] = { 0x80, 0x01, 0, 0, 0, 14, 0, 0, 0x01, 0x65 };
		uint8_t fr[64];
		size_t fl_len = sizeof(fr);
		uint32_t h = be32(resp + 19 + 4 * i);

		if ((h & 0xff000000u) != (first & 0xff000000u))
			break;
		put32(fl + 10, h);
		(void)raw(c, fl, sizeof(fl), fr, &fl_len);
	}
}
