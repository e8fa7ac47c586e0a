"""gRPC messages as bytes, for the gRPC scenarios (S6, S7), with no protobuf package.

A gRPC message on the wire is a 5-byte prefix (one compression-flag byte, then the length as a
4-byte big-endian unsigned integer) followed by the serialized message (the gRPC over HTTP/2
protocol document, "Length-Prefixed-Message"). The messages here are one protobuf message of the
shape

    message Payload { fixed64 sent_ns = 1; bytes filler = 2; }

encoded by hand: field 1 is a fixed64 (wire type 1, tag byte 0x09) and field 2 a length-delimited
bytes field (wire type 2, tag byte 0x12) whose length is a base-128 varint (protobuf encoding
guide). The unary scenario (S6) leaves `sent_ns` at 0; the streaming client (S7) puts the
intended send time there, so the echo it gets back says when the message was meant to leave.

The same bytes serve as h2load's request body file and as the body nginx returns, so `size`
always means the serialized protobuf message (without the 5-byte prefix).
"""

from __future__ import annotations

import struct

PREFIX_BYTES = 5
#: tag (1) + fixed64 (8) + tag (1) + the shortest varint (1): the smallest Payload with a filler field.
MIN_MESSAGE_BYTES = 11


def varint(value: int) -> bytes:
    """Protobuf base-128 varint: 7 bits per byte, least significant group first, high bit = more."""
    if value < 0:
        raise ValueError("varints here are unsigned")
    out = bytearray()
    while True:
        byte = value & 0x7F
        value >>= 7
        if value:
            out.append(byte | 0x80)
        else:
            out.append(byte)
            return bytes(out)


def payload(size: int, sent_ns: int = 0, fill: bytes = b"x") -> bytes:
    """A serialized Payload of exactly `size` bytes carrying `sent_ns`."""
    if size < MIN_MESSAGE_BYTES:
        raise ValueError(f"a Payload needs at least {MIN_MESSAGE_BYTES} bytes")
    head = b"\x09" + struct.pack("<Q", sent_ns) + b"\x12"
    # The filler's varint length shrinks the room left for the filler itself: find the length
    # whose varint plus itself fills the message exactly (a varint step may leave one byte
    # unreachable, which a one-byte-longer varint of the same value cannot fill: refuse it).
    room = size - len(head)
    for length_bytes in range(1, 6):
        filler_len = room - length_bytes
        if filler_len >= 0 and len(varint(filler_len)) == length_bytes:
            return head + varint(filler_len) + (fill * (filler_len // len(fill) + 1))[:filler_len]
    raise ValueError(f"no Payload encoding of exactly {size} bytes")


def frame(message: bytes, compressed: bool = False) -> bytes:
    """The 5-byte length prefix and the message."""
    return struct.pack(">BI", 1 if compressed else 0, len(message)) + message


def unframe(data: bytes) -> list[bytes]:
    """Split a body into its messages; raises ValueError on a truncated or compressed one."""
    messages, offset = [], 0
    while offset < len(data):
        if len(data) - offset < PREFIX_BYTES:
            raise ValueError("truncated gRPC prefix")
        flag, length = struct.unpack_from(">BI", data, offset)
        if flag != 0:
            raise ValueError("compressed gRPC message")
        offset += PREFIX_BYTES
        if len(data) - offset < length:
            raise ValueError("truncated gRPC message")
        messages.append(data[offset:offset + length])
        offset += length
    return messages


def sent_ns_of(message: bytes) -> int:
    """The `sent_ns` field of a Payload made by `payload()` (field 1 comes first)."""
    if len(message) < 9 or message[0] != 0x09:
        raise ValueError("not a Payload with sent_ns first")
    return struct.unpack_from("<Q", message, 1)[0]


def unary_body(size: int) -> bytes:
    """The framed request or response body of the unary scenario: one Payload of `size` bytes."""
    return frame(payload(size))


#: Bytes that cannot stand raw inside a double-quoted nginx string: the quote ends it, a
#: backslash starts an escape and a dollar sign starts a variable.
NGINX_UNSAFE = frozenset(b'"\\$')


def nginx_quoted_safe(body: bytes) -> bool:
    """True when `body` may be written raw between double quotes in an nginx config (`return 200 "..."`)."""
    return not any(b in NGINX_UNSAFE for b in body)
