"""Binary upgrade without a refused connection (F13): listener handover over SCM_RIGHTS.

A devmesh started with the `handover_socket` of a running one takes that process's listening
sockets (the very kernel objects, with their accept queues), serves them, and the old process
drains. Checked on real binaries over loopback, under continuous load from three kinds of
clients (a new connection per request, HTTP/1.1 keep-alive, h2c keep-alive):

- no refused connection, no reset, no failed request, across the whole upgrade;
- the old process exits 0 within its drain deadline; the new one serves the same ports (the
  same sockets: their inode numbers are compared) and answers the admin port;
- worker counts may differ (2 -> 1, 1 -> 2) and the configuration may change;
- a stale socket file, a predecessor killed in mid-handover, and a peer that speaks nonsense
  all end with a serving process, and descriptors are never leaked (/proc/PID/fd).

Every wait has a deadline; load runs for a bounded time.
"""

from __future__ import annotations

import os
import shutil
import signal
import socket
import struct
import tempfile
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterator, Optional

import pytest
import yaml

from conftest import KEY, devmesh_command
from harness import controlplane as cp
from harness import net
from harness.client import Client, build_request
from harness.devmesh import Devmesh
from harness.h2client import H2Client, request_headers
from test_control_plane_support import fake_routes, routes_pb2  # noqa: F401  (fixtures)

REFUSED_STREAM = 0x7
DRAIN_TIMEOUT = 5.0  # seconds: what the old process gets; it must exit well within it
LOAD_SECONDS = 1.0  # of load before the handover, and again after it


# ---- processes ---------------------------------------------------------------------------------

@pytest.fixture
def socket_dir() -> Iterator[Path]:
    """A short directory for the handover socket (a unix socket path holds at most 107 bytes,
    and pytest's tmp_path can be longer than that)."""
    path = Path(tempfile.mkdtemp(prefix="dmho-", dir="/tmp"))
    yield path
    shutil.rmtree(path, ignore_errors=True)


@pytest.fixture
def proxies(tmp_path: Path, upstream: Any) -> Iterator[Any]:
    """Factory: proxies(services, handover=path, workers=N, listen=ADDR) starts devmesh with
    its own config file. At teardown every process still running is drained (SIGTERM) and must
    exit 0 with no crash report, unless the test said otherwise (`accepted_exit`)."""
    started: list[Devmesh] = []

    def make(services: list[dict[str, Any]], *, handover: Optional[Path], workers: int = 2,
             listen: str = f"{net.LOOPBACK}:0", admin: str = f"{net.LOOPBACK}:0", wait: bool = True,
             agent: Optional[dict[str, Any]] = None) -> Devmesh:
        doc: dict[str, Any] = {"listen": [listen], "admin": admin, "workers": workers,
                               "drain_timeout": f"{DRAIN_TIMEOUT:g}s", "services": services}
        if agent is not None:
            doc["agent"] = agent
        if handover is not None:
            doc["handover_socket"] = str(handover)
        config = tmp_path / f"devmesh-{len(started)}.yaml"
        config.write_text(yaml.safe_dump(doc, sort_keys=False))
        dm = Devmesh(devmesh_command(), ["--config", str(config)], tmp_path)
        started.append(dm)
        if wait:
            dm.start()
            if handover is not None:  # upgradable from here on (the listening lines come first)
                dm.wait_stderr(r"handover socket on " + str(handover), timeout=10)
        return dm

    yield make
    failures = []
    for dm in started:
        if dm.proc is None:
            continue
        dm.stop(timeout=DRAIN_TIMEOUT + 5)
        try:
            dm.assert_clean_exit()
        except AssertionError as e:
            failures.append(str(e))
    if failures:
        pytest.fail("\n".join(failures), pytrace=False)


def service(baseline: Any, routes: Optional[dict[str, Any]] = None) -> list[dict[str, Any]]:
    """One service (HTTP/1.1 to the upstreams, so h2c clients are translated)."""
    s: dict[str, Any] = {"name": "app", "baseline": [baseline.address], "protocol": "http1"}
    if routes:
        s["routes"] = [{"key": key, "endpoints": [u.address]} for key, u in routes.items()]
    return [s]


