#!/usr/bin/env bash
# Import throughput: cartback vs pandas on the same 1,000,000 generated events, one core.
#   fold only          parse + validate + dedupe + fold into carts, no store
#   fold + persist     the same, plus writing events and carts into a SQLite file
# Usage: benches/import.sh [EVENTS]   (default 1000000). Needs python3; installs pandas
# into benches/.venv when it is missing.
set -euo pipefail
cd "$(dirname "$0")/.."
events="${1:-1000000}"
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT

venv=benches/.venv
if ! "$venv/bin/python" -c 'import pandas' 2>/dev/null; then
  python3 -m venv "$venv"
  "$venv/bin/pip" install --quiet pandas numpy
fi

cargo build --release --quiet -p cartback
bin=target/release/cartback
one_core="taskset -c 0"
command -v taskset >/dev/null || one_core=""

$bin gen-events --events "$events" --seed 42 --out "$work/events.ndjson"
echo "input: $events events, $(du -h "$work/events.ndjson" | cut -f1)"

fold_json=$($one_core $bin import --format ndjson --dry-run --json "$work/events.ndjson")
persist_json=$($one_core $bin import --format ndjson --db "$work/cartback.db" --json "$work/events.ndjson")
pandas_json=$($one_core "$venv/bin/python" benches/import_pandas.py "$work/events.ndjson" --db "$work/pandas.db")

python3 - "$events" "$fold_json" "$persist_json" "$pandas_json" <<'PY'
import json, sys
n = int(sys.argv[1])
fold, persist, pd = (json.loads(x) for x in sys.argv[2:5])
rows = [
    ("fold only", fold["seconds"], pd["fold_seconds"]),
    ("fold + SQLite", persist["seconds"], pd["persist_seconds"]),
]
print(f"{'work':<16}{'cartback ev/s':>15}{'pandas ev/s':>14}{'speed-up':>10}")
for name, ours, theirs in rows:
    print(f"{name:<16}{n / ours:>15,.0f}{n / theirs:>14,.0f}{theirs / ours:>9.1f}x")
print("cartback carts:", {k: persist[k] for k in ("carts", "abandoned", "purchased", "recovered")})
print("pandas carts:  ", pd["carts"], pd["states"])
PY
