// SPDX-License-Identifier: Apache-2.0
/*
 * fuzz_agent_state.c — libFuzzer target: the agent's CERTS/state.json (agent_state_parse), the
 * one file the agent trusts across a crash. The input is the file's bytes. Checked: a refusal is
 * malformed or oversize with a detail and leaves an empty state; a state that parses keeps its
 * bounds (handles non-zero, at most AGENT_MAX_RETIRE retired, hex profile IDs, PEM text), and
 * formats to a text that parses back and formats to the same text again (a fixed point).
 */
#include <string.h>
#include "agent.h"
#include "fuzz.h"

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	(void)argc;
	(void)argv;
	return 0;
}

static int is_hex(const char *s, size_t n)
{
	if (strlen(s) != n)
		return 0;
	for (; *s != '\0'; s++)
		if (!((*s >= '0' && *s <= '9') || (*s >= 'a' && *s <= 'f')))
			return 0;
	return 1;
}

static void check_key(const struct agent_key *k, const char *name)
{
	if (!k->present) {
		FZ_ASSERT(k->cert_pem == NULL, "%s: absent with a certificate", name);
		return;
	}
	FZ_ASSERT(k->handle != 0, "%s: handle 0", name);
	FZ_ASSERT(is_hex(k->profile_id, 2 * SC_PROFILE_ID_LEN), "%s: profile ID '%s'", name,
	    k->profile_id);
	FZ_ASSERT(k->cert_pem != NULL &&
	        strncmp(k->cert_pem, "-----BEGIN CERTIFICATE-----", 27) == 0,
	    "%s: not a PEM certificate", name);
	FZ_ASSERT(k->not_after > k->not_before, "%s: validity", name);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct agent_state st, back;
	char *text = NULL, *again = NULL;
	sc_err r;

	fz_input_begin(data, size);
	sc_err_clear();
	r = agent_state_parse(data, size, "state.json", &st);
	if (r != SC_OK) {
		fz_trace("agent_state: %s: %s", sc_err_name(r), sc_err_detail());
		FZ_ASSERT(r == SC_ERR_MALFORMED || r == SC_ERR_OVERSIZE, "refused as %s: %s",
		    sc_err_name(r), sc_err_detail());
		FZ_ASSERT(sc_err_detail()[0] != '\0', "refused without a detail");
		FZ_ASSERT(!st.current.present && !st.pending.present && st.n_retire == 0 &&
		        !st.has_inflight,
		    "a refusal left a state behind");
		return 0;
	}
	check_key(&st.current, "current");
	check_key(&st.pending, "pending");
	FZ_ASSERT(st.n_retire <= AGENT_MAX_RETIRE, "%zu retired keys", st.n_retire);
	for (size_t i = 0; i < st.n_retire; i++)
		FZ_ASSERT(st.retire[i] != 0, "retired handle 0");
	FZ_ASSERT(!st.has_inflight || is_hex(st.inflight_id, 2 * SC_PROFILE_ID_LEN),
	    "in-flight ID '%s'", st.inflight_id);

	r = agent_state_format(&st, &text);
	FZ_ASSERT(r == SC_OK, "a parsed state does not format: %s", sc_err_detail());
	r = agent_state_parse((const uint8_t *)text, strlen(text), "formatted", &back);
	FZ_ASSERT(r == SC_OK, "a formatted state does not parse: %s: %s", sc_err_detail(), text);
	r = agent_state_format(&back, &again);
	FZ_ASSERT(r == SC_OK && strcmp(text, again) == 0, "format is not a fixed point:\n%s\n%s",
	    text, again ? again : "");
	fz_trace("agent_state: ok (%s%s%zu retired)", st.current.present ? "current, " : "",
	    st.pending.present ? "pending, " : "", st.n_retire);
	fz_success();
	free(text);
	free(again);
	agent_state_clear(&back);
	agent_state_clear(&st);
	return 0;
}