def wait_exit(dm: Devmesh, timeout: float) -> int:
    rc = dm.wait_exit(timeout)
    assert rc is not None, f"pid {dm.pid} still running {timeout:.0f}s after the handover:\n{dm.stderr_text}"
    return rc


# ---- what the kernel says about the processes --------------------------------------------------

def socket_inodes(pid: int) -> set[int]:
    """Inodes of the sockets process `pid` holds open."""
    inodes = set()
    for entry in Path(f"/proc/{pid}/fd").iterdir():
        try:
            target = os.readlink(entry)
        except OSError:
            continue
        if target.startswith("socket:["):
            inodes.add(int(target[8:-1]))
    return inodes


def listening_inodes(port: int) -> set[int]:
    """Inodes of every TCP socket listening on 127.0.0.1:`port` (/proc/net/tcp, state 0A)."""
    want = f"0100007F:{port:04X}"
    inodes = set()
    for line in Path("/proc/net/tcp").read_text().splitlines()[1:]:
        fields = line.split()
        if fields[1] == want and fields[3] == "0A":
            inodes.add(int(fields[9]))
    return inodes


def started_descriptors(pid: int, workers: int, timeout: float = 5.0) -> dict[str, int]:
    """`open_descriptors` once every event loop exists: the control thread's signalfd, eventfd
    and epoll, and each worker's eventfd and epoll (worker threads create theirs after the
    process reports that it listens)."""
    loops = 3 + 2 * workers
    return net.wait_until(lambda: (d := open_descriptors(pid)).get("anon_inode") == loops and d, timeout,
                          f"{loops} event-loop descriptors in pid {pid}")


def open_descriptors(pid: int) -> dict[str, int]:
    """Open descriptors of `pid` by kind (socket, pipe, anon_inode:..., file)."""
    kinds: dict[str, int] = {}
    for entry in Path(f"/proc/{pid}/fd").iterdir():
        try:
            target = os.readlink(entry)
        except OSError:
            continue
        kind = target.split(":")[0] if "[" in target else "file"
        kinds[kind] = kinds.get(kind, 0) + 1
    return kinds


# ---- load: three kinds of clients with a ledger ------------------------------------------------

@dataclass
class Ledger:
    """Outcomes of every request the load clients made, by client kind."""
    ok: dict[str, int] = field(default_factory=dict)
    problems: list[str] = field(default_factory=list)  # refused, reset, failed: each one a test failure
    goaway_retries: int = 0  # h2 streams above a GOAWAY's last id, sent again (RFC 9113 §6.8 allows it)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def success(self, kind: str) -> None:
        with self.lock:
            self.ok[kind] = self.ok.get(kind, 0) + 1

    def problem(self, what: str) -> None:
        with self.lock:
            self.problems.append(what)

    def total(self, kind: str) -> int:
        with self.lock:
            return self.ok.get(kind, 0)


