#!/usr/bin/env bash
# Peer benchmark: `cartback train` (logistic regression by L-BFGS, histogram GBDT) against
# scikit-learn LogisticRegression(lbfgs) and LightGBM, with the same splits (exported by
# cartback) and the same encoded features, on
#   1. the UCI online-shoppers data (testdata/), stratified 5-fold, seed 42, GBDT defaults
#      with early stopping on 10 % of each training side;
#   2. a generated 1,000,000-row x 30-feature set, stratified 80/20 hold-out, 200 trees,
#      learning rate 0.1, no early stopping (the same amount of work on both sides).
# Prints ROC-AUC difference and training-time ratio (fit time only) for each pair.
# scikit-learn, LightGBM, numpy and pandas are installed into benches/.venv on first use.
# Usage: [CARTBACK_BIN=…] benches/peers/propensity.sh [--skip-large]
set -euo pipefail
root="$(cd "$(dirname "$0")/../.." && pwd)"
cd "$root"
skip_large="${1:-}"

venv="$root/benches/.venv"
if [[ ! -x "$venv/bin/python" ]]; then
  python3 -m venv "$venv"
fi
if ! "$venv/bin/python" -c "import sklearn, lightgbm, pandas, numpy" 2>/dev/null; then
  "$venv/bin/pip" install -q scikit-learn lightgbm pandas numpy
fi
python="$venv/bin/python"

# CARTBACK_BIN=path/to/cartback skips the build (e.g. to benchmark a binary built earlier).
cartback="${CARTBACK_BIN:-}"
if [[ -z "$cartback" ]]; then
  cargo build --release -q -p cartback
  cartback="${CARGO_TARGET_DIR:-$root/target}/release/cartback"
fi
work="${PROPENSITY_BENCH_DIR:-${TMPDIR:-/tmp}/cartback-propensity-bench}"
mkdir -p "$work"
results="$work/results.jsonl"
: > "$results"

# run_pair NAME DATA LABEL EVAL_ARGS GBDT_ARGS PEER_ARGS
run_pair() {
  local name="$1" data="$2" label="$3" eval_args="$4" gbdt_args="$5" peer_args="$6"
  echo "== $name: cartback" >&2
  # shellcheck disable=SC2086
  "$cartback" train --data "$data" --label "$label" --model logistic $eval_args \
    --export-splits "$work/$name.splits.csv" --json > "$work/$name.logistic.json"
  # shellcheck disable=SC2086
  "$cartback" train --data "$data" --label "$label" --model gbdt $eval_args $gbdt_args \
    --json > "$work/$name.gbdt.json"
  echo "== $name: scikit-learn and LightGBM" >&2
  # shellcheck disable=SC2086
  "$python" "$root/benches/peers/propensity_peers.py" --data "$data" --label "$label" \
    --splits "$work/$name.splits.csv" --name "$name" \
    --cartback-logistic "$work/$name.logistic.json" --cartback-gbdt "$work/$name.gbdt.json" \
    --results "$results" $peer_args
}

run_pair online-shoppers "$root/testdata/online_shoppers_intention.csv" Revenue \
  "--folds 5 --seed 42" "" ""

if [[ "$skip_large" != "--skip-large" ]]; then
  synthetic="$work/synthetic_1m_x30.csv"
  if [[ ! -f "$synthetic" ]]; then
    echo "== generating $synthetic" >&2
    "$python" "$root/benches/peers/make_synthetic.py" "$synthetic"
  fi
  run_pair synthetic-1m "$synthetic" label \
    "--test-fraction 0.2 --seed 42" \
    "--trees 200 --learning-rate 0.1 --validation-fraction 0" \
    "--trees 200 --learning-rate 0.1 --validation-fraction 0"
fi

"$python" - "$results" <<'PY'
import json, sys
rows = [json.loads(line) for line in open(sys.argv[1])]
print(f"{'dataset':<16} {'model':<9} {'peer':<40} {'AUC cartback':>12} {'AUC peer':>9} {'ΔAUC':>8} "
      f"{'s cartback':>10} {'s peer':>8} {'time ratio':>10}")
for r in rows:
    print(f"{r['dataset']:<16} {r['model']:<9} {r['peer']:<40} {r['cartback_auc']:>12.4f} {r['peer_auc']:>9.4f} "
          f"{r['auc_difference']:>+8.4f} {r['cartback_seconds']:>10.2f} {r['peer_seconds']:>8.2f} {r['time_ratio']:>10.2f}")
print("targets: |ΔAUC| <= 0.003; time ratio <= 0.5 vs scikit-learn logistic, <= 1.0 vs LightGBM (1M rows)")
PY
