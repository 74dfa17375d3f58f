"""`<data dir>/runtime.json`: how other azt commands reach the gateway that is running.

`azt start` writes it once its listeners are up and removes it when it stops cleanly. It holds
the pool's per-process secret, so it is written 0600 and atomically: a reader never sees half
a file, and the secret is never readable by others, not even for an instant.

A gateway that crashed leaves the file behind; readers must expect its addresses to be dead.
"""

import json
import os
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from dataclasses import asdict, dataclass
from pathlib import Path

RUNTIME_FILE = "runtime.json"


@dataclass(frozen=True)
class RuntimeInfo:
    pid: int
    pool_url: str  # the local account pool, e.g. http://127.0.0.1:41234
    pool_secret: str  # the x-azt-pool-secret header value
    base_url: str  # the reverse listener
    proxy_url: str | None  # the HTTP proxy listener, when it runs
    started_at: int  # unix seconds


def runtime_path(home: Path) -> Path:
    return home / RUNTIME_FILE


def write_runtime(home: Path, info: RuntimeInfo) -> Path:
    """Write the file atomically with mode 0600 and return its path."""
    path = runtime_path(home)
    # mkstemp creates the file 0600 in the same directory, so the rename below is atomic.
    fd, temporary = tempfile.mkstemp(dir=home, prefix=".runtime-", suffix=".tmp")
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as out:
            json.dump(asdict(info), out, indent=2)
        os.replace(temporary, path)
    except BaseException:
        with suppress(FileNotFoundError):
            os.unlink(temporary)
        raise
    return path


def read_runtime(home: Path) -> RuntimeInfo | None:
    """The running gateway's details, or None when there is no usable file."""
    try:
        data = json.loads(runtime_path(home).read_text(encoding="utf-8"))
        return RuntimeInfo(**data)
    except (OSError, ValueError, TypeError):
        # Missing, unreadable, not JSON, or written by another version: as good as absent.
        return None


def remove_runtime(home: Path, pid: int) -> None:
    """Remove the file if process `pid` wrote it.

    A second gateway started on the same home has overwritten it; the first one stopping
    must not delete the second's file.
    """
    current = read_runtime(home)
    if current is not None and current.pid != pid:
        return
    with suppress(FileNotFoundError):
        runtime_path(home).unlink()


@contextmanager
def runtime_file(home: Path, info: RuntimeInfo) -> Iterator[Path]:
    """The runtime file exists for as long as the block runs."""
    path = write_runtime(home, info)
    try:
        yield path
    finally:
        remove_runtime(home, info.pid)
