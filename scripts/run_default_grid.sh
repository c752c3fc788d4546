#!/usr/bin/env bash
# The named default benchmark grid (5 velocity tasks x 6 methods x 5 seeds = 150 runs), then its
# report into docs/results/ (runs.csv, table.md, bars/scatter/curves.png), with the wall time and
# the machine conditions printed and saved beside the runs (OUT/run_info.txt).
#
#   scripts/run_default_grid.sh [OUT] [more `safemil bench` options or overrides]
#
# OUT defaults to runs/bench-default. Re-running the same command continues a killed grid
# (finished runs are skipped, interrupted ones resume); it refuses, before running anything, if a
# run in OUT was made from another version of its dataset file (delete it or choose another OUT).
# Environment: PYTHON (default .venv/bin/python), WORKERS (default 2), GRID (default `default`;
# `smoke` for a one-minute check of this script), REPORT_DIR (default docs/results), MERGE (default
# 1: the report keeps REPORT_DIR/runs.csv's rows of the tasks OUT does not hold, so re-running one
# task, `--tasks T`, replaces that task's rows of the published table; 0: report OUT alone).
set -euo pipefail
cd "$(dirname "$0")/.."
OUT=${1:-runs/bench-default}
shift $(( $# > 0 ? 1 : 0 ))
PY=${PYTHON:-.venv/bin/python}
WORKERS=${WORKERS:-2}
GRID=${GRID:-default}
REPORT_DIR=${REPORT_DIR:-docs/results}
export PYTHONPATH="$PWD/src${PYTHONPATH:+:$PYTHONPATH}"
mkdir -p "$OUT"

info() {
  echo "$1: $(date -u +%FT%TZ)  load average $(cut -d' ' -f1-3 /proc/loadavg)"
}
{
  echo "grid $GRID, $WORKERS workers, out $OUT"
  echo "commit $(git rev-parse --short HEAD 2>/dev/null || echo unknown)$(git diff --quiet 2>/dev/null || echo ' (+ uncommitted changes)')"
  echo "cpu $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2- | xargs), $(nproc --all) cores, $(free -g | awk '/Mem:/ {print $2}') GiB RAM"
  echo "kernels: $("$PY" -c 'from safemil.cpu_kernels import avx2_pinned; print("AVX2 (pinned, docs/reproducibility.md)" if avx2_pinned() else "the CPU native ones (no AVX2 pins)")')"
  info start
} | tee "$OUT/run_info.txt"

t0=$(date +%s)
status=0
"$PY" -m safemil bench --grid "$GRID" --workers "$WORKERS" --out "$OUT" "$@" || status=$?
t1=$(date +%s)
{
  info end
  echo "grid wall time: $((t1 - t0)) s ($(( (t1 - t0 + 30) / 60 )) min), safemil bench exit status $status"
} | tee -a "$OUT/run_info.txt"

if (( status > 1 )); then  # 1: the grid ran but some cells failed (listed above); else it did not run
  echo "the grid did not run (see the error above): $REPORT_DIR left as it was" >&2
  exit "$status"
fi
SOURCES=()
if [[ "${MERGE:-1}" == 1 && -f "$REPORT_DIR/runs.csv" ]]; then
  SOURCES+=("$REPORT_DIR/runs.csv")
fi
"$PY" -m safemil report "${SOURCES[@]}" "$OUT" --csv "$REPORT_DIR/runs.csv" --markdown "$REPORT_DIR/table.md" \
  --plots "$REPORT_DIR"
exit "$status"
