"""`azt sim`: a faithful fake of the ChatGPT Codex backend and its OAuth endpoints.

Modules, one concern each:

- `tokens`: sim accounts, JWT minting, the token registry (rotation, reuse, codes);
- `stream`: pure, deterministic Responses event generation;
- `faults`: the fault model (`Fault`, `KINDS`, `FaultBook`);
- `limits`: rate-limit windows, `x-codex-*` headers and the usage JSON;
- `catalog`: the `/models` list;
- `state`: `SimState`, the knobs and recordings tests use;
- `app`, `oauth` and `admin`: the Starlette app (`create_app(state)`) and its route groups.

The names below are loaded lazily so that importing the pure modules never pulls in Starlette.
"""

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from azt.sim.app import create_app
    from azt.sim.faults import Fault
    from azt.sim.state import SimState
    from azt.sim.tokens import SimAccount

__all__ = ["Fault", "SimAccount", "SimState", "create_app"]

_HOMES = {
    "Fault": "azt.sim.faults",
    "SimAccount": "azt.sim.tokens",
    "SimState": "azt.sim.state",
    "create_app": "azt.sim.app",
}


def __getattr__(name: str) -> Any:
    if name not in _HOMES:
        raise AttributeError(f"module 'azt.sim' has no attribute {name!r}")
    import importlib

    return getattr(importlib.import_module(_HOMES[name]), name)
