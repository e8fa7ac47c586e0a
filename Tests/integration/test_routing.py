"""Routing: every request goes to the sandbox its routing key names, or to the baseline.

Each test tags its requests with a unique x-test-id and checks both sides: the client got the
complete answer of the expected upstream, that upstream received the request exactly once, and
no other upstream saw it. Carrier syntax: notes/carriers.md (test-vector numbers
in comments refer to its §9).
"""

from __future__ import annotations

import pytest

from conftest import KEY
from harness import devmesh as dmconf
from harness.checks import assert_proxy_error, assert_routed, new_id
from harness.client import Client, get

TRACEPARENT = "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01"


def test_request_without_key_goes_to_baseline(sandbox_proxy):
    p = sandbox_proxy()
    tid = new_id()
    assert_routed(get(p.port, "/", [("x-test-id", tid)]), tid, p.baseline, [p.sandbox])


@pytest.mark.parametrize("headers", [
    [("baggage", f"sd-routing-key={KEY}")],                                        # 1
    [("baggage", f"userId=alice, sd-routing-key = {KEY} ,isProduction=false")],    # 2
    [("baggage", f"sd-routing-key={KEY};ttl=60;sampled")],                         # 3
    [("baggage", "sd-routing-key=4835rlw%78wbwyl")],                               # 4: %78 = x
    [("baggage", "userId=alice"), ("baggage", f"sd-routing-key={KEY}")],           # 6: lines joined
    [("baggage", f"foo bar=1,sd-routing-key={KEY}")],                              # 8: bad member skipped
    [("baggage", f"sd-sandbox={KEY}")],                                            # 12: legacy name
    [("baggage", f"sd-workspace={KEY}")],
    [("tracestate", f"sd-routing-key={KEY}")],                                     # 15: no traceparent
    [("traceparent", TRACEPARENT), ("tracestate", f"rojo=00f067aa0ba902b7, sd-routing-key={KEY}")],  # 16
    [("UberCtx-SD-Routing-Key", KEY)],                                             # 17: name folds
    [("uberctx-sd-routing-key", KEY)],
    [("ot-baggage-sd-routing-key", KEY)],                                          # 18
    [("baggage-sd-routing-key", KEY)],                                             # 19
    [("jaeger-baggage", f"sd-routing-key={KEY}, foo=bar")],                        # 21
], ids=lambda h: "+".join(f"{n}:{v}" for n, v in h)[:60])
def test_each_carrier_routes_to_the_sandbox(sandbox_proxy, headers):
    p = sandbox_proxy()
    tid = new_id()
    rec = assert_routed(get(p.port, "/", [*headers, ("x-test-id", tid)]), tid, p.sandbox, [p.baseline])
    for name, value in headers:  # carriers are forwarded unchanged (apps propagate them)
        assert value.encode() in rec.head.get_all(name), f"{name} not forwarded unchanged"


@pytest.mark.parametrize("headers", [
    [("baggage", "sd-routing-key=nosuchkey000")],                                  # unknown key
    [("baggage", f"SD-ROUTING-KEY={KEY}")],                                        # 11: baggage keys don't fold
    [("baggage", f'sd-routing-key="{KEY}"')],                                      # 9: DQUOTE not allowed
    [("baggage", "sd-routing-key=")],                                              # 24: empty
    [("baggage", f"sd-routing-key={KEY}/../x")],                                   # 26: outside alphabet
    [("baggage", "sd-routing-key=ab%2")],                                          # 5: broken escape
    [("tracestate", f"other={KEY}")],                                              # not a key name
    [("b3", "80f198ee56343ba864fe8b2a57d3eff7-e457b5a2e4d86bd1-1"), ("x-b3-sampled", "1")],  # 20
    [("x-sandbox", KEY)],                                                          # not configured
    [("sd-traffic", "eyJ0YXJnZXQiOiJ4In0")],                                       # not a routing key
], ids=lambda h: "+".join(f"{n}:{v}" for n, v in h)[:60])
def test_no_usable_key_goes_to_baseline_and_never_fails(sandbox_proxy, headers):
    p = sandbox_proxy()
    tid = new_id()
    assert_routed(get(p.port, "/", [*headers, ("x-test-id", tid)]), tid, p.baseline, [p.sandbox])


@pytest.mark.parametrize("headers", [
    [("baggage", f"sd-routing-key=nosuchkey000,sd-routing-key={KEY}")],            # 7: duplicates in order
    [("baggage", "sd-routing-key=nosuchkey000"), ("uberctx-sd-routing-key", KEY)],  # 23: next carrier
    [("tracestate", "sd-routing-key=nosuchkey000"), ("ot-baggage-sd-routing-key", KEY)],
], ids=["baggage-duplicates", "baggage-then-uberctx", "tracestate-then-ot-baggage"])
def test_first_candidate_that_has_a_route_wins(sandbox_proxy, headers):
    p = sandbox_proxy()
    tid = new_id()
    assert_routed(get(p.port, "/", [*headers, ("x-test-id", tid)]), tid, p.sandbox, [p.baseline])


