/*
 * p11.h — libselfcert-pkcs11.so internals: configuration, the token's objects, sessions and
 * the cryptographic operations. One slot, whose token is one SP; every private-key operation
 * is a request to the SP over the session's own connection (docs/PKCS11.md).
 */
#ifndef SC_P11_H
#define SC_P11_H

#include <stddef.h>
#include <stdint.h>
#include <time.h>
#include <p11-kit/pkcs11.h>
#include <openssl/evp.h>
#include <selfcert/err.h>
#include <selfcert/alg.h>
#include <selfcert/sp.h>

#define P11_SLOT_ID 0
#define P11_MAX_SESSIONS 16          /* the SP serves 32 connections, shared with every client */
#define P11_MAX_OBJECTS 1024         /* 256 keys x 3, the device CA, folder certificates, secrets */
#define P11_MAX_SESSION_OBJECTS 64   /* derived secrets per session */
#define P11_MAX_FOLDER_FILES 64      /* *.pem files read from the certificate folder */
#define P11_MAX_FOLDER_CERTS 64      /* certificates taken from them, in all */
#define P11_MAX_LABEL 64
#define P11_MAX_ID 64
#define P11_MAX_PATH 4096
#define P11_SP_PATH_MAX 107          /* sun_path less its NUL */
#define P11_CONF_MAX 16384           /* the configuration file */
/*
 * The SP drops a connection after 60 s with nothing in flight (docs/PROTOCOL.md §5). A session
 * whose connection has been idle this long replaces it before its next request; any other loss
 * of the connection means the SP went away under the session (CKR_DEVICE_ERROR).
 */
#define P11_SP_IDLE_RECONNECT_S 45

/* ---- configuration (config.c) ---- */

struct p11_config {
	char sp[P11_SP_PATH_MAX + 1];      /* the SP's socket; "" when not configured */
	char certs[P11_MAX_PATH];          /* the host's certificate folder; "" for none */
	char label[33];                    /* the token label; "" means the device ID */
	int debug;                         /* 1: one line on stderr per failure */
};

/*
 * The file named by SELFCERT_PKCS11_CONF (when set), then SELFCERT_SP and SELFCERT_CERTS
 * (when set) over it, then SELFCERT_PKCS11_DEBUG. SC_ERR_MALFORMED / SC_ERR_OVERSIZE /
 * SC_ERR_IO / SC_ERR_USAGE naming the file, line and key.
 */
sc_err p11_config_load(struct p11_config *cfg) SC_MUST_USE;

/* Parse a configuration file's text (for tests through the file). */
sc_err p11_config_parse(struct p11_config *cfg, const char *text, size_t len,
    const char *path) SC_MUST_USE;

/* One line on stderr when debugging is on: "selfcert-pkcs11: <what>: <error-name>: <detail>". */
void p11_log(const char *what, sc_err r);

/* ---- objects (objects.c) ---- */

#define P11_USE_SIGN    0x1
#define P11_USE_DECRYPT 0x2
#define P11_USE_DERIVE  0x4

struct p11_attr {
	CK_ATTRIBUTE_TYPE type;
	uint8_t *value;
	size_t len;
	int sensitive;                     /* exists, but its value is never revealed */
};