class Load:
    """Runs the clients until stopped. Every socket error, refusal, non-200 status or cut
    response is recorded as a problem; nothing is retried except what HTTP itself allows."""

    def __init__(self, port: int, *, new_connection_loops: int = 2, keepalive_h1: int = 2, keepalive_h2: int = 2,
                 headers: tuple[tuple[str, str], ...] = ()):
        self.port = port
        self.headers = headers
        self.ledger = Ledger()
        self.stop_flag = threading.Event()
        self.upstreams_seen: dict[str, int] = {}
        self.threads = [threading.Thread(target=self._guard, args=(self._new_connections, f"new-{i}"), daemon=True)
                        for i in range(new_connection_loops)]
        self.threads += [threading.Thread(target=self._guard, args=(self._keepalive_h1, f"h1-{i}"), daemon=True)
                         for i in range(keepalive_h1)]
        self.threads += [threading.Thread(target=self._guard, args=(self._keepalive_h2, f"h2-{i}"), daemon=True)
                         for i in range(keepalive_h2)]

    def __enter__(self) -> "Load":
        for t in self.threads:
            t.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def stop(self) -> None:
        self.stop_flag.set()
        for t in self.threads:
            t.join(timeout=20)
        assert not any(t.is_alive() for t in self.threads), "a load client hung"

    def wait_requests(self, kind: str, more_than: int, timeout: float = 10.0) -> None:
        net.wait_until(lambda: self.ledger.total(kind) > more_than, timeout, f"more than {more_than} {kind} requests")

    def run_for(self, seconds: float, at_least: int = 20) -> None:
        """Lets the clients run for `seconds` (the length of the workload, not a wait for some
        condition), and until each kind made `at_least` more requests."""
        start = {kind: self.ledger.total(kind) for kind in ("new", "h1", "h2")}
        self.stop_flag.wait(seconds)
        for kind, count in start.items():
            self.wait_requests(kind, count + at_least)

    def _guard(self, body: Any, name: str) -> None:
        try:
            body(name)
        except Exception as e:  # a bug in the client itself must fail the test, not vanish
            self.ledger.problem(f"{name}: client crashed: {e!r}")

    def _seen(self, upstream: Optional[str]) -> None:
        with self.ledger.lock:
            key = upstream or "-"
            self.upstreams_seen[key] = self.upstreams_seen.get(key, 0) + 1

    # A new connection per request: what reveals a refused connect or a reset accept queue.
    def _new_connections(self, name: str) -> None:
        n = 0
        while not self.stop_flag.is_set():
            n += 1
            try:
                c = Client(self.port, timeout=10.0)
            except ConnectionRefusedError:
                self.ledger.problem(f"{name} #{n}: connection refused")
                continue
            except OSError as e:
                self.ledger.problem(f"{name} #{n}: connect failed: {e!r}")
                continue
            try:
                resp = c.request("GET", f"/new/{name}/{n}", [("Connection", "close"), *self.headers])
            except OSError as e:
                self.ledger.problem(f"{name} #{n}: {e!r} while sending")
                continue
            finally:
                c.close()
            if resp.status == 200 and resp.complete:
                self.ledger.success("new")
                self._seen(resp.upstream)
            else:
                self.ledger.problem(f"{name} #{n}: {resp!r}")

    # Keep-alive HTTP/1.1: a response with `connection: close` means "open a new one" (RFC 9112
    # §9.6); anything else ending the connection is a failure.
    def _keepalive_h1(self, name: str) -> None:
        n = 0
        c: Optional[Client] = None
        while not self.stop_flag.is_set():
            if c is None:
                try:
                    c = Client(self.port, timeout=10.0)
                except OSError as e:
                    self.ledger.problem(f"{name}: connect failed: {e!r}")
                    continue
            n += 1
            try:
                resp = c.request("GET", f"/h1/{name}/{n}", self.headers)
            except OSError as e:
                self.ledger.problem(f"{name} #{n}: {e!r} while sending")
                c.close()
                c = None
                continue
            if resp.status == 200 and resp.complete:
                self.ledger.success("h1")
                self._seen(resp.upstream)
            else:
                self.ledger.problem(f"{name} #{n}: {resp!r}")
            if not resp.complete or (resp.header("connection") or "").lower() == "close":
                c.close()
                c = None
        if c is not None:
            c.close()

    # Keep-alive h2c, up to 4 streams at a time. After a GOAWAY no new stream is opened on the
    # connection; streams above its last id were not processed and are sent again on a new
    # connection (RFC 9113 §6.8), streams at or below it must complete.
    def _keepalive_h2(self, name: str) -> None:
        n = 0
        queue: list[str] = []
        while not self.stop_flag.is_set() or queue:
            try:
                c = H2Client(self.port, connect_timeout=10.0)
            except OSError as e:
                self.ledger.problem(f"{name}: connect failed: {e!r}")
                if self.stop_flag.is_set():
                    return
                continue
            pending: dict[int, str] = {}
            try:
                while True:
                    while not c.goaways and len(pending) < 4 and (queue or not self.stop_flag.is_set()):
                        if queue:
                            path = queue.pop()
                        else:
                            n += 1
                            path = f"/h2/{name}/{n}"
                        pending[c.request(request_headers(path=path, extra=self.headers))] = path
                    if not pending:
                        break
                    if not c.pump(10.0):
                        how = c.io.closed.how if c.io.closed else "?"
                        last = c.goaways[-1][0] if c.goaways else None
                        for sid, path in pending.items():
                            if last is not None and sid > last:
                                queue.append(path)
                                self.ledger.goaway_retries += 1
                            else:
                                self.ledger.problem(f"{name} {path}: connection ended ({how}) with the stream open")
                        pending.clear()
                        break
                    for sid in [s for s in pending if c.streams[s].done]:
                        path = pending.pop(sid)
                        result = c.streams[sid]
                        if result.reset_code == REFUSED_STREAM:
                            queue.append(path)
                            self.ledger.goaway_retries += 1
                        elif result.status == 200 and result.ended and result.reset_code is None:
                            self.ledger.success("h2")
                            self._seen(result.header("x-upstream"))
                        else:
                            self.ledger.problem(f"{name} {path}: status {result.status}, reset {result.reset_code}")
                    if c.goaways:
                        last = c.goaways[-1][0]
                        for sid in [s for s in pending if s > last]:
                            queue.append(pending.pop(sid))
                            self.ledger.goaway_retries += 1
            except (OSError, net.DeadlineExceeded) as e:
                for path in pending.values():
                    self.ledger.problem(f"{name} {path}: {e!r}")
            finally:
                c.close()


