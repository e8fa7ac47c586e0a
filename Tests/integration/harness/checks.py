"""Assertions shared by the proxy tests: where a request landed and what the client got."""

from __future__ import annotations

import itertools
from typing import Optional, Sequence

from .client import Response
from .upstream import RecordedRequest, RecordingUpstream

_ids = itertools.count(1)


def new_id(prefix: str = "t") -> str:
    """A unique x-test-id: it ties a response to exactly one entry in an upstream ledger."""
    return f"{prefix}-{next(_ids)}"


def assert_routed(resp: Response, test_id: str, to: RecordingUpstream,
                  others: Sequence[RecordingUpstream] = ()) -> RecordedRequest:
    """The response is the complete answer of `to` for this request, `to` received the request
    exactly once, and no other upstream received it at all."""
    assert resp.complete and resp.status == 200, resp
    assert resp.upstream == to.name, f"expected {to.name} to answer, got {resp!r}"
    assert resp.text == f"{to.name}\n", resp
    assert resp.header("x-test-id") == test_id, resp
    hits = to.by_test_id(test_id)
    assert len(hits) == 1, f"{to.name} received {test_id} {len(hits)} times"
    for other in others:
        assert not other.by_test_id(test_id), f"{test_id} also reached {other.name}"
    return hits[0]


def assert_proxy_error(resp: Response, statuses: set[int], mentions: Optional[str] = None) -> None:
    """A response devmesh generated itself: one of `statuses`, plain text starting `devmesh:`."""
    assert resp.status in statuses, f"expected one of {sorted(statuses)}, got {resp!r}"
    assert resp.upstream is None, f"an upstream answered: {resp!r}"
    assert resp.text.startswith("devmesh:"), f"error body does not start with 'devmesh:': {resp!r}"
    if mentions is not None:
        assert mentions in resp.text, f"error body does not name {mentions!r}: {resp!r}"
