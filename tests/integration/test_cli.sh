#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# The command-line contract: --help everywhere, usage errors exit 2 with one line naming the
# flag, system errors exit 3, nothing is overwritten.
source "$SC_TESTLIB"

# Under valgrind the first command's --help runs under memcheck, the others natively (scn): each
# is the shared flag parser (args.c) and one fputs of the command's usage text.
help_sc=sc
for c in "mfr init" "mfr personalize" "net init" "net profile" "sp init" "device info" "device challenge" \
         "device issue" "device keys" "device sign" "device delete" "verify" "inspect" "demo"; do
  # shellcheck disable=SC2086
  ok "$c --help" $help_sc $c --help
  [ "$SC_VALGRIND" = 1 ] && help_sc=scn
  check "$c --help prints usage" grep -q "^usage: selfcert $c" "$T/.out"
done
ok "selfcert --help" sc --help

refused "no command" 2 usage sc nosuch
refused "unknown flag" 2 usage sc net init --dir "$T/n" --network-id n --bogus
check "unknown flag named" grep -q -- "--bogus" "$T/.err"
refused "missing flag" 2 usage sc net init --dir "$T/n"
check "missing flag named" grep -q -- "--network-id" "$T/.err"
refused "flag without value" 2 usage sc net init --dir
refused "bad algorithm" 2 usage sc mfr init --dir "$T/m" --alg rsa1024
refused "bad days" 2 usage sc mfr init --dir "$T/m" --days 0
refused "bad device id" 2 usage sc sp init --store "$T/s" --device-id "bad*id"
refused "bad duration" 2 usage sc net profile --dir x --device-ca x --out x --validity 10w
refused "bad time" 2 usage sc net profile --dir x --device-ca x --out x --not-before yesterday --not-after 2027-01-01T00:00:00Z
refused "validity flags clash" 2 usage sc net profile --dir x --device-ca x --out x --validity 1d --not-before 2027-01-01T00:00:00Z
refused "bad key usage" 2 usage sc net profile --dir x --device-ca x --out x --validity 1d --key-usage signEverything
refused "bad handle" 2 usage sc device sign --sp "$T/none.sock" --key abc --in x --out y 2>/dev/null

refused "no SP listening" 3 io sc device info --sp "$T/none.sock"
refused "missing file" 3 io sc inspect "$T/none.der"
echo "not a thing" >"$T/junk"
refused "inspect junk" 1 malformed sc inspect "$T/junk"

ok "mfr init" sc mfr init --dir "$T/m"
check "keys are 0600" [ "$(stat -c %a "$T/m/root.key")" = 600 ] 
check "ca key 0600" [ "$(stat -c %a "$T/m/ca.key")" = 600 ]
sum=$(sha256sum "$T/m/root.key")
refused "mfr init twice" 3 exists sc mfr init --dir "$T/m"
check "root key untouched" [ "$(sha256sum "$T/m/root.key")" = "$sum" ]

ok "sp init" sc sp init --store "$T/s" --device-id DEV-9
check "root key 0400" [ "$(stat -c %a "$T/s/root.key")" = 400 ]
refused "sp init twice" 3 exists sc sp init --store "$T/s" --device-id DEV-9

ok "inspect a certificate" sc inspect "$T/m/root.pem"
ok "inspect --json" sc inspect --json "$T/m/ca.pem"
check "inspect --json is one object" grep -q '^{"type":"certificate"' "$T/.out"
# --- net device add: every ID or none, in one registry transaction ---
ok "registry with one device" sc net device add --db "$T/reg.db" --device-id DEV-1
refused "a registered ID in the middle" 3 exists sc net device add --db "$T/reg.db" \
  --device-id NEW-1 --device-id DEV-1 --device-id NEW-2
check "the same error as ever" [ "$(cat "$T/.err")" = "selfcert: exists: device DEV-1 is already registered (active)" ]
refused "nothing of it added (before)" 1 not-found sc net device show --db "$T/reg.db" --device-id NEW-1
refused "nothing of it added (after)" 1 not-found sc net device show --db "$T/reg.db" --device-id NEW-2
refused "an ID given twice" 2 usage sc net device add --db "$T/reg.db" --device-id NEW-1 --device-id NEW-1
check "given twice named" [ "$(cat "$T/.err")" = "selfcert: usage: net device add: --device-id NEW-1 given twice" ]
refused "a bad ID in the list" 2 usage sc net device add --db "$T/reg.db" --device-id NEW-1 --device-id "bad*id"
check "bad ID named" [ "$(cat "$T/.err")" = \
  "selfcert: usage: net device add: --device-id 'bad*id': 1..64 PrintableString characters" ]