def assert_nothing_lost(load: Load) -> None:
    problems = load.ledger.problems
    assert not problems, f"{len(problems)} problem(s) during the handover, first ones:\n" + "\n".join(problems[:15])
    for kind in ("new", "h1", "h2"):
        assert load.ledger.total(kind) > 0, f"no {kind} request succeeded: {load.ledger.ok}"


def handover(old: Devmesh, new_factory: Any, load: Optional[Load]) -> Devmesh:
    """Starts the successor while `load` runs, waits for the old process to drain and exit.
    Returns the new process."""
    new = new_factory()
    new.wait_stderr(r"handover: pid \d+ stopped accepting and is draining", timeout=10)
    old.wait_stderr(r"handed over to pid %d, draining" % new.pid, timeout=10)
    started = time.monotonic()
    rc = wait_exit(old, DRAIN_TIMEOUT + 3)
    took = time.monotonic() - started
    assert rc == 0, f"the old process exited with {rc}:\n{old.stderr_text}"
    assert took < DRAIN_TIMEOUT, f"the old process took {took:.1f}s to drain (deadline {DRAIN_TIMEOUT}s)"
    old.wait_stderr("drained; exiting", timeout=2)  # not the drain deadline
    if load:
        load.run_for(LOAD_SECONDS)  # against the successor alone
    return new


# ---- the upgrade under load --------------------------------------------------------------------

def test_upgrade_under_load_refuses_and_resets_nothing(proxies, upstream, socket_dir):
    """F13: a binary upgrade under HTTP/1.1 and h2c load: no refused connection, no reset, nothing lost."""
    baseline = upstream("baseline")
    sock = socket_dir / "h.sock"
    old = proxies(service(baseline), handover=sock, workers=2)
    port, admin_port = old.port, old.admin_port
    old_listeners = listening_inodes(port)
    assert len(old_listeners) == 2 and old_listeners <= socket_inodes(old.pid)
    with Load(port) as load:
        load.run_for(LOAD_SECONDS)
        new = handover(old, lambda: proxies(service(baseline), handover=sock, workers=2), load)
    assert_nothing_lost(load)
    print(f"requests: {load.ledger.ok}, h2 streams sent again after a GOAWAY: {load.ledger.goaway_retries}")
    assert (new.port, new.admin_port) == (port, admin_port), "the successor serves other ports"
    # The very same listening sockets: handed over, not bound again.
    assert listening_inodes(port) == old_listeners
    assert old_listeners <= socket_inodes(new.pid)
    # Only the new process is left to answer the admin port.
    assert new.admin("/routes").status == 200
    assert new.metrics().value("devmesh_downstream_connections_accepted_total") > 0
    assert sock.is_socket(), "the successor does not listen on the handover socket"


