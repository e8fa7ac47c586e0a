"""Malformed and abusive HTTP/2 clients (frames crafted with hyperframe/hpack on a raw socket):
each gets the GOAWAY or RST_STREAM the rules call for (RFC 9113, notes/reliability.md §2-4), a
malformed request is never forwarded, and a well-behaved client is served meanwhile (on a
connection opened before the attack) and afterwards (on a new one).

The upstream is the h2c test upstream (`--upstream-protocol auto`), whose ledger shows what
devmesh forwarded; every request carries an x-test-id so "never forwarded" is checked by id.
"""

from __future__ import annotations

import select
import socket
from types import SimpleNamespace
from typing import Any, Callable, Optional

import pytest

from grpc_support.fixtures import h2_upstreams  # noqa: F401
from harness import net
from harness.checks import new_id
from harness.h2client import H2Client, request_headers, served
from harness.h2frames import (CANCEL, ENHANCE_YOUR_CALM, FLOW_CONTROL_ERROR, FRAME_SIZE_ERROR, PREFACE,
                              PROTOCOL_ERROR, REFUSED_STREAM, ContinuationFrame, DataFrame, HeadersFrame,
                              PingFrame, RstStreamFrame, SettingsFrame, WindowUpdateFrame, error_name,
                              ping_frame, settings_frame)


@pytest.fixture
def mesh(h2_upstreams: Any, devmesh: Any) -> Any:
    """devmesh in front of the h2c test upstream, with a well-behaved client already connected."""
    upstream = h2_upstreams("baseline")
    dm = devmesh("--baseline", upstream.address)
    good = H2Client(dm.port)
    first = good.response(good.get("/before"))
    assert first.status == 200
    m = SimpleNamespace(upstream=upstream, dm=dm, port=dm.port, good=good)
    yield m
    good.close()


def assert_still_serving(m: Any) -> None:
    """The connection opened before the attack and a new one are both served."""
    r = m.good.response(m.good.get("/during-and-after"), timeout=5)
    assert r.status == 200 and bytes(r.data) == b"baseline\n", r
    r = served(m.port, "/after")
    assert r.status == 200 and bytes(r.data) == b"baseline\n", r


def assert_goaway(c: H2Client, code: int, timeout: float = 5.0) -> None:
    last, got, debug = c.wait_goaway(timeout)
    assert got == code, f"GOAWAY {error_name(got)} ({debug!r}), expected {error_name(code)}"
    how = c.drain_until_closed(timeout)
    assert how in ("eof", "reset")


def never_forwarded(m: Any, test_id: str) -> None:
    assert not m.upstream.by_test_id(test_id), f"{test_id} reached the upstream"


# ---- header lists over the cap ---------------------------------------------------------------

