#!/usr/bin/env bash
# Peer benchmark: `cartback uplift` (T-, X- and DR-learners on GBDT and on logistic/ridge)
# against scikit-uplift's ClassTransformation, SoloModel and TwoModels (LightGBM; and a
# logistic TwoModels) on the Hillstrom e-mail RCT: `Womens E-Mail` vs `No E-Mail`, outcome
# `visit`, features all columns but `segment`, `visit`, `conversion` and `spend`; one 50/50
# split stratified by (treatment, outcome), seed 42, made by cartback and exported
# (`--export-split`) so every model trains and is scored on exactly the same rows.
# Prints uplift@10/20/30 %, Qini coefficient, AUUC, fit+predict seconds and ratios, and checks
# that sklift's metric functions give cartback's numbers on cartback's own predictions.
# scikit-uplift, scikit-learn, LightGBM, pandas and numpy are installed into benches/.venv on
# first use. Usage: [CARTBACK_BIN=…] [HILLSTROM=path/to/hillstrom.csv] benches/peers/uplift.sh
set -euo pipefail
root="$(cd "$(dirname "$0")/../.." && pwd)"
cd "$root"

data="${HILLSTROM:-$root/../shared/data/hillstrom/hillstrom.csv}"
if [[ ! -f "$data" ]]; then
  echo "no Hillstrom data at $data (set HILLSTROM=…)" >&2
  exit 1
fi

venv="$root/benches/.venv"
if [[ ! -x "$venv/bin/python" ]]; then
  python3 -m venv "$venv"
fi
if ! "$venv/bin/python" -c "import sklift, sklearn, lightgbm, pandas, numpy" 2>/dev/null; then
  "$venv/bin/pip" install -q scikit-uplift scikit-learn lightgbm pandas numpy
fi
python="$venv/bin/python"

# CARTBACK_BIN=path/to/cartback skips the build (e.g. to benchmark a binary built earlier).
cartback="${CARTBACK_BIN:-}"
if [[ -z "$cartback" ]]; then
  cargo build --release -q -p cartback
  cartback="${CARGO_TARGET_DIR:-$root/target}/release/cartback"
fi
work="${UPLIFT_BENCH_DIR:-${TMPDIR:-/tmp}/cartback-uplift-bench}"
mkdir -p "$work"

experiment=(--data "$data" --treatment segment --treated "Womens E-Mail" --control "No E-Mail"
  --outcome visit --exclude conversion,spend --test-fraction 0.5 --seed 42)
peer_args=()
for base in gbdt logistic; do
  for learner in t x dr; do
    name="$learner-$base"
    echo "== cartback uplift --learner $learner --base $base" >&2
    "$cartback" uplift "${experiment[@]}" --learner "$learner" --base "$base" --json \
      --export-split "$work/split.csv" --export-scores "$work/$name.scores.csv" \
      > "$work/$name.json"
    peer_args+=(--cartback "$name=$work/$name.json:$work/$name.scores.csv")
  done
done

echo "== scikit-uplift on the same split" >&2
"$python" "$root/benches/peers/uplift_peer.py" --data "$data" --split "$work/split.csv" \
  --treatment segment --treated "Womens E-Mail" --control "No E-Mail" --outcome visit \
  --exclude conversion,spend --seed 42 "${peer_args[@]}"
