"""The "nothing lost" ledger of notes/reliability.md §6, for fault tests that fire many requests.

The client side issues ids (`issue`), one per request, each carrying what a correct answer
looks like (body length and SHA-256) and whether the method is idempotent. Every request then
gets exactly one terminal outcome (`record`), classified from what actually arrived:

  ok          a complete 2xx/3xx response (its body length and hash are kept)
  http_error  a complete response with a 4xx/5xx status (devmesh's own or the upstream's)
  reset       the response was cut: RST_STREAM on HTTP/2 (any code but REFUSED_STREAM), or an
              HTTP/1.1 connection closed or reset before the body was complete
  refused     RST_STREAM(REFUSED_STREAM) or a GOAWAY below the stream id: never processed
  timeout     nothing terminal arrived before the request's deadline

The upstream side is the recording upstreams' own ledgers (harness/upstream.py and
harness/h2upstream.py), read by `arrivals`.

The invariants:
  I1  every issued id has exactly one outcome, and it came within the deadline;
  I2  no `ok` with a wrong length or hash: a cut body is never reported as success;
  I3  no non-idempotent id ran upstream more than once.
"""

from __future__ import annotations

import math
import threading
import time
from collections import Counter
from dataclasses import dataclass
from typing import Any, Iterable, Optional

from . import bodies
from .client import Response
from .h2client import StreamResult
from .h2frames import REFUSED_STREAM, error_name

IDEMPOTENT = {"GET", "HEAD", "PUT", "DELETE", "OPTIONS", "TRACE"}  # RFC 9110 §9.2.2


@dataclass
class Expected:
    """What a correct answer to one request is."""
    test_id: str
    method: str
    body_len: Optional[int]  # None: any length (the body is not a pattern body)
    body_sha256: Optional[str]
    issued_at: float

    @property
    def idempotent(self) -> bool:
        return self.method in IDEMPOTENT


@dataclass
class Outcome:
    kind: str  # ok | http_error | reset | refused | timeout
    status: Optional[int] = None
    code: Optional[int] = None  # RST_STREAM error code (HTTP/2)
    body_len: int = 0
    body_sha256: str = ""
    at: float = 0.0  # seconds after the request was issued
    detail: str = ""

    def __repr__(self) -> str:
        extra = f" code={error_name(self.code)}" if self.code is not None else ""
        return (f"Outcome({self.kind} status={self.status}{extra} len={self.body_len} "
                f"after {self.at:.2f}s{' ' + self.detail if self.detail else ''})")


def pattern_expectation(size: int) -> tuple[int, str]:
    """(length, SHA-256) of the deterministic body of `size` bytes (harness.bodies)."""
    return size, bodies.pattern_sha256(size)


def outcome_of_h1(resp: Response) -> Outcome:
    """Classifies what the raw HTTP/1.1 client read (harness.client.Response)."""
    if resp.outcome == "timeout":
        return Outcome("timeout", resp.status or None, body_len=resp.body_len)
    if not resp.complete:
        return Outcome("reset", resp.status or None, body_len=resp.body_len,
                       detail=f"connection {resp.outcome} ({resp.framing})")
    kind = "ok" if resp.status < 400 else "http_error"
    return Outcome(kind, resp.status, body_len=resp.body_len, body_sha256=resp.body_sha256)


def outcome_of_h2(result: Optional[StreamResult], goaway_last: Optional[int] = None) -> Outcome:
    """Classifies what the raw HTTP/2 client saw on one stream. A stream above the last id of a
    GOAWAY that never got an answer was refused (RFC 9113 §6.8: not processed)."""
    if result is None or not result.done:
        if result is not None and goaway_last is not None and result.stream_id > goaway_last \
                and result.head is None:
            return Outcome("refused", detail="above the GOAWAY's last stream id")
        return Outcome("timeout", result.status if result else None,
                       body_len=len(result.data) if result else 0)
    if result.reset_code is not None:
        kind = "refused" if result.reset_code == REFUSED_STREAM else "reset"
        return Outcome(kind, result.status, code=result.reset_code, body_len=len(result.data))
    status = result.status or 0
    data = bytes(result.data)
    return Outcome("ok" if 0 < status < 400 else "http_error", status, body_len=len(data),
                   body_sha256=bodies.sha256(data))


