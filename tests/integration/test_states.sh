#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# Every request type in every state (empty, factory, locked), over the daemon's socket, against
# the state table of docs/PROTOCOL.md section 3 (read from the document itself): a request the
# table refuses gets exactly `state` or `locked`, one it permits gets past the state check
# (an empty body is then `malformed`, or answered when the request has no body), and every
# other message type 0..255 is `unknown-request`, whatever body it carries. Refusals commit
# nothing (the monotonic counter does not move). Framing errors come first, in every state.
# tests/unit/test_dispatch.c checks the same table inside the process; this checks the daemon.
SC_VG_BINS="SELFCERT_SPD"   # under valgrind (lib.sh); the CLI runs there in other tests
source "$SC_TESTLIB"
source "$(dirname "$SC_TESTLIB")/lib-sandbox.sh"
DOC="$(dirname "$SC_TESTLIB")/../../docs/PROTOCOL.md"

# --- the table, from the document ---
# rows "| 0x01 | INFO | ✓ | ✓ | ✓ |" -> "01 info ✓ ✓ ✓" (names as --list-requests prints them)
grep -E '^\| 0x[0-9a-f]{2} \| [A-Z_0-9]+ \|' "$DOC" |
  awk -F'|' '{ gsub(/[ `]/, ""); t = substr($2, 3); n = tolower($3); gsub(/_/, "-", n);
               print t, n, $4, $5, $6 }' >"$T/table"
# requests whose body is empty ("Request body: empty." under their heading)
awk '/^### 0x/ { t = substr($2, 3) } /^Request body: empty/ { print t }' "$DOC" >"$T/nobody"
check "the state table has rows" [ "$(wc -l <"$T/table")" -ge 11 ]
check "some requests have no body" [ "$(wc -l <"$T/nobody")" -ge 2 ]

# The daemon answers exactly the types the table lists: a new request must get a row.
"$SELFCERT_SPD" --list-requests | awk '{ print substr($1, 3), $2 }' | sort >"$T/listed"
awk '{ print $1, $2 }' "$T/table" | sort >"$T/documented"
if cmp -s "$T/listed" "$T/documented"; then pass; else
  fail "selfcert-spd --list-requests and the table of docs/PROTOCOL.md differ: $(diff "$T/documented" "$T/listed" | grep '^[<>]' | tr '\n' ' ')"; fi

# The store header's counter (docs/PROTOCOL.md §6): the same on both key backends.
counter() { od -An -tx1 -j5 -N8 "$T/dev/store" | tr -d ' \n'; }

# walk STATE COLUMN [--skip TT]…: every message type with an empty body, in this state.
walk() {
  local state=$1 col=$2; shift 2
  local before; before=$(counter)
  if "$SC_SPTOOL" types "$T/dev.sock" "$T/answers-$state" "$@" >"$T/types-$state" 2>"$T/types-$state.err"; then
    pass; else fail "$state: a type outside the table answered, or the SP hung up: $(grep -v 'unknown-request$' "$T/types-$state" | head -n 3 | tr '\n' ' ')"; fi
  local t name e f l want got
  while read -r t name e f l; do
    case $col in 3) want=$e ;; 4) want=$f ;; 5) want=$l ;; esac
    got=$(sed -n "s/^0x$t //p" "$T/types-$state")
    [ -n "$got" ] || continue          # skipped on purpose
    case $want in
      ✓) if grep -qx "$t" "$T/nobody"; then want="answer 0x$(printf %02x $((0x$t | 0x80)))"; else want="error malformed"; fi ;;
      state|locked) want="error $want" ;;
      *) fail "docs/PROTOCOL.md: cell '$want' for 0x$t in state $state"; continue ;;
    esac
    if [ "$got" = "$want" ]; then pass; else fail "$state: 0x$t $name: got '$got', expected '$want'"; fi
  done <"$T/table"
  local n_unknown n_sent n_rows=0
  n_unknown=$(grep -c 'error unknown-request$' "$T/types-$state")
  n_sent=$(grep -c '^0x' "$T/types-$state")
  while read -r t _; do grep -q "^0x$t " "$T/types-$state" && n_rows=$((n_rows + 1)); done <"$T/table"
  check "$state: all $((n_sent - n_rows)) types outside the table are unknown-request" \
    [ $((n_sent - n_unknown)) -eq "$n_rows" ]
  check "$state: nothing was committed by the walk" [ "$(counter)" = "$before" ]
}

