"""`azt start` in a child process, from a test."""

import subprocess

BANNER = "is running"  # the banner's first line, printed once the runtime file is written


def wait_until_running(process: subprocess.Popen) -> None:
    """Read the gateway's stdout until its banner says it is running.

    `azt start` writes the runtime file before it prints the banner, so the file is there
    by then. The child needs unbuffered output (PYTHONUNBUFFERED=1) for the banner to arrive.
    """
    assert process.stdout is not None, "start the process with stdout=subprocess.PIPE"
    for line in process.stdout:
        if BANNER in (line.decode() if isinstance(line, bytes) else line):
            return
    process.wait()
    stderr = process.stderr.read() if process.stderr is not None else ""
    raise AssertionError(f"the gateway exited ({process.returncode}) before it ran:\n{stderr}")
