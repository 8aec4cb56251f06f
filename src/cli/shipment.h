// SPDX-License-Identifier: Apache-2.0
/*
 * shipment.h — a manufacturer's shipment as `net device add|import` read it (issue 17, act8):
 * each device's chain.pem (its device CA, then the manufacturer CA: what `selfcert mfr
 * personalize` writes and the agent sends) and kex.pem, verified under the manufacturer root by
 * the library's device check (selfcert/device.h) and reduced to the registry's pin, all before
 * the registry's transaction opens; then handed to sc_reg_devices_activate one by one.
 */
#ifndef SC_CLI_SHIPMENT_H
#define SC_CLI_SHIPMENT_H

#include <stddef.h>
#include <stdint.h>
#include <openssl/x509.h>
#include <selfcert/device.h>
#include <selfcert/err.h>
#include "registry.h"

/* The files of one device in a shipment folder: DIR/<device ID>/chain.pem and kex.pem. */
#define CLI_SHIPMENT_CHAIN "chain.pem"
#define CLI_SHIPMENT_KEK "kex.pem"

/* One verified device, compactly (an import may hold SC_REG_CSV_MAX_LINES of them). */
struct cli_shipped {
	char device_id[SC_DEVICE_ID_MAX + 1];
	char *note; /* NULL: none; owned */
	size_t line;
	char ca_sha256[65], kek_sha256[65], path_sha256[65];
	uint8_t *spki; /* owned */
	size_t spki_len;
	uint32_t chain_verdict; /* schema 8: sc_chain_verdict's answer (the pin's) */
};

/* The devices verified so far, and the iterator over them. cli_shipment_free releases it. */
struct cli_shipment {
	X509 *root;
	X509_STORE *store; /* the root alone, built once for every device's path validation */
	struct sc_sig_cache *sigs; /* the manufacturer CA's signature, verified once */
	char root_sha256[65];
	struct cli_shipped *dev;
	size_t n, cap;
	size_t next;           /* the iterator's position */
	struct sc_reg_pin pin; /* the iterator's current pin (sc_reg_pin is 4 KB: one at a time) */
};

/* Load the manufacturer root (sc_load_cert: the file provd's --mfr-root names). *s zeroed first. */
sc_err cli_shipment_open(struct cli_shipment *s, const char *mfr_root_path) SC_MUST_USE;

/*
 * Read chain_path and kek_path (strict PEM or DER, sc_load_certs), verify them as the device
 * device_id's (sc_device_verify under the root; the device CA's serialNumber must be exactly
 * device_id: SC_ERR_DEVICE_MISMATCH), and keep its pin. Every refusal is one line naming the
 * file and the check, prefixed by where ("FILE:LINE: " for an import, "" otherwise): the
 * library's codes (not-device-ca, chain, kek-mismatch), SC_ERR_OVERSIZE for a chain of more
 * than SC_REG_PIN_CHAIN_MAX certificates, the loader's (SC_ERR_IO, SC_ERR_MALFORMED, …).
 */
sc_err cli_shipment_add(struct cli_shipment *s, const char *device_id, const char *note,
    size_t line, const char *chain_path, const char *kek_path, const char *where) SC_MUST_USE;

/*
 * The same with the files DIR/<device_id>/chain.pem and kex.pem (the layout `selfcert mfr
 * personalize --out` writes, one folder per device named by its ID). An ID that cannot name
 * a folder ('/' in it, "." or "..") is SC_ERR_USAGE.
 */
sc_err cli_shipment_add_dir(struct cli_shipment *s, const char *dir, const char *device_id,
    const char *note, size_t line, const char *where) SC_MUST_USE;

/* sc_reg_next_activation over the devices in the order added; ctx is the shipment. */
sc_err cli_shipment_next(void *ctx, struct sc_reg_activation *a, int *more);

void cli_shipment_free(struct cli_shipment *s);

#endif