def big_fields(n: int, size: int) -> list[tuple[str, str]]:
    # Distinct, poorly compressible values, so the encoded block is about as large as the list.
    return [(f"x-big-{i}", (f"{i:04d}" + "0123456789abcdef" * (size // 16 + 1))[:size]) for i in range(n)]


@pytest.mark.parametrize("case,fields", [
    ("bytes-over-64KiB", big_fields(40, 2000)),
    ("fields-over-100", [(f"x-f-{i}", "v") for i in range(150)]),
], ids=["bytes-over-64KiB", "fields-over-100"])
def test_header_list_over_the_cap_is_431_and_not_forwarded(mesh: Any, case: str, fields: list) -> None:
    c = H2Client(mesh.port)
    c.handshake()
    test_id = new_id(case)
    block = c.io.encode(request_headers(extra=[("x-test-id", test_id), *fields]))
    pieces = [block[i:i + 16_000] for i in range(0, len(block), 16_000)]
    sid = c.open_stream()
    frames = [HeadersFrame(sid, pieces[0], flags=["END_STREAM"] + (["END_HEADERS"] if len(pieces) == 1 else []))]
    frames += [ContinuationFrame(sid, p, flags=["END_HEADERS"] if i == len(pieces) - 2 else [])
               for i, p in enumerate(pieces[1:])]
    c.send(*frames)
    r = c.response(sid)
    assert r.status == 431 or r.reset_code is not None, r
    never_forwarded(mesh, test_id)
    # The same connection stays usable (HPACK state kept in sync, RFC 9113 §10.5.1).
    ok = c.response(c.get("/next"))
    assert ok.status == 200
    c.close()
    assert_still_serving(mesh)


# ---- floods ------------------------------------------------------------------------------------

def headers_without_end(c: H2Client, sid: int, test_id: str, end_stream: bool = True) -> HeadersFrame:
    """A HEADERS frame that leaves its header block open (no END_HEADERS)."""
    flags = ["END_STREAM"] if end_stream else []
    return HeadersFrame(sid, c.io.encode(request_headers(extra=[("x-test-id", test_id)])), flags=flags)


def test_continuation_flood_is_enhance_your_calm(mesh: Any) -> None:
    """F24 (h2, CVE-2024-28182): an endless CONTINUATION sequence gets GOAWAY(ENHANCE_YOUR_CALM); the stream
    is never forwarded."""
    c = H2Client(mesh.port)
    test_id = new_id("continuations")
    sid = c.open_stream()
    frames = [headers_without_end(c, sid, test_id)]
    frames += [ContinuationFrame(sid, c.io.encode([(f"x-c-{i}", "v" * 50)])) for i in range(50)]
    c.send(*frames)
    assert_goaway(c, ENHANCE_YOUR_CALM)
    never_forwarded(mesh, test_id)
    assert_still_serving(mesh)


def test_empty_continuation_flood_is_enhance_your_calm(mesh: Any) -> None:
    c = H2Client(mesh.port)
    test_id = new_id("empty-continuations")
    sid = c.open_stream()
    c.send(headers_without_end(c, sid, test_id), *[ContinuationFrame(sid, b"") for _ in range(50)])
    assert_goaway(c, ENHANCE_YOUR_CALM)
    never_forwarded(mesh, test_id)
    assert_still_serving(mesh)


def test_empty_data_flood_is_enhance_your_calm(mesh: Any) -> None:
    c = H2Client(mesh.port)
    test_id = new_id("empty-data")
    sid = c.open_stream()
    head = c.io.headers_frame(sid, request_headers("POST", extra=[("x-test-id", test_id)]))
    c.send(head, *[DataFrame(sid, b"") for _ in range(100)])
    assert_goaway(c, ENHANCE_YOUR_CALM)
    assert_still_serving(mesh)


def flood_unread(port: int, frame_bytes: bytes, max_frames: int = 400_000) -> tuple[H2Client, int]:
    """Sends `frame_bytes` over and over without reading anything, until the server stops
    reading (the socket stays unwritable for 1 s) or `max_frames` went out."""
    c = H2Client(port, rcvbuf=4096, auto_ack=False)
    sock = c.io.sock
    sock.setblocking(False)
    batch = frame_bytes * 1000
    sent_frames = 0
    pending = memoryview(batch)
    while sent_frames < max_frames:
        try:
            n = sock.send(pending)
        except BlockingIOError:
            n = 0
        except (BrokenPipeError, ConnectionResetError):
            break
        if n == len(pending):
            sent_frames += 1000
            pending = memoryview(batch)
            continue
        pending = pending[n:]
        _, writable, _ = select.select([], [sock], [], 1.0)
        if not writable:
            break  # the server stopped reading
    sock.setblocking(True)
    return c, sent_frames


@pytest.mark.parametrize("kind", ["ping", "settings"])
def test_control_frame_flood_with_unread_output_is_enhance_your_calm(mesh: Any, kind: str) -> None:
    frame = ping_frame(b"flooding") if kind == "ping" else settings_frame({SettingsFrame.MAX_CONCURRENT_STREAMS: 100})
    c, sent = flood_unread(mesh.port, frame.serialize())
    assert_still_serving(mesh)  # while the flooder's connection is stuck
    # Now read what the server queued: its ACKs, then a GOAWAY ENHANCE_YOUR_CALM.
    c.wait(lambda: bool(c.goaways) or c.io.closed is not None, 20, "the end of the flood")
    assert c.goaways and c.goaways[0][1] == ENHANCE_YOUR_CALM, (
        f"after {sent} {kind} frames: goaways={c.goaways}, closed={c.io.closed}")
    acks = c.pings_acked if kind == "ping" else c.settings_acked
    assert acks < sent, "every flood frame was answered: the flood was not detected"
    c.close()
    assert_still_serving(mesh)


def tcp_send_queue(local_port: int, remote_port: int) -> Optional[int]:
    """Bytes the kernel holds unsent (or unacknowledged) on the loopback socket from `local_port`
    to `remote_port` (/proc/net/tcp tx_queue), None when there is no such socket."""
    for line in open("/proc/net/tcp").read().splitlines()[1:]:
        fields = line.split()
        local, remote, queues = fields[1], fields[2], fields[4]
        if int(local.split(":")[1], 16) == local_port and int(remote.split(":")[1], 16) == remote_port:
            return int(queues.split(":")[0], 16)
    return None


def test_goaway_reaches_a_client_that_reads_slowly(mesh: Any) -> None:
    """The connection error comes while devmesh's output to the client is backed up (a response
    the client has not read yet) and with the client's bytes still unread on devmesh's side: the
    client still reads the response data, then the GOAWAY, then the end of the connection. (A
    close at that point would make the kernel answer with RST and drop the unsent GOAWAY.)"""
    c = H2Client(mesh.port, rcvbuf=8192, auto_ack=False, auto_window=False)
    c.handshake()
    client_port = c.io.sock.getsockname()[1]
    size = 1024 * 1024
    big = c.get("/big", extra=[("x-size", str(size))])
    net.wait_until(lambda: (tcp_send_queue(mesh.port, client_port) or 0) > 32 * 1024, 10,
                   "devmesh's output to the client to back up")
    sid = c.open_stream()
    attack = [c.io.headers_frame(sid, request_headers("POST"))] + [DataFrame(sid, b"") for _ in range(50)]
    junk = ping_frame(b"unread!!").serialize() * (256 * 1024 // 17)
    c.io.sock.settimeout(10)
    c.io.send_raw(b"".join(f.serialize() for f in attack) + junk)
    c.wait(lambda: c.io.closed is not None, 20, "the connection to end")
    assert c.goaways and c.goaways[0][1] == ENHANCE_YOUR_CALM, (
        f"no GOAWAY ENHANCE_YOUR_CALM before the end ({c.io.closed}); got {len(c.streams[big].data)} "
        f"of {size} response bytes, goaways={c.goaways}")
    c.close()
    assert_still_serving(mesh)


def rapid_reset(c: H2Client, pairs: int, batch: int, prefix: str) -> int:
    """HEADERS + RST_STREAM(CANCEL) `pairs` times, `batch` pairs per write; after each batch a PING
    round trip makes sure the server read it. Stops at a GOAWAY; returns the pairs sent."""
    sent = 0
    while sent < pairs and not c.goaways and c.io.closed is None:
        frames = []
        for _ in range(batch):
            sid = c.new_stream_id()
            frames += [c.io.headers_frame(sid, request_headers(extra=[("x-test-id", f"{prefix}-{sid}")]),
                                          end_stream=True), RstStreamFrame(sid, CANCEL)]
        try:
            c.send(*frames, ping_frame(sent.to_bytes(8, "big")))
        except (BrokenPipeError, ConnectionResetError):
            break
        sent += batch
        acked = c.pings_acked
        c.wait(lambda: c.pings_acked > acked or bool(c.goaways), 5, "the PING ACK after a batch")
    return sent


@pytest.mark.parametrize("batch", [100, 1000], ids=["rapid-reset-500-in-1s", "new-stream-burst"])
def test_rapid_reset_is_enhance_your_calm_and_barely_reaches_upstream(mesh: Any, batch: int) -> None:
    """F24 (h2, CVE-2023-44487): HEADERS + RST_STREAM pairs get GOAWAY(ENHANCE_YOUR_CALM) and barely reach the
    upstream."""
    c = H2Client(mesh.port)
    c.handshake()
    prefix = new_id("rr")
    sent = rapid_reset(c, 5000, batch, prefix)
    assert c.goaways, f"{sent} HEADERS+RST_STREAM pairs and no GOAWAY"
    assert c.goaways[0][1] == ENHANCE_YOUR_CALM, f"GOAWAY {error_name(c.goaways[0][1])}"
    assert sent <= 1000, f"the attack ran for {sent} streams before GOAWAY"
    c.close()
    assert_still_serving(mesh)
    reached = [r for r in mesh.upstream.snapshot() if (r.test_id or "").startswith(prefix)]
    assert len(reached) <= 5, f"{len(reached)} of {sent} reset requests reached the upstream"


def test_more_streams_than_allowed_are_refused(mesh: Any) -> None:
    """F18/F24 (h2): streams beyond the advertised MAX_CONCURRENT_STREAMS are refused, the others served."""
    c = H2Client(mesh.port)
    c.handshake()
    limit = c.server_settings[SettingsFrame.MAX_CONCURRENT_STREAMS]
    assert limit == 100
    ids = [new_id("streams") for _ in range(limit + 1)]
    sids = [c.request(request_headers("POST", extra=[("x-test-id", t)]), end_stream=False) for t in ids]
    over = c.streams[sids[-1]]
    c.wait(lambda: over.reset_code is not None or bool(c.goaways), 5, "the answer to stream 101")
    if over.reset_code is not None:
        assert over.reset_code in (REFUSED_STREAM, PROTOCOL_ERROR), error_name(over.reset_code)
    else:
        assert c.goaways[0][1] == PROTOCOL_ERROR, c.goaways
    never_forwarded(mesh, ids[-1])
    if not c.goaways:
        # The 100 allowed streams are served once their bodies end.
        for sid in sids[:-1]:
            c.send(DataFrame(sid, b"", flags=["END_STREAM"]))
        for sid in sids[:-1]:
            assert c.response(sid).status == 200
    c.close()
    assert_still_serving(mesh)


# ---- malformed requests: stream PROTOCOL_ERROR, never forwarded ---------------------------------

BASE = [(":method", "GET"), (":scheme", "http"), (":authority", "devmesh.test"), (":path", "/")]


def without(name: str) -> list[tuple[str, str]]:
    return [(n, v) for n, v in BASE if n != name]


MALFORMED = [
    ("uppercase-name", BASE + [("X-Upper", "1")]),
    ("missing-path", without(":path")),
    ("missing-method", without(":method")),
    ("empty-path", without(":path") + [(":path", "")]),
    ("duplicate-path", BASE + [(":path", "/again")]),
    ("pseudo-after-regular", [BASE[0], ("x-a", "1"), *BASE[1:]]),
    ("unknown-pseudo", BASE + [(":foo", "bar")]),
    ("response-pseudo-in-request", BASE + [(":status", "200")]),
    ("connection", BASE + [("connection", "keep-alive")]),
    ("keep-alive", BASE + [("keep-alive", "timeout=5")]),
    ("proxy-connection", BASE + [("proxy-connection", "keep-alive")]),
    ("transfer-encoding", BASE + [("transfer-encoding", "chunked")]),
    ("upgrade", BASE + [("upgrade", "websocket")]),
    ("te-not-trailers", BASE + [("te", "gzip")]),
    ("newline-in-value", BASE + [("x-a", "1\r\nx-b: 2")]),
    ("space-in-name", BASE + [("x a", "1")]),
    # RFC 9113 §8 rules devmesh checks itself (nghttp2's HTTP messaging is off), over a socket.
    ("del-in-value", BASE + [("x-a", "1\x7f")]),
    ("leading-space-in-value", BASE + [("x-a", " 1")]),
    ("empty-method", without(":method") + [(":method", "")]),
    ("star-path-for-get", without(":path") + [(":path", "*")]),
    ("relative-path-for-http", without(":path") + [(":path", "a/b")]),
    ("no-authority-and-no-host", without(":authority")),
    ("duplicate-host", BASE + [("host", "devmesh.test"), ("host", "devmesh.test")]),
    ("extended-connect-protocol", BASE + [(":protocol", "websocket")]),
    ("connect-with-path", [(":method", "CONNECT"), (":authority", "devmesh.test:80"), (":path", "/")]),
    ("content-length-list", BASE + [("content-length", "0,0")]),
    ("content-length-without-body", BASE + [("content-length", "5")]),
]


@pytest.mark.parametrize("case,headers", MALFORMED, ids=[m[0] for m in MALFORMED])
def test_malformed_request_is_reset_and_never_forwarded(mesh: Any, case: str, headers: list) -> None:
    c = H2Client(mesh.port)
    test_id = new_id(case)
    r = c.response(c.request(headers + [("x-test-id", test_id)]))
    assert r.reset_code == PROTOCOL_ERROR or (r.status is not None and 400 <= r.status < 500), (
        f"{case}: reset={error_name(r.reset_code)} status={r.status}")
    never_forwarded(mesh, test_id)
    ok = c.response(c.get("/next"))  # a stream error, not a connection error
    assert ok.status == 200
    c.close()


def test_valid_counterparts_are_forwarded(mesh: Any) -> None:
    """What the malformed cases just broke, done right, is served: the rejections were not of
    the headers themselves."""
    c = H2Client(mesh.port)
    for extra in ([("x-upper", "1")], [("te", "trailers")], [("x-a", "1 2")]):
        test_id = new_id("valid")
        r = c.response(c.request(BASE + extra + [("x-test-id", test_id)]))
        assert r.status == 200, (extra, r)
        assert len(mesh.upstream.by_test_id(test_id)) == 1
    c.close()


def test_host_stands_in_for_authority(mesh: Any) -> None:
    """RFC 9113 §8.3.1: a request may carry host instead of :authority (as nghttp2 accepted); it is
    routed and forwarded."""
    c = H2Client(mesh.port)
    test_id = new_id("host-only")
    r = c.response(c.request(without(":authority") + [("host", "devmesh.test"), ("x-test-id", test_id)]))
    assert r.status == 200, r
    assert len(mesh.upstream.by_test_id(test_id)) == 1
    c.close()


@pytest.mark.parametrize("case,trailers,end_stream", [
    ("trailers-without-end-stream", [("x-t", "1")], False),
    ("pseudo-header-in-trailers", [(":path", "/")], True),
    ("connection-field-in-trailers", [("connection", "close")], True),
])
def test_malformed_trailers_reset_the_stream(mesh: Any, case: str, trailers: list, end_stream: bool) -> None:
    """RFC 9113 §8.1: a trailer section ends the stream and holds no pseudo-header or
    connection-specific field; otherwise the request is malformed and the upstream never gets
    its end."""
    c = H2Client(mesh.port)
    test_id = new_id(case)
    sid = c.request(request_headers("POST", extra=[("x-test-id", test_id)]), end_stream=False)
    c.send_data(sid, b"abc")
    c.send(c.io.headers_frame(sid, trailers, end_stream=end_stream))
    r = c.response(sid)
    assert r.reset_code == PROTOCOL_ERROR, f"{case}: {error_name(r.reset_code)} {r}"
    assert not [q for q in mesh.upstream.by_test_id(test_id) if q.complete], "the upstream got a complete request"
    ok = c.response(c.get("/next"))
    assert ok.status == 200
    c.close()


def test_content_length_mismatch_is_reset(mesh: Any) -> None:
    """RFC 9113 §8.1.1: DATA that does not add up to content-length makes the request malformed;
    the upstream never gets a complete request."""
    c = H2Client(mesh.port)
    test_id = new_id("cl-mismatch")
    sid = c.request(request_headers("POST", extra=[("content-length", "10"), ("x-test-id", test_id)]), b"12345")
    r = c.response(sid)
    assert r.reset_code == PROTOCOL_ERROR, error_name(r.reset_code)
    assert not [q for q in mesh.upstream.by_test_id(test_id) if q.complete], "the upstream got a complete request"
    c.close()
    assert_still_serving(mesh)


# ---- connection errors -------------------------------------------------------------------------

def raw_connection(port: int) -> socket.socket:
    return net.connect(port)


def test_invalid_preface_is_rejected(mesh: Any) -> None:
    """`PRI * HTTP/2.0` followed by something else than the preface: GOAWAY PROTOCOL_ERROR or an
    HTTP/1.1 error, then close; never forwarded."""
    before = len(mesh.upstream.snapshot())
    with raw_connection(mesh.port) as s:
        s.sendall(b"PRI * HTTP/2.0\r\n\r\nXX\r\n\r\n" + settings_frame().serialize())
        s.settimeout(5)
        data = b""
        try:
            while chunk := s.recv(65536):
                data += chunk
        except ConnectionResetError:
            pass
    if data.startswith(b"HTTP/1.1 "):
        status = int(data.split(b" ", 2)[1])
        assert 400 <= status < 600, data[:200]
    else:
        # A GOAWAY frame: type 7 at byte 3, error code in its last 4 bytes of an 8-byte payload.
        goaway = data.find(b"\x07\x00\x00\x00\x00\x00")
        assert data == b"" or goaway >= 0, data[:200]
    assert len(mesh.upstream.snapshot()) == before, "something was forwarded"
    assert_still_serving(mesh)


CONNECTION_ERRORS = [
    ("first-frame-not-settings", lambda c: c.io.send_raw(PREFACE + PingFrame(0, b"\0" * 8).serialize()),
     PROTOCOL_ERROR),
    # hyperframe refuses to build it: length 1, type DATA, no flags, stream 0, one byte.
    ("data-on-stream-0", lambda c: c.io.send_raw(b"\x00\x00\x01\x00\x00\x00\x00\x00\x00x"), PROTOCOL_ERROR),
    ("frame-over-max-size", lambda c: c.send(HeadersFrame(1, c.io.encode(BASE + [("x-a", "a" * 20_000)],
                                                                         huffman=False),
                                                          flags=["END_HEADERS", "END_STREAM"])), FRAME_SIZE_ERROR),
    ("window-over-2^31-1", lambda c: c.send(WindowUpdateFrame(0, 2**31 - 1)), FLOW_CONTROL_ERROR),
    ("even-stream-id", lambda c: c.send(c.io.headers_frame(2, BASE, end_stream=True)), PROTOCOL_ERROR),
    ("settings-ack-with-payload", lambda c: c.io.send_raw(b"\x00\x00\x06\x04\x01\x00\x00\x00\x00" + b"\0" * 6),
     FRAME_SIZE_ERROR),
]


@pytest.mark.parametrize("case,attack,code", CONNECTION_ERRORS, ids=[e[0] for e in CONNECTION_ERRORS])
def test_connection_errors_get_goaway_with_the_right_code(mesh: Any, case: str,
                                                          attack: Callable[[H2Client], None], code: int) -> None:
    c = H2Client(mesh.port, preface=case != "first-frame-not-settings")
    if case != "first-frame-not-settings":
        c.handshake()
    attack(c)
    assert_goaway(c, code)
    assert_still_serving(mesh)


# ---- counters ----------------------------------------------------------------------------------

def test_http2_counters_move_in_metrics(mesh: Any) -> None:
    c = H2Client(mesh.port)
    sid = c.open_stream()
    c.send(headers_without_end(c, sid, "flood"), *[ContinuationFrame(sid, b"") for _ in range(50)])
    assert_goaway(c, ENHANCE_YOUR_CALM)

    def counters() -> Optional[Any]:
        metrics = mesh.dm.metrics()
        return metrics if metrics.value("devmesh_http2_connections_total") >= 2 else None
    metrics = net.wait_until(counters, 2, "devmesh_http2_connections_total")
    assert metrics.value("devmesh_http2_connection_failures_total", reason="empty_frame_flood") >= 1

