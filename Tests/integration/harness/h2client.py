"""A raw h2c client (prior knowledge) that reports everything the server did.

Unlike a library client it sends whatever it is told (upper-case names, missing pseudo-headers,
floods) and never hides a GOAWAY, an RST_STREAM or the way the connection ended. What the
server sent is kept per stream (`StreamResult`) and per connection (`goaways`, `closed`), so a
test asserts error codes exactly.

Flow control is honoured in both directions: received DATA is acknowledged with WINDOW_UPDATE
at once (unless `auto_window=False`, for slow-reader tests) and `send_data` waits for the
server's window. SETTINGS and PING are acknowledged automatically unless turned off (flood
tests).
"""

from __future__ import annotations

import socket
import time
from dataclasses import dataclass, field
from typing import Callable, Optional

from . import net
from .h2frames import (DEFAULT_WINDOW, PREFACE, Closed, ContinuationFrame, DataFrame, FrameIO, GoAwayFrame,
                       HeaderBlock, Headers, HeadersFrame, PingFrame, Received, RstStreamFrame, SettingsFrame,
                       WindowUpdateFrame, ping_frame, settings_frame)

CLIENT_WINDOW = 16 * 1024 * 1024  # what this client lets the server send before it reads


@dataclass
class StreamResult:
    """What the server sent on one stream."""
    stream_id: int
    head: Optional[HeaderBlock] = None
    informational: list[HeaderBlock] = field(default_factory=list)
    data: bytearray = field(default_factory=bytearray)
    data_frames: int = 0
    trailers: Optional[HeaderBlock] = None
    ended: bool = False  # END_STREAM received
    reset_code: Optional[int] = None  # RST_STREAM received

    @property
    def done(self) -> bool:
        return self.ended or self.reset_code is not None

    @property
    def status(self) -> Optional[int]:
        value = self.head.get(":status") if self.head else None
        return int(value) if value is not None else None

    def header(self, name: str) -> Optional[str]:
        return self.head.get(name) if self.head else None

    def trailer(self, name: str) -> Optional[str]:
        return self.trailers.get(name) if self.trailers else None


