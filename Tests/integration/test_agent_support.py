"""Shared pieces of the agent tests (test_agent_*.py): the agent process, an HTTP helper, the
CLI runner and Python protobuf classes generated from proto/routes.proto. No tests here.

The agent is started the way an operator would: `devmesh agent --data DIR --http 127.0.0.1:0
--grpc 127.0.0.1:0`; its ports are read from the `devmesh: agent http on ADDR:PORT` and
`devmesh: agent grpc on ADDR:PORT` lines on stderr, never fixed.
"""

from __future__ import annotations

import http.client
import importlib
import json
import os
import re
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any, Optional

import pytest

from conftest import REPO, devmesh_command
from harness import devmesh as dmconf
from harness import net

HTTP_RE = re.compile(r"devmesh: agent http on (\S+):(\d+)\s*$")
GRPC_RE = re.compile(r"devmesh: agent grpc on (\S+):(\d+)\s*$")
START_TIMEOUT = 20.0

if os.environ.get("DEVMESH_STANDIN"):
    pytest.skip("the nginx stand-in has no agent", allow_module_level=True)


class Agent:
    """One `devmesh agent` process on a data directory (restartable on the same directory)."""

    def __init__(self, data: Path, *extra: str):
        self.data = data
        self.extra = list(extra)
        self.proc: Optional[subprocess.Popen[bytes]] = None
        self.stderr_lines: list[str] = []
        self._cv = threading.Condition()
        self.http_port = 0
        self.grpc_port = 0

    def start(self, http_port: int = 0, grpc_port: int = 0) -> "Agent":
        """Starts the agent on kernel-chosen ports, or on the ones given (a restart that a proxy
        configured with the old gRPC port must find again)."""
        self.stderr_lines = []
        cmd = [*devmesh_command(), "agent", "--data", str(self.data), "--http", f"127.0.0.1:{http_port}",
               "--grpc", f"127.0.0.1:{grpc_port}", *self.extra]
        self.proc = subprocess.Popen(cmd, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        threading.Thread(target=self._pump, args=(self.proc,), daemon=True).start()
        deadline = time.monotonic() + START_TIMEOUT
        with self._cv:
            while not self._ready():
                if self.proc.poll() is not None:
                    self._cv.wait(0.2)
                    raise AssertionError(f"agent exited with {self.proc.returncode}:\n{self.stderr_text}")
                left = deadline - time.monotonic()
                if left <= 0:
                    self.kill()
                    raise AssertionError(f"agent printed no port lines within {START_TIMEOUT}s:\n{self.stderr_text}")
                self._cv.wait(min(left, 0.2))
        return self

    def restart(self) -> "Agent":
        """Starts again on the same data directory and the same ports (after stop or kill)."""
        assert self.proc is not None and self.proc.poll() is not None, "the agent is still running"
        return self.start(self.http_port, self.grpc_port)

    def _ready(self) -> bool:
        http = [int(m.group(2)) for line in self.stderr_lines if (m := HTTP_RE.search(line))]
        grpc = [int(m.group(2)) for line in self.stderr_lines if (m := GRPC_RE.search(line))]
        if http and grpc:
            self.http_port, self.grpc_port = http[0], grpc[0]
            return True
        return False

    def _pump(self, proc: subprocess.Popen[bytes]) -> None:
        assert proc.stderr is not None
        for raw in iter(proc.stderr.readline, b""):
            with self._cv:
                self.stderr_lines.append(raw.decode("utf-8", "replace").rstrip("\n"))
                self._cv.notify_all()
        proc.stderr.close()

    def wait_stderr(self, text: str, timeout: float = 5.0) -> None:
        net.wait_until(lambda: text in self.stderr_text, timeout, f"agent stderr containing {text!r}")

    @property
    def stderr_text(self) -> str:
        with self._cv:
            return "\n".join(self.stderr_lines)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.http_port}"

    def request(self, method: str, path: str, body: Any = None, raw: Optional[bytes] = None,
                headers: Optional[dict[str, str]] = None, timeout: float = 10.0) -> tuple[int, dict[str, str], Any]:
        """One request on a fresh connection: (status, lower-cased headers, parsed JSON or None)."""
        conn = http.client.HTTPConnection("127.0.0.1", self.http_port, timeout=timeout)
        try:
            hdrs = dict(headers or {})
            payload = raw
            if body is not None:
                payload = json.dumps(body).encode()
                hdrs.setdefault("Content-Type", "application/json")
            conn.request(method, path, body=payload, headers=hdrs)
            resp = conn.getresponse()
            data = resp.read()
            parsed = json.loads(data) if data.strip() else None
            return resp.status, {k.lower(): v for k, v in resp.getheaders()}, parsed
        finally:
            conn.close()

    def cli(self, *args: str, env: Optional[dict[str, str]] = None, agent_flag: bool = True,
            timeout: float = 20) -> subprocess.CompletedProcess[str]:
        argv = [*devmesh_command(), *args]
        if agent_flag:
            argv += ["--agent", self.url]
        return subprocess.run(argv, capture_output=True, text=True, timeout=timeout, stdin=subprocess.DEVNULL,
                              env={**os.environ, **(env or {})})

    def stop(self, timeout: float = 10.0) -> None:
        """SIGTERM; the agent must exit 0 on its own with no crash report."""
        assert self.proc is not None
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout)
            except subprocess.TimeoutExpired:
                self.kill()
                raise AssertionError(f"agent ignored SIGTERM for {timeout}s:\n{self.stderr_text}")
        assert self.proc.returncode == 0, f"agent exited {self.proc.returncode}:\n{self.stderr_text}"
        self.assert_no_crash()

    def kill(self) -> None:
        """SIGKILL: the crash the durability tests simulate."""
        if self.proc is not None and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(5)

    def assert_no_crash(self) -> None:
        hits = [m for m in dmconf.CRASH_MARKERS if m in self.stderr_text]
        assert not hits, f"crash markers {hits}:\n{self.stderr_text}"


