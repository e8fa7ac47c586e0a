"""The fault matrix of notes/reliability.md §5 over HTTP/2: the upstream faults F3-F7 for an h2c
client in front of HTTP/1.1 and h2c upstreams (and an HTTP/1.1 client in front of an h2c one),
F9 under HTTP/2 load, F14 (SIGTERM with streams mid-flight) and F18 (overload) for streams.

Every request carries an x-test-id and ends in the ledger (harness/ledger.py) with one outcome;
the invariants are checked there: one outcome each within the deadline (I1), no cut or corrupted
body reported as success (I2: bodies are pattern bodies with a known hash), no POST processed
twice (I3), and the proxy's descriptors, connections, buffers and memory back to baseline (I5,
harness/resources.py). A fault on one stream must not touch the others on the same connection:
most tests keep a healthy neighbour stream in flight next to the broken one.
"""

from __future__ import annotations

import signal
import threading
import time
from typing import Any, Optional

import pytest

from conftest import KEY
from grpc_support.fixtures import h2_upstreams  # noqa: F401
from harness import bodies, net, resources
from harness import devmesh as dmconf
from harness.client import Client
from harness.h2client import H2Client, StreamResult, request_headers
from harness.h2frames import NO_ERROR, REFUSED_STREAM, SettingsFrame, error_name
from harness.ledger import Ledger, outcome_of_h1, outcome_of_h2, percentile

BAGGAGE = ("baggage", f"sd-routing-key={KEY}")
NEIGHBOUR_SIZE = 30_000


def h1_path(size: int, fault: str = "", extra: str = "") -> str:
    """A path for the HTTP/1.1 recording upstream (behaviour by query string)."""
    return f"/?size={size}" + (f"&fault={fault}" if fault else "") + (f"&{extra}" if extra else "")


def send(c: H2Client, ledger: Ledger, prefix: str, *, path: str = "/", size: Optional[int] = None,
         method: str = "GET", body: Optional[bytes] = None, extra=()) -> tuple[str, int]:
    """Opens one stream with a fresh ledger id; returns (test id, stream id)."""
    test_id = ledger.issue(prefix, method, size)
    headers = request_headers(method, path, extra=[("x-test-id", test_id), *extra])
    return test_id, c.request(headers, body)


def settle(c: H2Client, ledger: Ledger, sent: list[tuple[str, int]], timeout: float) -> dict[str, StreamResult]:
    """Waits (bounded) for every stream in `sent` to end and records each outcome once."""
    try:
        c.wait(lambda: all(c.streams[sid].done for _, sid in sent), timeout, "every stream to end")
    except net.DeadlineExceeded:
        pass  # the streams still open are recorded as timeouts: I1 reports them
    goaway_last = c.goaways[-1][0] if c.goaways else None
    for test_id, sid in sent:
        ledger.record(test_id, outcome_of_h2(c.streams.get(sid), goaway_last))
    return {test_id: c.streams[sid] for test_id, sid in sent}


def assert_cut(result: StreamResult, size: int) -> None:
    """The stream was reset, never ended as if complete, and got less than the whole body."""
    assert result.reset_code is not None and not result.ended, \
        f"stream {result.stream_id}: ended={result.ended} reset={error_name(result.reset_code)} " \
        f"after {len(result.data)} of {size} bytes"
    assert len(result.data) < size


def assert_neighbour_ok(ledger: Ledger, test_id: str) -> None:
    got = ledger.final(test_id)
    assert got is not None and got.kind == "ok" and got.status == 200, f"the healthy neighbour: {got}"


def with_protocol(svc: dict, protocol: str) -> dict:
    return {**svc, "protocol": protocol}


def proxy(devmesh: Any, address: str, protocol: str, workers: int = 1, **timeouts: str) -> Any:
    svc = with_protocol(dmconf.service("default", [address]), protocol)
    return devmesh(config=dmconf.render_config([svc], timeouts=timeouts or None, workers=workers))


def warm(dm: Any, n: int = 4) -> resources.Sample:
    """A few healthy streams first (pools, slabs and session buffers exist), then the baseline."""
    c = H2Client(dm.port)
    ledger = Ledger(deadline=5)
    settle(c, ledger, [send(c, ledger, "warm", path=h1_path(NEIGHBOUR_SIZE), size=NEIGHBOUR_SIZE,
                            extra=[("x-size", str(NEIGHBOUR_SIZE))]) for _ in range(n)], 5)
    c.close()
    ledger.check()
    return resources.quiet_baseline(dm)


