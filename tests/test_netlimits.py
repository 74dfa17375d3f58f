"""The connection limits as pure rules: phases and their timeouts, head sizes, the 431."""

import json
from pathlib import Path

import pytest

from azt import netlimits
from azt.config import Settings
from azt.netlimits import (
    LISTEN_BACKLOG,
    ConnectionWatch,
    HeadLimits,
    Phase,
    head_limits,
    head_size,
    head_too_large_response,
    listen_backlog,
    pool_limits,
)

LIMITS = HeadLimits(head_bytes=1024, header_timeout=30.0, idle_timeout=75.0)


def test_a_new_connection_has_the_header_timeout_to_send_a_head() -> None:
    watch = ConnectionWatch(LIMITS)
    assert (watch.phase, watch.timeout()) == (Phase.AWAITING_HEAD, 30.0)
    # Bytes of the first head do not restart its clock: a slow drip cannot stretch it.
    assert not watch.head_started()
    assert watch.timeout() == 30.0


def test_no_timeout_runs_while_any_request_is_in_flight() -> None:
    watch = ConnectionWatch(LIMITS)
    assert watch.flow_started("a")
    assert not watch.flow_started("b")  # HTTP/2: a second stream on the connection
    assert watch.timeout() is None
    assert not watch.flow_ended("a")
    assert (watch.phase, watch.timeout()) == (Phase.IN_FLIGHT, None)
    assert watch.flow_ended("b")
    assert (watch.phase, watch.timeout()) == (Phase.IDLE, 75.0)
    assert not watch.flow_ended("b")  # an error after the response changes nothing


def test_the_first_byte_after_an_idle_wait_starts_the_header_timeout() -> None:
    watch = ConnectionWatch(LIMITS)
    watch.flow_started("a")
    watch.flow_ended("a")
    assert watch.head_started()
    assert (watch.phase, watch.timeout()) == (Phase.AWAITING_HEAD, 30.0)
    assert watch.flow_started("b")
    assert watch.timeout() is None


def test_a_tunnel_awaits_its_first_head_once_connect_is_answered() -> None:
    watch = ConnectionWatch(LIMITS)
    watch.flow_started("connect")
    assert watch.timeout() is None
    assert watch.tunnel_opened("connect")
    assert (watch.phase, watch.timeout()) == (Phase.AWAITING_HEAD, 30.0)


def test_a_passed_through_tunnel_has_no_timeout_of_azts() -> None:
    watch = ConnectionWatch(LIMITS)
    assert watch.passed_through()
    for event in (
        watch.head_started,
        lambda: watch.flow_started("a"),
        lambda: watch.flow_ended("a"),
    ):
        assert not event()
        assert (watch.phase, watch.timeout()) == (Phase.UNWATCHED, None)


def test_head_size_counts_the_head_as_http_1_1_sends_it() -> None:
    headers = [(b"Host", b"example.com"), (b"X-Long", b"v" * 300)]
    wire = (
        b"POST /v1/responses HTTP/1.1\r\nHost: example.com\r\nX-Long: " + b"v" * 300 + b"\r\n\r\n"
    )
    assert head_size(b"POST", b"/v1/responses", headers) == len(wire)


def test_the_431_is_a_complete_response_in_openai_shape() -> None:
    raw = head_too_large_response(64 * 1024)
    head, body = raw.split(b"\r\n\r\n", 1)
    lines = head.decode().split("\r\n")
    assert lines[0] == "HTTP/1.1 431 Request Header Fields Too Large"
    fields = dict(line.split(": ", 1) for line in lines[1:])
    assert fields == {
        "content-type": "application/json",
        "content-length": str(len(body)),
        "connection": "close",
    }
    error = json.loads(body)
    assert error["error"]["code"] == "request_header_too_large"
    assert error["error"]["type"] == "invalid_request_error"
    assert "64 KiB" in error["error"]["message"] and error["detail"] == error["error"]["message"]


def test_settings_give_the_listeners_limits_and_the_pool_wider_ones() -> None:
    settings = Settings(header_limit_kb=8, header_timeout_seconds=5, idle_timeout_seconds=20)
    listeners = head_limits(settings)
    assert listeners == HeadLimits(head_bytes=8 * 1024, header_timeout=5, idle_timeout=20)
    pool = pool_limits(settings)
    assert pool.head_bytes > listeners.head_bytes
    assert pool.idle_timeout > listeners.idle_timeout


def test_the_backlog_is_capped_at_somaxconn(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    somaxconn = tmp_path / "somaxconn"
    monkeypatch.setattr(netlimits, "_SOMAXCONN", somaxconn)
    assert listen_backlog() == LISTEN_BACKLOG  # where the cap cannot be read
    somaxconn.write_text("128\n")
    assert listen_backlog() == 128
    somaxconn.write_text("65535\n")
    assert listen_backlog() == LISTEN_BACKLOG
