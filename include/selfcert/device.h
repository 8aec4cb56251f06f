// SPDX-License-Identifier: Apache-2.0
/*
 * selfcert/device.h — a device's own certificates as the network operator judges them: its
 * device CA and its key-exchange (KEK) certificate, both chaining to the manufacturer root
 * through the same manufacturer CA. `selfcert net device add|import` checks a manufacturer's
 * shipment with it at activation (issue 17); selfcert-provd's first-contact check is the same.
 */
#ifndef SELFCERT_DEVICE_H
#define SELFCERT_DEVICE_H

#include <stddef.h>
#include <openssl/x509.h>
#include <selfcert/err.h>
#include <selfcert/cache.h>
#include <selfcert/oid.h>

/* Which of the two inputs a refusal is about, so that the caller can name its field or file. */
enum sc_device_part {
	SC_DEVICE_PART_NONE = 0,  /* neither (SC_OK, or a usage or memory error) */
	SC_DEVICE_PART_CHAIN = 1, /* the chain: the device CA or its issuers */
	SC_DEVICE_PART_KEK = 2,   /* the KEK certificate */
};

/*
 * The trust the device is judged under. mfr_root is required and the only anchor; store NULL
 * builds one holding mfr_root alone for the call, else it is such a store built once by the
 * caller (read-only during the call, so threads may share it). sigs NULL: no signature cache
 * (selfcert/cache.h; a cache only changes the cost, never the verdict). All borrowed.
 */
struct sc_device_trust {
	X509 *mfr_root;
	X509_STORE *store;
	struct sc_sig_cache *sigs;
};

/*
 * docs/FORMATS.md's device: chain[0] is a device CA — a CA (basicConstraints) with keyCertSign,
 * a serialNumber device ID that sc_device_id_valid accepts, pathlen 0, and critical name
 * constraints to that ID in either form (sc_cert_device_ca_form_of) — that passes stock path
 * validation (X509_verify_cert, now) to t->mfr_root with chain[1..] as untrusted
 * intermediates; kek has the same serialNumber, is not a CA, passes the same path validation,
 * and its issuer in the validated path is the device CA's (the same manufacturer CA).
 * Refusals, in this order, each with a detail that names the certificate but no field or file
 * (the caller prefixes its own), *bad saying which input:
 *   SC_ERR_NOT_DEVICE_CA  chain[0] is not a device CA (as above)                    CHAIN
 *   SC_ERR_CHAIN          the device CA does not chain (OpenSSL's reason, depth)    CHAIN
 *   SC_ERR_KEK_MISMATCH   the KEK names another device, or is a CA                  KEK
 *   SC_ERR_CHAIN          the KEK does not chain                                    KEK
 *   SC_ERR_KEK_MISMATCH   the KEK's issuer is not the device CA's                   KEK
 * kek NULL: the device CA's half only (its form and path validation, the first two rows), for a
 * chain judged without its KEK (provd's recovery of a carried profile, docs/API.md dur11).
 * SC_ERR_USAGE for an empty chain or a NULL root; SC_ERR_NOMEM; SC_ERR_INTERNAL.
 * device_id (SC_DEVICE_ID_MAX + 1 bytes) gets the device CA's ID as soon as it is a CA with
 * keyCertSign naming a valid one (so also with a later refusal, for the caller's messages), ""
 * otherwise. Does not check what a request adds (server key generation needs an RSA or EC KEK:
 * provd's). OpenSSL's error queue is left empty.
 */
sc_err sc_device_verify(const struct sc_device_trust *t, STACK_OF(X509) *chain, X509 *kek,
    char device_id[SC_DEVICE_ID_MAX + 1], enum sc_device_part *bad) SC_MUST_USE;

#endif
