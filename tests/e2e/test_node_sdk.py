"""The official OpenAI Node SDK against azt (installed by `make e2e-deps`; skipped otherwise)."""

import asyncio
import json
import os
import shutil
from pathlib import Path

import pytest

from support.rig import Rig

ROOT = Path(__file__).resolve().parents[2]
SCRIPT = Path(__file__).parent / "node" / "sdk_check.mjs"
NODE_MODULES = ROOT / ".e2e" / "node_modules"

pytestmark = pytest.mark.skipif(
    not (NODE_MODULES / "openai").exists() or shutil.which("node") is None,
    reason="the Node SDK is not installed (make e2e-deps)",
)


async def test_node_sdk(rig: Rig) -> None:
    rig.add_account()
    process = await asyncio.create_subprocess_exec(  # noqa: TID251
        "node",
        str(SCRIPT),
        f"{rig.base_url}/v1",
        str(NODE_MODULES),
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
        env={"PATH": os.environ["PATH"]},
    )
    stdout, stderr = await asyncio.wait_for(process.communicate(), 60)
    assert process.returncode == 0, stderr.decode()
    results = json.loads(stdout.decode().strip().splitlines()[-1])
    assert results["chat"] == "PONG"
    assert results["chatStream"]["text"] == "one two three four"
    assert results["chatStream"]["chunks"] > 3 and results["chatStream"]["usage"]
    assert results["tools"] == {
        "finish": "tool_calls",
        "name": "get_weather",
        "answer": "Tool get_weather returned: Sunny",
    }
    assert results["responses"] == "PONG"
    assert results["responsesStream"] == {
        "first": "response.created",
        "last": "response.completed",
        "text": "PONG",
    }
    assert "1 image" in results["vision"]
    assert results["structured"] == {"city": "sim", "sunny": True}
    assert results["notFound"] == "model_not_found"
    assert results["badRequest"] == "n"
