"""The command line of the contract: `version`, `validate`, and config errors that exit 1 with
a message naming the key or flag (instead of starting to serve)."""

from __future__ import annotations

import subprocess

import pytest

from conftest import KEY, devmesh_command
from harness import devmesh as dmconf

GOOD = dmconf.render_config([dmconf.service("default", ["127.0.0.1:9001"], [dmconf.route(KEY, ["127.0.0.1:9002"])])])


def run(*args: str, timeout: float = 10) -> subprocess.CompletedProcess[str]:
    """Runs devmesh to completion; a command that starts serving instead of failing times out."""
    return subprocess.run([*devmesh_command(), *args], capture_output=True, text=True, timeout=timeout,
                          stdin=subprocess.DEVNULL)


def test_version():
    out = run("version")
    assert out.returncode == 0 and (out.stdout + out.stderr).strip(), out


def test_validate_accepts_a_valid_file(tmp_path):
    f = tmp_path / "ok.yaml"
    f.write_text(GOOD)
    out = run("validate", "--config", str(f))
    assert out.returncode == 0, out


@pytest.mark.parametrize("text,names", [
    (GOOD.replace("drain_timeout:", "drain_timeoutt:"), "drain_timeoutt"),
    (GOOD.replace("127.0.0.1:9002", "127.0.0.1:99999"), "endpoints"),
    (GOOD.replace(f"key: {KEY}", "key: not/a/key"), "key"),
    ("services: [unclosed\n", "services"),
], ids=["unknown-key", "port-out-of-range", "bad-routing-key", "yaml-syntax"])
def test_validate_rejects_an_invalid_file_naming_the_key(tmp_path, text, names):
    f = tmp_path / "bad.yaml"
    f.write_text(text)
    out = run("validate", "--config", str(f))
    assert out.returncode == 1, out
    if names != "services":  # a YAML syntax error names a position rather than a key
        assert names in out.stdout + out.stderr, out


@pytest.mark.parametrize("args,names", [
    (["--listen", "127.0.0.1:0", "--route", f"{KEY}=127.0.0.1:9002"], "--baseline"),
    (["--listen", "127.0.0.1:0", "--baseline", "127.0.0.1:9001", "--route", "abc"], "--route"),
    (["--listen", "127.0.0.1:0", "--baseline", "nonsense"], "--baseline"),
    (["--listen", "127.0.0.1:0", "--baseline", "127.0.0.1:9001", "--fallback", "maybe"], "--fallback"),
], ids=["route-without-baseline", "bad-route", "bad-baseline", "bad-fallback"])
def test_proxy_flag_errors_exit_1_naming_the_flag(args, names):
    out = run("proxy", *args)
    assert out.returncode == 1, out
    assert names in out.stdout + out.stderr, out


def test_proxy_refuses_routing_flags_with_a_config_file(tmp_path):
    f = tmp_path / "ok.yaml"
    f.write_text(GOOD)
    out = run("proxy", "--config", str(f), "--baseline", "127.0.0.1:9001")
    assert out.returncode == 1 and "--baseline" in out.stdout + out.stderr, out


def test_proxy_with_an_invalid_config_exits_1(tmp_path):
    f = tmp_path / "bad.yaml"
    f.write_text(GOOD.replace("services:", "servicez:"))
    out = run("proxy", "--config", str(f))
    assert out.returncode == 1 and "servicez" in out.stdout + out.stderr, out
