"""Measured runs: one load against one running target, with the proxy's CPU and memory around it.

Every function returns a record (a plain dict that goes into results.json as is). The proxy's CPU
is sampled from /proc immediately before and after the measured window only; the warm-up is a
separate, unmeasured run of the same load, so the requests counted are exactly those the CPU
time was spent on.
"""

from __future__ import annotations

import json
import signal
import socket
import subprocess
import time
from pathlib import Path

from . import loadgen, procfs, stats
from .controlplane import metric
from .context import Context
from .procs import HarnessError
from .targets import Running

#: Latency probe beside a high-rate generator (notes/benchmarks.md §1): about 1 % of the rate, at
#: least this many requests per second so that its p99 rests on enough samples.
PROBE_MIN_RPS = 50
#: Below this offered rate the main generator is not busy enough to need a probe.
PROBE_FROM_RPS = 5000

#: Slack added to a tool's own duration before the harness gives up on it.
TOOL_SLACK_S = 30.0


def _url(running: Running, path: str = "/") -> str:
    return f"http://127.0.0.1:{running.port}{path}"


def _base_record(ctx: Context, scenario: str, running: Running, variant: str, sort_key: tuple, run: int,
                 load: dict[str, object]) -> dict[str, object]:
    return {"scenario": scenario, "target": running.name, "variant": variant, "sort": list(sort_key),
            "run": run, "load": load, "is_proxy": running.is_proxy, "flags": [], "valid": True, "extra": {}}


def _finish(ctx: Context, record: dict[str, object], result: loadgen.LoadResult, offered: float | None,
            cpu: tuple[procfs.CpuSample, procfs.CpuSample] | None, backend_cpu, running: Running) -> dict:
    record.update(rps=result.rps, requests=result.requests, seconds=result.seconds, errors=result.errors,
                  error_detail=result.error_detail)
    if cpu is not None:
        record["cpu_us_per_req"] = procfs.cpu_us_per_request(cpu[0], cpu[1], result.requests)
        record["cpu_sys_us_per_req"] = procfs.system_us_per_request(cpu[0], cpu[1], result.requests)
        record["cpu_ticks"] = cpu[1].ticks - cpu[0].ticks
    if backend_cpu is not None:
        record["backend_cpu_us_per_req"] = procfs.cpu_us_per_request(backend_cpu[0], backend_cpu[1], result.requests)
    record.update(procfs.memory_kb(running.measured_pid))
    record["flags"] = stats.run_flags(result.errors, offered, result.rps)
    if not _backend_alive(ctx):
        record["flags"].append("backend-died")
    record["valid"] = not record["flags"]
    return record


#: Above this share of requests, a note says that devmesh opened upstream connections during the
#: measured window: in steady keep-alive load it should open none (the pool is warm from the warm-up).
UPSTREAM_CONNECTS_NOTE_SHARE = 0.01


def _upstream_connects(running: Running) -> float | None:
    """devmesh's counter of upstream connections opened so far (None for every other target).

    Measured around each window because a burst that outgrows the idle pool turns into a connect
    per request, which doubles the backend's CPU too: that is what the counter shows at once."""
    if running.name != "devmesh" or not running.admin_port:
        return None
    try:
        return metric(running.admin_port, "devmesh_upstream_connects_total")
    except OSError:
        return None


def _record_upstream_connects(ctx: Context, record: dict, before: float | None, after: float | None) -> None:
    if before is None or after is None:
        return
    opened = int(after - before)
    record["extra"]["upstream_connects"] = opened
    requests = record.get("requests") or 0
    if requests and opened > UPSTREAM_CONNECTS_NOTE_SHARE * requests:
        ctx.note(record["scenario"], f"{record['target']} {record['variant']}: opened {opened:,} upstream "
                                     f"connections for {requests:,} requests in the measured window")


def _backend_alive(ctx: Context) -> bool:
    return ctx.env.backend_child is not None and ctx.env.backend_child.alive()


def _backend_pid(ctx: Context) -> int:
    assert ctx.env.backend_child is not None
    return ctx.env.backend_child.pid


