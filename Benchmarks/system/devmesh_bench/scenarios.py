"""The scenario matrix of notes/benchmarks.md §3: HTTP/1.1 (S0, S1, S2, S3, S8, S9, S10), then
HTTP/2 and gRPC (S4, S4b, S6, S7), and S11, devmesh's control plane (agent + proxy, controlplane.py).

A scenario is a function `run(ctx, target)` that starts the target (fresh), drives load at it and
adds records to the context. Another scenario is one more function of the same shape (start,
measure with a generator in measure.py, add records) and one `Scenario(...)` entry in SCENARIOS;
the runner, the report and the plots need no change. A scenario on another hop than HTTP/1.1 to
HTTP/1.1 passes its `Hop` to `ctx.started` and runs only on the targets that support it.
"""

from __future__ import annotations

import statistics
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass

from . import cgroup, controlplane, grpcwire, measure, procfs
from .context import Context
from .modes import S4_HEADLINE, S6_SHAPE
from .procs import HarnessError, http_get
from .backends import grpc_request_file, start_grpc_echo
from .targets import Direct, GRPC_STREAM, GRPC_UNARY, H1_TO_H1, H2_TO_H1, H2_TO_H2, Hop, Routes, Target, grpc_unary_path, routing_headers


@dataclass(frozen=True)
class Scenario:
    id: str
    title: str
    what: str                                   # one paragraph for results.md and the docs
    run: Callable[[Context, Target], None]
    estimate_s: Callable[[Context], float]      # wall time per target, for the progress line
    applies: Callable[[Target], bool] = lambda target: target.unsupported(H1_TO_H1) is None


def _on(hop: Hop) -> Callable[[Target], bool]:
    return lambda target: target.unsupported(hop) is None


def _per_point(ctx: Context) -> float:
    return ctx.mode.warmup_s + ctx.mode.measure_s + 0.5


# ------------------------------------------------------------------------------------------ S0

def run_s0(ctx: Context, target: Target) -> None:
    """Direct and the L4 floor only: how stable the denominators are on this box right now."""
    with ctx.started(target) as running:
        for run in range(1, ctx.mode.s0_repeats + 1):
            ctx.add(measure.closed_loop(ctx, "S0", running, variant=f"max (wrk c{ctx.mode.s1_max_connections})",
                                        sort_key=(0,), run=run, connections=ctx.mode.s1_max_connections))
        for run in range(1, ctx.mode.repeats + 1):
            ctx.add(measure.open_loop(ctx, "S0", running, variant=f"{ctx.mode.s0_rate} rps c16",
                                      sort_key=(1, ctx.mode.s0_rate), run=run, rate=ctx.mode.s0_rate, clients=16))


# ------------------------------------------------------------------------------------------ S1

def run_s1(ctx: Context, target: Target) -> None:
    """Keep-alive GET of ~100 B: closed-loop maximum, open-loop sweep, then syscalls per request."""
    mode = ctx.mode
    with ctx.started(target) as running:
        for run in range(1, mode.repeats + 1):
            ctx.add(measure.closed_loop(ctx, "S1", running, variant=f"max (wrk c{mode.s1_max_connections})",
                                        sort_key=(0, 0, 0), run=run, connections=mode.s1_max_connections))
        for clients in mode.s1_connections:
            for rate in mode.s1_rates:
                if rate < clients:
                    continue
                runs = [measure.open_loop(ctx, "S1", running, variant=f"{rate} rps c{clients}",
                                          sort_key=(1, clients, rate), run=run, rate=rate, clients=clients)
                        for run in range(1, mode.repeats + 1)]
                for record in runs:
                    ctx.add(record)
                if all("missed-rate" in r["flags"] for r in runs):
                    ctx.note("S1", f"{target.name}: sweep at c{clients} stopped at {rate} rps (beyond its knee)")
                    break
        if running.is_proxy:
            ctx.add(measure.syscalls(ctx, "S1", running, requests=mode.strace_requests))


