#!/usr/bin/env python3
"""Writes golden.json: protobuf encodings of routes.proto messages made by Google's Python
protobuf runtime, for the hand-written Swift codec to match byte for byte.

    .venv/bin/python Tests/DevmeshRoutesAPITests/Golden/make_golden.py          # rewrite golden.json
    .venv/bin/python Tests/DevmeshRoutesAPITests/Golden/make_golden.py --check  # exit 1 if stale

Python classes are generated from proto/routes.proto with grpcio-tools into a temporary folder
(nothing generated is committed). Two sections:

- "cases": a message (as proto3 JSON from json_format.MessageToJson) and its encoding. The
  Swift test reads the JSON into its own struct, encodes it and compares bytes, and decodes the
  bytes and compares structs. Hand-picked edge cases first, then seeded random messages.
- "mutations": valid encodings cut, flipped and spliced (seeded). For each, whether Python's
  parser accepts it and, if so, its re-encoding with unknown fields dropped. The Swift decoder
  must agree: reject what Python rejects, and re-encode what it accepts to the same bytes.

Deterministic: the same protobuf version writes the same file, so --check can run in CI.
"""

from __future__ import annotations

import importlib
import json
import random
import sys
import tempfile
from pathlib import Path

from google.protobuf import json_format
from google.protobuf.message import DecodeError
import google.protobuf
from grpc_tools import protoc

HERE = Path(__file__).resolve().parent
REPO = HERE.parents[2]
OUT = HERE / "golden.json"


def load_routes_pb2():
    gen = Path(tempfile.mkdtemp(prefix="routes-pb2-"))
    status = protoc.main(["protoc", f"-I{REPO / 'proto'}", f"--python_out={gen}", str(REPO / "proto" / "routes.proto")])
    if status != 0:
        sys.exit(f"protoc failed with status {status}")
    sys.path.insert(0, str(gen))
    return importlib.import_module("routes_pb2")


pb = load_routes_pb2()

STRINGS = ["", "a", "Deployment", "ArgoRollout", "hotrod", "sandbox-better-route-dep-route-95f507ad.hotrod.svc",
           "4835rlwxwbwyl", "é", "日本語", "🚀 rocket", "tab\tand\"quote\\"]
# Lengths around the 1-byte/2-byte varint boundary of a length prefix; drawn rarely (file size).
LONG_STRINGS = ["x" * 127, "y" * 128, "z" * 200]
NUMBERS = [0, 1, 127, 128, 8080, 16383, 16384, 65535, 2**31 - 1, 2**31, 2**32 - 1]


def rstr(rng: random.Random) -> str:
    return rng.choice(LONG_STRINGS) if rng.random() < 0.03 else rng.choice(STRINGS)


def rnum(rng: random.Random) -> int:
    return rng.choice(NUMBERS) if rng.random() < 0.7 else rng.randrange(0, 2**32)


def fill_baseline(m, rng):
    m.SetInParent()
    m.kind, m.namespace, m.name = rstr(rng), rstr(rng), rstr(rng)


def fill_rule(m, rng):
    m.routing_key = rstr(rng)
    if rng.random() < 0.8:
        fill_baseline(m.baseline, rng)
    if rng.random() < 0.8:
        m.destination_sandbox.SetInParent()
        m.destination_sandbox.name = rstr(rng)
    for _ in range(rng.randrange(0, 4)):
        mapping = m.mappings.add()
        mapping.workload_port = rnum(rng)
        for _ in range(rng.randrange(0, 4)):
            loc = mapping.destinations.add()
            loc.host, loc.port = rstr(rng), rnum(rng)


def random_message(rng: random.Random):
    kind = rng.choice(["WorkloadRoutingRule", "WorkloadRoutingRuleOp", "GetWorkloadRoutingRulesResponse",
                       "WorkloadRoutingRulesRequest", "GetClusterServicesResponse"])
    m = getattr(pb, kind)()
    if kind == "WorkloadRoutingRule":
        fill_rule(m, rng)
    elif kind == "WorkloadRoutingRuleOp":
        m.op = rng.choice([0, 1, 2, 3, 3, 7])
        if rng.random() < 0.8:
            fill_rule(m.route, rng)
            m.route.SetInParent()
    elif kind == "GetWorkloadRoutingRulesResponse":
        for _ in range(rng.randrange(0, 4)):
            fill_rule(m.routingRules.add(), rng)
    elif kind == "WorkloadRoutingRulesRequest":
        if rng.random() < 0.6:
            fill_baseline(m.baseline_workload, rng)
        m.routing_key = rstr(rng)
        if rng.random() < 0.5:
            m.destination_sandbox.SetInParent()
            m.destination_sandbox.name = rstr(rng)
    else:
        for _ in range(rng.randrange(0, 3)):
            s = m.services.add()
            s.service_ip, s.hostname = rng.choice(["", "10.96.0.12", "fd00::1"]), rstr(rng)
            for _ in range(rng.randrange(0, 3)):
                p = s.ports.add()
                p.name, p.port, p.protocol, p.app_protocol = rstr(rng), rnum(rng), rng.choice(["", "TCP", "UDP"]), rstr(rng)
            if rng.random() < 0.5:
                s.sandbox_info.SetInParent()
                s.sandbox_info.sandbox_routing_key = rstr(rng)
                s.sandbox_info.baseline_hostname = rstr(rng)
    return kind, m


