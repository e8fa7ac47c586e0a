#!/usr/bin/env python3
"""Writes the seed corpora of FuzzRouteUpdate and FuzzRoutesJSON (run from anywhere; idempotent).

FuzzRouteUpdate inputs are one selector byte and a protobuf message or a gRPC stream
(FuzzTesting/Sources/FuzzRouteUpdate/main.swift): the seeds are every case and mutation of
Tests/DevmeshRoutesAPITests/Golden/golden.json (encodings checked against the reference protobuf
runtime) plus hand-made edge cases of the wire format. FuzzRoutesJSON inputs are JSON texts:
the golden cases' JSON forms, Routes API bodies and hand-made documents at the edges of RFC 8259.
"""
from __future__ import annotations

import hashlib
import json
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
CORPUS = ROOT / "FuzzTesting" / "Corpus"
GOLDEN = ROOT / "Tests" / "DevmeshRoutesAPITests" / "Golden" / "golden.json"

# Selector byte of FuzzRouteUpdate for each message type it decodes.
SELECTOR = {
    "WorkloadRoutingRuleOp": 0,
    "GetWorkloadRoutingRulesResponse": 1,
    "WorkloadRoutingRule": 2,
    "WorkloadRoutingRulesRequest": 3,
    "GetClusterServicesResponse": 4,
}
FRAMING = 5  # 5 and above: a gRPC stream chunked in (selector % 16) + 1 byte pieces


def varint(value: int) -> bytes:
    out = bytearray()
    while True:
        byte = value & 0x7F
        value >>= 7
        if value:
            out.append(byte | 0x80)
        else:
            out.append(byte)
            return bytes(out)


def key(number: int, wire_type: int) -> bytes:
    return varint(number << 3 | wire_type)


def length_delimited(number: int, payload: bytes) -> bytes:
    return key(number, 2) + varint(len(payload)) + payload


def grpc_frame(message: bytes, flag: int = 0) -> bytes:
    return bytes([flag]) + len(message).to_bytes(4, "big") + message


RULE = bytes.fromhex(
    "0a0d34383335726c7778776277796c121b0a0a4465706c6f796d656e741206686f74726f641a05726f7574651a0e0a0c"
    "6265747465722d726f757465223c08933f12370a3273616e64626f782d6265747465722d726f7574652d6465702d726f"
    "7574652d39356635303761642e686f74726f642e73766310933f")


def hand_made_protobuf() -> list[bytes]:
    op_add = key(1, 0) + varint(0) + length_delimited(2, RULE)
    synced = key(1, 0) + varint(3)
    return [
        bytes([0]) + op_add,
        bytes([0]) + synced,
        bytes([0]) + key(1, 0) + varint(2**64 - 1),                        # negative enum, 10-byte varint
        bytes([0]) + key(1, 0) + b"\xff" * 10 + b"\x01",                   # 11-byte varint
        bytes([0]) + key(2, 2) + varint(len(RULE)) + RULE[:-3],            # length past the end
        bytes([0]) + length_delimited(2, RULE) + length_delimited(2, RULE),  # sub-messages merge
        bytes([2]) + key(99, 3) + key(1, 0) + varint(1) + key(99, 4),      # unknown group skipped
        bytes([2]) + key(7, 3) * 70 + key(7, 4) * 70,                      # groups nested too deep
        bytes([2]) + key(7, 4),                                            # end group without a start
        bytes([2]) + key(2**29 - 1, 5) + b"\0\0\0\0" + key(3, 1) + b"\0" * 8,  # unknown fixed32/64
        bytes([2]) + varint(0),                                            # field number 0
        bytes([2]) + varint((2**29) << 3),                                 # field number too large
        bytes([2]) + bytes([0x0E]),                                        # wire type 6
        bytes([2]) + length_delimited(1, b"\xc3\x28"),                     # routing key not UTF-8
        bytes([2]) + length_delimited(1, b"a") + length_delimited(1, b"b"),  # last scalar wins
        bytes([1]) + length_delimited(1, RULE) * 3,
        bytes([3]) + length_delimited(2, b"4835rlwxwbwyl"),
        bytes([FRAMING]) + grpc_frame(op_add) + grpc_frame(synced),
        bytes([FRAMING + 3]) + grpc_frame(op_add) + grpc_frame(b"") + grpc_frame(synced)[:3],  # cut short
        bytes([FRAMING]) + grpc_frame(op_add, flag=1),                     # compressed
        bytes([FRAMING + 1]) + grpc_frame(op_add, flag=2),                 # bad flag
        bytes([FRAMING + 7]) + b"\0\0\0\x02\x01" + b"x" * 16,              # above the fuzz limit
        bytes([FRAMING + 10]) + grpc_frame(length_delimited(2, b"\x08")),  # framed, bad inside
    ]


