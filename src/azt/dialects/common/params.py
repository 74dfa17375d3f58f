"""How a dialect treats each parameter a client may send.

Every dialect lists its parameters in one table of treatments, documented beside it in docs/:
accept (used as is), translate (rewritten for the backend), emulate (done by azt itself),
ignore (dropped, and named back to the client in the `x-azt-ignored-params` reply header) or
reject (a 400). A parameter sent as `null` counts as absent. Parameters a table does not list
are ignored.

Pure: no I/O.
"""

from collections.abc import Mapping
from typing import Any, Literal

Treatment = Literal["accept", "translate", "emulate", "ignore", "reject"]

IGNORED_HEADER = "x-azt-ignored-params"


def ignored_names(body: Mapping[str, Any], table: Mapping[str, Treatment]) -> set[str]:
    """The parameters of `body` the table ignores (unlisted ones included), nulls left out."""
    return {
        name
        for name, value in body.items()
        if value is not None and table.get(name, "ignore") == "ignore"
    }
