"""Content codings are undone in bounded slices, and a bomb is refused at the limit."""

import gzip
import tracemalloc
import zlib

import brotli
import pytest
import zstandard
from hypothesis import given, settings
from hypothesis import strategies as st

from azt.encodings import BadEncoding, BodyTooLarge, decode_body, encodings_of

ENCODE = {
    "gzip": gzip.compress,
    "deflate": zlib.compress,
    "zstd": lambda data: zstandard.ZstdCompressor().compress(data),
    "br": brotli.compress,
}
MiB = 1024 * 1024


@settings(max_examples=40, deadline=None)
@given(data=st.binary(max_size=4096), coding=st.sampled_from(sorted(ENCODE)))
def test_every_coding_round_trips(data: bytes, coding: str) -> None:
    assert decode_body(ENCODE[coding](data), coding, limit=len(data)) == data


def test_raw_deflate_and_several_gzip_members_and_two_layers() -> None:
    raw = zlib.compressobj(wbits=-zlib.MAX_WBITS)
    assert decode_body(raw.compress(b"plain") + raw.flush(), "deflate", 100) == b"plain"
    assert decode_body(gzip.compress(b"ab") + gzip.compress(b"cd"), "gzip", 100) == b"abcd"
    both = brotli.compress(gzip.compress(b"inner"))
    assert decode_body(both, "gzip, br", 100) == b"inner"
    assert decode_body(b"as is", "identity", 100) == b"as is"
    assert encodings_of("GZIP, identity, br") == ["gzip", "br"]


@pytest.mark.parametrize("coding", sorted(ENCODE))
def test_a_bomb_is_refused_without_holding_it(coding: str) -> None:
    """64 MiB of zeros compressed to a few KB: refused at a 4 MiB limit, in bounded memory."""
    bomb = ENCODE[coding](bytes(64 * MiB))
    assert len(bomb) < 512 * 1024
    tracemalloc.start()
    try:
        with pytest.raises(BodyTooLarge):
            decode_body(bomb, coding, limit=4 * MiB)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert peak < 16 * MiB  # the limit plus a few slices, never the whole 64 MiB


@pytest.mark.parametrize(
    ("data", "coding"),
    [
        (b"not gzip", "gzip"),
        (b"not deflate", "deflate"),
        (b"not zstd", "zstd"),
        (b"not brotli", "br"),
        (gzip.compress(b"x" * 10_000)[:-8], "gzip"),
        (brotli.compress(b"x" * 10_000)[:-3], "br"),
        (b"x", "compress"),
        (b"x", "gzip, gzip, gzip, gzip"),
    ],
)
def test_what_cannot_be_decoded_is_a_bad_encoding(data: bytes, coding: str) -> None:
    with pytest.raises(BadEncoding):
        decode_body(data, coding, limit=MiB)
