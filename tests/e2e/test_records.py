"""Request records end to end: every summary number exact after a mix of outcomes."""

import json
from collections.abc import AsyncIterator
from dataclasses import dataclass

import openai
import pytest
from openai import AsyncOpenAI

from azt.dialects.common.usage import TokenUsage, usage_from_codex
from azt.records.prices import PriceTable, merged_prices
from azt.sim.faults import Fault
from support.rig import Rig
from support.sse import events_of

PRICES = PriceTable(merged_prices({}))


@pytest.fixture
async def sdk(rig: Rig) -> AsyncIterator[AsyncOpenAI]:
    client = AsyncOpenAI(base_url=f"{rig.base_url}/v1", api_key="sk-anything", max_retries=0)
    async with client:
        yield client


@dataclass
class Expected:
    endpoint: str
    ok: bool
    usage: TokenUsage | None
    model: str | None
    attempts: int
    source: str = "openai-sdk-python"
    images: int = 0
    error: str | None = None
    image_model: str | None = None

    @property
    def cost(self) -> int | None:
        if self.images:
            return PRICES.cost(None, None, self.usage, image_model=self.image_model)
        return PRICES.cost(self.model, self.usage)


def user(text: str) -> list[dict[str, str]]:
    return [{"role": "user", "content": text}]


def upstream_calls(rig: Rig) -> int:
    return sum(1 for r in rig.sim.requests if r.path.endswith("/responses"))


def fault_everywhere(rig: Rig, accounts: list, fault: Fault) -> None:
    for account in accounts:
        rig.sim.set_fault(account.chatgpt_account_id, fault)


async def admin(rig: Rig, path: str) -> dict:
    reply = await rig.client.get(path)
    assert reply.status_code == 200, reply.text
    return reply.json()


