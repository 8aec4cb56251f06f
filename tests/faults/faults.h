// SPDX-License-Identifier: Apache-2.0
/*
 * faults.h — sc-faults, the fault tests' tool (test-only, never installed): shared helpers of
 * its commands (sc_faults.c: factory requests and the state dump; sweep.c: damage and rollback
 * at open; churn.c: the client of the kill -9 loop).
 */
#ifndef SC_FAULTS_H
#define SC_FAULTS_H

#include <stddef.h>
#include <stdint.h>
#include <openssl/evp.h>
#include <openssl/x509.h>
#include <selfcert/err.h>

#define FAULTS_PATH_MAX 4096

/* Exit codes of sc-faults besides sc_err_exit_code: a broken invariant is always 1. */
#define FAULTS_EXIT_VIOLATION 1

/* Lower-case hex SHA-256 of a public key's SubjectPublicKeyInfo / a certificate's DER. */
sc_err faults_spki_hash(const EVP_PKEY *key, char out[65]) SC_MUST_USE;
sc_err faults_cert_hash(X509 *cert, char out[65]) SC_MUST_USE;

/*
 * A private scratch copy of a store folder (root.key, counter, store; the ones that exist) in
 * a new temp folder, so that opening it can neither roll a counter forward nor remove temp
 * files in the real one. *scratch is a buffer of FAULTS_PATH_MAX; faults_scratch_remove
 * deletes it again.
 */
sc_err faults_scratch_copy(const char *dir, char *scratch) SC_MUST_USE;
void faults_scratch_remove(const char *scratch);

/* Write a whole file (truncating), no fsync: scratch files only. */
sc_err faults_put(const char *path, const uint8_t *data, size_t len) SC_MUST_USE;

/*
 * DIR/counter's two forms, written here again from store.h's description (not the daemon's
 * code): the old 8-byte one and the two-slot one of FAULTS_COUNTER_FILE_LEN bytes.
 * faults_counter_slot fills slot = value | 8 bytes of SHA-256(domain | value);
 * faults_counter_file fills file (FAULTS_COUNTER_FILE_LEN bytes) as a replace writes value v;
 * faults_counter_value reads either form (SC_ERR_STORE_DAMAGED when it is neither).
 */
#define FAULTS_COUNTER_OLD_LEN 8
#define FAULTS_COUNTER_SLOT_LEN 16
#define FAULTS_COUNTER_STRIDE 4096
#define FAULTS_COUNTER_FILE_LEN (FAULTS_COUNTER_STRIDE + FAULTS_COUNTER_SLOT_LEN)
void faults_counter_slot(uint64_t v, uint8_t slot[FAULTS_COUNTER_SLOT_LEN]);
void faults_counter_file(uint64_t v, uint8_t *file);
sc_err faults_counter_value(const uint8_t *data, size_t len, uint64_t *v) SC_MUST_USE;

/* The commands. argv[0] is the command name. Return the process exit code. */
int faults_cmd_sweep(int argc, char **argv);
int faults_cmd_churn(int argc, char **argv);

/* Print "sc-faults: <name>: <detail>" and return r's exit code. */
int faults_fail(sc_err r);

#endif