refused "a bad ID, no registry yet" 2 usage sc net device add --db "$T/none.db" --device-id "bad*id"
check "a refused list makes no registry file" [ ! -e "$T/none.db" ]
ok "still one device" sc net device list --db "$T/reg.db"
check "one line listed" [ "$(cat "$T/.out")" = "DEV-1 active 0 -" ]
# --- device IDs are one device when OpenSSL takes them for one name (case, runs of spaces) ---
ok "ID spellings: the first" sc net device add --db "$T/ids.db" --device-id DEV-0001
refused "ID spellings: lower case" 3 exists sc net device add --db "$T/ids.db" --device-id dev-0001
check "ID spellings: lower case named" [ "$(cat "$T/.err")" = \
  "selfcert: exists: device dev-0001 is already registered as DEV-0001 (active): device IDs are the same ignoring case and runs of spaces" ]
ok "ID spellings: a space is another name" sc net device add --db "$T/ids.db" --device-id "DEV 0001"
refused "ID spellings: runs of spaces" 3 exists sc net device add --db "$T/ids.db" --device-id "dev  0001"
refused "ID spellings: twice in one list" 2 usage sc net device add --db "$T/ids.db" \
  --device-id NEW-1 --device-id new-1
check "ID spellings: twice named" [ "$(cat "$T/.err")" = \
  "selfcert: usage: net device add: --device-id 'new-1' is 'NEW-1' again (device IDs are the same ignoring case and runs of spaces)" ]
printf 'device_id\nNEW-2\nDev-0001\n' >"$T/ids.csv"
refused "ID spellings: the CSV import" 1 malformed sc net device import --db "$T/ids.db" --csv "$T/ids.csv"
check "ID spellings: the CSV line named" grep -qF \
  "ids.csv:3: device Dev-0001 is registered as DEV-0001: device IDs are the same ignoring case and runs of spaces" "$T/.err"
printf 'NEW-3\nnew-3\n' >"$T/ids.csv"
refused "ID spellings: twice in the CSV" 1 malformed sc net device import --db "$T/ids.db" --csv "$T/ids.csv"
check "ID spellings: CSV twice named" grep -qF "ids.csv:2: device new-3 appears twice in the file" "$T/.err"
refused "ID spellings: lookups are exact" 1 not-found sc net device show --db "$T/ids.db" --device-id dev-0001
ok "ID spellings: two devices" sc net device list --db "$T/ids.db"
check "ID spellings: two listed" [ "$(cat "$T/.out")" = "$(printf 'DEV 0001 active 0 -\nDEV-0001 active 0 -')" ]
# Under valgrind the first verb runs under memcheck, the others natively (pw_sc): every verb
# hands --db to the same registry opener, which refuses the password before anything else.
pw_sc=$SELFCERT
for verb in "list" "show --device-id DEV-1" "add --device-id NEW-9" "revoke --device-id DEV-1" "import --csv $T/m/root.pem"; do
  # shellcheck disable=SC2086
  # A build with the PostgreSQL backend refuses the password in it; one without, the backend.
  SELFCERT=$pw_sc refused "net device $verb: a PostgreSQL --db with a password" 2 usage \
    bash -c "cd '$T' && \"\$SELFCERT\" net device $verb --db postgres://alice:s3cret@db.example/sc"
  check "net device $verb: says why" grep -Eq "^selfcert: usage: --db(: a password in the location is refused| postgres://…: this build has no PostgreSQL backend)" "$T/.err"
  check "net device $verb: no password repeated" bash -c "! grep -q s3cret '$T/.err'"
  [ "$SC_VALGRIND" = 1 ] && pw_sc=$SELFCERT_NATIVE
done
check "no file made of the URI" [ ! -e "$T/postgres:" ]
ok "a clean list is added" sc net device add --db "$T/reg.db" --device-id NEW-1 --device-id NEW-2
check "each activated" [ "$(grep -c activated "$T/.out")" = 2 ]
# net db: the schema step operators may run on their own (any backend).
refused "net db: which verb" 2 usage sc net db
refused "net db: unknown verb" 2 usage sc net db frob --db "$T/reg.db"
check "net db: unknown verb named" grep -q "^selfcert: usage: net db: unknown verb 'frob'" "$T/.err"
refused "net db status: no registry there" 3 io sc net db status --db "$T/none.db"
check "net db status: nothing made" [ ! -e "$T/none.db" ]
ok "net db migrate (SQLite, made)" sc net db migrate --db "$T/db2.db"
check "net db migrate says the version" grep -q "^registry (sqlite) at schema version 10$" "$T/.out"
ok "net db status" sc net db status --db "$T/db2.db"
check "net db status: usable" grep -q "^this program:   10 (usable)$" "$T/.out"
ok "net db check" sc net db check --db "$T/db2.db"
check "net db check: consistent" grep -q "^registry (sqlite): consistent$" "$T/.out"
refused "net db --grant on SQLite" 2 usage sc net db migrate --db "$T/db2.db" --grant someone
check "--grant: why" grep -q "has no database roles" "$T/.err"
refused "--grant with status" 2 usage sc net db status --db "$T/db2.db" --grant someone
finish
