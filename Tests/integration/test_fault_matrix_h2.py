"""The fault matrix of notes/reliability.md §5 over HTTP/2: the upstream faults F3-F7 for an h2c
client in front of HTTP/1.1 and h2c upstreams (and an HTTP/1.1 client in front of an h2c one),
F9 under HTTP/2 load, F14 (SIGTERM with streams mid-flight) and F18 (overload) for streams.

Every request carries an x-test-id and ends in the ledger (harness/ledger.py) with one outcome;
the invariants are checked there: one outcome each within the deadline (I1), no cut or corrupted
body reported as success (I2: bodies are pattern bodies with a known hash), no POST processed
twice (I3), and the proxy's descriptors, connections, buffers and memory back to baseline (I5,
harness/resources.py). A fault on one stream must not touch the others on the same connection:
most tests keep a healthy neighbour stream in flight next to the broken one.
"""

from __future__ import annotations

import signal
import threading
import time
from typing import Any, Optional

import pytest

from conftest import KEY
from grpc_support.fixtures import h2_upstreams  # noqa: F401
from harness import bodies, net, resources
from harness import devmesh as dmconf
from harness.client import Client
from harness.h2client import H2Client, StreamResult, request_headers
from harness.h2frames import NO_ERROR, REFUSED_STREAM, SettingsFrame, error_name
from harness.ledger import Ledger, outcome_of_h1, outcome_of_h2, percentile

BAGGAGE = ("baggage", f"sd-routing-key={KEY}")
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


# ---- I5: what a client closes, devmesh closes -------------------------------------------------------

def test_i5_h2_connections_the_client_closes_are_released_at_once(upstream: Any, devmesh: Any) -> None:
    """I5 (h2): thirty clients each run two streams and close right after the last response
    (their FIN lands in the same read as their last frames). devmesh closes every one of them
    at once: no socket left in CLOSE_WAIT until the 60 s idle timeout, the gauge back to 0."""
    baseline = upstream("baseline")
    dm = proxy(devmesh, baseline.address, "http1")
    base = warm(dm)
    ledger = Ledger(deadline=5)
    for _ in range(30):
        c = H2Client(dm.port)
        settle(c, ledger, [send(c, ledger, "close", path=h1_path(100), size=100) for _ in range(2)], 5)
        c.close()
    ledger.check([baseline])
    resources.wait_back_to_baseline(dm, base, timeout=3)
