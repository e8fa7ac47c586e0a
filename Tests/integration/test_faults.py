"""Deadlines and upstream faults: every failure becomes the right status, or, once a response
has started, an aborted downstream connection; never a hang and never a falsely complete body.

Timeouts are set short through the config file so the tests are fast; each checks the time
it took against the configured deadline (lower bound: not cut early; upper bound: cut)."""

from __future__ import annotations

import select
import socket
import subprocess
import time

import pytest

from conftest import KEY
from harness import net
from harness import devmesh as dmconf
from harness.checks import assert_proxy_error, assert_routed, new_id
from harness.client import Client, get

SANDBOX_BAGGAGE = ("baggage", f"sd-routing-key={KEY}")


def short_timeouts_proxy(upstream, devmesh, **timeouts: str):
    baseline, sandbox = upstream("baseline"), upstream("sandbox")
    config = dmconf.render_config([dmconf.service("default", [baseline.address],
                                                  [dmconf.route(KEY, [sandbox.address])])],
                                  timeouts=timeouts)
    return baseline, sandbox, devmesh(config=config)


def test_slowloris_head_is_cut_at_the_request_head_timeout(upstream, devmesh):
    """F17 (slowloris, h1): a head dripped one byte per 100 ms is cut at the 1 s request-head timeout (408 or
    a close) and never forwarded."""
    baseline, sandbox, dm = short_timeouts_proxy(upstream, devmesh, request_head="1s")
    sock = net.connect(dm.port)
    sock.sendall(b"GET / HTTP/1.1\r\nHost: test.local\r\n")
    start = time.monotonic()
    drip = b"X-Slow: " + b"a" * 100
    received, closed_after = b"", None
    for i in range(len(drip)):  # one byte every 100 ms: the head would take 10 s to finish
        try:
            sock.sendall(drip[i:i + 1])
        except OSError:
            closed_after = time.monotonic() - start
            break
        readable, _, _ = select.select([sock], [], [], 0.1)
        if readable:
            try:
                data = sock.recv(4096)
            except ConnectionResetError:
                data = b""
            if not data:
                closed_after = time.monotonic() - start
                break
            received += data
    sock.close()
    assert closed_after is not None, "the connection was still open after 10 s of dripping"
    assert 0.8 <= closed_after <= 3.0, f"closed after {closed_after:.2f}s with a 1 s head timeout"
    assert received == b"" or received.startswith(b"HTTP/1.1 408"), received
    assert baseline._arrivals == 0


def test_a_complete_head_within_the_timeout_is_served(upstream, devmesh):
    """Counterpart of the slowloris test: a head sent in pieces inside the deadline is fine."""
    baseline, sandbox, dm = short_timeouts_proxy(upstream, devmesh, request_head="2s")
    tid = new_id()
    with Client(dm.port) as c:
        for piece in (b"GET / HTTP/1.1\r\n", b"Host: test.local\r\n", f"x-test-id: {tid}\r\n\r\n".encode()):
            c.send(piece)
            time.sleep(0.2)  # pacing the client on purpose, well inside the 2 s deadline
        resp = c.read_response()
    assert_routed(resp, tid, baseline, [sandbox])


def test_idle_keep_alive_connection_is_closed(upstream, devmesh):
    baseline, sandbox, dm = short_timeouts_proxy(upstream, devmesh, downstream_idle="1s")
    with Client(dm.port) as c:
        tid = new_id()
        assert_routed(c.request(headers=[("x-test-id", tid)]), tid, baseline, [sandbox])
        start = time.monotonic()
        assert c.closed_by_peer(5), "the idle connection was still open after 5 s"
        assert 0.8 <= time.monotonic() - start <= 3.0


def test_slow_upstream_beyond_the_response_timeout_is_504(upstream, devmesh):
    """F6 (h1): the upstream's head comes after the 1 s response timeout: 504 at the deadline, sent once, and
    the upstream connection is not reused."""
    baseline, sandbox, dm = short_timeouts_proxy(upstream, devmesh, upstream_response="1s")
    start = time.monotonic()
    tid = new_id()
    resp = get(dm.port, "/?delay=4", [("x-test-id", tid)])
    took = time.monotonic() - start
    assert_proxy_error(resp, {504})
    assert 0.8 <= took <= 3.0, f"504 after {took:.2f}s with a 1 s response timeout"
    assert len(baseline.by_test_id(tid)) == 1  # sent once, not retried
    tid = new_id()  # the timed-out upstream connection is not reused for the next request
    rec = assert_routed(get(dm.port, "/", [("x-test-id", tid)]), tid, baseline, [sandbox])
    assert rec.conn_id != baseline.snapshot()[0].conn_id