class Ledger:
    """The client-side ledger of one test. Thread-safe: load threads record concurrently."""

    def __init__(self, deadline: float):
        """`deadline`: seconds each request may take before it counts as hung (I1)."""
        self.deadline = deadline
        self._lock = threading.Lock()
        self.expected: dict[str, Expected] = {}
        self.outcomes: dict[str, list[Outcome]] = {}
        self._seq = 0

    def issue(self, prefix: str, method: str = "GET", size: Optional[int] = None) -> str:
        """A new id for one request; `size` is the pattern body the answer must carry when ok."""
        with self._lock:
            self._seq += 1
            test_id = f"{prefix}-{self._seq}"
            length, digest = pattern_expectation(size) if size is not None else (None, None)
            self.expected[test_id] = Expected(test_id, method, length, digest, time.monotonic())
            self.outcomes[test_id] = []
            return test_id

    def record(self, test_id: str, outcome: Outcome) -> Outcome:
        with self._lock:
            outcome.at = time.monotonic() - self.expected[test_id].issued_at
            self.outcomes[test_id].append(outcome)
        return outcome

    # ---- reading ---------------------------------------------------------------------------

    def final(self, test_id: str) -> Optional[Outcome]:
        with self._lock:
            got = self.outcomes.get(test_id) or []
            return got[-1] if got else None

    def ids(self, kind: Optional[str] = None) -> list[str]:
        with self._lock:
            return [t for t, o in self.outcomes.items() if kind is None or (o and o[-1].kind == kind)]

    def counts(self) -> Counter:
        with self._lock:
            return Counter(o[-1].kind if o else "none" for o in self.outcomes.values())

    def latencies(self, kind: Optional[str] = None) -> list[float]:
        with self._lock:
            return sorted(o[-1].at for o in self.outcomes.values() if o and (kind is None or o[-1].kind == kind))

    def summary(self) -> str:
        return ", ".join(f"{k} {n}" for k, n in sorted(self.counts().items()))

    # ---- invariants ------------------------------------------------------------------------

    def check_i1(self) -> None:
        """Every id has exactly one outcome, none is `timeout`, each within the deadline."""
        problems = []
        with self._lock:
            for test_id, got in self.outcomes.items():
                if len(got) != 1:
                    problems.append(f"{test_id}: {len(got)} outcomes {got}")
                elif got[0].kind == "timeout" or got[0].at > self.deadline:
                    problems.append(f"{test_id}: {got[0]} (deadline {self.deadline}s)")
        assert not problems, f"I1 broken for {len(problems)} of {len(self.outcomes)}: {problems[:5]}"

    def check_i2(self) -> None:
        """No ok with a body other than the one the upstream sent."""
        problems = []
        with self._lock:
            for test_id, got in self.outcomes.items():
                want = self.expected[test_id]
                for o in got:
                    if o.kind != "ok" or want.body_len is None:
                        continue
                    if o.body_len != want.body_len or o.body_sha256 != want.body_sha256:
                        problems.append(f"{test_id}: ok with {o.body_len} bytes, expected {want.body_len}")
        assert not problems, f"I2 broken (silent truncation or corruption): {problems[:5]}"

    def check_i3(self, upstreams: Iterable[Any]) -> None:
        """No non-idempotent request processed upstream more than once (over all upstreams)."""
        seen = Counter()
        for up in upstreams:
            for test_id in arrivals(up):
                seen[test_id] += 1
        problems = [f"{t}: {seen[t]} times" for t, e in self.expected.items()
                    if not e.idempotent and seen[t] > 1]
        assert not problems, f"I3 broken (a non-idempotent request ran twice): {problems[:5]}"

    def check(self, upstreams: Iterable[Any] = ()) -> None:
        self.check_i1()
        self.check_i2()
        self.check_i3(upstreams)


def arrivals(upstream: Any) -> list[str]:
    """The ids of every request an upstream began to process: for the HTTP/1.1 recording
    upstream, every head that arrived (body complete or not); for the h2c upstream, every stream
    except those it refused or ignored above its GOAWAY (never processed, so safe to retry)."""
    if hasattr(upstream, "aborted"):  # RecordingUpstream
        with upstream._cv:
            recs = list(upstream.requests) + list(upstream.aborted)
        return [r.test_id for r in recs if r.test_id is not None]
    return [r.test_id for r in upstream.snapshot()
            if r.test_id is not None and r.outcome not in ("refused", "over_goaway")]


def percentile(values: list[float], p: float) -> float:
    """The p-th percentile (0-100) by nearest rank; 0 for no values."""
    if not values:
        return 0.0
    ordered = sorted(values)
    rank = max(1, min(len(ordered), math.ceil(p / 100.0 * len(ordered))))
    return ordered[rank - 1]
