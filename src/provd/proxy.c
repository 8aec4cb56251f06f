// SPDX-License-Identifier: Apache-2.0
/*
 * proxy.c — the client address behind trusted reverse proxies (proxy.h): CIDR parsing and the
 * right-to-left walk of X-Forwarded-For. Pure functions; main.c applies them per request.
 */
#include <arpa/inet.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include "proxy.h"

/* addr as family and bytes; 0 if it is not an IPv4 or IPv6 address. */
static int parse_addr(const char *s, int *family, uint8_t out[16])
{
	memset(out, 0, 16);
	if (inet_pton(AF_INET, s, out) == 1) {
		*family = AF_INET;
		return 1;
	}
	if (inet_pton(AF_INET6, s, out) == 1) {
		*family = AF_INET6;
		return 1;
	}
	return 0;
}

static int in_prefix(const struct provd_cidr *c, int family, const uint8_t a[16])
{
	unsigned full = c->bits / 8, rest = c->bits % 8;

	if (family != c->family || memcmp(a, c->addr, full) != 0)
		return 0;
	return rest == 0 || ((a[full] ^ c->addr[full]) & (uint8_t)(0xff << (8 - rest))) == 0;
}

sc_err provd_proxies_add(struct provd_proxies *p, const char *cidr)
{
	char host[PROVD_ADDR_STR_MAX];
	const char *slash = strchr(cidr, '/');
	struct provd_cidr c;
	size_t hl = slash != NULL ? (size_t)(slash - cidr) : strlen(cidr);
	unsigned max;

	if (p->n >= PROVD_PROXIES_MAX)
		return sc_fail(SC_ERR_USAGE, "--trusted-proxy: at most %d", PROVD_PROXIES_MAX);
	if (hl == 0 || hl >= sizeof(host))
		return sc_fail(SC_ERR_USAGE, "--trusted-proxy '%.64s': not ADDRESS[/BITS]", cidr);
	memcpy(host, cidr, hl);
	host[hl] = '\0';
	memset(&c, 0, sizeof(c));
	if (!parse_addr(host, &c.family, c.addr))
		return sc_fail(SC_ERR_USAGE, "--trusted-proxy '%.64s': not an IPv4 or IPv6 address",
		    cidr);
	max = c.family == AF_INET ? 32 : 128;
	c.bits = max;
	if (slash != NULL) {
		char *end = NULL;
		unsigned long b = slash[1] >= '0' && slash[1] <= '9' ? strtoul(slash + 1, &end, 10)
		                                                     : max + 1;
		if (end == NULL || *end != '\0' || b > max)
			return sc_fail(SC_ERR_USAGE,
			    "--trusted-proxy '%.64s': prefix length 0..%u after the /", cidr, max);
		c.bits = (unsigned)b;
	}
	/* Host bits set: a typo for another network more often than not. */
	for (unsigned i = c.bits; i < max; i++)
		if (c.addr[i / 8] & (0x80 >> (i % 8)))
			return sc_fail(SC_ERR_USAGE,
			    "--trusted-proxy '%.64s': address bits set past the /%u prefix", cidr,
			    c.bits);
	p->nets[p->n++] = c;
	return SC_OK;
}

int provd_proxies_trusts(const struct provd_proxies *p, const char *addr)
{
	uint8_t a[16];
	int family;

	if (p == NULL || p->n == 0 || !parse_addr(addr, &family, a))
		return 0;
	for (size_t i = 0; i < p->n; i++)
		if (in_prefix(&p->nets[i], family, a))
			return 1;
	return 0;
}

int provd_proxies_client(const struct provd_proxies *p, const char *peer, const char *xff,
    char *out, size_t out_len)
{
	char buf[PROVD_XFF_MAX + 1], hop[PROVD_ADDR_STR_MAX];
	int from_header = 0;
	size_t n;

	snprintf(out, out_len, "%s", peer);
	if (xff == NULL || !provd_proxies_trusts(p, peer) || (n = strlen(xff)) > PROVD_XFF_MAX)
		return 0;
	memcpy(buf, xff, n + 1);
	while (n > 0) {
		char *comma, *start, *end;
		uint8_t a[16];
		int family;

		buf[n] = '\0';
		comma = strrchr(buf, ',');
		start = comma != NULL ? comma + 1 : buf;
		n = comma != NULL ? (size_t)(comma - buf) : 0;
		while (*start == ' ' || *start == '\t')
			start++;
		end = start + strlen(start);
		while (end > start && (end[-1] == ' ' || end[-1] == '\t'))
			*--end = '\0';
		if ((size_t)(end - start) >= sizeof(hop))
			return from_header;
		memcpy(hop, start, (size_t)(end - start) + 1);
		if (!parse_addr(hop, &family, a))
			return from_header; /* a forged or broken entry: the last trusted hop stands */
		snprintf(out, out_len, "%s", hop);
		from_header = 1;
		if (!provd_proxies_trusts(p, hop))
			return 1;
	}
	return from_header;
}