@pytest.fixture
def agent(tmp_path: Path):
    """Factory: agent() starts an agent on a fresh data directory (or the one given); every agent
    still running at the end is stopped with SIGTERM and must exit 0."""
    started: list[Agent] = []

    def make(data: Optional[Path] = None, *extra: str) -> Agent:
        a = Agent(data or tmp_path / f"agent-data-{len(started)}", *extra).start()
        started.append(a)
        return a
    yield make
    failures = []
    for a in started:
        if a.proc is not None and a.proc.poll() is None:
            try:
                a.stop()
            except AssertionError as e:
                failures.append(str(e))
    if failures:
        pytest.fail("\n".join(failures), pytrace=False)


@pytest.fixture(scope="session")
def routes_pb2(tmp_path_factory: pytest.TempPathFactory):
    """Python classes generated from proto/routes.proto with grpcio-tools (the same tool a Python
    client of our API would use)."""
    from grpc_tools import protoc
    out = tmp_path_factory.mktemp("routes-pb2")
    status = protoc.main(["protoc", f"-I{REPO / 'proto'}", f"--python_out={out}", f"--grpc_python_out={out}",
                          str(REPO / "proto" / "routes.proto")])
    assert status == 0, f"protoc failed ({status})"
    sys.path.insert(0, str(out))
    try:
        module = importlib.import_module("routes_pb2")
        module.grpc_stubs = importlib.import_module("routes_pb2_grpc")  # the generated RoutesStub
        return module
    finally:
        sys.path.remove(str(out))


def sandbox_body(name: str, workload: str = "route", port: int = 8083, host: Optional[str] = None,
                 key: Optional[str] = None, labels: Optional[dict[str, str]] = None,
                 namespace: str = "hotrod") -> dict[str, Any]:
    body: dict[str, Any] = {"name": name}
    if key:
        body["routingKey"] = key
    if labels:
        body["labels"] = labels
    body["forks"] = [{"forkOf": {"kind": "Deployment", "namespace": namespace, "name": workload},
                      "ports": [{"workloadPort": port,
                                 "destinations": [{"host": host or f"{workload}-{name}.{namespace}.svc", "port": port}]}]}]
    return body
