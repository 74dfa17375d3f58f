"""`azt start` in a child process, from a test."""

import subprocess

BANNER_END = "Press Ctrl-C to stop."


def read_banner(process: subprocess.Popen) -> str:
    """Read the gateway's stdout up to the end of its banner, and return the banner.

    `azt start` prints the banner once it serves, after writing the runtime file. The child
    needs unbuffered output (PYTHONUNBUFFERED=1) for the banner to arrive as it is printed.
    """
    assert process.stdout is not None, "start the process with stdout=subprocess.PIPE"
    lines: list[str] = []
    for raw in process.stdout:
        line = raw.decode() if isinstance(raw, bytes) else raw
        lines.append(line)
        if BANNER_END in line:
            return "".join(lines)
    process.wait()
    stderr = process.stderr.read() if process.stderr is not None else ""
    raise AssertionError(f"the gateway exited ({process.returncode}) before serving:\n{stderr}")
