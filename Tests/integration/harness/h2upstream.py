"""An h2c upstream (prior knowledge) that records every stream and can misbehave on purpose.

Built on `FrameIO` rather than a protocol library, because the behaviours a proxy must survive
are exactly the ones a library will not produce: a GOAWAY after N streams on a connection that
still answers the streams it accepted, REFUSED_STREAM for a request seen for the first time,
SETTINGS_MAX_CONCURRENT_STREAMS enforced with REFUSED_STREAM, a stream that never gets an
answer, RST_STREAM after the response head.

Connection-wide policies are constructor arguments; per-request behaviour comes from request
headers, so one server serves a whole test:

  x-delay: S        answer after S seconds
  x-hang: 1         never answer (the stream stays open until the peer resets it)
  x-reset: CODE     send the response head, then RST_STREAM(CODE)
  x-reset-first: CODE   RST_STREAM(CODE) before any response frame
  x-reset-mid-body: CODE  the head and half the body, then RST_STREAM(CODE)
  x-drop-mid-body: reset|fin  the head and half the body, then the whole TCP connection is
                    reset (RST) or closed (FIN): an upstream process that died mid-response
  x-stall-mid-body: 1   the head and half the body, then nothing more on that stream
  x-drop-before-head: reset|fin  no response frame: the whole TCP connection is reset or closed
  x-trailers: k=v[,k=v]  end the response with these trailers instead of END_STREAM on DATA
  x-size: N         body of N pattern bytes instead of "<name>\\n"

Every answer carries x-upstream (name), x-conn-id, x-stream-id and x-test-id (echoed). The
ledger (`requests`) holds one entry per stream the peer opened, with what became of it;
`resets` holds every RST_STREAM received.
"""

from __future__ import annotations

import heapq
import itertools
import socket
import threading
import time
from dataclasses import dataclass, field
from typing import Callable, Optional

from . import bodies, net
from .h2frames import (DEFAULT_WINDOW, NO_ERROR, PREFACE, REFUSED_STREAM, Closed, ContinuationFrame, DataFrame,
                       Frame, FrameIO, GoAwayFrame, HeadersFrame, PingFrame, RstStreamFrame, SettingsFrame,
                       WindowUpdateFrame, data_frames, ping_frame, settings_frame)


@dataclass
class H2Request:
    conn_id: int
    stream_id: int
    headers: dict[str, str]
    body: bytearray = field(default_factory=bytearray)
    complete: bool = False  # END_STREAM received
    # answered | refused (RST REFUSED_STREAM) | over_goaway (above our GOAWAY's last id, ignored)
    # | hung | reset_by_peer | reset_sent | open
    outcome: str = "open"

    @property
    def test_id(self) -> Optional[str]:
        return self.headers.get("x-test-id")


@dataclass
class _Stream:
    request: H2Request
    send_window: int
    pending: bytearray = field(default_factory=bytearray)  # response body waiting for window
    trailers: Optional[list[tuple[str, str]]] = None
    active: bool = True  # counts against max_concurrent_streams


