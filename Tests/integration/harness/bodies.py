"""Deterministic bodies: both ends of a transfer can produce and check them without storing them.

A body of n bytes is the first n bytes of an endless repetition of one pseudo-random block.
The block length is odd (1 MiB + 7), so a lost, duplicated or re-ordered piece of any
power-of-two size changes the SHA-256 even when the length happens to match.
"""

from __future__ import annotations

import hashlib
import random
import threading
from typing import Iterator

_BLOCK = random.Random(0xDE7E5).randbytes(1024 * 1024 + 7)
_digest_cache: dict[int, str] = {}
_cache_lock = threading.Lock()


def pattern_chunks(n: int, chunk: int = 64 * 1024) -> Iterator[memoryview]:
    """Yields the body of n bytes in pieces of at most `chunk` bytes, without building it whole."""
    view = memoryview(_BLOCK)
    offset = 0
    while n > 0:
        take = min(chunk, n, len(_BLOCK) - offset)
        yield view[offset:offset + take]
        n -= take
        offset = (offset + take) % len(_BLOCK)


def pattern(n: int) -> bytes:
    """The whole body of n bytes (use for small bodies only)."""
    return b"".join(pattern_chunks(n))


def pattern_sha256(n: int) -> str:
    """Hex SHA-256 of the body of n bytes, cached because large bodies are hashed repeatedly."""
    with _cache_lock:
        if n in _digest_cache:
            return _digest_cache[n]
    h = hashlib.sha256()
    for piece in pattern_chunks(n, 1024 * 1024):
        h.update(piece)
    digest = h.hexdigest()
    with _cache_lock:
        _digest_cache[n] = digest
    return digest


def sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()
