"""Fixtures of the devmesh integration suite: recording upstreams, nginx upstreams and the
devmesh process itself, each started per test on kernel-chosen loopback ports and stopped
(with checks) when the test ends."""

from __future__ import annotations

import os
import sys
from pathlib import Path
from types import SimpleNamespace
from typing import Any, Callable, Optional

import pytest

from harness.devmesh import Devmesh
from harness.nginx import NginxUpstream
from harness.upstream import RecordingUpstream

HERE = Path(__file__).resolve().parent
REPO = HERE.parents[1]

# The routing key used throughout: the shape Signadot generates (13 lower-case base-36 chars).
KEY = "4835rlwxwbwyl"


def devmesh_command() -> list[str]:
    """The command that runs devmesh: DEVMESH_BIN, or the nginx stand-in used to validate the
    harness itself (DEVMESH_STANDIN=nginx; never the default)."""
    if os.environ.get("DEVMESH_STANDIN") == "nginx":
        return [sys.executable, str(HERE / "standin" / "nginx_devmesh.py")]
    binary = Path(os.environ.get("DEVMESH_BIN") or REPO / ".build" / "release" / "devmesh")
    if not binary.is_file():
        pytest.fail(f"devmesh binary not found at {binary}: run `swift build -c release` or set DEVMESH_BIN",
                    pytrace=False)
    return [str(binary)]


@pytest.fixture
def upstream() -> Any:
    """Factory: upstream("name") starts a RecordingUpstream; all are stopped after the test."""
    started: list[RecordingUpstream] = []

    def make(name: str, idle_timeout: Optional[float] = None) -> RecordingUpstream:
        u = RecordingUpstream(name, idle_timeout=idle_timeout)
        started.append(u)
        return u
    yield make
    for u in started:
        u.stop()


@pytest.fixture
def nginx_upstream(tmp_path: Path) -> Any:
    """Factory: nginx_upstream("name", big_size=N) starts nginx serving /name, /small.txt, /big.bin."""
    started: list[NginxUpstream] = []

    def make(name: str, big_size: int = 0) -> NginxUpstream:
        n = NginxUpstream(tmp_path / f"nginx-{name}", name, big_size).start()
        started.append(n)
        return n
    yield make
    for n in started:
        n.stop()


@pytest.fixture
def devmesh(tmp_path: Path, upstream: Any, nginx_upstream: Any) -> Any:
    """Factory: devmesh("--baseline", addr, ...) or devmesh(config=yaml_text) starts the proxy.

    Flags mode adds `--listen 127.0.0.1:0 --admin 127.0.0.1:0 --drain-timeout 2` unless the
    test passes its own. After the test the proxy is sent SIGTERM (unless it already exited) and
    must exit 0 within its drain deadline with no crash report on stderr. Depends on the
    upstream fixtures so that it is torn down before them.
    """
    started: list[Devmesh] = []

    def make(*args: str, config: Optional[str] = None, listeners: int = 1, admin: bool = True,
             env: Optional[dict[str, str]] = None) -> Devmesh:
        argv = list(args)
        if config is not None:
            path = tmp_path / "devmesh.yaml"
            path.write_text(config)
            argv = ["--config", str(path), *argv]
        else:
            if "--listen" not in argv:
                argv = ["--listen", "127.0.0.1:0", *argv]
            if admin and "--admin" not in argv:
                argv += ["--admin", "127.0.0.1:0"]
            if "--drain-timeout" not in argv:
                argv += ["--drain-timeout", "2"]
        dm = Devmesh(devmesh_command(), argv, tmp_path, listeners=listeners, admin=admin, env=env)
        dm.start()  # a failed start is reported here, not again at teardown
        started.append(dm)
        return dm
    yield make
    failures = []
    for dm in started:
        if dm.proc is None:
            continue
        dm.stop(timeout=10)
        try:
            dm.assert_clean_exit()
        except AssertionError as e:
            failures.append(str(e))
    if failures:
        pytest.fail("\n".join(failures), pytrace=False)


@pytest.fixture
def sandbox_proxy(upstream: Any, devmesh: Any) -> Callable[..., SimpleNamespace]:
    """Factory for the common shape: a baseline and a sandbox upstream, devmesh routing KEY to
    the sandbox. Extra flags are passed on. Returns (baseline, sandbox, dm, port, key)."""
    def make(*extra: str) -> SimpleNamespace:
        baseline, sandbox = upstream("baseline"), upstream("sandbox")
        dm = devmesh("--baseline", baseline.address, "--route", f"{KEY}={sandbox.address}", *extra)
        return SimpleNamespace(baseline=baseline, sandbox=sandbox, dm=dm, port=dm.port, key=KEY)
    return make