JSON_DOCUMENTS = [
    b"{}", b"[]", b"null", b"true", b"false", b"0", b"-0", b"-0.0", b"1e308", b"1e309", b"-1.5E-3",
    b"4.9e-324", b"9007199254740993", b"123456789012345678901234567890", b"0.1", b"01", b"1.", b".5",
    b'""', b'"\\u0000\\b\\f\\n\\r\\t\\/\\\\\\""', b'"\\ud83d\\ude80"', b'"\\ud83d"', b'"\\ude80x"',
    b'"\xc3\xa9\xe6\x97\xa5"', b'"\xc3\x28"', b'"\xed\xa0\x80"', b'"\xf4\x90\x80\x80"', b'"e\xcc\x81"',
    b'{"\xc3\xa9":1,"e\xcc\x81":2}', b'{"a":1,"a":2}', b'{"a":1,}', b"[1,]", b" \t\r\n[ 1 , 2 ]\n",
    b"[" * 64 + b"]" * 64, b"[" * 65 + b"]" * 65, b'{"a":' * 63 + b"0" + b"}" * 63, b"[1] x", b"\xef\xbb\xbf{}",
    b'{"routingKey":"k","baseline":null}', b'{"routingKey":1}', b'{"mappings":[{"workloadPort":-1}]}',
    b'{"mappings":[{"workloadPort":4294967296}]}', b'{"mappings":[{"workloadPort":80.5}]}',
    b'{"routingKey":"k","unknown":{"x":[]}}',
]


def write(target: str, inputs: list[bytes]) -> None:
    folder = CORPUS / target
    folder.mkdir(parents=True, exist_ok=True)
    for data in inputs:
        (folder / ("seed-" + hashlib.sha1(data).hexdigest()[:12])).write_bytes(data)
    print(f"{target}: {len(inputs)} seeds")


def main() -> None:
    golden = json.loads(GOLDEN.read_text())
    route_update, routes_json = [], []
    for case in golden["cases"]:
        selector = SELECTOR.get(case["type"])
        if selector is not None:
            message = bytes.fromhex(case["hex"])
            route_update.append(bytes([selector]) + message)
            if case["type"] == "WorkloadRoutingRuleOp":
                route_update.append(bytes([FRAMING + len(message) % 16]) + grpc_frame(message))
        if "json" in case:
            routes_json.append(json.dumps(case["json"], separators=(",", ":"), ensure_ascii=False).encode())
            routes_json.append(json.dumps(case["json"], indent=2).encode())
    # The golden mutations (cut, flipped and spliced encodings) are 864; one in eight of each
    # kind is enough for a start, libFuzzer makes the rest.
    seen: dict[tuple[str, bool], int] = {}
    for mutation in golden["mutations"]:
        selector = SELECTOR.get(mutation["type"])
        kind = (mutation["how"], mutation["accepted"])
        seen[kind] = seen.get(kind, 0) + 1
        if selector is not None and seen[kind] % 8 == 1:
            route_update.append(bytes([selector]) + bytes.fromhex(mutation["input"]))
    route_update += hand_made_protobuf()
    write("FuzzRouteUpdate", sorted(set(route_update)))
    write("FuzzRoutesJSON", sorted(set(routes_json + JSON_DOCUMENTS)))


if __name__ == "__main__":
    main()
