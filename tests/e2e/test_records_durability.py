"""Records survive a restart and a kill -9: every committed record is kept, totals agree."""

import asyncio
import json
import os
import signal
import sqlite3
import subprocess
import sys
from pathlib import Path

import httpx
import pytest
from click.testing import CliRunner

from azt.cli.main import cli
from azt.gateway import Gateway
from azt.pool.runtime import PoolRuntime
from azt.runtime_file import RUNTIME_FILE
from azt.store.accounts import AccountStore
from azt.store.db import open_database
from support.process import read_banner
from support.sim import Sim, settings_for

CHAT = {"model": "gpt-5.4", "messages": [{"role": "user", "content": "Reply with PONG."}]}


async def _run_gateway(sim: Sim, home: Path, certs: Path, vocabulary: Path, requests: int) -> dict:
    """Start a gateway on `home`'s database, send chats, return the usage summary, stop."""
    settings = settings_for(sim.url, tokenizer_file=str(vocabulary))
    runtime = PoolRuntime(settings, home / "azt.db")
    if not runtime.accounts.list():
        runtime.accounts.upsert(sim.state.pool_account("one@example.com"))
    gateway = Gateway(runtime, confdir=str(certs))
    listeners = await gateway.start()
    try:
        async with httpx.AsyncClient(base_url=listeners.base_url, timeout=20) as client:
            for _ in range(requests):
                reply = await client.post("/v1/chat/completions", json=CHAT)
                assert reply.status_code == 200
            return (await client.get("/_gateway/admin/usage")).json()
    finally:
        await gateway.stop()
        await runtime.aclose()


async def test_totals_survive_a_restart(
    sim: Sim, tmp_path: Path, certs_dir: Path, vocabulary: Path
) -> None:
    first = await _run_gateway(sim, tmp_path, certs_dir, vocabulary, 3)
    second = await _run_gateway(sim, tmp_path, certs_dir, vocabulary, 2)
    assert first["lifetime"]["requests"] == 3
    assert second["process"]["requests"] == 2  # this process only
    assert second["lifetime"]["requests"] == 5
    assert second["lifetime"]["total_tokens"] == 5 * first["lifetime"]["total_tokens"] // 3
    assert second["lifetime"]["cost_micro_usd"] > first["lifetime"]["cost_micro_usd"]


def _gateway_process(home: Path, sim_url: str, vocabulary: Path) -> subprocess.Popen[bytes]:
    env = {
        **{k: v for k, v in os.environ.items() if not k.startswith("AZT_")},
        "AZT_HOME": str(home),
        "AZT_PORT": "0",
        "AZT_PROXY": "false",
        "AZT_CODEX_BASE_URL": f"{sim_url}/backend-api/codex",
        "AZT_CHATGPT_BASE_URL": f"{sim_url}/backend-api",
        "AZT_AUTH_BASE_URL": sim_url,
        "AZT_TOKENIZER_FILE": str(vocabulary),
        "PYTHONUNBUFFERED": "1",
    }
    return subprocess.Popen(
        [sys.executable, "-c", "from azt.cli.main import main; main()", "start"],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
    )


async def _base_url(home: Path, process: subprocess.Popen[bytes]) -> str:
    await asyncio.to_thread(read_banner, process)  # the simulator runs in this loop
    return json.loads((home / RUNTIME_FILE).read_text())["base_url"]


async def test_kill_9_keeps_every_committed_record(
    sim: Sim,
    tmp_path: Path,
    vocabulary: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    conn = open_database(tmp_path / "azt.db")
    AccountStore(conn).upsert(sim.state.pool_account("one@example.com"))
    conn.close()
    process = _gateway_process(tmp_path, sim.url, vocabulary)
    try:
        base_url = await _base_url(tmp_path, process)
        async with httpx.AsyncClient(base_url=base_url, timeout=20) as client:
            replies = await asyncio.gather(
                *(client.post("/v1/chat/completions", json=CHAT) for _ in range(20))
            )
            assert all(r.status_code == 200 for r in replies)
            # The admin API answers once everything recorded so far is committed.
            listed = (await client.get("/_gateway/admin/requests?limit=100")).json()
            assert listed["total"] == 20
    finally:
        process.send_signal(signal.SIGKILL)
        process.wait()
        if process.stdout is not None:
            process.stdout.close()

    db = sqlite3.connect(tmp_path / "azt.db")
    try:
        (raw,) = db.execute("SELECT COUNT(*) FROM requests").fetchone()
        (rolled,) = db.execute(
            "SELECT SUM(requests) FROM usage_rollup WHERE dimension = 'all'"
        ).fetchone()
        (tokens,) = db.execute("SELECT SUM(total_tokens) FROM requests").fetchone()
        (rolled_tokens,) = db.execute(
            "SELECT SUM(total_tokens) FROM usage_rollup WHERE dimension = 'all'"
        ).fetchone()
    finally:
        db.close()
    assert raw == rolled == 20
    assert tokens == rolled_tokens > 0

    # The CLI reads the same database with the gateway gone.
    monkeypatch.setenv("AZT_HOME", str(tmp_path))
    usage = CliRunner().invoke(cli, ["usage", "--json"])
    assert usage.exit_code == 0, usage.output
    lifetime = json.loads(usage.output)["lifetime"]
    assert (lifetime["requests"], lifetime["total_tokens"]) == (20, tokens)
    logs = CliRunner().invoke(cli, ["logs", "--json", "-n", "100"])
    assert len(logs.output.splitlines()) == 20
