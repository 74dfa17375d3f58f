"""Every planner answers any JSON object with a plan or a 400-class ApiError, never a crash.

Bodies are valid requests with parts replaced by arbitrary JSON (wrong types, nulls, deep
lists, odd keys), and arbitrary objects over each dialect's own parameter names.
"""

from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from azt.dialects.chat.request import PARAMETERS as CHAT_PARAMETERS
from azt.dialects.chat.request import plan_chat_request
from azt.dialects.images import PARAMETERS as IMAGE_PARAMETERS
from azt.dialects.images import plan_image_request
from azt.dialects.responses.request import plan_responses_request
from azt.errors import ApiError

JSON = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(min_value=-(2**63), max_value=2**63)
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(max_size=20),
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=10), children, max_size=4)
    ),
    max_leaves=20,
)
ROLES = st.sampled_from(["system", "developer", "user", "assistant", "tool", "function"])

VALID_CHAT: dict[str, Any] = {
    "model": "m",
    "messages": [
        {"role": "system", "content": "Be brief."},
        {"role": "user", "content": [{"type": "text", "text": "hi"}]},
        {
            "role": "assistant",
            "content": None,
            "tool_calls": [
                {"id": "c1", "type": "function", "function": {"name": "f", "arguments": "{}"}}
            ],
        },
        {"role": "tool", "tool_call_id": "c1", "content": "ok"},
    ],
    "tools": [{"type": "function", "function": {"name": "f", "parameters": {}}}],
    "tool_choice": "auto",
    "stop": ["x"],
    "response_format": {"type": "json_schema", "json_schema": {"name": "s", "schema": {}}},
}
VALID_RESPONSES: dict[str, Any] = {
    "model": "m",
    "instructions": "Be brief.",
    "input": [
        {"role": "user", "content": [{"type": "input_text", "text": "hi"}]},
        {"type": "function_call", "call_id": "c1", "name": "f", "arguments": "{}"},
        {"type": "function_call_output", "call_id": "c1", "output": "ok"},
    ],
    "tools": [{"type": "function", "name": "f", "parameters": {}}],
    "reasoning": {"effort": "low"},
    "text": {"format": {"type": "text"}},
}
VALID_IMAGE: dict[str, Any] = {"prompt": "a fox", "n": 2, "size": "1024x1024", "quality": "low"}


def paths(value: Any, prefix: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    """Every place in `value` a part could be replaced."""
    found = [prefix]
    if isinstance(value, dict):
        for key, item in value.items():
            found += paths(item, (*prefix, key))
    elif isinstance(value, list):
        for index, item in enumerate(value):
            found += paths(item, (*prefix, index))
    return found


def replaced(value: Any, path: tuple[Any, ...], new: Any) -> Any:
    if not path:
        return new
    head, rest = path[0], path[1:]
    if isinstance(value, dict):
        return {**value, head: replaced(value[head], rest, new)}
    copy = list(value)
    copy[head] = replaced(copy[head], rest, new)
    return copy


@st.composite
def mutated(draw: st.DrawFn, valid: dict[str, Any]) -> Any:
    """`valid` with one to three parts replaced by arbitrary JSON (or a role by a role)."""
    body: Any = valid
    for _ in range(draw(st.integers(1, 3))):
        places = [p for p in paths(body) if p]
        if not places:
            break
        place = draw(st.sampled_from(places))
        new = draw(ROLES | JSON if place[-1] == "role" else JSON)
        body = replaced(body, place, new)
    return body


def over(names: list[str]) -> st.SearchStrategy[dict[str, Any]]:
    return st.dictionaries(st.sampled_from(names) | st.text(max_size=8), JSON, max_size=8)


def plans_or_refuses(plan: Any, body: Any) -> None:
    try:
        plan(body)
    except ApiError as e:
        assert 400 <= e.status < 500, e


SETTINGS = settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@SETTINGS
@given(body=mutated(VALID_CHAT) | over(sorted(CHAT_PARAMETERS)))
def test_chat(body: Any) -> None:
    plans_or_refuses(lambda b: plan_chat_request(b, model="m"), body)


@SETTINGS
@given(body=mutated(VALID_RESPONSES) | over(sorted(VALID_RESPONSES) + ["include", "store"]))
def test_responses(body: Any) -> None:
    plans_or_refuses(lambda b: plan_responses_request(b, model="m"), body)


@SETTINGS
@given(body=mutated(VALID_IMAGE) | over(sorted(IMAGE_PARAMETERS)), edit=st.booleans())
def test_images(body: Any, edit: bool) -> None:
    plans_or_refuses(lambda b: plan_image_request(b, edit=edit, host_model="m"), body)


def test_a_role_given_as_a_list_is_a_400() -> None:
    """The reported case: `role` as a list in Responses input."""
    body = {"model": "m", "input": [{"role": ["user"], "content": "hi"}]}
    plans_or_refuses(lambda b: plan_responses_request(b, model="m"), body)