def open_loop(ctx: Context, scenario: str, running: Running, *, variant: str, sort_key: tuple, run: int,
              rate: float, clients: int, duration_s: float | None = None, path: str = "/",
              headers: dict[str, str] | None = None, data_file: Path | None = None,
              probe: bool = True, during=None, streams: int | None = None,
              body_bytes: int | None = None) -> dict[str, object]:
    """An h2load open-loop run at `rate` total rps; latency percentiles come from its per-request log.

    `during`, if given, is called once the measured run has started and must return within the
    run (S10 uses it to push route changes while the load runs). `streams` makes it h2c with
    that many streams per connection; `body_bytes` checks every response body (check_body_bytes).
    """
    return _h2load_measured(ctx, scenario, running, variant=variant, sort_key=sort_key, run=run, rate=rate,
                            clients=clients, duration_s=duration_s, path=path, headers=headers,
                            data_file=data_file, probe=probe, during=during, streams=streams,
                            body_bytes=body_bytes)


def h2_closed_loop(ctx: Context, scenario: str, running: Running, *, variant: str, sort_key: tuple, run: int,
                   clients: int, streams: int, path: str = "/", headers: dict[str, str] | None = None,
                   data_file: Path | None = None, body_bytes: int | None = None) -> dict[str, object]:
    """h2load h2c without --rps: every connection keeps `streams` requests in flight, the
    HTTP/2 maximum throughput. Like wrk's rows it records no latency (only queueing at saturation)."""
    return _h2load_measured(ctx, scenario, running, variant=variant, sort_key=sort_key, run=run, rate=None,
                            clients=clients, duration_s=None, path=path, headers=headers, data_file=data_file,
                            probe=False, during=None, streams=streams, body_bytes=body_bytes)


#: Streams per connection of the latency probe beside an h2c generator (it sends ~1 % of the rate).
PROBE_H2_STREAMS = 4


def _h2load_measured(ctx: Context, scenario: str, running: Running, *, variant: str, sort_key: tuple, run: int,
                     rate: float | None, clients: int, duration_s: float | None, path: str,
                     headers: dict[str, str] | None, data_file: Path | None, probe: bool, during,
                     streams: int | None, body_bytes: int | None) -> dict[str, object]:
    duration_s = duration_s or ctx.mode.measure_s
    sup = ctx.env.supervisor
    tag = f"{scenario}-{running.name}-{variant}-{run}".replace(" ", "_").replace("/", "_").replace("@", "at")
    tag = tag.replace("→", "-").replace("×", "x")
    log_dir = ctx.env.run_dir / "h2load"
    log_dir.mkdir(exist_ok=True)
    common = dict(clients=clients, rps_total=rate, headers=headers, streams=streams,
                  data_file=str(data_file) if data_file else None)
    if ctx.mode.warmup_s > 0:
        sup.run(f"warmup-{tag}", loadgen.h2load_argv(_url(running, path), duration_s=ctx.mode.warmup_s, **common),
                timeout=ctx.mode.warmup_s + TOOL_SLACK_S)

    probe_child, probe_log = None, log_dir / f"{tag}.probe.log"
    probe_rate = max(PROBE_MIN_RPS, (rate or 0) / 100)
    use_probe = probe and rate is not None and rate >= PROBE_FROM_RPS
    main_log = log_dir / f"{tag}.log"
    connects0 = _upstream_connects(running)
    cpu0, backend0 = procfs.cpu_sample(running.measured_pid), procfs.cpu_sample(_backend_pid(ctx))
    if use_probe:
        probe_child = sup.start(f"probe-{tag}", loadgen.h2load_argv(
            _url(running, path), clients=1, rps_total=probe_rate, duration_s=duration_s, log_file=str(probe_log),
            headers=headers, data_file=str(data_file) if data_file else None,
            streams=PROBE_H2_STREAMS if streams is not None else None))
    main = sup.start(f"h2load-{tag}", loadgen.h2load_argv(_url(running, path), duration_s=duration_s,
                                                          log_file=str(main_log), **common))
    try:
        if during is not None:
            during()
        main.popen.wait(timeout=duration_s + TOOL_SLACK_S)
        if probe_child is not None:
            probe_child.popen.wait(timeout=TOOL_SLACK_S)
    except Exception:
        for child in (main, probe_child):
            if child is not None:
                sup.stop(child)
        raise HarnessError(f"h2load did not finish: {tag}")
    cpu1, backend1 = procfs.cpu_sample(running.measured_pid), procfs.cpu_sample(_backend_pid(ctx))
    connects1 = _upstream_connects(running)
    sup.stop(main)

    load = {"tool": "h2load", "loop": "open" if rate is not None else "closed", "offered_rps": rate,
            "connections": clients, "duration_s": duration_s, "path": path,
            "method": "POST" if data_file else "GET", "protocol": "h2c" if streams is not None else "http/1.1"}
    if streams is not None:
        load["streams_per_connection"] = streams
    record = _base_record(ctx, scenario, running, variant, sort_key, run, load)
    try:
        result = loadgen.parse_h2load(main.output())
        if body_bytes is not None:
            loadgen.check_body_bytes(result, body_bytes)
    except ValueError as e:
        raise HarnessError(f"h2load failed ({e}): {main.log_tail(400)}")
    if rate is not None:
        durations, _ = stats.h2load_log_durations(main_log.read_text())
        record["latency_us"] = stats.latency_summary(durations)
    else:
        record["latency_us"] = None
    if probe_child is not None:
        probe_durations, probe_bad = stats.h2load_log_durations(probe_log.read_text())
        record["probe_latency_us"] = stats.latency_summary(probe_durations)
        record["extra"]["probe_rps"] = probe_rate
        record["extra"]["probe_errors"] = probe_bad
        sup.stop(probe_child)
    # The per-request logs are large (one line per request) and fully summarised above.
    main_log.unlink(missing_ok=True)
    probe_log.unlink(missing_ok=True)
    cpu = (cpu0, cpu1) if running.is_proxy else None
    record = _finish(ctx, record, result, rate, cpu, (backend0, backend1), running)
    _record_upstream_connects(ctx, record, connects0, connects1)
    return record


