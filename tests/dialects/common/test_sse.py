import json

from hypothesis import given
from hypothesis import strategies as st

from azt.dialects.common.sse import SseEvent, SseParser, encode_event

STREAM = (
    b'event: response.created\ndata: {"type":"response.created","sequence_number":0}\n\n'
    b": a comment line\n\n"
    b'data: {"type":"response.output_text.delta","delta":"h\xc3\xa9llo"}\n\n'
    b"event: multi\r\ndata: line one\r\ndata: line two\r\n\r\n"
    b'event: response.completed\rdata: {"type":"response.completed"}\r\r'
)

EXPECTED = [
    SseEvent("response.created", '{"type":"response.created","sequence_number":0}'),
    SseEvent(None, '{"type":"response.output_text.delta","delta":"héllo"}'),
    SseEvent("multi", "line one\nline two"),
    SseEvent("response.completed", '{"type":"response.completed"}'),
]


def parse_in_pieces(pieces: list[bytes]) -> list[SseEvent]:
    parser = SseParser()
    events = [e for piece in pieces for e in parser.feed(piece)]
    return events + list(parser.finish())


def test_whole_stream() -> None:
    assert parse_in_pieces([STREAM]) == EXPECTED


def test_every_single_split_point() -> None:
    for cut in range(len(STREAM) + 1):
        assert parse_in_pieces([STREAM[:cut], STREAM[cut:]]) == EXPECTED, cut


def test_byte_by_byte() -> None:
    assert parse_in_pieces([STREAM[i : i + 1] for i in range(len(STREAM))]) == EXPECTED


@given(st.lists(st.integers(min_value=0, max_value=len(STREAM)), max_size=12))
def test_random_splits(cuts: list[int]) -> None:
    points = sorted(set(cuts))
    pieces = [STREAM[a:b] for a, b in zip([0, *points], [*points, len(STREAM)], strict=True)]
    assert parse_in_pieces(pieces) == EXPECTED


def test_finish_flushes_an_unterminated_event() -> None:
    parser = SseParser()
    assert list(parser.feed(b"data: tail")) == []
    assert list(parser.finish()) == [SseEvent(None, "tail")]


def test_encode_event_round_trips_and_names_the_type() -> None:
    raw = encode_event({"type": "response.completed", "text": "ü"})
    assert raw.startswith(b"event: response.completed\ndata: ")
    (event,) = parse_in_pieces([raw])
    assert json.loads(event.data) == {"type": "response.completed", "text": "ü"}
