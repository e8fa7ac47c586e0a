"""devmesh's multiplexed HTTP/2 upstream side, against an h2c upstream that misbehaves on purpose
(harness/h2upstream.py): one shared connection per destination and worker, GOAWAY and
REFUSED_STREAM answered by transparent retries of the streams the upstream never processed, the
peer's SETTINGS_MAX_CONCURRENT_STREAMS honoured, an upstream that does not speak HTTP/2 failing
fast. Also the HTTP/1.1-downstream to HTTP/2-upstream translation.

Clients are the raw HTTP/2 client (every stream's outcome is visible) and curl. Every request
carries an x-test-id and is checked in the upstream's ledger: processed exactly once.
"""

from __future__ import annotations

import subprocess
import time
from typing import Any

import pytest

from grpc_support.fixtures import KEY, baggage, h2_upstreams, nginx_h2  # noqa: F401
from harness import net
from harness.checks import new_id
from harness.h2client import H2Client, request_headers
from harness.h2frames import INTERNAL_ERROR, PROTOCOL_ERROR, DataFrame
from harness.h2upstream import H2Upstream


def fire(port: int, n: int, extra=(), timeout: float = 10.0) -> tuple[H2Client, list[tuple[str, int]]]:
    """Opens n GET streams at once on one connection; returns the client and (test id, stream id)."""
    c = H2Client(port)
    sent = []
    for _ in range(n):
        test_id = new_id("up")
        sent.append((test_id, c.request(request_headers(path="/", extra=[("x-test-id", test_id), *extra]))))
    return c, sent


def collect(c: H2Client, sent: list[tuple[str, int]], timeout: float = 10.0) -> dict[str, Any]:
    results = {test_id: c.response(sid, timeout) for test_id, sid in sent}
    c.close()
    return results


def assert_each_processed_once(upstream: Any, ids: list[str]) -> None:
    for test_id in ids:
        answered = [r for r in upstream.by_test_id(test_id) if r.outcome == "answered"]
        assert len(answered) == 1, f"{test_id}: {[(r.conn_id, r.stream_id, r.outcome) for r in upstream.by_test_id(test_id)]}"


def test_one_multiplexed_connection_per_worker(h2_upstreams: Any, devmesh: Any) -> None:
    upstream = h2_upstreams("baseline")
    dm = devmesh("--baseline", upstream.address, "--workers", "1")
    c, sent = fire(dm.port, 50, extra=[("x-delay", "0.2")])
    results = collect(c, sent)
    assert all(r.status == 200 and bytes(r.data) == b"baseline\n" for r in results.values())
    assert_each_processed_once(upstream, [t for t, _ in sent])
    assert upstream.connections == 1, f"{upstream.connections} upstream connections for one worker"
    assert upstream.peak_concurrency > 1, "the streams were not multiplexed"
    # A second client connection shares the same upstream connection.
    c2, sent2 = fire(dm.port, 5)
    assert all(r.status == 200 for r in collect(c2, sent2).values())
    assert upstream.connections == 1


def test_streams_above_goaway_last_id_are_retried(h2_upstreams: Any, devmesh: Any) -> None:
    """F20: the upstream sends GOAWAY(last = its 3rd stream) on its first connection and never processes
    the streams above: devmesh retries those on a new connection and every request succeeds once."""
    upstream = h2_upstreams("baseline", goaway_after=3, goaway_connections={1})
    dm = devmesh("--baseline", upstream.address, "--workers", "1")
    c, sent = fire(dm.port, 10, extra=[("x-delay", "0.2")])
    results = collect(c, sent)
    bad = {t: (r.status, r.reset_code) for t, r in results.items() if r.status != 200}
    assert not bad, f"requests failed after the upstream's GOAWAY: {bad}"
    assert_each_processed_once(upstream, [t for t, _ in sent])
    over = [r for r in upstream.snapshot() if r.outcome == "over_goaway"]
    assert over, "the test did not exercise GOAWAY (every stream was under the last id)"
    assert upstream.connections >= 2
    net.wait_until(lambda: dm.metrics().value("devmesh_upstream_retries_total") >= len(over), 5,
                   "devmesh_upstream_retries_total to count the retries")


def test_refused_streams_are_retried(h2_upstreams: Any, devmesh: Any) -> None:
    """F20 (REFUSED_STREAM): every stream is refused the first time it arrives; each is sent again and
    answered once (I4)."""
    upstream = h2_upstreams("baseline", refuse_first_arrival=True)
    dm = devmesh("--baseline", upstream.address)
    c, sent = fire(dm.port, 8)
    results = collect(c, sent)
    assert all(r.status == 200 for r in results.values()), {t: (r.status, r.reset_code) for t, r in results.items()}
    for test_id, _ in sent:
        outcomes = sorted(r.outcome for r in upstream.by_test_id(test_id))
        assert outcomes == ["answered", "refused"], (test_id, outcomes)
    net.wait_until(lambda: dm.metrics().value("devmesh_upstream_retries_total") >= 8, 5, "retries in /metrics")


