"""`azt run -- python script.py` against a running `azt start --demo`: an unmodified script
that talks to https://api.openai.com gets its answer from the simulator through the proxy."""

import os
import signal
import subprocess
import sys
from pathlib import Path

SCRIPT = """\
from openai import OpenAI

client = OpenAI(api_key="sk-unmodified-script")
reply = client.chat.completions.create(
    model="gpt-5.4", messages=[{"role": "user", "content": "Reply with PONG only."}]
)
print(reply.choices[0].message.content)
"""


def test_azt_run_with_an_unmodified_script(tmp_path: Path, azt_home: Path) -> None:
    env = {**os.environ, "AZT_HOME": str(azt_home), "PYTHONUNBUFFERED": "1"}
    gateway = subprocess.Popen(
        [sys.executable, "-m", "azt", "start", "--demo", "--port", "0", "--proxy-port", "0"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
    )
    try:
        assert gateway.stdout is not None
        for line in gateway.stdout:
            if "Ctrl-C" in line:
                break
        script = tmp_path / "script.py"
        script.write_text(SCRIPT)
        result = subprocess.run(
            [sys.executable, "-m", "azt", "run", "--", sys.executable, str(script)],
            env=env,
            capture_output=True,
            text=True,
            timeout=60,
        )
        assert result.returncode == 0, result.stderr
        assert result.stdout.strip() == "PONG"
    finally:
        gateway.send_signal(signal.SIGINT)
        gateway.communicate(timeout=20)
    assert gateway.returncode == 0
    assert not (azt_home / "runtime.json").exists()  # removed on a clean stop
