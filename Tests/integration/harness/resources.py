"""Invariant I5 of notes/reliability.md §6: after a fault, the proxy's resources come back.

A `Sample` reads the process from outside: descriptors (/proc/PID/fd), the TCP sockets it owns
(/proc/PID/net/tcp, matched by inode) sorted by role from their local port (client connections
on a proxy listener, the admin port, upstream connections), resident memory (VmRSS), and the
admin gauges (`devmesh_downstream_connections`, `devmesh_buffers_in_use`,
`devmesh_requests_in_flight`; published every 100 ms, so they are waited for, never read once).
Pooled upstream connections may legitimately outlive a test's requests, so descriptors are
compared net of open connections: what is left (listeners, epoll, eventfds, log files) is fixed
and must match the baseline exactly.
"""

from __future__ import annotations

import os
import re
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Optional

from . import net

# /proc/net/tcp `st` column (include/net/tcp_states.h).
TCP_STATES = {1: "ESTABLISHED", 2: "SYN_SENT", 3: "SYN_RECV", 4: "FIN_WAIT1", 5: "FIN_WAIT2", 6: "TIME_WAIT",
              7: "CLOSE", 8: "CLOSE_WAIT", 9: "LAST_ACK", 10: "LISTEN", 11: "CLOSING"}
# States a socket the process still owns must not be stuck in once the traffic is over: the peer
# closed and we did not (CLOSE_WAIT), or we shut down and wait for a peer that left (FIN_WAIT).
LEAK_STATES = ("CLOSE_WAIT", "FIN_WAIT1", "FIN_WAIT2", "LAST_ACK", "CLOSING")


@dataclass
class Sample:
    fds: int
    rss_kib: int
    # TCP sockets the process holds, by role: (role, state) -> count. Roles: listen, client (local
    # port is a proxy listener), admin (local port is the admin listener), upstream (the rest).
    sockets: Counter = field(default_factory=Counter)
    downstream_gauge: int = 0
    buffers: int = 0
    in_flight: int = 0  # devmesh_requests_in_flight: admitted, not yet answered

    def count(self, role: str, state: Optional[str] = None) -> int:
        return sum(n for (r, s), n in self.sockets.items() if r == role and (state is None or s == state))

    @property
    def downstream(self) -> int:
        return self.count("client")

    @property
    def upstream(self) -> int:
        return self.count("upstream")

    @property
    def fixed_fds(self) -> int:
        """Descriptors not tied to a connection (listeners, epoll, eventfds, logs): constant
        while the proxy runs."""
        return self.fds - self.downstream - self.upstream - self.count("admin")

    @property
    def leaked_sockets(self) -> int:
        """Client and upstream sockets stuck closing (admin ones are the probe's own)."""
        return sum(n for (r, s), n in self.sockets.items() if r in ("client", "upstream") and s in LEAK_STATES)

    def __repr__(self) -> str:
        states = ", ".join(f"{r}/{s} {n}" for (r, s), n in sorted(self.sockets.items()))
        return (f"Sample(fds={self.fds} (fixed {self.fixed_fds}), rss={self.rss_kib} KiB, "
                f"downstream gauge={self.downstream_gauge}, buffers={self.buffers}, in flight={self.in_flight}, "
                f"sockets: {states})")


def open_fds(pid: int) -> int:
    return len(os.listdir(f"/proc/{pid}/fd"))


def rss_kib(pid: int) -> int:
    m = re.search(r"^VmRSS:\s+(\d+) kB", Path(f"/proc/{pid}/status").read_text(), re.M)
    return int(m.group(1)) if m else 0


