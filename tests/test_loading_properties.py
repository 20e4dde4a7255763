"""Property tests: whatever bytes or text a file holds, the loaders return articles or failures and never raise."""

from __future__ import annotations

import json
from pathlib import Path

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from assistant.errors import InputError
from index.loaders import SUFFIXES, Article, LoadFailure, decode, parse_file

TEXT = st.text(alphabet=st.characters(codec="utf-8", exclude_categories=("Cs",)), max_size=1500)
# Text that looks a little like what the formats hold, so the parsers get past their first check more often.
WORDS = st.lists(
    st.sampled_from(
        'Title: Source: Date: # * the mayor said “ ” . , \n \n\n <p> </p> <html> <body> { } [ ] " : 2024-05-01 '
        "BT ET Tj ( ) % obj stream endstream trailer ... body title id null true 0 -1 1e309 \\u0000 é €".split(" ")
    ),
    max_size=300,
).map(" ".join)
ARTICLE_SUFFIXES = sorted(SUFFIXES)
FAST = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def check(items: list[Article | LoadFailure], path: Path) -> None:
    assert items, "a file gives at least one article or one failure"
    for item in items:
        assert isinstance(item, Article | LoadFailure)
        if isinstance(item, LoadFailure):
            assert item.path.startswith(str(path)) and item.error.strip()
        else:
            assert len(item.text.split()) >= 5 and item.doc_id and item.path == str(path)


@FAST
@given(raw=st.binary(max_size=3000), suffix=st.sampled_from(ARTICLE_SUFFIXES))
def test_arbitrary_bytes_never_crash_a_loader(raw: bytes, suffix: str) -> None:
    path = Path(f"/nonexistent/archive/item{suffix}")  # parse_file never touches the disk
    check(list(parse_file(path, raw)), path)


@FAST
@given(text=st.one_of(TEXT, WORDS), suffix=st.sampled_from(ARTICLE_SUFFIXES))
def test_arbitrary_text_never_crashes_a_loader(text: str, suffix: str) -> None:
    path = Path(f"/nonexistent/archive/item{suffix}")
    check(list(parse_file(path, text.encode())), path)


@FAST
@given(records=st.lists(st.dictionaries(st.sampled_from(["id", "title", "body", "source", "published_at",
                                                         "url", "author", "date", "text"]),
                                        st.one_of(st.none(), st.integers(), TEXT, WORDS, st.lists(st.integers()))),
                        max_size=6))  # fmt: skip
def test_arbitrary_json_records_give_one_item_each(records: list[dict[str, object]]) -> None:
    path = Path("/nonexistent/archive/feed.jsonl")
    items = list(parse_file(path, "\n".join(json.dumps(r) for r in records).encode()))
    check(items, path)
    assert len(items) == max(1, len(records))  # every record is an article or a failure naming its line


@FAST
@given(raw=st.binary(max_size=2000))
def test_decode_returns_text_or_refuses_binary(raw: bytes) -> None:
    try:
        text = decode(raw)
    except InputError as exc:
        assert str(exc).startswith("binary file")
    else:
        assert isinstance(text, str)
        if raw.isascii() and b"\x00" not in raw:
            assert text == raw.decode("ascii")
