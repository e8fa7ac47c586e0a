"""Runs the devmesh binary under test and talks to it the way an operator would.

The process is started with `proxy` and the given flags (or a generated YAML config); the
ports are learnt from the contract's stderr lines (`devmesh: listening on ADDR:PORT`,
`devmesh: admin on ADDR:PORT`), never fixed. Stopping checks that the process exited on its
own with status 0 and printed no crash report.
"""

from __future__ import annotations

import os
import re
import signal
import subprocess
import threading
import time
from pathlib import Path
from typing import Any, Optional, Sequence

import yaml

from . import client, net

LISTEN_RE = re.compile(r"devmesh: listening on (\S+):(\d+)\s*$")
ADMIN_RE = re.compile(r"devmesh: admin on (\S+):(\d+)\s*$")
# What the Swift runtime and the kernel print when a process dies badly.
CRASH_MARKERS = ("Fatal error", "Program crashed", "Backtrace", "Segmentation fault", "Illegal instruction",
                 "Assertion failed", "Precondition failed")
START_TIMEOUT = 20.0


class Devmesh:
    def __init__(self, command: Sequence[str], args: Sequence[str], workdir: Path,
                 listeners: int = 1, admin: bool = True, env: Optional[dict[str, str]] = None):
        self.command = [*command, "proxy", *args]
        self.workdir = workdir
        self.expected_listeners = listeners
        self.expect_admin = admin
        self.env = {**os.environ, **(env or {})}
        self.proc: Optional[subprocess.Popen[bytes]] = None
        self.stderr_lines: list[str] = []
        self.stdout_lines: list[str] = []
        self._cv = threading.Condition()
        self.ports: list[int] = []
        self.admin_port: Optional[int] = None
        self.signals_sent: list[int] = []
        self.killed = False
        # Exit statuses accepted at teardown; None accepts any (a test that forces an exit
        # checks what it needs itself). Crash reports on stderr always fail.
        self.accepted_exit: Optional[set[int]] = {0}

    # ---- start ----------------------------------------------------------------------------

    def start(self) -> "Devmesh":
        self.proc = subprocess.Popen(self.command, cwd=self.workdir, env=self.env, stdin=subprocess.DEVNULL,
                                     stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        for stream, sink in ((self.proc.stderr, self.stderr_lines), (self.proc.stdout, self.stdout_lines)):
            threading.Thread(target=self._pump, args=(stream, sink), daemon=True).start()
        deadline = time.monotonic() + START_TIMEOUT
        with self._cv:
            while not self._ready():
                if self.proc.poll() is not None:
                    self._cv.wait(0.2)  # let the pumps catch the last lines
                    raise AssertionError(f"devmesh exited with {self.proc.returncode} before it was ready\n"
                                         f"--- stderr ---\n{self.stderr_text}\n"
                                         f"--- stdout ---\n" + "\n".join(self.stdout_lines))
                left = deadline - time.monotonic()
                if left <= 0:
                    self.kill()
                    raise AssertionError(f"devmesh printed no listening/admin lines within {START_TIMEOUT}s:\n"
                                         f"{self.stderr_text}")
                self._cv.wait(min(left, 0.2))
        return self

    def _ready(self) -> bool:
        self.ports = [int(m.group(2)) for line in self.stderr_lines if (m := LISTEN_RE.search(line))]
        admin = [int(m.group(2)) for line in self.stderr_lines if (m := ADMIN_RE.search(line))]
        self.admin_port = admin[0] if admin else None
        return len(self.ports) >= self.expected_listeners and (self.admin_port is not None or not self.expect_admin)

    def _pump(self, stream: Any, sink: list[str]) -> None:
        for raw in iter(stream.readline, b""):
            with self._cv:
                sink.append(raw.decode("utf-8", "replace").rstrip("\n"))
                self._cv.notify_all()
        stream.close()

    # ---- observe --------------------------------------------------------------------------

    @property
    def port(self) -> int:
        return self.ports[0]

    @property
    def pid(self) -> int:
        assert self.proc is not None
        return self.proc.pid

    @property
    def stderr_text(self) -> str:
        with self._cv:
            return "\n".join(self.stderr_lines)

    def wait_stderr(self, pattern: str, timeout: float = 5.0) -> str:
        rx = re.compile(pattern)

        def found() -> Optional[str]:
            with self._cv:
                return next((line for line in self.stderr_lines if rx.search(line)), None)
        return net.wait_until(found, timeout, f"stderr line matching {pattern!r}")

    def admin(self, path: str) -> client.Response:
        assert self.admin_port is not None, "started without an admin listener"
        return client.get(self.admin_port, path, host="127.0.0.1")

    def metrics(self) -> "Metrics":
        resp = self.admin("/metrics")
        assert resp.status == 200 and resp.complete, resp
        return Metrics.parse(resp.text)

    def peak_rss_kib(self) -> int:
        """VmHWM (peak resident set) of the process, or the largest in its process tree."""
        peak = 0
        for pid in _process_tree(self.pid):
            try:
                status = Path(f"/proc/{pid}/status").read_text()
            except OSError:
                continue
            m = re.search(r"^VmHWM:\s+(\d+) kB", status, re.M)
            if m:
                peak = max(peak, int(m.group(1)))
        return peak

    # ---- stop -----------------------------------------------------------------------------

    def send_signal(self, sig: int) -> None:
        assert self.proc is not None
        self.signals_sent.append(sig)
        self.proc.send_signal(sig)

    def wait_exit(self, timeout: float) -> Optional[int]:
        assert self.proc is not None
        try:
            return self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            return None

    def kill(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.killed = True
            self.proc.kill()
            self.proc.wait(5)

    def stop(self, timeout: float = 10.0) -> int:
        """SIGTERM (drain), then wait; SIGKILL if it outlives the timeout (and that is a failure)."""
        assert self.proc is not None
        if self.proc.poll() is None:
            self.send_signal(signal.SIGTERM)
            if self.wait_exit(timeout) is None:
                self.kill()
        return self.proc.returncode

    def crash_report(self) -> Optional[str]:
        text = self.stderr_text
        hits = [m for m in CRASH_MARKERS if m in text]
        return f"crash markers {hits} on stderr:\n{text}" if hits else None

    def assert_clean_exit(self) -> None:
        assert self.proc is not None
        problems = []
        if self.killed:
            problems.append("did not exit within its deadline and was killed")
        elif self.accepted_exit is not None and self.proc.returncode not in self.accepted_exit:
            problems.append(f"exit status {self.proc.returncode}")
        report = self.crash_report()
        if report:
            problems.append(report)
        assert not problems, "devmesh: " + "; ".join(problems) + f"\n--- stderr ---\n{self.stderr_text}"


def _process_tree(root: int) -> list[int]:
    pids, todo = [], [root]
    while todo and len(pids) < 64:
        pid = todo.pop()
        pids.append(pid)
        for children in Path(f"/proc/{pid}/task").glob("*/children"):
            try:
                todo += [int(c) for c in children.read_text().split()]
            except OSError:
                pass
    return pids


# ---- /metrics ------------------------------------------------------------------------------

_SAMPLE_RE = re.compile(r"^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})?\s+(\S+)")
_LABEL_RE = re.compile(r'([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"')


class Metrics:
    """Samples of a Prometheus text exposition (version 0.0.4)."""

    def __init__(self, samples: list[tuple[str, dict[str, str], float]]):
        self.samples = samples

    @classmethod
    def parse(cls, text: str) -> "Metrics":
        samples = []
        for line in text.splitlines():
            if not line.strip() or line.startswith("#"):
                continue
            m = _SAMPLE_RE.match(line)
            if not m:
                raise AssertionError(f"not a Prometheus sample line: {line!r}")
            labels = dict(_LABEL_RE.findall(m.group(2) or ""))
            samples.append((m.group(1), labels, float(m.group(3))))
        return cls(samples)

    def has(self, name: str) -> bool:
        return any(n == name for n, _, _ in self.samples)

    def value(self, name: str, **labels: str) -> float:
        """Sum of the samples named `name` whose labels include `labels` (0 when none)."""
        return sum(v for n, lab, v in self.samples
                   if n == name and all(lab.get(k) == want for k, want in labels.items()))


# ---- configuration files -------------------------------------------------------------------

def route(key: str, endpoints: Sequence[str], sandbox: Optional[str] = None,
          fallback: Optional[str] = None) -> dict[str, Any]:
    r: dict[str, Any] = {"key": key}
    if sandbox:
        r["sandbox"] = sandbox
    r["endpoints"] = list(endpoints)
    if fallback:
        r["fallback"] = fallback
    return r


def service(name: str, baseline: Sequence[str], routes: Sequence[dict[str, Any]] = (),
            hosts: Optional[Sequence[str]] = None) -> dict[str, Any]:
    s: dict[str, Any] = {"name": name}
    if hosts:
        s["hosts"] = list(hosts)
    s["baseline"] = list(baseline)
    if routes:
        s["routes"] = list(routes)
    return s


def render_config(services: Sequence[dict[str, Any]], *, timeouts: Optional[dict[str, str]] = None,
                  custom_headers: Sequence[str] = (), access_log: Optional[str] = None,
                  drain_timeout: str = "2s", workers: Optional[int] = None,
                  limits: Optional[dict[str, Any]] = None, top: Optional[dict[str, Any]] = None) -> str:
    """A config file in the schema of docs/configuration.md, listening on kernel-chosen ports;
    `top` adds top-level keys."""
    doc: dict[str, Any] = {"listen": [f"{net.LOOPBACK}:0"], "admin": f"{net.LOOPBACK}:0",
                           "drain_timeout": drain_timeout, **(top or {})}
    if workers:
        doc["workers"] = workers
    if access_log:
        doc["access_log"] = access_log
    if limits:
        doc["limits"] = dict(limits)
    if timeouts:
        doc["timeouts"] = dict(timeouts)
    if custom_headers:
        doc["routing"] = {"custom_headers": list(custom_headers)}
    doc["services"] = [dict(s) for s in services]
    return yaml.safe_dump(doc, sort_keys=False)
