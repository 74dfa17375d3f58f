"""Chat Completions (`POST /v1/chat/completions`) over the Codex backend.

`request.py` plans the Codex body from a chat body (`plan_chat_request`); `reply.py` turns the
backend's SSE into chat chunks or one completion (`ChatTranslator`). See docs/chat-completions.md.
"""

from collections.abc import Mapping
from typing import Any

from azt.dialects.chat.reply import ChatTranslator, stream_error
from azt.dialects.chat.request import plan_chat_request
from azt.dialects.common.tokens import TokenCounter
from azt.dialects.common.translation import DialectSpec, ModelFacts, Translation
from azt.errors import ApiError


def needs_counter(body: Mapping[str, Any]) -> bool:
    """`max_tokens` is emulated by counting the reply's tokens."""
    return any(body.get(name) is not None for name in ("max_tokens", "max_completion_tokens"))


def translate(body: dict[str, Any], model: ModelFacts, counter: TokenCounter | None) -> Translation:
    plan = plan_chat_request(
        body,
        model=model.slug,
        reasoning_levels=model.reasoning_levels,
        supports_verbosity=model.supports_verbosity,
    )
    if plan.max_tokens is not None and counter is None:
        raise ApiError(
            400,
            "`max_tokens` needs the tokenizer vocabulary, which is not installed: "
            "run `azt tokenizer install`, or leave out `max_tokens`.",
            code="tokenizer_unavailable",
            param="max_tokens",
        )
    translator = ChatTranslator(plan, requested_model=model.requested, counter=counter)
    return Translation(plan.upstream, translator, plan.stream, plan.ignored)


DIALECT = DialectSpec(needs_counter, translate, stream_error)