# ---- I5: what a client closes, devmesh closes -------------------------------------------------------

def test_i5_h2_connections_the_client_closes_are_released_at_once(upstream: Any, devmesh: Any) -> None:
    """I5 (h2): thirty clients each run two streams and close right after the last response
    (their FIN lands in the same read as their last frames). devmesh closes every one of them
    at once: no socket left in CLOSE_WAIT until the 60 s idle timeout, the gauge back to 0."""
    baseline = upstream("baseline")
    dm = proxy(devmesh, baseline.address, "http1")
    base = warm(dm)
    ledger = Ledger(deadline=5)
    for _ in range(30):
        c = H2Client(dm.port)
        settle(c, ledger, [send(c, ledger, "close", path=h1_path(100), size=100) for _ in range(2)], 5)
        c.close()
    ledger.check([baseline])
    resources.wait_back_to_baseline(dm, base, timeout=3)


# ---- F3: the upstream goes away before the response head ------------------------------------------

@pytest.mark.parametrize("method", ["GET", "POST"])
@pytest.mark.parametrize("fault", ["reset_before_head", "close_before_head"])
def test_f3_h2_client_h1_upstream_gone_before_the_head(upstream: Any, devmesh: Any, fault: str, method: str) -> None:
    """F3 (h2 -> h1): the HTTP/1.1 upstream reads the request, then resets or closes without a
    response byte. The client's stream gets a 502 from devmesh (nothing was sent yet, so an
    answer is possible) or RST_STREAM, never a success; a POST reached the upstream exactly once
    (it may have run: no replay), a GET at most twice; the neighbour stream on the same
    connection is served."""
    baseline = upstream("baseline")
    dm = proxy(devmesh, baseline.address, "http1")
    base = warm(dm)
    ledger = Ledger(deadline=5)
    c = H2Client(dm.port)
    broken = send(c, ledger, "f3", path=h1_path(1000, fault), method=method,
                  body=b"once" if method == "POST" else None)
    neighbour = send(c, ledger, "f3-ok", path=h1_path(NEIGHBOUR_SIZE), size=NEIGHBOUR_SIZE)
    results = settle(c, ledger, [broken, neighbour], 5)
    got = ledger.final(broken[0])
    assert got.kind in ("http_error", "reset"), got
    if got.kind == "http_error":
        r = results[broken[0]]
        assert r.status == 502 and bytes(r.data).startswith(b"devmesh:"), r
    assert_neighbour_ok(ledger, neighbour[0])
    ledger.check([baseline])
    # A POST may have run: never replayed. A GET that met a pooled connection is replayed once on
    # a fresh one (the keep-alive race, F23), where the fault strikes again.
    arrived = len(baseline.by_test_id(broken[0]))
    assert arrived == 1 if method == "POST" else 1 <= arrived <= 2, f"{method} reached the upstream {arrived} times"
    after = send(c, ledger, "f3-after", path=h1_path(100), size=100)
    settle(c, ledger, [after], 5)
    assert_neighbour_ok(ledger, after[0])
    c.close()
    resources.wait_back_to_baseline(dm, base)


# ---- F4 / F5: the upstream dies in the middle of the body -------------------------------------------

@pytest.mark.parametrize("fault", ["reset_mid_body", "fin_mid_body", "reset_mid_chunked", "fin_mid_chunked"])
def test_f4_f5_h2_client_h1_upstream_dies_mid_body(upstream: Any, devmesh: Any, fault: str) -> None:
    """F4/F5 (h2 -> h1): the HTTP/1.1 upstream sends the head and half the body (Content-Length
    or chunked), then resets or closes. The client's stream must end with RST_STREAM, never
    END_STREAM (a chunked body's last chunk was never sent: no clean end may be made up), and
    the neighbour on the same connection gets its whole body."""
    baseline = upstream("baseline")
    dm = proxy(devmesh, baseline.address, "http1")
    base = warm(dm)
    ledger = Ledger(deadline=5)
    c = H2Client(dm.port)
    size = 200_000
    broken = send(c, ledger, "f4", path=h1_path(size, fault), size=size)
    neighbour = send(c, ledger, "f4-ok", path=h1_path(NEIGHBOUR_SIZE), size=NEIGHBOUR_SIZE)
    results = settle(c, ledger, [broken, neighbour], 5)
    assert results[broken[0]].status == 200, results[broken[0]]
    assert_cut(results[broken[0]], size)
    assert_neighbour_ok(ledger, neighbour[0])
    ledger.check([baseline])
    c.close()
    resources.wait_back_to_baseline(dm, base)