struct p11_object {
	CK_OBJECT_HANDLE handle;
	CK_OBJECT_CLASS klass;
	CK_KEY_TYPE key_type;              /* keys only */
	int token;                         /* 1: token object; 0: session object (a derived secret) */
	uint32_t sp_handle;                /* leaf keys and their certificates: the SP's handle */
	enum sc_alg alg;                   /* leaf keys */
	unsigned use;                      /* private keys: P11_USE_* from the certificate */
	size_t key_bytes;                  /* private keys: modulus bytes (RSA), field bytes (EC, Ed) */
	uint8_t *der;                      /* certificates: the DER, for de-duplication */
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
#define P11_H_CERTS   ((CK_OBJECT_HANDLE)1 << 40)
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
/* Append (taking ownership) or remove and free one object. */
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
 */
CK_RV p11_object_new_secret(CK_OBJECT_HANDLE handle, const CK_ATTRIBUTE *tmpl, CK_ULONG n,
    const uint8_t *value, size_t value_len, int rw, struct p11_object **out);
void p11_object_free(struct p11_object *o);

/* ---- mechanisms and operations (ops.c) ---- */

enum p11_mkind { P11_M_ECDSA, P11_M_RSA_PKCS, P11_M_PSS, P11_M_EDDSA, P11_M_OAEP, P11_M_ECDH };

struct p11_mech {
	CK_MECHANISM_TYPE type;
	CK_KEY_TYPE key_type;
	CK_FLAGS op;                       /* CKF_SIGN, CKF_DECRYPT or CKF_DERIVE */
	enum p11_mkind kind;
	enum sc_digest hash;               /* the module hashes the data; NONE: raw input */
	CK_ULONG min_bits, max_bits;
};

const struct p11_mech *p11_mech_find(CK_MECHANISM_TYPE type);
CK_RV p11_mech_list(CK_MECHANISM_TYPE_PTR list, CK_ULONG_PTR count);
CK_RV p11_mech_info(CK_MECHANISM_TYPE type, CK_MECHANISM_INFO_PTR info);
/* The mechanisms a private key may be used with (CKA_ALLOWED_MECHANISMS). */
size_t p11_mechs_for_key(CK_KEY_TYPE kt, unsigned use, CK_MECHANISM_TYPE *out, size_t cap);

/* One signing or decryption in progress in a session. */
struct p11_op {
	int active;
	const struct p11_mech *mech;
	uint32_t sp_handle;
	enum sc_alg alg;
	size_t key_bytes;
	EVP_MD_CTX *md;                    /* hashing mechanisms */
	uint8_t *buf;                      /* raw input gathered by C_*Update */
	size_t len, max;
	int updated;                       /* C_*Update was called: the one-shot call may not follow */
	enum sc_digest pss_digest;         /* PSS: the hash of the input and of MGF1 */
	uint32_t salt_len;
	int oaep_md, mgf1_md;              /* OAEP: the SP's hash codes */
	uint8_t *label;
	size_t label_len;
	uint8_t *result;                   /* a plaintext kept across CKR_BUFFER_TOO_SMALL */
	size_t result_len;
};

/* The operation ends: everything wiped and freed. */
void p11_op_end(struct p11_op *op);

/*
 * Start signing/decrypting with private key `key`. Checks the mechanism against the key's type
 * (CKR_KEY_TYPE_INCONSISTENT), its use (CKR_KEY_FUNCTION_NOT_PERMITTED) and its parameters
 * (CKR_MECHANISM_PARAM_INVALID); CKR_MECHANISM_INVALID for a mechanism that is not ours or not
 * of this operation.
 */
CK_RV p11_sign_init(struct p11_op *op, const CK_MECHANISM *m, const struct p11_object *key);
CK_RV p11_decrypt_init(struct p11_op *op, const CK_MECHANISM *m, const struct p11_object *key);
/* Feed data: hashed, or gathered up to the mechanism's bound (CKR_DATA_LEN_RANGE). */
CK_RV p11_op_update(struct p11_op *op, const uint8_t *data, size_t len);
/* The size of the result: the signature, or the largest plaintext. */
size_t p11_op_out_len(const struct p11_op *op);

/*
 * What the SP is asked, by the session (module.c): one request over the session's connection.
 * Returns the SP's sc_err; the session turns a lost connection into CKR_DEVICE_ERROR.
 */
struct p11_session;
sc_err p11_session_sp(struct p11_session *s, struct sc_sp **sp) SC_MUST_USE;
void p11_session_sp_done(struct p11_session *s, sc_err r);

/* Finish: the SP signs/decrypts the gathered input; *out is the caller's (OPENSSL_clear_free). */
CK_RV p11_sign_finish(struct p11_op *op, struct p11_session *s, uint8_t **out, size_t *out_len);
CK_RV p11_decrypt_finish(struct p11_op *op, struct p11_session *s);

/*
 * ECDH1_DERIVE: check the mechanism's parameters and the key, ask the SP. *secret is the
 * caller's (OPENSSL_clear_free).
 */
CK_RV p11_derive(const CK_MECHANISM *m, const struct p11_object *key, struct p11_session *s,
    uint8_t **secret, size_t *secret_len);

/* An SP error as a PKCS#11 return value. */
CK_RV p11_rv_from_sc(sc_err r);

#endif
