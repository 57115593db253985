#!/usr/bin/env bash
# IMAPCopy vs mbsync (isync) on the same generated mailbox, side by side. See bench/README.md.
#
#   bench/run.sh                                   # defaults below, about 2 minutes
#   BENCH_MESSAGES=500 BENCH_REPEAT=1 bench/run.sh # quick
#
# Environment (all optional):
#   BENCH_MESSAGES (2000)  BENCH_FOLDERS (20)  BENCH_BIG (5 messages of 2 MB)  BENCH_SEED (42)
#   BENCH_CONNECTIONS ("1 4": one imapcopy variant per value; 4 is imapcopy's default)
#   BENCH_REPEAT (3: first runs per tool, each into a fresh destination account; the table
#                 shows the median, the order of the tools rotates between repetitions)
#   BENCH_RERUN (1: then run every tool a second time into its first destination)
#   BENCH_TIMEOUT (600 seconds per tool run)   BENCH_KEEP (0; 1 keeps the temp dir)
#   BENCH_WIPE (1: empty each destination once it is checked; 0 keeps them)
#   BENCH_RTT_MS (0; e.g. 40 puts both servers behind a proxy adding that round-trip time,
#                 20 ms each way: `testkit delay-proxy`, threads and a queue per direction)
#   BENCH_VIA_PROXY (0; 1 goes through that proxy even at BENCH_RTT_MS=0: the baseline that
#                 carries the proxy's own cost)
#   BENCH_TMPFS (0; 1 runs everything in a private mount namespace with a tmpfs on /tmp, so
#                that the servers' fsyncs do not wait for a disk shared with other work; root)
#   IMAPCOPY_BIN, TESTKIT_BIN, MBSYNC_BIN (target/release/imapcopy, target/debug/testkit, mbsync)
# Output: the table on stdout and in bench/results/latest.md, raw rows in
# bench/results/latest.jsonl, the tools' output in bench/results/logs/. Exit 1 if a first run
# (or any mbsync run) failed or left a destination that differs from the source.
set -euo pipefail

BENCH_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
ROOT=$(cd "$BENCH_DIR/.." && pwd)
LIB="$BENCH_DIR/benchlib.py"
MESSAGES=${BENCH_MESSAGES:-2000}
FOLDERS=${BENCH_FOLDERS:-20}
BIG=${BENCH_BIG:-5}
SEED=${BENCH_SEED:-42}
CONNECTIONS=${BENCH_CONNECTIONS:-1 4}
REPEAT=${BENCH_REPEAT:-3}
RERUN=${BENCH_RERUN:-1}
RUN_TIMEOUT=${BENCH_TIMEOUT:-600}
RTT_MS=${BENCH_RTT_MS:-0}
VIA_PROXY=${BENCH_VIA_PROXY:-0}
KEEP=${BENCH_KEEP:-0}
WIPE=${BENCH_WIPE:-1}
IMAPCOPY=${IMAPCOPY_BIN:-$ROOT/target/release/imapcopy}
TESTKIT=${TESTKIT_BIN:-$ROOT/target/debug/testkit}
MBSYNC=${MBSYNC_BIN:-mbsync}
PASSWORD=bench-secret
DOMAIN=bench.test
RESULTS_DIR="$BENCH_DIR/results"

log() { printf '[bench %s] %s\n' "$(date +%H:%M:%S)" "$*" >&2; }
die() { log "error: $*"; exit 1; }

[[ $REPEAT =~ ^[1-9][0-9]*$ ]] || die "BENCH_REPEAT must be a positive number"
[[ $RTT_MS =~ ^[0-9]+(\.[0-9]+)?$ ]] || die "BENCH_RTT_MS must be a number of milliseconds"
for c in $CONNECTIONS; do
    [[ $c =~ ^[1-9][0-9]*$ ]] || die "BENCH_CONNECTIONS: $c is not a positive number"
done

if [[ ${BENCH_TMPFS:-0} == 1 && -z ${BENCH_IN_TMPFS_NS:-} ]]; then
    command -v unshare >/dev/null || die "BENCH_TMPFS=1 needs unshare (util-linux)"
    log "BENCH_TMPFS=1: continuing in a private mount namespace with a tmpfs on /tmp"
    exec unshare --mount --propagation private -- env BENCH_IN_TMPFS_NS=1 bash "$0" "$@"
