"""Structured output (`text.format`) and image input in the simulator."""

import datetime
import enum
import json
from collections.abc import Callable
from typing import Annotated, Any, Literal

import httpx
import pytest
from openai.lib._parsing._completions import type_to_response_format_param
from openai.lib._pydantic import to_strict_json_schema
from pydantic import BaseModel, Field

from azt.sim.stream import (
    StreamOptions,
    answer_text,
    input_items,
    reply_text,
    response_events,
    schema_example,
)

RESPONSES = "/backend-api/codex/responses"
PNG = "data:image/png;base64,iVBORw0KGgo="

Body = Callable[..., dict[str, Any]]


def user(*parts: dict[str, Any]) -> dict[str, Any]:
    return {"type": "message", "role": "user", "content": list(parts)}


def text(value: str) -> dict[str, Any]:
    return {"type": "input_text", "text": value}


def image(url: str = PNG) -> dict[str, Any]:
    return {"type": "input_image", "image_url": url}


def json_schema(schema: dict[str, Any]) -> dict[str, Any]:
    return {"format": {"type": "json_schema", "name": "out", "strict": True, "schema": schema}}


def streamed_text(body: dict[str, Any]) -> str:
    events = response_events(body, StreamOptions(number=1, created_at=0))
    return "".join(e["delta"] for e in events if e["type"] == "response.output_text.delta")


# --- pydantic models as SDK users send them ---


class Colour(enum.Enum):
    RED = "red"
    BLUE = "blue"


class Address(BaseModel):
    street: str
    zip_code: Annotated[str, Field(min_length=5, max_length=5)]


class Person(BaseModel):
    name: str
    age: int
    height: float
    admin: bool
    nickname: str | None
    tags: list[str]
    address: Address
    previous: list[Address]
    colour: Colour
    mood: Literal["happy", "sad"]
    born: datetime.date
    seen: datetime.datetime
    score: Annotated[int, Field(ge=10, le=20)]


class Tree(BaseModel):
    label: str
    children: list["Tree"]
    parent: "Tree | None"


class Cat(BaseModel):
    kind: Literal["cat"]
    lives: int


class Dog(BaseModel):
    kind: Literal["dog"]
    good: bool


class Pets(BaseModel):
    pets: list[Cat | Dog]
    favourite: Annotated[Cat | Dog, Field(discriminator="kind")]


MODELS = [Person, Tree, Pets, Address]


@pytest.mark.parametrize("model", MODELS, ids=lambda m: m.__name__)
def test_responses_parse_schema_validates(model: type[BaseModel]) -> None:
    """The JSON answer to `responses.parse(text_format=Model)` validates as that model."""
    body = {"input": "hi", "text": json_schema(to_strict_json_schema(model))}
    model.model_validate_json(streamed_text(body))


@pytest.mark.parametrize("model", MODELS, ids=lambda m: m.__name__)
def test_chat_parse_schema_validates(model: type[BaseModel]) -> None:
    """`chat.completions.parse(response_format=Model)` sends the same schema; it validates."""
    response_format = type_to_response_format_param(model)
    assert isinstance(response_format, dict) and response_format["type"] == "json_schema"
    schema = response_format["json_schema"]["schema"]
    model.model_validate(schema_example(schema))


def test_every_property_is_filled() -> None:
    """Optional properties are filled too, not only the required ones."""
    schema = {
        "type": "object",
        "properties": {"a": {"type": "string"}, "b": {"type": "integer"}},
        "required": ["a"],
        "additionalProperties": False,
    }
    assert schema_example(schema) == {"a": "sim", "b": 1}


@pytest.mark.parametrize(
    ("schema", "value"),
    [
        ({"type": "string"}, "sim"),
        ({"type": "string", "enum": ["x", "y"]}, "x"),
        ({"const": 3}, 3),
        ({"type": "integer"}, 1),
        ({"type": "number"}, 1.5),
        ({"type": "boolean"}, True),
        ({"type": "null"}, None),
        ({"type": ["null", "number"]}, 1.5),
        ({"type": "array", "items": {"type": "integer"}}, [1]),
        ({"type": "array", "items": {"type": "boolean"}, "minItems": 2}, [True, True]),
        ({"type": "array", "prefixItems": [{"type": "integer"}, {"type": "string"}]}, [1, "sim"]),
        ({"anyOf": [{"type": "integer"}, {"type": "string"}]}, 1),
        ({"oneOf": [{"type": "boolean"}, {"type": "string"}]}, True),
        (
            {"allOf": [{"properties": {"a": {"type": "integer"}}}, {"properties": {"b": {}}}]},
            {"a": 1, "b": "sim"},
        ),
        ({"type": "string", "format": "date-time"}, "2026-01-01T00:00:00Z"),
        ({"type": "string", "minLength": 5}, "simmm"),
        ({"type": "string", "maxLength": 2}, "si"),
        ({"type": "integer", "minimum": 7}, 7),
        ({"type": "number", "maximum": 0}, 0),
        ({}, "sim"),
        ("not a schema", "sim"),
    ],
)
def test_schema_example_values(schema: Any, value: Any) -> None:
    """Each schema keyword gives its documented placeholder."""
    assert schema_example(schema) == value


