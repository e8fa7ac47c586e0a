"""Faults of the matrix in notes/reliability.md §5 on the HTTP/1.1 path that the other files do not
cover: each test names its case (F2, F3-F5 as one ledger run, F8, F9, F15, F16, F17, F18), injects
the fault on loopback or in a network namespace, and checks the ledger invariants
(harness/ledger.py): every request ends with one outcome within its deadline, nothing truncated
is reported complete, nothing non-idempotent runs twice, and resources come back afterwards
(harness/resources.py). The HTTP/2 variants are in test_fault_matrix_h2.py; docs/fault-matrix.md
maps every case to its tests."""

from __future__ import annotations

import resource
import signal
import socket
import subprocess
import threading
import time

import pytest

from conftest import KEY
from harness import bodies, net, netns, resources
from harness import devmesh as dmconf
from harness.checks import new_id
from harness.client import Client, get
from harness.ledger import Ledger, outcome_of_h1, percentile
from test_operations import _config_path, _routing_config, _write

SANDBOX_BAGGAGE = ("baggage", f"sd-routing-key={KEY}")


def _cpu_seconds(pid: int) -> float:
    fields = open(f"/proc/{pid}/stat").read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / 100.0  # utime + stime, in clock ticks of 10 ms


def _open_fds(pid: int) -> int:
    import os
    return len(os.listdir(f"/proc/{pid}/fd"))


def test_f8_destination_removed_while_requests_are_in_flight(upstream, devmesh):
    """F8: a reload removes the sandbox while slow requests to it are in flight: they complete, and new
    requests with the key go to the baseline."""
    baseline, sandbox = upstream("baseline"), upstream("sandbox")
    dm = devmesh(config=_routing_config(baseline.address, sandbox.address))
    results: list = [None] * 3

    def slow(i: int) -> None:
        with Client(dm.port, timeout=15) as c:
            results[i] = c.request(path="/?delay=1.5&size=20000", headers=[SANDBOX_BAGGAGE, ("x-test-id", f"f8-{i}")])
    threads = [threading.Thread(target=slow, args=(i,)) for i in range(3)]
    for t in threads:
        t.start()
    sandbox.wait_for_arrivals(3)
    only_baseline = dmconf.render_config([dmconf.service("default", [baseline.address])])
    _write(_config_path(dm), only_baseline, atomic=True)
    dm.send_signal(signal.SIGHUP)
    net.wait_until(lambda: sandbox.address not in dm.admin("/routes").text, 3, "the sandbox route to go")
    after = get(dm.port, "/", [SANDBOX_BAGGAGE])
    assert after.complete and after.status == 200 and after.upstream == baseline.name, after
    for t in threads:
        t.join(10)
    for i, resp in enumerate(results):
        assert resp is not None and resp.complete and resp.status == 200, f"in-flight {i}: {resp!r}"
        assert resp.upstream == sandbox.name and resp.body_len == 20000


def test_f9_sandbox_killed_under_load(upstream, devmesh):
    """F9 (h1): the sandbox dies while keyed requests stream at it: only the requests in flight at that
    moment may fail (and visibly, never as a truncated success); afterwards every keyed request
    gets a fast 502 naming the sandbox, and unkeyed traffic is untouched. Afterwards no socket
    to the dead sandbox is left open or half-closed (I5)."""
    baseline, sandbox = upstream("baseline"), upstream("sandbox")
    dm = devmesh("--baseline", baseline.address, "--route", f"{KEY}={sandbox.address}")
    for _ in range(8):
        assert get(dm.port, "/?size=5000", [SANDBOX_BAGGAGE]).complete
    base = resources.quiet_baseline(dm)
    stop = threading.Event()
    outcomes: list = []

    def load() -> None:
        for _ in range(100_000):  # bounded; stops on the event
            if stop.is_set():
                return
            resp = get(dm.port, "/?size=5000", [SANDBOX_BAGGAGE])
            outcomes.append(resp)
    workers = [threading.Thread(target=load) for _ in range(4)]
    for w in workers:
        w.start()
    net.wait_until(lambda: len(outcomes) >= 50, 10, "load to start")
    sandbox.stop()
    killed_at = len(outcomes)
    net.wait_until(lambda: len(outcomes) >= killed_at + 50, 10, "load after the kill")
    stop.set()
    for w in workers:
        w.join(10)
    for resp in outcomes:
        if resp.complete and resp.status == 200:
            assert resp.upstream == sandbox.name and resp.body_len == 5000, resp
        else:
            # Cut in flight (the head may have arrived, never the whole body), or a 502 after it.
            assert not resp.complete or resp.status == 502, resp
    failed_before = [r for r in outcomes[:killed_at] if not (r.complete and r.status == 200)]
    print(f"\nF9 (h1): {len(failed_before)} failures before the kill with 4 clients in flight")
    assert len(failed_before) <= 4, f"{len(failed_before)} failures before the kill with 4 clients in flight"
    late = outcomes[-20:]
    assert all(r.status == 502 and b"sandbox" in r.body for r in late), late[:3]
    plain = get(dm.port, "/")
    assert plain.complete and plain.status == 200 and plain.upstream == baseline.name
    resources.wait_back_to_baseline(dm, base)


