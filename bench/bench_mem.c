// SPDX-License-Identifier: Apache-2.0
/*
 * bench_mem.c — benchmark 4 (SP half): the peak resident memory (VmHWM) of a real selfcert-spd
 * whose leaf-key slots are all full, for P-256 and for RSA-2048 leaf keys.
 *
 *   SELFCERT=… SELFCERT_SPD=… bench_mem [--rounds N] [--slots 1..256] [--json]
 *
 * Each round starts a fresh daemon (store on tmpfs: memory, not fsync, is measured), personalizes
 * it with the real `selfcert mfr personalize --max-keys SLOTS`, issues SLOTS certificates over
 * the socket, proves the store full (the next issue is refused with store-full), then reads
 * VmHWM and VmRSS from /proc. The baseline in the same run is the same daemon right after
 * personalization, slots empty. The provisioning server's memory is bench_fleet's.
 */
#include <stdlib.h>
#include <string.h>
#include <openssl/x509.h>
#include <selfcert/sp.h>
#include "bench_util.h"

#define MEM_TARGET_KIB (16 * 1024) /* issue 6: selfcert-spd ≤ 16 MiB with full slots */

struct variant {
	const char *name, *leaf;
};

static const struct variant variants[] = {
	{ "P-256", "p256" },
	{ "RSA-2048", "rsa2048" },
};

int main(int argc, char **argv)
{
	int rounds = 5, slots = SC_SP_MAX_KEYS_LIMIT, json = 0;
	char base[BENCH_PATH_MAX], dir[BENCH_PATH_MAX + 32];

	bench_prog = "bench_mem";
	for (int i = 1; i < argc; i++) {
		if (strcmp(argv[i], "--json") == 0)
			json = 1;
		else if (strcmp(argv[i], "--rounds") == 0 && i + 1 < argc)
			rounds = atoi(argv[++i]);
		else if (strcmp(argv[i], "--slots") == 0 && i + 1 < argc)
			slots = atoi(argv[++i]);
		else {
			fprintf(stderr,
			    "usage: SELFCERT_SPD=… bench_mem [--rounds 1..%d] [--slots 1..%d] [--json]\n",
			    BENCH_MAX_ROUNDS, SC_SP_MAX_KEYS_LIMIT);
			return 2;
		}
	}
	if (rounds < 1 || rounds > BENCH_MAX_ROUNDS || slots < 1 || slots > SC_SP_MAX_KEYS_LIMIT)
		bench_die("--rounds 1..%d, --slots 1..%d", BENCH_MAX_ROUNDS, SC_SP_MAX_KEYS_LIMIT);
	bench_mkdtemp("/dev/shm", base, sizeof(base));
	if (json)
		printf(
		    "{\"benchmark\":\"memory-spd\",\"rounds\":%d,\"slots\":%d,\"target_kib\":%d,\"cases\":[",
		    rounds, slots, MEM_TARGET_KIB);
	else
		printf(
		    "Benchmark 4: selfcert-spd peak RSS (VmHWM, MiB) with %d of %d key slots full vs the same daemon empty\n"
		    "(median [min-max] of %d rounds, a fresh daemon each; target <= %d MiB)\n%-10s %22s %22s %22s %8s %7s\n",
		    slots, slots, rounds, MEM_TARGET_KIB / 1024, "leaf keys", "empty VmHWM",
		    "full VmHWM", "full VmRSS", "full/emp", "target");
	for (size_t v = 0; v < sizeof(variants) / sizeof(variants[0]); v++) {
		struct bench_stat empty = { .n = 0 }, full = { .n = 0 }, rss = { .n = 0 };
		for (int r = 0; r < rounds; r++) {
			struct bench_sp_device d;
			struct sc_sp *sp = NULL;
			struct sc_sp_info info;
			uint32_t handle;
			X509 *cert = NULL;
			uint8_t *der;
			size_t len;
			sc_err e;

			snprintf(dir, sizeof(dir), "%s/%s-%d", base, variants[v].leaf, r);
			bench_run("/bin/mkdir", dir, (char *)NULL);
			bench_sp_device_up(&d, dir, "p256", "p256", "p256", slots);
			if (sc_sp_connect(d.sock, &sp) != SC_OK)
				bench_die("connect %s", d.sock);
			bench_stat_add(&empty, (double)bench_vm_kib(d.spd, "VmHWM"));
			for (int i = 0; i < slots; i++) {
				der = bench_sp_profile(&d, variants[v].leaf, &len);
				if (sc_sp_issue(sp, der, len, &handle, &cert) != SC_OK)
					bench_die("issue %d of %d (%s)", i + 1, slots,
					    variants[v].leaf);
				X509_free(cert);
				cert = NULL;
				OPENSSL_free(der);
			}
			/* Full means full: the SP says so, and one more issuance is refused. */
			if (sc_sp_info(sp, &info) != SC_OK || info.n_keys != (uint32_t)slots ||
			    info.max_keys != (uint32_t)slots)
				bench_die("the SP holds %u of %u keys, expected %d", info.n_keys,
				    info.max_keys, slots);
			sc_sp_info_clear(&info);
			der = bench_sp_profile(&d, "p256", &len);
			e = sc_sp_issue(sp, der, len, &handle, &cert);
			OPENSSL_free(der);
			X509_free(cert);
			if (e != SC_ERR_STORE_FULL)
				bench_die(
				    "an issuance past %d slots answered %s, expected store-full",
				    slots, sc_err_name(e));
			bench_stat_add(&full, (double)bench_vm_kib(d.spd, "VmHWM"));
			bench_stat_add(&rss, (double)bench_vm_kib(d.spd, "VmRSS"));
			sc_sp_close(sp);
			bench_sp_device_down(&d);
		}
		if (json) {
			printf("%s{\"leaf\":\"%s\",", v ? "," : "", variants[v].name);
			bench_json_stat(stdout, "empty_hwm_kib", &empty, 1);
			printf(",");
			bench_json_stat(stdout, "full_hwm_kib", &full, 1);
			printf(",");
			bench_json_stat(stdout, "full_rss_kib", &rss, 1);
			printf(
			    ",\"ratio_full_empty\":%.3f,\"ratio_target\":%.3f,\"target_met\":%s}",
			    bench_median(&full) / bench_median(&empty),
			    bench_median(&full) / MEM_TARGET_KIB,
			    bench_median(&full) <= MEM_TARGET_KIB ? "true" : "false");
		} else {
			char a[64], b[64], c[64];
			bench_fmt(a, sizeof(a), &empty, 1.0 / 1024, "%.2f");
			bench_fmt(b, sizeof(b), &full, 1.0 / 1024, "%.2f");
			bench_fmt(c, sizeof(c), &rss, 1.0 / 1024, "%.2f");
			printf("%-10s %22s %22s %22s %7.2fx %7s\n", variants[v].name, a, b, c,
			    bench_median(&full) / bench_median(&empty),
			    bench_median(&full) <= MEM_TARGET_KIB ? "met" : "MISSED");
		}
	}
	if (json)
		printf("]}\n");
	bench_rmrf(base);
	return 0;
}
