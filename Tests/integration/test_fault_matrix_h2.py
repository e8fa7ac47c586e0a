"""The fault matrix of notes/reliability.md §5 over HTTP/2, one fault on one stream at a time:
the upstream faults F3-F7 for an h2c client in front of HTTP/1.1 and h2c upstreams (and an
HTTP/1.1 client in front of an h2c one), F21 (malformed upstream responses), F22 (a client
that resets mid-upload), F23 (the keep-alive race), and I5 for connections the client closes. Load and lifecycle cases (F9, F14,
F18, a mixed-fault run) are in test_fault_matrix_h2_load.py.

Every request carries an x-test-id and ends in the ledger (harness/ledger.py) with one outcome;
the invariants are checked there: one outcome each within the deadline (I1), no cut or corrupted
body reported as success (I2: bodies are pattern bodies with a known hash), no POST processed
twice (I3), and the proxy's descriptors, connections, buffers and memory back to baseline (I5,
harness/resources.py). A fault on one stream must not touch the others on the same connection:
most tests keep a healthy neighbour stream in flight next to the broken one.
"""

from __future__ import annotations

import time
from typing import Any

import pytest

from grpc_support.fixtures import h2_upstreams  # noqa: F401
from harness import net, resources
from harness.client import Client
from harness.h2client import H2Client, request_headers
from harness.h2frames import CANCEL
from harness.ledger import Ledger, Outcome, outcome_of_h1
from harness.streams import (NEIGHBOUR_SIZE, assert_cut, assert_neighbour_ok, h1_path, proxy, send, settle,
                             warm)


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


H2_BEFORE_HEAD = {
    "rst-stream": [("x-reset-first", "2")],  # RST_STREAM(INTERNAL_ERROR) before any response frame
    "conn-reset": [("x-drop-before-head", "reset")],
    "conn-fin": [("x-drop-before-head", "fin")],
}


@pytest.mark.parametrize("method", ["GET", "POST"])
@pytest.mark.parametrize("cut", list(H2_BEFORE_HEAD))
def test_f3_h2_client_h2c_upstream_gone_before_the_head(h2_upstreams: Any, devmesh: Any, cut: str,
                                                        method: str) -> None:
    """F3 (h2 -> h2c): the h2c upstream resets the stream, or drops its whole connection without
    a GOAWAY, before any response frame. The stream may have been processed, so it is not sent
    again: the client gets a 502 from devmesh or RST_STREAM, never a success, and the request
    reached the upstream once; the next stream is served."""
    up = h2_upstreams("baseline")
    dm = proxy(devmesh, up.address, "h2c")
    base = warm(dm)
    ledger = Ledger(deadline=5)
    c = H2Client(dm.port)
    broken = send(c, ledger, "f3h2", method=method, body=b"once" if method == "POST" else None,
                  extra=H2_BEFORE_HEAD[cut])
    results = settle(c, ledger, [broken], 5)
    got, r = ledger.final(broken[0]), results[broken[0]]
    assert got.kind in ("http_error", "reset"), got
    if got.kind == "http_error":
        assert r.status == 502 and bytes(r.data).startswith(b"devmesh:"), r
    assert len(up.by_test_id(broken[0])) == 1, "the request was sent to the upstream again"
    after = send(c, ledger, "f3h2-after", size=NEIGHBOUR_SIZE, extra=[("x-size", str(NEIGHBOUR_SIZE))])
    settle(c, ledger, [after], 5)
    assert_neighbour_ok(ledger, after[0])
    ledger.check([up])
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
    neighbour = send(c, ledger, "ok", size=NEIGHBOUR_SIZE,
                     extra=[("x-size", str(NEIGHBOUR_SIZE)), ("x-delay", "0.3")])
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
    print(f"\nF6 (h2, {kind}): 504 after {took:.2f}s")
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
    print(f"\nF7 (h2, {kind}): reset after {took:.2f}s")
    assert_neighbour_ok(ledger, neighbour[0])
    after = send(c, ledger, "f7-after", path=path, size=NEIGHBOUR_SIZE, extra=extra)
    settle(c, ledger, [after], 3)
    assert_neighbour_ok(ledger, after[0])
    ledger.check([up])
    c.close()


