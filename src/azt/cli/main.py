"""The `azt` command: noun groups with verbs, and top-level verbs."""

import logging

import click

from azt import __version__
from azt.cli import accounts, certs, env, login, logs, models, sim, start, tokenizer, usage
from azt.cli.common import EXIT_USAGE, fail
from azt.config import SettingsError


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="azt")
def cli() -> None:
    """azt: an OpenAI-compatible API on your machine, served by your own ChatGPT accounts."""


for module in (start, login, accounts, models, sim, tokenizer, certs, env, logs, usage):
    for command in module.COMMANDS:
        cli.add_command(command)


def main() -> None:
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    try:
        cli.main(standalone_mode=True)
    except SettingsError as e:
        fail(str(e), EXIT_USAGE)
