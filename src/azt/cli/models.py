"""Placeholder until the command lands."""

COMMANDS: list = []