H2_CUTS = {
    "rst-stream": [("x-reset-mid-body", "2")],  # RST_STREAM(INTERNAL_ERROR) on that stream only
    "conn-reset": [("x-drop-mid-body", "reset")],  # the upstream's whole connection, RST
    "conn-fin": [("x-drop-mid-body", "fin")],  # the upstream's whole connection, FIN
    "conn-fin-no-length": [("x-drop-mid-body", "fin"), ("x-trailers", "x-sum=1")],  # body without content-length
}


@pytest.mark.parametrize("cut", list(H2_CUTS))
def test_f4_f5_h2_client_h2c_upstream_breaks_mid_body(h2_upstreams: Any, devmesh: Any, cut: str) -> None:
    """F4/F5 (h2 -> h2c): the h2c upstream sends the head and half the body, then resets the
    stream or drops its whole connection. The client's stream gets RST_STREAM, never END_STREAM;
    the next stream on the same client connection is served (on a new upstream connection when
    the old one died)."""
    up = h2_upstreams("baseline")
    dm = proxy(devmesh, up.address, "h2c")
    base = warm(dm)
    ledger = Ledger(deadline=5)
    c = H2Client(dm.port)
    size = 50_000  # half of it fits the stream's initial window: the cut comes after real bytes
    broken = send(c, ledger, "f4h2", size=size, extra=[("x-size", str(size)), *H2_CUTS[cut]])
    results = settle(c, ledger, [broken], 5)
    # The head and the first bytes may or may not have gone out before the reset (the upstream's
    # frames and its cut can arrive in one read): either way, never an end.
    assert results[broken[0]].status in (200, None), results[broken[0]]
    assert_cut(results[broken[0]], size)
    assert [r.outcome for r in up.by_test_id(broken[0])] == ["reset_sent"], "the upstream did not cut as asked"
    after = send(c, ledger, "f4h2-after", size=NEIGHBOUR_SIZE, extra=[("x-size", str(NEIGHBOUR_SIZE))])
    settle(c, ledger, [after], 5)
    assert_neighbour_ok(ledger, after[0])
    ledger.check([up])
    c.close()
    resources.wait_back_to_baseline(dm, base)


def test_f4_h2_client_h2c_upstream_reset_spares_the_neighbour_stream(h2_upstreams: Any, devmesh: Any) -> None:
    """F4 (h2 -> h2c): RST_STREAM mid-body on one upstream stream while another stream of the
    same client connection (multiplexed on the same upstream connection) is in flight: only the
    broken one is reset."""
    up = h2_upstreams("baseline")
    dm = proxy(devmesh, up.address, "h2c")
    ledger = Ledger(deadline=5)
    c = H2Client(dm.port)
    neighbour = send(c, ledger, "ok", size=NEIGHBOUR_SIZE, extra=[("x-size", str(NEIGHBOUR_SIZE)), ("x-delay", "0.3")])
    broken = send(c, ledger, "cut", size=50_000, extra=[("x-size", "50000"), ("x-reset-mid-body", "2")])
    results = settle(c, ledger, [neighbour, broken], 5)
    assert_cut(results[broken[0]], 50_000)
    assert_neighbour_ok(ledger, neighbour[0])
    assert up.connections == 1, "both streams were meant to share one upstream connection"
    ledger.check([up])
    c.close()


