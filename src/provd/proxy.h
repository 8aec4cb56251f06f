// SPDX-License-Identifier: Apache-2.0
/*
 * proxy.h — who the client is behind a reverse proxy: `--trusted-proxy CIDR` names the peers
 * whose X-Forwarded-For provd believes. From any other peer the header is ignored (anyone can
 * send one), so the audit actor and the per-address limit stay the TCP peer's.
 */
#ifndef SC_PROVD_PROXY_H
#define SC_PROVD_PROXY_H

#include <stddef.h>
#include <stdint.h>
#include <selfcert/err.h>

#define PROVD_PROXIES_MAX 32  /* --trusted-proxy given at most this often */
#define PROVD_XFF_MAX 1024    /* X-Forwarded-For bytes looked at; a longer header is ignored */
#define PROVD_ADDR_STR_MAX 64 /* an address as text, with room */

struct provd_cidr {
	int family; /* AF_INET or AF_INET6 */
	uint8_t addr[16];
	unsigned bits;
};

struct provd_proxies {
	struct provd_cidr nets[PROVD_PROXIES_MAX];
	size_t n;
};

/*
 * Add "ADDR/BITS" or "ADDR" (a single host) to p. SC_ERR_USAGE naming --trusted-proxy for a
 * malformed prefix, host bits set, too many, or a prefix length out of range.
 */
sc_err provd_proxies_add(struct provd_proxies *p, const char *cidr) SC_MUST_USE;

/* 1 if the textual address addr (IPv4 or IPv6) lies in one of p's prefixes. */
int provd_proxies_trusts(const struct provd_proxies *p, const char *addr);

/*
 * The client's address for a request from peer carrying X-Forwarded-For xff (NULL: none): peer
 * itself unless peer is trusted; else the header's entries walked from the right, trusted
 * proxies skipped, the first other one taken — entries further left were written by the client
 * and prove nothing. A malformed entry, an oversize header, or a header of trusted proxies only
 * leave the last trusted hop (the nearest address known to be real). out gets at most
 * PROVD_ADDR_STR_MAX bytes with its NUL. Returns 1 if the address came from the header.
 */
int provd_proxies_client(const struct provd_proxies *p, const char *peer, const char *xff,
    char *out, size_t out_len);

#endif
