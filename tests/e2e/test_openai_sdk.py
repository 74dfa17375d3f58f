"""The official OpenAI Python SDK against azt's reverse listener and the simulator."""

import base64
import json
from collections.abc import AsyncIterator

import openai
import pytest
from openai import AsyncOpenAI
from pydantic import BaseModel

from azt.sim.faults import Fault
from support.rig import Rig

WEATHER_TOOL = {
    "type": "function",
    "function": {
        "name": "get_weather",
        "description": "Current weather for a city.",
        "parameters": {
            "type": "object",
            "properties": {"city": {"type": "string"}},
            "required": ["city"],
        },
    },
}
# A 1x1 transparent PNG.
PNG = base64.b64encode(
    bytes.fromhex(
        "89504e470d0a1a0a0000000d4948445200000001000000010806000000"
        "1f15c4890000000d49444154789c6360000002000154a24f5d0000000049454e44ae426082"
    )
).decode()


class Weather(BaseModel):
    city: str
    temperature: float
    sunny: bool


@pytest.fixture
async def sdk(rig: Rig) -> AsyncIterator[AsyncOpenAI]:
    rig.add_account()
    client = AsyncOpenAI(base_url=f"{rig.base_url}/v1", api_key="sk-anything", max_retries=0)
    async with client:
        yield client


def user(text: str) -> list[dict[str, object]]:
    return [{"role": "user", "content": text}]


async def test_chat_create(sdk: AsyncOpenAI, rig: Rig) -> None:
    completion = await sdk.chat.completions.create(
        model="gpt-5.4",
        messages=[{"role": "system", "content": "Be terse."}, *user("Reply with PONG only.")],
    )
    assert completion.object == "chat.completion"
    assert completion.id.startswith("chatcmpl-")
    assert completion.model == "gpt-5.4"
    choice = completion.choices[0]
    assert (choice.message.content, choice.finish_reason) == ("PONG", "stop")
    assert completion.usage is not None and completion.usage.total_tokens > 0
    upstream = rig.sim.requests[-1].body
    assert upstream["instructions"] == "Be terse."
    assert upstream["store"] is False and upstream["stream"] is True


async def test_chat_stream_is_incremental_with_usage(sdk: AsyncOpenAI) -> None:
    stream = await sdk.chat.completions.create(
        model="gpt-5.4",
        messages=user("Reply with one two three four five six."),
        stream=True,
        stream_options={"include_usage": True},
    )
    chunks = [chunk async for chunk in stream]
    assert chunks[0].choices[0].delta.role == "assistant"
    contents = [
        c.choices[0].delta.content for c in chunks if c.choices and c.choices[0].delta.content
    ]
    assert len(contents) > 1
    assert "".join(contents) == "one two three four five six"
    finishes = [
        c.choices[0].finish_reason for c in chunks if c.choices and c.choices[0].finish_reason
    ]
    assert finishes == ["stop"]
    assert chunks[-1].choices == [] and chunks[-1].usage is not None


async def test_tool_round_trip(sdk: AsyncOpenAI, rig: Rig) -> None:
    messages: list[dict[str, object]] = user("What is the weather? Use get_weather.")
    first = await sdk.chat.completions.create(
        model="gpt-5.4", messages=messages, tools=[WEATHER_TOOL]
    )
    choice = first.choices[0]
    assert choice.finish_reason == "tool_calls"
    assert choice.message.content is None
    (call,) = choice.message.tool_calls
    assert call.function.name == "get_weather"
    assert json.loads(call.function.arguments) == {"city": "sim"}
    messages += [
        choice.message.model_dump(exclude_none=True),
        {"role": "tool", "tool_call_id": call.id, "content": "Sunny, 21 C"},
    ]
    second = await sdk.chat.completions.create(
        model="gpt-5.4", messages=messages, tools=[WEATHER_TOOL]
    )
    assert second.choices[0].message.content == "Tool get_weather returned: Sunny, 21 C"
    items = rig.sim.requests[-1].body["input"]
    assert [i["type"] for i in items[-2:]] == ["function_call", "function_call_output"]
    assert items[-1]["call_id"] == call.id


