"""A black-holed address for fault F2 (notes/reliability.md §5): a network namespace the test
creates, joined to the host by a veth pair, whose firewall drops every TCP segment it receives.

A connect to `address(port)` then sends SYNs that are never answered, neither by SYN-ACK nor by
RST: exactly what a peer behind a dead route or a silent firewall looks like. Before the DROP
rule goes in, the path is proved to work (the namespace answers RST: refused), so a test that
then sees a hang knows the rule caused it.

Needs root, `ip` (iproute2) and `iptables` (scripts/setup.sh installs them); `unavailable()`
says why not, for a skip. Names and the /30 subnet derive from the test process id, and
everything is removed on exit (deleting the namespace deletes the veth pair and its rules).
"""

from __future__ import annotations

import itertools
import os
import shutil
import socket
import subprocess
from typing import Optional

_serial = itertools.count()


def unavailable() -> Optional[str]:
    """Why a black hole cannot be made here, or None."""
    if os.geteuid() != 0:
        return "not root: creating a network namespace needs CAP_NET_ADMIN"
    for tool in ("ip", "iptables"):
        if shutil.which(tool) is None:
            return f"`{tool}` is not installed (scripts/setup.sh installs iproute2 and iptables)"
    return None


def _free_octet(first: int) -> int:
    """The first 10.213.X.0/30 from `first` on that no interface of the host uses yet (another
    test process may have a black hole of its own)."""
    used = subprocess.run(["ip", "-o", "-4", "addr", "show"], capture_output=True, text=True, timeout=10).stdout
    for i in range(250):
        octet = (first - 1 + i) % 250 + 1
        if f" 10.213.{octet}." not in used:
            return octet
    raise AssertionError("every 10.213.X.0/30 is in use")


def _run(*argv: str) -> None:
    subprocess.run(argv, check=True, capture_output=True, timeout=10)


class Blackhole:
    def __init__(self) -> None:
        n = next(_serial)
        tag = f"{os.getpid() % 100000}{n}"
        self.namespace = f"dmfault{tag}"
        self.host_if, self.ns_if = f"dmf{tag}h", f"dmf{tag}n"
        octet = _free_octet((os.getpid() + n) % 250 + 1)
        self.host_ip, self.ns_ip = f"10.213.{octet}.1", f"10.213.{octet}.2"
        self.created = False

    def address(self, port: int) -> str:
        return f"{self.ns_ip}:{port}"

    def __enter__(self) -> "Blackhole":
        try:
            _run("ip", "netns", "add", self.namespace)
            self.created = True
            _run("ip", "link", "add", self.host_if, "type", "veth", "peer", "name", self.ns_if)
            _run("ip", "link", "set", self.ns_if, "netns", self.namespace)
            _run("ip", "addr", "add", f"{self.host_ip}/30", "dev", self.host_if)
            _run("ip", "link", "set", self.host_if, "up")
            inside = ("ip", "netns", "exec", self.namespace)
            _run(*inside, "ip", "addr", "add", f"{self.ns_ip}/30", "dev", self.ns_if)
            _run(*inside, "ip", "link", "set", self.ns_if, "up")
            _run(*inside, "ip", "link", "set", "lo", "up")
            self._expect_refused()
            _run(*inside, "iptables", "-A", "INPUT", "-p", "tcp", "-j", "DROP")
        except BaseException:
            self.__exit__()
            raise
        return self

    def _expect_refused(self) -> None:
        """Before the rule: the namespace is reachable and answers RST (nothing listens there)."""
        with socket.socket() as s:
            s.settimeout(3)
            try:
                s.connect((self.ns_ip, 9))
            except ConnectionRefusedError:
                return
        raise AssertionError(f"{self.ns_ip}:9 did not refuse: the veth path does not work")

    def __exit__(self, *exc: object) -> None:
        if self.created:
            subprocess.run(["ip", "netns", "del", self.namespace], capture_output=True, timeout=10)
            self.created = False
        # Deleting the namespace deletes the pair; this only matters if moving the peer failed.
        subprocess.run(["ip", "link", "del", self.host_if], capture_output=True, timeout=10)
