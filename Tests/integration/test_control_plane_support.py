"""Shared fixtures of the control-plane tests (test_control_plane*.py). No tests here.

`mesh()` starts the usual shape: an agent on a fresh data directory, a baseline upstream, N
sandbox upstreams, and a proxy (quick-start flags) following the agent's rules for
harness.controlplane.WORKLOAD, with a keyed `Probe` on the proxy's port. Helpers for the other
shapes (config files, a fake Routes server) live in harness/controlplane.py.
"""

from __future__ import annotations

from types import SimpleNamespace
from typing import Any

import pytest

from harness import controlplane as cp
from test_agent_support import agent, routes_pb2  # noqa: F401  (fixtures re-exported)


@pytest.fixture
def mesh(agent, upstream, devmesh):  # noqa: F811
    """Factory: mesh(sandboxes=1, *proxy_flags) -> agent, baseline, sandboxes[], dm, probe.
    The proxy is ready (synced) when it returns."""
    probes: list[cp.Probe] = []

    def make(sandboxes: int = 1, *extra: str, agent_args: tuple[str, ...] = ()) -> SimpleNamespace:
        a = agent(None, *agent_args)
        baseline = upstream("baseline")
        boxes = [upstream(f"sandbox-{i}") for i in range(sandboxes)]
        dm = devmesh(*cp.proxy_flags(a.grpc_port, baseline.address, *extra))
        cp.wait_watch_state(dm, "synced", 10)
        probe = cp.Probe(dm.port)
        probes.append(probe)
        return SimpleNamespace(agent=a, baseline=baseline, sandboxes=boxes, dm=dm, probe=probe)
    yield make
    for p in probes:
        p.close()


@pytest.fixture
def fake_routes(routes_pb2):  # noqa: F811
    """Factory: fake_routes(on_watch=None) starts a scripted Routes API server (grpcio)."""
    servers: list[cp.FakeRoutesServer] = []

    def make(on_watch: Any = None, port: int = 0) -> cp.FakeRoutesServer:
        s = cp.FakeRoutesServer(routes_pb2, on_watch, port)
        servers.append(s)
        return s
    yield make
    for s in servers:
        s.stop()
