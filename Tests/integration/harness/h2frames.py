"""HTTP/2 at the frame level, for peers that must be able to break the rules on purpose.

`FrameIO` reads and writes whole frames (hyperframe) over one socket and decodes header blocks
(hpack), but keeps no stream state machine: the raw client (`h2client.py`) and the h2c
upstream (`h2upstream.py`) decide what to send, including frames a conforming library would
refuse to produce (CONTINUATION floods, upper-case names, a GOAWAY in the middle of a
connection that keeps answering its earlier streams).

Every read has a deadline; end of stream and resets are reported, not raised, so a test can
assert how a connection ended.
"""

from __future__ import annotations

import socket
import time
from dataclasses import dataclass
from typing import Optional, Sequence, Union

import hpack
from hyperframe.frame import (ContinuationFrame, DataFrame, Frame, GoAwayFrame, HeadersFrame, PingFrame,
                              RstStreamFrame, SettingsFrame, WindowUpdateFrame)

from . import net

PREFACE = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n"
FRAME_HEADER_BYTES = 9
DEFAULT_WINDOW = 65_535
MAX_WINDOW = 2**31 - 1

# RFC 9113 §7 error codes.
NO_ERROR = 0x0
PROTOCOL_ERROR = 0x1
INTERNAL_ERROR = 0x2
FLOW_CONTROL_ERROR = 0x3
STREAM_CLOSED = 0x5
FRAME_SIZE_ERROR = 0x6
REFUSED_STREAM = 0x7
CANCEL = 0x8
COMPRESSION_ERROR = 0x9
ENHANCE_YOUR_CALM = 0xB

ERROR_NAMES = {0x0: "NO_ERROR", 0x1: "PROTOCOL_ERROR", 0x2: "INTERNAL_ERROR", 0x3: "FLOW_CONTROL_ERROR",
               0x4: "SETTINGS_TIMEOUT", 0x5: "STREAM_CLOSED", 0x6: "FRAME_SIZE_ERROR", 0x7: "REFUSED_STREAM",
               0x8: "CANCEL", 0x9: "COMPRESSION_ERROR", 0xA: "CONNECT_ERROR", 0xB: "ENHANCE_YOUR_CALM",
               0xC: "INADEQUATE_SECURITY", 0xD: "HTTP_1_1_REQUIRED"}

Headers = Sequence[tuple[Union[str, bytes], Union[str, bytes]]]


def error_name(code: Optional[int]) -> str:
    return "none" if code is None else ERROR_NAMES.get(code, hex(code))


def as_bytes(value: Union[str, bytes]) -> bytes:
    return value if isinstance(value, bytes) else value.encode("latin-1")


@dataclass
class HeaderBlock:
    """A complete header block (HEADERS + CONTINUATIONs), decoded."""
    stream_id: int
    fields: list[tuple[bytes, bytes]]
    end_stream: bool

    def get(self, name: str) -> Optional[str]:
        want = name.encode("latin-1")
        return next((v.decode("latin-1") for n, v in self.fields if n == want), None)

    def as_dict(self) -> dict[str, str]:
        return {n.decode("latin-1"): v.decode("latin-1") for n, v in self.fields}


@dataclass
class Received:
    """One frame as read, with the decoded header block when this frame completed one."""
    frame: Frame
    block: Optional[HeaderBlock] = None


@dataclass
class Closed:
    """The peer ended the TCP connection: `how` is "eof" (FIN) or "reset" (RST)."""
    how: str


class FrameIO:
    """Frame-level reading and writing on one connected socket."""

    def __init__(self, sock: socket.socket):
        self.sock = sock
        self.encoder = hpack.Encoder()
        self.decoder = hpack.Decoder()
        self.decoder.max_header_list_size = 1 << 24
        self._buf = bytearray()
        self._block: Optional[tuple[int, bool, bytearray]] = None  # stream, END_STREAM, fragments
        self.closed: Optional[Closed] = None

    # ---- writing ---------------------------------------------------------------------------

    def send(self, *frames: Frame) -> None:
        self.sock.sendall(b"".join(f.serialize() for f in frames))

    def send_raw(self, data: bytes) -> None:
        self.sock.sendall(data)

    def encode(self, headers: Headers, huffman: bool = True) -> bytes:
        return self.encoder.encode([(as_bytes(n), as_bytes(v)) for n, v in headers], huffman=huffman)

    def headers_frame(self, stream_id: int, headers: Headers, end_stream: bool = False) -> HeadersFrame:
        flags = ["END_HEADERS"] + (["END_STREAM"] if end_stream else [])
        return HeadersFrame(stream_id, self.encode(headers), flags=flags)

    # ---- reading ---------------------------------------------------------------------------

    def _fill(self, deadline: float) -> bool:
        """Reads more bytes; False when the peer closed (recorded in `closed`)."""
        if self.closed is not None:
            return False
        left = deadline - time.monotonic()
        if left <= 0:
            raise net.DeadlineExceeded("no HTTP/2 frame before the deadline")
        self.sock.settimeout(left)
        try:
            data = self.sock.recv(256 * 1024)
        except socket.timeout:
            raise net.DeadlineExceeded("no HTTP/2 frame before the deadline") from None
        except ConnectionResetError:
            self.closed = Closed("reset")
            return False
        if not data:
            self.closed = Closed("eof")
            return False
        self._buf += data
        return True

    def read(self, timeout: float = 5.0) -> Union[Received, Closed]:
        """The next frame, or `Closed` once the peer has closed and every buffered frame was read."""
        deadline = time.monotonic() + timeout
        while True:
            if len(self._buf) >= FRAME_HEADER_BYTES:
                frame, length = Frame.parse_frame_header(memoryview(bytes(self._buf[:FRAME_HEADER_BYTES])))
                if len(self._buf) >= FRAME_HEADER_BYTES + length:
                    body = bytes(self._buf[FRAME_HEADER_BYTES:FRAME_HEADER_BYTES + length])
                    del self._buf[:FRAME_HEADER_BYTES + length]
                    frame.parse_body(memoryview(body))
                    return Received(frame, self._assemble(frame))
            if not self._fill(deadline):
                assert self.closed is not None
                return self.closed

    def _assemble(self, frame: Frame) -> Optional[HeaderBlock]:
        if isinstance(frame, HeadersFrame):
            self._block = (frame.stream_id, "END_STREAM" in frame.flags, bytearray(frame.data))
        elif isinstance(frame, ContinuationFrame) and self._block is not None:
            self._block[2].extend(frame.data)
        else:
            return None
        if "END_HEADERS" not in frame.flags:
            return None
        stream_id, end_stream, fragments = self._block
        self._block = None
        fields = [(as_bytes(n), as_bytes(v)) for n, v in self.decoder.decode(bytes(fragments), raw=True)]
        return HeaderBlock(stream_id, fields, end_stream)


def settings_frame(values: Optional[dict[int, int]] = None, ack: bool = False) -> SettingsFrame:
    if ack:
        return SettingsFrame(0, flags=["ACK"])
    return SettingsFrame(0, settings=dict(values or {}))


def ping_frame(payload: bytes = b"\0" * 8, ack: bool = False) -> PingFrame:
    return PingFrame(0, payload, flags=["ACK"] if ack else [])


def data_frames(stream_id: int, data: bytes, max_frame: int, end_stream: bool) -> list[DataFrame]:
    pieces = [data[i:i + max_frame] for i in range(0, len(data), max_frame)] or [b""]
    frames = [DataFrame(stream_id, p) for p in pieces]
    if end_stream:
        frames[-1].flags.add("END_STREAM")
    return frames