async def test_streamed_tool_call(sdk: AsyncOpenAI) -> None:
    stream = await sdk.chat.completions.create(
        model="gpt-5.4", messages=user("Use get_weather."), tools=[WEATHER_TOOL], stream=True
    )
    arguments, names, finish = "", [], None
    async for chunk in stream:
        for delta in chunk.choices[0].delta.tool_calls or []:
            assert delta.index == 0
            if delta.function and delta.function.name:
                names.append(delta.function.name)
            if delta.function and delta.function.arguments:
                arguments += delta.function.arguments
        finish = chunk.choices[0].finish_reason or finish
    assert names == ["get_weather"] and json.loads(arguments) == {"city": "sim"}
    assert finish == "tool_calls"


async def test_vision_input(sdk: AsyncOpenAI, rig: Rig) -> None:
    completion = await sdk.chat.completions.create(
        model="gpt-5.4",
        messages=[
            {
                "role": "user",
                "content": [
                    {"type": "text", "text": "What is in this picture?"},
                    {"type": "image_url", "image_url": {"url": f"data:image/png;base64,{PNG}"}},
                ],
            }
        ],
    )
    assert "1 image" in (completion.choices[0].message.content or "")
    parts = rig.sim.requests[-1].body["input"][-1]["content"]
    assert parts[1] == {"type": "input_image", "image_url": f"data:image/png;base64,{PNG}"}


async def test_chat_parse_structured_output(sdk: AsyncOpenAI, rig: Rig) -> None:
    completion = await sdk.chat.completions.parse(
        model="gpt-5.4", messages=user("Weather in Paris?"), response_format=Weather
    )
    parsed = completion.choices[0].message.parsed
    assert isinstance(parsed, Weather)
    text_format = rig.sim.requests[-1].body["text"]["format"]
    assert text_format["type"] == "json_schema" and text_format["name"] == "Weather"


async def test_responses_create(sdk: AsyncOpenAI, rig: Rig) -> None:
    response = await sdk.responses.create(model="gpt-5.4", input="Reply with PONG only.")
    assert response.status == "completed"
    assert response.output_text == "PONG"
    assert response.output and response.output[-1].type == "message"
    assert response.usage is not None and response.usage.total_tokens > 0
    assert rig.sim.requests[-1].body["input"][0]["role"] == "user"


async def test_responses_stream(sdk: AsyncOpenAI) -> None:
    async with sdk.responses.stream(model="gpt-5.4", input="Reply with PONG only.") as stream:
        kinds = [event.type async for event in stream]
        final = await stream.get_final_response()
    assert kinds[0] == "response.created" and kinds[-1] == "response.completed"
    assert "response.output_text.delta" in kinds
    assert final.output_text == "PONG"


async def test_responses_parse_structured_output(sdk: AsyncOpenAI) -> None:
    response = await sdk.responses.parse(
        model="gpt-5.4", input="Weather in Paris?", text_format=Weather
    )
    assert isinstance(response.output_parsed, Weather)


async def test_responses_tool_call(sdk: AsyncOpenAI) -> None:
    tool = {
        "type": "function",
        "name": "get_weather",
        "parameters": WEATHER_TOOL["function"]["parameters"],  # type: ignore[index]
    }
    response = await sdk.responses.create(model="gpt-5.4", input="Use get_weather.", tools=[tool])
    call = response.output[-1]
    assert call.type == "function_call" and call.name == "get_weather"


async def test_aliases_and_model_ids(rig: Rig) -> None:
    rig.add_account()
    async with AsyncOpenAI(
        base_url=f"{rig.base_url}/api/openai", api_key="x", max_retries=0
    ) as client:
        for model in ("openai/gpt-5.4-mini", "auto"):
            completion = await client.chat.completions.create(
                model=model, messages=user("Reply with PONG only.")
            )
            assert completion.choices[0].message.content == "PONG"
        assert completion.model == "gpt-5.5"  # `auto` names the model that served
        models = await client.models.list()
        assert "gpt-5.4" in [m.id async for m in models]


