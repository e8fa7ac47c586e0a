"""Small network and waiting helpers shared by the harness and the tests.

Everything here is bounded: every wait has a deadline and raises when it passes, so a test
never hangs on a condition that will not come true (the pytest-timeout plugin is only the
last line of defence).
"""

from __future__ import annotations

import errno
import socket
import struct
import time
from typing import Callable, TypeVar

T = TypeVar("T")

LOOPBACK = "127.0.0.1"


class DeadlineExceeded(AssertionError):
    """A condition did not become true before its deadline (a test failure, not an error)."""


def wait_until(condition: Callable[[], T], timeout: float, what: str, interval: float = 0.02) -> T:
    """Polls `condition` until it returns a truthy value and returns that value.

    Polling at a short interval is a wait on a condition with a deadline, not a sleep-and-hope:
    the test proceeds as soon as the condition holds and fails with `what` if it never does.
    """
    deadline = time.monotonic() + timeout
    while True:
        value = condition()
        if value:
            return value
        if time.monotonic() >= deadline:
            raise DeadlineExceeded(f"timed out after {timeout:.1f}s waiting for {what}")
        time.sleep(interval)


def free_port() -> int:
    """A port the kernel just handed out and that nothing listens on now.

    Only for peers that cannot bind port 0 themselves (nginx): there is a window in which
    another process could take it, so callers retry on a bind failure.
    """
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind((LOOPBACK, 0))
        return s.getsockname()[1]


def closed_port() -> int:
    """A loopback port with no listener, so a connect is refused (RST) at once."""
    return free_port()


def connect(port: int, timeout: float = 5.0, host: str = LOOPBACK) -> socket.socket:
    s = socket.create_connection((host, port), timeout=timeout)
    s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    return s


def connection_refused(port: int, host: str = LOOPBACK) -> bool:
    """True when a TCP connect to the port is refused (no listener any more)."""
    try:
        with socket.create_connection((host, port), timeout=1.0):
            return False
    except ConnectionRefusedError:
        return True
    except OSError as e:
        return e.errno == errno.ECONNREFUSED


def accepts_connections(port: int, host: str = LOOPBACK) -> bool:
    try:
        with socket.create_connection((host, port), timeout=1.0):
            return True
    except OSError:
        return False


def reset_close(sock: socket.socket) -> None:
    """Closes with SO_LINGER 0, which makes the kernel send RST instead of FIN."""
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    except OSError:
        pass
    sock.close()