def test_peer_max_concurrent_streams_is_honoured(h2_upstreams: Any, devmesh: Any) -> None:
    """The upstream allows 1 stream at a time (and refuses more): devmesh queues or opens more
    connections, and no request fails."""
    upstream = h2_upstreams("baseline", max_concurrent_streams=1)
    dm = devmesh("--baseline", upstream.address, "--workers", "1")
    # A first request lets devmesh learn the peer's SETTINGS on a connection that stays open.
    c, sent = fire(dm.port, 1)
    assert collect(c, sent)[sent[0][0]].status == 200
    c, sent = fire(dm.port, 8, extra=[("x-delay", "0.1")])
    results = collect(c, sent)
    bad = {t: (r.status, r.reset_code, bytes(r.data)[:80]) for t, r in results.items() if r.status != 200}
    assert not bad, f"requests failed against MAX_CONCURRENT_STREAMS=1: {bad}"
    assert_each_processed_once(upstream, [t for t, _ in sent])
    assert upstream.peak_concurrency == 1
    refused = [r for r in upstream.snapshot() if r.outcome == "refused"]
    assert not refused, f"devmesh opened streams beyond the peer's limit: {len(refused)} refused"


def test_peer_max_concurrent_streams_on_a_fresh_connection(h2_upstreams: Any, devmesh: Any) -> None:
    """The same, when the requests arrive before devmesh has the peer's SETTINGS: streams sent
    beyond the limit in that window may be refused, but are then retried; no request fails."""
    upstream = h2_upstreams("baseline", max_concurrent_streams=1)
    dm = devmesh("--baseline", upstream.address, "--workers", "1")
    c, sent = fire(dm.port, 8, extra=[("x-delay", "0.1")])
    results = collect(c, sent)
    bad = {t: (r.status, r.reset_code, bytes(r.data)[:80]) for t, r in results.items() if r.status != 200}
    assert not bad, f"requests failed against MAX_CONCURRENT_STREAMS=1: {bad}"
    assert_each_processed_once(upstream, [t for t, _ in sent])
    assert upstream.peak_concurrency == 1


def test_upstream_that_does_not_speak_http2_fails_fast(upstream: Any, devmesh: Any) -> None:
    """F21 (h2c): `auto` sends an HTTP/2 request to an HTTP/1.1-only upstream (a misconfiguration): the
    upstream's HTTP/1.1 answer is not a server preface, so the request fails at once with 502,
    not at the 15 s response timeout."""
    http1_only = upstream("http1-only")
    dm = devmesh("--baseline", http1_only.address)
    c = H2Client(dm.port)
    started = time.monotonic()
    result = c.response(c.get("/"), timeout=10)
    elapsed = time.monotonic() - started
    c.close()
    assert result.status == 502 and bytes(result.data).startswith(b"devmesh:"), result
    assert elapsed < 3, f"502 after {elapsed:.1f}s"


def test_upstream_reset_after_head_resets_the_client_stream(h2_upstreams: Any, devmesh: Any) -> None:
    """F4 (h2c upstream): RST_STREAM(INTERNAL_ERROR) from the upstream after its response head: the client's
    stream is reset too (the head may or may not have gone out first), never ended as if complete; the
    connection keeps serving."""
    upstream = h2_upstreams("baseline")
    dm = devmesh("--baseline", upstream.address)
    c = H2Client(dm.port)
    broken = c.response(c.get("/", extra=[("x-reset", str(INTERNAL_ERROR))]))
    assert broken.reset_code is not None and not broken.ended, broken
    ok = c.response(c.get("/"))
    assert ok.status == 200 and bytes(ok.data) == b"baseline\n"
    c.close()


# ---- HTTP/1.1 downstream to an h2c upstream (the lead's work in progress) ----------------------