async def test_ignored_parameters_are_named_in_a_header(sdk: AsyncOpenAI) -> None:
    raw = await sdk.chat.completions.with_raw_response.create(
        model="gpt-5.4", messages=user("Reply with PONG only."), temperature=0.3, seed=7
    )
    assert raw.headers["x-azt-ignored-params"] == "seed, temperature"
    assert raw.parse().choices[0].message.content == "PONG"


async def test_stop_is_emulated(sdk: AsyncOpenAI) -> None:
    completion = await sdk.chat.completions.create(
        model="gpt-5.4", messages=user("Reply with alpha beta gamma delta."), stop=["gam"]
    )
    assert completion.choices[0].message.content == "alpha beta "
    assert completion.choices[0].finish_reason == "stop"


@pytest.mark.parametrize("stream", [False, True])
async def test_max_tokens_is_emulated_with_a_real_tokenizer(sdk: AsyncOpenAI, stream: bool) -> None:
    kwargs = {"model": "gpt-5.4", "messages": user("Reply with alpha beta gamma delta epsilon.")}
    if stream:
        chunks = [
            c async for c in await sdk.chat.completions.create(**kwargs, max_tokens=3, stream=True)
        ]
        text = "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
        finish = [c.choices[0].finish_reason for c in chunks if c.choices][-1]
    else:
        completion = await sdk.chat.completions.create(**kwargs, max_completion_tokens=3)
        text = completion.choices[0].message.content or ""
        finish = completion.choices[0].finish_reason
    assert (text, finish) == ("alpha beta gamma", "length")


async def test_unknown_model_raises_not_found(sdk: AsyncOpenAI) -> None:
    with pytest.raises(openai.NotFoundError) as info:
        await sdk.chat.completions.create(model="gpt-0", messages=user("hi"))
    assert info.value.code == "model_not_found"


async def test_rejected_parameters_raise_bad_request(sdk: AsyncOpenAI) -> None:
    with pytest.raises(openai.BadRequestError) as info:
        await sdk.chat.completions.create(model="gpt-5.4", messages=user("hi"), n=2)
    assert info.value.param == "n"
    with pytest.raises(openai.BadRequestError):
        await sdk.responses.create(model="gpt-5.4", input="hi", previous_response_id="resp_1")


async def test_exhausted_pool_raises_rate_limit_with_retry_after(
    sdk: AsyncOpenAI, rig: Rig
) -> None:
    for account in rig.runtime.accounts.list():
        rig.sim.set_fault(account.chatgpt_account_id, Fault("usage_limit", resets_in_seconds=60))
    with pytest.raises(openai.RateLimitError) as info:
        await sdk.chat.completions.create(model="gpt-5.4", messages=user("hi"))
    assert info.value.code == "usage_limit_reached"
    assert 50 <= int(info.value.response.headers["retry-after"]) <= 60


async def test_failure_inside_the_stream_raises_an_api_error(sdk: AsyncOpenAI, rig: Rig) -> None:
    (account,) = rig.runtime.accounts.list()
    rig.sim.set_fault(account.chatgpt_account_id, Fault("failed_in_stream"))
    with pytest.raises(openai.APIError):
        stream = await sdk.chat.completions.create(
            model="gpt-5.4", messages=user("hi"), stream=True
        )
        async for _ in stream:
            pass
    with pytest.raises(openai.BadRequestError):  # context_length_exceeded → 400
        await sdk.chat.completions.create(model="gpt-5.4", messages=user("hi"))


async def test_no_account_raises_a_server_error_naming_azt_login(rig: Rig) -> None:
    async with AsyncOpenAI(base_url=f"{rig.base_url}/v1", api_key="x", max_retries=0) as client:
        with pytest.raises(openai.InternalServerError) as info:
            await client.chat.completions.create(model="gpt-5.4", messages=user("hi"))
    assert info.value.status_code == 503 and "azt login" in info.value.message
