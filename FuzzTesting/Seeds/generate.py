#!/usr/bin/env python3
"""Writes the seed corpora under FuzzTesting/Corpus/<target>/ (run from anywhere; idempotent).

Seeds are realistic inputs for each target's input format (docs/fuzzing.md): the request
smuggling families of Tests/integration/test_smuggling.py, the carrier vectors of
notes/carriers.md §9, the example configurations in config/. libFuzzer starts from them and
keeps the new inputs it finds in the same folders when scripts/fuzz.sh runs.
"""
from __future__ import annotations

import hashlib
import random
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
CORPUS = ROOT / "FuzzTesting" / "Corpus"

GET = b"GET / HTTP/1.1\r\nHost: test.local\r\n"
POST = b"POST / HTTP/1.1\r\nHost: test.local\r\n"

REQUESTS = [
    GET + b"\r\n",
    b"GET /index.html?q=1 HTTP/1.1\r\nHost: example.com\r\nUser-Agent: curl/8.0\r\nAccept: */*\r\n\r\n",
    b"\r\n\r\nGET / HTTP/1.1\r\nHost: a\r\n\r\n",
    b"GET http://test.local/abs HTTP/1.1\r\nHost: test.local\r\n\r\n",
    b"OPTIONS * HTTP/1.1\r\nHost: a\r\n\r\n",
    b"CONNECT example.com:443 HTTP/1.1\r\nHost: example.com:443\r\n\r\n",
    b"GET / HTTP/1.0\r\n\r\n",
    b"GET / HTTP/1.0\r\nConnection: keep-alive\r\nKeep-Alive: timeout=5\r\n\r\n",
    POST + b"Content-Length: 5\r\n\r\nhello",
    POST + b"Transfer-Encoding: chunked\r\n\r\n5;ext=1\r\nhello\r\n0\r\n\r\n",
    POST + b"Transfer-Encoding: Chunked\r\nExpect: 100-continue\r\n\r\n",
    GET + b"Connection: Upgrade\r\nUpgrade: websocket\r\nSec-WebSocket-Version: 13\r\n\r\n",
    GET + b"Connection: Upgrade, HTTP2-Settings\r\nUpgrade: h2c\r\nHTTP2-Settings: AAMAAABkAAQAAP__\r\n\r\n",
    GET + b"Connection: close, X-Secret\r\nX-Secret: 1\r\nTE: trailers\r\nProxy-Connection: keep-alive\r\n\r\n",
    GET + b"Connection: baggage, content-length, host\r\nbaggage: sd-routing-key=4835rlwxwbwyl\r\n\r\n",
    # `Connection` naming the framing fields or Host: a client trying to un-frame its own body
    # (ARCHITECTURE.md: those fields are never dropped).
    POST + b"Connection: content-length\r\nContent-Length: 5\r\n\r\nhello",
    POST + b"Transfer-Encoding: chunked\r\nConnection: Transfer-Encoding, keep-alive\r\n\r\n0\r\n\r\n",
    b"GET / HTTP/1.1\r\nConnection: host, x-b3-sampled\r\nHost: a\r\nX-B3-Sampled: 1\r\n\r\n",
    GET + b"baggage: sd-routing-key=4835rlwxwbwyl\r\ntracestate: rojo=00f067aa0ba902b7\r\n\r\n",
    GET + b"X-Ok: a\tb \xe9t\xe9\r\n\r\n",
    GET + b"".join(b"X-H%d: v\r\n" % i for i in range(23)) + b"\r\n",
    # Smuggling and strictness families (each one must be refused).
    POST + b"Content-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n",
    POST + b"Transfer-Encoding: chunked\r\nContent-Length: 5\r\n\r\n0\r\n\r\n",
    POST + b"Content-Length: 5\r\nContent-Length: 5\r\n\r\nhello",
    POST + b"Content-Length: 5, 5\r\n\r\nhello",
    POST + b"Content-Length: +5\r\n\r\nhello",
    POST + b"Content-Length: 99999999999999999999999\r\n\r\n",
    b"POST / HTTP/1.0\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n",
    POST + b"Transfer-Encoding: chunked, gzip\r\n\r\n",
    POST + b"Transfer-Encoding: gzip, chunked\r\n\r\n",
    POST + b"Transfer-Encoding: chunked;q=1\r\n\r\n",
    POST + b"Transfer-Encoding: chunked\r\nTransfer-Encoding: chunked\r\n\r\n",
    POST + b"Transfer-Encoding: xchunked\r\n\r\n",
    GET + b"X-Folded: a\r\n b\r\n\r\n",
    GET + b"X-Bad: a\x00b\r\n\r\n",
    GET + b"X-Bad: a\rb\r\n\r\n",
    GET + b"X-Bad : v\r\n\r\n",
    GET + b": v\r\n\r\n",
    b"GET / HTTP/1.1\r\nX-A: b\r\n\r\n",
    GET + b"Host: other.local\r\n\r\n",
    b"GET / HTTP/1.1\r\nHost: a b\r\n\r\n",
    b"GET  / HTTP/1.1\r\nHost: a\r\n\r\n",
    b"GET /\r\n\r\n",
    b"GET / http/1.1\r\nHost: a\r\n\r\n",
    b"GET / HTTP/3.0\r\nHost: a\r\n\r\n",
    b"GET / HTTP/1.1\nHost: a\n\n",
]