def test_descriptors_after_handover_are_those_of_a_fresh_start(proxies, upstream, socket_dir):
    """The successor holds exactly what a process started alone holds: nothing received and
    left unadopted, no handover connection left open."""
    baseline = upstream("baseline")
    sock = socket_dir / "h.sock"
    alone = proxies(service(baseline), handover=sock, workers=2)
    reference = started_descriptors(alone.pid, workers=2)
    new = handover(alone, lambda: proxies(service(baseline), handover=sock, workers=2), None)
    assert started_descriptors(new.pid, workers=2) == reference


@pytest.mark.parametrize("old_workers,new_workers", [(2, 1), (1, 2)])
def test_worker_count_may_change_across_the_handover(proxies, upstream, socket_dir, old_workers, new_workers):
    baseline = upstream("baseline")
    sock = socket_dir / "h.sock"
    old = proxies(service(baseline), handover=sock, workers=old_workers)
    port = old.port
    old_listeners = listening_inodes(port)
    assert len(old_listeners) == old_workers
    with Load(port, new_connection_loops=2, keepalive_h1=1, keepalive_h2=1) as load:
        load.run_for(LOAD_SECONDS)
        new = handover(old, lambda: proxies(service(baseline), handover=sock, workers=new_workers), load)
    assert_nothing_lost(load)
    now = listening_inodes(port)
    # Every inherited socket is kept (closing one would reset its queue); a missing one is bound.
    assert old_listeners <= now and now <= socket_inodes(new.pid)
    assert len(now) == max(old_workers, new_workers)


def test_a_config_change_applies_across_the_handover(proxies, upstream, socket_dir):
    baseline, first, second = upstream("baseline"), upstream("first"), upstream("second")
    sock = socket_dir / "h.sock"
    old = proxies(service(baseline, {KEY: first}), handover=sock)
    with Load(old.port, headers=(("baggage", f"sd-routing-key={KEY}"),)) as load:
        load.run_for(LOAD_SECONDS)
        new = handover(old, lambda: proxies(service(baseline, {KEY: second}), handover=sock), load)
    assert_nothing_lost(load)
    assert set(load.upstreams_seen) == {"first", "second"}, load.upstreams_seen
    resp = Client(new.port).request("GET", "/", [("baggage", f"sd-routing-key={KEY}")])
    assert resp.status == 200 and resp.upstream == "second"
    routes = new.admin("/routes").text
    assert second.address in routes and first.address not in routes, routes


def test_the_successor_hands_over_in_turn(proxies, upstream, socket_dir):
    baseline = upstream("baseline")
    sock = socket_dir / "h.sock"
    first = proxies(service(baseline), handover=sock)
    port = first.port
    second = handover(first, lambda: proxies(service(baseline), handover=sock), None)
    third = handover(second, lambda: proxies(service(baseline), handover=sock), None)
    assert third.port == port
    assert Client(port).request("GET", "/").status == 200


