"""What the translated dialects share: SSE, errors, usage, intake, parameter tables."""
