"""Reading SSE replies in tests."""

import json
from typing import Any

import httpx

from azt.dialects.common.sse import SseParser


def events_of(body: bytes) -> list[dict[str, Any]]:
    parser = SseParser()
    events = list(parser.feed(body)) + list(parser.finish())
    return [json.loads(e.data) for e in events]


async def collect(response: httpx.Response) -> list[dict[str, Any]]:
    return events_of(await response.aread())