def test_f15_out_of_descriptors_pauses_accept_without_spinning(upstream, devmesh):
    """F15: with the descriptor limit reached, accept pauses instead of spinning, a connection that was
    already open keeps working, and once clients go away new ones are served again."""
    baseline = upstream("baseline")
    dm = devmesh("--baseline", baseline.address, "--workers", "1")
    keeper = Client(dm.port)
    assert keeper.request().status == 200  # an open client connection with a pooled upstream behind it
    limit = _open_fds(dm.pid) + 20
    subprocess.run(["prlimit", f"--pid={dm.pid}", f"--nofile={limit}:{limit}"], check=True)
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    flood = []
    try:
        for _ in range(200):  # far more than the proxy can accept
            s = socket.socket()
            s.setblocking(False)
            s.connect_ex(("127.0.0.1", dm.port))
            flood.append(s)
        # The admin port is in the same process and cannot accept either: watch /proc instead.
        net.wait_until(lambda: _open_fds(dm.pid) >= limit - 1, 5, "the proxy to reach its descriptor limit")
        cpu_before = _cpu_seconds(dm.pid)
        time.sleep(2.0)  # measuring a rate over a fixed window, not waiting for an outcome
        cpu = _cpu_seconds(dm.pid) - cpu_before
        assert cpu < 0.3, f"the proxy used {cpu:.2f} s of CPU in 2 s while out of descriptors (spinning?)"
        print(f"\nF15: {cpu:.2f} s of CPU in 2 s at the descriptor limit")
        assert keeper.request().status == 200, "an existing connection must keep working"
    finally:
        for s in flood:
            s.close()
        resource.setrlimit(resource.RLIMIT_NOFILE, (soft, hard))
    keeper.close()
    net.wait_until(lambda: get(dm.port, "/").status == 200, 10, "new connections to be served again")
    assert dm.metrics().value("devmesh_accept_errors_total") > 0, "accept never hit the limit"


@pytest.mark.slow
def test_f16_ten_thousand_idle_connections_cost_little_memory(upstream, devmesh):
    """F16: 10,000 idle keep-alive connections (each served one request): the proxy's memory grows by at
    most 8 KiB per connection (notes target), and every connection still works afterwards."""
    baseline = upstream("baseline")
    dm = devmesh("--baseline", baseline.address, "--workers", "1")
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    count = min(10_000, hard - 500)
    status = lambda: open(f"/proc/{dm.pid}/status").read()  # noqa: E731
    rss = lambda: int(next(l.split()[1] for l in status().splitlines() if l.startswith("VmRSS")))  # noqa: E731
    request = b"GET / HTTP/1.1\r\nHost: test.local\r\n\r\n"
    conns = []

    def read_response(sock: socket.socket) -> bytes:
        data = b""
        while b"\r\n\r\n" not in data:
            data += sock.recv(65536)
        head, body = data.split(b"\r\n\r\n", 1)
        length = int(next(line.split(b":")[1] for line in head.split(b"\r\n")
                          if line.lower().startswith(b"content-length")))
        while len(body) < length:
            body += sock.recv(65536)
        return head
    try:
        before = rss()
        for i in range(count):
            s = socket.create_connection(("127.0.0.1", dm.port), timeout=10)
            s.sendall(request)
            conns.append(s)
            if len(conns) % 200 == 0:
                for c in conns[-200:]:
                    read_response(c)
        for c in conns[len(conns) - len(conns) % 200:]:
            read_response(c)
        per_connection = (rss() - before) * 1024 / count
        assert per_connection <= 8192, f"{per_connection:.0f} bytes per idle connection"
        for c in conns[::997]:  # a sample still works
            c.sendall(request)
            assert read_response(c).startswith(b"HTTP/1.1 200")
        print(f"\n{count} idle connections: {per_connection:.0f} bytes each")
    finally:
        for c in conns:
            c.close()
        resource.setrlimit(resource.RLIMIT_NOFILE, (soft, hard))