async def test_every_summary_number_is_exact(rig: Rig, sdk: AsyncOpenAI) -> None:
    accounts = [rig.add_account("a@example.com"), rig.add_account("b@example.com")]
    expected: list[Expected] = []

    async def served(endpoint: str, call, usage_of, **extra) -> None:  # type: ignore[no-untyped-def]
        before = upstream_calls(rig)
        reply = await call()
        expected.append(
            Expected(
                endpoint,
                ok=True,
                usage=usage_of(reply),
                model="gpt-5.4",
                attempts=upstream_calls(rig) - before,
                **extra,
            )
        )

    def chat_usage(completion) -> TokenUsage | None:  # type: ignore[no-untyped-def]
        return usage_from_codex(completion.usage.model_dump()) if completion.usage else None

    # Successes: chat (plain, streamed with usage, tool call), responses, Codex passthrough.
    await served(
        "chat.completions",
        lambda: sdk.chat.completions.create(model="gpt-5.4", messages=user("Say hi")),
        chat_usage,
    )

    async def streamed_chat():  # type: ignore[no-untyped-def]
        stream = await sdk.chat.completions.create(
            model="gpt-5.4",
            messages=user("Stream please"),
            stream=True,
            stream_options={"include_usage": True},
        )
        return [chunk async for chunk in stream][-1]

    await served("chat.completions", streamed_chat, chat_usage)
    weather_tool = {
        "type": "function",
        "function": {"name": "get_weather", "parameters": {"type": "object", "properties": {}}},
    }
    await served(
        "chat.completions",
        lambda: sdk.chat.completions.create(
            model="gpt-5.4", messages=user("get_weather for Paris"), tools=[weather_tool]
        ),
        chat_usage,
    )
    await served(
        "responses.create",
        lambda: sdk.responses.create(model="gpt-5.4", input="Reply with PONG only."),
        lambda r: usage_from_codex(r.usage.model_dump()),
    )

    async def codex_turn() -> list[dict]:
        message = {
            "type": "message",
            "role": "user",
            "content": [{"type": "input_text", "text": "hi"}],
        }
        body = {
            "model": "gpt-5.4",
            "instructions": "",
            "input": [message],
            "stream": True,
            "store": False,
        }
        reply = await rig.client.post(
            "/codex/v1/responses",
            json=body,
            headers={"originator": "codex_exec", "user-agent": "codex_exec/0.169.0 (Linux)"},
        )
        assert reply.status_code == 200, reply.text
        return events_of(reply.content)

    await served(
        "codex.responses",
        codex_turn,
        lambda events: usage_from_codex(events[-1]["response"]["usage"]),
        source="codex-cli",
    )

    # An image on a paid account: counted by the image tool's own usage.
    before = upstream_calls(rig)
    image = await sdk.images.generate(model="gpt-image-1", prompt="A red square")
    assert image.usage is not None
    image_usage = usage_from_codex(image.usage.model_dump())
    assert image_usage is not None
    expected.append(
        Expected(
            "images.generations",
            ok=True,
            usage=image_usage.counts(),  # records keep the counts, not the image/text split
            model="gpt-image-1",
            attempts=upstream_calls(rig) - before,
            images=1,
            image_model="gpt-image-1",
        )
    )

    # A reply without usage: counted as such, never guessed.
    fault_everywhere(rig, accounts, Fault("no_usage", times=1))
    before = upstream_calls(rig)
    await sdk.chat.completions.create(model="gpt-5.4", messages=user("No usage"))
    expected.append(
        Expected("chat.completions", True, None, "gpt-5.4", upstream_calls(rig) - before)
    )
    rig.sim.clear_faults()

    # Failures: upstream failure inside the stream, unknown model, bad JSON.
    fault_everywhere(rig, accounts, Fault("failed_in_stream", times=1))
    before = upstream_calls(rig)
    with pytest.raises(openai.APIError):
        await sdk.chat.completions.create(model="gpt-5.4", messages=user("Too long"))
    expected.append(
        Expected(
            "chat.completions",
            ok=False,
            usage=None,
            model="gpt-5.4",
            attempts=upstream_calls(rig) - before,
            error="context_length_exceeded",
        )
    )
    rig.sim.clear_faults()
    with pytest.raises(openai.NotFoundError):
        await sdk.chat.completions.create(model="no-such-model", messages=user("x"))
    expected.append(
        Expected("chat.completions", False, None, "no-such-model", 0, error="model_not_found")
    )
    bad = await rig.client.post(
        "/v1/chat/completions", content=b"{", headers={"content-type": "application/json"}
    )
    assert bad.status_code == 400
    expected.append(
        Expected("chat.completions", False, None, None, 0, "other", error="invalid_json")
    )

    # A failover when the account tried first is out of quota (usage filled in below).
    rig.sim.set_fault(accounts[0].chatgpt_account_id, Fault("usage_limit", times=1))
    before = upstream_calls(rig)
    await sdk.chat.completions.create(model="gpt-5.4", messages=user("Fail over"))
    expected.append(
        Expected("chat.completions", True, None, "gpt-5.4", upstream_calls(rig) - before)
    )

    records = (await admin(rig, "/_gateway/admin/requests?limit=100"))["data"]
    assert len(records) == len(expected)
    records.reverse()  # oldest first, like `expected`
    last = records[-1]
    assert last["usage"] is not None
    expected[-1].usage = usage_from_codex(last["usage"])
    for record, want in zip(records, expected, strict=True):
        got_usage = usage_from_codex(record["usage"]) if record["usage"] else None
        assert (record["endpoint"], record["ok"], record["source"]) == (
            want.endpoint,
            want.ok,
            want.source,
        ), record
        assert got_usage == want.usage, record
        assert record["attempts"] == want.attempts, record
        assert record["failovers"] == max(want.attempts - 1, 0)
        assert record["image_count"] == want.images
        assert record["error_type"] == want.error, record
        assert record["cost_micro_usd"] == want.cost, record
        assert record["ingress"] == "reverse" and record["client"] == "127.0.0.1"

    summary = await admin(rig, "/_gateway/admin/usage")
    usages = [e.usage for e in expected if e.usage is not None]
    totals = sum(usages, TokenUsage())
    lifetime = summary["lifetime"]
    assert lifetime["requests"] == len(expected)
    assert lifetime["successes"] == sum(e.ok for e in expected)
    assert lifetime["failures"] == sum(not e.ok for e in expected)
    assert lifetime["failovers"] == sum(max(e.attempts - 1, 0) for e in expected)
    assert lifetime["usage_unknown"] == sum(e.usage is None for e in expected)
    assert (
        lifetime["input_tokens"],
        lifetime["cached_tokens"],
        lifetime["output_tokens"],
        lifetime["reasoning_tokens"],
        lifetime["total_tokens"],
    ) == (totals.input, totals.cached, totals.output, totals.reasoning, totals.total)
    assert lifetime["images"] == 1
    assert lifetime["cost_micro_usd"] == sum(e.cost or 0 for e in expected)
    assert lifetime["cost_micro_usd"] > 0
    assert summary["today_totals"] == lifetime
    assert summary["process"]["requests"] == len(expected)
    assert summary["daily"][0]["requests"] == len(expected)

    by_endpoint = {row["key"]: row["requests"] for row in summary["by_endpoint"]}
    assert by_endpoint == {
        "chat.completions": sum(e.endpoint == "chat.completions" for e in expected),
        "responses.create": 1,
        "codex.responses": 1,
        "images.generations": 1,
    }
    by_error = {row["key"]: row["requests"] for row in summary["by_error"]}
    assert by_error == {"context_length_exceeded": 1, "model_not_found": 1, "invalid_json": 1}
    by_source = {row["key"]: row["requests"] for row in summary["by_source"]}
    assert by_source == {
        "openai-sdk-python": len(expected) - 2,
        "codex-cli": 1,
        "other": 1,
    }
    by_account = {row["key"]: row["requests"] for row in summary["by_account"]}
    assert set(by_account) <= {a.key for a in accounts} | {"-"}
    assert by_account["-"] == 2  # the two requests azt refused itself
    by_image_route = {row["key"]: row["images"] for row in summary["by_image_route"]}
    assert by_image_route["images-api"] == 1