def closed_loop(ctx: Context, scenario: str, running: Running, *, variant: str, sort_key: tuple, run: int,
                connections: int, headers: dict[str, str] | None = None,
                duration_s: float | None = None) -> dict[str, object]:
    """A wrk closed-loop run: maximum throughput. No latency is recorded (it would be a queueing figure)."""
    duration_s = duration_s or ctx.mode.measure_s
    sup = ctx.env.supervisor
    tag = f"{scenario}-{running.name}-{variant}-{run}".replace(" ", "_")
    if ctx.mode.warmup_s > 0:
        sup.run(f"warmup-{tag}", loadgen.wrk_argv(_url(running), connections=connections,
                                                  duration_s=ctx.mode.warmup_s, headers=headers),
                timeout=ctx.mode.warmup_s + TOOL_SLACK_S)
    connects0 = _upstream_connects(running)
    cpu0, backend0 = procfs.cpu_sample(running.measured_pid), procfs.cpu_sample(_backend_pid(ctx))
    rc, output = sup.run(f"wrk-{tag}", loadgen.wrk_argv(_url(running), connections=connections,
                                                        duration_s=duration_s, headers=headers),
                         timeout=duration_s + TOOL_SLACK_S)
    cpu1, backend1 = procfs.cpu_sample(running.measured_pid), procfs.cpu_sample(_backend_pid(ctx))
    connects1 = _upstream_connects(running)
    try:
        result = loadgen.parse_wrk(output)
    except ValueError:
        raise HarnessError(f"wrk failed (status {rc}): {output[-400:]}")
    load = {"tool": "wrk", "loop": "closed", "connections": connections, "duration_s": duration_s,
            "headers": headers or {}}
    record = _base_record(ctx, scenario, running, variant, sort_key, run, load)
    record["latency_us"] = None
    cpu = (cpu0, cpu1) if running.is_proxy else None
    record = _finish(ctx, record, result, None, cpu, (backend0, backend1), running)
    _record_upstream_connects(ctx, record, connects0, connects1)
    return record


def syscalls(ctx: Context, scenario: str, running: Running, *, requests: int, clients: int = 16,
             headers: dict[str, str] | None = None, streams: int | None = None, path: str = "/",
             data_file: str | None = None, rate: float | None = None) -> dict[str, object]:
    """Syscalls per request over exactly `requests` requests, in a separate run: closed loop, or
    paced at `rate` requests/s in all (how much a proxy batches depends on the load).

    `perf stat` on the syscall tracepoints when the kernel allows it (counted in the kernel, cheap
    enough that HTTP/2 batching stays as in the measured runs; it also gives context switches per
    request), else `strace -c -f`, whose counts are exact but whose slowdown inflates batching.
    """
    pids = procfs.process_tree(running.measured_pid)
    workload = loadgen.h2load_argv(_url(running, path), clients=clients, requests=requests, headers=headers,
                                   streams=streams, data_file=data_file, rps_total=rate)
    paced = f"-{rate:g}rps" if rate else ""
    out = ctx.env.run_dir / "syscalls" / f"{scenario}-{running.name}{paced}.txt"
    out.parent.mkdir(exist_ok=True)
    if perf_counts_syscalls():
        tool = "perf stat"
        _, output = ctx.env.supervisor.run(f"h2load-perf-{scenario}-{running.name}{paced}",
                                           loadgen.perf_stat_argv(pids, str(out), workload),
                                           timeout=requests / min(rate or 1000, 1000) + TOOL_SLACK_S)
        counts, switches = loadgen.parse_perf_counts(out.read_text() if out.exists() else "")
    else:
        tool, switches = "strace", None
        output = _under_strace(ctx, scenario, running, pids, out, workload, timeout=requests / 200 + TOOL_SLACK_S)
        counts = loadgen.parse_strace_counts(out.read_text())
    result = loadgen.parse_h2load(output)
    load = {"tool": f"h2load+{tool}", "loop": "open" if rate else "closed", "offered_rps": rate,
            "connections": clients, "requests": requests, "streams_per_connection": streams or 1}
    record = _base_record(ctx, scenario, running, "syscalls", (0,), 1, load)
    per_request = loadgen.syscalls_per_request(counts, max(result.requests, 1)) if counts else None
    if per_request is not None and switches is not None:
        per_request["context_switches"] = switches / max(result.requests, 1)
    record.update(kind="syscalls", errors=result.errors, requests=result.requests, syscall_tool=tool,
                  syscalls_per_req=per_request)
    record["flags"] = stats.run_flags(result.errors, None, None)
    if result.requests != requests:
        record["flags"].append("incomplete")
    record["valid"] = not record["flags"]
    return record