def test_f17_a_slow_reader_keeps_proxy_memory_flat(nginx_upstream, devmesh):
    """F17 (slow read): a client that reads a 64 MB response slowly: the proxy holds one buffer per direction
    (backpressure), so its peak memory stays far below the body size."""
    ng = nginx_upstream("ngx", big_size=64 * 1024 * 1024)
    dm = devmesh("--baseline", ng.address, "--workers", "1")
    with socket.create_connection(("127.0.0.1", dm.port), timeout=30) as s:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 65536)
        s.sendall(b"GET /big.bin HTTP/1.1\r\nHost: test.local\r\n\r\n")
        received = 0
        deadline = time.monotonic() + 60
        while received < 64 * 1024 * 1024 + 100 and time.monotonic() < deadline:
            data = s.recv(65536)
            if not data:
                break
            received += len(data)
            if received < 8 * 1024 * 1024:
                time.sleep(0.002)  # a slow reader for the first 8 MB: pacing the client on purpose
    assert received > 64 * 1024 * 1024, f"only {received} bytes arrived"
    assert dm.peak_rss_kib() < 64 * 1024, f"peak RSS {dm.peak_rss_kib()} KiB for a 64 MB response"
    print(f"\nF17 (slow read): peak RSS {dm.peak_rss_kib() / 1024:.1f} MiB for a 64 MB response")


def test_f17_a_client_that_stops_reading_is_cut_at_the_stream_idle_timeout(nginx_upstream, devmesh):
    """F17 (no read): a client that never reads its large response: the proxy's writes block, and after the
    stream-idle timeout the connection is closed (no unbounded wait, no unbounded buffer)."""
    ng = nginx_upstream("ngx", big_size=32 * 1024 * 1024)
    config = dmconf.render_config([dmconf.service("default", [ng.address])], timeouts={"stream_idle": "1s"},
                                  workers=1)
    dm = devmesh(config=config)
    s = socket.create_connection(("127.0.0.1", dm.port), timeout=10)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    s.sendall(b"GET /big.bin HTTP/1.1\r\nHost: test.local\r\n\r\n")
    net.wait_until(lambda: dm.metrics().value("devmesh_downstream_connections") == 1, 3, "the request in flight")
    net.wait_until(lambda: dm.metrics().value("devmesh_downstream_connections") == 0, 6,
                   "the stalled connection to be closed at the stream-idle timeout")
    s.close()
    assert dm.peak_rss_kib() < 64 * 1024


def test_f17_a_trickled_request_body_is_cut_at_the_stream_idle_timeout(upstream, devmesh):
    """F17 (slow body): a client that sends its head, then trickles its body and stops: the exchange is
    aborted at the stream-idle timeout and the upstream never sees a complete request."""
    baseline = upstream("baseline")
    config = dmconf.render_config([dmconf.service("default", [baseline.address])], timeouts={"stream_idle": "1s"})
    dm = devmesh(config=config)
    tid = new_id()
    s = socket.create_connection(("127.0.0.1", dm.port), timeout=10)
    s.sendall(b"POST / HTTP/1.1\r\nHost: test.local\r\nContent-Length: 1000\r\nx-test-id: " + tid.encode()
              + b"\r\n\r\n" + b"a" * 10)
    start = time.monotonic()
    s.settimeout(6)
    try:
        data = s.recv(4096)
    except ConnectionResetError:
        data = b""
    took = time.monotonic() - start
    s.close()
    assert 0.9 <= took <= 4.0, f"closed after {took:.2f}s with a 1 s stream-idle timeout"
    assert not data.startswith(b"HTTP/1.1 200"), data
    assert not baseline.by_test_id(tid), "the upstream must not see the request as complete"


# ---- F2: a black-holed endpoint (network namespace + iptables DROP) -----------------------------

