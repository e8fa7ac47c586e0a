"""Heap allocations of the whole devmesh process per request and per connection, against the
budgets in Benchmarks/Thresholds/proxy-allocations.json.

devmesh runs under LD_PRELOAD of Benchmarks/AllocPreload (built here with `cc` unless
DEVMESH_ALLOC_PRELOAD names a built library), which counts every malloc-family call per
thread and writes the counts when it gets SIGUSR2. Each test warms the proxy up with the same
traffic it then measures (so pools, buffers and scratch storage have reached their steady
size), reads the counts, sends N more requests, reads them again and divides. These are
counts, not timings: the result does not depend on the machine's speed or load.

Upstreams are nginx (fast and realistic); the client is a small keep-alive loop over raw
sockets that keeps its connections open across warm-up and measurement, so no connection is
set up inside the measured window of the keep-alive tests.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Optional

import pytest

from conftest import KEY, REPO
from harness import net

BUDGETS = json.loads((REPO / "Benchmarks" / "Thresholds" / "proxy-allocations.json").read_text())
PRELOAD_SOURCE = REPO / "Benchmarks" / "AllocPreload" / "alloc_preload.c"

CONNECTIONS = 4
WARM_UP_REQUESTS = 3_000
MEASURED_REQUESTS = 20_000
ACCESS_LOG_MEASURED_REQUESTS = 10_000
WARM_UP_CONNECTIONS = 200
MEASURED_CONNECTIONS = 1_000

pytestmark = pytest.mark.skipif(os.environ.get("DEVMESH_STANDIN") == "nginx",
                                reason="allocation counts are about the devmesh binary, not the nginx stand-in")


# ---- the preload library and its report ----------------------------------------------------

@pytest.fixture(scope="session")
def alloc_preload(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The counting library: DEVMESH_ALLOC_PRELOAD, or built from source for this session."""
    given = os.environ.get("DEVMESH_ALLOC_PRELOAD")
    if given:
        path = Path(given)
        assert path.is_file(), f"DEVMESH_ALLOC_PRELOAD={given} does not exist"
        return path
    compiler = shutil.which("cc") or shutil.which("gcc") or shutil.which("clang")
    assert compiler, "no C compiler (cc, gcc or clang) to build Benchmarks/AllocPreload"
    out = tmp_path_factory.mktemp("alloc-preload") / "libdevmesh_alloc_preload.so"
    subprocess.run([compiler, "-O2", "-shared", "-fPIC", "-o", str(out), str(PRELOAD_SOURCE)],
                   check=True, capture_output=True)
    return out


@dataclass
class Counts:
    """One SIGUSR2 report: allocations and frees per thread id, with the threads' names."""
    allocations: int
    frees: int
    threads: dict[int, tuple[str, int, int]]  # tid -> (name, allocations, frees)

    def minus(self, earlier: "Counts") -> dict[str, int]:
        """Allocations per thread name made since `earlier` (threads that made none left out)."""
        out: dict[str, int] = {}
        for tid, (name, allocs, _) in self.threads.items():
            delta = allocs - earlier.threads.get(tid, (name, 0, 0))[1]
            if delta:
                key = f"{name} (tid {tid})"
                out[key] = out.get(key, 0) + delta
        return out