# ---- F21: a malformed upstream response -------------------------------------------------------------

@pytest.mark.parametrize("fault", ["cl_te", "bad_cl", "dup_cl", "bad_status", "bad_chunk"])
def test_f21_h2_client_malformed_h1_response_is_502_and_the_connection_dropped(upstream: Any, devmesh: Any,
                                                                               fault: str) -> None:
    """F21 (h2 -> h1): the HTTP/1.1 upstream answers with broken framing (CL + TE, a bad or
    doubled Content-Length, a bad status line, a bad chunk) and keeps the connection open. The
    stream gets a 502 from devmesh, or RST_STREAM when the bad part came after a valid head
    (bad chunk), never a success; the request ran once; the next stream does not use the
    poisoned connection (no desync)."""
    baseline = upstream("baseline")
    dm = proxy(devmesh, baseline.address, "http1")
    ledger = Ledger(deadline=5)
    c = H2Client(dm.port)
    bad = send(c, ledger, "f21", path=h1_path(1000, fault))
    results = settle(c, ledger, [bad], 5)
    r = results[bad[0]]
    if r.status == 502 and r.ended:
        assert bytes(r.data).startswith(b"devmesh:"), r
    else:
        assert fault == "bad_chunk" and r.reset_code is not None and not r.ended, r
    (poisoned,) = baseline.by_test_id(bad[0])
    after = send(c, ledger, "f21-after", path=h1_path(5000), size=5000)
    settle(c, ledger, [after], 5)
    assert_neighbour_ok(ledger, after[0])
    (clean,) = baseline.by_test_id(after[0])
    assert clean.conn_id != poisoned.conn_id, "the connection with the malformed response was reused"
    ledger.check([baseline])
    c.close()


# ---- F22: the client gives up mid-request ------------------------------------------------------------

@pytest.mark.parametrize("kind", ["http1", "h2c"])
def test_f22_h2_client_reset_mid_upload_cancels_the_upstream(upstream: Any, h2_upstreams: Any, devmesh: Any,
                                                              kind: str) -> None:
    """F22 (h2): the client resets its stream (RST_STREAM CANCEL) halfway through a 100 kB
    upload. The upstream never sees a complete request: an HTTP/1.1 upstream's connection is cut
    (and never pooled again: the next stream arrives on a new one), an h2c upstream gets
    RST_STREAM on that stream. The client's connection keeps serving."""
    up, protocol = slow_upstream(kind, upstream, h2_upstreams)
    dm = proxy(devmesh, up.address, protocol)
    base = warm(dm)
    ledger = Ledger(deadline=5)
    c = H2Client(dm.port)
    test_id = ledger.issue("f22", "POST")
    sid = c.request(request_headers("POST", "/", extra=[("x-test-id", test_id), ("content-length", "100000")]),
                    end_stream=False)
    c.send_data(sid, b"x" * 5000)
    if kind == "http1":
        up.wait_for_arrivals(1)
    else:
        up.wait(lambda u: bool(u.by_test_id(test_id)), 5, "the stream upstream")
    c.reset(sid, CANCEL)
    ledger.record(test_id, Outcome("reset", code=CANCEL, detail="reset by the client"))
    if kind == "http1":
        net.wait_until(lambda: [r.test_id for r in up.aborted] == [test_id], 5, "the upload cut upstream")
        assert not up.by_test_id(test_id), "the upstream saw the aborted upload complete"
    else:
        up.wait(lambda u: any(r.test_id == test_id and r.outcome == "reset_by_peer" for r in u.snapshot()), 5,
                "RST_STREAM upstream")
        assert not any(r.complete for r in up.by_test_id(test_id))
    after = send(c, ledger, "f22-after", path=h1_path(NEIGHBOUR_SIZE), size=NEIGHBOUR_SIZE,
                 extra=[("x-size", str(NEIGHBOUR_SIZE))])
    settle(c, ledger, [after], 5)
    assert_neighbour_ok(ledger, after[0])
    if kind == "http1":
        (aborted,) = up.aborted
        (clean,) = up.by_test_id(after[0])
        assert clean.conn_id != aborted.conn_id, "the connection of the cancelled upload was pooled"
    ledger.check([up])
    c.close()
    resources.wait_back_to_baseline(dm, base)


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