@pytest.mark.parametrize("cut", list(H2_CUTS))
def test_f4_f5_h1_client_h2c_upstream_breaks_mid_body(h2_upstreams: Any, devmesh: Any, cut: str) -> None:
    """F4/F5 (h1 -> h2c): an HTTP/1.1 client whose request goes to an h2c upstream that breaks
    mid-body. The head has gone out (Content-Length, or chunked when the upstream sent no
    length), so the only honest signal is the connection: it is aborted before the body is
    complete, never ended cleanly (no made-up last chunk)."""
    up = h2_upstreams("baseline")
    dm = proxy(devmesh, up.address, "h2c")
    ledger = Ledger(deadline=5)
    size = 50_000
    test_id = ledger.issue("f4h1", "GET", size)
    with Client(dm.port, timeout=5) as c:
        resp = c.request(headers=[("x-test-id", test_id), ("x-size", str(size)), *H2_CUTS[cut]])
    ledger.record(test_id, outcome_of_h1(resp))
    assert resp.status == 200 and not resp.complete and resp.outcome in ("eof", "reset"), resp
    assert 0 < resp.body_len < size, resp
    expected_framing = "chunked" if "x-trailers" in dict(H2_CUTS[cut]) else "length"
    assert resp.framing == expected_framing, resp
    ledger.check([up])
    again = ledger.issue("f4h1-after", "GET", 100)
    with Client(dm.port, timeout=5) as c:
        resp = c.request(headers=[("x-test-id", again), ("x-size", "100")])
    ledger.record(again, outcome_of_h1(resp))
    ledger.check([up])
    assert ledger.final(again).kind == "ok"


# ---- F6 / F7: slow heads and stalled bodies ---------------------------------------------------------

def slow_upstream(kind: str, upstream: Any, h2_upstreams: Any) -> tuple[Any, str]:
    return (upstream("baseline"), "http1") if kind == "http1" else (h2_upstreams("baseline"), "h2c")


def behave(kind: str, **params: str) -> tuple[str, list[tuple[str, str]]]:
    """(path, headers) that ask either upstream kind for the same behaviour."""
    if kind == "http1":
        return "/?" + "&".join(f"{k}={v}" for k, v in params.items()), []
    names = {"delay": "x-delay", "size": "x-size", "stall": "x-stall-mid-body"}
    return "/", [(names[k], v) for k, v in params.items()]


@pytest.mark.parametrize("kind", ["http1", "h2c"])
def test_f6_h2_response_timeout_is_504_on_the_stream(upstream: Any, h2_upstreams: Any, devmesh: Any,
                                                     kind: str) -> None:
    """F6 (h2): the upstream takes longer than upstream_response (1 s) to send its head: that
    stream alone gets a 504 from devmesh at the deadline; a stream opened after it on the same
    connection is answered at once, and one opened after the 504 too. The upstream side of the
    timed-out request is abandoned: an HTTP/1.1 connection is not reused, an h2c stream is reset."""
    up, protocol = slow_upstream(kind, upstream, h2_upstreams)
    dm = proxy(devmesh, up.address, protocol, upstream_response="1s")
    ledger = Ledger(deadline=4)
    c = H2Client(dm.port)
    path, extra = behave(kind, delay="3")
    started = time.monotonic()
    slow = send(c, ledger, "f6", path=path, extra=extra)
    path, extra = behave(kind, size=str(NEIGHBOUR_SIZE))
    quick = send(c, ledger, "f6-ok", path=path, size=NEIGHBOUR_SIZE, extra=extra)
    c.wait(lambda: c.streams[quick[1]].done, 3, "the quick neighbour")
    assert not c.streams[slow[1]].done, "the slow stream ended before its deadline"
    results = settle(c, ledger, [slow, quick], 4)
    took = time.monotonic() - started
    r = results[slow[0]]
    assert r.status == 504 and r.ended and bytes(r.data).startswith(b"devmesh:"), r
    assert 0.8 <= took <= 2.5, f"504 after {took:.2f}s with a 1 s response timeout"
    assert_neighbour_ok(ledger, quick[0])
    after = send(c, ledger, "f6-after", path=path, size=NEIGHBOUR_SIZE, extra=extra)
    settle(c, ledger, [after], 3)
    assert_neighbour_ok(ledger, after[0])
    ledger.check([up])
    if kind == "http1":
        conn_of = {r.test_id: r.conn_id for r in up.snapshot()}
        assert conn_of[after[0]] != conn_of[slow[0]], "the timed-out upstream connection was reused"
    else:
        up.wait(lambda u: any(r.test_id == slow[0] and r.outcome == "reset_by_peer" for r in u.snapshot()),
                3, "the timed-out stream to be reset upstream")
    c.close()


