// SPDX-License-Identifier: Apache-2.0
/*
 * replay.c — the SP's replay cache (spd.h): every profile ID it has issued from, bounded, with a
 * watermark so that a forgotten ID is still refused. Part of the sealed state; ISSUE adds to it
 * before its commit and takes the add back if the commit fails.
 */
#include <string.h>
#include "spd.h"

sc_err spd_replay_check(const struct spd_state *st, const uint8_t id[SC_PROFILE_ID_LEN],
    uint64_t not_after)
{
	size_t i;

	if (not_after <= st->replay_watermark)
		return sc_fail(SC_ERR_REPLAY,
		    "profile: profileNotAfter is not after the replay "
		    "watermark (an older profile ID may have been forgotten)");
	for (i = 0; i < st->n_replay; i++)
		if (memcmp(st->replay[i].id, id, SC_PROFILE_ID_LEN) == 0)
			return sc_fail(SC_ERR_REPLAY, "profile: this profile ID was already used");
	return SC_OK;
}

/*
 * Remember a profile. When the cache is full the entry with the smallest profileNotAfter (the
 * new one included) is forgotten and the watermark raised to it: every profile at or below the
 * watermark is refused, so forgetting an ID never lets its profile in again.
 */
void spd_replay_add(struct spd_state *st, const uint8_t id[SC_PROFILE_ID_LEN], uint64_t not_after,
    struct spd_replay_undo *u)
{
	size_t i, m = 0;

	u->old_watermark = st->replay_watermark;
	if (st->n_replay < SPD_REPLAY_MAX) {
		u->kind = SPD_RU_APPENDED;
		memcpy(st->replay[st->n_replay].id, id, SC_PROFILE_ID_LEN);
		st->replay[st->n_replay].not_after = not_after;
		st->n_replay++;
		return;
	}
	for (i = 1; i < st->n_replay; i++)
		if (st->replay[i].not_after < st->replay[m].not_after)
			m = i;
	if (not_after <= st->replay[m].not_after) {
		u->kind = SPD_RU_NONE;
		if (not_after > st->replay_watermark)
			st->replay_watermark = not_after;
		return;
	}
	u->kind = SPD_RU_REPLACED;
	u->idx = m;
	u->old = st->replay[m];
	if (st->replay[m].not_after > st->replay_watermark)
		st->replay_watermark = st->replay[m].not_after;
	memcpy(st->replay[m].id, id, SC_PROFILE_ID_LEN);
	st->replay[m].not_after = not_after;
}

void spd_replay_undo(struct spd_state *st, const struct spd_replay_undo *u)
{
	if (u->kind == SPD_RU_APPENDED)
		st->n_replay--;
	else if (u->kind == SPD_RU_REPLACED)
		st->replay[u->idx] = u->old;
	st->replay_watermark = u->old_watermark;
}
