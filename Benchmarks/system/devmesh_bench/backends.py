"""The backends every target forwards to, started once per run and shared by all targets.

- nginx (one instance, on the generators' CPU): HTTP/1.1 on the baseline and sandbox ports, an
  upload sink, and an h2c port for S4/S6 that answers `/` with the same 100 B and
  `/bench.Bench/Unary<size>` like a gRPC server (one message, grpc-status 0 in the trailers).
- the Python gRPC echo server (grpc_tool serve), started only when S7 first needs it.
"""

from __future__ import annotations

from pathlib import Path

from . import grpcwire
from .procs import HarnessError, free_port, wait_grpc_ok, wait_h2_ok, wait_http_ok, wait_log_line
from .targets import (GRPC_STREAM, H2_MAX_CONCURRENT_STREAMS, H2_STREAM_WINDOW_BYTES, Environment, grpc_unary_path,
                      padded_body, render)


def start_backend(env: Environment) -> None:
    """Start (or restart) the backend nginx, which runs on the load generators' CPU, and its data files."""
    directory = env.target_dir("backend")
    data = env.run_dir / "data"
    (data / "bytes").mkdir(parents=True, exist_ok=True)
    for name, size in (("1k", 1024), ("64k", 64 * 1024), ("1m", 1024 * 1024)):
        (data / "bytes" / f"{name}.bin").write_bytes(b"x" * size)
    for size in env.grpc_sizes:
        grpc_request_file(env, size).write_bytes(grpcwire.unary_body(size))
    if not env.backend_port:  # a restart keeps the ports every config already names
        env.backend_port, env.sandbox_port, env.sink_port = free_port(), free_port(), free_port()
        env.h2_backend_port = free_port()
    conf = directory / "nginx.conf"
    conf.write_bytes(render_backend_config(env, directory, data))
    child = env.supervisor.start("backend", ["nginx", "-p", str(directory), "-c", str(conf),
                                             "-e", str(directory / "error.log")])
    env.backend_child = child
    wait_http_ok(env.backend_port, child)
    wait_http_ok(env.sandbox_port, child)
    wait_h2_ok(env.h2_backend_port, child)
    # nginx standing in for a gRPC server: grpcio must accept its answers, or S6 means nothing.
    for size in env.grpc_sizes:
        wait_grpc_ok(env.grpc_check_argv(env.h2_backend_port, grpc_unary_path(size), size), env.tool_env, child)


#: Stands in the rendered backend config where the raw gRPC bodies go (they are bytes, not text).
_GRPC_BODIES_MARK = "@@devmesh-bench-grpc-bodies@@"
#: Bytes per nginx map value: well below the 4 KiB a config token may hold.
NGINX_TOKEN_CHUNK = 1500


def grpc_request_file(env: Environment, size: int) -> Path:
    """h2load's request body for the unary method of `size` (`-d`): the framed Payload."""
    return env.run_dir / "data" / f"grpc-{size}.grpc"


def nginx_grpc_bodies(sizes: tuple[int, ...], www: Path) -> tuple[bytes, str]:
    """The `map` blocks holding each gRPC response body, and the h2c locations that answer calls.

    `return 200 "<bytes>"` is how nginx answers without touching a file; the body is written raw
    (NULs and all, which nginx's parser keeps), cut into map values that each fit one token.

    A gRPC server answers a unary call once it has read the request message. A bare `return` in
    the call's location answers on the request's HEADERS, before its DATA; nginx then resets or
    ignores the rest of the stream, and a proxy that already forwarded that DATA on a reused
    upstream connection sees frames for a stream it has closed. nginx's grpc_pass failed such
    calls with 502 ("upstream sent frame for unknown stream") and HAProxy with stream errors:
    the backend's shortcut, not the proxies'. So the body is read first, at the least cost found
    (h2load, 100 B, c4 m32, nginx and h2load sharing one CPU: plain `return` 37.5k calls/s, this
    24.5k, buffering through a loopback `proxy_pass` to a sink 13-17k):
    `mirror_request_body on` reads the whole body before the content phase (the mirror
    subrequest itself only answers 204 in-process); the static module then refuses the POST of
    an existing empty file with 405, and `error_page 405 =` hands the call to a named location
    whose `return` is the answer, with its trailer.
    """
    maps, locations = [], []
    for size in sizes:
        body = grpcwire.unary_body(size)
        if not grpcwire.nginx_quoted_safe(body):
            raise HarnessError(f"the gRPC body of {size} bytes cannot be written into an nginx string")
        names = []
        for index in range(0, len(body), NGINX_TOKEN_CHUNK):
            name = f"$grpc_body_{size}_{index // NGINX_TOKEN_CHUNK}"
            names.append(name)
            maps.append(b'    map "" ' + name.encode() + b' { default "' + body[index:index + NGINX_TOKEN_CHUNK]
                        + b'"; }\n')
        locations.append(f"        location = {grpc_unary_path(size)} {{\n"
                         f"            root {www};\n"
                         f"            client_body_buffer_size 64k;\n"
                         f"            mirror /_grpc_read_body;\n"
                         f"            mirror_request_body on;\n"
                         f"            error_page 405 = @grpc_answer_{size};\n"
                         f"        }}\n"
                         f"        location @grpc_answer_{size} {{\n"
                         f"            default_type application/grpc;\n"
                         f"            add_trailer grpc-status 0 always;\n"
                         f'            return 200 "{"".join(names)}";\n'
                         f"        }}")
    locations.append("        location = /_grpc_read_body { internal; return 204; }")
    return b"".join(maps), "\n".join(locations)


def grpc_www(data: Path, sizes: tuple[int, ...]) -> Path:
    """The empty files the static module finds (and refuses to POST to) for each unary method."""
    www = data / "grpc-www"
    for size in sizes:
        path = www / grpc_unary_path(size).lstrip("/")
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(b"")
    return www


def render_backend_config(env: Environment, directory: Path, data: Path) -> bytes:
    grpc_maps, grpc_locations = nginx_grpc_bodies(env.grpc_sizes, grpc_www(data, env.grpc_sizes))
    text = render("nginx-backend.conf.tmpl", dir=directory, nofile=env.nofile,
                  worker_connections=env.nofile - 100, port=env.backend_port,
                  sandbox_port=env.sandbox_port, sink_port=env.sink_port, data_dir=data,
                  baseline_body=padded_body("baseline"), sandbox_body=padded_body("sandbox"),
                  h2_port=env.h2_backend_port, h2_streams=H2_MAX_CONCURRENT_STREAMS,
                  h2_stream_window=H2_STREAM_WINDOW_BYTES, grpc_bodies=_GRPC_BODIES_MARK,
                  grpc_locations=grpc_locations)
    return text.encode().replace(_GRPC_BODIES_MARK.encode(), grpc_maps.rstrip(b"\n"))


def start_grpc_echo(env: Environment) -> None:
    """Start (or restart) S7's gRPC echo server on the generators' CPU, like the nginx backend."""
    if env.grpc_echo_child is not None and env.grpc_echo_child.alive():
        return
    if not env.grpc_echo_port:
        env.grpc_echo_port = free_port()
    child = env.supervisor.start("grpc-echo", env.tool_argv("grpc_tool", "serve", "--port", str(env.grpc_echo_port)),
                                 env=env.tool_env)
    env.grpc_echo_child = child
    wait_log_line(child, "grpc-echo: listening on ")
    env.wait_ready(env.grpc_echo_port, child, GRPC_STREAM)