class AllocationCounter:
    """Reads the counts of a devmesh process started under the preload library."""

    def __init__(self, pid: int, report: Path):
        self.pid = pid
        self.report = report

    def read(self, timeout: float = 5.0) -> Counts:
        """The counts once the process is idle: the worker finishes an exchange (access-log line,
        returning buffers) just after the client got its response, so reports are taken until
        two in a row agree."""
        deadline = time.monotonic() + timeout
        previous = self.read_once(timeout)
        while True:
            current = self.read_once(max(0.1, deadline - time.monotonic()))
            if current.allocations == previous.allocations:
                return current
            assert time.monotonic() < deadline, "allocation count never settled: is devmesh still busy?"
            previous = current

    def read_once(self, timeout: float) -> Counts:
        # The handler truncates the file and writes the whole report in one go, ending with
        # "end"; removing the file first means a stale report can never be mistaken for this one.
        self.report.unlink(missing_ok=True)
        os.kill(self.pid, signal.SIGUSR2)

        def complete() -> Optional[str]:
            try:
                text = self.report.read_text()
            except FileNotFoundError:
                return None
            return text if text.endswith("end\n") else None
        text = net.wait_until(complete, timeout, "the allocation report after SIGUSR2")
        total = (0, 0)
        threads: dict[int, tuple[str, int, int]] = {}
        for line in text.splitlines():
            parts = line.split()
            if parts[0] == "total":
                total = (int(parts[1]), int(parts[2]))
            elif parts[0] == "thread":
                tid = int(parts[1])
                threads[tid] = (self._thread_name(tid), int(parts[2]), int(parts[3]))
        return Counts(total[0], total[1], threads)

    def _thread_name(self, tid: int) -> str:
        try:
            return Path(f"/proc/{self.pid}/task/{tid}/comm").read_text().strip()
        except OSError:
            return "exited"


@pytest.fixture
def counted_devmesh(devmesh, nginx_upstream, alloc_preload, tmp_path):
    """Factory: baseline and sandbox nginx upstreams, and devmesh (one worker) routing KEY to the
    sandbox under the counting library. Returns (dm, counter)."""
    def make(*extra: str):
        baseline, sandbox = nginx_upstream("baseline"), nginx_upstream("sandbox")
        report = tmp_path / "allocations.txt"
        dm = devmesh("--baseline", baseline.address, "--route", f"{KEY}={sandbox.address}", "--workers", "1",
                     *extra, env={"LD_PRELOAD": str(alloc_preload), "DEVMESH_ALLOC_COUNT_FILE": str(report)})
        counter = AllocationCounter(dm.pid, report)
        # The library must really be loaded: a report must come back.
        assert counter.read_once(5.0).allocations > 0, "the preload library counted nothing"
        return dm, counter
    return make


# ---- load ----------------------------------------------------------------------------------

KEYED = (b"GET /name HTTP/1.1\r\nHost: orders\r\nuser-agent: alloc-test\r\n"
         b"traceparent: 00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01\r\n"
         b"baggage: userId=alice,sd-routing-key=" + KEY.encode() + b"\r\n\r\n")
UNKEYED = (b"GET /name HTTP/1.1\r\nHost: orders\r\nuser-agent: alloc-test\r\n"
           b"traceparent: 00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01\r\n\r\n")


class KeepAliveLoad:
    """Alternating keyed and unkeyed GETs over a fixed set of keep-alive connections: one
    request is sent on every connection, then every response is read, so the proxy sees
    several requests in flight. Every response must be a 200 from the expected upstream."""

    def __init__(self, port: int, connections: int):
        self.socks = [net.connect(port) for _ in range(connections)]
        self.buffers = [b""] * connections
        self.sent = 0

    def run(self, requests: int) -> None:
        done = 0
        while done < requests:
            batch = min(len(self.socks), requests - done)
            keyed = []
            for i in range(batch):
                is_keyed = (self.sent + i) % 2 == 0
                keyed.append(is_keyed)
                self.socks[i].sendall(KEYED if is_keyed else UNKEYED)
            for i in range(batch):
                status, body = self._read_response(i)
                want = b"sandbox\n" if keyed[i] else b"baseline\n"
                assert status == 200 and body == want, f"request {self.sent + i}: {status} {body!r}, wanted {want!r}"
            self.sent += batch
            done += batch

    def _read_response(self, i: int) -> tuple[int, bytes]:
        sock, data = self.socks[i], self.buffers[i]
        while b"\r\n\r\n" not in data:
            chunk = sock.recv(65536)
            assert chunk, "devmesh closed a keep-alive connection"
            data += chunk
        head, _, rest = data.partition(b"\r\n\r\n")
        lines = head.split(b"\r\n")
        status = int(lines[0].split()[1])
        length = next(int(l.split(b":", 1)[1]) for l in lines[1:] if l.lower().startswith(b"content-length:"))
        while len(rest) < length:
            chunk = sock.recv(65536)
            assert chunk, "devmesh closed a keep-alive connection mid-body"
            rest += chunk
        self.buffers[i] = rest[length:]
        return status, rest[:length]

    def close(self) -> None:
        for s in self.socks:
            s.close()


