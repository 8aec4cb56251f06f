// SPDX-License-Identifier: Apache-2.0
/*
 * http.c — the agent's client for the provisioning API on libcurl: HTTPS that trusts only the
 * network root (--ca), plain HTTP only to a loopback host, no redirects, bounded answers and
 * timeouts, and a stop flag that aborts a transfer on SIGTERM.
 */
#include <arpa/inet.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <curl/curl.h>
#include <jansson.h>
#include "agent.h"

struct agent_http {
	char base[1024];
	char ca[4096];
	volatile sig_atomic_t *stop;
	/* One easy handle for the agent's life: its connection cache lets a round's requests (the
	 * profile, then the certificate) share one TLS connection instead of a full handshake each
	 * (issue 17: ~0.6 ms of the server's CPU a connection since session 10, ~2-5 ms before:
	 * PERFORMANCE.md 16.5, 17.3). */
	CURL *c;
};

/*
 * A connection idle longer than this is not reused but closed and replaced: below the server's
 * idle timeout (selfcert-provd --timeout, 30 s by default), so that a request is not sent on a
 * connection the server is closing at that moment. Between rounds (hours) the connection is
 * always new.
 */
#define AGENT_CONN_MAXAGE_S 20L

struct sink {
	char *p;
	size_t len;
	int overflow;
};

static size_t on_data(char *ptr, size_t size, size_t nmemb, void *ud)
{
	struct sink *s = ud;
	size_t n = size * nmemb;
	char *np;

	if (n > AGENT_RESPONSE_MAX - s->len) {
		s->overflow = 1;
		return 0; /* aborts the transfer */
	}
	if ((np = realloc(s->p, s->len + n + 1)) == NULL)
		return 0;
	s->p = np;
	memcpy(s->p + s->len, ptr, n);
	s->len += n;
	s->p[s->len] = '\0';
	return n;
}

static int on_progress(void *ud, curl_off_t dt, curl_off_t dn, curl_off_t ut, curl_off_t un)
{
	struct agent_http *h = ud;

	(void)dt;
	(void)dn;
	(void)ut;
	(void)un;
	return h->stop != NULL && *h->stop ? 1 : 0;
}

/* The kept connection outlives a request: an --exec command (hook.c forks) must not inherit it. */
static int on_socket(void *ud, curl_socket_t fd, curlsocktype purpose)
{
	int fl;

	(void)ud;
	(void)purpose;
	if ((fl = fcntl(fd, F_GETFD)) < 0 || fcntl(fd, F_SETFD, fl | FD_CLOEXEC) < 0)
		return CURL_SOCKOPT_ERROR;
	return CURL_SOCKOPT_OK;
}

static int host_is_loopback(const char *host)
{
	struct in_addr a4;
	struct in6_addr a6;
	char buf[64];
	size_t n = strlen(host);

	if (strcasecmp(host, "localhost") == 0)
		return 1;
	if (n >= 2 && n < sizeof(buf) && host[0] == '[' && host[n - 1] == ']') {
		memcpy(buf, host + 1, n - 2);
		buf[n - 2] = '\0';
		host = buf;
	}
	if (inet_pton(AF_INET, host, &a4) == 1)
		return (ntohl(a4.s_addr) >> 24) == 127;
	if (inet_pton(AF_INET6, host, &a6) == 1)
		return IN6_IS_ADDR_LOOPBACK(&a6);
	return 0;
}

sc_err agent_http_new(const char *base, const char *ca_path, volatile sig_atomic_t *stop,
    struct agent_http **out)
{
	CURLU *u = curl_url();
	char *scheme = NULL, *host = NULL, *query = NULL, *frag = NULL, *user = NULL;
	struct agent_http *h = NULL;
	sc_err r = SC_ERR_USAGE;
	size_t n;

