"""Responses API bodies the dialect tests share."""

from typing import Any

from azt.dialects.responses.request import ResponsesPlan, plan_responses_request

MODEL = "gpt-5.5"
WEATHER: dict[str, Any] = {
    "type": "function",
    "name": "get_weather",
    "description": "Weather for a city.",
    "parameters": {
        "type": "object",
        "properties": {"city": {"type": "string"}},
        "required": ["city"],
    },
}


def plan(**body: Any) -> ResponsesPlan:
    """The plan for `{"model": "alias", "input": "hi", **body}`, served by MODEL."""
    return plan_responses_request({"model": "alias", "input": "hi", **body}, model=MODEL)
