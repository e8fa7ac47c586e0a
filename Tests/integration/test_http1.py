"""HTTP/1.1 semantics through the proxy: connection reuse, pipelining, body framing both ways,
interim responses, bodiless responses, hop-by-hop fields, upgrades and HTTP/1.0 clients.
RFC 9112 (message syntax) and RFC 9110 §7.6.1 (Connection), §10.1.1 (Expect)."""

from __future__ import annotations

import subprocess
import time

import pytest
from websockets.sync.client import connect as ws_connect

from conftest import KEY
from harness import bodies
from harness.checks import assert_routed, new_id
from harness.client import Client, build_request, get

SANDBOX_BAGGAGE = ("baggage", f"sd-routing-key={KEY}")


def test_keep_alive_reuses_upstream_connections(sandbox_proxy):
    p = sandbox_proxy()
    with Client(p.port) as c:
        for _ in range(20):
            tid = new_id()
            assert_routed(c.request(headers=[("x-test-id", tid)]), tid, p.baseline, [p.sandbox])
    for _ in range(5):  # new downstream connections still find pooled upstream connections
        tid = new_id()
        assert_routed(get(p.port, "/", [("x-test-id", tid)]), tid, p.baseline, [p.sandbox])
    ledger = p.baseline.wait_for(25)
    conns = {r.conn_id for r in ledger}
    assert len(conns) <= 4, f"25 requests used {len(conns)} upstream connections"


def test_keep_alive_to_an_nginx_upstream(nginx_upstream, devmesh):
    ng = nginx_upstream("ngx")
    dm = devmesh("--baseline", ng.address)
    with Client(dm.port) as c:
        for i in range(20):
            resp = c.request(path="/name", headers=[("x-test-id", f"n{i}")])
            assert resp.complete and resp.status == 200 and resp.text == "ngx\n", resp
        small = c.request(path="/small.txt")
        assert small.complete and small.body == bodies.pattern(1000)
    log = ng.wait_for(21)
    assert [e.test_id for e in log[:20]] == [f"n{i}" for i in range(20)]  # each exactly once, in order
    assert len({e.conn for e in log}) < 5, f"nginx saw {len({e.conn for e in log})} connections for 21 requests"
    assert max(e.conn_requests for e in log) > 5


def test_pipelined_requests_are_answered_in_order(sandbox_proxy):
    """Three requests in one write, to different destinations (RFC 9112 §9.3.2)."""
    p = sandbox_proxy()
    plan = [(new_id(), None), (new_id(), KEY), (new_id(), None)]
    data = b"".join(build_request(headers=[("x-test-id", tid)] + ([("baggage", f"sd-routing-key={k}")] if k else []))
                    for tid, k in plan)
    with Client(p.port) as c:
        c.send(data)
        responses = [c.read_response() for _ in plan]
    for (tid, key), resp in zip(plan, responses):
        to, other = (p.sandbox, p.baseline) if key else (p.baseline, p.sandbox)
        assert_routed(resp, tid, to, [other])


def test_chunked_request_body_with_extensions_and_trailers(sandbox_proxy):
    p = sandbox_proxy()
    parts = [bodies.pattern(1), bodies.pattern(70_000)[1:], b"z" * 4096]
    body = b"".join(parts)
    wire_body = (b"1;ext=1\r\n" + parts[0] + b"\r\n"
                 + f"{len(parts[1]):X}\r\n".encode() + parts[1] + b"\r\n"
                 + f"{len(parts[2]):x} ; name=\"v\"\r\n".encode() + parts[2] + b"\r\n"
                 + b"0\r\nx-checksum: abc\r\n\r\n")
    tid = new_id()
    head = build_request("POST", "/?echo=1", [("Transfer-Encoding", "chunked"), ("x-test-id", tid)])
    with Client(p.port) as c:
        c.send(head + wire_body)
        resp = c.read_response()
        assert resp.complete and resp.body == body, resp
        again = c.request(headers=[("x-test-id", new_id())])  # framing ended where it should
        assert again.complete and again.upstream == "baseline"
    (rec,) = p.baseline.by_test_id(tid)
    assert rec.complete and rec.body_len == len(body) and rec.body_sha256 == bodies.sha256(body)


