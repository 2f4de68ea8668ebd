#!/usr/bin/env bash
# Peer benchmark: `cartback ope` against Open Bandit Pipeline 0.4.1 on the same 10,000-row
# Open Bandit Dataset log (uniform-random policy, "all" campaign), evaluating the
# Bernoulli-TS policy of the reference file, six estimators, 1,000 bootstrap resamples.
#
# Prints both tools' estimates (they must agree to 1e-9), their wall times and the ratio.
# obp is installed into benches/.venv on first use (it pulls torch: a large download).
# Usage: benches/peers/ope.sh [BOOTSTRAP_SAMPLES]   (default 1000)
set -euo pipefail
root="$(cd "$(dirname "$0")/../.." && pwd)"
cd "$root"
samples="${1:-1000}"
log="$root/../shared/data/obd/random/all.csv"
reference="$root/../shared/data/obd/obp_reference_all.json"
if [[ ! -f "$log" ]]; then
  # Fall back to the copies committed under testdata/.
  log="$root/testdata/obd-random-all.csv"
  reference="$root/testdata/obd-obp-reference-all.json"
fi
[[ -f "$log" && -f "$reference" ]] || { echo "OBD log or reference file absent" >&2; exit 1; }

venv="$root/benches/.venv"
if [[ ! -x "$venv/bin/python" ]]; then
  python3 -m venv "$venv"
fi
if ! "$venv/bin/python" -c "import obp" 2>/dev/null; then
  "$venv/bin/pip" install -q "obp==0.4.1"
fi

cargo build --release -q -p cartback
target="${CARGO_TARGET_DIR:-$root/target}"
cartback="$target/release/cartback"

echo "log: $log ($(($(wc -l < "$log") - 1)) rounds), bootstrap samples: $samples"
obp_json="$("$venv/bin/python" "$root/benches/peers/ope_obp.py" "$log" "$reference" "$samples" 12345)"

best=""
for _ in 1 2 3; do
  start=$(date +%s.%N)
  cartback_json="$("$cartback" ope --log "$log" --format obd --eval-policy "$reference" \
    --reward-model "$reference" --bootstrap "$samples" --seed 12345 --json)"
  end=$(date +%s.%N)
  elapsed=$(python3 -c "print($end - $start)")
  if [[ -z "$best" ]] || python3 -c "import sys; sys.exit(0 if $elapsed < $best else 1)"; then
    best="$elapsed"
  fi
done

OBP="$obp_json" CARTBACK="$cartback_json" BEST="$best" python3 - <<'PY'
import json, os
obp = json.loads(os.environ["OBP"])
cb = json.loads(os.environ["CARTBACK"])
best = float(os.environ["BEST"])
print(f"{'estimator':<15} {'obp':>22} {'cartback':>22} {'|diff|':>9}   obp CI / cartback CI")
worst = 0.0
for name, value in obp["estimates"].items():
    mine = cb["estimates"][name]
    worst = max(worst, abs(mine - value))
    o, c = obp["intervals"][name], cb["intervals"][name]
    print(f"{name:<15} {value:>22.18f} {mine:>22.18f} {abs(mine - value):>9.1e}   "
          f"[{o['low']:.5f}, {o['high']:.5f}] / [{c['low']:.5f}, {c['high']:.5f}]")
print(f"largest estimate difference: {worst:.2e} ({'equal to 1e-9' if worst <= 1e-9 else 'DIFFERENT'})")
s = obp["seconds"]
obp_work = s["load"] + s["estimates"] + s["bootstrap"]
print(f"obp 0.4.1: import {s['import']:.2f} s, load {s['load']:.3f} s, "
      f"estimates {s['estimates']:.3f} s, bootstrap {s['bootstrap']:.3f} s")
print(f"cartback ope (whole process: read CSV + JSON, estimates, bootstrap), best of 3: {best:.3f} s")
print(f"ratio obp (load + estimates + bootstrap, import excluded) / cartback: {obp_work / best:.1f}x")
print(f"ratio obp (estimates + bootstrap only) / cartback whole process: "
      f"{(s['estimates'] + s['bootstrap']) / best:.1f}x")
PY