fi
STORAGE="disk ($(df --output=source /tmp | tail -1))"
if [[ -n ${BENCH_IN_TMPFS_NS:-} ]]; then
    # Only this process tree sees it; it disappears with the namespace.
    mount -t tmpfs -o "size=${BENCH_TMPFS_SIZE:-4g},mode=1777" tmpfs /tmp || die "mounting a tmpfs on /tmp failed"
    STORAGE="tmpfs (private mount namespace)"
fi
io_pressure() { awk '/^some/ { sub("avg60=", "", $3); print $3 }' /proc/pressure/io 2>/dev/null || echo "?"; }
IO_START=$(io_pressure)
LOAD_START=$(cut -d" " -f1-3 /proc/loadavg)
WORK=$(mktemp -d /tmp/imapcopy-bench.XXXXXX)
chmod 700 "$WORK"
TESTKIT_PID=
PROXY_PID=

cleanup() {
    local rc=$?
    trap - EXIT INT TERM
    if [[ -n $PROXY_PID ]]; then
        kill -TERM "$PROXY_PID" 2>/dev/null || true
        wait "$PROXY_PID" 2>/dev/null || true
    fi
    if [[ -n $TESTKIT_PID ]] && kill -0 "$TESTKIT_PID" 2>/dev/null; then
        kill -TERM "$TESTKIT_PID" 2>/dev/null || true
        # testkit stops both Dovecots (SIGKILL after 5 s each) and removes their dirs.
        for _ in $(seq 1 150); do
            kill -0 "$TESTKIT_PID" 2>/dev/null || break
            sleep 0.1
        done
        if kill -0 "$TESTKIT_PID" 2>/dev/null; then
            log "testkit did not stop in 15 s: SIGKILL (its watchdog removes the servers)"
            kill -KILL "$TESTKIT_PID" 2>/dev/null || true
        fi
        wait "$TESTKIT_PID" 2>/dev/null || true
    fi
    if [[ $KEEP == 1 ]]; then
        log "kept $WORK"
    else
        rm -rf "$WORK"
    fi
    exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

# --- binaries -------------------------------------------------------------------------------
command -v "$MBSYNC" >/dev/null || die "mbsync not found (apt-get install isync)"
[[ -x /usr/bin/time ]] || die "/usr/bin/time not found (apt-get install time)"
if ! "$IMAPCOPY" copy --help >/dev/null 2>&1; then
    log "building imapcopy (release): $IMAPCOPY missing or without the copy command"
    (cd "$ROOT" && cargo build -p imapcopy --release) || die "cargo build -p imapcopy --release failed"
fi
# Measure one fixed binary even if target/ is rebuilt meanwhile.
cp "$IMAPCOPY" "$WORK/imapcopy"
IMAPCOPY_SRC=$IMAPCOPY
IMAPCOPY="$WORK/imapcopy"
# Which imapcopy was measured (the binary may be rebuilt from a working tree with changes).
BINARY="$IMAPCOPY_SRC, sha256 $(sha256sum "$IMAPCOPY" | cut -c1-12), built $(date -u -r "$IMAPCOPY_SRC" '+%Y-%m-%d %H:%M UTC') (copied at the start of the run)"
if HEAD=$(git -C "$ROOT" rev-parse --short HEAD 2>/dev/null); then
    BINARY="$BINARY; source tree at the start: HEAD $HEAD"
    if [[ -n $(git -C "$ROOT" --no-optional-locks status --porcelain -- server Cargo.toml Cargo.lock 2>/dev/null) ]]; then
        BINARY="$BINARY, with uncommitted changes under server/ (the binary may contain them)"
    fi
fi
if [[ ! -x $TESTKIT ]]; then
    log "building testkit"
    (cd "$ROOT" && cargo build -p testkit --bin testkit) || die "cargo build -p testkit failed"
fi

# --- servers and accounts -------------------------------------------------------------------
SRC_IC="src-imapcopy@$DOMAIN"
SRC_MB="src-mbsync@$DOMAIN"
dst_ic() { echo "dst-imapcopy-c$1-r$2@$DOMAIN"; } # CONNECTIONS REPETITION
dst_mb() { echo "dst-mbsync-r$1@$DOMAIN"; }       # REPETITION
users=(--user "$SRC_IC:$PASSWORD" --user "$SRC_MB:$PASSWORD")
for r in $(seq 1 "$REPEAT"); do
    users+=(--user "$(dst_mb "$r"):$PASSWORD")
    for c in $CONNECTIONS; do
        users+=(--user "$(dst_ic "$c" "$r"):$PASSWORD")
    done
done
STATE="$WORK/state.json"
log "starting testkit serve with $((${#users[@]} / 2)) users (Slash = source, Dot = destination)"
"$TESTKIT" serve --state-file "$STATE" "${users[@]}" >"$WORK/testkit.out" 2>"$WORK/testkit.err" &
TESTKIT_PID=$!
for _ in $(seq 1 900); do
    [[ -s $STATE ]] && grep -q '^ready' "$WORK/testkit.out" && break
    kill -0 "$TESTKIT_PID" 2>/dev/null || { cat "$WORK/testkit.err" >&2; die "testkit exited"; }
    sleep 0.1
done
[[ -s $STATE ]] || { cat "$WORK/testkit.err" >&2; die "testkit not ready after 90 s"; }

st() { python3 -c 'import json,sys; d=json.load(open(sys.argv[1])); print(d[sys.argv[2]][sys.argv[3]])' "$STATE" "$1" "$2"; }
SRC_PORT=$(st slash imaps_port)
DST_PORT=$(st dot imap_port)
SRC_CA=$(st slash ca_pem_path)
DST_CA=$(st dot ca_pem_path)
SRC_PREFIX=$(st slash prefix)
SRC_SEP=$(st slash separator)
DST_PREFIX=$(st dot prefix)
DST_SEP=$(st dot separator)
cat "$SRC_CA" "$DST_CA" >"$WORK/ca-both.pem" # imapcopy takes one --ca-file for both sides

# The two Dovecot masters (children of testkit), to measure the servers' CPU per run.
master_of() { # instance dir -> pid
    local p
    for p in $(ps -o pid= --ppid "$TESTKIT_PID"); do
        [[ $(cat "/proc/$p/comm" 2>/dev/null) == dovecot ]] || continue
        if tr '\0' ' ' <"/proc/$p/cmdline" 2>/dev/null | grep -q -- "-c $1/"; then
            echo "$p"
            return
        fi
    done
}
SRC_MASTER=$(master_of "$(dirname "$(st slash log_path)")")
DST_MASTER=$(master_of "$(dirname "$(st dot log_path)")")
[[ -n $SRC_MASTER && -n $DST_MASTER ]] || die "could not find the Dovecot master processes"
log "source imaps://127.0.0.1:$SRC_PORT (pid $SRC_MASTER), destination imap://127.0.0.1:$DST_PORT STARTTLS (pid $DST_MASTER)"

src_args=(--port "$SRC_PORT" --ca "$SRC_CA" --security imaps --prefix "$SRC_PREFIX" --sep "$SRC_SEP")
dst_args=(--port "$DST_PORT" --ca "$DST_CA" --security starttls --prefix "$DST_PREFIX" --sep "$DST_SEP")
export BENCH_PASSWORD=$PASSWORD

# --- seed -----------------------------------------------------------------------------------
log "seeding $SRC_IC and $SRC_MB: $MESSAGES messages, $FOLDERS folders, $BIG × 2 MB, seed $SEED"
t0=$(date +%s.%N)
timeout 900 python3 "$LIB" seed "${src_args[@]}" --account "$SRC_IC:$PASSWORD" --account "$SRC_MB:$PASSWORD" \
    --messages "$MESSAGES" --folders "$FOLDERS" --big "$BIG" --seed "$SEED" >&2
SEED_SECONDS=$(awk -v a="$(date +%s.%N)" -v b="$t0" 'BEGIN { printf "%.1f", a - b }')
timeout 300 python3 "$LIB" snapshot "${src_args[@]}" --user "$SRC_IC" >"$WORK/src-imapcopy.json"
timeout 300 python3 "$LIB" snapshot "${src_args[@]}" --user "$SRC_MB" >"$WORK/src-mbsync.json"
python3 "$LIB" compare --strict --label "source $SRC_MB vs $SRC_IC" "$WORK/src-imapcopy.json" "$WORK/src-mbsync.json" >&2 ||
    die "the two source accounts differ"
read -r SRC_MESSAGES SRC_BYTES SRC_FOLDERS < <(python3 -c '
import json, sys
d = json.load(open(sys.argv[1]))["folders"]
print(sum(f["count"] for f in d.values()), sum(m[3] for f in d.values() for m in f["messages"]), len(d))
' "$WORK/src-imapcopy.json")
[[ $SRC_MESSAGES == "$MESSAGES" ]] || die "source holds $SRC_MESSAGES messages, expected $MESSAGES"

# The tools connect to RUN_SRC_PORT / RUN_DST_PORT: the servers, or a delay proxy in front.
RUN_SRC_PORT=$SRC_PORT
RUN_DST_PORT=$DST_PORT
if [[ $RTT_MS != 0 || $VIA_PROXY == 1 ]]; then
    "$TESTKIT" delay-proxy --rtt-ms "$RTT_MS" --ready "$WORK/proxy.ready" "$SRC_PORT" "$DST_PORT" \
        >"$WORK/proxy.log" 2>&1 &
    PROXY_PID=$!
    for _ in $(seq 1 100); do
        [[ -s $WORK/proxy.ready ]] && break
        kill -0 "$PROXY_PID" 2>/dev/null || { cat "$WORK/proxy.log" >&2; die "the delay proxy exited"; }
        sleep 0.1
    done
    [[ -s $WORK/proxy.ready ]] || die "the delay proxy did not start in 10 s"
    RUN_SRC_PORT=$(awk -v t="$SRC_PORT" '$2 == t { print $1 }' "$WORK/proxy.ready")
    RUN_DST_PORT=$(awk -v t="$DST_PORT" '$2 == t { print $1 }' "$WORK/proxy.ready")
    log "delay proxy (+$RTT_MS ms round trip): source via port $RUN_SRC_PORT, destination via $RUN_DST_PORT"
fi

# --- mbsync configuration (one per repetition: its own destination and sync state) ----------
# isync 1.4 (Debian 12) says Far/Near: the source is Far, the destination Near; `Sync Pull`
# propagates Far -> Near and `Create Near` creates the missing destination folders; the
# INTERNALDATE is kept with CopyArrivalDate (imapcopy always keeps it). The TLS option is
# SSLType in 1.4 (1.5 renamed it TLSType). Host is `localhost`: the harness certificates carry
# DNS:localhost and IP:127.0.0.1, and isync 1.4 matches DNS names only ("certificate owner does
# not match hostname 127.0.0.1"); the bench checks that localhost is 127.0.0.1 below.
getent ahostsv4 localhost | grep -q '^127\.0\.0\.1' || die "localhost does not resolve to 127.0.0.1"
mbsyncrc() { # REPETITION
    local f="$WORK/mbsyncrc-r$1"
    mkdir -p "$WORK/mbsync-state-r$1"
    cat >"$f" <<EOF
IMAPAccount src
Host localhost
Port $RUN_SRC_PORT
User $SRC_MB
Pass $PASSWORD
SSLType IMAPS
CertificateFile $SRC_CA

IMAPStore src
Account src

IMAPAccount dst
Host localhost
Port $RUN_DST_PORT
User $(dst_mb "$1")
Pass $PASSWORD
SSLType STARTTLS
CertificateFile $DST_CA

IMAPStore dst
Account dst

Channel bench
Far :src:
Near :dst:
Patterns *
Create Near
Remove None
Expunge None
Sync Pull
CopyArrivalDate yes
SyncState $WORK/mbsync-state-r$1/
EOF
    chmod 600 "$f"
    echo "$f"
}

# --- runs -----------------------------------------------------------------------------------
RESULTS="$WORK/results.jsonl"
FAILED=()
: >"$RESULTS"
mkdir -p "$WORK/logs"

servers_alive() {
    local p
    for p in "$TESTKIT_PID" "$SRC_MASTER" "$DST_MASTER" $PROXY_PID; do
        if ! kill -0 "$p" 2>/dev/null; then
            log "process $p (testkit or a Dovecot master) is gone; testkit stderr:"
            tail -n 20 "$WORK/testkit.err" >&2
            return 1
        fi
    done
}

# run PHASE REPETITION KEY LABEL SOURCE_SNAPSHOT DEST_USER COMMAND...
run() {
    local phase=$1 rep=$2 key=$3 label=$4 src_snap=$5 dst_user=$6
    shift 6
    local out="$WORK/logs/$key-r$rep-$phase.log" snap="$WORK/dst-$key-r$rep.json" before=0 rc=0 t0 t1
    local s0a s0b s1a s1b
    if [[ -f $snap ]]; then
        before=$(python3 -c 'import json,sys; print(sum(f["count"] for f in json.load(open(sys.argv[1]))["folders"].values()))' "$snap")
    fi
    log "$phase run #$rep: $label -> $dst_user"
    read -r s0a s0b < <(python3 "$LIB" cpu "$SRC_MASTER" "$DST_MASTER")
    t0=$(date +%s.%N)
    /usr/bin/time -f '%U %S %M' -o "$WORK/time.txt" timeout --kill-after=10 "$RUN_TIMEOUT" "$@" >"$out" 2>&1 || rc=$?
    t1=$(date +%s.%N)
    sleep 0.5 # let the imap processes exit and be reaped by their master
    read -r s1a s1b < <(python3 "$LIB" cpu "$SRC_MASTER" "$DST_MASTER")
    [[ $rc == 0 ]] || { log "$label exited with $rc:"; tail -n 15 "$out" >&2; }
    servers_alive || die "the test servers stopped during the $phase run of $label"
    timeout 300 python3 "$LIB" snapshot "${dst_args[@]}" --user "$dst_user" >"$snap"
    python3 "$LIB" compare --label "  $label" --out "$WORK/cmp.json" "$src_snap" "$snap" >&2
    # Checked: emptied, so that large mailboxes do not fill the servers' disk (the first
    # repetition's destination is kept for the re-run, then emptied).
    if [[ $WIPE == 1 ]] && { [[ $rep != 1 ]] || [[ $phase == rerun ]] || [[ $RERUN != 1 ]]; }; then
        timeout 300 python3 "$LIB" wipe "${dst_args[@]}" --user "$dst_user" >&2 ||
            log "could not empty $dst_user (disk use grows)"
    fi
    if [[ $phase == first || $label == mbsync ]] && { [[ $rc != 0 ]] || ! grep -q '"ok": true' "$WORK/cmp.json"; }; then
        FAILED+=("$phase run #$rep of $label: exit $rc or destination differs from the source")
    fi
    python3 - "$WORK/cmp.json" "$WORK/time.txt" "$phase" "$rep" "$key" "$label" "$t0" "$t1" "$rc" "$before" \
        "$s0a" "$s0b" "$s1a" "$s1b" >>"$RESULTS" <<'PY'
import json, sys
cmp_path, time_path, phase, rep, key, label, t0, t1, rc, before, s0a, s0b, s1a, s1b = sys.argv[1:]
c = json.load(open(cmp_path))
u, s, rss = open(time_path).read().strip().split("\n")[-1].split()[:3]
print(json.dumps({
    "phase": phase, "rep": int(rep), "key": key, "tool": label, "wall": float(t1) - float(t0),
    "exit": int(rc), "cpu": float(u) + float(s), "rss_kb": int(rss),
    "server_cpu_src": float(s1a) - float(s0a), "server_cpu_dst": float(s1b) - float(s0b),
    "appended": c["dest_messages"] - int(before), "ok": c["ok"], "dest_messages": c["dest_messages"],
    "source_messages": c["source_messages"], "fidelity": c["fidelity"],
    "keyword_messages": c["keyword_messages"], "problems": c["problems"],
}))
PY
}

tool_run() { # PHASE REPETITION TOOL (c<N> | mbsync)
    local phase=$1 rep=$2 tool=$3
    if [[ $tool == mbsync ]]; then
        run "$phase" "$rep" mbsync mbsync "$WORK/src-mbsync.json" "$(dst_mb "$rep")" \
            "$MBSYNC" -c "$WORK/mbsyncrc-r$rep" bench
        return
    fi
    local c=${tool#c} label
    label="imapcopy --connections $c"
    [[ $c == 4 ]] && label="$label (default)"
    IMAPCOPY_FROM_PASSWORD=$PASSWORD IMAPCOPY_TO_PASSWORD=$PASSWORD \
        run "$phase" "$rep" "imapcopy-c$c" "$label" "$WORK/src-imapcopy.json" "$(dst_ic "$c" "$rep")" \
        "$IMAPCOPY" copy --from "imaps://$SRC_IC@127.0.0.1:$RUN_SRC_PORT" \
        --to "imap://$(dst_ic "$c" "$rep")@127.0.0.1:$RUN_DST_PORT" \
        --ca-file "$WORK/ca-both.pem" --connections "$c"
}

tools=()
for c in $CONNECTIONS; do
    tools+=("c$c")
    [[ ${#tools[@]} == 1 ]] && tools+=(mbsync) # mbsync second in the first repetition
done
for r in $(seq 1 "$REPEAT"); do
    mbsyncrc "$r" >/dev/null
    n=${#tools[@]}
    for i in $(seq 0 $((n - 1))); do # rotate the order by one each repetition
        tool_run first "$r" "${tools[$(((i + r - 1) % n))]}"
    done
done
if [[ $RERUN == 1 ]]; then
    for t in "${tools[@]}"; do
        tool_run rerun 1 "$t"
    done
fi

# --- report ---------------------------------------------------------------------------------
mkdir -p "$RESULTS_DIR"
python3 - "$WORK/meta.json" "$IMAPCOPY" "$MBSYNC" "$LOAD_START" "$SRC_MESSAGES" "$SRC_BYTES" "$SRC_FOLDERS" \
    "$SEED" "$BIG" "$SEED_SECONDS" "$REPEAT" "$STORAGE" "$IO_START" "$(io_pressure)" "$BINARY" "$RTT_MS" "$VIA_PROXY" <<'PY'
import json, os, subprocess, sys
(out, imapcopy, mbsync, load, msgs, nbytes, folders, seed, big, seed_s, repeat, storage, io0, io1,
 binary, rtt, via_proxy) = sys.argv[1:]
def ver(cmd):
    try:
        return subprocess.run(cmd, capture_output=True, text=True, timeout=10).stdout.strip().splitlines()[0]
    except Exception:
        return "?"
json.dump({
    "date": subprocess.run(["date", "-u", "+%Y-%m-%d %H:%M UTC"], capture_output=True, text=True).stdout.strip(),
    "host": os.uname().nodename, "cpus": "%s CPUs" % os.cpu_count(),
    "load": load, "load_end": " ".join(open("/proc/loadavg").read().split()[:3]),
    "imapcopy": ver([imapcopy, "--version"]), "mbsync": ver([mbsync, "--version"]),
    "dovecot": ver(["dovecot", "--version"]),
    "source_messages": int(msgs), "source_bytes": int(nbytes), "source_folders": int(folders),
    "seed": int(seed), "big": int(big), "seed_seconds": float(seed_s), "repeat": int(repeat),
    "storage": storage, "io_pressure": "%s%% at start, %s%% at end" % (io0, io1),
    "binary": binary, "rtt_ms": rtt if float(rtt) or via_proxy == "1" else None,
}, open(out, "w"))
PY
python3 "$LIB" report --results "$RESULTS" --meta "$WORK/meta.json" --out "$RESULTS_DIR/latest.md"
variant=""
[[ -n ${BENCH_IN_TMPFS_NS:-} ]] && variant="$variant-tmpfs"
[[ $RTT_MS != 0 || $VIA_PROXY == 1 ]] && variant="$variant-rtt${RTT_MS}ms"
[[ -n $variant ]] && cp "$RESULTS_DIR/latest.md" "$RESULTS_DIR/latest$variant.md"
cp "$RESULTS" "$RESULTS_DIR/latest.jsonl"
rm -rf "$RESULTS_DIR/logs"
cp -r "$WORK/logs" "$RESULTS_DIR/logs"
log "written $RESULTS_DIR/latest.md (tool output in $RESULTS_DIR/logs/)"
if ((${#FAILED[@]})); then
    for f in "${FAILED[@]}"; do log "FAILED: $f"; done
    exit 1
fi
