"""The runtime file: written atomically and privately, read back, removed only by its writer."""

import json
import os
import signal
import stat
import subprocess
import sys
from pathlib import Path

import httpx
import pytest

from azt.pool.hop import SECRET_HEADER
from azt.runtime_file import (
    RuntimeInfo,
    read_runtime,
    remove_runtime,
    runtime_file,
    runtime_path,
    write_runtime,
)
from support.process import read_banner


def info(pid: int = 4242) -> RuntimeInfo:
    return RuntimeInfo(
        pid=pid,
        pool_url="http://127.0.0.1:40000",
        pool_secret="s3cret",
        base_url="http://127.0.0.1:8787",
        proxy_url=None,
        started_at=1_800_000_000,
    )


def test_write_then_read(tmp_path: Path) -> None:
    """What is written reads back the same, as JSON with every field."""
    path = write_runtime(tmp_path, info())
    assert path == runtime_path(tmp_path) == tmp_path / "runtime.json"
    assert read_runtime(tmp_path) == info()
    assert set(json.loads(path.read_text())) == {
        "pid",
        "pool_url",
        "pool_secret",
        "base_url",
        "proxy_url",
        "started_at",
    }


@pytest.mark.skipif(os.name != "posix", reason="POSIX file modes")
def test_file_is_private(tmp_path: Path) -> None:
    """The file holds the pool secret, so only its owner may read it."""
    path = write_runtime(tmp_path, info())
    assert stat.S_IMODE(path.stat().st_mode) == 0o600


def test_rewrite_replaces_and_leaves_no_temporary_files(tmp_path: Path) -> None:
    """A second write replaces the first atomically; nothing else is left in the directory."""
    write_runtime(tmp_path, info(1))
    write_runtime(tmp_path, info(2))
    assert read_runtime(tmp_path) == info(2)
    assert [p.name for p in tmp_path.iterdir()] == ["runtime.json"]


@pytest.mark.parametrize("content", [None, "not json", "[1, 2]", '{"pid": 1}'])
def test_missing_or_unusable_file_reads_as_none(tmp_path: Path, content: str | None) -> None:
    """No file, broken JSON or a foreign shape all mean "no gateway known"."""
    if content is not None:
        runtime_path(tmp_path).write_text(content)
    assert read_runtime(tmp_path) is None


def test_remove_only_our_own_file(tmp_path: Path) -> None:
    """A gateway stopping leaves alone the file a newer gateway on the same home wrote."""
    write_runtime(tmp_path, info(2))
    remove_runtime(tmp_path, pid=1)
    assert read_runtime(tmp_path) == info(2)
    remove_runtime(tmp_path, pid=2)
    assert not runtime_path(tmp_path).exists()
    remove_runtime(tmp_path, pid=2)  # already gone: fine


def test_context_manager_removes_on_exit_and_on_error(tmp_path: Path) -> None:
    """The file lives exactly as long as the block, even when the block fails."""
    with runtime_file(tmp_path, info()) as path:
        assert path.exists()
    assert not path.exists()
    with pytest.raises(RuntimeError), runtime_file(tmp_path, info()):
        raise RuntimeError("boom")
    assert not runtime_path(tmp_path).exists()


def _wait_for_runtime(home: Path, process: subprocess.Popen[str]) -> RuntimeInfo:
    read_banner(process)
    found = read_runtime(home)
    assert found is not None, "the gateway says it is running but wrote no runtime file"
    return found


def test_azt_start_writes_the_file_while_it_runs(azt_home: Path) -> None:
    """`azt start` publishes a pool address that answers with the secret, and cleans up."""
    env = {**os.environ, "AZT_HOME": str(azt_home), "PYTHONUNBUFFERED": "1"}
    process = subprocess.Popen(
        [sys.executable, "-m", "azt", "start", "--port", "0", "--proxy-port", "0"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
    )
    try:
        running = _wait_for_runtime(azt_home, process)
        assert running.pid == process.pid
        assert running.proxy_url is not None
        admin = httpx.get(
            f"{running.pool_url}/admin/accounts",
            headers={SECRET_HEADER: running.pool_secret},
            timeout=5,
        )
        assert admin.json() == {"accounts": [], "waiting": 0}
        usage = httpx.get(f"{running.base_url}/backend-api/wham/usage", timeout=5)
        assert usage.json()["rate_limit"]["limit_reached"] is True  # no account yet
    finally:
        process.send_signal(signal.SIGINT)
        _, stderr = process.communicate(timeout=20)
    assert process.returncode == 0, stderr
    assert not runtime_path(azt_home).exists()
