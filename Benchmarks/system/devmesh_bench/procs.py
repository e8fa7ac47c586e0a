"""Starting and stopping the processes of a benchmark run.

Every process the harness starts (backend, proxies, load generators, strace) goes through one
`Supervisor`. Each child gets its own session, hence its own process group, so stopping it also
stops whatever it forked (nginx workers, Envoy's helpers). The process-group ids are written to a
file in the run directory as they are created, so `scripts/bench.sh` can still clean up if this
Python process itself is killed hard.

Every wait here has a deadline: a benchmark that hangs is worse than one that fails.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import time
from dataclasses import dataclass, field
from pathlib import Path


class HarnessError(Exception):
    """A step of the harness failed (a process did not start, a tool misbehaved)."""


class StartError(HarnessError):
    """A target could not be started: the run goes on without it, marked unavailable."""


@dataclass
class Child:
    """A started process: its group is stopped as a whole."""

    name: str
    popen: subprocess.Popen
    log_path: Path
    log_offset: int = 0   # the log is shared by every start of the same name; this start's output begins here

    @property
    def pid(self) -> int:
        return self.popen.pid

    def alive(self) -> bool:
        return self.popen.poll() is None

    def output(self) -> str:
        """What this start of the process has printed so far."""
        try:
            with open(self.log_path, "rb") as f:
                f.seek(self.log_offset)
                return f.read().decode(errors="replace")
        except OSError:
            return ""

    def log_tail(self, limit: int = 2000) -> str:
        return self.output()[-limit:]


@dataclass
class Supervisor:
    """Owns every child process of a run and stops them all, also on interruption."""

    run_dir: Path
    children: list[Child] = field(default_factory=list)

    @property
    def pgid_file(self) -> Path:
        return self.run_dir / "pgids"

    def start(self, name: str, argv: list[str], *, cpus: str | None = None,
              env: dict[str, str] | None = None, cwd: Path | None = None) -> Child:
        """Start `argv` in a new session; `cpus` pins it (and its threads/children) with taskset."""
        if cpus is not None:
            argv = ["taskset", "-c", cpus, *argv]
        log_path = self.run_dir / "logs" / f"{name}.log"
        log_path.parent.mkdir(parents=True, exist_ok=True)
        with open(log_path, "ab") as log:
            offset = log.tell()
            popen = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT,
                                     start_new_session=True, env=env, cwd=cwd)
        child = Child(name, popen, log_path, offset)
        self.children.append(child)
        with open(self.pgid_file, "a") as f:
            f.write(f"{popen.pid}\n")
        return child

    def run(self, name: str, argv: list[str], *, timeout: float, cpus: str | None = None) -> tuple[int, str]:
        """Run a tool to completion (bounded by `timeout`) and return its exit status and output."""
        child = self.start(name, argv, cpus=cpus)
        try:
            rc = child.popen.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            self.stop(child)
            raise HarnessError(f"{name} did not finish within {timeout:.0f}s: {' '.join(argv)}")
        finally:
            if child in self.children and not child.alive():
                self.children.remove(child)
        return rc, child.output()

    def stop(self, child: Child, sig: int = signal.SIGTERM, grace: float = 5.0) -> None:
        """Signal the child's process group, then SIGKILL it if it is still there after `grace` s."""
        if child.alive():
            _signal_group(child.pid, sig)
            try:
                child.popen.wait(timeout=grace)
            except subprocess.TimeoutExpired:
                _signal_group(child.pid, signal.SIGKILL)
                child.popen.wait(timeout=grace)
        # Workers that outlived their master (nginx does this briefly) are in the same group.
        _signal_group(child.pid, signal.SIGKILL)
        if child in self.children:
            self.children.remove(child)

    def stop_all(self) -> None:
        for child in reversed(list(self.children)):
            try:
                self.stop(child)
            except Exception:  # noqa: BLE001 - cleanup must go on for the others
                pass


def _signal_group(pgid: int, sig: int) -> None:
    try:
        os.killpg(pgid, sig)
    except (ProcessLookupError, PermissionError):
        pass


_handed_out: set[int] = set()


def free_port() -> int:
    """A loopback port the kernel considers free right now (bind to port 0, read it, release it).

    Tools that need a number in their config get one this way; a port is never handed out twice
    in one run, so two configs of the same run cannot collide with each other.
    """
    for _ in range(50):
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
            s.bind(("127.0.0.1", 0))
            port = s.getsockname()[1]
        if port not in _handed_out:
            _handed_out.add(port)
            return port
    raise HarnessError("no free loopback port found")