	*out = NULL;
	if (u == NULL)
		return sc_fail(SC_ERR_NOMEM, "curl_url");
	if (curl_url_set(u, CURLUPART_URL, base, 0) != CURLUE_OK ||
	    curl_url_get(u, CURLUPART_SCHEME, &scheme, 0) != CURLUE_OK ||
	    curl_url_get(u, CURLUPART_HOST, &host, 0) != CURLUE_OK) {
		r = sc_fail(SC_ERR_USAGE, "--server '%.200s': not a URL", base);
		goto out;
	}
	(void)curl_url_get(u, CURLUPART_QUERY, &query, 0);
	(void)curl_url_get(u, CURLUPART_FRAGMENT, &frag, 0);
	(void)curl_url_get(u, CURLUPART_USER, &user, 0);
	if (query != NULL || frag != NULL || user != NULL) {
		r = sc_fail(SC_ERR_USAGE, "--server '%.200s': no query, fragment or user name",
		    base);
		goto out;
	}
	if (strcmp(scheme, "https") != 0 &&
	    !(strcmp(scheme, "http") == 0 && host_is_loopback(host))) {
		r = sc_fail(SC_ERR_USAGE,
		    "--server '%.200s': https:// only (http:// only to a loopback "
		    "address)",
		    base);
		goto out;
	}
	if ((h = calloc(1, sizeof(*h))) == NULL) {
		r = sc_fail(SC_ERR_NOMEM, "http");
		goto out;
	}
	if ((n = strlen(base)) >= sizeof(h->base) || strlen(ca_path) >= sizeof(h->ca)) {
		r = sc_fail(SC_ERR_USAGE, "--server or --ca: too long");
		goto out;
	}
	memcpy(h->base, base, n + 1);
	while (n > 0 && h->base[n - 1] == '/')
		h->base[--n] = '\0';
	memcpy(h->ca, ca_path, strlen(ca_path) + 1);
	h->stop = stop;
	*out = h;
	h = NULL;
	r = SC_OK;
out:
	free(h);
	curl_free(scheme);
	curl_free(host);
	curl_free(query);
	curl_free(frag);
	curl_free(user);
	curl_url_cleanup(u);
	return r;
}

void agent_http_free(struct agent_http *h)
{
	if (h != NULL && h->c != NULL)
		curl_easy_cleanup(h->c);
	free(h);
}

void agent_reply_clear(struct agent_reply *rep)
{
	json_decref(rep->json);
	memset(rep, 0, sizeof(*rep));
}

/* Copy src's text into dst (cut to fit); every byte outside `ok` becomes '?'. */
static void copy_printable(char *dst, size_t cap, const char *src, int (*ok)(int))
{
	snprintf(dst, cap, "%s", src);
	for (char *p = dst; *p != '\0'; p++)
		if (!ok((unsigned char)*p))
			*p = '?';
}

static int code_char(int c)
{
	return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-';
}

static int print_char(int c)
{
	return c >= 0x20 && c <= 0x7e;
}

sc_err agent_reply_parse(long status, const char *body, size_t len, const char *url,
    struct agent_reply *rep)
{
	json_error_t jerr;
	json_t *e, *d;

	memset(rep, 0, sizeof(*rep));
	rep->status = status;
	rep->json = json_loadb(body, len, JSON_REJECT_DUPLICATES, &jerr);
	if (rep->json == NULL || !json_is_object((json_t *)rep->json)) {
		agent_reply_clear(rep);
		return sc_fail(SC_ERR_PEER, "%s: HTTP %ld with an answer that is not a JSON object",
		    url, status);
	}
	if (status >= 400) {
		/* The server's words reach our log: printable ASCII only. */
		e = json_object_get(rep->json, "error");
		d = json_object_get(rep->json, "detail");
		copy_printable(rep->error, sizeof(rep->error),
		    json_is_string(e) ? json_string_value(e) : "http-error", code_char);
		copy_printable(rep->detail, sizeof(rep->detail),
		    json_is_string(d) ? json_string_value(d) : "", print_char);
	}
	return SC_OK;
}

