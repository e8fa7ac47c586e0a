"""Command lines for the load generators and parsers for what they print.

- wrk 4.1 is closed loop only (no -R): used for maximum throughput (S1-max) and S3.
- h2load 1.52 is the open-loop generator: `--rps` is *per client*, so the offered rate is
  clients × rps. `--log-file` gives one line per request, from which the latency percentiles are
  computed (wrk's closed-loop latency is never quoted, see notes/benchmarks.md §1). Without
  `--h1` it speaks h2c with prior knowledge, `-m` streams per connection; without `--rps` it is
  closed loop (each finished stream starts the next), the HTTP/2 maximum-throughput figure.
- Syscalls are counted over a fixed number of requests, in a separate run: with `perf stat` on
  the kernel's syscall tracepoints where it works (counting in the kernel barely slows the proxy,
  so HTTP/2 batching stays as in the measured runs), else with `strace -c`, which slows the traced
  process many times over. Under strace a multiplexing proxy batches far more frames per syscall
  than it does at full speed, so its HTTP/2 counts are low, not representative.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field


@dataclass
class LoadResult:
    """What one load-generator run reports."""

    requests: int = 0            # completed with a response (any status)
    succeeded_2xx: int = 0
    succeeded: int = 0           # h2load: completed with a 2xx (its status counts also include
                                 # responses whose head arrived but whose stream had not ended)
    non_2xx: int = 0
    socket_errors: int = 0       # connect/read/write errors, resets, timeouts, failed requests
    seconds: float = 0.0
    rps: float = 0.0
    data_bytes: int | None = None    # response body bytes received (h2load's "traffic: … data")
    in_flight_at_end: int = 0        # h2load: requests started but not done when the run stopped
    body_errors: int = 0             # 2xx responses whose body was not the one the backend sends
    error_detail: dict[str, int] = field(default_factory=dict)

    @property
    def errors(self) -> int:
        return self.non_2xx + self.socket_errors + self.body_errors


# ----------------------------------------------------------------------------------------- h2load

def h2load_argv(url: str, *, clients: int, rps_total: float | None = None, duration_s: float | None = None,
                requests: int | None = None, log_file: str | None = None, data_file: str | None = None,
                headers: dict[str, str] | None = None, streams: int | None = None) -> list[str]:
    """An h2load command: timed (`duration_s`, open loop at `rps_total`, closed loop without it)
    or counted (`requests`). HTTP/1.1 unless `streams` is given, then h2c with that many
    concurrent streams per connection.

    `-m1` for HTTP/1.1 because with --h1 a larger value pipelines; `-t1` keeps the generator on
    one thread so that it stays on the core it is pinned to.
    """
    if streams is None:
        argv = ["h2load", "--h1", "-t1", f"-c{clients}", "-m1"]
    else:
        argv = ["h2load", "-t1", f"-c{clients}", f"-m{streams}"]
    if rps_total is not None:
        argv.append(f"--rps={rps_total / clients:.6g}")
    if duration_s is not None:
        argv.append(f"-D{duration_s:g}")
    if requests is not None:
        argv.append(f"-n{requests}")
    if log_file:
        argv.append(f"--log-file={log_file}")
    if data_file:
        argv.append(f"--data={data_file}")
    for name, value in (headers or {}).items():
        argv += ["-H", f"{name}: {value}"]
    argv.append(url)
    return argv


_H2_FINISHED = re.compile(r"finished in ([\d.]+)(us|ms|s), ([\d.]+) req/s")
_H2_REQUESTS = re.compile(r"requests: (\d+) total, (\d+) started, (\d+) done, (\d+) succeeded, (\d+) failed, "
                          r"(\d+) errored, (\d+) timeout")
_H2_STATUS = re.compile(r"status codes: (\d+) 2xx, (\d+) 3xx, (\d+) 4xx, (\d+) 5xx")
_H2_TRAFFIC = re.compile(r"traffic: \S+ \((\d+)\) total, \S+ \((\d+)\) headers .*?, \S+ \((\d+)\) data")


def parse_h2load(output: str) -> LoadResult:
    """Parse h2load's summary. Raises ValueError when the summary is missing (h2load failed)."""
    finished, reqs, status = _H2_FINISHED.search(output), _H2_REQUESTS.search(output), _H2_STATUS.search(output)
    if not (finished and reqs and status):
        raise ValueError("h2load printed no summary")
    seconds = float(finished.group(1)) * _UNIT_SECONDS[finished.group(2)]
    _total, started, done, succeeded, failed, errored, timeout = (int(g) for g in reqs.groups())
    s2xx, s3xx, s4xx, s5xx = (int(g) for g in status.groups())
    # h2load's "failed" already includes the errored requests and the 4xx/5xx responses (checked
    # on 1.52: 100 requests to a closed port print "100 failed, 100 errored"; 100 404s print
    # "100 failed, 0 errored"), so socket trouble is failed minus the 4xx/5xx responses.
    non_2xx = s3xx + s4xx + s5xx
    socket = max(failed - s4xx - s5xx, errored, timeout, 0)
    traffic = _H2_TRAFFIC.search(output)
    return LoadResult(requests=done, succeeded_2xx=s2xx, non_2xx=non_2xx, socket_errors=socket,
                      seconds=seconds, rps=float(finished.group(3)),
                      data_bytes=int(traffic.group(3)) if traffic else None,
                      in_flight_at_end=max(started - done, 0), succeeded=succeeded,
                      error_detail={"failed": failed, "errored": errored, "timeout": timeout,
                                    "3xx": s3xx, "4xx": s4xx, "5xx": s5xx})