@pytest.mark.parametrize("kind", ["http1", "h2c"])
def test_f7_h2_stalled_stream_is_reset_at_the_stream_idle_timeout(upstream: Any, h2_upstreams: Any,
                                                                  devmesh: Any, kind: str) -> None:
    """F7 (h2): the upstream sends the head and part of the body, then nothing. With
    stream_idle 1 s the client's stream is reset (RST_STREAM, never END_STREAM) about a second
    after the last byte, while a neighbour stream on the same connection streams on."""
    up, protocol = slow_upstream(kind, upstream, h2_upstreams)
    dm = proxy(devmesh, up.address, protocol, stream_idle="1s")
    ledger = Ledger(deadline=5)
    c = H2Client(dm.port)
    size = 50_000
    if kind == "http1":
        path, extra = h1_path(size, "stall_mid_body", "delay_body=8"), []
    else:
        path, extra = behave(kind, size=str(size), stall="1")
    started = time.monotonic()
    stalled = send(c, ledger, "f7", path=path, size=size, extra=extra)
    path, extra = behave(kind, size=str(NEIGHBOUR_SIZE))
    neighbour = send(c, ledger, "f7-ok", path=path, size=NEIGHBOUR_SIZE, extra=extra)
    results = settle(c, ledger, [stalled, neighbour], 5)
    took = time.monotonic() - started
    assert_cut(results[stalled[0]], size)
    assert 0.8 <= took <= 3.0, f"reset after {took:.2f}s with a 1 s stream-idle timeout"
    assert_neighbour_ok(ledger, neighbour[0])
    after = send(c, ledger, "f7-after", path=path, size=NEIGHBOUR_SIZE, extra=extra)
    settle(c, ledger, [after], 3)
    assert_neighbour_ok(ledger, after[0])
    ledger.check([up])
    c.close()


# ---- F23: the keep-alive race behind an HTTP/2 client ----------------------------------------------

@pytest.mark.parametrize("fault", ["close_before_head", "reset_before_head"])
def test_f23_h2_idempotent_stream_on_a_dropped_pooled_connection_is_replayed_once(upstream: Any, devmesh: Any,
                                                                                  fault: str) -> None:
    """F23 (h2 -> h1): a GET stream is sent on a pooled HTTP/1.1 connection that the upstream
    drops without a response byte (it closed or reset it just then). devmesh replays the GET
    once on a fresh connection and the stream ends 200; a POST in the same race is never sent
    twice (I3) and gets a 502."""
    baseline = upstream("baseline")
    dm = proxy(devmesh, baseline.address, "http1")
    ledger = Ledger(deadline=5)
    c = H2Client(dm.port)
    settle(c, ledger, [send(c, ledger, "first", path=h1_path(100), size=100)], 5)
    get_ = send(c, ledger, "race-get", path=h1_path(100, extra=f"reused_fault={fault}"), size=100)
    settle(c, ledger, [get_], 5)
    assert ledger.final(get_[0]).kind == "ok", ledger.final(get_[0])
    arrivals = sorted((r.seq, r.conn_id) for r in baseline.snapshot() if r.test_id == get_[0])
    assert [seq for seq, _ in arrivals] == [1, 2] and arrivals[0][1] != arrivals[1][1], \
        f"expected the GET once on the reused connection and once on a fresh one: {arrivals}"
    post = send(c, ledger, "race-post", path=h1_path(100, extra=f"reused_fault={fault}"), method="POST",
                body=b"once")
    results = settle(c, ledger, [post], 5)
    assert results[post[0]].status == 502 or results[post[0]].reset_code is not None, results[post[0]]
    ledger.check([baseline])
    assert len(baseline.by_test_id(post[0])) == 1, "the POST reached the upstream twice"
    net.wait_until(lambda: dm.metrics().value("devmesh_upstream_retries_total") == 1, 2, "one replay counted")
    c.close()


# ---- F9: the sandbox dies under HTTP/2 load --------------------------------------------------------