def test_a_successor_following_an_agent_takes_over_only_once_synced(proxies, upstream, socket_dir, fake_routes):
    """Before its first SYNCED the successor's table has no sandbox routes: had it taken the
    sockets then, keyed requests would have gone to the baseline. It waits; the old process
    serves meanwhile; and no keyed request ever reaches the baseline."""
    baseline, sandbox = upstream("baseline"), upstream("sandbox")
    sock = socket_dir / "h.sock"
    key = "keyed-sandbox"

    def script(index: int, request: Any) -> list[Any]:
        first = [server.op("ADD", server.rule(key, sandbox.address))]
        return first + [server.op("SYNCED")] if index == 0 else first  # the successor waits for SYNCED

    server = fake_routes(script)
    services = [{**service(baseline)[0], "workload": cp.WORKLOAD, "workload_port": cp.WORKLOAD_PORT}]
    agent = {"address": f"{net.LOOPBACK}:{server.port}", "sync_timeout": "30s"}
    old = proxies(services, handover=sock, agent=agent)
    cp.wait_watch_state(old, "synced", 10)
    with Load(old.port, headers=(("baggage", f"sd-routing-key={key}"),)) as load:
        load.run_for(LOAD_SECONDS)
        new = proxies(services, handover=sock, agent=agent, wait=False)
        starter = threading.Thread(target=new.start, daemon=True)
        starter.start()
        net.wait_until(lambda: new.proc is not None, 5, "the successor to be spawned")
        new.wait_stderr("waiting for the routes from the agent before taking over", timeout=10)
        second = server.wait_calls(2)
        load.run_for(LOAD_SECONDS)  # a window in which the successor must not take over
        assert "handed over" not in old.stderr_text, old.stderr_text
        second.send(server.op("SYNCED"))
        new.wait_stderr(r"handover: pid \d+ stopped accepting and is draining", timeout=10)
        starter.join(timeout=10)
        assert wait_exit(old, DRAIN_TIMEOUT + 3) == 0
        load.run_for(LOAD_SECONDS)
    assert_nothing_lost(load)
    assert load.upstreams_seen.keys() == {"sandbox"}, load.upstreams_seen


# ---- failed handovers: the new process still starts ---------------------------------------------

def test_a_stale_socket_file_is_replaced(proxies, upstream, socket_dir):
    sock = socket_dir / "h.sock"
    dead = socket.socket(socket.AF_UNIX, socket.SOCK_SEQPACKET)
    dead.bind(str(sock))
    dead.listen(1)
    dead.close()  # the file stays: what a process killed with SIGKILL leaves
    dm = proxies(service(upstream("baseline")), handover=sock)
    assert "nothing listens on" in dm.stderr_text and "binding the listeners here" in dm.stderr_text
    assert Client(dm.port).request("GET", "/").status == 200
    probe = socket.socket(socket.AF_UNIX, socket.SOCK_SEQPACKET)
    probe.connect(str(sock))  # live again: the new process listens on it
    probe.close()


def test_predecessor_killed_mid_handover(proxies, upstream, socket_dir):
    """The old process is frozen (SIGSTOP: the kernel still queues the successor's connection)
    and killed while the successor waits for its listeners: the successor binds its own."""
    baseline = upstream("baseline")
    sock = socket_dir / "h.sock"
    port = net.free_port()
    old = proxies(service(baseline), handover=sock, listen=f"{net.LOOPBACK}:{port}")
    old.accepted_exit = None  # killed on purpose
    os.kill(old.pid, signal.SIGSTOP)
    new = proxies(service(baseline), handover=sock, listen=f"{net.LOOPBACK}:{port}", wait=False)
    starter = threading.Thread(target=new.start, daemon=True)
    starter.start()
    try:
        net.wait_until(lambda: new.proc is not None, 5, "the successor to be spawned")
        new.wait_stderr(r"handover: asking devmesh pid %d" % old.pid, timeout=10)
    finally:
        os.kill(old.pid, signal.SIGKILL)  # not Devmesh.kill(): that marks a failed drain
        old.wait_exit(5)
    starter.join(timeout=15)
    assert not starter.is_alive() and new.port == port, new.stderr_text
    assert "handover over" in new.stderr_text and "binding the listeners here" in new.stderr_text
    assert Client(port).request("GET", "/").status == 200


# ---- a peer that speaks nonsense ----------------------------------------------------------------

MAGIC = b"DMHO"


def message(kind: int, body: bytes = b"", version: int = 1) -> bytes:
    return MAGIC + bytes([version, kind]) + body


def listeners_message(entries: list[tuple[int, int, int, str]], first: int = 0, last: bool = True,
                      count: Optional[int] = None) -> bytes:
    body = struct.pack(">IHBH", os.getpid(), first, 1 if last else 0, len(entries) if count is None else count)
    for kind, group, worker, address in entries:
        text = address.encode()
        body += struct.pack(">BHHB", kind, group, worker, len(text)) + text
    return message(2, body)


