// SPDX-License-Identifier: Apache-2.0
/*
 * tpm_int.h — the TPM backend's internals shared by its files (selfcert-spd only): the one-fd
 * TCTI (tpm_tcti.c). Ownership: spd_tcti_open's context is the caller's (spd_tcti_free).
 */
#ifndef SPD_TPM_INT_H
#define SPD_TPM_INT_H

#include <stdint.h>
#include <tss2/tss2_tcti.h>
#include <selfcert/err.h>

/* A TCTI over one descriptor for conf (backend.h's spd_tpm_open strings). */
sc_err spd_tcti_open(const char *conf, TSS2_TCTI_CONTEXT **out) SC_MUST_USE;
void spd_tcti_free(TSS2_TCTI_CONTEXT *c);
/* Flush every handle of first's type (0x80000000 transient, 0x02000000 sessions); best effort. */
void spd_tcti_flush_range(TSS2_TCTI_CONTEXT *c, uint32_t first);

#endif