class H2Upstream:
    def __init__(self, name: str, *, max_concurrent_streams: Optional[int] = None,
                 goaway_after: Optional[int] = None, goaway_connections: Optional[set[int]] = None,
                 refuse_first_arrival: bool = False,
                 scripted: Optional[dict[str, Callable[[FrameIO, int], list[Frame]]]] = None):
        """`goaway_after=N`: on the connections in `goaway_connections` (all when None), once the
        N-th stream arrives send GOAWAY(NO_ERROR, last=that stream), answer streams up to it and
        ignore later ones, then close. `refuse_first_arrival`: the first time a given x-test-id
        arrives (on any connection) it gets RST_STREAM(REFUSED_STREAM). `max_concurrent_streams`
        is advertised and enforced: a stream beyond it gets REFUSED_STREAM. `scripted`: per
        request path, a function of (FrameIO, stream id) whose frames are sent as the whole
        answer, as they are (malformed responses on purpose, no flow control)."""
        self.name = name
        self.max_concurrent_streams = max_concurrent_streams
        self.goaway_after = goaway_after
        self.goaway_connections = goaway_connections
        self.refuse_first_arrival = refuse_first_arrival
        self.scripted = scripted or {}
        self._listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self._listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self._listener.bind((net.LOOPBACK, 0))
        self._listener.listen(256)
        self.port: int = self._listener.getsockname()[1]
        self._lock = threading.Condition()
        self.requests: list[H2Request] = []
        self.resets: list[tuple[int, int, int]] = []  # (conn id, stream id, error code)
        self.goaways_received: list[tuple[int, int, int]] = []  # (conn id, last stream id, error code)
        self.connections = 0
        self.peak_concurrency = 0  # largest number of streams open at once on one connection
        self._seen_ids: set[str] = set()
        self._socks: set[socket.socket] = set()
        self._stopped = False
        threading.Thread(target=self._accept_loop, daemon=True, name=f"h2up-{name}").start()

    @property
    def address(self) -> str:
        return f"{net.LOOPBACK}:{self.port}"

    # ---- ledger ----------------------------------------------------------------------------

    def snapshot(self) -> list[H2Request]:
        with self._lock:
            return list(self.requests)

    def by_test_id(self, test_id: str) -> list[H2Request]:
        return [r for r in self.snapshot() if r.test_id == test_id]

    def answered(self) -> list[H2Request]:
        return [r for r in self.snapshot() if r.outcome == "answered"]

    def wait(self, condition, timeout: float = 5.0, what: str = "condition"):
        return net.wait_until(lambda: condition(self), timeout, f"upstream {self.name}: {what}")

    def stop(self) -> None:
        self._stopped = True
        try:
            self._listener.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass
        self._listener.close()
        with self._lock:
            socks = list(self._socks)
        for s in socks:
            try:
                s.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass

    # ---- connections -----------------------------------------------------------------------

    def _accept_loop(self) -> None:
        while not self._stopped:
            try:
                sock, _ = self._listener.accept()
            except OSError:
                return
            with self._lock:
                self.connections += 1
                conn_id = self.connections
                self._socks.add(sock)
            threading.Thread(target=self._serve, args=(sock, conn_id), daemon=True,
                             name=f"h2up-{self.name}-{conn_id}").start()

    def _serve(self, sock: socket.socket, conn_id: int) -> None:
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        try:
            _Connection(self, sock, conn_id).run()
        except (OSError, net.DeadlineExceeded):
            pass
        finally:
            with self._lock:
                self._socks.discard(sock)
            try:
                sock.close()
            except OSError:
                pass

    def _record(self, request: H2Request) -> None:
        with self._lock:
            self.requests.append(request)
            self._lock.notify_all()

    def _first_arrival(self, test_id: Optional[str]) -> bool:
        with self._lock:
            if test_id is None or test_id in self._seen_ids:
                return False
            self._seen_ids.add(test_id)
            return True