@pytest.fixture
def blackhole():
    reason = netns.unavailable()
    if reason:
        pytest.skip(f"F2 in a network namespace: {reason}")
    with netns.Blackhole() as hole:
        yield hole


def test_f2_blackholed_endpoint_costs_one_connect_timeout(upstream, devmesh, blackhole):
    """F2 (netns): an endpoint whose SYNs are dropped (iptables DROP in a namespace the test
    made). Baseline requests that try it first wait out the 1 s connect timeout, then go to the
    live endpoint: all succeed, none later than the timeout plus slack (bounded p99). A sandbox
    with only that endpoint answers 504 naming it, at the timeout."""
    baseline = upstream("baseline")
    dead = blackhole.address(8080)
    svc = dmconf.service("default", [dead, baseline.address], [dmconf.route(KEY, [dead], sandbox="dark")])
    dm = devmesh(config=dmconf.render_config([svc], timeouts={"upstream_connect": "1s"}, workers=1))
    ledger = Ledger(deadline=3)

    def one(keyed: bool) -> None:
        test_id = ledger.issue("f2-keyed" if keyed else "f2", "GET")
        with Client(dm.port, timeout=5) as c:
            resp = c.request(headers=[("x-test-id", test_id), *([SANDBOX_BAGGAGE] if keyed else [])])
        got = ledger.record(test_id, outcome_of_h1(resp))
        if keyed:
            assert resp.status == 504 and resp.upstream is None and b"dark" in resp.body, resp
            assert 0.9 <= got.at <= 2.0, f"504 after {got.at:.2f}s with a 1 s connect timeout"
        else:
            assert resp.status == 200 and resp.upstream == baseline.name, resp
    threads = [threading.Thread(target=one, args=(i == 0,)) for i in range(7)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(10)
    ledger.check([baseline])
    plain = ledger.latencies("ok")
    assert len(plain) == 6 and percentile(plain, 99) <= 1.6, f"latencies {plain}"
    assert plain[-1] >= 0.9, f"no request waited for the black hole {plain}: it was never tried"
    net.wait_until(lambda: dm.metrics().value("devmesh_upstream_errors_total", reason="connect_timeout") >= 2,
                   2, "the connect timeouts counted")
    print(f"\nF2: p99 {percentile(plain, 99):.2f}s with a 1 s connect timeout; {ledger.summary()}")


# ---- F3-F5 as one ledger run -----------------------------------------------------------------------

MIXED_FAULTS = ["", "", "reset_before_head", "close_before_head", "reset_mid_body", "fin_mid_body",
                "reset_mid_chunked", "fin_mid_chunked", ""]


def test_f3_f4_f5_h1_ledger_of_mixed_faults(upstream, devmesh):
    """F3-F5 (h1) as one ledger run: 4 keep-alive clients × 40 requests, GETs and POSTs, two
    thirds of them to an upstream that resets or closes before its head or in the middle of a
    Content-Length or chunked body. Every request ends exactly once within its deadline (I1);
    healthy ones are ok with their exact bodies and no faulted one is ok (I2); no POST reached
    the upstream twice (I3); the proxy's descriptors, sockets, buffers and memory are back to a
    warmed-up baseline afterwards (I5)."""
    baseline = upstream("baseline")
    dm = devmesh("--baseline", baseline.address, "--workers", "2")
    for _ in range(8):
        assert get(dm.port, "/?size=30000").complete
    base = resources.quiet_baseline(dm)
    ledger = Ledger(deadline=5)
    faulted: set = set()
    lock = threading.Lock()

    def client(n: int) -> None:
        c = Client(dm.port, timeout=5)
        try:
            for i in range(40):
                fault = MIXED_FAULTS[(n * 3 + i) % len(MIXED_FAULTS)]
                method = "POST" if (n + i) % 2 else "GET"
                size = 20_000 + 991 * (i % 7)
                test_id = ledger.issue(f"mix{n}", method, size)
                if fault:
                    with lock:
                        faulted.add(test_id)
                path = f"/?size={size}" + (f"&fault={fault}" if fault else "")
                resp = c.request(method, path, [("x-test-id", test_id)],
                                 body=bodies.pattern(2000) if method == "POST" else None)
                ledger.record(test_id, outcome_of_h1(resp))
                if not resp.complete or resp.header("connection") == "close":
                    c.close()
                    c = Client(dm.port, timeout=5)
        finally:
            c.close()
    threads = [threading.Thread(target=client, args=(n,)) for n in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    ledger.check([baseline])
    assert len(ledger.ids()) == 160
    wrongly_ok = [t for t in faulted if ledger.final(t).kind == "ok"]
    assert not wrongly_ok, f"faulted requests reported ok: {[ledger.final(t) for t in wrongly_ok[:3]]}"
    healthy_failed = [t for t in ledger.ids() if t not in faulted and ledger.final(t).kind != "ok"]
    assert not healthy_failed, f"healthy requests failed: {[ledger.final(t) for t in healthy_failed[:3]]}"
    resources.wait_back_to_baseline(dm, base)
    print(f"\nF3-F5 (h1) ledger: {ledger.summary()}")


# ---- F18: overload, requests above the per-worker cap ---------------------------------------------

def test_f18_requests_above_the_per_worker_cap_get_a_fast_503(upstream, devmesh):
    """F18 (h1): limits.max_requests_per_worker = 4 with one worker, and four slow requests
    (2 s upstream) holding the slots. Further requests, on new connections and on a keep-alive
    connection opened before, get a fast 503 (`devmesh:` body, `Connection: close`), counted in
    devmesh_requests_shed_total and never forwarded; the held ones complete; p99 of the answers
    and the proxy's memory stay bounded; once the slots free up, requests are served again, and
    nothing stays counted in flight (I5)."""
    baseline = upstream("baseline")
    cap = 4
    dm = devmesh(config=dmconf.render_config([dmconf.service("default", [baseline.address])], workers=1,
                                             limits={"max_requests_per_worker": cap}))
    assert get(dm.port, "/?size=20000").complete
    base = resources.quiet_baseline(dm)
    early = Client(dm.port, timeout=5)
    assert early.request().status == 200  # a keep-alive connection from before the overload
    ledger = Ledger(deadline=6)
    held_ids = [ledger.issue("held", "GET", 20_000) for _ in range(cap)]

    def hold(test_id: str) -> None:
        with Client(dm.port, timeout=6) as c:
            resp = c.request(path="/?size=20000&delay=2", headers=[("x-test-id", test_id)])
            ledger.record(test_id, outcome_of_h1(resp))
    holders = [threading.Thread(target=hold, args=(t,)) for t in held_ids]
    for t in holders:
        t.start()
    baseline.wait_for_arrivals(cap + 1)
    shed_before = dm.metrics().value("devmesh_requests_shed_total")
    shed_ids = []
    for i in range(20):
        test_id = ledger.issue("shed", "POST" if i % 2 else "GET", 100)
        shed_ids.append(test_id)
        c = early if i == 0 else Client(dm.port, timeout=5)
        resp = c.request("POST" if i % 2 else "GET", "/?size=100", [("x-test-id", test_id)],
                         body=b"x" * 10 if i % 2 else None)
        ledger.record(test_id, outcome_of_h1(resp))
        assert resp.status == 503 and resp.text.startswith("devmesh:"), resp
        assert resp.header("connection") == "close" and c.closed_by_peer(2), "a shed request's connection must close"
        c.close()
    fast = [ledger.final(t).at for t in shed_ids]
    assert percentile(fast, 99) < 0.5, f"p99 of the 503s {percentile(fast, 99):.3f}s (upstream delay 2 s)"
    assert not any(baseline.by_test_id(t) for t in shed_ids), "a shed request reached the upstream"
    net.wait_until(lambda: dm.metrics().value("devmesh_requests_shed_total") >= shed_before + len(shed_ids), 2,
                   "the 503s counted in devmesh_requests_shed_total")
    for t in holders:
        t.join(8)
    assert all(ledger.final(t).kind == "ok" for t in held_ids), [ledger.final(t) for t in held_ids]
    after = ledger.issue("after", "GET", 100)
    ledger.record(after, outcome_of_h1(get(dm.port, "/?size=100", [("x-test-id", after)])))
    assert ledger.final(after).kind == "ok", ledger.final(after)
    ledger.check([baseline])
    assert dm.peak_rss_kib() < 64 * 1024
    resources.wait_back_to_baseline(dm, base)
    print(f"\nF18 (h1): p99 of the 503s {percentile(fast, 99) * 1000:.1f} ms; {ledger.summary()}")
