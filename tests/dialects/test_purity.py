"""The dialects are pure: they load without mitmproxy, httpx or starlette."""

import pkgutil
import subprocess
import sys

import azt.dialects

MODULES = sorted(
    module.name for module in pkgutil.walk_packages(azt.dialects.__path__, prefix="azt.dialects.")
)


def test_every_dialect_module_is_found() -> None:
    assert {"azt.dialects.common.errors", "azt.dialects.chat.reply"} <= set(MODULES)
    assert {"azt.dialects.responses.request", "azt.dialects.images.reply"} <= set(MODULES)


def test_no_network_framework_is_imported() -> None:
    code = (
        f"import sys; import {', '.join(MODULES)}; "
        "print(sorted({'mitmproxy', 'httpx', 'starlette'} & set(sys.modules)))"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert result.stdout.strip() == "[]", result.stderr