def curl_h1(port: int, path: str, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run(["curl", "-sS", "--http1.1", "--max-time", "10", "-D", "-", *args,
                           f"http://127.0.0.1:{port}{path}"], capture_output=True, timeout=20)


def test_http1_client_to_h2c_upstreams_routes(nginx_h2: Any, devmesh: Any) -> None:
    baseline, sandbox = nginx_h2("baseline"), nginx_h2("sandbox")
    dm = devmesh("--baseline", baseline.address, "--route", f"{KEY}={sandbox.address}",
                 "--upstream-protocol", "h2c")
    routed = curl_h1(dm.port, "/name", "-H", f"baggage: sd-routing-key={KEY}")
    plain = curl_h1(dm.port, "/name")
    assert routed.stdout.endswith(b"\r\n\r\nsandbox\n"), routed
    assert plain.stdout.endswith(b"\r\n\r\nbaseline\n"), plain
    assert sandbox.protocols() == ["HTTP/2.0"] and baseline.protocols() == ["HTTP/2.0"]


@pytest.mark.parametrize("framing", ["content-length", "chunked"])
def test_http1_client_body_to_h2c_upstream(h2_upstreams: Any, devmesh: Any, tmp_path: Any, framing: str) -> None:
    upstream = h2_upstreams("baseline")
    dm = devmesh("--baseline", upstream.address, "--upstream-protocol", "h2c")
    body = bytes(range(256)) * 1000
    (tmp_path / "body").write_bytes(body)
    extra = ["-H", "Transfer-Encoding: chunked"] if framing == "chunked" else []
    test_id = new_id("h1h2")
    out = curl_h1(dm.port, "/upload", "--data-binary", f"@{tmp_path / 'body'}", "-H", f"x-test-id: {test_id}",
                  *extra)
    assert out.returncode == 0 and b" 200 " in out.stdout.split(b"\r\n", 1)[0], out
    got = upstream.by_test_id(test_id)
    assert len(got) == 1 and bytes(got[0].body) == body
    assert got[0].headers.get(":authority") == f"127.0.0.1:{dm.port}"
    assert "transfer-encoding" not in got[0].headers and "connection" not in got[0].headers


def test_http1_client_gets_h2c_trailers_as_chunked_trailers(h2_upstreams: Any, devmesh: Any) -> None:
    upstream = h2_upstreams("baseline")
    dm = devmesh("--baseline", upstream.address, "--upstream-protocol", "h2c")
    with net.connect(dm.port) as s:
        s.sendall(b"GET /t HTTP/1.1\r\nHost: svc\r\nTE: trailers\r\nx-trailers: x-checksum=abc\r\n"
                  b"Connection: close\r\n\r\n")
        data = b""
        while chunk := s.recv(65536):
            data += chunk
    head, _, body = data.partition(b"\r\n\r\n")
    assert b"transfer-encoding: chunked" in head.lower(), head
    assert body.endswith(b"0\r\nx-checksum: abc\r\n\r\n"), body


# ---- malformed upstream responses (RFC 9113 §8.1.1, checked by devmesh's client session) ------

# Per request path, the frames the upstream answers with (H2Upstream's `scripted`; stream id given).
MALFORMED_RESPONSES = {
    # Before any valid head: devmesh answers 502 itself.
    "/no-status": lambda io, sid: [io.headers_frame(sid, [("x-a", "1")], end_stream=True)],
    "/status-101": lambda io, sid: [io.headers_frame(sid, [(":status", "101")], end_stream=True)],
    "/connection-field": lambda io, sid: [io.headers_frame(sid, [(":status", "200"), ("connection", "close")],
                                                           end_stream=True)],
    "/interim-with-end-stream": lambda io, sid: [io.headers_frame(sid, [(":status", "103")], end_stream=True)],
    # After a valid head: the client's stream is reset, never ended as if complete.
    "/body-over-content-length": lambda io, sid: [
        io.headers_frame(sid, [(":status", "200"), ("content-length", "3")]), DataFrame(sid, b"abcd", flags=["END_STREAM"])],
    "/body-under-content-length": lambda io, sid: [
        io.headers_frame(sid, [(":status", "200"), ("content-length", "3")]), DataFrame(sid, b"ab", flags=["END_STREAM"])],
    "/204-with-body": lambda io, sid: [io.headers_frame(sid, [(":status", "204")]), DataFrame(sid, b"x", flags=["END_STREAM"])],
    "/trailers-without-end-stream": lambda io, sid: [
        io.headers_frame(sid, [(":status", "200")]), DataFrame(sid, b"ab"), io.headers_frame(sid, [("x-t", "1")])],
    "/head-with-body": lambda io, sid: [io.headers_frame(sid, [(":status", "200")]),
                                        DataFrame(sid, b"x", flags=["END_STREAM"])],
}


@pytest.mark.parametrize("path", list(MALFORMED_RESPONSES), ids=[p.strip("/") for p in MALFORMED_RESPONSES])
def test_malformed_upstream_response_never_completes_the_client_stream(devmesh: Any, path: str) -> None:
    """F21 (h2c): a response that breaks RFC 9113 §8 is malformed: devmesh resets the upstream stream with
    PROTOCOL_ERROR, and the client gets 502 when nothing of a response had gone out yet, or a reset
    stream (never a clean end) when the head had; the connection keeps serving."""
    # Named "ok": its plain answer (any other path) is then the body b"ok\n".
    upstream = H2Upstream("ok", scripted=MALFORMED_RESPONSES)
    try:
        dm = devmesh("--baseline", upstream.address, "--upstream-protocol", "h2c")
        c = H2Client(dm.port)
        method = "HEAD" if path == "/head-with-body" else "GET"
        r = c.response(c.request(request_headers(method, path)), timeout=10)
        if path in ("/no-status", "/status-101", "/connection-field", "/interim-with-end-stream"):
            assert r.status == 502 and r.ended, f"{path}: {r}"
        else:
            assert r.reset_code is not None and not r.ended, f"{path}: {r}"
        net.wait_until(lambda: PROTOCOL_ERROR in [code for _, _, code in upstream.resets], 5,
                       "RST_STREAM(PROTOCOL_ERROR) upstream")
        ok = c.response(c.get("/fine"), timeout=10)
        assert ok.status == 200 and bytes(ok.data) == b"ok\n", ok
        c.close()
    finally:
        upstream.stop()
