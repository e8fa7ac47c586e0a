"""The S8 idle-connection client against a real local server."""

import socket
import threading
import unittest

from devmesh_bench import measure
from devmesh_bench.targets import Running


class TinyServer:
    """Answers one request per connection with a fixed response, then keeps the connection open;
    stops accepting after `accept_limit` connections, like a proxy at its connection limit."""

    def __init__(self, accept_limit: int, response: bytes):
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(512)
        self.port = self.sock.getsockname()[1]
        self.accept_limit, self.response, self.conns = accept_limit, response, []
        threading.Thread(target=self.serve, daemon=True).start()

    def serve(self):
        while len(self.conns) < self.accept_limit:
            conn, _ = self.sock.accept()
            buf = b""
            while b"\r\n\r\n" not in buf:
                buf += conn.recv(4096)
            conn.sendall(self.response)
            self.conns.append(conn)

    def close(self):
        for c in self.conns:
            c.close()
        self.sock.close()


OK = b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nhello"


class IdleClientTests(unittest.TestCase):
    def test_opens_and_keeps_connections(self):
        server = TinyServer(50, OK)
        try:
            sockets, failed = measure.idle_connections(Running("t", server.port, 0, None, True), 50)
            self.assertEqual((len(sockets), failed), (50, 0))
            self.assertEqual(measure.still_open(sockets), 50)
            for c in server.conns[:7]:
                c.close()
            import time
            time.sleep(0.1)
            self.assertEqual(measure.still_open(sockets), 43)
        finally:
            for s in sockets:
                s.close()
            server.close()

    def test_gives_up_when_the_target_stops_answering(self):
        server = TinyServer(10, OK)
        try:
            sockets, failed = measure.idle_connections(Running("t", server.port, 0, None, True), 30,
                                                       deadline_s=20, max_failures=2)
            self.assertEqual(len(sockets), 10)
            self.assertEqual(failed, 20)
        finally:
            for s in sockets:
                s.close()
            server.close()

    def test_non_2xx_is_a_failure(self):
        server = TinyServer(5, b"HTTP/1.1 503 Busy\r\nContent-Length: 0\r\n\r\n")
        try:
            sockets, failed = measure.idle_connections(Running("t", server.port, 0, None, True), 5, max_failures=5)
            self.assertEqual((len(sockets), failed), (0, 5))
        finally:
            server.close()


if __name__ == "__main__":
    unittest.main()