RESPONSES = [
    b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nhello",
    b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\n\r\n",
    b"HTTP/1.1 200 OK\r\n\r\nuntil close",
    b"HTTP/1.0 200 OK\r\nConnection: keep-alive\r\nContent-Length: 0\r\n\r\n",
    b"HTTP/1.1 204 No Content\r\n\r\n",
    b"HTTP/1.1 304 Not Modified\r\nETag: \"x\"\r\n\r\n",
    b"HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n",
    b"HTTP/1.1 101 Switching Protocols\r\nConnection: Upgrade\r\nUpgrade: websocket\r\n\r\n",
    b"HTTP/1.1 200\r\nContent-Length: 0\r\n\r\n",
    b"HTTP/1.1 502 Bad Gateway\r\nConnection: close, X-Up\r\nX-Up: 1\r\nKeep-Alive: timeout=5\r\n\r\n",
    b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n",
    b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\nContent-Length: 6\r\n\r\n",
    b"HTTP/1.1 200 OK\r\nContent-Length: x\r\n\r\n",
    b"HTTP/1.1 99 Low\r\n\r\n",
    b"HTTP/1.1 600 High\r\n\r\n",
    b"HTTP/2.0 200 OK\r\n\r\n",
    b"HTTP/1.1 200 OK\r\nSet-Cookie: a=b\r\nSet-Cookie: c=d\r\nVary: *\r\n\r\n",
]
# FuzzHTTP1Response: the first byte picks the request method (index into HTTPMethod.allCases:
# get, head, post, put, delete, connect, options, trace, patch, other).
METHOD_GET, METHOD_HEAD, METHOD_CONNECT = 0, 1, 5

CHUNKED = [
    b"0\r\n\r\n",
    b"5\r\nhello\r\n0\r\n\r\n",
    b"5;ext=1\r\nhello\r\n0\r\n\r\n",
    b"5 ; name=\"quoted value\"\r\nhello\r\n6\r\n world\r\n0\r\n\r\n",
    b"A\r\n0123456789\r\n0\r\nExpires: never\r\nX-Checksum: abc\r\n\r\n",
    b"000\r\n\r\n",
    b"1\r\nx\r\n0\r\nGrpc-Status: 0\r\nGrpc-Message: ok\r\n\r\nGET / HTTP/1.1\r\n",
    b"zz\r\nhello\r\n0\r\n\r\n",
    b"fffffffffffffffffff1\r\nhello\r\n0\r\n\r\n",
    b"7fffffffffffffff\r\n",
    b"8000000000000000\r\n",
    b"-5\r\nhello\r\n0\r\n\r\n",
    b"5\nhello\r\n0\r\n\r\n",
    b"5\r\nhelloXX0\r\n\r\n",
    b"5\r\nhello\n0\r\n\r\n",
    b"0\r\nX: a\r\n b\r\n\r\n",
    b"0\r\nX : a\r\n\r\n",
    b"0\r\nX: a\x00\r\n\r\n",
    b"5;" + b"e" * 70 + b"\r\nhello\r\n0\r\n\r\n",
]

def rewriter(flags_response: bool, insert: bool, method: int, headroom8: int, head: bytes) -> bytes:
    flags = (1 if flags_response else 0) | (2 if insert else 0) | (method & 7) << 2 | (headroom8 & 7) << 5
    return bytes([flags]) + head

