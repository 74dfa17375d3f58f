import json

from azt.dialects.common.sse import SseParser, encode_event
from azt.pool.stream import StreamTracker

CREATED = encode_event(
    {"type": "response.created", "sequence_number": 0, "response": {"id": "resp_1"}}
)
DELTA = encode_event({"type": "response.output_text.delta", "sequence_number": 1, "delta": "hi"})
DONE = encode_event({"type": "response.completed", "sequence_number": 2, "response": {}})


def test_forwards_only_complete_events_at_any_split() -> None:
    stream = CREATED + DELTA + DONE
    for cut in range(len(stream) + 1):
        tracker = StreamTracker()
        out = tracker.feed(stream[:cut]) + tracker.feed(stream[cut:]) + tracker.finish()
        assert out == stream
        assert tracker.terminal == "response.completed"
        assert tracker.response_id == "resp_1"


def test_partial_event_is_held_back() -> None:
    tracker = StreamTracker()
    assert tracker.feed(CREATED + DELTA[:10]) == CREATED
    assert not tracker.saw_content
    assert tracker.feed(DELTA[10:]) == DELTA
    assert tracker.saw_content


def test_failure_event_continues_the_numbering() -> None:
    tracker = StreamTracker()
    tracker.feed(CREATED + DELTA)
    raw = tracker.failure_event("upstream_stream_truncated", "cut")
    (event,) = list(SseParser().feed(raw))
    payload = json.loads(event.data)
    assert payload["type"] == "response.failed"
    assert payload["sequence_number"] == 2
    assert payload["response"]["id"] == "resp_1"
    assert payload["response"]["error"]["code"] == "upstream_stream_truncated"
    assert tracker.terminal == "response.failed"


def test_a_whole_final_event_without_its_blank_line_is_completed() -> None:
    tracker = StreamTracker()
    tracker.feed(CREATED + DONE[:-2])
    assert tracker.finish() == DONE
    assert tracker.terminal == "response.completed"


def test_a_fragment_cut_off_upstream_is_dropped() -> None:
    tracker = StreamTracker()
    tracker.feed(CREATED + DELTA[:-10])
    assert tracker.finish() == b""
    assert not tracker.saw_content and tracker.terminal is None
