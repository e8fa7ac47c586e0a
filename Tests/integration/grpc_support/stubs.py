"""The Python stubs of echo.proto, generated once per test run with grpc_tools.protoc.

Generating them takes well under a second and keeps generated code out of the repository: the
.proto is the only source, and a change to it can never leave stale stubs behind.
"""

from __future__ import annotations

import atexit
import importlib
import shutil
import sys
import tempfile
from pathlib import Path
from types import ModuleType
from typing import Optional

HERE = Path(__file__).resolve().parent
PROTO = HERE / "echo.proto"

_loaded: Optional[tuple[ModuleType, ModuleType]] = None


def load() -> tuple[ModuleType, ModuleType]:
    """(echo_pb2, echo_pb2_grpc), generated into a temporary directory on first use."""
    global _loaded
    if _loaded is not None:
        return _loaded
    from grpc_tools import protoc

    out = Path(tempfile.mkdtemp(prefix="devmesh-grpc-stubs-"))
    atexit.register(shutil.rmtree, out, True)
    status = protoc.main(["grpc_tools.protoc", f"-I{HERE}", f"--python_out={out}", f"--grpc_python_out={out}",
                          str(PROTO)])
    if status != 0:
        raise RuntimeError(f"grpc_tools.protoc failed on {PROTO} (exit {status})")
    sys.path.insert(0, str(out))
    try:
        pb2 = importlib.import_module("echo_pb2")
        pb2_grpc = importlib.import_module("echo_pb2_grpc")
    finally:
        sys.path.remove(str(out))
    _loaded = (pb2, pb2_grpc)
    return _loaded