class H2Client:
    def __init__(self, port: int, *, settings: Optional[dict[int, int]] = None, preface: bool = True,
                 auto_ack: bool = True, auto_window: bool = True, rcvbuf: Optional[int] = None,
                 connect_timeout: float = 5.0):
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        if rcvbuf is not None:  # before connect, so the advertised TCP window is small from the start
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, rcvbuf)
        sock.settimeout(connect_timeout)
        sock.connect((net.LOOPBACK, port))
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.io = FrameIO(sock)
        self.auto_ack = auto_ack
        self.auto_window = auto_window
        self.streams: dict[int, StreamResult] = {}
        self.goaways: list[tuple[int, int, bytes]] = []  # (last stream id, error code, debug data)
        self.server_settings: dict[int, int] = {}
        self.settings_received = False
        self.settings_acked = 0
        self.pings_acked = 0
        self.frames_received = 0
        # Streams whose window this client keeps shut (a slow reader): see hold() / release().
        self._held: dict[int, int] = {}
        self._next_stream = 1
        # Send windows (RFC 9113 §6.9): the server's initial stream window until its SETTINGS say otherwise.
        self._conn_window = DEFAULT_WINDOW
        self._stream_windows: dict[int, int] = {}
        self._peer_initial_window = DEFAULT_WINDOW
        self.max_frame = 16_384
        if preface:
            values = {SettingsFrame.INITIAL_WINDOW_SIZE: CLIENT_WINDOW, SettingsFrame.ENABLE_PUSH: 0}
            values.update(settings or {})
            self.io.send_raw(PREFACE + settings_frame(values).serialize()
                             + WindowUpdateFrame(0, CLIENT_WINDOW - DEFAULT_WINDOW).serialize())

    # ---- sending ---------------------------------------------------------------------------

    def new_stream_id(self) -> int:
        sid = self._next_stream
        self._next_stream += 2
        return sid

    def open_stream(self) -> int:
        """A new stream id, tracked for the server's answer, for frames a test builds itself."""
        sid = self.new_stream_id()
        self.streams[sid] = StreamResult(sid)
        return sid

    def request(self, headers: Headers, body: Optional[bytes] = None, *, end_stream: Optional[bool] = None,
                trailers: Optional[Headers] = None, stream_id: Optional[int] = None) -> int:
        """Sends a request head (and body and trailers when given); returns its stream id.
        Without a body and trailers the stream ends with the head unless `end_stream=False`."""
        sid = stream_id if stream_id is not None else self.new_stream_id()
        self.streams[sid] = StreamResult(sid)
        self._stream_windows.setdefault(sid, self._peer_initial_window)
        head_ends = end_stream if end_stream is not None else (body is None and trailers is None)
        self.io.send(self.io.headers_frame(sid, headers, end_stream=head_ends))
        if body is not None:
            self.send_data(sid, body, end_stream=trailers is None and end_stream is not False)
        if trailers is not None:
            self.io.send(self.io.headers_frame(sid, trailers, end_stream=True))
        return sid

    def get(self, path: str = "/", authority: str = "devmesh.test", extra: Headers = ()) -> int:
        return self.request([(":method", "GET"), (":scheme", "http"), (":authority", authority),
                             (":path", path), *extra])

    def send_data(self, stream_id: int, data: bytes, end_stream: bool = False, timeout: float = 30.0) -> None:
        """Sends DATA within the server's flow-control windows, reading frames while they are shut."""
        deadline = time.monotonic() + timeout
        view = memoryview(data)
        while True:
            window = min(self._conn_window, self._stream_windows.get(stream_id, self._peer_initial_window))
            n = min(len(view), self.max_frame, max(window, 0))
            if n > 0 or not view:
                last = len(view) == n
                frame = DataFrame(stream_id, bytes(view[:n]), flags=["END_STREAM"] if (end_stream and last) else [])
                self.io.send(frame)
                self._conn_window -= n
                self._stream_windows[stream_id] = self._stream_windows.get(stream_id, self._peer_initial_window) - n
                view = view[n:]
                if not view:
                    return
                continue
            stream = self.streams.get(stream_id)
            if stream is not None and stream.reset_code is not None:
                return  # the server gave up on the stream: nothing more may be sent
            if self.io.closed is not None:
                return
            self.pump(max(deadline - time.monotonic(), 0.001))

    def hold(self, stream_id: int) -> None:
        """Stops opening this stream's window: the server can send only what it allows now (a
        slow reader). The connection window keeps opening, so other streams still flow."""
        self._held[stream_id] = 0

    def release(self, stream_id: int) -> None:
        """Opens the stream's window by what was received while it was held, and keeps it open."""
        owed = self._held.pop(stream_id, 0)
        if owed and not self.streams[stream_id].done:
            self.io.send(WindowUpdateFrame(stream_id, owed))

    def reset(self, stream_id: int, code: int) -> None:
        self.io.send(RstStreamFrame(stream_id, code))

    def send(self, *frames) -> None:
        self.io.send(*frames)

    def close(self) -> None:
        try:
            self.io.sock.close()
        except OSError:
            pass

    # ---- receiving -------------------------------------------------------------------------

    def pump(self, timeout: float = 5.0) -> bool:
        """Reads and handles one frame; False once the connection is closed."""
        got = self.io.read(timeout)
        if isinstance(got, Closed):
            return False
        self._handle(got)
        return True

    def _handle(self, got: Received) -> None:
        frame = got.frame
        self.frames_received += 1
        sid = frame.stream_id
        if isinstance(frame, SettingsFrame):
            if "ACK" in frame.flags:
                self.settings_acked += 1
                return
            self.settings_received = True
            self.server_settings.update(frame.settings)
            if SettingsFrame.INITIAL_WINDOW_SIZE in frame.settings:
                new = frame.settings[SettingsFrame.INITIAL_WINDOW_SIZE]
                delta = new - self._peer_initial_window
                self._peer_initial_window = new
                for k in self._stream_windows:
                    self._stream_windows[k] += delta
            if SettingsFrame.MAX_FRAME_SIZE in frame.settings:
                self.max_frame = frame.settings[SettingsFrame.MAX_FRAME_SIZE]
            if self.auto_ack:
                self._send_quietly(settings_frame(ack=True))
        elif isinstance(frame, PingFrame):
            if "ACK" in frame.flags:
                self.pings_acked += 1
            elif self.auto_ack:
                self._send_quietly(ping_frame(frame.opaque_data, ack=True))
        elif isinstance(frame, WindowUpdateFrame):
            if sid == 0:
                self._conn_window += frame.window_increment
            else:
                self._stream_windows[sid] = self._stream_windows.get(sid, self._peer_initial_window) \
                    + frame.window_increment
        elif isinstance(frame, GoAwayFrame):
            self.goaways.append((frame.last_stream_id, frame.error_code, bytes(frame.additional_data)))
        elif isinstance(frame, RstStreamFrame):
            self._stream(sid).reset_code = frame.error_code
        elif isinstance(frame, DataFrame):
            stream = self._stream(sid)
            stream.data += frame.data
            stream.data_frames += 1
            if "END_STREAM" in frame.flags:
                stream.ended = True
            if self.auto_window and frame.flow_controlled_length:
                held = sid in self._held
                if held:
                    self._held[sid] += frame.flow_controlled_length
                self._send_quietly(WindowUpdateFrame(0, frame.flow_controlled_length),
                                   *([] if stream.ended or held else
                                     [WindowUpdateFrame(sid, frame.flow_controlled_length)]))
        elif isinstance(frame, (HeadersFrame, ContinuationFrame)) and got.block is not None:
            stream = self._stream(got.block.stream_id)
            status = got.block.get(":status")
            if stream.head is None and status is not None and status.startswith("1"):
                stream.informational.append(got.block)
            elif stream.head is None:
                stream.head = got.block
            else:
                stream.trailers = got.block
            if got.block.end_stream:
                stream.ended = True

    def _send_quietly(self, *frames) -> None:
        try:
            self.io.send(*frames)
        except OSError:
            pass  # the server went away; the next read reports how

    def _stream(self, sid: int) -> StreamResult:
        if sid not in self.streams:
            self.streams[sid] = StreamResult(sid)
        return self.streams[sid]

    def wait(self, condition: Callable[[], bool], timeout: float = 5.0, what: str = "condition") -> bool:
        """Handles frames until `condition()` holds (True) or the connection closes (False).
        Raises DeadlineExceeded at the deadline."""
        deadline = time.monotonic() + timeout
        while not condition():
            left = deadline - time.monotonic()
            if left <= 0:
                raise net.DeadlineExceeded(f"timed out after {timeout:.1f}s waiting for {what}")
            try:
                if not self.pump(left):
                    return condition()
            except net.DeadlineExceeded:
                raise net.DeadlineExceeded(f"timed out after {timeout:.1f}s waiting for {what}") from None
        return True

    def response(self, stream_id: int, timeout: float = 5.0) -> StreamResult:
        """Waits for the stream to end (END_STREAM or RST_STREAM) and returns what came."""
        self.wait(lambda: self.streams[stream_id].done, timeout, f"the end of stream {stream_id}")
        return self.streams[stream_id]

    def wait_goaway(self, timeout: float = 5.0) -> tuple[int, int, bytes]:
        """The first GOAWAY (waiting for it); fails if the connection closes without one."""
        self.wait(lambda: bool(self.goaways), timeout, "a GOAWAY")
        assert self.goaways, f"connection closed ({self.io.closed}) without a GOAWAY"
        return self.goaways[0]

    def drain_until_closed(self, timeout: float = 5.0) -> str:
        """Reads (handling frames) until the server closes the connection; returns how."""
        self.wait(lambda: self.io.closed is not None, timeout, "the server to close the connection")
        assert self.io.closed is not None
        return self.io.closed.how

    def handshake(self, timeout: float = 5.0) -> None:
        """Waits for the server's SETTINGS and the ACK of ours."""
        ok = self.wait(lambda: self.settings_received and self.settings_acked > 0, timeout,
                       "the server's SETTINGS and the ACK of ours")
        assert ok, f"connection closed ({self.io.closed}) during the handshake"


def request_headers(method: str = "GET", path: str = "/", authority: str = "devmesh.test",
                    extra: Headers = ()) -> list[tuple[str, str]]:
    return [(":method", method), (":scheme", "http"), (":authority", authority), (":path", path),
            *[(str(n), str(v)) for n, v in extra]]


def served(port: int, path: str = "/", extra: Headers = (), timeout: float = 5.0) -> StreamResult:
    """One GET on a fresh connection (the well-behaved client next to an abusive one)."""
    c = H2Client(port)
    try:
        return c.response(c.request(request_headers(path=path, extra=extra)), timeout)
    finally:
        c.close()