def check_body_bytes(result: LoadResult, body_bytes: int) -> LoadResult:
    """Count the responses that did not carry the backend's `body_bytes`-byte body as errors.

    h2load counts a response by its :status only, and a gRPC error is an HTTP 200 with
    grpc-status in the trailers and no message (a trailers-only response). Every answer of the
    backend here has a body of known size, so the DATA bytes received show how many responses
    really came from it. Fewer bytes than `succeeded × body_bytes` are missing bodies; more are
    allowed up to one body per stream still in flight when the run stopped (its DATA may have
    arrived before its trailers), and beyond that are bodies that should not be there. Either
    way the error count is the number of bodies the difference amounts to (at least one).
    """
    if result.data_bytes is None:
        raise ValueError("h2load printed no traffic line")
    expected = result.succeeded * body_bytes
    if result.data_bytes < expected:
        off = expected - result.data_bytes
    else:
        off = max(0, result.data_bytes - expected - result.in_flight_at_end * body_bytes)
    result.body_errors = 0 if off == 0 else max(1, -(-off // body_bytes))
    result.error_detail["body_errors"] = result.body_errors
    return result


# -------------------------------------------------------------------------------------------- wrk

def wrk_argv(url: str, *, connections: int, duration_s: float, headers: dict[str, str] | None = None) -> list[str]:
    argv = ["wrk", "-t1", f"-c{connections}", f"-d{max(1, round(duration_s))}s"]
    for name, value in (headers or {}).items():
        argv += ["-H", f"{name}: {value}"]
    argv.append(url)
    return argv


_WRK_TOTAL = re.compile(r"(\d+) requests in ([\d.]+)(us|ms|s|m)")
_WRK_RPS = re.compile(r"Requests/sec:\s+([\d.]+)")
_WRK_SOCKET = re.compile(r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)")
_WRK_NON2XX = re.compile(r"Non-2xx or 3xx responses: (\d+)")
_UNIT_SECONDS = {"us": 1e-6, "ms": 1e-3, "s": 1.0, "m": 60.0}


def parse_wrk(output: str) -> LoadResult:
    """Parse wrk's summary. Raises ValueError when it is missing (wrk failed)."""
    total, rps = _WRK_TOTAL.search(output), _WRK_RPS.search(output)
    if not (total and rps):
        raise ValueError("wrk printed no summary")
    requests = int(total.group(1))
    detail = {"connect": 0, "read": 0, "write": 0, "timeout": 0, "non_2xx_3xx": 0}
    socket = _WRK_SOCKET.search(output)
    if socket:
        for key, value in zip(("connect", "read", "write", "timeout"), socket.groups()):
            detail[key] = int(value)
    non2xx = _WRK_NON2XX.search(output)
    detail["non_2xx_3xx"] = int(non2xx.group(1)) if non2xx else 0
    socket_errors = detail["connect"] + detail["read"] + detail["write"] + detail["timeout"]
    return LoadResult(requests=requests, succeeded_2xx=requests - detail["non_2xx_3xx"],
                      non_2xx=detail["non_2xx_3xx"], socket_errors=socket_errors,
                      seconds=float(total.group(2)) * _UNIT_SECONDS[total.group(3)], rps=float(rps.group(1)),
                      error_detail=detail)


# ----------------------------------------------------------------------------------------- strace

#: Syscalls that move bytes of a request or response.
IO_SYSCALLS = frozenset({"read", "write", "readv", "writev", "recvfrom", "sendto", "recvmsg", "sendmsg",
                         "recvmmsg", "sendmmsg", "splice", "sendfile", "pread64", "pwrite64"})
#: Syscalls that wait for or (re)register readiness.
POLL_SYSCALLS = frozenset({"epoll_wait", "epoll_pwait", "epoll_pwait2", "epoll_ctl", "poll", "ppoll",
                           "select", "pselect6"})


def parse_strace_counts(text: str) -> dict[str, int]:
    """Calls per syscall from `strace -c` output (the `total` line is left out)."""
    counts: dict[str, int] = {}
    in_table = False
    for line in text.splitlines():
        if line.startswith("------"):
            in_table = True
            continue
        tokens = line.split()
        if not in_table or len(tokens) < 5 or tokens[-1] == "total":
            continue
        # % time, seconds, usecs/call, calls, [errors], syscall
        try:
            counts[tokens[-1]] = counts.get(tokens[-1], 0) + int(tokens[3])
        except ValueError:
            continue
    return counts


# ------------------------------------------------------------------------------------------- perf

#: The per-syscall tracepoints counted by name; everything else is in the raw total.
PERF_NAMED_SYSCALLS = ("read", "readv", "recvfrom", "recvmsg", "write", "writev", "sendto", "sendmsg",
                       "sendmmsg", "splice", "epoll_wait", "epoll_pwait", "epoll_ctl", "accept4", "close", "futex")
PERF_TOTAL_EVENT = "raw_syscalls:sys_enter"
PERF_SWITCH_EVENT = "context-switches"


def perf_stat_argv(pids: list[int], out_file: str, workload: list[str]) -> list[str]:
    """`perf stat` counting the syscalls and context switches of `pids` while `workload` runs."""
    events = [PERF_TOTAL_EVENT, PERF_SWITCH_EVENT] + [f"syscalls:sys_enter_{n}" for n in PERF_NAMED_SYSCALLS]
    return ["perf", "stat", "-x,", "-o", out_file, "-e", ",".join(events),
            "-p", ",".join(str(p) for p in pids), "--", *workload]


def parse_perf_counts(text: str) -> tuple[dict[str, int], int | None]:
    """(calls per syscall, context switches) from `perf stat -x,` output.

    The named syscalls keep their names; what the raw total holds beyond them is `other`, so that
    the counts add up to every syscall made. A counter perf could not read is left out.
    """
    named: dict[str, int] = {}
    total = switches = None
    for line in text.splitlines():
        fields = line.split(",")
        if len(fields) < 3 or not fields[0].strip().isdigit():
            continue
        value, event = int(fields[0]), fields[2]
        if event == PERF_TOTAL_EVENT:
            total = value
        elif event == PERF_SWITCH_EVENT:
            switches = value
        elif event.startswith("syscalls:sys_enter_") and value > 0:
            named[event.removeprefix("syscalls:sys_enter_")] = value
    if total is None:
        return {}, switches
    other = total - sum(named.values())
    if other > 0:
        named["other"] = other
    return named, switches


def syscalls_per_request(counts: dict[str, int], requests: int) -> dict[str, object]:
    """Totals per request, split into I/O, readiness and other, plus the five most frequent calls."""
    if requests <= 0:
        raise ValueError("no requests")
    io = sum(n for name, n in counts.items() if name in IO_SYSCALLS)
    poll = sum(n for name, n in counts.items() if name in POLL_SYSCALLS)
    total = sum(counts.values())
    top = sorted(counts.items(), key=lambda kv: -kv[1])[:5]
    return {"total": total / requests, "io": io / requests, "poll": poll / requests,
            "other": (total - io - poll) / requests, "requests": requests,
            "top": {name: round(n / requests, 3) for name, n in top}}
