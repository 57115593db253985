#!/usr/bin/env bash
# `make bench`: bench/run.sh (imapcopy and mbsync side by side, same servers, same run) for
# each mailbox size and each link, then one summary table with the ratios. Not part of
# `make test`: these are figures, not pass/fail timings (a run still fails if a destination
# differs from its source).
#
#   bench/matrix.sh                                   # 2000 and 10000 messages, 4 links
#   BENCH_SIZES=2000 BENCH_LINKS="0 40" bench/matrix.sh
#
#   BENCH_SIZES ("2000 10000")   BENCH_LINKS ("direct 0 40 100": direct = loopback without a
#                 proxy; a number = through `testkit delay-proxy` adding that round trip per
#                 side, half each way: 0 is the baseline carrying the proxy's own cost)
#   BENCH_REPEAT_SMALL (3) / BENCH_REPEAT_LARGE (1): first runs per tool for sizes up to /
#                 above 2000 messages (the median is reported)
#   Other BENCH_* variables go through to bench/run.sh (BENCH_TMPFS=1 recommended as root).
# Output: bench/results/matrix.md (summary) and bench/results/matrix-<size>-<link>.md (each run).
set -euo pipefail
DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
SIZES=${BENCH_SIZES:-2000 10000}
LINKS=${BENCH_LINKS:-direct 0 40 100}
RESULTS="$DIR/results"
mkdir -p "$RESULTS"
runs=()
failed=0
for n in $SIZES; do
    [[ $n =~ ^[1-9][0-9]*$ ]] || { echo "BENCH_SIZES: $n is not a number" >&2; exit 2; }
    repeat=${BENCH_REPEAT_SMALL:-3}
    ((n > 2000)) && repeat=${BENCH_REPEAT_LARGE:-1}
    for link in $LINKS; do
        case $link in
        direct) rtt=0 via=0 ;;
        *) [[ $link =~ ^[0-9]+$ ]] || { echo "BENCH_LINKS: $link is neither direct nor a number" >&2; exit 2; }
           rtt=$link via=1 ;;
        esac
        echo "[matrix $(date +%H:%M:%S)] $n messages, link $link ($repeat repetitions)" >&2
        if BENCH_MESSAGES=$n BENCH_REPEAT=$repeat BENCH_CONNECTIONS=${BENCH_CONNECTIONS:-4} \
            BENCH_RTT_MS=$rtt BENCH_VIA_PROXY=$via "$DIR/run.sh" >/dev/null; then :; else failed=1; fi
        cp "$RESULTS/latest.md" "$RESULTS/matrix-$n-$link.md"
        cp "$RESULTS/latest.jsonl" "$RESULTS/matrix-$n-$link.jsonl"
        runs+=("$n:$link:$RESULTS/matrix-$n-$link.jsonl")
    done
done
python3 "$DIR/benchlib.py" matrix --out "$RESULTS/matrix.md" "${runs[@]}"
exit $failed