def test_refs_to_defs_and_definitions() -> None:
    """`$ref` into `$defs` and `definitions` are followed; a dangling ref gives a string."""
    schema = {
        "type": "object",
        "properties": {
            "a": {"$ref": "#/$defs/A"},
            "b": {"$ref": "#/definitions/B"},
            "c": {"$ref": "#/$defs/missing"},
        },
        "$defs": {"A": {"type": "integer"}},
        "definitions": {"B": {"type": "array", "items": {"$ref": "#/$defs/A"}}},
    }
    assert schema_example(schema) == {"a": 1, "b": [1], "c": "sim"}


def test_recursive_schema_terminates() -> None:
    """A schema that refers to itself ends in null branches and empty arrays."""
    value = schema_example(to_strict_json_schema(Tree))
    depth = 0
    while value["parent"] is not None:
        value, depth = value["parent"], depth + 1
    assert 0 < depth < 20
    Tree.model_validate(schema_example(to_strict_json_schema(Tree)))


def test_json_object_wraps_the_normal_answer() -> None:
    """`json_object` answers `{"answer": <the plain answer>}`."""
    body = {"input": "Reply with PONG.", "text": {"format": {"type": "json_object"}}}
    assert json.loads(streamed_text(body)) == {"answer": "PONG"}


def test_plain_text_format_is_unchanged() -> None:
    """`text.format` `text` (or no text config) keeps the plain answer."""
    body = {"input": "Reply with PONG.", "text": {"format": {"type": "text"}, "verbosity": "low"}}
    assert answer_text(body, input_items(body)) == "PONG"


def test_function_call_wins_over_structured_output() -> None:
    """With function tools offered the turn is still a call; the schema shapes text only."""
    tool = {"type": "function", "name": "lookup", "parameters": {"type": "object"}}
    body = {"input": "lookup x", "tools": [tool], "text": json_schema({"type": "object"})}
    events = list(response_events(body, StreamOptions(number=1, created_at=0)))
    assert any(e["type"] == "response.function_call_arguments.done" for e in events)


# --- images ---


@pytest.mark.parametrize(
    ("parts", "answer"),
    [
        ([text("what is this?"), image()], "azt sim saw 1 image and heard: what is this?"),
        (
            [image(), image("https://example.com/a.png"), text("two")],
            "azt sim saw 2 images and heard: two",
        ),
        ([image(), text("Reply with CAT.")], "CAT"),
        ([text("no pictures")], "azt sim heard: no pictures"),
    ],
)
def test_vision_answer(parts: list[dict[str, Any]], answer: str) -> None:
    """The answer counts the images of the last user message, unless "reply with" applies."""
    assert reply_text([user(*parts)]) == answer


def test_only_the_last_user_message_counts() -> None:
    """Images in earlier messages are not counted."""
    items = [user(image(), text("first")), user(text("second"))]
    assert reply_text(items) == "azt sim heard: second"


@pytest.mark.parametrize(
    "url",
    ["ftp://example.com/a.png", "data:text/plain;base64,aGk=", "data:image/png,raw", "a.png", 42],
)
async def test_invalid_image_url_is_rejected(
    client: httpx.AsyncClient, auth_headers: dict[str, str], request_body: Body, url: Any
) -> None:
    """An image URL that is neither http(s) nor a base64 image data URL is a 400 detail."""
    body = request_body(input=[user(text("hi"), image(url))])
    reply = await client.post(RESPONSES, json=body, headers=auth_headers)
    assert reply.status_code == 400
    detail = reply.json()["detail"]
    assert detail.startswith("Invalid image URL at input[0].content[1].image_url")


async def test_invalid_image_in_tool_output_is_rejected(
    client: httpx.AsyncClient, auth_headers: dict[str, str], request_body: Body
) -> None:
    """Images inside a function_call_output are checked too."""
    items = [
        user(text("look")),
        {"type": "function_call", "name": "shot", "arguments": "{}", "call_id": "c"},
        {"type": "function_call_output", "call_id": "c", "output": [image("file:///x.png")]},
    ]
    reply = await client.post(RESPONSES, json=request_body(input=items), headers=auth_headers)
    assert reply.status_code == 400 and "input[2].output[0].image_url" in reply.json()["detail"]


@pytest.mark.parametrize("url", [PNG, "https://example.com/cat.jpg", "HTTP://example.com/x"])
async def test_valid_image_urls_are_answered(
    client: httpx.AsyncClient,
    auth_headers: dict[str, str],
    request_body: Body,
    parse_sse: Callable[[str], list[dict[str, Any]]],
    url: str,
) -> None:
    """http(s) and data:image/...;base64 URLs pass, and the answer mentions the image."""
    body = request_body(input=[user(text("describe"), image(url))])
    reply = await client.post(RESPONSES, json=body, headers=auth_headers)
    assert reply.status_code == 200
    deltas = [
        e["delta"] for e in parse_sse(reply.text) if e["type"] == "response.output_text.delta"
    ]
    assert "".join(deltas) == "azt sim saw 1 image and heard: describe"
