"""HTTP/1.1 wire reading shared by the recording upstream and the raw test client.

Deliberately strict: the harness must notice a proxy that frames a message wrongly (a bare
LF, a chunk without its CRLF, a body shorter than its Content-Length), so nothing here repairs
input. RFC 9112 §2.1 (message format), §6 (body length), §7.1 (chunked coding).
"""

from __future__ import annotations

import socket
from dataclasses import dataclass, field
from typing import Callable, Optional


class PeerClosed(Exception):
    """The peer closed (FIN) before the expected bytes arrived."""


class PeerReset(Exception):
    """The peer reset the connection (RST)."""


class FramingError(Exception):
    """The bytes on the wire do not follow HTTP/1.1 framing."""


class SocketReader:
    """Buffered reads over a blocking socket with a timeout (socket.timeout propagates)."""

    def __init__(self, sock: socket.socket, recv_size: int = 64 * 1024):
        self.sock = sock
        self.buf = bytearray()
        self.recv_size = recv_size
        self.eof = False

    def _fill(self) -> None:
        if self.eof:
            raise PeerClosed()
        try:
            data = self.sock.recv(self.recv_size)
        except ConnectionResetError as e:
            raise PeerReset() from e
        if not data:
            self.eof = True
            raise PeerClosed()
        self.buf += data

    def read_until(self, delim: bytes, limit: int) -> bytes:
        """Bytes up to and including `delim`; FramingError when `limit` bytes pass without it."""
        start = 0
        while True:
            i = self.buf.find(delim, start)
            if i >= 0:
                out = bytes(self.buf[: i + len(delim)])
                del self.buf[: i + len(delim)]
                return out
            if len(self.buf) > limit:
                raise FramingError(f"no {delim!r} within {limit} bytes")
            start = max(0, len(self.buf) - len(delim) + 1)
            self._fill()

    def read_exact(self, n: int) -> bytes:
        while len(self.buf) < n:
            self._fill()
        out = bytes(self.buf[:n])
        del self.buf[:n]
        return out

    def read_into(self, n: int, sink: Callable[[bytes], None]) -> None:
        """Streams exactly n bytes into `sink` without holding them all (large bodies)."""
        while n > 0:
            if not self.buf:
                self._fill()
            take = min(n, len(self.buf))
            sink(bytes(self.buf[:take]))
            del self.buf[:take]
            n -= take

    def read_to_eof(self, sink: Callable[[bytes], None]) -> None:
        while True:
            if self.buf:
                sink(bytes(self.buf))
                self.buf.clear()
            try:
                self._fill()
            except PeerClosed:
                return


@dataclass
class Head:
    """A parsed message head. Header names and values are kept as the raw bytes received
    (value without surrounding OWS), so tests can compare what crossed the proxy byte for byte."""

    start: list[bytes]
    headers: list[tuple[bytes, bytes]]
    raw: bytes

    def get(self, name: str) -> Optional[bytes]:
        key = name.lower().encode()
        for n, v in self.headers:
            if n.lower() == key:
                return v
        return None

    def get_all(self, name: str) -> list[bytes]:
        key = name.lower().encode()
        return [v for n, v in self.headers if n.lower() == key]

    def has_token(self, name: str, token: str) -> bool:
        """True when a comma-separated header (Connection, Transfer-Encoding) lists `token`."""
        want = token.lower().encode()
        return any(t.strip().lower() == want for v in self.get_all(name) for t in v.split(b","))


def parse_head(raw: bytes) -> Head:
    """Splits a head that ends in CRLF CRLF. Bare LF or a line without a colon is a FramingError."""
    if not raw.endswith(b"\r\n\r\n"):
        raise FramingError("head does not end in CRLF CRLF")
    lines = raw[:-4].split(b"\r\n")
    for line in lines:
        if b"\n" in line or b"\r" in line:
            raise FramingError(f"bare CR or LF in head line {line!r}")
    start = lines[0].split(b" ", 2)
    headers: list[tuple[bytes, bytes]] = []
    for line in lines[1:]:
        name, sep, value = line.partition(b":")
        if not sep or not name or name != name.strip():
            raise FramingError(f"bad header line {line!r}")
        headers.append((name, value.strip(b" \t")))
    return Head(start=start, headers=headers, raw=raw)


@dataclass
class ChunkedResult:
    size: int = 0
    chunks: int = 0
    trailers: list[bytes] = field(default_factory=list)


def read_chunked(reader: SocketReader, sink: Callable[[bytes], None], line_limit: int = 4096) -> ChunkedResult:
    """Reads a chunked body (RFC 9112 §7.1), passing the data to `sink`. Every line must end in
    CRLF; a missing last chunk surfaces as PeerClosed/PeerReset from the reader."""
    result = ChunkedResult()
    while True:
        line = reader.read_until(b"\r\n", line_limit)
        if b"\n" in line[:-2] or b"\r" in line[:-2]:
            raise FramingError(f"bare CR/LF in chunk-size line {line!r}")
        size_text = line[:-2].split(b";", 1)[0].strip(b" \t")
        try:
            size = int(size_text, 16)
        except ValueError as e:
            raise FramingError(f"bad chunk size {line!r}") from e
        if size_text.startswith((b"+", b"-", b"0x", b"0X")) or size < 0:
            raise FramingError(f"bad chunk size {line!r}")
        if size == 0:
            break
        reader.read_into(size, sink)
        if reader.read_exact(2) != b"\r\n":
            raise FramingError("chunk data not followed by CRLF")
        result.size += size
        result.chunks += 1
    while True:
        trailer = reader.read_until(b"\r\n", line_limit)
        if trailer == b"\r\n":
            return result
        result.trailers.append(trailer[:-2])


def content_length(head: Head) -> Optional[int]:
    """The single valid Content-Length, None when absent; FramingError when invalid or repeated."""
    values = head.get_all("content-length")
    if not values:
        return None
    if len(values) > 1 or not values[0].isdigit():
        raise FramingError(f"bad Content-Length {values!r}")
    return int(values[0])