def test_upstream_within_the_response_timeout_is_served(upstream, devmesh):
    baseline, sandbox, dm = short_timeouts_proxy(upstream, devmesh, upstream_response="3s")
    tid = new_id()
    assert_routed(get(dm.port, "/?delay=1", [("x-test-id", tid)]), tid, baseline, [sandbox])


def test_stalled_body_is_aborted_at_the_stream_idle_timeout(upstream, devmesh):
    """F7 (h1): the upstream stalls mid-body: the client connection is aborted at the 1 s stream-idle timeout,
    never completed."""
    baseline, sandbox, dm = short_timeouts_proxy(upstream, devmesh, stream_idle="1s")
    start = time.monotonic()
    with Client(dm.port, timeout=8) as c:
        resp = c.request(path="/?size=100000&fault=stall_mid_body&delay_body=6")
    took = time.monotonic() - start
    assert resp.status == 200 and not resp.complete and resp.outcome in ("eof", "reset"), resp
    assert resp.body_len < 100000 and took <= 4.0, f"aborted after {took:.2f}s"


def test_refused_sandbox_is_502_naming_the_sandbox(upstream, devmesh):
    """F1 (h1): a sandbox whose only endpoint refuses connections gets a fast 502/503 naming it, never the
    baseline."""
    baseline = upstream("baseline")
    config = dmconf.render_config([dmconf.service("default", [baseline.address], [
        dmconf.route(KEY, [f"127.0.0.1:{net.closed_port()}"], sandbox="feature-x")])])
    dm = devmesh(config=config)
    resp = get(dm.port, "/", [SANDBOX_BAGGAGE])
    assert_proxy_error(resp, {502, 503}, mentions="feature-x")
    assert baseline.count() == 0, "a sandbox failure must not be hidden behind the baseline"


def test_refused_sandbox_from_flags_names_the_key(upstream, devmesh):
    baseline = upstream("baseline")
    dm = devmesh("--baseline", baseline.address, "--route", f"{KEY}=127.0.0.1:{net.closed_port()}")
    assert_proxy_error(get(dm.port, "/", [SANDBOX_BAGGAGE]), {502, 503}, mentions=KEY)
    assert baseline.count() == 0


def test_refused_baseline_is_502(upstream, devmesh):
    dm = devmesh("--baseline", f"127.0.0.1:{net.closed_port()}")
    assert_proxy_error(get(dm.port, "/"), {502, 503})


@pytest.mark.parametrize("mode", ["config", "flags"])
def test_refused_sandbox_with_fallback_baseline_goes_to_baseline(upstream, devmesh, mode):
    baseline = upstream("baseline")
    dead = f"127.0.0.1:{net.closed_port()}"
    if mode == "config":
        dm = devmesh(config=dmconf.render_config([dmconf.service(
            "default", [baseline.address], [dmconf.route(KEY, [dead], fallback="baseline")])]))
    else:
        dm = devmesh("--baseline", baseline.address, "--route", f"{KEY}={dead}", "--fallback", "baseline")
    tid = new_id()
    assert_routed(get(dm.port, "/", [SANDBOX_BAGGAGE, ("x-test-id", tid)]), tid, baseline)


@pytest.mark.parametrize("fault", ["reset_before_head", "close_before_head"])
def test_upstream_gone_before_the_response_head_is_502(sandbox_proxy, fault):
    """F3 (h1): the upstream resets or closes before its head: 502, and the POST is never replayed (I3)."""
    p = sandbox_proxy()
    tid = new_id()
    with Client(p.port) as c:
        assert_proxy_error(c.request("POST", f"/?fault={fault}", [("x-test-id", tid)], body=b"once"), {502})
    assert len(p.baseline.by_test_id(tid)) == 1, "a POST that reached the upstream was replayed"
    tid = new_id()
    assert_routed(get(p.port, "/", [("x-test-id", tid)]), tid, p.baseline, [p.sandbox])


@pytest.mark.parametrize("fault", ["reset_mid_body", "fin_mid_body", "reset_mid_chunked", "fin_mid_chunked"])
def test_upstream_dying_mid_body_is_never_a_complete_response(sandbox_proxy, fault):
    """F4/F5 (h1): no silent truncation: the head went out, so the downstream connection must be aborted
    (a CL body short of its length, or a chunked body without its last chunk)."""
    p = sandbox_proxy()
    with Client(p.port, timeout=10) as c:
        resp = c.request(path=f"/?size=200000&fault={fault}", headers=[SANDBOX_BAGGAGE])
    assert resp.status == 200 and resp.upstream == "sandbox", resp
    assert not resp.complete and resp.outcome in ("eof", "reset"), resp
    assert resp.body_len < 200000