def http_get(port: int, path: str = "/", headers: dict[str, str] | None = None,
             timeout: float = 2.0) -> tuple[int, bytes]:
    """One HTTP/1.1 request on a fresh connection; returns (status, body). For probes only."""
    extra = "".join(f"{k}: {v}\r\n" for k, v in (headers or {}).items())
    request = f"GET {path} HTTP/1.1\r\nHost: bench\r\n{extra}Connection: close\r\n\r\n".encode()
    with socket.create_connection(("127.0.0.1", port), timeout=timeout) as s:
        s.sendall(request)
        chunks = []
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            data = s.recv(65536)
            if not data:
                break
            chunks.append(data)
    raw = b"".join(chunks)
    head, _, body = raw.partition(b"\r\n\r\n")
    try:
        status = int(head.split(b" ", 2)[1])
    except (IndexError, ValueError):
        raise HarnessError(f"malformed response from port {port}: {raw[:80]!r}")
    return status, body


def wait_http_ok(port: int, child: Child | None, timeout: float = 20.0,
                 headers: dict[str, str] | None = None) -> bytes:
    """Poll until `GET /` on `port` answers 200, the child dies, or `timeout` passes."""
    deadline = time.monotonic() + timeout
    last = "no answer"
    while time.monotonic() < deadline:
        if child is not None and not child.alive():
            raise HarnessError(f"{child.name} exited (status {child.popen.returncode}): {child.log_tail(600)}")
        try:
            status, body = http_get(port, headers=headers, timeout=1.0)
            if status == 200:
                return body
            last = f"status {status}"
        except (OSError, HarnessError) as e:
            last = str(e)
        time.sleep(0.05)
    raise HarnessError(f"port {port} not ready after {timeout:.0f}s ({last})")


def wait_log_line(child: Child, prefix: str, timeout: float = 20.0) -> str:
    """Wait for a line starting with `prefix` in the child's output (devmesh announces its ports)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        for line in child.output().splitlines():
            if line.startswith(prefix):
                return line[len(prefix):].strip()
        if not child.alive():
            raise HarnessError(f"{child.name} exited (status {child.popen.returncode}): {child.log_tail(600)}")
        time.sleep(0.05)
    raise HarnessError(f"{child.name} printed no '{prefix}' line within {timeout:.0f}s")


def wait_h2_ok(port: int, child: Child | None, path: str = "/", timeout: float = 20.0) -> None:
    """Poll until one h2c (prior knowledge) GET of `path` answers 2xx, the child dies, or `timeout` passes.

    The HTTP/2 listeners of the peers (HAProxy `proto h2`, nginx `listen … http2`) speak nothing
    else, so readiness is asked with h2load itself: one client, one request.
    """
    from .loadgen import parse_h2load  # noqa: PLC0415 - loadgen is pure; imported here to keep procs small

    deadline = time.monotonic() + timeout
    last = "no answer"
    while time.monotonic() < deadline:
        if child is not None and not child.alive():
            raise HarnessError(f"{child.name} exited (status {child.popen.returncode}): {child.log_tail(600)}")
        try:
            out = subprocess.run(["h2load", "-n1", "-c1", "-m1", f"http://127.0.0.1:{port}{path}"],
                                 capture_output=True, text=True, timeout=5)
            result = parse_h2load(out.stdout)
            if result.succeeded_2xx == 1:
                return
            last = f"h2load: {result.error_detail}"
        except (OSError, subprocess.TimeoutExpired, ValueError) as e:
            last = str(e)
        time.sleep(0.1)
    raise HarnessError(f"port {port} not ready for h2c after {timeout:.0f}s ({last})")


def wait_grpc_ok(check_argv: list[str], env: dict[str, str], child: Child | None, timeout: float = 20.0) -> None:
    """Run a gRPC check tool (grpc_tool check) until it succeeds, the child dies, or `timeout` passes."""
    deadline = time.monotonic() + timeout
    last = "no answer"
    while time.monotonic() < deadline:
        if child is not None and not child.alive():
            raise HarnessError(f"{child.name} exited (status {child.popen.returncode}): {child.log_tail(600)}")
        try:
            out = subprocess.run(check_argv, capture_output=True, text=True, timeout=30, env=env)
            if out.returncode == 0:
                return
            last = (out.stdout.strip().splitlines() or out.stderr.strip().splitlines() or ["no output"])[-1]
        except (OSError, subprocess.TimeoutExpired) as e:
            last = str(e)
        time.sleep(0.1)
    raise HarnessError(f"gRPC check failed after {timeout:.0f}s: {last}")