class StreamLoad:
    """`connections` raw clients, each keeping `depth` streams in flight (a batch is sent, then
    all of it collected) until stopped. Every stream is a ledger entry with a pattern body."""

    def __init__(self, port: int, ledger: Ledger, connections: int, depth: int, size: int, extra=()):
        self.port, self.ledger, self.depth, self.size, self.extra = port, ledger, depth, size, list(extra)
        self.path = h1_path(size)  # the HTTP/1.1 upstream reads the size here, the h2c one from x-size
        self.stop = threading.Event()
        self.batches: list[tuple[float, float, list[str]]] = []  # (sent at, settled at, ids)
        self._lock = threading.Lock()
        self.threads = [threading.Thread(target=self._run, daemon=True) for _ in range(connections)]

    def start(self) -> "StreamLoad":
        for t in self.threads:
            t.start()
        return self

    def finish(self) -> None:
        self.stop.set()
        for t in self.threads:
            t.join(15)

    def _run(self) -> None:
        c = H2Client(self.port)
        try:
            for _ in range(100_000):  # bounded; ends on the event
                if self.stop.is_set():
                    return
                sent_at = time.monotonic()
                sent = [send(c, self.ledger, "load", path=self.path, size=self.size,
                             extra=[("x-size", str(self.size)), *self.extra]) for _ in range(self.depth)]
                settle(c, self.ledger, sent, self.ledger.deadline)
                with self._lock:
                    self.batches.append((sent_at, time.monotonic(), [t for t, _ in sent]))
                if c.io.closed is not None or c.goaways:
                    c.close()
                    c = H2Client(self.port)
        finally:
            c.close()

    def sent_after(self, moment: float) -> int:
        with self._lock:
            return sum(len(ids) for sent_at, _, ids in self.batches if sent_at > moment)

    def settled(self) -> int:
        with self._lock:
            return sum(len(ids) for _, _, ids in self.batches)


@pytest.mark.parametrize("kind", ["http1", "h2c"])
def test_f9_h2_sandbox_endpoint_killed_under_stream_load(upstream: Any, h2_upstreams: Any, devmesh: Any,
                                                         kind: str) -> None:
    """F9 (h2): a sandbox with two endpoints; one is killed while 2 client connections keep 4
    keyed streams each in flight. Only streams in flight at the kill may fail (visibly: reset or
    502, never a cut body reported complete); the dead endpoint's refused connects are retried on
    the other one, so every stream sent after the kill succeeds (N = 0 further failures)."""
    make = (lambda n: upstream(n)) if kind == "http1" else (lambda n: h2_upstreams(n))
    baseline, victim, survivor = make("baseline"), make("sandbox-a"), make("sandbox-b")
    svc = dmconf.service("default", [baseline.address],
                         [{**dmconf.route(KEY, [victim.address, survivor.address], sandbox="sb"), "protocol": kind}])
    dm = devmesh(config=dmconf.render_config([with_protocol(svc, kind)], workers=1))
    ledger = Ledger(deadline=5)
    connections, depth = 2, 4
    load = StreamLoad(dm.port, ledger, connections, depth, 20_000, extra=[BAGGAGE]).start()
    try:
        net.wait_until(lambda: load.settled() >= 100, 15, "load to run")
        victim.stop()
        killed_at = time.monotonic()
        net.wait_until(lambda: load.sent_after(killed_at) >= 300, 20, "load to run on after the kill")
    finally:
        load.finish()
    ledger.check_i1()
    ledger.check_i2()
    ledger.check_i3([baseline, victim, survivor])
    failed = [t for t in ledger.ids() if ledger.final(t).kind != "ok"]
    after = [t for sent_at, _, ids in load.batches if sent_at > killed_at for t in ids]
    failed_after = [t for t in after if t in failed]
    print(f"\nF9 ({kind}): {len(failed)} failures of {len(ledger.ids())} with {connections * depth} in flight; "
          f"{len(after)} sent after the kill, {len(failed_after)} failed")
    assert len(failed) <= connections * depth, \
        f"{len(failed)} failures with {connections * depth} streams in flight: {[ledger.final(t) for t in failed[:5]]}"
    assert not failed_after, f"streams sent after the kill failed: {[ledger.final(t) for t in failed_after[:5]]}"
    assert len(after) >= 100 and all(not baseline.by_test_id(t) for t in ledger.ids()), "keyed streams hit the baseline"


# ---- F14: SIGTERM with streams in flight -----------------------------------------------------------