class FakePredecessor:
    """Listens on the handover socket and answers the successor's hello with `answer`
    (bytes, plus descriptors), then waits for the connection to end."""

    def __init__(self, path: Path, answer: bytes, fds: list[int]):
        self.listener = socket.socket(socket.AF_UNIX, socket.SOCK_SEQPACKET)
        self.listener.bind(str(path))
        self.listener.listen(1)
        self.answer, self.fds = answer, fds
        self.hello: Optional[bytes] = None
        self.thread = threading.Thread(target=self._serve, daemon=True)
        self.thread.start()

    def _serve(self) -> None:
        self.listener.settimeout(20)
        try:
            conn, _ = self.listener.accept()
        except OSError:
            return
        with conn:
            conn.settimeout(20)
            self.hello = conn.recv(4096)
            socket.send_fds(conn, [self.answer], self.fds)
            try:
                while conn.recv(4096):
                    pass
            except OSError:
                pass

    def close(self) -> None:
        self.listener.close()
        self.thread.join(timeout=5)


def tcp_listener() -> socket.socket:
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
    s.bind((net.LOOPBACK, 0))
    s.listen(16)
    return s


def malformed_answers() -> list[Any]:
    """Builders of bad answers to a hello; each returns (answer bytes, descriptors to attach,
    objects to keep open until the test ends)."""
    def garbage() -> tuple[bytes, list[int], list[Any]]:
        return b"hello, I am not devmesh", [], []

    def wrong_version() -> tuple[bytes, list[int], list[Any]]:
        return message(2, b"", version=9), [], []

    def unknown_type() -> tuple[bytes, list[int], list[Any]]:
        return message(77), [], []

    def truncated_entry() -> tuple[bytes, list[int], list[Any]]:
        return listeners_message([], count=3), [], []

    def fewer_descriptors_than_entries() -> tuple[bytes, list[int], list[Any]]:
        s = tcp_listener()
        address = f"{net.LOOPBACK}:{s.getsockname()[1]}"
        return listeners_message([(1, 0, 0, address), (1, 0, 1, address)]), [s.fileno()], [s]

    def a_pipe_instead_of_a_listener() -> tuple[bytes, list[int], list[Any]]:
        r, w = os.pipe()
        return listeners_message([(1, 0, 0, f"{net.LOOPBACK}:1")]), [r], [r, w]

    def a_listener_on_another_address() -> tuple[bytes, list[int], list[Any]]:
        s = tcp_listener()
        return listeners_message([(1, 0, 0, f"{net.LOOPBACK}:{s.getsockname()[1] ^ 1}")]), [s.fileno()], [s]

    def a_name_instead_of_an_address() -> tuple[bytes, list[int], list[Any]]:
        s = tcp_listener()
        return listeners_message([(1, 0, 0, f"localhost:{s.getsockname()[1]}")]), [s.fileno()], [s]

    def a_batch_that_is_not_last_then_silence() -> tuple[bytes, list[int], list[Any]]:
        s = tcp_listener()
        address = f"{net.LOOPBACK}:{s.getsockname()[1]}"
        return listeners_message([(1, 0, 0, address)], last=False), [s.fileno()], [s]

    def refused() -> tuple[bytes, list[int], list[Any]]:
        reason = b"busy"
        return message(5, struct.pack(">H", len(reason)) + reason), [], []

    return [garbage, wrong_version, unknown_type, truncated_entry, fewer_descriptors_than_entries,
            a_pipe_instead_of_a_listener, a_listener_on_another_address, a_name_instead_of_an_address,
            a_batch_that_is_not_last_then_silence, refused]


