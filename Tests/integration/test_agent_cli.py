"""The agent's command line: `devmesh sandbox | routegroup | routes` against a running agent,
their output for people and for scripts, and exit statuses that mean something."""

from __future__ import annotations

import json
import subprocess

from harness import net
from test_agent_support import agent, devmesh_command, sandbox_body  # noqa: F401  (fixture)


def test_sandbox_create_prints_key_and_header_then_list_get_delete(agent):
    a = agent()
    out = a.cli("sandbox", "create", "feature-x", "--fork", "Deployment/hotrod/route",
                "--port", "8083=route-x.hotrod.svc:8083", "--port", "8083=route-x2.hotrod.svc:8083", "--label", "team=pay")
    assert out.returncode == 0, out
    lines = out.stdout.splitlines()
    key = next(line.split()[-1] for line in lines if line.startswith("routing key:"))
    assert f"baggage: sd-routing-key={key}" in out.stdout
    assert a.request("GET", "/api/v1/sandboxes/feature-x")[2]["routingKey"] == key

    quiet = a.cli("sandbox", "create", "feature-y", "--fork", "Deployment/hotrod/route",
                  "--fork", "Deployment/hotrod/driver", "--port", "route:8083=r.y.svc:8083",
                  "--port", "driver:8082=[::1]:9000", "--routing-key", "my-key", "-q")
    assert quiet.returncode == 0 and quiet.stdout == "my-key\n", quiet

    listing = a.cli("sandbox", "list")
    assert listing.returncode == 0
    header, *rows = listing.stdout.splitlines()
    assert header.split() == ["NAME", "ROUTING", "KEY", "FORKS", "AGE"]
    assert [r.split()[0] for r in rows] == ["feature-x", "feature-y"]
    as_json = json.loads(a.cli("sandbox", "list", "--json").stdout)
    assert [s["routingKey"] for s in as_json["sandboxes"]] == [key, "my-key"]

    shown = a.cli("sandbox", "get", "feature-y")
    assert shown.returncode == 0
    assert "8082->::1:9000" in shown.stdout and "Deployment/hotrod/driver" in shown.stdout

    routes = a.cli("routes", "--workload", "Deployment/hotrod/route")
    assert routes.returncode == 0
    assert "route-x.hotrod.svc:8083,route-x2.hotrod.svc:8083" in routes.stdout
    assert "driver" not in routes.stdout
    twin = json.loads(a.cli("routes", "--routing-key", "my-key", "--json").stdout)
    assert sorted(r["baseline"]["name"] for r in twin["routingRules"]) == ["driver", "route"]

    deleted = a.cli("sandbox", "delete", "feature-x", "feature-y")
    assert deleted.returncode == 0 and deleted.stdout.count("deleted") == 2
    assert a.cli("sandbox", "list").stdout.strip() == "no sandboxes"


def test_exit_statuses_and_messages_say_what_to_fix(agent):
    a = agent()
    assert a.cli("sandbox", "create", "s", "--fork", "Deployment/hotrod/route", "--port", "80=s.svc:80").returncode == 0
    cases = [
        ("duplicate", ["sandbox", "create", "s", "--fork", "Deployment/hotrod/route"], 1, "already exists"),
        ("bad kind", ["sandbox", "create", "t", "--fork", "deployment/hotrod/route"], 1, "did you mean Deployment"),
        ("bad host", ["sandbox", "create", "t", "--fork", "Deployment/hotrod/route", "--port", "80=bad_host:80"], 1,
         "forks[0].ports[0].destinations[0].host"),
        ("missing", ["sandbox", "get", "nope"], 2, "no sandbox named \"nope\""),
        ("missing delete", ["sandbox", "delete", "nope"], 2, "no sandbox named"),
        ("missing group", ["routegroup", "delete", "nope"], 2, "no route group"),
        ("bad fork syntax", ["sandbox", "create", "t", "--fork", "route"], 64, "KIND/NAMESPACE/NAME"),
        ("port for which fork", ["sandbox", "create", "t", "--fork", "Deployment/a/b", "--fork", "Deployment/a/c",
                                 "--port", "80=h:80"], 64, "WORKLOAD:PORT"),
        ("bad port syntax", ["sandbox", "create", "t", "--fork", "Deployment/a/b", "--port", "80=h"], 64, "HOST:PORT"),
        ("group matches nothing", ["routegroup", "create", "g"], 64, "--sandbox"),
    ]
    for name, args, code, text in cases:
        out = a.cli(*args)
        assert out.returncode == code, (name, out)
        assert text in out.stderr, (name, out.stderr)

    unreachable = a.cli("sandbox", "list", agent_flag=False,
                        env={"DEVMESH_AGENT": f"http://127.0.0.1:{net.closed_port()}"})
    assert unreachable.returncode == 3, unreachable
    assert "devmesh agent" in unreachable.stderr
    # DEVMESH_AGENT is where the CLI looks when --agent is not given.
    via_env = a.cli("sandbox", "list", agent_flag=False, env={"DEVMESH_AGENT": a.url})
    assert via_env.returncode == 0 and via_env.stdout.startswith("NAME"), via_env
    bad_url = a.cli("sandbox", "list", agent_flag=False, env={"DEVMESH_AGENT": "https://x:1"})
    assert bad_url.returncode == 64 and "http://HOST:PORT" in bad_url.stderr


def test_routegroup_commands(agent):
    a = agent()
    a.cli("sandbox", "create", "a", "--fork", "Deployment/hotrod/route", "--port", "80=a.svc:80", "--label", "team=pay")
    a.cli("sandbox", "create", "b", "--fork", "Deployment/hotrod/route", "--port", "80=b.svc:80", "--label", "team=pay")
    out = a.cli("routegroup", "create", "release", "--match-label", "team=pa*")
    assert out.returncode == 0, out
    assert "matches now:  a, b" in out.stdout
    key = next(line.split()[-1] for line in out.stdout.splitlines() if line.startswith("routing key:"))
    shown = a.cli("routegroup", "get", "release")
    assert "Deployment/hotrod/route -> a (shadows b)" in shown.stdout, shown.stdout
    listing = a.cli("routegroup", "list").stdout.splitlines()
    assert listing[1].split()[:3] == ["release", key, "a,b"]
    routes = a.cli("routes", "--routing-key", key, "--json")
    assert [r["destinationSandbox"]["name"] for r in json.loads(routes.stdout)["routingRules"]] == ["a"]
    assert a.cli("routegroup", "delete", "release").returncode == 0
    assert a.cli("routegroup", "list").stdout.strip() == "no route groups"


def test_routes_watch_prints_the_stream_until_the_agent_goes(agent):
    """`devmesh routes --watch` follows the gRPC watch: the current rules, SYNCED, then changes;
    when the agent goes away the command ends with exit 3 and says so."""
    a = agent()
    assert a.request("POST", "/api/v1/sandboxes", sandbox_body("feature-x"))[0] == 201
    proc = subprocess.Popen([*devmesh_command(), "routes", "--watch", "--agent-grpc", f"127.0.0.1:{a.grpc_port}"],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        lines = [proc.stdout.readline().strip() for _ in range(2)]
        assert lines[0].startswith("ADD") and "feature-x" in lines[0], lines
        assert lines[1] == "SYNCED", lines
        assert a.request("POST", "/api/v1/sandboxes", sandbox_body("feature-y"))[0] == 201
        line = proc.stdout.readline().strip()
        assert line.startswith("ADD") and "feature-y" in line, line
        a.stop()
        assert proc.wait(10) == 3
        assert "the watch ended" in proc.stderr.read()
    finally:
        if proc.poll() is None:
            proc.kill()
