"""A CPU budget for one proxy: a cgroup with a CFS bandwidth quota, which is how Kubernetes
enforces a container's CPU limit (250m = 25 ms of CPU time per 100 ms period, shared by all of
the process's threads).

Under such a limit the proxy, not the load generator, is the bottleneck, so a closed loop
measures requests per second per CPU budget: what a sidecar with a fixed limit can carry. On a
2-core box where the generator and the backend share one core, that is the only way to compare
proxies' throughput without the generator's ceiling hiding the difference.

Both hierarchies are handled: cgroup v1's `cpu` controller (`cpu.cfs_quota_us`,
`cpu.cfs_period_us`) and cgroup v2 (`cpu.max`), whichever has the controller mounted and
writable. A process joins the group by writing its own PID to `cgroup.procs` before it execs
the proxy (`wrap_argv`), so every thread the proxy creates is born inside the limit.
"""

from __future__ import annotations

import itertools
import os
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

#: Kubernetes' CFS period (the kubelet's default `cpuCFSQuotaPeriod`).
KUBERNETES_PERIOD_US = 100_000

_names = itertools.count(1)


@dataclass(frozen=True)
class CpuController:
    root: Path
    version: int          # 1 or 2


@dataclass(frozen=True)
class Throttling:
    """cpu.stat counters: periods in which the group ran, and in which it hit its quota."""

    periods: int
    throttled: int
    throttled_ms: float

    def since(self, earlier: "Throttling") -> "Throttling":
        return Throttling(self.periods - earlier.periods, self.throttled - earlier.throttled,
                          self.throttled_ms - earlier.throttled_ms)

    @property
    def share(self) -> float | None:
        """Of the periods in which the group ran, the share that ended throttled: near 1 when
        the limit binds, that is when the proxy had more work than its budget."""
        return self.throttled / self.periods if self.periods else None


@dataclass(frozen=True)
class CpuLimit:
    path: Path
    millicores: int
    period_us: int
    version: int

    def throttling(self) -> Throttling:
        return parse_cpu_stat((self.path / "cpu.stat").read_text(), self.version)

    def wrap_argv(self, argv: list[str]) -> list[str]:
        """`argv` run from a shell that first moves itself into this group, then execs."""
        return ["sh", "-c", 'echo $$ > "$1/cgroup.procs" && shift && exec "$@"', "sh", str(self.path), *argv]


def parse_cpu_stat(text: str, version: int) -> Throttling:
    fields = dict(line.split() for line in text.splitlines() if line.strip())
    if version == 1:
        throttled_ms = int(fields["throttled_time"]) / 1e6          # nanoseconds
    else:
        throttled_ms = int(fields["throttled_usec"]) / 1e3
    return Throttling(int(fields["nr_periods"]), int(fields["nr_throttled"]), throttled_ms)


def find_cpu_controller(mounts: str | None = None) -> CpuController | None:
    """The writable cgroup hierarchy that has the `cpu` controller, or None.

    v1 first: on a hybrid host the unified (v2) tree usually has no controllers delegated."""
    if mounts is None:
        mounts = Path("/proc/mounts").read_text()
    v2_root = None
    for line in mounts.splitlines():
        parts = line.split()
        if len(parts) < 4:
            continue
        mount_point, fs_type, options = parts[1], parts[2], parts[3].split(",")
        if fs_type == "cgroup" and "cpu" in options:
            root = Path(mount_point)
            if os.access(root, os.W_OK):
                return CpuController(root, 1)
        elif fs_type == "cgroup2":
            v2_root = Path(mount_point)
    if v2_root is not None and os.access(v2_root, os.W_OK):
        controllers = (v2_root / "cgroup.controllers")
        if controllers.exists() and "cpu" in controllers.read_text().split():
            return CpuController(v2_root, 2)
    return None


def unavailable_reason() -> str | None:
    if find_cpu_controller() is None:
        return "no writable cgroup hierarchy with the cpu controller (needs root, or a delegated cgroup v2 subtree)"
    return None


@contextmanager
def cpu_limited(millicores: int, period_us: int = KUBERNETES_PERIOD_US) -> Iterator[CpuLimit]:
    """A fresh cgroup with a quota of `millicores` thousandths of one CPU, removed afterwards.

    Processes still in it at the end (a proxy that outlived its stop) are moved back to the
    root first, since a cgroup with members cannot be removed."""
    if not 1 <= millicores <= 64_000:
        raise ValueError(f"CPU limit {millicores}m is out of range (1–64000)")
    controller = find_cpu_controller()
    if controller is None:
        raise OSError(unavailable_reason())
    quota_us = max(1000, millicores * period_us // 1000)    # the kernel's minimum quota is 1 ms
    path = controller.root / f"devmesh-bench-{os.getpid()}-{next(_names)}"
    if controller.version == 2:
        subtree = controller.root / "cgroup.subtree_control"
        if "cpu" not in subtree.read_text().split():
            subtree.write_text("+cpu")
    path.mkdir()
    try:
        if controller.version == 1:
            (path / "cpu.cfs_period_us").write_text(str(period_us))
            (path / "cpu.cfs_quota_us").write_text(str(quota_us))
        else:
            (path / "cpu.max").write_text(f"{quota_us} {period_us}")
        yield CpuLimit(path, millicores, period_us, controller.version)
    finally:
        for pid in (path / "cgroup.procs").read_text().split():
            try:
                (controller.root / "cgroup.procs").write_text(pid)
            except OSError:
                pass                                           # it exited meanwhile
        path.rmdir()
