"""Streams as ledger entries: the raw HTTP/2 client (harness/h2client.py) driven the way the
fault-matrix tests need it. `send` opens a stream under a fresh ledger id, `settle` waits for a
group of streams and records each outcome once, `StreamLoad` keeps streams in flight on several
connections until stopped; `proxy` and `warm` start devmesh in front of one upstream and take a
quiet resource baseline after a few healthy streams.

Paths and headers ask both test upstreams for the same thing: the HTTP/1.1 recording upstream
reads its behaviour from the query string (`h1_path`), the h2c one from x-* headers (`x-size`).
"""

from __future__ import annotations

import threading
import time
from typing import Any, Optional

from . import devmesh as dmconf
from . import net, resources
from .h2client import H2Client, StreamResult, request_headers
from .h2frames import error_name
from .ledger import Ledger, outcome_of_h2

NEIGHBOUR_SIZE = 30_000


def h1_path(size: int, fault: str = "", extra: str = "") -> str:
    """A path for the HTTP/1.1 recording upstream (behaviour by query string)."""
    return f"/?size={size}" + (f"&fault={fault}" if fault else "") + (f"&{extra}" if extra else "")


def send(c: H2Client, ledger: Ledger, prefix: str, *, path: str = "/", size: Optional[int] = None,
         method: str = "GET", body: Optional[bytes] = None, extra=()) -> tuple[str, int]:
    """Opens one stream with a fresh ledger id; returns (test id, stream id)."""
    test_id = ledger.issue(prefix, method, size)
    headers = request_headers(method, path, extra=[("x-test-id", test_id), *extra])
    return test_id, c.request(headers, body)


def settle(c: H2Client, ledger: Ledger, sent: list[tuple[str, int]], timeout: float) -> dict[str, StreamResult]:
    """Waits (bounded) for every stream in `sent` to end and records each outcome once."""
    try:
        c.wait(lambda: all(c.streams[sid].done for _, sid in sent), timeout, "every stream to end")
    except net.DeadlineExceeded:
        pass  # the streams still open are recorded as timeouts: I1 reports them
    goaway_last = c.goaways[-1][0] if c.goaways else None
    for test_id, sid in sent:
        ledger.record(test_id, outcome_of_h2(c.streams.get(sid), goaway_last))
    return {test_id: c.streams[sid] for test_id, sid in sent}


def assert_cut(result: StreamResult, size: int) -> None:
    """The stream was reset, never ended as if complete, and got less than the whole body."""
    assert result.reset_code is not None and not result.ended, \
        f"stream {result.stream_id}: ended={result.ended} reset={error_name(result.reset_code)} " \
        f"after {len(result.data)} of {size} bytes"
    assert len(result.data) < size


def assert_neighbour_ok(ledger: Ledger, test_id: str) -> None:
    got = ledger.final(test_id)
    assert got is not None and got.kind == "ok" and got.status == 200, f"the healthy neighbour: {got}"


def with_protocol(svc: dict, protocol: str) -> dict:
    return {**svc, "protocol": protocol}


def proxy(devmesh: Any, address: str, protocol: str, workers: int = 1, **timeouts: str) -> Any:
    svc = with_protocol(dmconf.service("default", [address]), protocol)
    return devmesh(config=dmconf.render_config([svc], timeouts=timeouts or None, workers=workers))


def warm(dm: Any, n: int = 4) -> resources.Sample:
    """A few healthy streams first (pools, slabs and session buffers exist), then the baseline."""
    c = H2Client(dm.port)
    ledger = Ledger(deadline=5)
    settle(c, ledger, [send(c, ledger, "warm", path=h1_path(NEIGHBOUR_SIZE), size=NEIGHBOUR_SIZE,
                            extra=[("x-size", str(NEIGHBOUR_SIZE))]) for _ in range(n)], 5)
    c.close()
    ledger.check()
    return resources.quiet_baseline(dm)


class StreamLoad:
    """`connections` raw clients, each keeping `depth` streams in flight (a batch is sent, then
    all of it collected) until stopped. Every stream is a ledger entry with a pattern body."""

    def __init__(self, port: int, ledger: Ledger, connections: int, depth: int, size: int, extra=()):
        self.port, self.ledger, self.depth, self.size, self.extra = port, ledger, depth, size, list(extra)
        self.path = h1_path(size)  # the HTTP/1.1 upstream reads the size here, the h2c one from x-size
        self.stop = threading.Event()
        self.batches: list[tuple[float, float, list[str]]] = []  # (sent at, settled at, ids)
        self._lock = threading.Lock()
        self.threads = [threading.Thread(target=self._run, daemon=True) for _ in range(connections)]

    def start(self) -> "StreamLoad":
        for t in self.threads:
            t.start()
        return self

    def finish(self) -> None:
        self.stop.set()
        for t in self.threads:
            t.join(15)

    def _run(self) -> None:
        c = H2Client(self.port)
        try:
            for _ in range(100_000):  # bounded; ends on the event
                if self.stop.is_set():
                    return
                sent_at = time.monotonic()
                sent = [send(c, self.ledger, "load", path=self.path, size=self.size,
                             extra=[("x-size", str(self.size)), *self.extra]) for _ in range(self.depth)]
                settle(c, self.ledger, sent, self.ledger.deadline)
                with self._lock:
                    self.batches.append((sent_at, time.monotonic(), [t for t, _ in sent]))
                if c.io.closed is not None or c.goaways:
                    c.close()
                    c = H2Client(self.port)
        finally:
            c.close()

    def sent_after(self, moment: float) -> int:
        with self._lock:
            return sum(len(ids) for sent_at, _, ids in self.batches if sent_at > moment)

    def settled(self) -> int:
        with self._lock:
            return sum(len(ids) for _, _, ids in self.batches)
