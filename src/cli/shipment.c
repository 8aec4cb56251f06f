// SPDX-License-Identifier: Apache-2.0
/*
 * shipment.c — the devices of a manufacturer's shipment read, verified and pinned for the
 * operator's activation (shipment.h): the same device check selfcert-provd makes at a first
 * contact, the same pin computation, done once by the operator instead of by the server.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <openssl/crypto.h>
#include <openssl/x509.h>
#include <selfcert/device.h>
#include <selfcert/cache.h>
#include "cli.h"
#include "fast/leaf_ref.h"
#include "fast/x509.h"
#include "pem.h"
#include "shipment.h"

#define SHIPMENT_SIG_CACHE 1024 /* signatures remembered: the manufacturer CAs' by the root */

sc_err cli_shipment_open(struct cli_shipment *s, const char *mfr_root_path)
{
	sc_err r;

	memset(s, 0, sizeof(*s));
	if ((r = sc_load_cert(mfr_root_path, &s->root)) != SC_OK)
		return sc_fail(r, "--mfr-root %s", sc_err_detail());
	if ((s->store = X509_STORE_new()) == NULL || !X509_STORE_add_cert(s->store, s->root))
		return sc_fail(SC_ERR_NOMEM, "out of memory");
	/*
	 * A shipment is thousands of devices under one or two manufacturer CAs: as in provd, the
	 * CA's signature by the root is verified once (the cache changes no verdict, cache.h), and
	 * certificates are decoded without OpenSSL 3.0's per-key decoder (the same bytes accepted:
	 * fast/x509.h). The CLI is one thread; nothing else in it parses certificates after this.
	 */
	sc_fast_x509_set(1);
	return sc_sig_cache_new(SHIPMENT_SIG_CACHE, &s->sigs);
}

/* Room for one more device. */
static sc_err grow(struct cli_shipment *s)
{
	struct cli_shipped *d;
	size_t cap;

	if (s->n < s->cap)
		return SC_OK;
	if (s->cap >= SC_REG_CSV_MAX_LINES)
		return sc_fail(SC_ERR_OVERSIZE, "more than %d devices in one activation",
		    SC_REG_CSV_MAX_LINES);
	cap = s->cap == 0 ? 64 : 2 * s->cap;
	if ((d = realloc(s->dev, cap * sizeof(*d))) == NULL)
		return sc_fail(SC_ERR_NOMEM, "out of memory");
	s->dev = d;
	s->cap = cap;
	return SC_OK;
}

/* The verified device's pin, compactly, as the next device of the shipment. */
static sc_err keep(struct cli_shipment *s, const char *device_id, const char *note, size_t line,
    const struct sc_reg_pin *pin)
{
	struct cli_shipped *d;
	sc_err r;

	if ((r = grow(s)) != SC_OK)
		return r;
	d = &s->dev[s->n];
	memset(d, 0, sizeof(*d));
	snprintf(d->device_id, sizeof(d->device_id), "%s", device_id);
	d->line = line;
	memcpy(d->ca_sha256, pin->ca_sha256, sizeof(d->ca_sha256));
	memcpy(d->kek_sha256, pin->kek_sha256, sizeof(d->kek_sha256));
	memcpy(d->path_sha256, pin->path_sha256, sizeof(d->path_sha256));
	if ((note != NULL && (d->note = strdup(note)) == NULL) ||
	    (d->spki = malloc(pin->spki_len)) == NULL) {
		free(d->note);
		return sc_fail(SC_ERR_NOMEM, "out of memory");
	}
	memcpy(d->spki, pin->spki, pin->spki_len);
	d->spki_len = pin->spki_len;
	d->chain_verdict = pin->chain_verdict;
	s->n++;
	return SC_OK;
}