RK = "4835rlwxwbwyl"
CARRIER_VECTORS = [
    [f"baggage: sd-routing-key={RK}"],
    [f"baggage: userId=alice, sd-routing-key = {RK} ,isProduction=false"],
    [f"baggage: sd-routing-key={RK};ttl=60;sampled"],
    ["baggage: sd-routing-key=4835rlw%78wbwyl"],
    ["baggage: sd-routing-key=ab%2"],
    ["baggage: userId=alice", f"baggage: sd-routing-key={RK}"],
    ["baggage: sd-routing-key=k1,sd-routing-key=k2"],
    [f"baggage: foo bar=1,sd-routing-key={RK}"],
    [f'baggage: sd-routing-key="{RK}"'],
    [f"baggage: ,, sd-routing-key={RK} ,"],
    [f"BAGGAGE: SD-ROUTING-KEY={RK}"],
    [f"baggage: sd-sandbox={RK}"],
    [f"baggage: sd-routing-key={RK},sd-sandbox={RK}"],
    ["baggage: sd-routing-key=a+b"],
    [f"tracestate: sd-routing-key={RK}"],
    ["traceparent: 00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01",
     f"tracestate: rojo=00f067aa0ba902b7, sd-routing-key={RK}"],
    [f"UberCtx-SD-Routing-Key: {RK}"],
    [f"ot-baggage-sd-routing-key: {RK}"],
    [f"baggage-sd-routing-key: {RK}"],
    ["b3: 80f198ee56343ba864fe8b2a57d3eff7-e457b5a2e4d86bd1-1", "x-b3-sampled: 1"],
    [f"jaeger-baggage: sd-routing-key={RK}, foo=bar"],
    [f"x-sandbox:   {RK}  "],
    ["baggage: sd-routing-key=k1", "uberctx-sd-routing-key: k2"],
    ["baggage: sd-routing-key="],
    ["baggage: " + ",".join([f"m{i}=v" for i in range(65)] + [f"sd-routing-key={RK}"] + ["a=b"] * 4)],
    [f"baggage: sd-routing-key={RK}/../x"],
    ["x-sandbox: a", "baggage: sd-workspace=w1,sd-sandbox=s1,sd-routing-key=r1", "tracestate: sd-routing-key=t1",
     "uberctx-sd-sandbox: u1", "ot-baggage-sd-workspace: o1", "baggage-sd-routing-key: b1",
     "jaeger-baggage: sd-routing-key=j1", "x-b: c", "uberctx-sd-routing-key: u2"],
]

def write(target: str, name: str, data: bytes) -> None:
    folder = CORPUS / target
    folder.mkdir(parents=True, exist_ok=True)
    (folder / f"seed-{name}").write_bytes(data)

def digest(data: bytes) -> str:
    return hashlib.sha1(data).hexdigest()[:12]

def main() -> None:
    for data in REQUESTS:
        write("FuzzHTTP1Request", digest(data), data)
    for data in RESPONSES:
        for method in (METHOD_GET, METHOD_HEAD, METHOD_CONNECT):
            seed = bytes([method]) + data
            write("FuzzHTTP1Response", digest(seed), seed)
    for data in CHUNKED:
        write("FuzzChunkedBody", digest(data), data)
    for index, data in enumerate(REQUESTS[:18]):
        for insert in (False, True):
            seed = rewriter(False, insert, 0, index % 8, data)
            write("FuzzHeadRewriter", digest(seed), seed)
    for index, data in enumerate(RESPONSES[:10]):
        for insert in (False, True):
            seed = rewriter(True, insert, index % 8, index % 8, data)
            write("FuzzHeadRewriter", digest(seed), seed)
    # FuzzCarriers: first byte picks the carrier configuration, then one header per line.
    for index, lines in enumerate(CARRIER_VECTORS):
        for spec in (0, 1, 2, 3):
            seed = bytes([spec]) + "\n".join(lines).encode()
            write("FuzzCarriers", digest(seed), seed)
    # FuzzRouteTable decodes its bytes as choices (ByteReader): any bytes are a spec.
    generator = random.Random(20240601)
    for index in range(24):
        seed = bytes(generator.randrange(256) for _ in range(generator.randrange(16, 200)))
        write("FuzzRouteTable", digest(seed), seed)
    for path in sorted((ROOT / "config").glob("*.yaml")) + sorted((ROOT / "FuzzTesting" / "Seeds" / "config").glob("*.yaml")):
        data = path.read_bytes()
        write("FuzzConfigLoader", digest(data), data)

if __name__ == "__main__":
    main()
