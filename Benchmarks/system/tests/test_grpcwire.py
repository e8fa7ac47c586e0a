"""gRPC message bytes: protobuf varints, exact-size payloads, the 5-byte prefix, nginx-safe bodies."""

import struct
import unittest

from devmesh_bench import grpcwire


class VarintTests(unittest.TestCase):
    def test_known_encodings(self):
        # Values from the protobuf encoding guide's worked examples and the 7-bit group edges.
        cases = [(0, b"\x00"), (1, b"\x01"), (127, b"\x7f"), (128, b"\x80\x01"), (150, b"\x96\x01"),
                 (300, b"\xac\x02"), (16383, b"\xff\x7f"), (16384, b"\x80\x80\x01")]
        for value, encoded in cases:
            with self.subTest(value=value):
                self.assertEqual(grpcwire.varint(value), encoded)

    def test_negative_is_refused(self):
        with self.assertRaises(ValueError):
            grpcwire.varint(-1)


class PayloadTests(unittest.TestCase):
    def test_every_size_is_exact_and_decodes(self):
        for size in list(range(grpcwire.MIN_MESSAGE_BYTES, 300)) + [4096, 16384, 16385, 65536]:
            with self.subTest(size=size):
                try:
                    message = grpcwire.payload(size, sent_ns=123456789)
                except ValueError:
                    # Only sizes a varint boundary makes unreachable may be refused; say which.
                    self.assertIn(size, _UNREACHABLE, f"size {size} refused")
                    continue
                self.assertEqual(len(message), size)
                self.assertEqual(grpcwire.sent_ns_of(message), 123456789)
                self.assertEqual(_decode_filler_length(message), size - 10 - len(_varint_prefix(message)))

    def test_too_small_is_refused(self):
        with self.assertRaises(ValueError):
            grpcwire.payload(grpcwire.MIN_MESSAGE_BYTES - 1)

    def test_sent_ns_needs_field_one_first(self):
        with self.assertRaises(ValueError):
            grpcwire.sent_ns_of(b"\x12\x01x")


def _varint_prefix(message: bytes) -> bytes:
    """The varint bytes after field 2's tag (at offset 10)."""
    end = 11
    while message[end - 1] & 0x80:
        end += 1
    return message[10:end]


def _decode_filler_length(message: bytes) -> int:
    if message[9] != 0x12:
        raise AssertionError("field 2's tag byte is missing")
    value, shift = 0, 0
    for byte in _varint_prefix(message):
        value |= (byte & 0x7F) << shift
        shift += 7
    return value


# 10 + 1 + 127 = 138 is the largest size with a one-byte length; 139 would need a filler of 127
# behind a two-byte varint (which needs >= 128): the one size each boundary cannot reach.
_UNREACHABLE = {138 + 1}


class FrameTests(unittest.TestCase):
    def test_prefix_layout(self):
        framed = grpcwire.frame(b"abc")
        self.assertEqual(framed[:5], b"\x00\x00\x00\x00\x03")
        self.assertEqual(grpcwire.frame(b"", compressed=True)[:1], b"\x01")
        self.assertEqual(struct.unpack(">I", grpcwire.unary_body(4096)[1:5])[0], 4096)

    def test_unframe_round_trip_and_errors(self):
        body = grpcwire.frame(b"one") + grpcwire.frame(b"") + grpcwire.frame(b"three")
        self.assertEqual(grpcwire.unframe(body), [b"one", b"", b"three"])
        for bad in (body[:-1], body[:3], grpcwire.frame(b"x", compressed=True)):
            with self.subTest(bad=bad[:8]):
                with self.assertRaises(ValueError):
                    grpcwire.unframe(bad)

    def test_unary_bodies_are_nginx_safe(self):
        for size in (100, 4096):
            with self.subTest(size=size):
                self.assertTrue(grpcwire.nginx_quoted_safe(grpcwire.unary_body(size)))
        self.assertFalse(grpcwire.nginx_quoted_safe(b'ab"c'))
        self.assertFalse(grpcwire.nginx_quoted_safe(b"$x"))
        self.assertFalse(grpcwire.nginx_quoted_safe(b"a\\b"))


if __name__ == "__main__":
    unittest.main()