sc_err cli_shipment_add(struct cli_shipment *s, const char *device_id, const char *note,
    size_t line, const char *chain_path, const char *kek_path, const char *where)
{
	const struct sc_device_trust trust = { s->root, s->store, s->sigs };
	STACK_OF(X509) *chain = NULL;
	X509 *kek = NULL;
	char id[SC_DEVICE_ID_MAX + 1];
	enum sc_device_part bad = SC_DEVICE_PART_NONE;
	struct sc_reg_pin *pin = NULL;
	sc_err r;

	if ((r = sc_load_certs(chain_path, &chain)) != SC_OK) {
		r = sc_fail(r, "%s%s", where, sc_err_detail());
		goto out;
	}
	if (sk_X509_num(chain) > SC_REG_PIN_CHAIN_MAX) {
		r = sc_fail(SC_ERR_OVERSIZE,
		    "%s%s: %d certificates, at most %d (the device CA, then its issuers)", where,
		    chain_path, sk_X509_num(chain), SC_REG_PIN_CHAIN_MAX);
		goto out;
	}
	if ((r = sc_load_cert(kek_path, &kek)) != SC_OK) {
		r = sc_fail(r, "%s%s", where, sc_err_detail());
		goto out;
	}
	if ((r = sc_device_verify(&trust, chain, kek, id, &bad)) != SC_OK) {
		r = sc_fail(r, "%s%s: %s", where, bad == SC_DEVICE_PART_KEK ? kek_path : chain_path,
		    sc_err_detail());
		goto out;
	}
	/* The registry finds a device by the ID provd reads from its device CA: exactly this. */
	if (strcmp(id, device_id) != 0) {
		r = sc_fail(SC_ERR_DEVICE_MISMATCH, "%s%s: the device CA is device %s's, not %s's",
		    where, chain_path, id, device_id);
		goto out;
	}
	if ((pin = OPENSSL_malloc(sizeof(*pin))) == NULL) {
		r = sc_fail(SC_ERR_NOMEM, "out of memory");
		goto out;
	}
	if ((r = sc_reg_pin_of(chain, kek, s->root, pin)) != SC_OK) {
		r = sc_fail(r, "%s%s: %s", where, chain_path, sc_err_detail());
		goto out;
	}
	/*
	 * Schema 8: beside sc_device_verify's verdict (unchanged, above), the first certificate's
	 * strict chain check, time-free, recorded with the pin; it refuses nothing (0: provd's full
	 * check judges this device's first certificate, as before).
	 */
	pin->chain_verdict = sc_chain_verdict(chain, s->root, s->sigs);
	if (s->root_sha256[0] == '\0')
		memcpy(s->root_sha256, pin->root_sha256, sizeof(s->root_sha256));
	r = keep(s, device_id, note, line, pin);
out:
	OPENSSL_free(pin);
	sk_X509_pop_free(chain, X509_free);
	X509_free(kek);
	return r;
}

sc_err cli_shipment_add_dir(struct cli_shipment *s, const char *dir, const char *device_id,
    const char *note, size_t line, const char *where)
{
	char folder[4096], chain[4096], kek[4096];
	sc_err r;

	if (strchr(device_id, '/') != NULL || strcmp(device_id, ".") == 0 ||
	    strcmp(device_id, "..") == 0)
		return sc_fail(SC_ERR_USAGE,
		    "%sdevice ID '%s' cannot name a folder of --certs %s (activate it with --chain "
		    "and --kek)",
		    where, device_id, dir);
	if ((r = cli_path(folder, sizeof(folder), dir, device_id)) != SC_OK ||
	    (r = cli_path(chain, sizeof(chain), folder, CLI_SHIPMENT_CHAIN)) != SC_OK ||
	    (r = cli_path(kek, sizeof(kek), folder, CLI_SHIPMENT_KEK)) != SC_OK)
		return r;
	return cli_shipment_add(s, device_id, note, line, chain, kek, where);
}

sc_err cli_shipment_next(void *ctx, struct sc_reg_activation *a, int *more)
{
	struct cli_shipment *s = ctx;
	const struct cli_shipped *d;

	memset(a, 0, sizeof(*a));
	if (s->next >= s->n) {
		*more = 0;
		return SC_OK;
	}
	d = &s->dev[s->next++];
	memset(&s->pin, 0, sizeof(s->pin));
	memcpy(s->pin.ca_sha256, d->ca_sha256, sizeof(s->pin.ca_sha256));
	memcpy(s->pin.kek_sha256, d->kek_sha256, sizeof(s->pin.kek_sha256));
	memcpy(s->pin.path_sha256, d->path_sha256, sizeof(s->pin.path_sha256));
	memcpy(s->pin.root_sha256, s->root_sha256, sizeof(s->pin.root_sha256));
	memcpy(s->pin.spki, d->spki, d->spki_len);
	s->pin.spki_len = d->spki_len;
	s->pin.chain_verdict = d->chain_verdict;
	a->device_id = d->device_id;
	a->note = d->note;
	a->line = d->line;
	a->pin = &s->pin;
	*more = 1;
	return SC_OK;
}

void cli_shipment_free(struct cli_shipment *s)
{
	for (size_t i = 0; i < s->n; i++) {
		free(s->dev[i].note);
		free(s->dev[i].spki);
	}
	free(s->dev);
	X509_STORE_free(s->store);
	sc_sig_cache_free(s->sigs);
	X509_free(s->root);
	memset(s, 0, sizeof(*s));
}
