#!/usr/bin/env bash
# Import throughput: cartback vs pandas on the same 1,000,000 generated events, one core.
#   fold only          parse + validate + dedupe + fold into carts, no store
#   fold + persist     the same, plus writing events and carts into a SQLite file
# Usage: benches/import.sh [EVENTS]   (default 1000000). Needs python3; installs pandas
# into benches/.venv when it is missing. RUNS (default 3) runs of each cartback import are
# made and the fastest is reported (pandas runs once: it takes minutes); on a shared machine
# the CPU-second figures are the meaningful ones.
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

[ -n "${CARTBACK_BIN:-}" ] || cargo build --release --quiet -p cartback
bin="${CARTBACK_BIN:-${CARGO_TARGET_DIR:-target}/release/cartback}"
one_core="taskset -c 0"
command -v taskset >/dev/null || one_core=""

$bin gen-events --events "$events" --seed 42 --out "$work/events.ndjson"
echo "input: $events events, $(du -h "$work/events.ndjson" | cut -f1)"

# Each run prints its JSON on stdout; bash's `time` adds the CPU seconds (user + sys) it
# used, which stay meaningful when other work shares the machine.
TIMEFORMAT='%U %S'
timed() { # timed NAME CMD...: stdout to $work/NAME.json, CPU seconds to $work/NAME.cpu
  local name=$1; shift
  { time "$@" > "$work/$name.json"; } 2> "$work/$name.time"
  tail -n1 "$work/$name.time" | awk '{print $1 + $2}' > "$work/$name.cpu"
}
best() { # best NAME CMD...: RUNS runs of timed, keeping the one with the least CPU time
  local name=$1; shift
  for run in $(seq "${RUNS:-3}"); do
    rm -f "$work"/cartback.db*          # every persisted run starts from a new store
    timed "$name.$run" "$@"
    if [ ! -e "$work/$name.cpu" ] || awk -v a="$(cat "$work/$name.$run.cpu")" -v b="$(cat "$work/$name.cpu")" 'BEGIN { exit !(a < b) }'; then
      cp "$work/$name.$run.json" "$work/$name.json"
      cp "$work/$name.$run.cpu" "$work/$name.cpu"
    fi
  done
}
best fold $one_core $bin import --format ndjson --dry-run --json "$work/events.ndjson"
best persist $one_core $bin import --format ndjson --db "$work/cartback.db" --json "$work/events.ndjson"
timed pandas $one_core "$venv/bin/python" benches/import_pandas.py "$work/events.ndjson" --db "$work/pandas.db"

python3 - "$events" "$work" <<'PY'
import json, sys
n, work = int(sys.argv[1]), sys.argv[2]
load = lambda name: json.load(open(f"{work}/{name}.json"))
cpu = lambda name: float(open(f"{work}/{name}.cpu").read())
fold, persist, pd = load("fold"), load("persist"), load("pandas")
# pandas' fold share of its CPU time, from its own wall-clock split.
pd_fold_cpu = cpu("pandas") * pd["fold_seconds"] / pd["persist_seconds"]
rows = [
    ("fold only", fold["seconds"], pd["fold_seconds"], cpu("fold"), pd_fold_cpu),
    ("fold + SQLite", persist["seconds"], pd["persist_seconds"], cpu("persist"), cpu("pandas")),
]
print(f"{'work':<15}{'cartback ev/s':>14}{'pandas ev/s':>13}{'ratio':>8}   {'cartback ev/CPU-s':>18}{'pandas ev/CPU-s':>16}{'ratio':>8}")
for name, ours, theirs, ours_cpu, theirs_cpu in rows:
    print(f"{name:<15}{n / ours:>14,.0f}{n / theirs:>13,.0f}{theirs / ours:>7.1f}x   "
          f"{n / ours_cpu:>18,.0f}{n / theirs_cpu:>16,.0f}{theirs_cpu / ours_cpu:>7.1f}x")
# Both must have done the same work: the same carts in the same states (pandas' "active" is
# cartback's active + idle: carts with activity in the last 30 minutes).
ours = {k: persist[k] for k in ("abandoned", "purchased", "recovered", "expired")}
ours["active"] = persist["active"] + persist["idle"]
theirs = {k: pd["states"].get(k, 0) for k in ours}
print("cartback carts:", persist["carts"], ours)
print("pandas carts:  ", pd["carts"], theirs)
print("same carts and states" if (persist["carts"], ours) == (pd["carts"], theirs)
      else "WARNING: the two did not find the same carts")
PY