# framing STATE: length and version checks come before the type and the state.
framing() {
  local s=$1
  check "$s: length 65537: oversize, then the SP hangs up" \
    [ "$("$SC_SPTOOL" frame "$T/dev.sock" 00010001)" = "error oversize then closed" ]
  check "$s: length 1: malformed, then the SP hangs up" \
    [ "$("$SC_SPTOOL" frame "$T/dev.sock" 0000000101)" = "error malformed then closed" ]
  check "$s: version 2: malformed, the connection stays" \
    [ "$("$SC_SPTOOL" frame "$T/dev.sock" 000000020201)" = "error malformed then open" ]
  check "$s: trailing byte on INFO: trailing-data" \
    [ "$("$SC_SPTOOL" frame "$T/dev.sock" 00000003010100)" = "error trailing-data then open" ]
}

sc mfr init --dir "$T/mfr" >/dev/null || exit 1
sc net init --dir "$T/net" --network-id net-st >/dev/null || exit 1
sc sp init --store "$T/dev" --device-id ST-1 >/dev/null || exit 1
start_spd dev || exit 1

walk empty 3
framing empty
# BACKEND (0x18, revision 1.2) over the sandboxed daemon: a soft store says soft, nothing more;
# a TPM store (SC_BACKEND=tpm) says tpm and the chip's identity (test_tpm checks its fields).
ok "device info: the SP's backend (BACKEND)" sc device info --sp "$T/dev.sock"
if [ "$SC_BACKEND" = tpm ]; then
  check "  backend: tpm (…)" grep -q "^backend: *tpm (manufacturer " "$T/.out"
else
  check "  backend: soft" grep -qx "backend:          soft" "$T/.out"
fi
ok "device info --json: the SP's backend" sc device info --sp "$T/dev.sock" --json
check "  \"sp_backend\":{\"name\":\"$SC_BACKEND\"…" grep -q "\"sp_backend\":{\"name\":\"$SC_BACKEND\"" "$T/.out"
# An SP of revision 1.1 (and 1.0) has no BACKEND: the CLI says so and still shows the rest.
# One store per daemon, each made by sp init (a copied TPM store could not open on its own swtpm).
for bad in 1.6 2.0 1 1.10 x; do
  "$SELFCERT_SPD" --store "$T/dev" --socket "$T/bad.sock" --revision "$bad" 2>"$T/.err"
  check "--revision $bad: exit 2, one usage line" [ $? -eq 2 ] && check "  naming 1.0 to 1.5" \
    [ "$(cat "$T/.err")" = "selfcert-spd: usage: --revision $bad: 1.0 to 1.5" ]
done
for rev in 1.1 1.0; do
  sc sp init --store "$T/old$rev" --device-id ST-OLD >/dev/null || exit 1
  start_spd "old$rev" --revision "$rev" || exit 1
  check "revision $rev: BACKEND is unknown-request" \
    [ "$("$SC_SPTOOL" raw "$T/old$rev.sock" 0118 | cut -d' ' -f1-2)" = "error unknown-request" ]
  ok "revision $rev: device info still works" sc device info --sp "$T/old$rev.sock"
  check "  backend: unknown (SP revision before 1.2)" \
    grep -qx "backend:          unknown (SP revision before 1.2)" "$T/.out"
  check "  and the device ID" grep -q "^device id:        ST-OLD" "$T/.out"
done

ok "to factory: personalize without locking" sc mfr personalize --dir "$T/mfr" --sp "$T/dev.sock" \
  --out "$T/dc" --net-root "$T/net/root.pem" --network-id net-st --no-lock
check "INFO says factory (state byte 1)" [ "$("$SC_SPTOOL" raw "$T/dev.sock" 0101 | cut -c13-14)" = 01 ]
# LOCK is the one factory request whose empty body is a whole request: it goes last, below.
walk factory 4 --skip 06
framing factory
before=$(counter)
check "factory: LOCK (empty body) is permitted and answered" \
  [ "$("$SC_SPTOOL" raw "$T/dev.sock" 0106)" = "answer 0x86 " ]
check "factory: LOCK committed (the counter moved)" [ "$(counter)" != "$before" ]

walk locked 5
framing locked
ok "a fresh profile still issues after every refusal" sc net profile --dir "$T/net" \
  --device-ca "$T/dc/device-ca.pem" --validity 1d --out "$T/p.der"
ok "issue" sc device issue --sp "$T/dev.sock" --profile "$T/p.der" --out "$T/leaf.pem"
H=$(sc device keys --sp "$T/dev.sock" | cut -d' ' -f1)
# With a key present, types outside the table are sent again carrying its handle.
walk locked-with-key 5 "$H"
check "the key is still there" [ "$(sc device keys --sp "$T/dev.sock" | cut -d' ' -f1)" = "$H" ]
finish