def socket_table(pid: int) -> list[tuple[int, str]]:
    """(local port, TCP state) of every TCP socket `pid` holds open (IPv4 and IPv6 tables of its
    network namespace, matched to its descriptors by inode)."""
    inodes = set()
    for fd in os.listdir(f"/proc/{pid}/fd"):
        try:
            target = os.readlink(f"/proc/{pid}/fd/{fd}")
        except OSError:
            continue
        if target.startswith("socket:["):
            inodes.add(target[8:-1])
    found = []
    for table in ("tcp", "tcp6"):
        try:
            lines = Path(f"/proc/{pid}/net/{table}").read_text().splitlines()[1:]
        except OSError:
            continue
        for line in lines:
            cols = line.split()
            if len(cols) > 9 and cols[9] in inodes:
                port = int(cols[1].rsplit(":", 1)[1], 16)
                found.append((port, TCP_STATES.get(int(cols[3], 16), cols[3])))
    return found


def sample(dm: Any) -> Sample:
    """One reading of the proxy `dm` (harness.devmesh.Devmesh with an admin listener)."""
    m = dm.metrics()
    sockets: Counter = Counter()
    for port, state in socket_table(dm.pid):
        role = ("listen" if state == "LISTEN" else "client" if port in dm.ports
                else "admin" if port == dm.admin_port else "upstream")
        sockets[(role, state)] += 1
    return Sample(fds=open_fds(dm.pid), rss_kib=rss_kib(dm.pid), sockets=sockets,
                  downstream_gauge=int(m.value("devmesh_downstream_connections")),
                  buffers=int(m.value("devmesh_buffers_in_use")),
                  in_flight=int(m.value("devmesh_requests_in_flight")))


def quiet_baseline(dm: Any, timeout: float = 5.0) -> Sample:
    """A baseline reading once nothing moves: no client connection, the gauges caught up (they
    are published every 100 ms) and two readings 200 ms apart agree."""
    previous: list[Sample] = []

    def quiet() -> Optional[Sample]:
        s = sample(dm)
        stable = bool(previous) and (s.fixed_fds, s.upstream, s.buffers) == \
            (previous[0].fixed_fds, previous[0].upstream, previous[0].buffers)
        previous[:] = [s]
        quiet = s.downstream == 0 and s.downstream_gauge == 0 and s.in_flight == 0 and s.leaked_sockets == 0
        return s if stable and quiet else None
    try:
        return net.wait_until(quiet, timeout, "a quiet baseline", interval=0.2)
    except net.DeadlineExceeded:
        raise AssertionError(f"no quiet baseline within {timeout}s: last {previous[0] if previous else None}") \
            from None


def wait_back_to_baseline(dm: Any, baseline: Sample, timeout: float = 5.0, rss_slack: float = 0.10,
                          rss_floor_kib: int = 2048, downstream: Optional[int] = None) -> Sample:
    """Waits until the proxy holds no more than it did at `baseline` (I5), and returns that reading.

    - no client connection left open beyond `downstream` (default: the baseline's), and the fixed
      descriptors (net of open connections) exactly as many as before;
    - no I/O buffer lent out beyond the baseline, no request still counted in flight (an
      exchange that never finished), no socket stuck closing;
    - resident memory within `rss_slack` of the baseline (or `rss_floor_kib`, whichever is larger:
      a small heap moves by a few pages on its own). Take the baseline after a warm-up of the
      same shape, since the workers' buffer slabs are kept once carved.
    """
    want_downstream = baseline.downstream if downstream is None else downstream
    last: list[Sample] = []

    def settled() -> bool:
        s = sample(dm)
        last[:] = [s]
        return (s.downstream <= want_downstream and s.downstream_gauge <= want_downstream
                and s.fixed_fds <= baseline.fixed_fds and s.buffers <= baseline.buffers
                and s.in_flight <= baseline.in_flight and s.leaked_sockets == 0)
    try:
        net.wait_until(settled, timeout, "resources back to baseline", interval=0.1)
    except net.DeadlineExceeded:
        raise AssertionError(f"I5: resources not back to baseline after {timeout}s:\n"
                             f"  baseline {baseline}\n  now      {last[0] if last else None}") from None
    now = last[0]
    allowed = max(int(baseline.rss_kib * rss_slack), rss_floor_kib)
    assert now.rss_kib <= baseline.rss_kib + allowed, \
        f"I5: RSS {now.rss_kib} KiB after the fault, baseline {baseline.rss_kib} KiB (+{allowed} allowed)"
    return now
