"""Request-smuggling and parser defences, sent over raw sockets.

Every malformed request must get a devmesh error (400, or 431/501/505 where the contract says
so), the downstream connection must be closed (the framing can no longer be trusted), and the
upstream must not receive the request. Each family has a valid counterpart that must go
through, so a proxy that rejects everything cannot pass. Anchors: RFC 9112 §2.2, §3, §5, §6,
§7.1 and the devmesh targets in notes/reliability.md §2.
"""

from __future__ import annotations

import pytest

from harness.checks import assert_proxy_error, assert_routed, new_id
from harness.client import Client

START = b"POST / HTTP/1.1\r\nHost: test.local\r\n"
GET = b"GET / HTTP/1.1\r\nHost: test.local\r\n"
SMUGGLED = b"GET /smuggled HTTP/1.1\r\nHost: test.local\r\n\r\n"


def many_headers(n: int) -> bytes:
    return b"".join(b"X-H%d: v\r\n" % i for i in range(n))


# (id, raw bytes, accepted statuses). Head-level cases: nothing may reach the upstream at all.
HEAD_CASES = [
    ("cl-then-te", START + b"Content-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n" + SMUGGLED, {400}),
    ("te-then-cl", START + b"Transfer-Encoding: chunked\r\nContent-Length: 5\r\n\r\n0\r\n\r\n" + SMUGGLED, {400}),
    ("duplicate-cl-same", START + b"Content-Length: 5\r\nContent-Length: 5\r\n\r\nhello", {400}),
    ("duplicate-cl-different", START + b"Content-Length: 5\r\nContent-Length: 6\r\n\r\nhello!", {400}),
    ("cl-list", START + b"Content-Length: 5, 5\r\n\r\nhello", {400}),
    ("cl-not-a-number", START + b"Content-Length: 5a\r\n\r\nhello", {400}),
    ("cl-negative", START + b"Content-Length: -1\r\n\r\n", {400}),
    ("cl-plus-sign", START + b"Content-Length: +5\r\n\r\nhello", {400}),
    ("cl-hex", START + b"Content-Length: 0x5\r\n\r\nhello", {400}),
    ("cl-inner-space", START + b"Content-Length: 1 2\r\n\r\nhello world!", {400}),
    ("cl-overflow", START + b"Content-Length: 99999999999999999999999\r\n\r\nhello", {400}),
    ("te-on-http10", b"POST / HTTP/1.0\r\nHost: test.local\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n", {400}),
    ("te-chunked-not-last", START + b"Transfer-Encoding: chunked, gzip\r\n\r\n0\r\n\r\n", {400, 501}),
    ("te-gzip-only", START + b"Transfer-Encoding: gzip\r\n\r\nhello", {400, 501}),
    ("te-unknown-coding", START + b"Transfer-Encoding: foo, chunked\r\n\r\n0\r\n\r\n", {501}),
    ("te-lookalike", START + b"Transfer-Encoding: xchunked\r\n\r\n0\r\n\r\n", {400, 501}),
    ("obs-fold", GET + b"X-Folded: a\r\n b\r\n\r\n", {400}),
    ("nul-in-value", GET + b"X-Bad: a\x00b\r\n\r\n", {400}),
    ("ctl-in-value", GET + b"X-Bad: a\x01b\r\n\r\n", {400}),
    ("del-in-value", GET + b"X-Bad: a\x7fb\r\n\r\n", {400}),
    ("bare-cr-in-value", GET + b"X-Bad: a\rb\r\n\r\n", {400}),
    ("space-before-colon", GET + b"X-Bad : v\r\n\r\n", {400}),
    ("space-in-name", GET + b"X Bad: v\r\n\r\n", {400}),
    ("empty-name", GET + b": v\r\n\r\n", {400}),
    ("missing-host", b"GET / HTTP/1.1\r\nX-A: b\r\n\r\n", {400}),
    ("two-hosts", GET + b"Host: other.local\r\n\r\n", {400}),
    ("host-with-space", b"GET / HTTP/1.1\r\nHost: a b\r\n\r\n", {400}),
    ("request-line-double-space", b"GET  / HTTP/1.1\r\nHost: test.local\r\n\r\n", {400}),
    ("request-line-http09", b"GET /\r\n\r\n", {400}),
    ("request-line-lowercase-version", b"GET / http/1.1\r\nHost: test.local\r\n\r\n", {400}),
    ("request-line-junk-version", b"GET / HTTP/1.x\r\nHost: test.local\r\n\r\n", {400}),
    ("version-3", b"GET / HTTP/3.0\r\nHost: test.local\r\n\r\n", {505}),
    ("head-over-64k-many-lines", GET + b"".join(b"X-Big%d: %s\r\n" % (i, b"a" * 7000) for i in range(10)) + b"\r\n",
     {431}),
    ("head-over-64k-one-line", GET + b"X-Big: " + b"a" * 70_000 + b"\r\n\r\n", {431}),
    ("101-headers", GET + many_headers(100) + b"\r\n", {431}),  # Host + 100 = 101 fields
]

# Body-level cases: the head is valid, so a streaming proxy may have started forwarding; the
# upstream must never see a complete request.
BODY_CASES = [
    ("chunk-size-not-hex", START + b"Transfer-Encoding: chunked\r\n\r\nzz\r\nhello\r\n0\r\n\r\n", {400}),
    ("chunk-size-overflow", START + b"Transfer-Encoding: chunked\r\n\r\nfffffffffffffffffff1\r\nhello\r\n0\r\n\r\n",
     {400}),
    ("chunk-size-negative", START + b"Transfer-Encoding: chunked\r\n\r\n-5\r\nhello\r\n0\r\n\r\n", {400}),
    ("chunk-bare-lf-after-size", START + b"Transfer-Encoding: chunked\r\n\r\n5\nhello\r\n0\r\n\r\n", {400}),
    ("chunk-data-without-crlf", START + b"Transfer-Encoding: chunked\r\n\r\n5\r\nhelloXX0\r\n\r\n", {400}),
    ("chunk-bare-lf-after-data", START + b"Transfer-Encoding: chunked\r\n\r\n5\r\nhello\n0\r\n\r\n", {400}),
]