def test_f14_h2_sigterm_drains_streams_mid_flight(upstream: Any, h2_upstreams: Any, devmesh: Any) -> None:
    """F14 (h2): SIGTERM while two h2c clients have streams in flight: slow heads to an HTTP/1.1
    upstream and an h2c one, and a large body half-delivered (the client holds its window shut).
    Each connection gets GOAWAY(2^31-1, NO_ERROR), then GOAWAY(last stream id, NO_ERROR); every
    stream in flight completes with its whole body; the listener closes; devmesh exits 0 within
    the drain deadline (and as soon as the last stream is done, well before it)."""
    h1, h2 = upstream("baseline"), h2_upstreams("sandbox")
    svc = dmconf.service("default", [h1.address], [{**dmconf.route(KEY, [h2.address]), "protocol": "h2c"}])
    dm = devmesh(config=dmconf.render_config([with_protocol(svc, "http1")], drain_timeout="10s"))
    ledger = Ledger(deadline=10)
    # A 64 KiB stream window, so that holding it really stops the big body part way.
    clients = [H2Client(dm.port, settings={SettingsFrame.INITIAL_WINDOW_SIZE: 65_535}) for _ in range(2)]
    big = 2_000_000
    sent: list[list[tuple[str, int]]] = []
    for c in clients:
        sent.append([
            send(c, ledger, "drain-h1", path=h1_path(50_000, extra="delay=1.5"), size=50_000),
            send(c, ledger, "drain-h2", size=50_000, extra=[BAGGAGE, ("x-size", "50000"), ("x-delay", "1.5")]),
            send(c, ledger, "drain-big", path=h1_path(big), size=big),
        ])
    h1.wait_for_arrivals(4)
    h2.wait(lambda u: len(u.snapshot()) >= 2, 5, "the h2c streams")
    for c, streams in zip(clients, sent):
        big_sid = streams[2][1]
        c.hold(big_sid)  # a slow reader: the big body stops at the stream window
        c.wait(lambda: len(c.streams[big_sid].data) > 0, 5, "the big body to start")
        assert len(c.streams[big_sid].data) < big
    started = time.monotonic()
    dm.send_signal(signal.SIGTERM)
    for c, streams in zip(clients, sent):
        first = c.wait_goaway(3)
        assert first[:2] == (2**31 - 1, NO_ERROR), f"first GOAWAY {first[:2]}: expected (2^31-1, NO_ERROR)"
        c.wait(lambda: len(c.goaways) >= 2, 3, "the second GOAWAY")
        last = max(sid for _, sid in streams)
        assert c.goaways[1][:2] == (last, NO_ERROR), f"second GOAWAY {c.goaways[1][:2]}: expected ({last}, NO_ERROR)"
        assert not c.streams[streams[0][1]].done, "the slow streams were meant to be in flight at the GOAWAY"
        c.release(streams[2][1])
    for c, streams in zip(clients, sent):
        settle(c, ledger, streams, 8)
    ledger.check([h1, h2])
    assert ledger.counts()["ok"] == 6, ledger.summary()
    net.wait_until(lambda: net.connection_refused(dm.port), 3, "the listener to close")
    for c in clients:
        c.close()
    rc = dm.wait_exit(10)
    took = time.monotonic() - started
    assert rc == 0, f"exit status {rc} after the drain"
    assert took < 5.0, f"exited {took:.1f}s after SIGTERM; the last stream ended after ~1.5 s (deadline 10 s)"


# ---- F18: overload --------------------------------------------------------------------------------

