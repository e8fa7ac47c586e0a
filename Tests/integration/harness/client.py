"""A raw-socket HTTP/1.1 client that reports exactly what arrived.

Unlike a library client it never hides a problem: a body cut short, a connection reset, an
interim response or a close after the response are all visible in the `Response` it returns,
and it can send bytes that no library would (smuggling attempts, pipelined heads, drips).
"""

from __future__ import annotations

import hashlib
import socket
import time
from dataclasses import dataclass, field
from typing import Callable, Iterable, Optional, Union

from . import net, wire

HeaderList = Iterable[tuple[Union[str, bytes], Union[str, bytes]]]


def _b(x: Union[str, bytes]) -> bytes:
    return x if isinstance(x, bytes) else x.encode("latin-1")


def build_request(method: str = "GET", path: str = "/", headers: HeaderList = (),
                  body: Optional[bytes] = None, host: Optional[str] = "test.local",
                  chunked: bool = False, version: str = "HTTP/1.1") -> bytes:
    """Serialises a request. Content-Length is added for a body unless `chunked` is set, in
    which case the body is sent as one chunk; pass raw bytes to `send` for anything stranger."""
    out = [f"{method} {path} {version}".encode()]
    if host is not None:
        out.append(b"Host: " + host.encode())
    out += [_b(n) + b": " + _b(v) for n, v in headers]
    if body is not None and chunked:
        out.append(b"Transfer-Encoding: chunked")
    elif body is not None:
        out.append(b"Content-Length: " + str(len(body)).encode())
    data = b"\r\n".join(out) + b"\r\n\r\n"
    if body is not None and chunked:
        data += (f"{len(body):x}\r\n".encode() + body + b"\r\n" if body else b"") + b"0\r\n\r\n"
    elif body is not None:
        data += body
    return data


@dataclass
class Response:
    status: int = 0  # 0: no response head arrived
    head: Optional[wire.Head] = None
    body: bytes = b""  # empty when the body was streamed to a sink
    body_len: int = 0
    body_sha256: str = ""
    framing: str = "none"  # length | chunked | close | none
    outcome: str = "ok"  # ok | eof | reset | framing | timeout: how the read ended
    interim: list[int] = field(default_factory=list)  # 1xx statuses seen before the final one
    trailers: list[bytes] = field(default_factory=list)

    @property
    def complete(self) -> bool:
        """A full, correctly framed response arrived."""
        return self.status != 0 and self.outcome == "ok"

    def header(self, name: str) -> Optional[str]:
        v = self.head.get(name) if self.head else None
        return v.decode("latin-1") if v is not None else None

    @property
    def upstream(self) -> Optional[str]:
        """Name of the recording upstream that answered (x-upstream), None for proxy answers."""
        return self.header("x-upstream")

    @property
    def text(self) -> str:
        return self.body.decode("latin-1")

    def __repr__(self) -> str:
        return (f"Response(status={self.status}, outcome={self.outcome}, framing={self.framing}, "
                f"upstream={self.upstream}, body_len={self.body_len}, body={self.body[:120]!r})")


class Client:
    """One downstream connection to the proxy (or any HTTP/1.1 server)."""

    def __init__(self, port: int, timeout: float = 10.0, host: str = net.LOOPBACK):
        self.sock = net.connect(port, timeout=timeout, host=host)
        self.timeout = timeout
        self.reader = wire.SocketReader(self.sock)

    def __enter__(self) -> "Client":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        try:
            self.sock.close()
        except OSError:
            pass

    def send(self, data: bytes) -> None:
        self.sock.sendall(data)

    def request(self, method: str = "GET", path: str = "/", headers: HeaderList = (),
                body: Optional[bytes] = None, **kw) -> Response:
        self.send(build_request(method, path, headers, body, **kw))
        return self.read_response(method)

    def read_head(self, head_limit: int = 256 * 1024) -> wire.Head:
        """Reads exactly one head (an interim 1xx included); transport problems raise."""
        return wire.parse_head(self.reader.read_until(b"\r\n\r\n", head_limit))

    def read_response(self, method: str = "GET", sink: Optional[Callable[[bytes], None]] = None,
                      head_limit: int = 256 * 1024) -> Response:
        """Reads one final response (skipping and recording 1xx interim ones, RFC 9110 §15.2).
        With `sink`, body bytes go there instead of into `Response.body` (large bodies)."""
        resp = Response()
        try:
            while True:
                raw = self.reader.read_until(b"\r\n\r\n", head_limit)
                head = wire.parse_head(raw)
                status = int(head.start[1])
                if 100 <= status < 200 and status != 101:
                    resp.interim.append(status)
                    continue
                resp.status, resp.head = status, head
                break
            self._read_body(resp, method, sink)
        except wire.PeerClosed:
            resp.outcome = "eof"
        except wire.PeerReset:
            resp.outcome = "reset"
        except (wire.FramingError, ValueError, IndexError):
            resp.outcome = "framing"
        except socket.timeout:
            resp.outcome = "timeout"
        return resp

    def _read_body(self, resp: Response, method: str, sink: Optional[Callable[[bytes], None]]) -> None:
        hasher = hashlib.sha256()
        kept = bytearray()

        def take(data: bytes) -> None:
            hasher.update(data)
            resp.body_len += len(data)
            if sink is not None:
                sink(data)
            else:
                kept.extend(data)

        try:
            head = resp.head
            assert head is not None
            if method == "HEAD" or resp.status in (101, 204, 304):
                resp.framing = "none"
            elif head.has_token("transfer-encoding", "chunked"):
                resp.framing = "chunked"
                resp.trailers = wire.read_chunked(self.reader, take).trailers
            elif (n := wire.content_length(head)) is not None:
                resp.framing = "length"
                self.reader.read_into(n, take)
            else:
                resp.framing = "close"
                self.reader.read_to_eof(take)
        finally:
            resp.body = bytes(kept)
            resp.body_sha256 = hasher.hexdigest()

    def closed_by_peer(self, timeout: float = 3.0) -> bool:
        """Waits up to `timeout` for the peer to close (FIN or RST). Returns False when the
        connection is still open at the deadline; fails when unexpected bytes arrive."""
        if self.reader.buf:
            raise AssertionError(f"unexpected bytes after the response: {bytes(self.reader.buf[:200])!r}")
        if self.reader.eof:
            return True
        deadline = time.monotonic() + timeout
        try:
            while True:
                left = deadline - time.monotonic()
                if left <= 0:
                    return False
                self.sock.settimeout(left)
                data = self.sock.recv(4096)
                if not data:
                    return True
                raise AssertionError(f"unexpected bytes instead of a close: {data[:200]!r}")
        except ConnectionResetError:
            return True
        except socket.timeout:
            return False
        finally:
            self.sock.settimeout(self.timeout)


def get(port: int, path: str = "/", headers: HeaderList = (), **kw) -> Response:
    """One request on a fresh connection."""
    with Client(port) as c:
        return c.request("GET", path, headers, **kw)
