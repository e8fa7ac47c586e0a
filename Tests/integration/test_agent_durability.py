"""Durability of the agent: every acknowledged write is on disk before the answer, so it
survives a restart and a kill -9 in the middle of a burst of writes."""

from __future__ import annotations

import threading
import time

from test_agent_support import Agent, agent, sandbox_body  # noqa: F401  (fixture)


def test_state_survives_a_restart(agent, tmp_path):
    data = tmp_path / "data"
    a = agent(data)
    created = a.request("POST", "/api/v1/sandboxes", sandbox_body("keep-me"))[2]
    a.request("POST", "/api/v1/routegroups", {"name": "g", "match": {"sandboxes": ["keep-me"]}})
    a.request("POST", "/api/v1/sandboxes", sandbox_body("drop-me"))
    a.request("DELETE", "/api/v1/sandboxes/drop-me")
    rules = a.request("GET", "/api/v1/workloads/routing-rules")[2]
    a.stop()
    b = agent(data)
    assert [s["name"] for s in b.request("GET", "/api/v1/sandboxes")[2]["sandboxes"]] == ["keep-me"]
    assert b.request("GET", "/api/v1/sandboxes/keep-me")[2] == created
    assert b.request("GET", "/api/v1/workloads/routing-rules")[2] == rules


def test_a_second_agent_on_the_same_directory_is_refused(agent, tmp_path):
    data = tmp_path / "data"
    agent(data)
    second = Agent(data)
    try:
        second.start()
        raise AssertionError("a second agent started on a locked directory")
    except AssertionError as e:
        assert "another devmesh agent" in str(e), e
    assert second.proc is not None and second.proc.returncode == 1


def test_kill_9_during_a_burst_of_creates_loses_no_acknowledged_sandbox(agent, tmp_path):
    """Writers create sandboxes as fast as the agent answers; the agent is SIGKILLed mid-burst,
    three times on the same directory. After each restart every sandbox that was answered 201
    is there with the routing key it was given, and nothing appears that was never sent."""
    data = tmp_path / "data"
    acknowledged: dict[str, str] = {}
    sent: set[str] = set()
    lock = threading.Lock()
    for round_ in range(3):
        a = agent(data)
        stop = threading.Event()

        def writer(worker: int) -> None:
            n = 0
            while not stop.is_set():
                name = f"r{round_}-w{worker}-{n}"
                n += 1
                with lock:
                    sent.add(name)
                try:
                    status, _, body = a.request("POST", "/api/v1/sandboxes", sandbox_body(name), timeout=5)
                except OSError:
                    return  # the agent died under us: this create was never acknowledged
                if status == 201:
                    with lock:
                        acknowledged[name] = body["routingKey"]

        threads = [threading.Thread(target=writer, args=(w,), daemon=True) for w in range(4)]
        for t in threads:
            t.start()
        # Kill once a good number of creates went through in this round (bounded wait).
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            with lock:
                done = sum(1 for name in acknowledged if name.startswith(f"r{round_}-"))
            if done >= 60:
                break
            time.sleep(0.01)
        a.kill()
        stop.set()
        for t in threads:
            t.join(10)
        assert done >= 60, f"round {round_}: only {done} creates in 20 s"

        b = agent(data)
        stored = {s["name"]: s["routingKey"] for s in b.request("GET", "/api/v1/sandboxes")[2]["sandboxes"]}
        missing = {name for name in acknowledged if stored.get(name) != acknowledged[name]}
        assert not missing, f"round {round_}: acknowledged but lost after kill -9: {sorted(missing)[:10]}"
        assert set(stored) <= sent, f"round {round_}: sandboxes nobody created: {sorted(set(stored) - sent)}"
        b.stop()
