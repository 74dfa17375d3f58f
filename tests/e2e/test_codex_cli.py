"""The real Codex CLI against azt and the simulator.

Runs when the CLI is installed (`make e2e` puts it under .e2e/); skipped otherwise.
"""

import os
import shutil
import subprocess
from pathlib import Path

import pytest

from support.rig import Rig

ROOT = Path(__file__).resolve().parents[2]


def codex_binary() -> str | None:
    local = ROOT / ".e2e" / "node_modules" / ".bin" / "codex"
    if local.exists():
        return str(local)
    return os.environ.get("AZT_CODEX_BIN") or shutil.which("codex")


CODEX = codex_binary()
pytestmark = pytest.mark.skipif(CODEX is None, reason="Codex CLI not installed (make e2e)")


def run_codex(tmp_path: Path, *args: str, env: dict[str, str]) -> subprocess.CompletedProcess:
    home = tmp_path / "codex-home"
    home.mkdir(exist_ok=True)
    (home / "config.toml").write_text(env.pop("CONFIG", ""))
    full_env = {
        "PATH": os.environ["PATH"],
        "HOME": str(tmp_path),
        "CODEX_HOME": str(home),
        "NO_PROXY": "127.0.0.1,localhost",
        **env,
    }
    assert CODEX is not None
    return subprocess.run(
        [CODEX, "exec", "--skip-git-repo-check", "--ephemeral", *args],
        env=full_env,
        cwd=tmp_path,
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        timeout=120,
    )


async def run_codex_async(tmp_path: Path, *args: str, env: dict[str, str]):
    import asyncio

    return await asyncio.to_thread(run_codex, tmp_path, *args, env=env)


@pytest.mark.parametrize("root", ["/codex/v1", "/v1"])
async def test_custom_provider_turn(rig: Rig, tmp_path: Path, root: str) -> None:
    """Codex speaks Responses: passed through on /codex/v1, translated on /v1."""
    rig.add_account()
    config = f"""
model = "gpt-5.4"
model_provider = "azt"

[model_providers.azt]
name = "azt"
base_url = "{rig.base_url}{root}"
env_key = "AZT_KEY"
wire_api = "responses"
request_max_retries = 0
stream_max_retries = 0
"""
    result = await run_codex_async(
        tmp_path, "Reply with PONG only.", env={"CONFIG": config, "AZT_KEY": "sk-client"}
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip().endswith("PONG")
    turns = [r for r in rig.sim.requests if r.path == "/backend-api/codex/responses"]
    assert turns, "no turn reached the backend"
    assert turns[0].headers["authorization"] != "Bearer sk-client"
    assert turns[0].headers["originator"].startswith("codex")
    assert turns[0].body["instructions"] == ""
    # The turn is recorded as the Codex CLI's, with the usage the backend reported.
    listed = (await rig.client.get("/_gateway/admin/requests?source=codex-cli")).json()["data"]
    endpoint = "codex.responses" if root == "/codex/v1" else "responses.create"
    turn = next(r for r in listed if r["endpoint"] == endpoint)
    assert turn["source_version"] and turn["ok"] and turn["usage"]["total_tokens"] > 0


async def test_builtin_provider_falls_back_from_websocket_at_once(rig: Rig, tmp_path: Path) -> None:
    rig.add_account()
    result = await run_codex_async(
        tmp_path,
        "-c",
        f'openai_base_url="{rig.base_url}/codex/v1"',
        "-c",
        "model=gpt-5.4",
        "Reply with PONG only.",
        env={"CODEX_API_KEY": "sk-client"},
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip().endswith("PONG")
    assert "Falling back from WebSockets" not in result.stderr  # 426 switches without retries