def test_f18_h2_streams_above_the_request_cap_are_refused_fast(upstream: Any, devmesh: Any) -> None:
    """F18 (h2): limits.max_requests_per_worker = 4 with one worker, and four slow requests
    holding the slots. New streams get RST_STREAM(REFUSED_STREAM) at once (far below the
    upstream's 2 s), counted in devmesh_requests_shed_total and never forwarded; the held ones
    complete; memory stays bounded; once the slots free up, streams are served again, and
    nothing stays counted in flight (I5)."""
    baseline = upstream("baseline")
    cap = 4
    dm = devmesh(config=dmconf.render_config([with_protocol(dmconf.service("default", [baseline.address]), "http1")],
                                             workers=1, limits={"max_requests_per_worker": cap}))
    base = warm(dm)
    ledger = Ledger(deadline=6)
    holder = H2Client(dm.port)
    held = [send(holder, ledger, "held", path=h1_path(20_000, extra="delay=2"), size=20_000) for _ in range(cap)]
    baseline.wait_for_arrivals(cap)
    shed_before = dm.metrics().value("devmesh_requests_shed_total")
    extra = H2Client(dm.port)
    shed = []
    for _ in range(20):
        shed.append(send(extra, ledger, "shed", path=h1_path(100), size=100))
    results = settle(extra, ledger, shed, 3)
    refused = [r for r in results.values() if r.reset_code == REFUSED_STREAM]
    assert len(refused) == len(shed), {t: (r.status, error_name(r.reset_code)) for t, r in results.items()}
    fast = ledger.latencies("refused")
    assert percentile(fast, 99) < 0.5, f"p99 of the refusals {percentile(fast, 99):.3f}s"
    assert not any(baseline.by_test_id(t) for t, _ in shed), "a refused stream reached the upstream"
    net.wait_until(lambda: dm.metrics().value("devmesh_requests_shed_total") >= shed_before + len(shed), 2,
                   "the refusals counted in devmesh_requests_shed_total")
    settle(holder, ledger, held, 5)
    assert all(ledger.final(t).kind == "ok" for t, _ in held), [ledger.final(t) for t, _ in held]
    again = send(extra, ledger, "after", path=h1_path(100), size=100)
    settle(extra, ledger, [again], 3)
    assert ledger.final(again[0]).kind == "ok", ledger.final(again[0])
    ledger.check([baseline])
    assert dm.peak_rss_kib() < 64 * 1024
    holder.close()
    extra.close()
    resources.wait_back_to_baseline(dm, base)
    print(f"\nF18 (h2): p99 of the refusals {percentile(fast, 99) * 1000:.1f} ms; {ledger.summary()}")


# ---- F3-F5 together: a ledger run of mixed faults ---------------------------------------------------

MIXED_H1_FAULTS = ["", "", "reset_before_head", "close_before_head", "reset_mid_body", "fin_mid_body",
                   "reset_mid_chunked", "fin_mid_chunked", ""]


def test_f3_f4_f5_h2_ledger_of_mixed_faults(upstream: Any, devmesh: Any) -> None:
    """F3-F5 (h2 -> h1) as one ledger run: 3 client connections × 60 streams, GETs and POSTs,
    two thirds of them hitting an upstream that breaks before or during its response, many at once
    on each connection. Every stream ends exactly once within its deadline (I1); each healthy one
    is ok with its exact body and no faulted one is ok (I2); no POST ran twice (I3); afterwards
    the proxy is back to its baseline descriptors, connections, buffers and memory (I5)."""
    baseline = upstream("baseline")
    dm = proxy(devmesh, baseline.address, "http1", workers=2)
    base = warm(dm, 12)
    ledger = Ledger(deadline=5)
    faulted: set[str] = set()
    lock = threading.Lock()

    def client(n: int) -> None:
        c = H2Client(dm.port)
        try:
            for batch in range(10):
                sent = []
                for i in range(6):
                    fault = MIXED_H1_FAULTS[(n + batch * 6 + i) % len(MIXED_H1_FAULTS)]
                    method = "POST" if i % 2 else "GET"
                    size = 20_000 + 997 * i
                    test_id, sid = send(c, ledger, f"mix{n}", path=h1_path(size, fault), method=method,
                                        size=size, body=bodies.pattern(3000) if method == "POST" else None)
                    sent.append((test_id, sid))
                    if fault:
                        with lock:
                            faulted.add(test_id)
                settle(c, ledger, sent, 5)
        finally:
            c.close()
    threads = [threading.Thread(target=client, args=(n,)) for n in range(3)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    ledger.check([baseline])
    assert len(ledger.ids()) == 180
    wrongly_ok = [t for t in faulted if ledger.final(t).kind == "ok"]
    assert not wrongly_ok, f"faulted requests reported ok: {[ledger.final(t) for t in wrongly_ok[:3]]}"
    healthy_failed = [t for t in ledger.ids() if t not in faulted and ledger.final(t).kind != "ok"]
    assert not healthy_failed, f"healthy streams failed: {[ledger.final(t) for t in healthy_failed[:3]]}"
    resources.wait_back_to_baseline(dm, base)
    print(f"\nF3-F5 (h2) ledger: {ledger.summary()}")
