// SPDX-License-Identifier: Apache-2.0
/*
 * revoked_list.c — the parts of a decoded revocation list (selfcert/revoked.h) that verification
 * needs: lookup, the rollback rule, freeing. No JSON here, so libselfcert stays free of jansson;
 * signing and decoding are src/revoked/revoked.c.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <selfcert/revoked.h>

void sc_revoked_free(struct sc_revoked *l)
{
	if (l == NULL)
		return;
	free(l->devices);
	free(l);
}

static int cmp_id(const void *a, const void *b)
{
	return strcmp((const char *)a, (const char *)b);
}

uint64_t sc_revoked_sequence(int64_t max_at, size_t n)
{
	uint64_t s = (uint64_t)(max_at > 0 ? max_at : 0) * 100000u + (uint64_t)n;

	return s > 0 ? s : 1;
}

int sc_revoked_has(const struct sc_revoked *l, const char *device_id)
{
	char key[SC_DEVICE_ID_MAX + 1];

	if (l == NULL || device_id == NULL || strlen(device_id) > SC_DEVICE_ID_MAX)
		return 0;
	snprintf(key, sizeof(key), "%s", device_id);
	return bsearch(key, l->devices, l->n, sizeof(l->devices[0]), cmp_id) != NULL;
}

sc_err sc_revoked_successor(const struct sc_revoked *old, const struct sc_revoked *fresh)
{
	if (old == NULL)
		return SC_OK;
	if (strcmp(old->network_id, fresh->network_id) != 0)
		return sc_fail(SC_ERR_ROLLBACK, "the list is for network %s, the one held for %s",
		    fresh->network_id, old->network_id);
	if (fresh->sequence < old->sequence)
		return sc_fail(SC_ERR_ROLLBACK, "sequence %llu is lower than the held list's %llu",
		    (unsigned long long)fresh->sequence, (unsigned long long)old->sequence);
	if (fresh->sequence == old->sequence &&
	    (fresh->n != old->n ||
	        (fresh->n > 0 &&
	            memcmp(fresh->devices, old->devices, fresh->n * sizeof(fresh->devices[0])) !=
	                0)))
		return sc_fail(SC_ERR_ROLLBACK, "sequence %llu again, with other devices",
		    (unsigned long long)fresh->sequence);
	return SC_OK;
}
