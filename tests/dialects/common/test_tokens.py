from pathlib import Path

import pytest

from azt.dialects.common.tokens import (
    TiktokenCounter,
    find_counter,
    load_vocabulary,
    ranks_from_js_tiktoken,
    write_vocabulary,
)


@pytest.fixture(scope="module")
def counter(vocabulary: Path) -> TiktokenCounter:
    return TiktokenCounter(load_vocabulary(vocabulary))


def test_counts_like_o200k_base(vocabulary: Path) -> None:
    encoding = load_vocabulary(vocabulary)
    # Reference ids of o200k_base for this text.
    assert encoding.encode_ordinary("Hello, world!") == [13225, 11, 2375, 0]


def test_count_and_truncate(counter: TiktokenCounter) -> None:
    text = "The quick brown fox jumps over the lazy dog."
    assert counter.count(text) == 10
    assert counter.truncate(text, 3) == "The quick brown"
    assert counter.truncate(text, 100) == text
    assert counter.truncate(text, 0) == ""


def test_truncate_never_splits_a_character(counter: TiktokenCounter) -> None:
    text = "日本語のテキストと絵文字 🎉🎉🎉 and more"
    for limit in range(counter.count(text) + 1):
        prefix = counter.truncate(text, limit)
        assert text.startswith(prefix)
        assert counter.count(prefix) <= limit


def test_js_tiktoken_module_converts(tmp_path: Path) -> None:
    module = 'export default {"pat_str":"x","bpe_ranks":"! 0 IQ== Ig==\\n! 5 Iw=="};'
    pairs = list(ranks_from_js_tiktoken(module))
    assert pairs == [("IQ==", 0), ("Ig==", 1), ("Iw==", 5)]
    target = tmp_path / "v.tiktoken"
    assert write_vocabulary(pairs, target) == 3
    assert target.read_text() == "IQ== 0\nIg== 1\nIw== 5\n"
    assert not target.with_suffix(".partial").exists()


def test_broken_vocabulary_is_reported(tmp_path: Path) -> None:
    bad = tmp_path / "bad.tiktoken"
    bad.write_text("not a line\n")
    with pytest.raises(ValueError, match="bad.tiktoken:1"):
        load_vocabulary(bad)


def test_find_counter_prefers_the_first_file_that_loads(tmp_path: Path, vocabulary: Path) -> None:
    bad = tmp_path / "bad.tiktoken"
    bad.write_text("garbage\n")
    found = find_counter([tmp_path / "missing.tiktoken", bad, vocabulary])
    assert found is not None and found.count("Hello, world!") == 4