# Valid counterparts: each must be forwarded and answered by the upstream.
VALID_CASES = [
    ("cl", START + b"Content-Length: 5\r\n\r\nhello"),
    ("chunked", START + b"Transfer-Encoding: chunked\r\n\r\n5;ext=1\r\nhello\r\n0\r\n\r\n"),
    ("chunked-mixed-case", START + b"Transfer-Encoding: Chunked\r\n\r\n5\r\nhello\r\n0\r\n\r\n"),
    ("http10-with-body", b"POST / HTTP/1.0\r\nHost: test.local\r\nContent-Length: 5\r\n\r\nhello"),
    ("100-fields", GET + many_headers(98) + b"\r\n"),  # + Host + the x-test-id the test adds = 100
    ("head-of-60k", GET + b"".join(b"X-Big%d: %s\r\n" % (i, b"a" * 6000) for i in range(10)) + b"\r\n"),
    ("tab-and-obs-text-in-value", GET + b"X-Ok: a\tb \xe9t\xe9\r\n\r\n"),
    ("absolute-form", b"GET http://test.local/abs HTTP/1.1\r\nHost: test.local\r\n\r\n"),
]


def _send_and_read(port: int, data: bytes, expect_close: bool = True):
    """Sends raw bytes, reads one response; with expect_close, also whether the proxy closed."""
    with Client(port, timeout=5) as c:
        c.send(data)
        resp = c.read_response("POST" if data.startswith(b"POST") else "GET")
        closed = expect_close and (resp.outcome != "ok" or c.closed_by_peer(3))
    return resp, closed


@pytest.mark.parametrize("data,statuses", [c[1:] for c in HEAD_CASES], ids=[c[0] for c in HEAD_CASES])
def test_malformed_head_is_rejected_and_not_forwarded(sandbox_proxy, data, statuses):
    """F24 (h1 smuggling): a malformed request head is rejected with the listed status and never forwarded."""
    p = sandbox_proxy()
    resp, closed = _send_and_read(p.port, data)
    assert_proxy_error(resp, statuses)
    assert closed, "the connection stayed open after a rejected request"
    assert p.baseline._arrivals == 0 and p.sandbox._arrivals == 0, "the request reached an upstream"


@pytest.mark.parametrize("data,statuses", [c[1:] for c in BODY_CASES], ids=[c[0] for c in BODY_CASES])
def test_malformed_chunked_body_is_rejected_and_never_completed_upstream(sandbox_proxy, data, statuses):
    p = sandbox_proxy()
    resp, closed = _send_and_read(p.port, data)
    assert_proxy_error(resp, statuses)
    assert closed, "the connection stayed open after a rejected request"
    assert p.baseline.count() == 0, f"the upstream got a complete request: {p.baseline.snapshot()}"


@pytest.mark.parametrize("data", [c[1] for c in VALID_CASES], ids=[c[0] for c in VALID_CASES])
def test_valid_counterparts_are_forwarded(sandbox_proxy, data):
    p = sandbox_proxy()
    tid = new_id()
    data = data.replace(b"Host: test.local\r\n", b"Host: test.local\r\nx-test-id: " + tid.encode() + b"\r\n", 1)
    resp, _ = _send_and_read(p.port, data, expect_close=False)
    rec = assert_routed(resp, tid, p.baseline, [p.sandbox])
    if b"hello" in data:
        assert rec.body_len == 5


def test_smuggled_request_after_cl_te_is_never_served(sandbox_proxy):
    """F24: the classic CL.TE payload on a keep-alive connection, followed by a normal request:
    /smuggled must reach no upstream, whatever the proxy answers."""
    p = sandbox_proxy()
    with Client(p.port, timeout=5) as c:
        c.send(START + b"Content-Length: 6\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\nG" + SMUGGLED)
        resp = c.read_response("POST")
        assert_proxy_error(resp, {400})
    assert not any(r.path == "/smuggled" or r.path.startswith("/smuggled")
                   for r in p.baseline.snapshot() + p.sandbox.snapshot())
    assert p.baseline._arrivals == 0


@pytest.mark.parametrize("fault", ["cl_te", "bad_cl", "dup_cl", "bad_status", "bad_chunk"])
def test_malformed_upstream_response_is_502_and_the_connection_is_discarded(sandbox_proxy, fault):
    """F21: RFC 9112 §6.3: an invalid response framing from upstream is discarded, the upstream
    connection closed, and the client gets 502 (or, once the head went out, a closed
    connection: never a response completed falsely). The next request must work and must not
    use the poisoned upstream connection."""
    p = sandbox_proxy()
    tid = new_id()
    with Client(p.port, timeout=5) as c:
        resp = c.request(path=f"/?fault={fault}", headers=[("x-test-id", tid)])
    if resp.status == 502:
        assert_proxy_error(resp, {502})
    else:  # only acceptable when the bad part came after a valid head (bad chunk)
        assert fault == "bad_chunk" and not resp.complete, resp
    (bad,) = p.baseline.by_test_id(tid)  # forwarded once, not retried
    tid2 = new_id()
    rec = assert_routed(Client(p.port).request(headers=[("x-test-id", tid2)]), tid2, p.baseline, [p.sandbox])
    assert rec.conn_id != bad.conn_id, "the upstream connection with the malformed response was reused"
