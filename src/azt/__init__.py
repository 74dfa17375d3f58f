"""azt: a local OpenAI-compatible gateway over your own pool of ChatGPT/Codex accounts."""

__version__ = "0.1.0"