@pytest.mark.parametrize("size,chunk", [(0, 1), (1, 1), (100_000, 1000), (3_000_000, 65536)])
def test_chunked_response_body(sandbox_proxy, size, chunk):
    p = sandbox_proxy()
    with Client(p.port) as c:
        resp = c.request(path=f"/?chunked=1&size={size}&chunk={chunk}", headers=[SANDBOX_BAGGAGE])
        assert resp.complete and resp.upstream == "sandbox", resp
        assert resp.body_len == size and resp.body_sha256 == bodies.pattern_sha256(size)
        assert c.request().upstream == "baseline"  # the connection is still in step


def test_chunked_both_ways_echo(sandbox_proxy):
    p = sandbox_proxy()
    body = bodies.pattern(200_000)
    resp = Client(p.port).request("POST", "/?echo=1&chunked=1&chunk=5000", [SANDBOX_BAGGAGE], body=body, chunked=True)
    assert resp.complete and resp.body == body and resp.upstream == "sandbox"
    assert p.sandbox.wait_for(1)[0].body_sha256 == bodies.sha256(body)


def test_content_length_request_body(sandbox_proxy):
    p = sandbox_proxy()
    body = bodies.pattern(1_000_000)
    tid = new_id()
    resp = Client(p.port).request("PUT", "/", [("x-test-id", tid)], body=body)
    rec = assert_routed(resp, tid, p.baseline, [p.sandbox])
    assert rec.method == "PUT" and rec.body_len == len(body) and rec.body_sha256 == bodies.sha256(body)


def test_expect_100_continue_is_answered_before_the_body_is_sent(sandbox_proxy):
    """The client waits for `100 Continue` before sending the body (RFC 9110 §10.1.1)."""
    p = sandbox_proxy()
    body = bodies.pattern(300_000)
    tid = new_id()
    with Client(p.port, timeout=5) as c:
        c.send(build_request("POST", "/", [("Expect", "100-continue"), ("Content-Length", str(len(body))),
                                           ("x-test-id", tid)]))
        interim = c.read_head()
        assert interim.start[1] == b"100", interim.raw
        c.send(body)
        resp = c.read_response("POST")
    rec = assert_routed(resp, tid, p.baseline, [p.sandbox])
    assert rec.body_sha256 == bodies.sha256(body)


def test_expect_100_continue_with_curl(sandbox_proxy, tmp_path):
    """curl waits up to --expect100-timeout for the 100; a proxy that never sends it shows up
    as a slow request."""
    p = sandbox_proxy()
    f = tmp_path / "body.bin"
    f.write_bytes(bodies.pattern(2_000_000))
    start = time.monotonic()
    out = subprocess.run(["curl", "-sS", "--expect100-timeout", "8", "-H", "Expect: 100-continue",
                          "-H", f"baggage: sd-routing-key={KEY}", "--data-binary", f"@{f}",
                          "-D", "-", "-o", "/dev/null", f"http://127.0.0.1:{p.port}/up"],
                         capture_output=True, timeout=30)
    assert out.returncode == 0, out.stderr
    assert time.monotonic() - start < 5, "the 100 Continue did not come"
    assert b"x-req-body-sha256: " + bodies.pattern_sha256(2_000_000).encode() in out.stdout.lower()


@pytest.mark.parametrize("method,status", [("HEAD", 200), ("GET", 204), ("GET", 304)])
def test_responses_without_body_keep_the_connection_in_step(sandbox_proxy, method, status):
    p = sandbox_proxy()
    with Client(p.port, timeout=5) as c:
        first = c.request(method, f"/?status={status}&size=1000")
        assert first.status == status and first.complete and first.body_len == 0, first
        assert first.upstream == "baseline"
        if method == "HEAD":
            assert first.header("content-length") == "1000"
        tid = new_id()
        assert_routed(c.request(headers=[("x-test-id", tid)]), tid, p.baseline, [p.sandbox])


def test_connection_close_from_the_client(sandbox_proxy):
    p = sandbox_proxy()
    tid = new_id()
    with Client(p.port) as c:
        resp = c.request(headers=[("Connection", "close"), ("x-test-id", tid)])
        assert_routed(resp, tid, p.baseline, [p.sandbox])
        assert c.closed_by_peer(3), "the proxy kept the connection open after Connection: close"


def test_connection_close_from_the_upstream_is_not_forwarded_as_a_dead_pool(sandbox_proxy):
    """The upstream closes after each response; the proxy must not reuse those connections."""
    p = sandbox_proxy()
    with Client(p.port) as c:
        for _ in range(5):
            tid = new_id()
            assert_routed(c.request(path="/?close=1", headers=[("x-test-id", tid)]), tid, p.baseline)
    assert len({r.conn_id for r in p.baseline.snapshot()}) == 5


