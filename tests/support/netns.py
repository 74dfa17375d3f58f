"""Another machine for tests that need a client that is not on this host: a network namespace
joined to this one by a veth pair (needs root and iproute2; tests skip without them)."""

import asyncio
import os
import secrets
import shutil
import subprocess
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass


@dataclass(frozen=True)
class OtherMachine:
    namespace: str
    address: str  # the other machine's address
    host_address: str  # this host's address as the other machine sees it

    async def run(self, *command: str) -> tuple[int, str, str]:
        """Run `command` on the other machine; its exit code, stdout and stderr."""
        process = await asyncio.create_subprocess_exec(  # noqa: TID251
            "ip",
            "netns",
            "exec",
            self.namespace,
            *command,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE,
            env={"PATH": os.environ["PATH"]},
        )
        stdout, stderr = await process.communicate()
        return process.returncode or 0, stdout.decode(), stderr.decode()


def unavailable() -> str | None:
    """Why no other machine can be made here, or None."""
    if os.geteuid() != 0:
        return "needs root (network namespaces)"
    if shutil.which("ip") is None:
        return "needs iproute2 (ip)"
    return None


def _ip(*args: str) -> None:
    subprocess.run(["ip", *args], check=True, capture_output=True)


@contextmanager
def other_machine() -> Iterator[OtherMachine]:
    tag = secrets.token_hex(3)
    namespace, host_end, far_end = f"azt-{tag}", f"azh{tag}", f"azn{tag}"
    subnet = f"10.{int(tag[:2], 16)}.{int(tag[2:4], 16)}"
    _ip("netns", "add", namespace)
    try:
        _ip("link", "add", host_end, "type", "veth", "peer", "name", far_end)
        _ip("link", "set", far_end, "netns", namespace)
        _ip("addr", "add", f"{subnet}.1/30", "dev", host_end)
        _ip("link", "set", host_end, "up")
        _ip("-n", namespace, "addr", "add", f"{subnet}.2/30", "dev", far_end)
        _ip("-n", namespace, "link", "set", far_end, "up")
        _ip("-n", namespace, "link", "set", "lo", "up")
        yield OtherMachine(namespace, f"{subnet}.2", f"{subnet}.1")
    finally:
        subprocess.run(["ip", "link", "del", host_end], capture_output=True)
        subprocess.run(["ip", "netns", "del", namespace], capture_output=True)
