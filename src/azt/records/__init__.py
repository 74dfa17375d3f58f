"""What azt remembers about each API request: metadata only, never content or credentials."""