def estimate_s1(ctx: Context) -> float:
    points = 1 + len(ctx.mode.s1_rates) * len(ctx.mode.s1_connections)
    return points * ctx.mode.repeats * _per_point(ctx) + ctx.mode.strace_requests / 1500 + 3


# ------------------------------------------------------------------------------------------ S2

def run_s2(ctx: Context, target: Target) -> None:
    """Bodies of 1 KiB, 64 KiB and 1 MiB, in responses (GET) and in requests (POST), at fixed rates."""
    data_dir = ctx.env.run_dir / "data"
    with ctx.started(target) as running:
        for index, case in enumerate(ctx.mode.s2_cases):
            if case.method == "GET":
                path, data_file = f"/bytes/{_size_name(case.size)}.bin", None
            else:
                path, data_file = "/upload", data_dir / f"post-{_size_name(case.size)}.bin"
                if not data_file.exists():
                    data_file.write_bytes(b"p" * case.size)
            for run in range(1, ctx.mode.repeats + 1):
                ctx.add(measure.open_loop(ctx, "S2", running, variant=f"{case.label} @{case.rate}",
                                          sort_key=(index,), run=run, rate=case.rate,
                                          clients=ctx.mode.s2_connections, path=path, data_file=data_file))


def _size_name(size: int) -> str:
    return f"{size // (1024 * 1024)}m" if size >= 1024 * 1024 else f"{size // 1024}k"


# ------------------------------------------------------------------------------------------ S3

def run_s3(ctx: Context, target: Target) -> None:
    """A new connection per request (`Connection: close`), closed loop: accept/close cost."""
    with ctx.started(target) as running:
        for run in range(1, ctx.mode.repeats + 1):
            record = measure.closed_loop(ctx, "S3", running, variant=f"close (wrk c{ctx.mode.s3_connections})",
                                         sort_key=(0,), run=run, connections=ctx.mode.s3_connections,
                                         headers={"Connection": "close"})
            record["extra"]["time_wait_after"] = measure.count_time_wait()
            ctx.add(record)


# ------------------------------------------------------------------------------------------ S8

def run_s8(ctx: Context, target: Target) -> None:
    """Memory per idle keep-alive connection at 1k and 10k connections (ΔRSS ÷ N), fresh start each."""
    for level in ctx.mode.s8_levels:
        with ctx.started(target) as running:
            http_get(running.port)
            time.sleep(0.5)
            before = procfs.memory_kb(running.measured_pid)
            started = time.monotonic()
            sockets, failed = measure.idle_connections(running, level)
            open_s = time.monotonic() - started
            time.sleep(1.0)  # let the proxy settle (deferred frees, pool trims)
            after = procfs.memory_kb(running.measured_pid)
            alive = measure.still_open(sockets)
            for s in sockets:
                s.close()
            record = {"scenario": "S8", "target": running.name, "variant": f"{level} idle", "sort": [level],
                      "run": 1, "is_proxy": running.is_proxy,
                      "load": {"tool": "python idle client", "connections": level},
                      "requests": len(sockets), "errors": failed + (len(sockets) - alive),
                      "rss_before_kb": before["rss_kb"], "rss_kb": after["rss_kb"], "hwm_kb": after["hwm_kb"],
                      "bytes_per_conn": (after["rss_kb"] - before["rss_kb"]) * 1024 / max(len(sockets), 1),
                      "extra": {"open_seconds": round(open_s, 2), "closed_by_peer": len(sockets) - alive,
                                "not_opened": failed, "fd_limit": ctx.env.nofile}}
            record["flags"] = ["errors"] if record["errors"] else []
            record["valid"] = not record["flags"]
            ctx.add(record)


# ------------------------------------------------------------------------------------------ S9

