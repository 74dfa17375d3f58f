"""The OpenAI Responses API (`POST /v1/responses`) over the Codex backend.

`request.py` plans the Codex body (`plan_responses_request`); `reply.py` turns the backend's SSE
into the events and `response` object the OpenAI SDKs expect (`ResponsesTranslator`). See
docs/responses-api.md.
"""

from collections.abc import Mapping
from typing import Any

from azt.dialects.common.tokens import TokenCounter
from azt.dialects.common.translation import DialectSpec, ModelFacts, Translation
from azt.dialects.responses.reply import ResponsesTranslator, stream_error
from azt.dialects.responses.request import plan_responses_request


def needs_counter(body: Mapping[str, Any]) -> bool:
    return False


def translate(body: dict[str, Any], model: ModelFacts, counter: TokenCounter | None) -> Translation:
    plan = plan_responses_request(body, model=model.slug, reasoning_levels=model.reasoning_levels)
    translator = ResponsesTranslator(plan, requested_model=model.requested)
    return Translation(plan.upstream, translator, plan.stream, plan.ignored)


DIALECT = DialectSpec(needs_counter, translate, stream_error)
