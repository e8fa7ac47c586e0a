"""What the kernel says about a process tree: CPU time and memory, read from /proc.

A proxy may be several processes (nginx: master and worker) and several threads (Envoy), so every
figure is summed over the process and all its descendants. The per-process counters in
/proc/PID/stat already include every thread of that process, also threads that have exited.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

CLOCK_TICKS_PER_SECOND = os.sysconf("SC_CLK_TCK")


def parse_stat_times(stat_line: str) -> tuple[int, int, int]:
    """(ppid, utime, stime) from one /proc/PID/stat line, in clock ticks.

    The command name (field 2) is in parentheses and may itself contain spaces or ')', so fields
    are counted from the last ')'. proc(5): field 4 is ppid, 14 is utime, 15 is stime.
    """
    rest = stat_line[stat_line.rindex(")") + 2:].split()
    # rest[0] is field 3 (state), so field N is rest[N - 3].
    return int(rest[4 - 3]), int(rest[14 - 3]), int(rest[15 - 3])


def parse_status_kb(status_text: str, key: str) -> int | None:
    """The value of a `Key:   1234 kB` line of /proc/PID/status, in KiB."""
    for line in status_text.splitlines():
        if line.startswith(key + ":"):
            return int(line.split()[1])
    return None


def process_tree(root: int) -> list[int]:
    """`root` and all its live descendants (scanning /proc once for parent links)."""
    parents: dict[int, list[int]] = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            ppid, _, _ = parse_stat_times(Path(f"/proc/{entry}/stat").read_text())
        except (OSError, ValueError, IndexError):
            continue
        parents.setdefault(ppid, []).append(int(entry))
    tree, todo = [], [root]
    while todo:
        pid = todo.pop()
        if Path(f"/proc/{pid}").exists():
            tree.append(pid)
        todo.extend(parents.get(pid, []))
    return sorted(tree)


@dataclass(frozen=True)
class CpuSample:
    """CPU time of a process tree at one instant, and which processes it covered.

    `ticks` is user + system time; `system_ticks` the system part of it, kept apart because on
    loopback the kernel's share of a proxy's cost (TCP both ways, wake-ups) is often the larger one.
    """

    ticks: int
    pids: tuple[int, ...]
    system_ticks: int = 0


def cpu_sample(root: int) -> CpuSample:
    total, system, pids = 0, 0, []
    for pid in process_tree(root):
        try:
            _, utime, stime = parse_stat_times(Path(f"/proc/{pid}/stat").read_text())
        except (OSError, ValueError, IndexError):
            continue
        total += utime + stime
        system += stime
        pids.append(pid)
    return CpuSample(total, tuple(pids), system)


def cpu_us_per_request(before: CpuSample, after: CpuSample, requests: int) -> float | None:
    """Microseconds of CPU (user + system, all threads) per request between two samples.

    None when it cannot be trusted: no requests, or the set of processes changed in between
    (an nginx reload replaces its worker, and the old worker's time leaves the tree with it).
    """
    if requests <= 0 or before.pids != after.pids:
        return None
    return (after.ticks - before.ticks) / CLOCK_TICKS_PER_SECOND * 1e6 / requests


def system_us_per_request(before: CpuSample, after: CpuSample, requests: int) -> float | None:
    """The system-time part of `cpu_us_per_request` (same conditions for None)."""
    if requests <= 0 or before.pids != after.pids:
        return None
    return (after.system_ticks - before.system_ticks) / CLOCK_TICKS_PER_SECOND * 1e6 / requests


def memory_kb(root: int) -> dict[str, int]:
    """VmRSS and VmHWM summed over the tree (KiB)."""
    rss = hwm = 0
    for pid in process_tree(root):
        try:
            text = Path(f"/proc/{pid}/status").read_text()
        except OSError:
            continue
        rss += parse_status_kb(text, "VmRSS") or 0
        hwm += parse_status_kb(text, "VmHWM") or 0
    return {"rss_kb": rss, "hwm_kb": hwm}


def tracer_pid(pid: int) -> int:
    """The TracerPid of /proc/PID/status (0 when nobody traces it)."""
    try:
        text = Path(f"/proc/{pid}/status").read_text()
    except OSError:
        return 0
    for line in text.splitlines():
        if line.startswith("TracerPid:"):
            return int(line.split()[1])
    return 0


def thread_ids(pid: int) -> list[int]:
    try:
        return sorted(int(t) for t in os.listdir(f"/proc/{pid}/task"))
    except OSError:
        return []
