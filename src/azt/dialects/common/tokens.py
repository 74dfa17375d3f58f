"""Counting tokens the way OpenAI's models do, for emulating `max_tokens`.

`TokenCounter` is what translators need. The real counter is tiktoken with the o200k_base
vocabulary (GPT-4o and later, the GPT-5 family included), loaded from the first source that
works:

1. the file named by the `tokenizer_file` setting;
2. `o200k_base.tiktoken` in the data directory (`azt tokenizer install` writes it);
3. tiktoken's own cache or download.

Without any of them there is no counter, and `max_tokens` is refused rather than guessed.
"""

import base64
import json
import logging
from collections.abc import Iterable
from pathlib import Path
from typing import Protocol

import tiktoken

logger = logging.getLogger(__name__)

ENCODING = "o200k_base"
VOCABULARY_FILE = f"{ENCODING}.tiktoken"

# o200k_base's split pattern and special tokens, as tiktoken defines them.
_PATTERN = "|".join(
    [
        r"""[^\r\n\p{L}\p{N}]?[\p{Lu}\p{Lt}\p{Lm}\p{Lo}\p{M}]*[\p{Ll}\p{Lm}\p{Lo}\p{M}]+(?i:'s|'t|'re|'ve|'m|'ll|'d)?""",
        r"""[^\r\n\p{L}\p{N}]?[\p{Lu}\p{Lt}\p{Lm}\p{Lo}\p{M}]+[\p{Ll}\p{Lm}\p{Lo}\p{M}]*(?i:'s|'t|'re|'ve|'m|'ll|'d)?""",
        r"""\p{N}{1,3}""",
        r""" ?[^\s\p{L}\p{N}]+[\r\n/]*""",
        r"""\s*[\r\n]+""",
        r"""\s+(?!\S)""",
        r"""\s+""",
    ]
)
_SPECIAL_TOKENS = {"<|endoftext|>": 199999, "<|endofprompt|>": 200018}


class TokenCounter(Protocol):
    def count(self, text: str) -> int:
        """How many tokens `text` encodes to."""
        ...

    def truncate(self, text: str, limit: int) -> str:
        """The longest prefix of `text` that encodes to at most `limit` tokens."""
        ...


class TiktokenCounter:
    def __init__(self, encoding: tiktoken.Encoding) -> None:
        self._encoding = encoding

    def count(self, text: str) -> int:
        return len(self._encoding.encode_ordinary(text))

    def truncate(self, text: str, limit: int) -> str:
        tokens = self._encoding.encode_ordinary(text)
        if len(tokens) <= limit:
            return text
        kept = self._encoding.decode_bytes(tokens[: max(limit, 0)])
        # A token can end inside a multi-byte character; keep only whole characters.
        return kept.decode("utf-8", errors="ignore")


def load_vocabulary(path: Path) -> tiktoken.Encoding:
    """An o200k_base encoding from a `.tiktoken` file (`<base64 token> <rank>` per line)."""
    ranks: dict[bytes, int] = {}
    for number, line in enumerate(path.read_bytes().splitlines(), start=1):
        if not line.strip():
            continue
        try:
            token, rank = line.split()
            ranks[base64.b64decode(token)] = int(rank)
        except ValueError as e:
            raise ValueError(f"{path}:{number}: not a tiktoken vocabulary line") from e
    return tiktoken.Encoding(
        name=ENCODING, pat_str=_PATTERN, mergeable_ranks=ranks, special_tokens=_SPECIAL_TOKENS
    )


def ranks_from_js_tiktoken(module_text: str) -> Iterable[tuple[str, int]]:
    """(base64 token, rank) pairs from js-tiktoken's `ranks/o200k_base.js` module.

    That package ships the same vocabulary compressed as lines of `! <first rank> <tokens...>`;
    `azt tokenizer install --from-js-tiktoken` uses this where tiktoken cannot download.
    """
    payload = json.loads(module_text[module_text.index("{") : module_text.rindex("}") + 1])
    for line in payload["bpe_ranks"].split("\n"):
        if not line:
            continue
        _, first, *tokens = line.split(" ")
        for offset, token in enumerate(tokens):
            yield token, int(first) + offset


def write_vocabulary(pairs: Iterable[tuple[str, int]], path: Path) -> int:
    lines = [f"{token} {rank}" for token, rank in pairs]
    path.parent.mkdir(parents=True, exist_ok=True)
    temporary = path.with_suffix(".partial")
    temporary.write_text("\n".join(lines) + "\n", encoding="ascii")
    temporary.replace(path)  # never leave a half-written vocabulary behind
    return len(lines)


def find_counter(candidates: Iterable[Path]) -> TokenCounter | None:
    """The first vocabulary that loads, then tiktoken's own; None when nothing works."""
    for path in candidates:
        if path.is_file():
            try:
                return TiktokenCounter(load_vocabulary(path))
            except (OSError, ValueError) as e:
                logger.warning("cannot use the tokenizer vocabulary %s: %s", path, e)
    try:
        return TiktokenCounter(tiktoken.get_encoding(ENCODING))
    except Exception as e:  # tiktoken raises plain exceptions when it cannot download
        logger.warning("the %s tokenizer is unavailable: %s", ENCODING, e)
        return None
