#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# run.sh — every benchmark of issue 6, one after another, each printing its table (or, with
# --json, one JSON object holding every benchmark's object). docs/PERFORMANCE.md says what each
# measures and what it does not.
#
#   bench/run.sh [--build DIR] [--json] [--quick] [--plot] [--fleet N] [--fleet-minutes M] [--no-fleet]
#
#   --build DIR        a build folder (default: build-perf, then build); RelWithDebInfo for figures
#   --quick            tiny counts: proves everything runs (what CI's smoke tests do), times nothing
#   --plot             also regenerate docs/perf-issuance.png from this run's `bench_sp issue --json`
#   --fleet N          fleet size (default 100000); --fleet-minutes M stops starting devices after M
#                      minutes (default 25) and reports the rest as an extrapolation; --no-fleet skips it
# Runs under nice -n 10 so that the machine stays usable; the long ones print progress on stderr.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
root=$(dirname "$here")
build='' json=0 quick=0 plot=0 fleet=100000 fleet_minutes=25 do_fleet=1
while [ $# -gt 0 ]; do
  case $1 in
    --build) build=$2; shift 2 ;;
    --json) json=1; shift ;;
    --quick) quick=1; shift ;;
    --plot) plot=1; shift ;;
    --fleet) fleet=$2; shift 2 ;;
    --fleet-minutes) fleet_minutes=$2; shift 2 ;;
    --no-fleet) do_fleet=0; shift ;;
    -h|--help) sed -n '2,16p' "$0"; exit 0 ;;
    *) echo "run.sh: unknown argument $1" >&2; exit 2 ;;
  esac
done
if [ "$quick" = 1 ] && [ "$plot" = 1 ]; then
  echo "run.sh: --plot with --quick would put tiny-count figures in docs/perf-issuance.png: refused" >&2
  exit 2
fi
if [ -z "$build" ]; then
  for b in "$root/build-perf" "$root/build"; do [ -x "$b/bench_sp" ] && { build=$b; break; }; done
fi
if [ -z "$build" ] || [ ! -x "$build/bench_sp" ]; then
  echo "run.sh: no build with bench_sp (use --build DIR)" >&2
  exit 2
fi
export SELFCERT="$build/selfcert" SELFCERT_SPD="$build/selfcert-spd" SELFCERT_PROVD="$build/selfcert-provd"
export SC_PKCS11_MODULE="$build/libselfcert-pkcs11.so"
for b in bench_sp bench_p11 bench_ca bench_mem bench_fleet; do
  [ -x "$build/$b" ] || { echo "run.sh: $build/$b is missing" >&2; exit 2; }
done

if [ "$quick" = 1 ]; then
  sp_args=(--rounds 1 --per-round 1) p11_args=(--rounds 1 --per-round 2)
  ca_args=(--rounds 1 --devices 16 --clients "1,4") mem_args=(--rounds 1 --slots 4)
  fleet_args=(--devices 200 --clients 8)
else
  sp_args=() p11_args=() ca_args=() mem_args=()
  fleet_args=(--devices "$fleet" --clients 32 --max-minutes "$fleet_minutes")
fi
jflag=()
[ "$json" = 1 ] && jflag=(--json)

# one NAME CMD…: run a benchmark niced; in --json mode collect its one-line object.
out=()
one() {
  local name=$1; shift
  if [ "$json" = 1 ]; then
    local j
    j=$(nice -n 10 "$@" "${jflag[@]}") || { echo "run.sh: $name failed" >&2; exit 1; }
    out+=("\"$name\":$j")
  else
    nice -n 10 "$@" || { echo "run.sh: $name failed" >&2; exit 1; }
    echo
  fi
}

issue_json=
if [ "$plot" = 1 ]; then
  # The plot needs the JSON of benchmark 1 whatever the output mode: run it once as JSON.
  issue_json=$(mktemp)
  trap 'rm -f "$issue_json"' EXIT
  nice -n 10 "$build/bench_sp" issue "${sp_args[@]}" --json >"$issue_json"
  gnuplot -c "$here/plot.gp" "$issue_json" "$root/docs/perf-issuance.png"
  echo "run.sh: wrote docs/perf-issuance.png" >&2
  if [ "$json" = 1 ]; then out+=("\"issue\":$(cat "$issue_json")"); else
    echo "(benchmark 1 ran as JSON for the plot:)"; cat "$issue_json"; echo; fi
else
  one issue "$build/bench_sp" issue "${sp_args[@]}"
fi
one sign "$build/bench_sp" sign "${sp_args[@]}"
one sign_pkcs11 "$build/bench_p11" "${p11_args[@]}"
# Benchmark 3 also drives a provd whose signer key is in a SoftHSM token, when SoftHSM and
# OpenSSL's pkcs11 provider are installed (scripts/deps.d/hsm.txt): file key vs token, same run.
if command -v softhsm2-util >/dev/null && command -v pkcs11-tool >/dev/null &&
   [ -r /usr/lib/softhsm/libsofthsm2.so ] && dpkg-query -W pkcs11-provider >/dev/null 2>&1; then
  hsm_dir=$(mktemp -d "${TMPDIR:-/tmp}/bench-hsm-XXXXXX")
  eval "$("$here/hsm-token.sh" "$hsm_dir")"
  ca_args+=(--signer-key "$SIGNER_URI")
fi
if command -v cfssl >/dev/null; then
  one ca "$build/bench_ca" "${ca_args[@]}"
else
  echo "run.sh: cfssl is not installed (scripts/deps.sh): benchmark 3 skipped" >&2
fi
one memory_spd "$build/bench_mem" "${mem_args[@]}"
[ "$do_fleet" = 1 ] && one fleet "$build/bench_fleet" "${fleet_args[@]}"

[ -z "${hsm_dir:-}" ] || rm -rf "$hsm_dir"
if [ "$json" = 1 ]; then
  (IFS=,; printf '{%s}\n' "${out[*]}")
fi