def test_carrier_precedence_between_two_routed_keys(upstream, devmesh):
    """Both keys have routes: baggage outranks uberctx- (carriers.md §8), whatever the order of
    the routes on the command line or of the header lines."""
    baseline, first, second = upstream("baseline"), upstream("sandbox-a"), upstream("sandbox-b")
    other = "otherkey00001"
    dm = devmesh("--baseline", baseline.address, "--route", f"{other}={second.address}",
                 "--route", f"{KEY}={first.address}")
    tid = new_id()
    resp = get(dm.port, "/", [("uberctx-sd-routing-key", other), ("baggage", f"sd-routing-key={KEY}"),
                              ("x-test-id", tid)])
    assert_routed(resp, tid, first, [baseline, second])


def test_keep_alive_connection_routes_each_request_on_its_own(sandbox_proxy):
    p = sandbox_proxy()
    plan = [None, KEY, KEY, None, "nosuchkey000", KEY, None]
    with Client(p.port) as c:
        for key in plan:
            tid = new_id()
            headers = [("x-test-id", tid)] + ([("baggage", f"sd-routing-key={key}")] if key else [])
            to, other = (p.sandbox, p.baseline) if key == KEY else (p.baseline, p.sandbox)
            assert_routed(c.request(headers=headers), tid, to, [other])
    assert p.sandbox.count() == 3 and p.baseline.count() == 4


def test_round_robin_across_two_baseline_endpoints(upstream, devmesh):
    a, b = upstream("base-a"), upstream("base-b")
    dm = devmesh("--baseline", f"{a.address},{b.address}", "--workers", "1")
    answered = []
    for _ in range(6):
        tid = new_id()
        resp = get(dm.port, "/", [("x-test-id", tid)])
        to, other = (a, b) if resp.upstream == a.name else (b, a)
        assert_routed(resp, tid, to, [other])
        answered.append(resp.upstream)
    assert all(x != y for x, y in zip(answered, answered[1:])), f"not round robin: {answered}"
    assert a.count() == b.count() == 3


def test_round_robin_across_two_sandbox_endpoints(upstream, devmesh):
    baseline, a, b = upstream("baseline"), upstream("sb-a"), upstream("sb-b")
    dm = devmesh("--baseline", baseline.address, "--route", f"{KEY}={a.address},{b.address}", "--workers", "1")
    with Client(dm.port) as c:
        names = [c.request(headers=[("baggage", f"sd-routing-key={KEY}")]).upstream for _ in range(4)]
    assert sorted(names) == ["sb-a", "sb-a", "sb-b", "sb-b"] and names[0] != names[1], names
    assert baseline.count() == 0


def test_custom_header_carries_the_key(upstream, devmesh):
    baseline, sandbox = upstream("baseline"), upstream("sandbox")
    dm = devmesh("--baseline", baseline.address, "--route", f"{KEY}={sandbox.address}",
                 "--custom-header", "x-sandbox")
    tid = new_id()
    assert_routed(get(dm.port, "/", [("X-Sandbox", KEY), ("x-test-id", tid)]), tid, sandbox, [baseline])
    tid = new_id()  # 22: the whole value, trimmed
    assert_routed(get(dm.port, "/", [("x-sandbox", f"  {KEY}  "), ("x-test-id", tid)]), tid, sandbox, [baseline])
    tid = new_id()
    assert_routed(get(dm.port, "/", [("x-sandbox", "nosuchkey000"), ("x-test-id", tid)]), tid, baseline, [sandbox])


def test_gateway_mode_selects_the_service_by_host(upstream, devmesh):
    web, web_sb, api = upstream("web"), upstream("web-sandbox"), upstream("api")
    config = dmconf.render_config([
        dmconf.service("web", [web.address], [dmconf.route(KEY, [web_sb.address])], hosts=["web.local"]),
        dmconf.service("api", [api.address], hosts=["api.local"]),
    ])
    dm = devmesh(config=config)
    everyone = [web, web_sb, api]
    cases = [
        ("web.local", None, web),
        ("WEB.local:8080", None, web),            # host names fold, the port is not part of the match
        ("web.local", KEY, web_sb),
        ("api.local", None, api),
        ("api.local", KEY, api),                   # the key has no route in the api service
    ]
    for host, key, to in cases:
        tid = new_id()
        headers = [("x-test-id", tid)] + ([("baggage", f"sd-routing-key={key}")] if key else [])
        assert_routed(get(dm.port, "/", headers, host=host), tid, to, [u for u in everyone if u is not to])
    tid = new_id()
    resp = get(dm.port, "/", [("x-test-id", tid)], host="unknown.local")
    assert_proxy_error(resp, {404})
    assert not any(u.by_test_id(tid) for u in everyone)