_perf_works: bool | None = None


def perf_counts_syscalls() -> bool:
    """Whether `perf stat` can count syscall tracepoints here (perf installed, tracefs readable,
    perf_event_paranoid permitting), checked once by counting the syscalls of `true`."""
    global _perf_works
    if _perf_works is None:
        try:
            done = subprocess.run(["perf", "stat", "-x,", "-e", loadgen.PERF_TOTAL_EVENT, "--", "true"],
                                  capture_output=True, text=True, timeout=20)
            counts, _ = loadgen.parse_perf_counts(done.stderr)
            _perf_works = done.returncode == 0 and sum(counts.values()) > 0
        except (OSError, subprocess.SubprocessError):
            _perf_works = False
    return _perf_works


def _under_strace(ctx: Context, scenario: str, running: Running, pids: list[int], out: Path,
                  workload: list[str], *, timeout: float) -> str:
    """Runs `workload` with `strace -c -f` attached to `pids`; returns the workload's output."""
    sup = ctx.env.supervisor
    argv = ["strace", "-c", "-f", "-qq", "-o", str(out)]
    for pid in pids:
        argv += ["-p", str(pid)]
    tracer = sup.start(f"strace-{scenario}-{running.name}", argv)
    deadline = time.monotonic() + 10
    threads = [tid for pid in pids for tid in procfs.thread_ids(pid)]
    while any(procfs.tracer_pid(tid) == 0 for tid in threads):
        if time.monotonic() > deadline or not tracer.alive():
            sup.stop(tracer)
            raise HarnessError(f"strace did not attach to {running.name}: {tracer.log_tail(300)}")
        time.sleep(0.02)
    try:
        _, output = sup.run(f"h2load-strace-{scenario}-{running.name}", workload, timeout=timeout)
    finally:
        # strace prints its table when interrupted; give it time to detach and write.
        sup.stop(tracer, sig=signal.SIGINT, grace=15)
    return output


def count_time_wait() -> int:
    """Sockets in TIME_WAIT on the box (state 06 in /proc/net/tcp and tcp6)."""
    total = 0
    for name in ("/proc/net/tcp", "/proc/net/tcp6"):
        try:
            with open(name) as f:
                next(f, None)
                total += sum(1 for line in f if line.split()[3] == "06")
        except OSError:
            continue
    return total


def idle_connections(running: Running, count: int, *, deadline_s: float = 60.0,
                     max_failures: int = 3) -> tuple[list[socket.socket], int]:
    """Open `count` keep-alive connections, one complete request on each, and keep them open.

    Returns the open sockets and how many of the `count` could not be opened. Gives up after `max_failures` failures
    or `deadline_s`, so a target that stops accepting cannot stall the run.
    """
    request = "GET / HTTP/1.1\r\nHost: bench\r\n\r\n".encode()
    sockets: list[socket.socket] = []
    failures = 0
    deadline = time.monotonic() + deadline_s
    while len(sockets) < count and failures < max_failures and time.monotonic() < deadline:
        s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        try:
            s.settimeout(2.0)
            s.connect(("127.0.0.1", running.port))
            s.sendall(request)
            if not _read_one_response(s):
                raise OSError("incomplete response")
            sockets.append(s)
        except OSError:
            failures += 1
            s.close()
    return sockets, count - len(sockets)