def test_hop_by_hop_fields_are_removed_and_trace_headers_kept_byte_for_byte(sandbox_proxy):
    p = sandbox_proxy()
    trace = [
        ("traceparent", "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01"),
        ("tracestate", "rojo=00f067aa0ba902b7,congo=t61rcWkgMzE"),
        ("baggage", f"userId=alice,  sd-routing-key={KEY};ttl=60 ,isProduction=false"),
        ("baggage", "second=line%20here"),
        ("uberctx-sd-routing-key", KEY),
        ("X-B3-TraceId", "80f198ee56343ba864fe8b2a57d3eff7"),
        ("sd-traffic", "eyJ0YXJnZXQiOiJ4In0="),
    ]
    tid = new_id()
    hop = [("Connection", "X-Secret, keep-alive"), ("X-Secret", "s3cr3t"), ("Keep-Alive", "timeout=5"),
           ("Proxy-Connection", "keep-alive")]
    rec = assert_routed(get(p.port, "/", [*hop, *trace, ("x-test-id", tid)]), tid, p.sandbox, [p.baseline])
    for name in ("x-secret", "keep-alive", "proxy-connection"):
        assert rec.header(name) is None, f"{name} reached the upstream: {rec.head.raw!r}"
    assert not rec.head.has_token("connection", "x-secret")
    for name, value in trace:
        assert [v for n, v in rec.head.headers if n.lower() == name.lower().encode()] == \
            [v.encode() for n, v in trace if n.lower() == name.lower()], f"{name} changed on the way"


def test_h2c_upgrade_is_not_forwarded(sandbox_proxy):
    """RFC 9110 §7.8: a proxy never forwards an Upgrade it does not support; h2c is dropped."""
    p = sandbox_proxy()
    tid = new_id()
    resp = get(p.port, "/", [("Connection", "Upgrade, HTTP2-Settings"), ("Upgrade", "h2c"),
                             ("HTTP2-Settings", "AAMAAABkAAQAAP__"), ("x-test-id", tid)])
    rec = assert_routed(resp, tid, p.baseline, [p.sandbox])
    assert rec.header("upgrade") is None and rec.header("http2-settings") is None, rec.head.raw


def test_websocket_echo_through_the_proxy(sandbox_proxy):
    p = sandbox_proxy()
    with ws_connect(f"ws://127.0.0.1:{p.port}/chat", open_timeout=5,
                    additional_headers={"baggage": f"sd-routing-key={KEY}"}) as ws:
        messages = ["hello", "é" * 1000, b"\x00\xff" * 40_000, "last"]
        for m in messages:
            ws.send(m)
            assert ws.recv(timeout=5) == m
    (rec,) = p.sandbox.wait_for(1)
    assert rec.path == "/chat" and rec.head.has_token("upgrade", "websocket")
    assert p.sandbox.ws_messages == len(messages) and p.baseline.count() == 0


def test_http10_client(sandbox_proxy):
    p = sandbox_proxy()
    tid = new_id()
    with Client(p.port) as c:
        resp = c.request(headers=[("x-test-id", tid)], version="HTTP/1.0")
        assert_routed(resp, tid, p.baseline, [p.sandbox])
        assert resp.head.start[0] in (b"HTTP/1.0", b"HTTP/1.1")
        assert c.closed_by_peer(3), "an HTTP/1.0 connection without keep-alive stayed open"
    body = bodies.pattern(10_000)
    out = subprocess.run(["curl", "-sS", "-0", "-H", f"baggage: sd-routing-key={KEY}", "--data-binary", "@-",
                          f"http://127.0.0.1:{p.port}/ten"], input=body, capture_output=True, timeout=10)
    assert out.returncode == 0 and out.stdout == b"sandbox\n", out
    assert p.sandbox.wait_for(1)[0].body_sha256 == bodies.sha256(body)


def test_http10_keep_alive_client(sandbox_proxy):
    p = sandbox_proxy()
    with Client(p.port) as c:
        for _ in range(2):
            tid = new_id()
            resp = c.request(headers=[("Connection", "keep-alive"), ("x-test-id", tid)], version="HTTP/1.0")
            assert_routed(resp, tid, p.baseline, [p.sandbox])
            assert resp.framing == "length"