@pytest.mark.parametrize("fault", ["fin_mid_body", "fin_mid_chunked"])
def test_curl_reports_the_truncated_transfer(sandbox_proxy, fault):
    """F4/F5 (h1, curl): a body cut by the upstream is an error for curl (exit 18 or 56), not a download."""
    p = sandbox_proxy()
    out = subprocess.run(["curl", "-sS", "-o", "/dev/null", "-w", "%{http_code}",
                          f"http://127.0.0.1:{p.port}/?size=200000&fault={fault}"], capture_output=True, timeout=20)
    assert out.returncode in (18, 56), f"curl exit {out.returncode}: {out.stderr!r}"  # partial file / recv failure


def test_client_abort_mid_upload_never_completes_upstream(sandbox_proxy):
    """F22: the client goes away in the middle of a body; the upstream must not see a complete
    request, and the proxy keeps serving."""
    p = sandbox_proxy()
    sock = net.connect(p.port)
    sock.sendall(b"POST / HTTP/1.1\r\nHost: test.local\r\nContent-Length: 100000\r\n\r\n" + b"x" * 5000)
    p.baseline.wait_for_arrivals(1)
    net.reset_close(sock)
    tid = new_id()
    assert_routed(get(p.port, "/", [("x-test-id", tid)]), tid, p.baseline, [p.sandbox])
    assert all(r.test_id == tid for r in p.baseline.snapshot()), "the aborted upload completed upstream"


@pytest.mark.slow
def test_default_request_head_timeout_is_10s(sandbox_proxy):
    p = sandbox_proxy()
    sock = net.connect(p.port, timeout=16)
    sock.sendall(b"GET / HTTP/1.1\r\nHost: test.local\r\n")
    start = time.monotonic()
    received = b""
    try:
        while True:  # until the proxy closes (a 408 first is allowed); bounded by the socket timeout
            data = sock.recv(4096)
            if not data:
                break
            received += data
    except ConnectionResetError:
        pass
    finally:
        sock.close()
    assert 9.0 <= time.monotonic() - start <= 12.0
    assert received == b"" or received.startswith(b"HTTP/1.1 408"), received


@pytest.mark.slow
def test_default_upstream_response_timeout_is_15s(sandbox_proxy):
    p = sandbox_proxy()
    start = time.monotonic()
    with Client(p.port, timeout=25) as c:
        resp = c.request(path="/?delay=20")
    assert_proxy_error(resp, {504})
    assert 14.0 <= time.monotonic() - start <= 17.0


def test_keep_alive_race_with_an_upstream_that_closes_idle_connections(upstream, devmesh):
    """F23: the upstream closes keep-alive connections idle for 150 ms, and requests arrive with
    gaps around that, so some of them pick a pooled connection the upstream is closing right then.
    Idle connections the upstream closed are dropped when the FIN arrives; a request that still
    meets one (no response byte received) is replayed once on a fresh connection. No request may
    fail, and none may reach the upstream twice."""
    baseline = upstream("baseline", idle_timeout=0.15)
    dm = devmesh("--baseline", baseline.address, "--workers", "1")
    failures, ids = [], []
    for i in range(60):  # bounded: 60 requests over about 9 s
        tid = new_id()
        ids.append(tid)
        resp = get(dm.port, "/", [("x-test-id", tid)])
        if not (resp.complete and resp.status == 200):
            failures.append(resp)
        time.sleep(0.13 + (i % 5) * 0.01)  # gaps of 130-170 ms straddle the 150 ms idle timeout
    assert not failures, f"{len(failures)} of 60 failed: {failures[:3]}"
    ledger = baseline.wait_for(60)
    seen = [r.test_id for r in ledger]
    assert sorted(seen) == sorted(ids), "a request reached the upstream twice or not at all"
    assert baseline.idle_closes > 0, "the upstream never closed an idle connection: the race was not exercised"


