"""gRPC over raw HTTP/2 frames (grpc/grpc doc/PROTOCOL-HTTP2.md), for tests that must see the
exact framing: which HEADERS blocks came, whether a response was trailers-only, which
RST_STREAM code ended a stream. Used with harness.h2client.H2Client."""

from __future__ import annotations

import struct
from typing import Any, Sequence

ECHO = "/devmesh.test.Echo/"


def request_headers(method: str, authority: str = "devmesh.test",
                    extra: Sequence[tuple[str, str]] = ()) -> list[tuple[str, str]]:
    """The head of a gRPC call to Echo.<method>."""
    return [(":method", "POST"), (":scheme", "http"), (":path", ECHO + method), (":authority", authority),
            ("content-type", "application/grpc"), ("te", "trailers"), *extra]


def frame(message: Any) -> bytes:
    """A length-prefixed message: compressed flag 0, 4-byte big-endian length, the bytes."""
    data = message.SerializeToString()
    return struct.pack(">BI", 0, len(data)) + data


def messages(body: bytes, cls: Any) -> list[Any]:
    """Splits a response body into its length-prefixed messages."""
    out, offset = [], 0
    while offset < len(body):
        flag, length = struct.unpack_from(">BI", body, offset)
        assert flag == 0, "compressed message"
        offset += 5
        out.append(cls.FromString(body[offset:offset + length]))
        offset += length
    assert offset == len(body), "a message was cut"
    return out
