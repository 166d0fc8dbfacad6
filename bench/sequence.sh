#!/usr/bin/env bash
# Every benchmark, one after another, as docs/performance.md's results are measured:
#
#     bash bench/sequence.sh OUT [P100K P1M]      # projects made by bench/gen.py
#     ROUNDS=3 BIG_ROUNDS=1 bash bench/sequence.sh /tmp/seq /tmp/tf-100k /tmp/tf-1m
#
# Each step's exact command, its start and end (UTC), the load average before it,
# and its output go to OUT/NN-name.txt; OUT/summary.txt lists the steps. Projects
# that do not exist yet are made first with bench/gen.py (not timed; a million
# customers takes several minutes). A step that fails is recorded and the sequence
# goes on. ROUNDS (default 5) is the rounds of the fast steps; BIG_ROUNDS (default 3)
# those at a million customers and the imports. Run it on a machine left alone: the
# ratios inside each step are interleaved, but the figures between steps are only
# comparable when nothing else ran.
set -uo pipefail
cd "$(dirname "$0")/.."

out=${1:?usage: bash bench/sequence.sh OUT [P100K P1M]}
p100k=${2:-/tmp/tf-100k}
p1m=${3:-/tmp/tf-1m}
rounds=${ROUNDS:-5}
big=${BIG_ROUNDS:-3}
py=${PYTHON:-python3}
mkdir -p "$out"
: >"$out/summary.txt"

for pair in "100000 $p100k" "1000000 $p1m"; do
    set -- $pair
    [ -f "$2/touchflow.yaml" ] || "$py" bench/gen.py --customers "$1" --out "$2" >/dev/null
done

n=0
step() {
    local name=$1
    shift
    n=$((n + 1))
    local file
    file=$(printf '%s/%02d-%s.txt' "$out" "$n" "$name")
    {
        echo "command: $*"
        echo "load before: $(cut -d' ' -f1-3 /proc/loadavg)"
        echo "start: $(date -u +%FT%TZ)"
    } >"$file"
    "$@" >>"$file" 2>&1
    local rc=$?
    echo "end: $(date -u +%FT%TZ) exit $rc" >>"$file"
    printf '%02d %-18s exit %s  %s\n' "$n" "$name" "$rc" "$*" | tee -a "$out/summary.txt"
}

step startup "$py" bench/startup.py --rounds "$rounds"
step planner-100k "$py" bench/planner.py --project "$p100k" --rounds "$rounds"
step planner-1m "$py" bench/planner.py --project "$p1m" --rounds "$big"
step pipeline "$py" bench/planner.py --project "$p1m" --pipeline --rounds "$big"
step daemon-plan "$py" bench/daemon_plan.py --project "$p100k" --project "$p1m" --days 2,30 --rounds "$big"
step preview "$py" bench/preview.py --project "$p100k" --rounds "$big"
step render "$py" bench/render.py --rounds "$rounds"
step compose "$py" bench/compose.py --rounds "$rounds"
step dispatch "$py" bench/dispatch.py --n 20000 --rounds "$rounds"
step crash-cost "$py" bench/crash_cost.py --n 100000 --rounds "$rounds"
step import "$py" bench/import_memory.py --customers 1000000 --rounds "$big"
step daemon-memory "$py" bench/daemon_memory.py --project "$p1m"
