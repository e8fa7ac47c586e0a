"""Instructions per proxied call, and where they go: devmesh under callgrind in front of a gRPC server.

    .venv/bin/python Benchmarks/Profile/callgrind_calls.py [--mode grpc|h2] [--rate RPS] [--top 25] [--bin PATH]
                                                           [--out DIR]

Runs devmesh (one worker) under `valgrind --tool=callgrind` in front of the integration tests'
grpcio echo server, drives it with h2load (4 connections × 32 streams) twice, with 2,000 and
8,000 calls, and divides the difference by 6,000: start-up, connection set-up and shutdown
cancel out, and what is left is the steady-state cost of one call. `--mode grpc` sends a unary
call with a 100-byte message; `--mode h2` a bare POST (the HTTP/2 path without gRPC's headers
and trailers). The per-function table is the same difference, function by function (self cost).

Instruction counts are repeatable to about ±60 per call on a busy machine, unlike CPU time, so
this is the tool for judging a change to the HTTP/2 path; CPU time per call still comes from the
system benchmark (S6), since callgrind sees neither the kernel nor cache misses.

valgrind 3.19 cannot read the DWARF 5 that Swift 6 emits, so a copy without debug info is
profiled (function names come from the symbol table).

`--rate RPS` paces the calls (h2load's open loop, RPS spread over the 4 connections) instead of
sending the next as soon as one finishes. Under callgrind a closed loop batches dozens of calls per
loop turn, which hides what each turn costs; at a low rate every call has its turns to itself,
as at S6's fixed-rate points, so the count includes the wake-ups' share.
"""

from __future__ import annotations

import argparse
import re
import signal
import struct
import subprocess
import sys
import tempfile
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO / "Tests" / "integration"))
from grpc_support.server import EchoServer  # noqa: E402  (the path is set just above)

SMALL, LARGE = 2000, 8000


def grpc_request_body(payload_bytes: int = 100) -> bytes:
    """One length-prefixed gRPC message: protobuf field 1 (bytes) holding `payload_bytes` bytes."""
    message = b"\x0a" + bytes([payload_bytes]) + b"x" * payload_bytes
    return b"\x00" + struct.pack(">I", len(message)) + message


def profile(binary: Path, server: EchoServer, calls: int, mode: str, out: Path, body: Path,
            rate: float | None) -> Path:
    """One callgrind run of `calls` calls; returns the callgrind output file."""
    result = out / f"callgrind.{mode}.{calls}"
    proxy = subprocess.Popen(["valgrind", "--tool=callgrind", f"--callgrind-out-file={result}", str(binary),
                              "proxy", "--listen", "127.0.0.1:0", "--baseline", server.address, "--workers", "1"],
                             stderr=subprocess.PIPE, text=True)
    try:
        port = None
        while port is None:
            line = proxy.stderr.readline()
            if not line:
                raise SystemExit("devmesh exited before listening")
            found = re.search(r"listening on 127\.0\.0\.1:(\d+)", line)
            port = found.group(1) if found else None
        argv = ["h2load", "-n", str(calls), "-c", "4", "-m", "32",
                f"http://127.0.0.1:{port}/devmesh.test.Echo/Unary", "-d", str(body)]
        if mode == "grpc":
            argv += ["-H", "content-type: application/grpc", "-H", "te: trailers"]
        if rate is not None:
            argv.append(f"--rps={rate / 4:g}")
        load = subprocess.run(argv, capture_output=True, text=True, timeout=600 + (calls / rate if rate else 0))
        done = re.search(r"requests: \d+ total, \d+ started, (\d+) done", load.stdout)
        if not done or int(done.group(1)) != calls:
            raise SystemExit(f"h2load did not finish its {calls} calls:\n{load.stdout[-600:]}")
    finally:
        proxy.send_signal(signal.SIGTERM)
        proxy.wait(120)
    return result


def self_costs(callgrind_file: Path) -> tuple[int, dict[str, int]]:
    """(program total, self instructions per function) from callgrind_annotate."""
    text = subprocess.run(["callgrind_annotate", "--inclusive=no", "--threshold=100", str(callgrind_file)],
                          capture_output=True, text=True, check=True).stdout
    total = int(re.search(r"([\d,]+)\s+\(100\.0%\)\s+PROGRAM TOTALS", text).group(1).replace(",", ""))
    costs: dict[str, int] = {}
    for line in text.splitlines():
        row = re.match(r"\s*([\d,]+)\s+\([^)]*\)\s+(.*)", line)
        if row and "PROGRAM TOTALS" not in line:
            name = row.group(2).strip()
            costs[name] = costs.get(name, 0) + int(row.group(1).replace(",", ""))
    return total, costs


def demangled(names: list[str]) -> list[str]:
    """Swift symbols made readable (`swift demangle --simplified`), the rest as they are."""
    try:
        text = subprocess.run(["swift", "demangle", "--simplified"], input="\n".join(names),
                              capture_output=True, text=True, check=True).stdout
    except (OSError, subprocess.CalledProcessError):
        return names
    lines = text.splitlines()
    return lines if len(lines) == len(names) else names


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--mode", choices=("grpc", "h2"), default="grpc")
    parser.add_argument("--rate", type=float, help="calls per second, paced (default: closed loop)")
    parser.add_argument("--top", type=int, default=25, help="functions to list (0: none)")
    parser.add_argument("--bin", type=Path, default=REPO / ".build" / "release" / "devmesh",
                        help="a release build (default: .build/release/devmesh)")
    parser.add_argument("--out", type=Path, help="keep the callgrind files here (default: a temporary folder)")
    args = parser.parse_args()

    out = args.out or Path(tempfile.mkdtemp(prefix="devmesh-callgrind."))
    out.mkdir(parents=True, exist_ok=True)
    stripped = out / "devmesh.nodebug"
    subprocess.run(["objcopy", "--strip-debug", str(args.bin), str(stripped)], check=True)
    body = out / "request.body"
    body.write_bytes(grpc_request_body())

    server = EchoServer("baseline")
    try:
        small = self_costs(profile(stripped, server, SMALL, args.mode, out, body, args.rate))
        large = self_costs(profile(stripped, server, LARGE, args.mode, out, body, args.rate))
    finally:
        server.stop()
    span = LARGE - SMALL
    paced = f" at {args.rate:g} calls/s" if args.rate else ""
    print(f"{args.mode}{paced}: {(large[0] - small[0]) / span:,.0f} instructions per call "
          f"(({LARGE:,}-call run − {SMALL:,}-call run) / {span:,}); callgrind files in {out}")
    rows = sorted(((large[1].get(name, 0) - small[1].get(name, 0)) / span, name)
                  for name in set(small[1]) | set(large[1]))
    top = list(reversed(rows[-args.top:])) if args.top else []
    for (per_call, _), name in zip(top, demangled([name for _, name in top])):
        print(f"{per_call:9,.0f}  {name[:140]}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