def run_s9(ctx: Context, target: Target) -> None:
    """Route-table size: 1, 100 and 10k routing keys; the request carries one of them."""
    for count in ctx.mode.s9_route_counts:
        routes = Routes.numbered(count)
        key = routes.keys[len(routes.keys) // 2]
        with ctx.started(target, routes if target.routes_by_key else None) as running:
            for run in range(1, ctx.mode.repeats + 1):
                ctx.add(measure.open_loop(ctx, "S9", running, variant=f"{count} routes @{ctx.mode.s9_rate}",
                                          sort_key=(count,), run=run, rate=ctx.mode.s9_rate, clients=16,
                                          headers=routing_headers(key)))


# ------------------------------------------------------------------------------------------ S10

#: Keys present in every S10 table (the load uses the first); the rest change with each push.
S10_STABLE_KEYS = 50
S10_CHURN_KEYS = 50
RELOADING_PROXIES = ("devmesh", "nginx")


def s10_routes(generation: int) -> Routes:
    """The route table of push number `generation`: stable keys plus a set that differs every push."""
    stable = tuple(f"k{i}" for i in range(1, S10_STABLE_KEYS + 1))
    churn = tuple(f"g{generation}-{i}" for i in range(1, S10_CHURN_KEYS + 1))
    return Routes(stable + churn)


def s10_rate(ctx: Context) -> tuple[int, str]:
    """50 % of the knee, the same offered rate for every target.

    The knee of a proxy is the highest S1 sweep rate it sustained (no error, >= 99 % of the
    rate) in this run; S10 takes half of the lowest knee among the proxies that reload. Without
    an S1 sweep in the run (`--only S10`) it falls back to the mode's fixed rate.
    """
    knees = {}
    for r in ctx.records:
        if r["scenario"] == "S1" and r["valid"] and r["target"] in RELOADING_PROXIES \
                and r.get("load", {}).get("offered_rps"):
            knees[r["target"]] = max(knees.get(r["target"], 0), r["load"]["offered_rps"])
    if not knees:
        return ctx.mode.s10_fallback_rate, f"fixed {ctx.mode.s10_fallback_rate} rps (no S1 sweep in this run)"
    name, knee = min(knees.items(), key=lambda kv: kv[1])
    rate = max(100, int(knee * 0.5))
    return rate, f"{rate} rps = 50 % of {knee:g} rps, the highest S1 rate {name} sustained (lowest among {', '.join(sorted(knees))})"


def run_s10(ctx: Context, target: Target) -> None:
    """Route pushes during load: rewrite the config and SIGHUP every few seconds while S1 runs."""
    rate, why = s10_rate(ctx)
    if not any("S10: offered" in n for n in ctx.scenario_notes.get("S10", [])):
        ctx.note("S10", f"S10: offered {why}; a push every {ctx.mode.s10_reload_every_s:g} s "
                        f"({S10_STABLE_KEYS} stable + {S10_CHURN_KEYS} changing keys)")
    reloadable = target.reloadable
    with ctx.started(target, s10_routes(0) if reloadable else None) as running:
        stop = threading.Event()
        failures: list[str] = []

        def push_loop() -> None:
            generation = 0
            while not stop.wait(ctx.mode.s10_reload_every_s):
                generation += 1
                try:
                    target.reload(ctx.env, running, s10_routes(generation))
                except Exception as e:  # noqa: BLE001 - recorded, the load goes on
                    failures.append(str(e))

        pusher = threading.Thread(target=push_loop, daemon=True)

        def start_pushing() -> None:
            if reloadable:
                pusher.start()

        try:
            record = measure.open_loop(ctx, "S10", running, variant=f"push/{ctx.mode.s10_reload_every_s:g}s @{rate}",
                                       sort_key=(rate,), run=1, rate=rate, clients=16,
                                       duration_s=ctx.mode.s10_measure_s, headers=routing_headers("k1"),
                                       during=start_pushing)
        finally:
            stop.set()
            if pusher.is_alive():
                pusher.join(timeout=10)
        record["extra"].update(reloads_sent=running.reloads, reload_failures=failures[:5])
        if target.name == "devmesh" and running.admin_port:
            counters = _devmesh_reload_counters(running.admin_port)
            record["extra"].update(counters)
            applied = counters.get("devmesh_config_reloads_total")
            if applied is not None and applied < running.reloads:
                ctx.note("S10", f"devmesh applied {applied:g} of {running.reloads} route pushes "
                                f"({counters.get('devmesh_config_reload_failures_total', 0):g} refused)")
        ctx.add(record)


def _devmesh_reload_counters(admin_port: int) -> dict[str, object]:
    """devmesh's own count of applied and refused reloads, from its admin /metrics."""
    try:
        _, body = http_get(admin_port, "/metrics")
    except Exception as e:  # noqa: BLE001 - informative only
        return {"metrics_error": str(e)}
    found = {}
    for line in body.decode(errors="replace").splitlines():
        for name in ("devmesh_config_reloads_total", "devmesh_config_reload_failures_total",
                     "devmesh_route_table_version"):
            if line.startswith(name + " ") or line.startswith(name + "{"):
                found[name] = float(line.rsplit(" ", 1)[1])
    return found


# ------------------------------------------------------------------------------------------ S4

#: The response body of the h2c backend's `/` (targets.padded_body): every S4 response is checked
#: to have carried it.
S4_BODY_BYTES = 100


def _shape(clients: int, streams: int) -> str:
    return f"c{clients} m{streams}"


def _h2_sweep(ctx: Context, scenario: str, running, *, label: str, sort_prefix: tuple, rates: tuple[int, ...],
              clients: int, streams: int, path: str = "/", headers: dict[str, str] | None = None,
              data_file=None, body_bytes: int | None = None) -> None:
    """Open-loop points at `rates` (total rps), stopping after the first rate every run missed."""
    for rate in rates:
        runs = [measure.open_loop(ctx, scenario, running, variant=f"{label}{rate} rps {_shape(clients, streams)}",
                                  sort_key=(*sort_prefix, 1, rate), run=run, rate=rate, clients=clients,
                                  streams=streams, path=path, headers=headers, data_file=data_file,
                                  body_bytes=body_bytes)
                for run in range(1, ctx.mode.repeats + 1)]
        for record in runs:
            ctx.add(record)
        if all("missed-rate" in r["flags"] for r in runs):
            ctx.note(scenario, f"{running.name}: {label}sweep stopped at {rate} rps (beyond its knee)")
            break


def run_s4(ctx: Context, target: Target) -> None:
    """h2c to an h2c backend: closed-loop maximum per shape, open-loop sweep at 16 × 32, syscalls."""
    mode = ctx.mode
    with ctx.started(target, hop=H2_TO_H2) as running:
        for clients, streams in mode.s4_max_shapes:
            for run in range(1, mode.repeats + 1):
                ctx.add(measure.h2_closed_loop(ctx, "S4", running, variant=f"max {_shape(clients, streams)}",
                                               sort_key=(0, clients, streams), run=run, clients=clients,
                                               streams=streams, body_bytes=S4_BODY_BYTES))
        clients, streams = S4_HEADLINE
        _h2_sweep(ctx, "S4", running, label="", sort_prefix=(), rates=mode.s4_rates, clients=clients,
                  streams=streams, body_bytes=S4_BODY_BYTES)
        if running.is_proxy:
            ctx.add(measure.syscalls(ctx, "S4", running, requests=mode.strace_requests, clients=clients,
                                     streams=streams))


def estimate_s4(ctx: Context) -> float:
    points = len(ctx.mode.s4_max_shapes) + len(ctx.mode.s4_rates)
    return points * ctx.mode.repeats * _per_point(ctx) + ctx.mode.strace_requests / 3000 + 3


# ----------------------------------------------------------------------------------------- S4b

S4B_HOPS = (H2_TO_H2, H2_TO_H1)


def run_s4b(ctx: Context, target: Target) -> None:
    """The same h2c load, forwarded as HTTP/2 (to the h2c backend) and as HTTP/1.1 (to the H1 one).

    The references have no H1 hop for an H2 client; they run the h2c backend under both variant
    labels, so that every row has its ratio to what the client gets without a proxy.
    """
    clients, streams = S4_HEADLINE
    for index, hop in enumerate(S4B_HOPS):
        run_hop = hop if target.is_proxy else H2_TO_H2
        reason = target.unsupported(run_hop)
        if reason:
            ctx.note("S4b", f"{target.name}: no {hop.label} variant ({reason})")
            continue
        with ctx.started(target, hop=run_hop) as running:
            for run in range(1, ctx.mode.repeats + 1):
                ctx.add(measure.h2_closed_loop(ctx, "S4b", running, variant=f"{hop.label} max {_shape(clients, streams)}",
                                               sort_key=(index, 0), run=run, clients=clients, streams=streams,
                                               body_bytes=S4_BODY_BYTES))
            _h2_sweep(ctx, "S4b", running, label=f"{hop.label} ", sort_prefix=(index,), rates=ctx.mode.s4b_rates,
                      clients=clients, streams=streams, body_bytes=S4_BODY_BYTES)


def estimate_s4b(ctx: Context) -> float:
    return len(S4B_HOPS) * ((1 + len(ctx.mode.s4b_rates)) * ctx.mode.repeats * _per_point(ctx) + 2)


# ------------------------------------------------------------------------------------------ S6

#: What a gRPC client sends besides the method and the body (the notes' S6 command).
GRPC_HEADERS = {"content-type": "application/grpc", "te": "trailers"}


def run_s6(ctx: Context, target: Target) -> None:
    """gRPC unary through the proxy to nginx answering as a gRPC server, per message size:
    closed-loop maximum, then an open-loop sweep. Every response's body is checked (a gRPC error
    is an HTTP 200 without the message), and a grpcio call must succeed first (in `started`)."""
    clients, streams = S6_SHAPE
    with ctx.started(target, hop=GRPC_UNARY) as running:
        for index, size in enumerate(ctx.mode.s6_sizes):
            common = dict(path=grpc_unary_path(size), headers=GRPC_HEADERS,
                          data_file=grpc_request_file(ctx.env, size), body_bytes=len(grpcwire.unary_body(size)))
            label = f"{_size_label(size)} "
            for run in range(1, ctx.mode.repeats + 1):
                ctx.add(measure.h2_closed_loop(ctx, "S6", running, variant=f"{label}max {_shape(clients, streams)}",
                                               sort_key=(index, 0), run=run, clients=clients, streams=streams,
                                               **common))
            _h2_sweep(ctx, "S6", running, label=label, sort_prefix=(index,), rates=ctx.mode.s6_rates,
                      clients=clients, streams=streams, **common)
        if running.is_proxy:
            # Syscalls per call for the smallest message, the point the target is about.
            size = ctx.mode.s6_sizes[0]
            ctx.add(measure.syscalls(ctx, "S6", running, requests=ctx.mode.strace_requests, clients=clients,
                                     streams=streams, path=grpc_unary_path(size), headers=GRPC_HEADERS,
                                     data_file=str(grpc_request_file(ctx.env, size))))


def _size_label(size: int) -> str:
    return f"{size // 1024} KiB" if size >= 1024 and size % 1024 == 0 else f"{size} B"


def estimate_s6(ctx: Context) -> float:
    return (len(ctx.mode.s6_sizes) * (1 + len(ctx.mode.s6_rates)) * ctx.mode.repeats * _per_point(ctx)
            + ctx.mode.strace_requests / 3000 + 3)


# ----------------------------------------------------------------------------------------- S6L

#: Below this share of throttled CFS periods the CPU limit did not bind: the proxy had spare
#: budget, so its rate is the generator's or the backend's ceiling, not what the budget carries.
S6L_BINDING_SHARE = 0.5


def run_s6l(ctx: Context, target: Target) -> None:
    """S6's gRPC unary closed loop (smallest message) with every proxy under the same CPU limit.

    The limit is a cgroup CFS quota, as Kubernetes sets for a sidecar with `limits.cpu`, so
    calls/s is what that budget carries. Each run records the share of CFS periods that ended
    throttled (warm-up included): a run where the limit did not bind is rejected. Direct runs
    unlimited, as the ceiling the limited proxies must stay well below."""
    limited = not isinstance(target, Direct)      # the L4 floor too: what bare relaying costs on that budget
    reason = cgroup.unavailable_reason()
    if limited and reason:
        ctx.note("S6L", f"{target.name}: not run, {reason}")
        return
    clients, streams = S6_SHAPE
    size = ctx.mode.s6_sizes[0]
    common = dict(path=grpc_unary_path(size), headers=GRPC_HEADERS, data_file=grpc_request_file(ctx.env, size),
                  body_bytes=len(grpcwire.unary_body(size)))
    for index, millicores in enumerate(ctx.mode.s6l_millicores):
        variant = f"{_size_label(size)} max {_shape(clients, streams)} limit {millicores}m"
        with ctx.env.proxies_limited(millicores if limited else None) as limit, \
                ctx.started(target, hop=GRPC_UNARY) as running:
            for run in range(1, ctx.mode.repeats + 1):
                before = limit.throttling() if limit else None
                record = measure.h2_closed_loop(ctx, "S6L", running, variant=variant, sort_key=(index, 0),
                                                run=run, clients=clients, streams=streams, **common)
                if limit is not None:
                    _record_throttling(record, limit, limit.throttling().since(before))
                ctx.add(record)
        if limited:
            _note_rate_against_devmesh(ctx, "S6L", target.name, variant)


def _record_throttling(record: dict, limit: cgroup.CpuLimit, throttling: cgroup.Throttling) -> None:
    record["extra"].update(cpu_limit_millicores=limit.millicores, cfs_period_us=limit.period_us,
                           cfs_periods=throttling.periods, throttled_periods=throttling.throttled,
                           throttled_share=throttling.share, throttled_ms=throttling.throttled_ms)
    if throttling.share is None or throttling.share < S6L_BINDING_SHARE:
        record["flags"].append("limit-not-binding")
        record["valid"] = False


def _note_rate_against_devmesh(ctx: Context, scenario: str, name: str, variant: str) -> None:
    """Once devmesh and another proxy both have valid runs of `variant`: the ratio of their median rates."""
    def median_rps(target: str) -> float | None:
        rates = [r["rps"] for r in ctx.records_for(scenario, target, variant) if r["valid"]]
        return statistics.median(rates) if rates else None
    others = [name] if name != "devmesh" else sorted({r["target"] for r in ctx.records if r["scenario"] == scenario
                                                      and "throttled_share" in r["extra"] and r["target"] != "devmesh"})
    devmesh = median_rps("devmesh")
    for other in others:
        rate = median_rps(other)
        if devmesh and rate:
            ctx.note(scenario, f"{variant}: devmesh {devmesh:,.0f} calls/s, {other} {rate:,.0f}: "
                               f"{devmesh / rate:.2f}× (medians of valid runs)")


def estimate_s6l(ctx: Context) -> float:
    return len(ctx.mode.s6l_millicores) * (ctx.mode.repeats * _per_point(ctx) + 2)


# ------------------------------------------------------------------------------------------ S7

S7_MESSAGE_BYTES = 100


def run_s7(ctx: Context, target: Target) -> None:
    """gRPC bidirectional streams through the proxy to a Python echo server, at a fixed message
    rate; latency per message from the client's timestamps (intended send time to echo)."""
    try:
        start_grpc_echo(ctx.env)
    except HarnessError as e:
        raise HarnessError(f"the gRPC echo server did not start: {e}") from e
    if not any("S7: the Python" in n for n in ctx.scenario_notes.get("S7", [])):
        ctx.note("S7", "S7: the Python (grpcio) client and echo server cap the rate, so every target gets the "
                       "same modest one; compare proxy CPU per message and added latency, not rates")
    with ctx.started(target, hop=GRPC_STREAM) as running:
        for index, (connections, streams, rate) in enumerate(ctx.mode.s7_points):
            for run in range(1, ctx.mode.repeats + 1):
                ctx.add(measure.grpc_stream(ctx, "S7", running,
                                            variant=f"{streams} streams × {rate} msg/s over {connections} conns",
                                            sort_key=(index,), run=run, connections=connections, streams=streams,
                                            rate_per_stream=rate, size=S7_MESSAGE_BYTES))


def estimate_s7(ctx: Context) -> float:
    return len(ctx.mode.s7_points) * ctx.mode.repeats * (_per_point(ctx) + 2.0) + 3
# ------------------------------------------------------------------------------------------ S11

def run_s11(ctx: Context, target: Target) -> None:
    """devmesh only: N sandboxes in the agent, the proxy's first sync, propagation at N rules."""
    mode = ctx.mode
    for record in controlplane.run(ctx.env, mode.s11_sandboxes, mode.s11_changes, ctx.env.proxy_cpus):
        ctx.add({"scenario": "S11", "target": target.name, **record})


def estimate_s11(ctx: Context) -> float:
    # Measured on the 2-core VM (quick mode, 25 s in all): about 2 ms per create on average, well
    # under a second for the first sync, ~30 ms per timed change (probe and /metrics reads included).
    return ctx.mode.s11_sandboxes * 0.002 + 2 + ctx.mode.s11_changes * 2 * 0.03


# ------------------------------------------------------------------------------------- registry

SCENARIOS: tuple[Scenario, ...] = (
    Scenario("S0", "Calibration: direct and the L4 floor",
             "Closed-loop maximum (wrk) repeated, and a low open-loop rate, on the two references only. "
             "The spread of the repeats is the noise floor of this box for every ratio below.",
             run_s0, lambda ctx: ctx.mode.s0_repeats * _per_point(ctx) + ctx.mode.repeats * _per_point(ctx) + 1,
             applies=lambda target: not target.is_proxy),
    Scenario("S1", "HTTP/1.1 keep-alive GET, ~100 B body",
             "Closed-loop maximum (wrk -t1 -c64), then an open-loop sweep (h2load --rps, latency from its "
             "per-request log, a 1 % probe client above 5k rps); the sweep stops at the first rate a target "
             "misses. Syscalls per request from a separate counted run (16 connections, closed loop).",
             run_s1, estimate_s1),
    Scenario("S2", "Body sizes: 1 KiB, 64 KiB, 1 MiB, in responses and in requests",
             "Open loop at a fixed rate per size (GET: the backend serves a file of that size; POST: h2load "
             "uploads it and the backend discards it). CPU per request shows the per-byte cost.",
             run_s2, lambda ctx: len(ctx.mode.s2_cases) * ctx.mode.repeats * _per_point(ctx) + 1),
    Scenario("S3", "A new connection per request",
             "wrk closed loop with `Connection: close`: accept, first read and close dominate. TIME_WAIT "
             "sockets on the box are counted after each run.",
             run_s3, lambda ctx: ctx.mode.repeats * _per_point(ctx) + 1),
    Scenario("S4", "h2c, small bodies",
             "h2load over h2c (prior knowledge) to an h2c backend (nginx `listen http2`, 100 B bodies). "
             "Closed-loop maximum (no --rps: every connection keeps its streams busy) for connections × "
             "streams per connection; the headline point is 16 × 32. Then an open-loop sweep at 16 × 32 "
             "(latency from h2load's log). Every response body is checked. Syscalls per request from a "
             "separate strace run at 16 × 32. nginx is left out: 1.22 cannot proxy_pass to HTTP/2 (see S4b).",
             run_s4, estimate_s4, applies=_on(H2_TO_H2)),
    Scenario("S4b", "H2 downstream: HTTP/2 upstream vs HTTP/1.1 upstream",
             "The S4 headline load (16 × 32, closed-loop maximum and an open-loop point) with the proxy "
             "forwarding over HTTP/2 to the h2c backend (h2→h2) or over HTTP/1.1 keep-alive to the H1 "
             "backend (h2→h1, one upstream connection per request in flight). The references have no "
             "h2→h1 path and serve the h2c backend under both labels.",
             run_s4b, estimate_s4b, applies=lambda t: any(_on(h)(t) for h in S4B_HOPS) or not t.is_proxy),
    Scenario("S6", "gRPC unary, 100 B and 4 KiB messages",
             "h2load -c4 -m32 POSTs a length-prefixed protobuf message with content-type application/grpc "
             "and te: trailers; the h2c backend (nginx) answers like a gRPC server (one message, "
             "grpc-status 0 in the trailers). A grpcio call through the proxy must succeed before "
             "measuring, and every response must carry the message (an HTTP 200 without it is a gRPC "
             "error). Closed-loop maximum, then an open-loop sweep per size. nginx uses grpc_pass.",
             run_s6, estimate_s6, applies=_on(GRPC_UNARY)),
    Scenario("S6L", "gRPC unary under the same CPU limit per proxy",
             "S6's closed loop (100 B, c4 m32) with each proxy in a cgroup with a CFS quota, the way "
             "Kubernetes enforces a sidecar's `limits.cpu` (250m = 25 ms of CPU per 100 ms period, all "
             "threads together). The proxy is then the bottleneck, so calls/s is what that budget "
             "carries; unlimited, the generator and the backend sharing one core cap every proxy near "
             "direct. A run in which under half of the CFS periods ended throttled is rejected "
             "(limit-not-binding). The L4 floor gets the same limit; direct runs unlimited, as the ceiling. Needs root (cgroup v1 `cpu` "
             "or a cgroup v2 tree with the cpu controller).",
             run_s6l, estimate_s6l, applies=_on(GRPC_UNARY)),
    Scenario("S7", "gRPC bidirectional streaming",
             "N bidirectional streams over a few connections, each sending M messages/s of 100 B to a "
             "Python grpcio echo server; every message carries its intended send time, so latency runs "
             "from the schedule to the echo (open loop). CPU per echoed message from /proc at the window's "
             "edges. The Python client and server cap the rate, so all targets get the same modest one.",
             run_s7, estimate_s7, applies=_on(GRPC_STREAM)),
    Scenario("S8", "Memory per idle connection (1k and 10k)",
             "A client opens N keep-alive connections, sends one request on each and keeps them open; "
             "the target's VmRSS before and after gives bytes per idle connection. Fresh start per level.",
             run_s8, lambda ctx: 4.0 * len(ctx.mode.s8_levels)),
    Scenario("S9", "Route-table size: 1, 100, 10k routing keys",
             "The request carries one routing key from the middle of a table of N keys; devmesh and nginx "
             "(a `map` on the baggage value) route it to the sandbox port. References take the same load.",
             run_s9, lambda ctx: len(ctx.mode.s9_route_counts) * (ctx.mode.repeats * _per_point(ctx) + 1.5),
             applies=lambda target: target.routes_by_key or not target.is_proxy),
    Scenario("S10", "Route pushes during load",
             "Open loop at ~50 % of the knee while the route table is rewritten and SIGHUP'd every few "
             "seconds (devmesh: its config file; nginx: a reload). Errors, p99.9 and max cover the window. "
             "References take the same load without pushes.",
             run_s10, lambda ctx: ctx.mode.warmup_s + ctx.mode.s10_measure_s + 2,
             applies=lambda target: target.reloadable or not target.is_proxy),
    Scenario("S11", "Control plane: 10,000 sandboxes for one workload",
             "devmesh only. A devmesh agent gets N sandboxes through REST (sequential creates, each "
             "fsync'd); a proxy following it over the Routes API (gRPC watch) syncs all N rules; then "
             "delete + create rounds are each timed to the first request the proxy routes accordingly "
             "(from the REST call's return and from its start), with the proxy's own build time per "
             "change (devmesh_agent_last_rebuild_microseconds). Agent and proxy RSS at N.",
             run_s11, estimate_s11, applies=lambda target: target.name == "devmesh"),
)

SCENARIOS_BY_ID = {s.id: s for s in SCENARIOS}