async def test_admin_requests_filters_and_pages(rig: Rig, sdk: AsyncOpenAI) -> None:
    rig.add_account()
    for _ in range(3):
        await sdk.chat.completions.create(model="gpt-5.4", messages=user("hi"))
    with pytest.raises(openai.NotFoundError):
        await sdk.chat.completions.create(model="nope", messages=user("x"))
    page = await admin(rig, "/_gateway/admin/requests?limit=2")
    assert len(page["data"]) == 2 and page["total"] == 4
    older = await admin(
        rig, f"/_gateway/admin/requests?limit=2&before_seq={page['next_before_seq']}"
    )
    seqs = [r["seq"] for r in page["data"] + older["data"]]
    assert seqs == sorted(seqs, reverse=True) and len(set(seqs)) == 4
    errors = await admin(rig, "/_gateway/admin/requests?errors=true")
    assert [r["error_type"] for r in errors["data"]] == ["model_not_found"]
    newer = await admin(rig, f"/_gateway/admin/requests?after_seq={seqs[1]}")
    assert [r["seq"] for r in newer["data"]] == [seqs[0]]
    bad = await rig.client.get("/_gateway/admin/requests?limit=0")
    assert bad.status_code == 400 and bad.json()["error"]["param"] == "limit"
    bad_since = await rig.client.get("/_gateway/admin/usage?since=yesterday")
    assert bad_since.status_code == 400


async def test_metrics_count_requests_and_show_accounts(rig: Rig, sdk: AsyncOpenAI) -> None:
    account = rig.add_account()
    await sdk.chat.completions.create(model="gpt-5.4", messages=user("hi"))
    reply = await rig.client.get("/metrics")
    assert reply.status_code == 200 and reply.headers["content-type"].startswith("text/plain")
    text = reply.text
    assert 'azt_requests_total{code="200",endpoint="chat.completions"' in text
    assert f'azt_account_usable{{account="{account.key}"}} 1.0' in text
    assert account.email not in text and account.access_token not in text


async def test_admin_api_refuses_foreign_hosts_and_is_not_recorded(rig: Rig) -> None:
    rebinding = await rig.client.get("/_gateway/admin/usage", headers={"host": "evil.example"})
    assert rebinding.status_code == 403
    await admin(rig, "/_gateway/admin/usage")
    await rig.client.get("/metrics")
    summary = await admin(rig, "/_gateway/admin/usage")
    assert summary["lifetime"]["requests"] == 0


@pytest.mark.parametrize("gateway_settings", [{"log_previews": True}])
async def test_previews_are_opt_in_and_redacted(rig: Rig, sdk: AsyncOpenAI) -> None:
    rig.add_account()
    await sdk.chat.completions.create(
        model="gpt-5.4", messages=user("Reply with PONG. my key is sk-proj-planted0123456789")
    )
    (record,) = (await admin(rig, "/_gateway/admin/requests"))["data"]
    assert record["preview_in"].startswith("Reply with PONG. my key is [redacted]")
    assert "planted0123456789" not in json.dumps(record)
    assert record["preview_out"].startswith("PONG")


async def test_no_previews_by_default(rig: Rig, sdk: AsyncOpenAI) -> None:
    rig.add_account()
    await sdk.chat.completions.create(model="gpt-5.4", messages=user("Reply with PONG."))
    (record,) = (await admin(rig, "/_gateway/admin/requests"))["data"]
    assert "preview_in" not in record and "preview_out" not in record
