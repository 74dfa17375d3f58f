import json

from mitmproxy.test import taddons, tutils

from azt.addons.flowstate import BODY, ROUTE, ROUTED, TRANSLATION
from azt.addons.ingress import Ingress
from azt.addons.openai_api import CounterHolder, OpenAIApi, StreamAdapter, Translation
from azt.config import Settings
from azt.pool.server import WHOLE_REPLY_HEADER
from azt.routes import resolve


class Echo:
    """A translator that upper-cases what it is fed and marks the end."""

    def __init__(self, explode_on: bytes | None = None) -> None:
        self.explode_on = explode_on

    def feed(self, data: bytes) -> bytes:
        if data == self.explode_on:
            raise ValueError("translator bug")
        return data.upper() if data != b"hold" else b""

    def finish(self) -> bytes:
        return b"END"

    def collapse(self, data: bytes) -> tuple[int, dict]:
        return 200, {"collapsed": data.decode()}


def test_stream_adapter_never_returns_empty_bytes_mid_stream() -> None:
    adapter = StreamAdapter(Echo(), b"ERROR")
    assert adapter(b"abc") == b"ABC"
    assert adapter(b"hold") == []  # b"" would end an HTTP/1.1 chunked reply early
    assert adapter(b"") == b"END"


def test_stream_adapter_turns_a_crash_into_one_error_event() -> None:
    adapter = StreamAdapter(Echo(explode_on=b"boom"), b"ERROR")
    assert adapter(b"ok") == b"OK"
    assert adapter(b"boom") == b"ERROR"
    assert adapter(b"more") == []
    assert adapter(b"") == b""


async def plan(body: dict, make_flow, catalog, settings=None, path="/v1/chat/completions"):
    settings = settings or Settings()
    ingress = Ingress(settings)
    api = OpenAIApi(catalog, CounterHolder(settings), 4242, "secret")
    flow = make_flow(path=path, body=json.dumps(body).encode())
    with taddons.context(ingress, api):
        ingress.requestheaders(flow)
        ingress.request(flow)
        await api.request(flow)
    return flow


async def test_chat_request_is_translated_and_routed(make_flow, catalog) -> None:
    body = {"model": "openai/gpt-5.4", "messages": [{"role": "user", "content": "hi"}]}
    flow = await plan(body, make_flow, catalog)
    assert flow.response is None and flow.metadata[ROUTED]
    upstream = json.loads(flow.request.content)
    assert upstream["model"] == "gpt-5.4" and upstream["stream"] is True
    assert flow.request.path == "/responses" and flow.request.port == 4242
    assert isinstance(flow.metadata[TRANSLATION], Translation)


async def test_only_a_non_streaming_client_lets_the_pool_send_the_reply_whole(
    make_flow, catalog
) -> None:
    messages = [{"role": "user", "content": "hi"}]
    whole = await plan({"model": "gpt-5.4", "messages": messages}, make_flow, catalog)
    assert whole.request.headers[WHOLE_REPLY_HEADER] == "1"
    body = {"model": "gpt-5.4", "messages": messages, "stream": True}
    streamed = await plan(body, make_flow, catalog)
    assert WHOLE_REPLY_HEADER not in streamed.request.headers
    body = {"model": "gpt-5.4", "input": "hi", "stream": True}
    streamed = await plan(body, make_flow, catalog, path="/v1/responses")
    assert WHOLE_REPLY_HEADER not in streamed.request.headers


async def test_missing_and_unknown_models(make_flow, catalog) -> None:
    flow = await plan({"messages": []}, make_flow, catalog)
    assert flow.response.status_code == 400
    flow = await plan({"model": "nope", "input": "hi"}, make_flow, catalog, path="/v1/responses")
    assert flow.response.status_code == 404
    assert json.loads(flow.response.content)["error"]["code"] == "model_not_found"


async def test_max_tokens_without_a_tokenizer_is_refused(
    make_flow, catalog, tmp_path, monkeypatch
) -> None:
    def offline(name: str) -> None:
        raise ConnectionError("no network")

    monkeypatch.setattr("azt.dialects.tokens.tiktoken.get_encoding", offline)
    settings = Settings(tokenizer_file=str(tmp_path / "missing.tiktoken"))
    body = {"model": "gpt-5.4", "messages": [{"role": "user", "content": "hi"}], "max_tokens": 5}
    flow = await plan(body, make_flow, catalog, settings)
    error = json.loads(flow.response.content)["error"]
    assert (flow.response.status_code, error["code"]) == (400, "tokenizer_unavailable")
    assert "azt tokenizer install" in error["message"]


async def test_max_tokens_uses_the_configured_vocabulary(make_flow, catalog, vocabulary) -> None:
    settings = Settings(tokenizer_file=str(vocabulary))
    body = {"model": "gpt-5.4", "messages": [{"role": "user", "content": "hi"}], "max_tokens": 5}
    flow = await plan(body, make_flow, catalog, settings)
    assert flow.response is None and flow.metadata[ROUTED]


def test_non_stream_reply_is_collapsed(make_flow) -> None:
    api = OpenAIApi(None, None, 1, "s")  # type: ignore[arg-type]
    flow = make_flow()
    flow.metadata[ROUTE] = resolve("POST", "/v1/chat/completions")
    flow.metadata[BODY] = {}
    flow.metadata[TRANSLATION] = Translation(Echo(), stream=False, ignored=("seed",))
    flow.response = tutils.tresp(
        content=b"data: x\n\n", headers=[(b"content-type", b"text/event-stream")]
    )
    with taddons.context(api):
        api.responseheaders(flow)
        assert not flow.response.stream
        api.response(flow)
    assert flow.response.headers["x-azt-ignored-params"] == "seed"
    assert flow.response.headers["content-type"] == "application/json"
    assert json.loads(flow.response.content) == {"collapsed": "data: x\n\n"}


def test_fallback_stream_errors_are_valid_in_their_dialect() -> None:
    from openai.types.responses import ResponseErrorEvent

    from azt.addons.openai_api import _chat_stream_error, _responses_stream_error
    from azt.dialects.sse import SseParser

    (chat, done) = list(SseParser().feed(_chat_stream_error()))
    assert json.loads(chat.data)["error"]["code"] == "internal_error" and done.data == "[DONE]"
    (event,) = list(SseParser().feed(_responses_stream_error()))
    assert event.event == "error"
    parsed = ResponseErrorEvent.model_validate(json.loads(event.data))
    assert parsed.code == "internal_error"
