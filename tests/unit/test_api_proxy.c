// SPDX-License-Identifier: Apache-2.0
/*
 * test_api_proxy.c — --trusted-proxy (src/provd/proxy.c): the prefixes it takes and refuses by
 * name, membership for IPv4 and IPv6, and the X-Forwarded-For walk: believed only from a trusted
 * peer, rightmost untrusted entry taken, forged entries to its left ignored, a malformed entry or
 * a header of proxies only leaving the last real hop.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>
#include <string.h>
#include "proxy.h"

static void test_prefixes(void **state)
{
	struct provd_proxies p = { .n = 0 };
	static const char *const bad[] = { "", "/8", "10.0.0.0/33", "10.0.0.0/", "10.0.0.0/x",
		"10.0.0.0/8x", "10.0.0.1/8", "host.example", "::1/129", "10.0.0.0/-1",
		"1234567890123456789012345678901234567890123456789012345678901234567890" };

	(void)state;
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		assert_int_equal(provd_proxies_add(&p, bad[i]), SC_ERR_USAGE);
		assert_non_null(strstr(sc_err_detail(), "--trusted-proxy"));
	}
	assert_int_equal(p.n, 0);
	assert_int_equal(provd_proxies_add(&p, "10.1.0.0/16"), SC_OK);
	assert_int_equal(provd_proxies_add(&p, "192.0.2.7"), SC_OK);
	assert_int_equal(provd_proxies_add(&p, "2001:db8::/32"), SC_OK);
	assert_int_equal(provd_proxies_add(&p, "172.16.0.0/12"), SC_OK);
	assert_true(provd_proxies_trusts(&p, "10.1.255.3"));
	assert_false(provd_proxies_trusts(&p, "10.2.0.1"));
	assert_true(provd_proxies_trusts(&p, "192.0.2.7"));
	assert_false(provd_proxies_trusts(&p, "192.0.2.8"));
	assert_true(provd_proxies_trusts(&p, "2001:db8:ffff::1"));
	assert_false(provd_proxies_trusts(&p, "2001:db9::1"));
	assert_true(provd_proxies_trusts(&p, "172.31.0.1"));
	assert_false(provd_proxies_trusts(&p, "172.32.0.1"));
	assert_false(provd_proxies_trusts(&p, "not an address"));
	assert_int_equal(provd_proxies_add(&p, "0.0.0.0/0"), SC_OK);
	assert_true(provd_proxies_trusts(&p, "8.8.8.8"));
	for (int i = (int)p.n; i < PROVD_PROXIES_MAX; i++)
		assert_int_equal(provd_proxies_add(&p, "::1"), SC_OK);
	assert_int_equal(provd_proxies_add(&p, "::1"), SC_ERR_USAGE);
}

static void test_forwarded_for(void **state)
{
	struct provd_proxies p = { .n = 0 };
	char out[PROVD_ADDR_STR_MAX], big[PROVD_XFF_MAX + 16];

	(void)state;
	assert_int_equal(provd_proxies_add(&p, "10.0.0.0/8"), SC_OK);
	/* Not a trusted peer: the header is anyone's and ignored. */
	assert_int_equal(provd_proxies_client(&p, "198.51.100.9", "203.0.113.5", out, sizeof(out)),
	    0);
	assert_string_equal(out, "198.51.100.9");
	/* No header. */
	assert_int_equal(provd_proxies_client(&p, "10.0.0.2", NULL, out, sizeof(out)), 0);
	assert_string_equal(out, "10.0.0.2");
	/* One proxy. */
	assert_int_equal(provd_proxies_client(&p, "10.0.0.2", "203.0.113.5", out, sizeof(out)), 1);
	assert_string_equal(out, "203.0.113.5");
	/* A client's forged entry left of the real one; two proxies in a row; spaces. */
	assert_int_equal(provd_proxies_client(&p, "10.0.0.2", "1.2.3.4, 203.0.113.5 ,10.9.9.9", out,
	                     sizeof(out)),
	    1);
	assert_string_equal(out, "203.0.113.5");
	assert_int_equal(provd_proxies_client(&p, "10.0.0.2", "2001:db8::5", out, sizeof(out)), 1);
	assert_string_equal(out, "2001:db8::5");
	/* A malformed entry: the last hop known to be real (here the trusted proxy 10.9.9.9). */
	assert_int_equal(provd_proxies_client(&p, "10.0.0.2", "203.0.113.5, junk, 10.9.9.9", out,
	                     sizeof(out)),
	    1);
	assert_string_equal(out, "10.9.9.9");
	assert_int_equal(provd_proxies_client(&p, "10.0.0.2", "junk", out, sizeof(out)), 0);
	assert_string_equal(out, "10.0.0.2");
	assert_int_equal(provd_proxies_client(&p, "10.0.0.2", "", out, sizeof(out)), 0);
	assert_string_equal(out, "10.0.0.2");
	assert_int_equal(provd_proxies_client(&p, "10.0.0.2", ",,", out, sizeof(out)), 0);
	assert_string_equal(out, "10.0.0.2");
	/* Proxies only. */
	assert_int_equal(provd_proxies_client(&p, "10.0.0.2", "10.0.0.7, 10.0.0.8", out,
	                     sizeof(out)),
	    1);
	assert_string_equal(out, "10.0.0.7");
	/* Oversize: not believed at all. */
	memset(big, '1', sizeof(big) - 1);
	big[sizeof(big) - 1] = '\0';
	assert_int_equal(provd_proxies_client(&p, "10.0.0.2", big, out, sizeof(out)), 0);
	assert_string_equal(out, "10.0.0.2");
	/* An entry longer than any address. */
	memset(big, 'a', 100);
	big[100] = '\0';
	assert_int_equal(provd_proxies_client(&p, "10.0.0.2", big, out, sizeof(out)), 0);
	assert_string_equal(out, "10.0.0.2");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_prefixes),
		cmocka_unit_test(test_forwarded_for),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