def hand_picked():
    """Edge cases named for what they pin down."""
    cases = []

    def add(name, m):
        cases.append((name, type(m).__name__, m))

    add("empty rule", pb.WorkloadRoutingRule())
    r = pb.WorkloadRoutingRule()
    r.baseline.SetInParent()
    add("present but empty baseline is written as tag + zero length", r)
    r = pb.WorkloadRoutingRule(routing_key="4835rlwxwbwyl",
                               baseline=pb.BaselineWorkload(kind="Deployment", namespace="hotrod", name="route"),
                               destination_sandbox=pb.DestinationSandbox(name="better-route"))
    mp = r.mappings.add(workload_port=8083)
    mp.destinations.add(host="sandbox-better-route-dep-route-95f507ad.hotrod.svc", port=8083)
    add("routes-api.md example rule", r)
    r2 = pb.WorkloadRoutingRule()
    r2.CopyFrom(r)
    r2.mappings.add(workload_port=9090)
    add("mapping with no destinations", r2)
    add("SYNCED op carries no route", pb.WorkloadRoutingRuleOp(op=pb.SYNCED))
    add("ADD op: enum 0 is omitted", pb.WorkloadRoutingRuleOp(op=pb.ADD, route=r))
    add("REMOVE op", pb.WorkloadRoutingRuleOp(op=pb.REMOVE, route=r))
    add("REPLACE op", pb.WorkloadRoutingRuleOp(op=pb.REPLACE, route=r))
    op = pb.WorkloadRoutingRuleOp()
    op.op = -1
    add("negative enum is a 10-byte varint", op)
    op = pb.WorkloadRoutingRuleOp()
    op.op = 99
    add("unknown enum value is kept", op)
    add("largest uint32 port", pb.Location(host="h", port=2**32 - 1))
    add("empty filter", pb.WorkloadRoutingRulesRequest())
    add("baseline-only filter", pb.WorkloadRoutingRulesRequest(
        baseline_workload=pb.BaselineWorkload(kind="Deployment", namespace="hotrod", name="route")))
    resp = pb.GetWorkloadRoutingRulesResponse()
    resp.routingRules.append(r)
    resp.routingRules.append(r2)
    add("response with two rules", resp)
    add("empty cluster services request", pb.GetClusterServicesRequest())
    cs = pb.GetClusterServicesResponse()
    s = cs.services.add(service_ip="10.96.0.12", hostname="route.hotrod.svc")
    s.ports.add(name="http", port=8083, protocol="TCP", app_protocol="http")
    s.sandbox_info.sandbox_routing_key = "4835rlwxwbwyl"
    s.sandbox_info.baseline_hostname = "route.hotrod.svc"
    add("sandboxed cluster service", cs)
    return cases


def mutations(rng: random.Random, valid: list[tuple[str, bytes]]):
    out = []
    for kind, data in valid:
        # Small messages only: the decoder's paths are the same, and the file stays small.
        if not data or len(data) > 200:
            continue
        variants = []
        for _ in range(3):
            variants.append(("cut", data[: rng.randrange(0, len(data))]))
        for _ in range(4):
            b = bytearray(data)
            i = rng.randrange(len(b))
            b[i] = rng.choice([0x00, 0x07, 0x0F, 0x80, 0xFF, b[i] ^ (1 << rng.randrange(8))])
            variants.append(("flip", bytes(b)))
        for extra in (b"\x08\x01", b"\xa8\x1f\x05", b"\x1d\x01\x02\x03\x04", b"\x11" + bytes(8),
                      b"\x7a\x02hi", b"\x0b\x08\x01\x0c", b"\x0c", b"\x0e\x00", b"\x00\x00"):
            variants.append(("splice", data + extra))
        for label, blob in variants:
            m = getattr(pb, kind)()
            try:
                m.ParseFromString(blob)
                m.DiscardUnknownFields()
                out.append({"type": kind, "how": label, "input": blob.hex(), "accepted": True,
                            "canonical": m.SerializeToString().hex()})
            except DecodeError:
                out.append({"type": kind, "how": label, "input": blob.hex(), "accepted": False, "canonical": None})
    return out


def build() -> str:
    rng = random.Random(20250528)
    cases = [(name, kind, m) for name, kind, m in hand_picked()]
    for index in range(60):
        kind, m = random_message(rng)
        cases.append((f"random {index}", kind, m))
    doc_cases = []
    valid = []
    for name, kind, m in cases:
        data = m.SerializeToString()
        valid.append((kind, data))
        doc_cases.append({"name": name, "type": kind, "json": json.loads(json_format.MessageToJson(m)),
                          "hex": data.hex()})
    doc = {
        "generator": "Tests/DevmeshRoutesAPITests/Golden/make_golden.py",
        "protobuf": google.protobuf.__version__,
        "cases": doc_cases,
        "mutations": mutations(rng, valid),
    }
    return json.dumps(doc, indent=0, sort_keys=True) + "\n"


def main() -> int:
    text = build()
    if "--check" in sys.argv:
        current = OUT.read_text() if OUT.exists() else ""
        # The runtime version is informational; everything else must match.
        strip = lambda t: "\n".join(l for l in t.splitlines() if '"protobuf":' not in l)
        if strip(current) != strip(text):
            print(f"{OUT} is stale: run {Path(__file__).name} to regenerate it", file=sys.stderr)
            return 1
        return 0
    OUT.write_text(text)
    print(f"wrote {OUT}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
