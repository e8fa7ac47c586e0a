"""pytest fixtures of the HTTP/2 and gRPC tests (imported by test_http2*.py and test_grpc*.py).

Teardown order matters: servers are set up before devmesh and channels after it, so a test ends
by closing its channels, then draining devmesh (which must exit 0), then stopping the servers.
Every fixture that starts something requests the server factories first for that reason.
"""

from __future__ import annotations

from types import SimpleNamespace
from typing import Any, Callable, Optional

import grpc
import pytest

from harness import net
from harness.h2upstream import H2Upstream
from harness.nginx_h2 import NginxH2Upstream

from . import stubs
from .server import CHANNEL_OPTIONS, EchoServer

KEY = "4835rlwxwbwyl"  # the routing key of the whole suite (conftest.KEY)


def baggage(key: str = KEY) -> tuple[str, str]:
    return ("baggage", f"sd-routing-key={key}")


@pytest.fixture
def grpc_servers() -> Any:
    """Factory: grpc_servers("name") starts an EchoServer; all stop after the test."""
    started: list[EchoServer] = []

    def make(name: str) -> EchoServer:
        server = EchoServer(name)
        started.append(server)
        return server
    yield make
    for server in started:
        server.stop()


@pytest.fixture
def h2_upstreams() -> Any:
    """Factory: h2_upstreams("name", **policies) starts an H2Upstream; all stop after the test."""
    started: list[H2Upstream] = []

    def make(name: str, **policies: Any) -> H2Upstream:
        upstream = H2Upstream(name, **policies)
        started.append(upstream)
        return upstream
    yield make
    for upstream in started:
        upstream.stop()


@pytest.fixture
def nginx_h2(tmp_path: Any) -> Any:
    """Factory: nginx_h2("name", big_size=N) starts nginx serving h2c (prior knowledge)."""
    started: list[NginxH2Upstream] = []

    def make(name: str, big_size: int = 0) -> NginxH2Upstream:
        upstream = NginxH2Upstream(tmp_path / f"nginx-h2-{name}", name, big_size).start()
        started.append(upstream)
        return upstream
    yield make
    for upstream in started:
        upstream.stop()


@pytest.fixture
def pb2() -> Any:
    return stubs.load()[0]


class Channels:
    """Opens channels to devmesh and closes them all at teardown."""

    def __init__(self) -> None:
        self.opened: list[grpc.Channel] = []

    def open(self, port: int) -> grpc.Channel:
        channel = grpc.insecure_channel(f"{net.LOOPBACK}:{port}", options=CHANNEL_OPTIONS)
        self.opened.append(channel)
        return channel

    def stub(self, port: int) -> Any:
        return stubs.load()[1].EchoStub(self.open(port))

    def close_all(self) -> None:
        for channel in self.opened:
            channel.close()


@pytest.fixture
def grpc_mesh(grpc_servers: Any, h2_upstreams: Any, devmesh: Any) -> Any:
    """Factory for the common shape: baseline and sandbox Echo servers, devmesh routing KEY to the
    sandbox (quick-start flags, `--upstream-protocol auto` unless overridden), and a channel.
    Returns (baseline, sandbox, dm, port, channel, stub, pb2, channels)."""
    channels = Channels()

    def make(*extra: str, sandbox_address: Optional[str] = None) -> SimpleNamespace:
        baseline, sandbox = grpc_servers("baseline"), grpc_servers("sandbox")
        dm = devmesh("--baseline", baseline.address, "--route", f"{KEY}={sandbox_address or sandbox.address}",
                     *(extra or ("--upstream-protocol", "auto")))
        channel = channels.open(dm.port)
        pb2, pb2_grpc = stubs.load()
        return SimpleNamespace(baseline=baseline, sandbox=sandbox, dm=dm, port=dm.port, channel=channel,
                               stub=pb2_grpc.EchoStub(channel), pb2=pb2, channels=channels)
    yield make
    channels.close_all()


@pytest.fixture
def grpc_channels(devmesh: Any) -> Any:
    """Channels opened by a test that built its own devmesh; closed before devmesh stops."""
    channels = Channels()
    yield channels
    channels.close_all()


def metadata(*pairs: tuple[str, str], test_id: Optional[str] = None) -> tuple[tuple[str, str], ...]:
    return tuple(pairs) + ((("x-test-id", test_id),) if test_id else ())


StubCall = Callable[..., Any]
