import asyncio
import sys

import pytest

from azt import eventloop


async def _loop_module() -> str:
    return type(asyncio.get_running_loop()).__module__


@pytest.mark.skipif(sys.platform == "win32", reason="uvloop does not run on Windows")
def test_serves_on_uvloop_where_installed() -> None:
    assert eventloop.run(_loop_module()).startswith("uvloop")


def test_falls_back_to_the_standard_loop(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "uvloop", None)  # makes `import uvloop` fail
    assert eventloop.run(_loop_module()).startswith("asyncio")
