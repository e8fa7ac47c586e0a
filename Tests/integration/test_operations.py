"""Operating devmesh: the admin endpoints, metrics that move with traffic, the access log,
draining on SIGTERM and reloading the config (SIGHUP, file change, invalid file, under load)."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import threading
import time
from pathlib import Path

import pytest

from conftest import KEY
from harness import devmesh as dmconf
from harness import net
from harness.checks import assert_routed, new_id
from harness.client import Client, get

SANDBOX_BAGGAGE = ("baggage", f"sd-routing-key={KEY}")


# ---- admin ---------------------------------------------------------------------------------

def test_healthz_ready_and_routes(sandbox_proxy):
    p = sandbox_proxy()
    health = p.dm.admin("/healthz")
    assert health.status == 200 and health.text.strip() == "ok", health
    assert p.dm.admin("/ready").status == 200
    routes = p.dm.admin("/routes")
    assert routes.status == 200 and routes.complete, routes
    table = json.loads(routes.text)
    assert isinstance(table["version"], int) and isinstance(table["services"], list) and table["services"]
    assert KEY in routes.text and p.sandbox.address in routes.text and p.baseline.address in routes.text


def test_routes_lists_every_service_and_route_of_the_config(upstream, devmesh):
    web, api = upstream("web"), upstream("api")
    dm = devmesh(config=dmconf.render_config([
        dmconf.service("web", [web.address], [dmconf.route(KEY, ["127.0.0.1:1"], sandbox="feature-x"),
                                              dmconf.route("otherkey00001", ["127.0.0.1:2"])], hosts=["web.local"]),
        dmconf.service("api", [api.address], hosts=["api.local"])]))
    text = dm.admin("/routes").text
    for needle in ("web", "api", "web.local", "api.local", KEY, "feature-x", "otherkey00001",
                   "127.0.0.1:1", "127.0.0.1:2", web.address, api.address):
        assert needle in text, f"{needle} missing from /routes: {text}"


def test_metrics_move_with_traffic(upstream, devmesh):
    baseline, sandbox = upstream("baseline"), upstream("sandbox")
    dead_key = "deadsandbox01"
    dm = devmesh("--baseline", baseline.address, "--route", f"{KEY}={sandbox.address}",
                 "--route", f"{dead_key}=127.0.0.1:{net.closed_port()}")
    before = dm.metrics()
    for name in ("devmesh_requests_total", "devmesh_downstream_connections", "devmesh_route_table_version",
                 "devmesh_config_reloads_total", "devmesh_config_reload_failures_total"):
        assert before.has(name), f"{name} missing from /metrics"
    with Client(dm.port) as c:
        for _ in range(3):
            assert c.request().status == 200
        for _ in range(2):
            assert c.request(headers=[SANDBOX_BAGGAGE]).status == 200
        assert c.request(path="/?status=404").status == 404
    assert get(dm.port, "/", [("baggage", f"sd-routing-key={dead_key}")]).status in (502, 503)

    def delta(m, name, **labels):
        return m.value(name, **labels) - before.value(name, **labels)
    expected = {("baseline", "2xx"): 3, ("sandbox", "2xx"): 2, ("baseline", "4xx"): 1, ("sandbox", "5xx"): 1}

    def counted():
        m = dm.metrics()
        got = {k: delta(m, "devmesh_requests_total", route=k[0], status=k[1]) for k in expected}
        return m if got == expected else None
    after = net.wait_until(counted, 5, f"devmesh_requests_total to move by {expected}")
    assert delta(after, "devmesh_requests_total", route="baseline", status="5xx") == 0
    assert delta(after, "devmesh_upstream_errors_total") >= 1


def test_every_exported_metric_family_is_documented(sandbox_proxy):
    """docs/operations.md lists every metric family with its type: whatever /metrics exports and
    the table does not name (or names with another type) fails here, so the page stays current."""
    p = sandbox_proxy()
    text = p.dm.admin("/metrics").text
    families = dict(line.split()[2:4] for line in text.splitlines() if line.startswith("# TYPE "))
    assert len(families) >= 25, text
    doc = (Path(__file__).resolve().parents[2] / "docs" / "operations.md").read_text()
    rows = {}
    for line in doc.splitlines():
        cells = [c.strip() for c in line.split("|")]
        if len(cells) > 3 and cells[1].startswith("`devmesh_"):
            rows[cells[1].strip("`")] = cells[2]
    missing = {name: kind for name, kind in families.items() if rows.get(name) != kind}
    assert not missing, f"families exported but not documented with this type in docs/operations.md: {missing}"


def test_downstream_connections_gauge(sandbox_proxy):
    p = sandbox_proxy()
    base = p.dm.metrics().value("devmesh_downstream_connections")
    clients = [Client(p.port) for _ in range(3)]
    for c in clients:
        assert c.request().status == 200
    net.wait_until(lambda: p.dm.metrics().value("devmesh_downstream_connections") >= base + 3, 5,
                   "the gauge to count 3 open connections")
    for c in clients:
        c.close()
    net.wait_until(lambda: p.dm.metrics().value("devmesh_downstream_connections") <= base, 5,
                   "the gauge to fall back after the connections closed")


# ---- access log ----------------------------------------------------------------------------

@pytest.mark.parametrize("target", ["file", "stdout"])
def test_access_log_has_one_json_line_per_request(upstream, devmesh, tmp_path, target):
    baseline, sandbox = upstream("baseline"), upstream("sandbox")
    log = tmp_path / "access.jsonl"
    dm = devmesh("--baseline", baseline.address, "--route", f"{KEY}={sandbox.address}",
                 "--access-log", str(log) if target == "file" else "stdout")
    assert get(dm.port, "/a").status == 200
    assert get(dm.port, "/b?x=1", [SANDBOX_BAGGAGE]).status == 200
    assert Client(dm.port).request("POST", "/c", [("baggage", "sd-routing-key=nosuchkey000")],
                                   body=b"abc").status == 200

    def lines():
        raw = log.read_text().splitlines() if target == "file" and log.exists() else \
            [line for line in list(dm.stdout_lines) if line.startswith("{")]
        return raw if len(raw) >= 3 else None
    entries = [json.loads(line) for line in net.wait_until(lines, 5, "3 access log lines")]
    assert len(entries) == 3
    by_path = {e["path"].split("?")[0]: e for e in entries}
    assert set(by_path) == {"/a", "/b", "/c"}
    for e in entries:
        for field in ("method", "path", "status", "routing_key", "destination", "upstream", "duration_us"):
            assert field in e, f"{field} missing in {e}"
        assert e["status"] == 200 and isinstance(e["duration_us"], int) and e["duration_us"] >= 0
    a, b, c = by_path["/a"], by_path["/b"], by_path["/c"]
    assert (a["method"], b["method"], c["method"]) == ("GET", "GET", "POST")
    assert b["routing_key"] == KEY and KEY in str(b["destination"])
    assert not a["routing_key"] and KEY not in str(a["destination"])
    assert str(sandbox.port) in str(b["upstream"]) and str(baseline.port) in str(a["upstream"])
    assert str(baseline.port) in str(c["upstream"])


def test_reload_reopens_the_access_log(upstream, devmesh, tmp_path):
    """A reload applies a new `access_log` path, and with the path unchanged starts a fresh file
    after logrotate has moved the old one away (postrotate `kill -HUP`). Nothing is lost: every
    request is in exactly one of the files."""
    baseline, sandbox = upstream("baseline"), upstream("sandbox")
    first, second = tmp_path / "first.jsonl", tmp_path / "second.jsonl"

    def config(log: Path) -> str:
        return dmconf.render_config([dmconf.service("default", [baseline.address],
                                                    [dmconf.route(KEY, [sandbox.address])])], access_log=str(log))

    def reload_with(text: str) -> None:
        reloads = dm.metrics().value("devmesh_config_reloads_total")
        _write(_config_path(dm), text, atomic=True)
        dm.send_signal(signal.SIGHUP)
        net.wait_until(lambda: dm.metrics().value("devmesh_config_reloads_total") > reloads, 5, "the reload")

    def paths(log: Path, count: int) -> list[str]:
        def read():
            lines = log.read_text().splitlines() if log.exists() else []
            return lines if len(lines) >= count else None
        return [json.loads(line)["path"] for line in net.wait_until(read, 5, f"{count} lines in {log.name}")]

    dm = devmesh(config=config(first))
    # One keep-alive connection across both reloads: the log follows the reload, not the connection.
    with Client(dm.port) as c:
        assert c.request(path="/one").status == 200
        assert paths(first, 1) == ["/one"]
        reload_with(config(second))
        assert c.request(path="/two").status == 200
        assert paths(second, 1) == ["/two"]
        rotated = tmp_path / "second.jsonl.1"
        os.replace(second, rotated)
        reload_with(config(second))
        assert c.request(path="/three").status == 200
        assert paths(second, 1) == ["/three"]
    assert paths(first, 1) == ["/one"] and paths(rotated, 1) == ["/two"]


def test_batch_window_applies_to_http2_and_follows_reloads(upstream, devmesh):
    """`batch_window_us` reaches every worker's loop and a reload changes it. At 0 the loops
    never pause. At 1 ms (woken within 4 ms counts as dense) they pause after the turns of an h2c
    connection with 64 streams in flight, but not for one stream at a time (nothing to gather,
    every call would wait), and not after HTTP/1.1 requests, where a pause could only add
    latency. Back at 0 they stop again. Every request is answered throughout."""
    baseline = upstream("baseline")

    def config(window_us: int) -> str:
        # The upstream speaks HTTP/1.1: h2c streams are translated (`protocol: http1`).
        return dmconf.render_config([{**dmconf.service("default", [baseline.address]), "protocol": "http1"}],
                                    workers=2, top={"batch_window_us": window_us})

    answered = 0

    def after_requests(count: int):
        """The first metrics scrape that includes `count` answered requests (published together)."""
        return net.wait_until(lambda: (m := dm.metrics()) and m.value("devmesh_requests_total") >= count and m,
                              5, f"{count} requests in the metrics")

    def reload_with(text: str) -> None:
        reloads = dm.metrics().value("devmesh_config_reloads_total")
        _write(_config_path(dm), text, atomic=True)
        dm.send_signal(signal.SIGHUP)
        net.wait_until(lambda: dm.metrics().value("devmesh_config_reloads_total") > reloads, 5, "the reload")

    def h2c_requests(n: int, streams: int) -> float:
        """n requests on one h2c connection, `streams` at a time (h2load -c1 -mN); the pause
        counter once all of them are in the metrics."""
        nonlocal answered
        done = subprocess.run(["h2load", "-n", str(n), "-c", "1", "-m", str(streams), f"http://127.0.0.1:{dm.port}/h2"],
                              capture_output=True, text=True, timeout=30)
        assert done.returncode == 0 and f"status codes: {n} 2xx" in done.stdout, done.stdout + done.stderr
        answered += n
        return after_requests(answered).value("devmesh_batch_pauses_total")

    dm = devmesh(config=config(0))
    assert h2c_requests(640, 64) == 0
    reload_with(config(1000))
    settled = h2c_requests(20, 1)
    assert settled == 0, "one stream at a time leaves nothing to gather"
    paused = h2c_requests(640, 64)
    assert paused >= 5, paused
    # A connection that carries one request at a time: no pause is worth taking for it.
    with Client(dm.port) as c:
        for i in range(20):
            assert c.request(path=f"/h1-{i}").status == 200
    answered += 20
    assert after_requests(answered).value("devmesh_batch_pauses_total") == paused
    reload_with(config(0))
    settled = h2c_requests(1, 1)
    assert h2c_requests(640, 64) == settled


# ---- drain ---------------------------------------------------------------------------------

def _slow_requests(port: int, n: int, delay: float) -> tuple[list[threading.Thread], list]:
    results: list = [None] * n

    def one(i: int) -> None:
        with Client(port, timeout=delay + 10) as c:
            results[i] = c.request(path=f"/?delay={delay}&size=50000", headers=[("x-test-id", f"slow-{i}")])
    threads = [threading.Thread(target=one, args=(i,)) for i in range(n)]
    for t in threads:
        t.start()
    return threads, results


def test_sigterm_drains_in_flight_requests(upstream, devmesh):
    """F14 (h1): SIGTERM with slow requests in flight: the listener closes, /ready turns 503, every request
    completes, exit 0 soon after the last."""
    baseline = upstream("baseline")
    dm = devmesh("--baseline", baseline.address, "--drain-timeout", "10")
    threads, results = _slow_requests(dm.port, 3, delay=2.0)
    baseline.wait_for_arrivals(3)
    start = time.monotonic()
    dm.send_signal(signal.SIGTERM)
    net.wait_until(lambda: net.connection_refused(dm.port), 2, "the listener to close after SIGTERM")
    net.wait_until(lambda: dm.admin("/ready").status == 503, 2, "/ready to answer 503 while draining")
    assert dm.admin("/healthz").status == 200
    rc = dm.wait_exit(10)
    took = time.monotonic() - start
    for t in threads:
        t.join(5)
    for i, resp in enumerate(results):
        assert resp is not None and resp.complete and resp.status == 200, f"in-flight request {i}: {resp!r}"
        assert resp.body_len == 50000 and resp.header("x-test-id") == f"slow-{i}"
    assert rc == 0, f"exit status {rc} after a drain"
    assert took < 5.0, f"exit {took:.1f}s after SIGTERM although nothing was left in flight after ~2s"


def test_drain_deadline_bounds_the_exit(upstream, devmesh):
    """F14 (deadline): a request longer than the drain deadline is cut (never completed falsely) and devmesh
    exits at the deadline."""
    baseline = upstream("baseline")
    dm = devmesh("--baseline", baseline.address, "--drain-timeout", "1")
    threads, results = _slow_requests(dm.port, 1, delay=8.0)
    baseline.wait_for_arrivals(1)
    start = time.monotonic()
    dm.send_signal(signal.SIGTERM)
    rc = dm.wait_exit(6)
    took = time.monotonic() - start
    threads[0].join(10)
    assert rc == 0 and 0.8 <= took <= 3.0, f"exit status {rc} after {took:.1f}s with a 1 s drain deadline"
    assert results[0] is not None and not results[0].complete, "a request cut by the deadline looked complete"


def test_second_signal_exits_at_once(upstream, devmesh):
    baseline = upstream("baseline")
    dm = devmesh("--baseline", baseline.address, "--drain-timeout", "30")
    threads, _ = _slow_requests(dm.port, 1, delay=8.0)
    baseline.wait_for_arrivals(1)
    dm.send_signal(signal.SIGTERM)
    net.wait_until(lambda: net.connection_refused(dm.port), 2, "the listener to close after SIGTERM")
    start = time.monotonic()
    dm.send_signal(signal.SIGINT)
    rc = dm.wait_exit(5)
    assert rc is not None and time.monotonic() - start < 2.0, "a second signal did not end the drain"
    dm.accepted_exit = None  # any status; the teardown still checks for a crash report
    threads[0].join(10)


# ---- reload --------------------------------------------------------------------------------

def _routing_config(baseline: str, sandbox: str) -> str:
    return dmconf.render_config([dmconf.service("default", [baseline], [dmconf.route(KEY, [sandbox])])])


def _write(path: Path, text: str, atomic: bool) -> None:
    if atomic:  # what config management does (and a Kubernetes ConfigMap's symlink swap)
        tmp = path.with_suffix(".tmp")
        tmp.write_text(text)
        os.replace(tmp, path)
    else:
        with open(path, "w") as f:
            f.write(text)


def _config_path(dm) -> Path:
    return Path(dm.command[dm.command.index("--config") + 1])


def _wait_routed_to(dm, target, timeout: float, allowed) -> None:
    """Polls with keyed requests until they land on `target`; every answer on the way must be a
    complete 200 from one of `allowed` (a reload must never fail a request)."""
    def landed():
        resp = get(dm.port, "/", [SANDBOX_BAGGAGE])
        assert resp.complete and resp.status == 200 and resp.upstream in {u.name for u in allowed}, resp
        return resp.upstream == target.name
    net.wait_until(landed, timeout, f"keyed requests to reach {target.name}", interval=0.05)


def test_sighup_reload_follows_the_new_route(upstream, devmesh):
    baseline, a, b = upstream("baseline"), upstream("sandbox-a"), upstream("sandbox-b")
    dm = devmesh(config=_routing_config(baseline.address, a.address))
    tid = new_id()
    assert_routed(get(dm.port, "/", [SANDBOX_BAGGAGE, ("x-test-id", tid)]), tid, a, [b, baseline])
    version = json.loads(dm.admin("/routes").text)["version"]
    reloads = dm.metrics().value("devmesh_config_reloads_total")
    _write(_config_path(dm), _routing_config(baseline.address, b.address), atomic=True)
    dm.send_signal(signal.SIGHUP)
    _wait_routed_to(dm, b, 3, [a, b])
    tid = new_id()
    assert_routed(get(dm.port, "/", [SANDBOX_BAGGAGE, ("x-test-id", tid)]), tid, b, [a, baseline])
    assert json.loads(dm.admin("/routes").text)["version"] > version
    assert b.address in dm.admin("/routes").text and a.address not in dm.admin("/routes").text
    m = dm.metrics()
    assert m.value("devmesh_config_reloads_total") > reloads
    assert m.value("devmesh_route_table_version") == json.loads(dm.admin("/routes").text)["version"]


@pytest.mark.parametrize("bad", ["services: [unclosed", "services:\n  - name: default\n    baseline: [127.0.0.1:99999]\n",
                                 "surprise_key: 1\n"], ids=["yaml-syntax", "port-out-of-range", "unknown-key"])
def test_invalid_config_on_sighup_keeps_the_old_routes(upstream, devmesh, bad):
    """F11 (config file): an invalid file on SIGHUP is refused whole and counted; the old table keeps serving."""
    baseline, a = upstream("baseline"), upstream("sandbox-a")
    dm = devmesh(config=_routing_config(baseline.address, a.address))
    version = json.loads(dm.admin("/routes").text)["version"]
    failures = dm.metrics().value("devmesh_config_reload_failures_total")
    _write(_config_path(dm), bad, atomic=True)
    dm.send_signal(signal.SIGHUP)
    net.wait_until(lambda: dm.metrics().value("devmesh_config_reload_failures_total") > failures, 3,
                   "the failed reload to be counted")
    tid = new_id()
    assert_routed(get(dm.port, "/", [SANDBOX_BAGGAGE, ("x-test-id", tid)]), tid, a, [baseline])
    assert json.loads(dm.admin("/routes").text)["version"] == version
    assert dm.proc.poll() is None, "an invalid file took the proxy down"


@pytest.mark.parametrize("atomic", [True, False], ids=["atomic-rename", "rewrite-in-place"])
def test_config_file_change_is_picked_up_without_a_signal(upstream, devmesh, atomic):
    baseline, a, b = upstream("baseline"), upstream("sandbox-a"), upstream("sandbox-b")
    dm = devmesh(config=_routing_config(baseline.address, a.address))
    assert get(dm.port, "/", [SANDBOX_BAGGAGE]).upstream == a.name
    _write(_config_path(dm), _routing_config(baseline.address, b.address), atomic=atomic)
    _wait_routed_to(dm, b, 3, [a, b])  # the contract: "within about a second"


def _load(port: int, stop: threading.Event, outcomes: list, errors: list, baseline, sandboxes) -> None:
    """One keep-alive client sending keyed and unkeyed requests until `stop`."""
    names = {s.name for s in sandboxes}
    c = Client(port)
    i = 0
    try:
        while not stop.is_set() and i < 1_000_000:  # bounded even if stop never came
            keyed = i % 2 == 1
            resp = c.request(headers=[SANDBOX_BAGGAGE] if keyed else [])
            ok = resp.complete and resp.status == 200 and (resp.upstream in names if keyed else
                                                           resp.upstream == baseline.name)
            (outcomes if ok else errors).append(resp)
            if resp.outcome != "ok" or resp.header("connection") == "close":
                c.close()
                c = Client(port)
            i += 1
    finally:
        c.close()


def _reload_under_load(upstream, devmesh, reloads: int, period: float) -> None:
    baseline, a, b = upstream("baseline"), upstream("sandbox-a"), upstream("sandbox-b")
    dm = devmesh(config=_routing_config(baseline.address, a.address))
    stop = threading.Event()
    outcomes: list = []
    errors: list = []
    threads = [threading.Thread(target=_load, args=(dm.port, stop, outcomes, errors, baseline, [a, b]))
               for _ in range(4)]
    for t in threads:
        t.start()
    try:
        for n in range(reloads):
            target = b if n % 2 == 0 else a
            _write(_config_path(dm), _routing_config(baseline.address, target.address), atomic=True)
            dm.send_signal(signal.SIGHUP)
            time.sleep(period)  # load keeps running between reloads: this is the test's pacing
    finally:
        stop.set()
        for t in threads:
            t.join(10)
    assert not errors, f"{len(errors)} failed requests of {len(outcomes) + len(errors)}: {errors[:5]}"
    assert len(outcomes) > 200, f"only {len(outcomes)} requests made it: the load loop did not load"
    assert reloads == 0 or (a.count() > 0 and b.count() > 0), "the reloads did not move keyed traffic"
    assert dm.metrics().value("devmesh_config_reloads_total") >= reloads


def test_reload_under_load_fails_no_request(upstream, devmesh):
    """F12 (config reloads): six reloads flipping a route under keep-alive load fail no request."""
    _reload_under_load(upstream, devmesh, reloads=6, period=0.5)


@pytest.mark.slow
def test_many_reloads_under_load_fail_no_request(upstream, devmesh):
    _reload_under_load(upstream, devmesh, reloads=60, period=0.4)


def test_grpc_health_check_on_the_admin_listener(upstream, devmesh):
    """The admin port also answers the gRPC health checking protocol (h2c): SERVING when ready,
    NOT_FOUND for a service it does not know; plain HTTP keeps working on the same port."""
    import grpc
    baseline = upstream("baseline")
    dm = devmesh("--baseline", baseline.address)
    with grpc.insecure_channel(f"127.0.0.1:{dm.admin_port}") as channel:
        check = channel.unary_unary("/grpc.health.v1.Health/Check",
                                    request_serializer=lambda b: b, response_deserializer=lambda b: b)
        assert check(b"", timeout=5) == b"\x08\x01"  # status = SERVING
        assert check(b"\x0a\x07devmesh", timeout=5) == b"\x08\x01"
        with pytest.raises(grpc.RpcError) as failure:
            check(b"\x0a\x03foo", timeout=5)
        assert failure.value.code() == grpc.StatusCode.NOT_FOUND
    assert dm.admin("/healthz").status == 200
