"""How a dialect treats each parameter a client may send.

Every dialect lists its parameters in one table of treatments, documented beside it in docs/:
accept (used as is), translate (rewritten for the backend), emulate (done by azt itself),
ignore (dropped, and named back to the client in the `x-azt-ignored-params` reply header) or
reject (a 400). A parameter sent as `null` counts as absent. Parameters a table does not list
are ignored.

Pure: no I/O.
"""

from collections.abc import Iterable, Mapping
from typing import Any, Literal
from urllib.parse import quote

Treatment = Literal["accept", "translate", "emulate", "ignore", "reject"]

IGNORED_HEADER = "x-azt-ignored-params"
# The names are the client's own JSON keys: the header lists only so many, percent-encoded.
IGNORED_SHOWN = 20
IGNORED_HEADER_CHARS = 1024


def ignored_names(body: Mapping[str, Any], table: Mapping[str, Treatment]) -> set[str]:
    """The parameters of `body` the table ignores (unlisted ones included), nulls left out."""
    return {
        name
        for name, value in body.items()
        if value is not None and table.get(name, "ignore") == "ignore"
    }


def ignored_header(names: Iterable[str]) -> str:
    """The `x-azt-ignored-params` value: names percent-encoded (no CR, LF, comma or control
    character from a client reaches a header), at most `IGNORED_SHOWN`, then how many more."""
    listed = list(names)
    shown: list[str] = []
    size = 0
    for name in listed[:IGNORED_SHOWN]:
        safe = quote(name, safe="-_.~[]$@:/", errors="replace")[:128]
        if size + len(safe) + 2 > IGNORED_HEADER_CHARS:
            break
        shown.append(safe)
        size += len(safe) + 2
    rest = len(listed) - len(shown)
    return ", ".join(shown + ([f"(+{rest} more)"] if rest else []))