@pytest.mark.parametrize("fault", ["close_before_head", "reset_before_head"])
def test_idempotent_request_on_a_dropped_pooled_connection_is_replayed_once(upstream, devmesh, fault):
    """F23: the keep-alive race made deterministic: the upstream reads the request that arrives on a
    reused connection and closes (or resets) without a response byte. devmesh replays the GET
    once on a fresh connection; the client sees one clean 200."""
    baseline = upstream("baseline")
    dm = devmesh("--baseline", baseline.address, "--workers", "1")
    first = get(dm.port, "/", [("x-test-id", new_id())])
    assert first.complete and first.status == 200
    tid = new_id()
    resp = get(dm.port, f"/?reused_fault={fault}", [("x-test-id", tid)])
    assert resp.complete and resp.status == 200, resp
    arrivals = sorted(((r.seq, r.conn_id) for r in baseline.snapshot() if r.test_id == tid), reverse=True)
    # Once on the reused connection (dropped there), once more on a fresh one: never a third time.
    assert [seq for seq, _ in arrivals] == [2, 1], arrivals
    assert arrivals[0][1] != arrivals[1][1], "the replay must run on a fresh connection"
    # Counters are published every 100 ms: wait for the request to be counted, then read both.
    net.wait_until(lambda: dm.metrics().value('devmesh_requests_total', route='baseline', status='2xx') == 2,
                   2, "both requests counted")
    assert dm.metrics().value("devmesh_upstream_retries_total") == 1


def test_non_idempotent_request_on_a_dropped_pooled_connection_is_not_replayed(upstream, devmesh):
    """F23 (I3): the same race for a POST: it may have been processed, so it is never sent twice (I3); the
    client gets a 502 instead."""
    baseline = upstream("baseline")
    dm = devmesh("--baseline", baseline.address, "--workers", "1")
    assert get(dm.port, "/", [("x-test-id", new_id())]).status == 200
    tid = new_id()
    with Client(dm.port) as c:
        resp = c.request(method="POST", path="/?reused_fault=close_before_head",
                         headers=[("x-test-id", tid)], body=b"hello")
    assert_proxy_error(resp, {502})
    assert len([r for r in baseline.snapshot() if r.test_id == tid]) == 1, "the POST reached the upstream twice"
    net.wait_until(lambda: dm.metrics().value('devmesh_requests_total', route='baseline', status='5xx') == 1,
                   2, "the 502 counted")
    assert dm.metrics().value("devmesh_upstream_retries_total") == 0


def test_a_refused_endpoint_is_skipped_for_the_next_one(upstream, devmesh):
    """F1: one of two baseline endpoints refuses connections; every request still succeeds on the
    other (a connect failure is safe to retry: nothing was sent)."""
    baseline = upstream("baseline")
    dm = devmesh("--baseline", f"{net.LOOPBACK}:{net.closed_port()},{baseline.address}")
    for _ in range(10):
        tid = new_id()
        resp = get(dm.port, "/", [("x-test-id", tid)])
        assert resp.complete and resp.status == 200 and resp.upstream == baseline.name, resp
    net.wait_until(lambda: dm.metrics().value("devmesh_upstream_errors_total", reason="connect_refused") >= 1,
                   2, "the refused connects counted")


def test_a_blackholed_upstream_answers_504_at_the_connect_timeout(upstream, devmesh):
    """F2 on loopback: a listener whose accept queue is full drops new SYNs, so a connect hangs
    like one to a black-holed address; the proxy answers 504 at its connect timeout."""
    hole = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    hole.bind((net.LOOPBACK, 0))
    hole.listen(0)
    fillers = []
    try:
        for _ in range(8):  # fill the accept queue (never accepted); later SYNs are dropped
            f = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            f.setblocking(False)
            f.connect_ex(hole.getsockname())
            fillers.append(f)
        address = f"{net.LOOPBACK}:{hole.getsockname()[1]}"
        config = dmconf.render_config([dmconf.service("default", [address])],
                                      timeouts={"upstream_connect": "1s"})
        dm = devmesh(config=config)
        start = time.monotonic()
        with Client(dm.port, timeout=10) as c:
            resp = c.request()
        took = time.monotonic() - start
        assert_proxy_error(resp, {504})
        assert 0.9 <= took <= 3.0, f"answered after {took:.2f}s with a 1 s connect timeout"
    finally:
        for f in fillers:
            f.close()
        hole.close()


def test_connections_above_the_per_worker_cap_get_a_fast_503(upstream, devmesh):
    """F18: above max_connections_per_worker, a new connection gets a canned 503 and is closed at
    once, while the connections already open keep working."""
    baseline = upstream("baseline")
    config = dmconf.render_config([dmconf.service("default", [baseline.address])],
                                  workers=1, limits={"max_connections_per_worker": 4})
    dm = devmesh(config=config)
    held = [Client(dm.port) for _ in range(4)]
    try:
        for c in held:
            assert c.request().status == 200
        start = time.monotonic()
        extra = get(dm.port, "/")
        assert extra.status == 503 and b"too many connections" in extra.body, extra
        assert time.monotonic() - start < 1.0
        assert all(c.request().status == 200 for c in held), "open connections must keep working"
    finally:
        for c in held:
            c.close()
    net.wait_until(lambda: get(dm.port, "/").status == 200, 3, "a connection to be accepted again")
