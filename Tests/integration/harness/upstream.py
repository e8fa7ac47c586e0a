"""A recording HTTP/1.1 upstream on raw sockets, able to misbehave on purpose.

Every request that reaches it lands in a ledger (method, target, raw headers, body length
and SHA-256, connection id) that the test reads to learn where each request went and what
arrived. It answers with its own name, so the client can tell too.

Behaviour is chosen per request by the query string or an `x-behave` header with the same
`key=value&...` syntax (the header wins), so curl, raw sockets and load loops can all drive it:

  status=N        response status (default 200); 204 and 304 never carry a body
  size=N          body of N pattern bytes (harness.bodies) instead of "<name>\\n"
  echo=1          body = the request body
  chunked=1       chunked response (chunk=N bytes per chunk, default 16 KiB)
  trailers=N:V;.. with chunked=1: a trailer section with these fields
  hop=1           add hop-by-hop fields (Connection naming x-hop-private, Keep-Alive, ...)
  close=1         `Connection: close`, then close
  delay=S         wait S seconds before the response head (slow upstream)
  fault=NAME      reset_before_head | close_before_head | reset_mid_body | fin_mid_body |
                  stall_mid_body (then waits delay_body=S, default 30, and closes) |
                  cl_te | bad_cl | dup_cl | bad_chunk | bad_status  (malformed responses; the
                  connection stays open afterwards, so a proxy that re-used it would show)
  reused_fault=NAME  like fault=, but only when the request arrives on a connection that already
                  served one (the keep-alive race: the upstream drops a connection it had idle)
  expect=ignore   never send `100 Continue` (default: send it when the request asks)
  pause_body=S    wait S seconds before reading the request body (a slow reader: backpressure)

Every response carries x-upstream (name), x-conn-id, x-seq (request number on the
connection), x-test-id (echoed), x-req-body-len and x-req-body-sha256 (what arrived), and
x-resp-body-sha256 for pattern bodies. A request with `Upgrade: websocket` gets an echo
WebSocket (RFC 6455) on the same connection.
"""

from __future__ import annotations

import base64
import hashlib
import socket
import struct
import threading
import time
from dataclasses import dataclass, field
from typing import Optional
from urllib.parse import parse_qs, urlsplit

from . import bodies, net, wire

HEAD_LIMIT = 256 * 1024
CONN_TIMEOUT = 60.0  # an idle connection thread gives up after this (bounds thread lifetime)
WS_GUID = b"258EAFA5-E914-47DA-95CA-C5AB0DC85B11"


@dataclass
class RecordedRequest:
    upstream: str
    conn_id: int
    seq: int  # 1 for the first request on its connection
    method: str
    target: str
    version: str
    head: wire.Head
    body_len: int = 0
    body_sha256: str = bodies.sha256(b"")
    chunked: bool = False
    trailers: list[bytes] = field(default_factory=list)
    complete: bool = True  # False: the peer went away (or broke framing) before the body ended

    @property
    def path(self) -> str:
        return urlsplit(self.target).path

    @property
    def test_id(self) -> Optional[str]:
        v = self.head.get("x-test-id")
        return v.decode("latin-1") if v is not None else None

    def header(self, name: str) -> Optional[bytes]:
        return self.head.get(name)


def _behaviour(head: wire.Head, target: str) -> dict[str, str]:
    params = {k: v[-1] for k, v in parse_qs(urlsplit(target).query).items()}
    override = head.get("x-behave")
    if override is not None:
        params.update({k: v[-1] for k, v in parse_qs(override.decode("latin-1")).items()})
    return params


