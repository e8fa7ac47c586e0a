"""The hand-written protobuf codec's golden vectors stay in step with proto/routes.proto and the
Python protobuf runtime: regenerating them must give the committed file (XCTest checks the Swift
codec against that file byte for byte)."""

from __future__ import annotations

import subprocess
import sys

from conftest import REPO
from test_agent_support import routes_pb2  # noqa: F401  (fixture)

GOLDEN = REPO / "Tests" / "DevmeshRoutesAPITests" / "Golden"


def test_golden_vectors_are_up_to_date():
    out = subprocess.run([sys.executable, str(GOLDEN / "make_golden.py"), "--check"], capture_output=True, text=True,
                         timeout=120)
    assert out.returncode == 0, out.stderr


def test_field_numbers_and_paths_match_routes_api_notes(routes_pb2):
    """routes-api.md §1-2: the wire contract the hand-written codec encodes."""
    d = routes_pb2.DESCRIPTOR
    assert d.package == "routes"
    service = d.services_by_name["Routes"]
    assert sorted(m.name for m in service.methods) == [
        "GetClusterServices", "GetWorkloadRoutingRules", "WatchWorkloadRoutingRules"]
    assert service.methods_by_name["WatchWorkloadRoutingRules"].server_streaming
    expected = {
        "WorkloadRoutingRulesRequest": {"baseline_workload": 1, "routing_key": 2, "destination_sandbox": 3},
        "GetWorkloadRoutingRulesResponse": {"routingRules": 1},
        "WorkloadRoutingRule": {"routing_key": 1, "baseline": 2, "destination_sandbox": 3, "mappings": 4},
        "DestinationSandbox": {"name": 1},
        "BaselineWorkload": {"kind": 1, "namespace": 2, "name": 3},
        "WorkloadPortMapping": {"workload_port": 1, "destinations": 2},
        "Location": {"host": 1, "port": 2},
        "WorkloadRoutingRuleOp": {"op": 1, "route": 2},
        "GetClusterServicesResponse": {"services": 1},
        "ClusterService": {"service_ip": 1, "hostname": 2, "ports": 3, "sandbox_info": 4},
        "ClusterServicePort": {"name": 1, "port": 2, "protocol": 3, "app_protocol": 4},
        "SandboxedClusterService": {"sandbox_routing_key": 1, "baseline_hostname": 2},
    }
    for message, fields in expected.items():
        got = {f.name: f.number for f in d.message_types_by_name[message].fields}
        assert got == fields, message
    assert {v.name: v.number for v in d.enum_types_by_name["WatchOp"].values} == {
        "ADD": 0, "REMOVE": 1, "REPLACE": 2, "SYNCED": 3}
