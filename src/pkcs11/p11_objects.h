// SPDX-License-Identifier: Apache-2.0
/*
 * p11_objects.h — the token's objects (objects.c): each leaf key of the SP as a private key, a
 * public key and a certificate, the device CA, the host's folder certificates, and the secrets
 * C_DeriveKey makes. Every attribute is encoded once, when the object is made.
 */
#ifndef SC_P11_OBJECTS_H
#define SC_P11_OBJECTS_H

#include <stddef.h>
#include <stdint.h>
#include <selfcert/err.h>
#include <selfcert/alg.h>
#include <selfcert/sp.h>
#include "p11.h"
#include "p11_config.h"
#include "p11_mech.h"

struct p11_attr {
	CK_ATTRIBUTE_TYPE type;
	uint8_t *value;
	size_t len;
	int sensitive; /* exists, but its value is never revealed */
};

struct p11_object {
	CK_OBJECT_HANDLE handle;
	CK_OBJECT_CLASS klass;
	CK_KEY_TYPE key_type; /* keys only */
	int token;            /* 1: token object; 0: session object (a derived secret) */
	uint32_t sp_handle;   /* leaf keys and their certificates: the SP's handle */
	enum sc_alg alg;      /* leaf keys */
	unsigned use;         /* private keys: P11_USE_* from the certificate */
	size_t key_bytes;     /* private keys: modulus bytes (RSA), field bytes (EC, Ed) */
	uint8_t *der;         /* certificates: the DER, for de-duplication */
	size_t der_len;
	struct p11_attr *attrs;
	size_t n_attrs, cap_attrs;
};

struct p11_objects {
	struct p11_object **v;
	size_t n;
};

/*
 * Object handles are derived from what the object is, so every session of the process sees one
 * object under one handle: a leaf key with SP handle h has its private key at h*8+1, its public
 * key at h*8+2, its certificate at h*8+3; other certificates live above P11_H_CERTS (from the
 * SHA-256 of their DER), derived secrets above P11_H_SECRETS.
 */
#define P11_H_LEAF(h, kind) (((CK_OBJECT_HANDLE)(h) << 3) | (kind))
/*
 * The key in use (the certificate folder's leaf.pem) appears a second time, labelled
 * P11_LABEL_CURRENT, at kinds 5-7 (private, public, certificate): a stable name for
 * configurations, which moves to the successor when the agent renews. p11_objects_find
 * resolves an alias of a key that is no longer current to that key's own object.
 */
#define P11_KIND_CURRENT 4
#define P11_LABEL_CURRENT "current"
#define P11_H_CERTS ((CK_OBJECT_HANDLE)1 << 40)
#define P11_H_SECRETS ((CK_OBJECT_HANDLE)2 << 40)

/*
 * Load the token's objects: each leaf key of the SP (KEYS) as a private key, a public key and a
 * certificate; the device CA certificate (INFO); the certificates of *.pem files in
 * cfg->certs that are not already there. A folder file that cannot be read is skipped (logged);
 * an SP failure fails the load. *out is the caller's (p11_objects_free).
 */
sc_err p11_objects_load(struct sc_sp *sp, const struct sc_sp_info *info,
    const struct p11_config *cfg, struct p11_objects *out) SC_MUST_USE;
void p11_objects_free(struct p11_objects *objs);
struct p11_object *p11_objects_find(const struct p11_objects *objs, CK_OBJECT_HANDLE h);
/*
 * Append o, taking ownership whatever the result (freed on failure): CKR_DEVICE_MEMORY past
 * P11_MAX_OBJECTS, CKR_HOST_MEMORY. p11_objects_remove frees the object with handle h, if any.
 */
CK_RV p11_objects_add(struct p11_objects *objs, struct p11_object *o);
void p11_objects_remove(struct p11_objects *objs, CK_OBJECT_HANDLE h);

/* C_GetAttributeValue on one object, with the size-query protocol (PKCS#11 v2.40 §5.7). */
CK_RV p11_object_get_attrs(const struct p11_object *o, CK_ATTRIBUTE_PTR tmpl, CK_ULONG n);
/* 1 if every attribute of tmpl is present, not sensitive, and equal. */
int p11_object_matches(const struct p11_object *o, const CK_ATTRIBUTE *tmpl, CK_ULONG n);

/*
 * A derived secret as a session object (CKO_SECRET_KEY, CKK_GENERIC_SECRET) from a C_DeriveKey
 * template; value is copied (the caller wipes its own). CKR_TEMPLATE_INCONSISTENT,
 * CKR_ATTRIBUTE_TYPE_INVALID, CKR_ATTRIBUTE_VALUE_INVALID; CKA_TOKEN true is
 * CKR_SESSION_READ_ONLY in a read-only session (rw 0), CKR_TEMPLATE_INCONSISTENT otherwise.
 * *out is the caller's (p11_object_free); NULL on failure.
 */
CK_RV p11_object_new_secret(CK_OBJECT_HANDLE handle, const CK_ATTRIBUTE *tmpl, CK_ULONG n,
    const uint8_t *value, size_t value_len, int rw, struct p11_object **out);
void p11_object_free(struct p11_object *o);

#endif