class _Connection:
    """One upstream connection: a single thread reading frames and answering due streams."""
    IDLE_LIMIT = 60.0

    def __init__(self, server: H2Upstream, sock: socket.socket, conn_id: int):
        self.server = server
        self.io = FrameIO(sock)
        self.conn_id = conn_id
        self.streams: dict[int, _Stream] = {}
        self.due: list[tuple[float, int, int]] = []  # (time, tiebreak, stream id)
        self._tiebreak = itertools.count()
        self.conn_window = DEFAULT_WINDOW
        self.peer_initial_window = DEFAULT_WINDOW
        self.peer_max_frame = 16_384
        self.streams_seen = 0
        self.goaway_last: Optional[int] = None
        self.peer_goaway = False

    def run(self) -> None:
        sock = self.io.sock
        sock.settimeout(10)
        preface = b""
        while len(preface) < len(PREFACE):
            chunk = sock.recv(len(PREFACE) - len(preface))
            if not chunk:
                return
            preface += chunk
        if preface != PREFACE:
            return
        values = {SettingsFrame.INITIAL_WINDOW_SIZE: 1 << 20}
        if self.server.max_concurrent_streams is not None:
            values[SettingsFrame.MAX_CONCURRENT_STREAMS] = self.server.max_concurrent_streams
        self.io.send(settings_frame(values), WindowUpdateFrame(0, (1 << 24)))
        last_activity = time.monotonic()
        while not self.server._stopped:
            self._answer_due()
            if self._finished():
                return
            wait = 0.2 if not self.due else max(0.001, min(0.2, self.due[0][0] - time.monotonic()))
            try:
                got = self.io.read(wait)
            except net.DeadlineExceeded:
                if time.monotonic() - last_activity > self.IDLE_LIMIT:
                    return
                continue
            if isinstance(got, Closed):
                self._peer_gone()
                return
            last_activity = time.monotonic()
            self._handle(got)

    def _finished(self) -> bool:
        live = [s for s in self.streams.values() if s.request.outcome in ("open", "hung") or s.pending]
        if self.goaway_last is not None and not live:
            return True
        return self.peer_goaway and not self.streams

    def _peer_gone(self) -> None:
        for s in self.streams.values():
            if s.request.outcome == "open":
                s.request.outcome = "reset_by_peer"

    # ---- frames ----------------------------------------------------------------------------

    def _handle(self, got) -> None:
        frame = got.frame
        sid = frame.stream_id
        if isinstance(frame, SettingsFrame):
            if "ACK" not in frame.flags:
                if SettingsFrame.INITIAL_WINDOW_SIZE in frame.settings:
                    new = frame.settings[SettingsFrame.INITIAL_WINDOW_SIZE]
                    for s in self.streams.values():
                        s.send_window += new - self.peer_initial_window
                    self.peer_initial_window = new
                self.peer_max_frame = frame.settings.get(SettingsFrame.MAX_FRAME_SIZE, self.peer_max_frame)
                self.io.send(settings_frame(ack=True))
        elif isinstance(frame, PingFrame):
            if "ACK" not in frame.flags:
                self.io.send(ping_frame(frame.opaque_data, ack=True))
        elif isinstance(frame, GoAwayFrame):
            self.peer_goaway = True
            with self.server._lock:
                self.server.goaways_received.append((self.conn_id, frame.last_stream_id, frame.error_code))
        elif isinstance(frame, WindowUpdateFrame):
            if sid == 0:
                self.conn_window += frame.window_increment
            elif sid in self.streams:
                self.streams[sid].send_window += frame.window_increment
            self._flush_pending()
        elif isinstance(frame, RstStreamFrame):
            with self.server._lock:
                self.server.resets.append((self.conn_id, sid, frame.error_code))
                self.server._lock.notify_all()
            stream = self.streams.pop(sid, None)
            if stream is not None and stream.request.outcome in ("open", "hung"):
                stream.request.outcome = "reset_by_peer"
        elif isinstance(frame, (HeadersFrame, ContinuationFrame)) and got.block is not None:
            if sid in self.streams:  # request trailers
                if got.block.end_stream:
                    self._request_complete(self.streams[sid])
                return
            self._new_stream(sid, got.block)
        elif isinstance(frame, DataFrame):
            if frame.flow_controlled_length:
                self.io.send(WindowUpdateFrame(0, frame.flow_controlled_length),
                             *([WindowUpdateFrame(sid, frame.flow_controlled_length)]
                               if "END_STREAM" not in frame.flags else []))
            stream = self.streams.get(sid)
            if stream is not None:
                stream.request.body += frame.data
                if "END_STREAM" in frame.flags:
                    self._request_complete(stream)

    def _new_stream(self, sid: int, block) -> None:
        request = H2Request(self.conn_id, sid, block.as_dict())
        self.streams_seen += 1
        self.server._record(request)
        server = self.server
        if self.goaway_last is not None and sid > self.goaway_last:
            request.outcome = "over_goaway"  # RFC 9113 §6.8: not processed
            return
        active = sum(1 for s in self.streams.values() if s.active)
        if server.max_concurrent_streams is not None and active >= server.max_concurrent_streams:
            request.outcome = "refused"
            self.io.send(RstStreamFrame(sid, REFUSED_STREAM))
            return
        if server.refuse_first_arrival and server._first_arrival(request.test_id):
            request.outcome = "refused"
            self.io.send(RstStreamFrame(sid, REFUSED_STREAM))
            return
        self.streams[sid] = _Stream(request, self.peer_initial_window)
        with server._lock:
            server.peak_concurrency = max(server.peak_concurrency, active + 1)
        if server.goaway_after is not None and self.goaway_last is None \
                and (server.goaway_connections is None or self.conn_id in server.goaway_connections) \
                and self.streams_seen >= server.goaway_after:
            self.goaway_last = sid
            self.io.send(GoAwayFrame(0, last_stream_id=sid, error_code=NO_ERROR))
        reset_first = request.headers.get("x-reset-first")
        if reset_first is not None:
            self.streams.pop(sid)
            request.outcome = "reset_sent"
            self.io.send(RstStreamFrame(sid, int(reset_first)))
            return
        if block.end_stream:
            self._request_complete(self.streams[sid])

    def _request_complete(self, stream: _Stream) -> None:
        request = stream.request
        request.complete = True
        if request.headers.get("x-hang") == "1":
            request.outcome = "hung"
            return
        delay = float(request.headers.get("x-delay", "0"))
        heapq.heappush(self.due, (time.monotonic() + delay, next(self._tiebreak), request.stream_id))

    def _answer_due(self) -> None:
        now = time.monotonic()
        while self.due and self.due[0][0] <= now:
            _, _, sid = heapq.heappop(self.due)
            stream = self.streams.get(sid)
            if stream is not None and stream.request.outcome == "open":
                self._respond(stream)

    def _respond(self, stream: _Stream) -> None:
        request = stream.request
        h = request.headers
        script = self.server.scripted.get(h.get(":path", ""))
        if script is not None:
            self.io.send(*script(self.io, request.stream_id))
            request.outcome = "answered"
            self.streams.pop(request.stream_id, None)
            return
        size = int(h["x-size"]) if "x-size" in h else None
        body = bodies.pattern(size) if size is not None else f"{self.server.name}\n".encode()
        head = [(":status", "200"), ("x-upstream", self.server.name), ("x-conn-id", str(self.conn_id)),
                ("x-stream-id", str(request.stream_id)), ("content-type", "text/plain")]
        if request.test_id is not None:
            head.append(("x-test-id", request.test_id))
        if "x-drop-before-head" in h:
            request.outcome = "reset_sent"
            self._drop_connection(h["x-drop-before-head"])
        if "x-trailers" not in h:
            head.append(("content-length", str(len(body))))
        self.io.send(self.io.headers_frame(request.stream_id, head))
        if any(k in h for k in ("x-reset-mid-body", "x-drop-mid-body", "x-stall-mid-body")):
            self._cut_mid_body(stream, body)
            return
        if "x-reset" in h:
            self.io.send(RstStreamFrame(request.stream_id, int(h["x-reset"])))
            request.outcome = "reset_sent"
            self.streams.pop(request.stream_id, None)
            return
        if "x-trailers" in h:
            stream.trailers = [tuple(kv.split("=", 1)) for kv in h["x-trailers"].split(",")]  # type: ignore[misc]
        stream.pending += body
        stream.active = False
        request.outcome = "answered"
        if not body and stream.trailers is None:
            self.io.send(DataFrame(request.stream_id, b"", flags=["END_STREAM"]))
            self.streams.pop(request.stream_id, None)
            return
        self._flush_pending()

    def _cut_mid_body(self, stream: _Stream, body: bytes) -> None:
        """Sends half the body (what the flow-control windows allow of it), never END_STREAM,
        then breaks the stream or the connection as the request asked."""
        request = stream.request
        h = request.headers
        sid = request.stream_id
        half = body[:max(1, len(body) // 2)]
        n = min(len(half), self.conn_window, stream.send_window)
        if n > 0:
            self.io.send(*data_frames(sid, half[:n], self.peer_max_frame, end_stream=False))
            self.conn_window -= n
            stream.send_window -= n
        # The ledger is written before the cut goes out: a test may read it as soon as it sees
        # the cut's effect downstream.
        if "x-reset-mid-body" in h:
            request.outcome = "reset_sent"
            self.streams.pop(sid, None)
            self.io.send(RstStreamFrame(sid, int(h["x-reset-mid-body"])))
        elif "x-drop-mid-body" in h:
            request.outcome = "reset_sent"
            self._drop_connection(h["x-drop-mid-body"])
        else:
            request.outcome = "hung"

    def _drop_connection(self, how: str) -> None:
        """Ends the whole TCP connection, RST (`reset`) or FIN (`fin`), with no GOAWAY: what a
        crashed upstream process looks like. Ends this connection's thread."""
        if how == "reset":
            net.reset_close(self.io.sock)
        else:
            self.io.sock.shutdown(socket.SHUT_RDWR)
        raise OSError("connection dropped on purpose")

    def _flush_pending(self) -> None:
        for sid, stream in list(self.streams.items()):
            if stream.request.outcome != "answered":
                continue
            while stream.pending:
                n = min(len(stream.pending), self.conn_window, stream.send_window, self.peer_max_frame)
                if n <= 0:
                    break
                last = n == len(stream.pending)
                frames = data_frames(sid, bytes(stream.pending[:n]), self.peer_max_frame,
                                     end_stream=last and stream.trailers is None)
                self.io.send(*frames)
                del stream.pending[:n]
                self.conn_window -= n
                stream.send_window -= n
            if not stream.pending:
                if stream.trailers is not None:
                    self.io.send(self.io.headers_frame(sid, stream.trailers, end_stream=True))
                self.streams.pop(sid, None)