@pytest.mark.parametrize("builder", malformed_answers(), ids=lambda f: f.__name__)
def test_a_malformed_predecessor_is_survived(proxies, upstream, socket_dir, builder):
    """The successor rejects the answer, closes whatever descriptors came with it, binds its
    own listeners and serves."""
    sock = socket_dir / "h.sock"
    answer, fds, keep = builder()
    fake = FakePredecessor(sock, answer, fds)
    try:
        dm = proxies(service(upstream("baseline")), handover=sock, workers=1)
        assert fake.hello is not None and fake.hello.startswith(MAGIC + bytes([1, 1])), fake.hello
        assert "binding the listeners here" in dm.stderr_text, dm.stderr_text
        # Nothing received was kept: one listener, the admin socket, the handover socket, and
        # no pipe but stdout and stderr.
        kinds = started_descriptors(dm.pid, workers=1)
        assert kinds.get("socket") == 3 and kinds.get("pipe") == 2, kinds
        assert dm.crash_report() is None
        assert Client(dm.port).request("GET", "/").status == 200
    finally:
        fake.close()
        for k in keep:
            if isinstance(k, int):
                os.close(k)
            else:
                k.close()


def successor_says(sock: Path, packets: list[bytes]) -> list[tuple[bytes, list[int]]]:
    """Connects as a successor, sends `packets` one by one (reading any answer after each),
    and returns what came back. Received descriptors are closed."""
    answers = []
    with socket.socket(socket.AF_UNIX, socket.SOCK_SEQPACKET) as c:
        c.settimeout(5)
        c.connect(str(sock))
        for packet in packets:
            c.send(packet)
            try:
                data, fds, _, _ = socket.recv_fds(c, 65536, 64)
            except (socket.timeout, OSError):
                data, fds = b"", []
            for fd in fds:
                os.close(fd)
            answers.append((data, fds))
            if not data:
                break
    return answers


@pytest.mark.parametrize("packets,what", [
    ([b"nonsense"], "not a devmesh handover message"),
    ([message(1, b"\x00\x00")], "cut short before the pid"),
    ([message(1, struct.pack(">I", 1)), message(3, struct.pack(">HH", 1, 999))],
     "serving names entries that were not offered"),
    ([message(1, struct.pack(">I", 1)), message(1, struct.pack(">I", 1))], "unexpected hello message"),
    ([message(4)], "unexpected done message"),
], ids=["garbage", "short-hello", "serving-unknown-ids", "hello-twice", "done-first"])
def test_a_malformed_successor_is_survived(proxies, upstream, socket_dir, packets, what):
    """The running process drops the peer, keeps every listener and still hands over
    properly afterwards."""
    baseline = upstream("baseline")
    sock = socket_dir / "h.sock"
    old = proxies(service(baseline), handover=sock)
    reference = started_descriptors(old.pid, workers=2)
    successor_says(sock, packets)
    old.wait_stderr(r"abandoned \(.*%s" % what, timeout=5)
    net.wait_until(lambda: open_descriptors(old.pid) == reference, 5, "the peer's connection to be closed")
    assert Client(old.port).request("GET", "/").status == 200
    new = handover(old, lambda: proxies(service(baseline), handover=sock), None)
    assert Client(new.port).request("GET", "/").status == 200


def test_a_silent_successor_times_out_and_nothing_changes(proxies, upstream, socket_dir):
    """A successor that asks for the listeners and dies before serving changes nothing."""
    baseline = upstream("baseline")
    sock = socket_dir / "h.sock"
    old = proxies(service(baseline), handover=sock)
    answers = successor_says(sock, [message(1, struct.pack(">I", 1))])
    data, fds = answers[0]
    assert data.startswith(MAGIC + bytes([1, 2])) and len(fds) == 3, answers  # 2 workers + admin
    old.wait_stderr(r"abandoned \(the other devmesh closed the connection\)", timeout=5)
    assert Client(old.port).request("GET", "/").status == 200
    assert old.admin("/ready").status == 200


def test_a_draining_process_refuses_to_hand_over(proxies, upstream, socket_dir):
    baseline = upstream("baseline")
    sock = socket_dir / "h.sock"
    old = proxies(service(baseline), handover=sock)
    with Client(old.port) as slow:  # keeps the old process draining for a moment
        slow.send(build_request("GET", "/?delay=2"))
        baseline.wait_for_arrivals(1)
        old.send_signal(signal.SIGTERM)
        old.wait_stderr(r"draining: no new connections", timeout=5)
        assert not sock.exists(), "a draining process still offers its listeners"
        assert slow.read_response().status == 200