def _read_one_response(s: socket.socket) -> bool:
    """Read one response with a Content-Length body; True when it is complete and 2xx."""
    data = b""
    while b"\r\n\r\n" not in data:
        chunk = s.recv(4096)
        if not chunk:
            return False
        data += chunk
    head, _, body = data.partition(b"\r\n\r\n")
    length = 0
    for line in head.split(b"\r\n")[1:]:
        name, _, value = line.partition(b":")
        if name.strip().lower() == b"content-length":
            length = int(value.strip())
    while len(body) < length:
        chunk = s.recv(65536)
        if not chunk:
            return False
        body += chunk
    return head.startswith(b"HTTP/1.1 2")


def still_open(sockets: list[socket.socket]) -> int:
    """How many of `sockets` the peer has not closed (a zero-byte peek means it has)."""
    alive = 0
    for s in sockets:
        try:
            s.setblocking(False)
            alive += 1 if s.recv(1, socket.MSG_PEEK) else 0
        except BlockingIOError:
            alive += 1
        except OSError:
            pass
    return alive


def grpc_stream(ctx: Context, scenario: str, running: Running, *, variant: str, sort_key: tuple, run: int,
                connections: int, streams: int, rate_per_stream: float, size: int) -> dict[str, object]:
    """S7: `streams` bidirectional gRPC streams over `connections` connections, each sending
    `rate_per_stream` messages/s to the echo server (grpc_tool stream, open loop).

    The tool warms up for the mode's warm-up time, then measures; it samples the proxy's CPU
    itself at the window's edges. In the record a "request" is one echoed message (a message out
    and its echo back), so `cpu_us_per_req` is proxy CPU per message round trip.
    """
    env = ctx.env
    assert env.grpc_echo_child is not None
    offered = streams * rate_per_stream
    tag = f"{scenario}-{running.name}-{variant}-{run}".replace(" ", "_").replace("/", "_").replace("×", "x")
    argv = env.tool_argv("grpc_tool", "stream", "--port", str(running.port), "--connections", str(connections),
                         "--streams", str(streams), "--rate", f"{rate_per_stream:g}", "--size", str(size),
                         "--warmup", f"{ctx.mode.warmup_s:g}", "--seconds", f"{ctx.mode.measure_s:g}",
                         "--backend-pid", str(env.grpc_echo_child.pid))
    if running.is_proxy:
        argv += ["--cpu-pid", str(running.measured_pid)]
    child = env.supervisor.start(f"grpc-stream-{tag}", argv, env=env.tool_env)
    try:
        child.popen.wait(timeout=ctx.mode.warmup_s + ctx.mode.measure_s + 20 + TOOL_SLACK_S)
    except Exception:
        env.supervisor.stop(child)
        raise HarnessError(f"grpc stream client did not finish: {tag}")
    lines = [line for line in child.output().splitlines() if line.startswith("{")]
    env.supervisor.stop(child)
    if child.popen.returncode != 0 or not lines:
        raise HarnessError(f"grpc stream client failed (status {child.popen.returncode}): {child.log_tail(400)}")
    result = json.loads(lines[-1])

    load = {"tool": "grpc_tool stream (grpcio aio)", "loop": "open", "offered_rps": offered,
            "connections": connections, "streams": streams, "rate_per_stream": rate_per_stream,
            "message_bytes": size, "duration_s": ctx.mode.measure_s}
    record = _base_record(ctx, scenario, running, variant, sort_key, run, load)
    errors = result["lost"] + result["stream_error_count"]
    record.update(rps=result["rate"], requests=result["received_in_window"], seconds=result["seconds"],
                  errors=errors, latency_us=result["latency_us"],
                  error_detail={"lost": result["lost"], "stream_errors": result["stream_error_count"]})
    if running.is_proxy and result.get("cpu_us_per_msg") is not None:
        record["cpu_us_per_req"] = result["cpu_us_per_msg"]
    record["backend_cpu_us_per_req"] = result.get("backend_cpu_us_per_msg")
    record.update(procfs.memory_kb(running.measured_pid))
    record["extra"].update(sent=result["sent"], received=result["received"],
                           client_lag_p99_us=(result.get("client_lag_us") or {}).get("p99"),
                           stream_errors=result["stream_errors"][:3])
    record["flags"] = stats.run_flags(errors, offered, result["rate"])
    if not env.grpc_echo_child.alive():
        record["flags"].append("backend-died")
    record["valid"] = not record["flags"]
    return record
