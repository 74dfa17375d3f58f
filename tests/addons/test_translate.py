import json

from mitmproxy.test import taddons, tutils

from azt.addons.flowstate import exchange_of
from azt.addons.handoff import PoolLink
from azt.addons.ingress import Ingress
from azt.addons.translate import CounterHolder, StreamAdapter, Translate
from azt.config import Settings
from azt.dialects.common.translation import Translation
from azt.exchange import Exchanges
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

    def result(self) -> tuple[int, dict]:
        return 200, {}

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
    api = Translate(catalog, CounterHolder(settings), PoolLink(4242, "secret", Exchanges()))
    flow = make_flow(path=path, body=json.dumps(body).encode())
    with taddons.context(ingress, api):
        ingress.requestheaders(flow)
        await ingress.request(flow)
        await api.request(flow)
    return flow


async def test_chat_request_is_translated_and_routed(make_flow, catalog) -> None:
    body = {"model": "openai/gpt-5.4", "messages": [{"role": "user", "content": "hi"}]}
    flow = await plan(body, make_flow, catalog)
    exchange = exchange_of(flow)
    assert flow.response is None and exchange.handed_over
    upstream = json.loads(flow.request.content)
    assert upstream["model"] == "gpt-5.4" and upstream["stream"] is True
    assert flow.request.path == "/responses" and flow.request.port == 4242
    assert isinstance(exchange.translation, Translation)
    assert exchange.translation.upstream == upstream


async def test_only_a_non_streaming_client_lets_the_pool_send_the_reply_whole(
    make_flow, catalog
) -> None:
    messages = [{"role": "user", "content": "hi"}]
    whole = await plan({"model": "gpt-5.4", "messages": messages}, make_flow, catalog)
    assert exchange_of(whole).whole_reply
    body = {"model": "gpt-5.4", "messages": messages, "stream": True}
    streamed = await plan(body, make_flow, catalog)
    assert not exchange_of(streamed).whole_reply
    body = {"model": "gpt-5.4", "input": "hi", "stream": True}
    streamed = await plan(body, make_flow, catalog, path="/v1/responses")
    assert not exchange_of(streamed).whole_reply


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

    monkeypatch.setattr("azt.dialects.common.tokens.tiktoken.get_encoding", offline)
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
    assert flow.response is None and exchange_of(flow).handed_over


def test_a_collapsed_reply_from_the_pool_passes_as_it_is(make_flow) -> None:
    """The pool collapses a non-streaming client's reply; the addon only names what it
    ignored."""
    api = Translate(None, None, None)  # type: ignore[arg-type]
    flow = make_flow()
    exchange = exchange_of(flow)
    exchange.route = resolve("POST", "/v1/chat/completions")
    exchange.body = {}
    exchange.translation = Translation({}, Echo(), stream=False, ignored=("seed",))
    exchange.ignored = ("seed",)
    body = b'{"object": "chat.completion"}'
    flow.response = tutils.tresp(content=body, headers=[(b"content-type", b"application/json")])
    with taddons.context(api):
        api.responseheaders(flow)
        assert not flow.response.stream
    assert flow.response.headers["x-azt-ignored-params"] == "seed"
    assert flow.response.content == body


def test_fallback_stream_errors_are_valid_in_their_dialect() -> None:
    from openai.types.responses import ResponseErrorEvent

    from azt.addons.translate import DIALECTS
    from azt.dialects.common.sse import SseParser
    from azt.errors import internal_error
    from azt.routes import Dialect

    broke = internal_error("translating")
    (chat, done) = list(SseParser().feed(DIALECTS[Dialect.CHAT].stream_error(broke)))
    assert json.loads(chat.data)["error"]["code"] == "internal_error" and done.data == "[DONE]"
    (event,) = list(SseParser().feed(DIALECTS[Dialect.RESPONSES].stream_error(broke)))
    assert event.event == "error"
    parsed = ResponseErrorEvent.model_validate(json.loads(event.data))
    assert parsed.code == "internal_error"