sc_err agent_http_post(struct agent_http *h, const char *path, void *body, struct agent_reply *rep)
{
	CURL *c = NULL;
	struct curl_slist *hdrs = NULL;
	struct sink sink = { NULL, 0, 0 };
	char url[1200], errbuf[CURL_ERROR_SIZE] = "";
	char *text = NULL;
	long status = 0;
	CURLcode cc;
	sc_err r;

	memset(rep, 0, sizeof(*rep));
	if (body != NULL && (text = json_dumps((json_t *)body, JSON_COMPACT)) == NULL)
		return sc_fail(SC_ERR_NOMEM, "encoding the request");
	snprintf(url, sizeof(url), "%s%s", h->base, path);
	/* The kept handle, its options reset (curl_easy_reset keeps its connections). */
	if (h->c != NULL)
		curl_easy_reset(h->c);
	else
		h->c = curl_easy_init();
	c = h->c;
	if (c == NULL ||
	    (hdrs = curl_slist_append(hdrs, "Content-Type: application/json")) == NULL ||
	    (hdrs = curl_slist_append(hdrs, "Accept: application/json")) == NULL) {
		r = sc_fail(SC_ERR_NOMEM, "curl");
		goto out;
	}
	curl_easy_setopt(c, CURLOPT_URL, url);
	curl_easy_setopt(c, CURLOPT_PROTOCOLS_STR, "https,http");
	curl_easy_setopt(c, CURLOPT_FOLLOWLOCATION, 0L);
	curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
	/* Trust the network root and nothing else: no system store. */
	curl_easy_setopt(c, CURLOPT_CAINFO, h->ca);
	curl_easy_setopt(c, CURLOPT_CAPATH, NULL);
	curl_easy_setopt(c, CURLOPT_SSL_VERIFYPEER, 1L);
	curl_easy_setopt(c, CURLOPT_SSL_VERIFYHOST, 2L);
	curl_easy_setopt(c, CURLOPT_SSLVERSION, (long)CURL_SSLVERSION_TLSv1_2);
	curl_easy_setopt(c, CURLOPT_TIMEOUT, (long)AGENT_HTTP_TIMEOUT_S);
	curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT, (long)AGENT_CONNECT_TIMEOUT_S);
	curl_easy_setopt(c, CURLOPT_MAXAGE_CONN, AGENT_CONN_MAXAGE_S);
	curl_easy_setopt(c, CURLOPT_SOCKOPTFUNCTION, on_socket);
	curl_easy_setopt(c, CURLOPT_HTTPHEADER, hdrs);
	if (body != NULL) {
		curl_easy_setopt(c, CURLOPT_POSTFIELDS, text);
		curl_easy_setopt(c, CURLOPT_POSTFIELDSIZE, (long)strlen(text));
	} else {
		curl_easy_setopt(c, CURLOPT_HTTPGET, 1L);
	}
	curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, on_data);
	curl_easy_setopt(c, CURLOPT_WRITEDATA, &sink);
	curl_easy_setopt(c, CURLOPT_XFERINFOFUNCTION, on_progress);
	curl_easy_setopt(c, CURLOPT_XFERINFODATA, h);
	curl_easy_setopt(c, CURLOPT_NOPROGRESS, 0L);
	curl_easy_setopt(c, CURLOPT_ERRORBUFFER, errbuf);
	curl_easy_setopt(c, CURLOPT_USERAGENT, "selfcert-agent/1");
	cc = curl_easy_perform(c);
	if (cc != CURLE_OK) {
		if (sink.overflow)
			r = sc_fail(SC_ERR_PEER, "%s: answer over %d bytes", url,
			    AGENT_RESPONSE_MAX);
		else
			r = sc_fail(SC_ERR_IO, "%s: %s", url,
			    errbuf[0] ? errbuf : curl_easy_strerror(cc));
		goto out;
	}
	curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &status);
	if ((r = agent_reply_parse(status, sink.p != NULL ? sink.p : "", sink.len, url, rep)) !=
	    SC_OK)
		goto out;
	r = SC_OK;
out:
	if (r != SC_OK)
		agent_reply_clear(rep);
	free(sink.p);
	free(text);
	/* The handle keeps its connection for the round's next request; its options pointed at
	 * hdrs, text and sink: cleared before they are freed. */
	if (c != NULL)
		curl_easy_reset(c);
	curl_slist_free_all(hdrs);
	return r;
}