def one_request_per_connection(port: int, connections: int) -> None:
    """`connections` times: connect, one request with `Connection: close`, read to EOF, close."""
    for n in range(connections):
        request = (KEYED if n % 2 == 0 else UNKEYED).replace(b"\r\n\r\n", b"\r\nConnection: close\r\n\r\n")
        with net.connect(port) as sock:
            sock.sendall(request)
            data = b""
            while chunk := sock.recv(65536):
                data += chunk
        assert data.startswith(b"HTTP/1.1 200 "), f"connection {n}: {data[:80]!r}"


def per_unit(before: Counts, after: Counts, units: int) -> float:
    return (after.allocations - before.allocations) / units


def describe(figure: float, unit: str, before: Counts, after: Counts) -> str:
    return (f"{figure:.4f} allocations per {unit}; by thread: {after.minus(before) or 'none'}; "
            f"(see Benchmarks/Thresholds/proxy-allocations.json for the known call sites)")


# ---- tests ---------------------------------------------------------------------------------

def test_keep_alive_requests_allocate_within_budget(counted_devmesh):
    dm, counter = counted_devmesh()
    load = KeepAliveLoad(dm.port, CONNECTIONS)
    try:
        load.run(WARM_UP_REQUESTS)
        before = counter.read()
        started = time.monotonic()
        load.run(MEASURED_REQUESTS)
        elapsed = time.monotonic() - started
        after = counter.read()
    finally:
        load.close()
    figure = per_unit(before, after, MEASURED_REQUESTS)
    print(f"\nkeep-alive: {MEASURED_REQUESTS} requests in {elapsed:.1f} s, "
          + describe(figure, "request", before, after))
    assert figure <= BUDGETS["max_allocations_per_request"], describe(figure, "request", before, after)


def test_keep_alive_requests_with_access_log_allocate_within_budget(counted_devmesh, tmp_path):
    log = tmp_path / "access.log"
    dm, counter = counted_devmesh("--access-log", str(log))
    load = KeepAliveLoad(dm.port, CONNECTIONS)
    try:
        load.run(WARM_UP_REQUESTS)
        before = counter.read()
        load.run(ACCESS_LOG_MEASURED_REQUESTS)
        after = counter.read()
    finally:
        load.close()
    figure = per_unit(before, after, ACCESS_LOG_MEASURED_REQUESTS)
    print(f"\naccess log on: {describe(figure, 'request', before, after)}")
    assert figure <= BUDGETS["max_allocations_per_request_access_log"], describe(figure, "request", before, after)
    # The log really was written (lines are flushed at 32 KiB and by a periodic task).
    net.wait_until(lambda: log.exists() and log.read_bytes().count(b"\n") >= WARM_UP_REQUESTS, 5,
                   "access log lines")


def test_new_connections_allocate_within_budget(counted_devmesh):
    dm, counter = counted_devmesh()
    one_request_per_connection(dm.port, WARM_UP_CONNECTIONS)
    before = counter.read()
    # Each connection's allocations happen before its response is written, and the client
    # reads to EOF, so they are all inside the window when the loop ends. (No admin request
    # here: the admin server runs on the control thread and would count too.)
    one_request_per_connection(dm.port, MEASURED_CONNECTIONS)
    after = counter.read()
    figure = per_unit(before, after, MEASURED_CONNECTIONS)
    print(f"\nconnection per request: {describe(figure, 'connection', before, after)}")
    assert figure <= BUDGETS["max_allocations_per_connection"], describe(figure, "connection", before, after)
