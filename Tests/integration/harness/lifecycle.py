"""Factory fixtures: a test starts as many servers as it needs, and each is stopped at teardown."""

from __future__ import annotations

from typing import Any, Callable, Iterator


def stopped_at_teardown(start: Callable[..., Any]) -> Iterator[Callable[..., Any]]:
    """For `yield from` in a pytest fixture: yields a factory that calls `start(...)` and keeps
    what it returns; after the test, `.stop()` is called on each, in start order, even when the
    test failed."""
    started: list[Any] = []

    def make(*args: Any, **kwargs: Any) -> Any:
        server = start(*args, **kwargs)
        started.append(server)
        return server
    try:
        yield make
    finally:
        for server in started:
            server.stop()