class RecordingUpstream:
    """Listens on 127.0.0.1:0 and serves each connection on its own thread."""

    def __init__(self, name: str, idle_timeout: Optional[float] = None):
        """`idle_timeout`: close a keep-alive connection that stays idle this long between
        requests (like nginx's keepalive_timeout), the source of the keep-alive race."""
        self.name = name
        self.idle_timeout = idle_timeout
        self.idle_closes = 0
        self._listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self._listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self._listener.bind((net.LOOPBACK, 0))
        self._listener.listen(1024)
        self.port: int = self._listener.getsockname()[1]
        self._cv = threading.Condition()
        self.requests: list[RecordedRequest] = []  # completed requests, in arrival order
        self.aborted: list[RecordedRequest] = []  # requests whose body never completed
        self.connections = 0  # connections accepted so far
        self.ws_messages = 0
        self._arrivals = 0  # request heads read, whether or not their body completed
        self._open: set[socket.socket] = set()
        self._stopped = False
        self._thread = threading.Thread(target=self._accept_loop, name=f"upstream-{name}", daemon=True)
        self._thread.start()

    @property
    def address(self) -> str:
        return f"{net.LOOPBACK}:{self.port}"

    # ---- ledger queries -------------------------------------------------------------------

    def count(self) -> int:
        with self._cv:
            return len(self.requests)

    def snapshot(self) -> list[RecordedRequest]:
        with self._cv:
            return list(self.requests)

    def by_test_id(self, test_id: str) -> list[RecordedRequest]:
        return [r for r in self.snapshot() if r.test_id == test_id]

    def wait_for(self, n: int, timeout: float = 5.0) -> list[RecordedRequest]:
        """Waits until at least n requests completed; returns the ledger."""
        deadline = time.monotonic() + timeout
        with self._cv:
            while len(self.requests) < n:
                left = deadline - time.monotonic()
                if left <= 0:
                    raise net.DeadlineExceeded(
                        f"upstream {self.name}: {len(self.requests)} of {n} requests after {timeout}s")
                self._cv.wait(left)
            return list(self.requests)

    def wait_for_arrivals(self, n: int, timeout: float = 5.0) -> None:
        """Waits until n request heads arrived, complete or not (for in-flight slow requests)."""
        net.wait_until(lambda: self._arrivals >= n, timeout, f"{n} request heads at upstream {self.name}")

    # ---- lifecycle ------------------------------------------------------------------------

    def stop(self) -> None:
        self._stopped = True
        try:
            self._listener.shutdown(socket.SHUT_RDWR)  # wakes the blocked accept() on Linux
        except OSError:
            pass
        self._listener.close()
        with self._cv:
            conns = list(self._open)
        for c in conns:
            try:
                c.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
        self._thread.join(timeout=5)

    def _accept_loop(self) -> None:
        while not self._stopped:
            try:
                conn, _ = self._listener.accept()
            except OSError:
                return
            with self._cv:
                self.connections += 1
                conn_id = self.connections
                self._open.add(conn)
            threading.Thread(target=self._serve, args=(conn, conn_id), daemon=True,
                             name=f"upstream-{self.name}-{conn_id}").start()

    # ---- one connection -------------------------------------------------------------------

    def _serve(self, conn: socket.socket, conn_id: int) -> None:
        conn.settimeout(CONN_TIMEOUT)
        conn.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        reader = wire.SocketReader(conn)
        seq = 0
        try:
            while not self._stopped:
                if seq > 0 and self.idle_timeout is not None:
                    conn.settimeout(self.idle_timeout)
                try:
                    raw = reader.read_until(b"\r\n\r\n", HEAD_LIMIT)
                except socket.timeout:
                    if seq > 0 and self.idle_timeout is not None:
                        with self._cv:
                            self.idle_closes += 1
                    return
                except (wire.PeerClosed, wire.PeerReset, OSError):
                    return
                conn.settimeout(CONN_TIMEOUT)
                seq += 1
                if not self._exchange(conn, reader, conn_id, seq, raw):
                    return
        except (wire.PeerClosed, wire.PeerReset, wire.FramingError, socket.timeout, OSError):
            return
        finally:
            with self._cv:
                self._open.discard(conn)
            try:
                conn.close()
            except OSError:
                pass

    def _exchange(self, conn: socket.socket, reader: wire.SocketReader, conn_id: int, seq: int,
                  raw: bytes) -> bool:
        """Serves one request; returns False when the connection must not be used again."""
        head = wire.parse_head(raw)
        method = head.start[0].decode("latin-1")
        target = head.start[1].decode("latin-1") if len(head.start) > 1 else ""
        version = head.start[2].decode("latin-1") if len(head.start) > 2 else ""
        rec = RecordedRequest(self.name, conn_id, seq, method, target, version, head)
        params = _behaviour(head, target)
        with self._cv:
            self._arrivals += 1

        if head.get("expect") is not None and head.get("expect").lower() == b"100-continue" \
                and params.get("expect") != "ignore":
            conn.sendall(b"HTTP/1.1 100 Continue\r\n\r\n")

        # Request body.
        if "pause_body" in params:
            time.sleep(float(params["pause_body"]))
        hasher = hashlib.sha256()
        keep_body = params.get("echo") == "1"
        received = bytearray()

        def sink(data: bytes) -> None:
            hasher.update(data)
            if keep_body:
                received.extend(data)

        try:
            if head.has_token("transfer-encoding", "chunked"):
                rec.chunked = True
                result = wire.read_chunked(reader, sink)
                rec.body_len, rec.trailers = result.size, result.trailers
            else:
                n = wire.content_length(head) or 0
                reader.read_into(n, sink)
                rec.body_len = n
        except (wire.PeerClosed, wire.PeerReset, wire.FramingError, socket.timeout):
            rec.complete = False
            rec.body_sha256 = hasher.hexdigest()
            with self._cv:
                self.aborted.append(rec)
                self._cv.notify_all()
            return False
        rec.body_sha256 = hasher.hexdigest()
        with self._cv:
            self.requests.append(rec)
            self._cv.notify_all()

        if head.has_token("upgrade", "websocket"):
            self._websocket(conn, reader, head)
            return False

        return self._respond(conn, rec, params, bytes(received) if keep_body else None)

    def _respond(self, conn: socket.socket, rec: RecordedRequest, params: dict[str, str],
                 echo_body: Optional[bytes]) -> bool:
        delay = float(params.get("delay", "0"))
        if delay:
            time.sleep(delay)
        fault = params.get("fault", "")
        if rec.seq > 1 and "reused_fault" in params:
            fault = params["reused_fault"]  # only on a connection that already served a request
        if fault == "reset_before_head":
            net.reset_close(conn)
            return False
        if fault == "close_before_head":
            conn.shutdown(socket.SHUT_WR)
            return False

        status = int(params.get("status", "200"))
        if "size" in params:
            size = int(params["size"])
            body_iter = lambda: bodies.pattern_chunks(size)  # noqa: E731
        else:
            fixed = echo_body if echo_body is not None else f"{self.name}\n".encode()
            size = len(fixed)
            body_iter = lambda: iter([memoryview(fixed)])  # noqa: E731
        no_body = status in (204, 304) or 100 <= status < 200
        http10 = rec.version == "HTTP/1.0"
        close = (params.get("close") == "1" or rec.head.has_token("connection", "close")
                 or (http10 and not rec.head.has_token("connection", "keep-alive")))

        lines = [f"HTTP/1.1 {status} {'OK' if status < 400 else 'Error'}",
                 f"x-upstream: {self.name}",
                 f"x-conn-id: {rec.conn_id}",
                 f"x-seq: {rec.seq}",
                 f"x-req-body-len: {rec.body_len}",
                 f"x-req-body-sha256: {rec.body_sha256}"]
        if rec.test_id is not None:
            lines.append(f"x-test-id: {rec.test_id}")
        if "size" in params:
            lines.append(f"x-resp-body-sha256: {bodies.pattern_sha256(size)}")
        chunked = params.get("chunked") == "1" and not no_body and not http10
        malformed = {
            "cl_te": [f"Content-Length: {size}", "Transfer-Encoding: chunked"],
            "bad_cl": ["Content-Length: 12abc"],
            "dup_cl": [f"Content-Length: {size}", f"Content-Length: {size + 1}"],
            "bad_chunk": ["Transfer-Encoding: chunked"],
        }
        if fault in malformed:
            lines += malformed[fault]
        elif fault == "bad_status":
            lines[0] = "HTTP/1.1 2x0 OK"
            lines.append(f"Content-Length: {size}")
        elif fault in ("reset_mid_chunked", "fin_mid_chunked") or chunked:
            lines.append("Transfer-Encoding: chunked")
        elif status == 304:
            lines.append("ETag: \"v1\"")
        elif status != 204:
            lines.append(f"Content-Length: {size}")
        if close:
            lines.append("Connection: close")
        if params.get("hop") == "1":
            # Hop-by-hop fields a proxy must not pass on (RFC 9110 §7.6.1), one named by Connection.
            lines += ["Connection: x-hop-private", "x-hop-private: secret", "Keep-Alive: timeout=5",
                      "Proxy-Connection: keep-alive", "Upgrade: example/1"]
        conn.sendall(("\r\n".join(lines) + "\r\n\r\n").encode("latin-1"))

        if fault in ("cl_te", "bad_chunk"):
            first = "zz" if fault == "bad_chunk" else f"{size:x}"
            conn.sendall(first.encode() + b"\r\n" + b"".join(body_iter()) + b"\r\n0\r\n\r\n")
            return True  # stays open: a proxy that pools it would desync
        if fault in ("bad_cl", "dup_cl", "bad_status"):
            conn.sendall(b"".join(body_iter()))
            return True
        if no_body or rec.method == "HEAD":
            return not close

        if fault in ("reset_mid_body", "fin_mid_body", "stall_mid_body",
                     "reset_mid_chunked", "fin_mid_chunked"):
            half = bodies.pattern(size)[: size // 2] if "size" in params else b"x"
            if fault.endswith("chunked"):
                conn.sendall(f"{len(half):x}\r\n".encode() + half + b"\r\n")
            else:
                conn.sendall(half)
            if fault == "stall_mid_body":
                time.sleep(float(params.get("delay_body", "30")))
                conn.close()
            elif fault.startswith("reset"):
                net.reset_close(conn)
            else:
                conn.shutdown(socket.SHUT_WR)
            return False

        chunk_size = int(params.get("chunk", str(16 * 1024)))
        for piece in body_iter():
            if chunked:
                for i in range(0, len(piece), chunk_size):
                    part = piece[i:i + chunk_size]
                    conn.sendall(f"{len(part):x}\r\n".encode() + part + b"\r\n")
            else:
                conn.sendall(piece)
        if chunked:
            trailer_lines = "".join(f"{t.replace(':', ': ', 1)}\r\n" for t in params.get("trailers", "").split(";") if t)
            conn.sendall(b"0\r\n" + trailer_lines.encode("latin-1") + b"\r\n")
        if close:
            conn.shutdown(socket.SHUT_WR)
            return False
        return True

    # ---- WebSocket echo (RFC 6455 §5) -----------------------------------------------------

    def _websocket(self, conn: socket.socket, reader: wire.SocketReader, head: wire.Head) -> None:
        key = head.get("sec-websocket-key") or b""
        accept = base64.b64encode(hashlib.sha1(key + WS_GUID).digest()).decode()
        conn.sendall(("HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
                      f"Sec-WebSocket-Accept: {accept}\r\nx-upstream: {self.name}\r\n\r\n").encode())
        while True:
            b0, b1 = reader.read_exact(2)
            opcode, masked, length = b0 & 0x0F, b1 & 0x80, b1 & 0x7F
            if length == 126:
                length = struct.unpack("!H", reader.read_exact(2))[0]
            elif length == 127:
                length = struct.unpack("!Q", reader.read_exact(8))[0]
            mask = reader.read_exact(4) if masked else b"\0\0\0\0"
            payload = bytes(c ^ mask[i % 4] for i, c in enumerate(reader.read_exact(length)))
            if opcode == 0x9:  # ping -> pong
                opcode = 0xA
            if length < 126:
                header = bytes([0x80 | opcode, length])
            elif length < 65536:
                header = bytes([0x80 | opcode, 126]) + struct.pack("!H", length)
            else:
                header = bytes([0x80 | opcode, 127]) + struct.pack("!Q", length)
            conn.sendall(header + payload)  # server frames are not masked (RFC 6455 §5.1)
            if opcode == 0x8:
                return
            if opcode in (0x1, 0x2):
                with self._cv:
                    self.ws_messages += 1
