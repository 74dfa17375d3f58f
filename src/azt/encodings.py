"""Undo a request body's Content-Encoding without ever holding more than the limit.

A few kilobytes of zstd or gzip can expand to gigabytes. Every decoder here produces its
output in bounded slices and stops as soon as the decoded size passes the caller's limit, so a
decompression bomb costs at most `limit` bytes of memory and is refused as `BodyTooLarge`.
Decoding is CPU work: the gateway runs it off the event loop.

Pure: no I/O.
"""

import io
import zlib
from collections.abc import Callable, Iterator

import brotli
import zstandard

SLICE = 1024 * 1024  # decoded bytes produced per step
MAX_LAYERS = 3  # `gzip, br` is two; more is not a real client
IDENTITY = frozenset({"", "identity", "none"})


class BodyTooLarge(ValueError):
    """The decoded body is larger than the limit."""


class BadEncoding(ValueError):
    """The body is not valid data for its Content-Encoding, or the encoding is unknown."""


def encodings_of(header: str) -> list[str]:
    """The codings of a Content-Encoding header, in the order they were applied."""
    names = [name.strip().lower() for name in header.split(",")]
    return [name for name in names if name not in IDENTITY]


def decode_body(data: bytes, header: str, limit: int) -> bytes:
    """`data` with every coding of `header` undone; raises BodyTooLarge or BadEncoding."""
    codings = encodings_of(header)
    if len(codings) > MAX_LAYERS:
        raise BadEncoding(f"more than {MAX_LAYERS} content codings")
    for coding in reversed(codings):  # the last one applied is undone first
        decoder = DECODERS.get(coding)
        if decoder is None:
            raise BadEncoding(f"unknown content coding {coding!r}")
        data = _bounded(decoder(data), limit)
    return data


def _bounded(slices: Iterator[bytes], limit: int) -> bytes:
    parts: list[bytes] = []
    size = 0
    for part in slices:
        size += len(part)
        if size > limit:
            raise BodyTooLarge(f"the decoded body is larger than {limit} bytes")
        parts.append(part)
    return b"".join(parts)


def _zlib(data: bytes, wbits: int) -> Iterator[bytes]:
    """zlib, gzip or raw deflate; gzip may hold several members back to back."""
    while data:
        decoder = zlib.decompressobj(wbits)
        try:
            chunk = decoder.decompress(data, SLICE)
            while True:
                if chunk:
                    yield chunk
                if not decoder.unconsumed_tail:
                    break
                chunk = decoder.decompress(decoder.unconsumed_tail, SLICE)
            tail = decoder.flush()
        except zlib.error as e:
            raise BadEncoding(str(e)) from e
        if tail:
            yield tail
        if not decoder.eof:
            raise BadEncoding("the compressed body ends early")
        data = decoder.unused_data if wbits & 16 else b""


def _gzip(data: bytes) -> Iterator[bytes]:
    return _zlib(data, 16 + zlib.MAX_WBITS)


def _deflate(data: bytes) -> Iterator[bytes]:
    # "deflate" means zlib-wrapped deflate; some clients send raw deflate, as browsers accept.
    wrapped = len(data) >= 2 and (data[0] & 0x0F) == 8 and ((data[0] << 8) | data[1]) % 31 == 0
    return _zlib(data, zlib.MAX_WBITS if wrapped else -zlib.MAX_WBITS)


def _zstd(data: bytes) -> Iterator[bytes]:
    try:
        reader = zstandard.ZstdDecompressor().stream_reader(
            io.BytesIO(data), read_across_frames=True
        )
        while chunk := reader.read(SLICE):
            yield chunk
    except zstandard.ZstdError as e:
        raise BadEncoding(str(e)) from e


def _brotli(data: bytes) -> Iterator[bytes]:
    decoder = brotli.Decompressor()
    try:
        chunk = decoder.process(data, output_buffer_limit=SLICE)
        while True:
            if chunk:
                yield chunk
            if decoder.is_finished() or decoder.can_accept_more_data():
                break
            chunk = decoder.process(b"", output_buffer_limit=SLICE)
    except brotli.error as e:
        raise BadEncoding(str(e)) from e
    if not decoder.is_finished():
        raise BadEncoding("the compressed body ends early")


DECODERS: dict[str, Callable[[bytes], Iterator[bytes]]] = {
    "gzip": _gzip,
    "x-gzip": _gzip,
    "deflate": _deflate,
    "zstd": _zstd,
    "br": _brotli,
}
