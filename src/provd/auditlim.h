// SPDX-License-Identifier: Apache-2.0
/*
 * auditlim.h — Session 19 (flood19): provd's device-ca-changed audit rows bounded per device.
 * A refused request showing a device CA or KEK other than the device's pin (h_enroll.c
 * profile_pin, recover_pin, and sc_reg_profile_recover's own refusal) is answered 409
 * device-ca-changed every time, but its audit row (one durable registry write, which an
 * unauthenticated client holding only a device's public certificates can cause) is written at
 * most once per device per PROVD_AUDITLIM_WINDOW_S in this process; the rows not written are
 * counted (selfcert_provd_audit_suppressed_total). docs/THREAT-MODEL.md "Session 19 (flood19)".
 *
 * A fixed table of PROVD_AUDITLIM_SLOTS slots (bounded memory), one device ID each, found by a
 * hash of the ID and compared in full; a device whose slot another device took is a new device
 * again (at worst one more row). Thread-safe (one mutex). Times: monotonic seconds
 * (provd_auditlim_now); the caller passes them, so the unit tests move time.
 */
#ifndef SC_PROVD_AUDITLIM_H
#define SC_PROVD_AUDITLIM_H

#include <stdint.h>
#include <selfcert/err.h>

#define PROVD_AUDITLIM_WINDOW_S 60 /* one device-ca-changed row per device per 60 s */
#define PROVD_AUDITLIM_SLOTS 1024  /* devices remembered (~80 KiB) */

struct provd_auditlim;

sc_err provd_auditlim_new(struct provd_auditlim **out) SC_MUST_USE;
void provd_auditlim_free(struct provd_auditlim *l);

/* CLOCK_MONOTONIC, in seconds. */
int64_t provd_auditlim_now(void);

/*
 * 1: write this device's row (the write is remembered at now); 0: a row was written for it
 * less than PROVD_AUDITLIM_WINDOW_S ago, the row is not written and counted suppressed.
 * l NULL (unit tests that fill struct provd_api themselves): always 1.
 */
int provd_auditlim_take(struct provd_auditlim *l, const char *device_id, int64_t now);

/* What provd_auditlim_take would answer, nothing remembered or counted. */
int provd_auditlim_peek(struct provd_auditlim *l, const char *device_id, int64_t now);

/* One row not written that provd_auditlim_peek foresaw (sc_reg_profile_recover's refusal). */
void provd_auditlim_count(struct provd_auditlim *l);

/* The rows not written since start (0 for NULL). */
uint64_t provd_auditlim_suppressed(struct provd_auditlim *l);

#endif
