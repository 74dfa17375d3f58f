"""`azt tokenizer install`: put the o200k_base vocabulary where azt finds it offline."""

import base64
from pathlib import Path

import click

from azt.cli.common import EXIT_UNAVAILABLE, fail
from azt.config import data_dir
from azt.dialects.common.tokens import (
    ENCODING,
    VOCABULARY_FILE,
    TiktokenCounter,
    load_vocabulary,
    ranks_from_js_tiktoken,
    write_vocabulary,
)


@click.group()
def tokenizer() -> None:
    """The tokenizer azt uses to emulate `max_tokens`."""


@tokenizer.command()
@click.option(
    "--from-js-tiktoken",
    "js_module",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    help="Convert js-tiktoken's ranks/o200k_base.js instead of downloading.",
)
@click.option(
    "--output",
    type=click.Path(dir_okay=False, path_type=Path),
    help=f"Where to write it (default: {VOCABULARY_FILE} in the data directory).",
)
def install(js_module: Path | None, output: Path | None) -> None:
    """Download (or convert) the o200k_base vocabulary and check it loads."""
    target = output or data_dir() / VOCABULARY_FILE
    if js_module is not None:
        pairs = list(ranks_from_js_tiktoken(js_module.read_text(encoding="utf-8")))
    else:
        import tiktoken

        try:
            encoding = tiktoken.get_encoding(ENCODING)
        except Exception as e:  # tiktoken's download errors are not typed
            fail(f"cannot download the {ENCODING} vocabulary: {e}", EXIT_UNAVAILABLE)
        pairs = [
            (base64.b64encode(token).decode(), rank)
            for token, rank in encoding._mergeable_ranks.items()  # noqa: SLF001
        ]
    count = write_vocabulary(pairs, target)
    counter = TiktokenCounter(load_vocabulary(target))
    check = counter.count("Hello, world!")
    click.echo(f"Wrote {count} tokens to {target} ('Hello, world!' is {check} tokens).")


COMMANDS = [tokenizer]
