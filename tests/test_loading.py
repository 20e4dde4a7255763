"""Loaders, cleaning and metadata on invented articles in every supported format."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from index.cleaning import clean, is_boilerplate
from index.loaders import Article, LoadFailure, load_file
from index.metadata import parse_date, period_named, split_header, take_published_line, title_from_filename

MB = 1_000_000


def load_one(path: Path) -> Article:
    [item] = list(load_file(path, max_bytes=10 * MB))
    assert isinstance(item, Article), item
    return item


def test_published_in_line_gives_outlet_and_date_and_is_not_indexed(tmp_path: Path) -> None:
    path = tmp_path / "lakeside-2024-01-09-bridge.txt"
    path.write_text(
        "LAKESIDE: The county reopened the old bridge on Tuesday after a two-year repair, officials said.\n"
        "“We finally have our crossing back,” said county engineer Mara Quist.\n"
        "Published in The Lakeside Herald, January 9th, 2024\n"
        "Dear visitor, the comments section is undergoing an overhaul and will return soon.\n"
    )
    article = load_one(path)
    assert article.source == "The Lakeside Herald"
    assert article.published_at == "2024-01-09"
    assert "Published in" not in article.text
    assert "comments section" not in article.text
    assert "county engineer Mara Quist" in article.text
    assert article.title == "Lakeside bridge"  # from the file name, date removed


def test_header_block_sets_metadata(tmp_path: Path) -> None:
    path = tmp_path / "a.txt"
    path.write_text(
        "Title: Port workers end strike\nSource: The Bay Times\nDate: 3 May 2024\nAuthor: Ana Ruiz\n"
        "URL: https://bay.example/strike\n\nDockers returned to work on Friday after a deal on pay was reached.\n"
    )
    article = load_one(path)
    assert (article.title, article.source, article.published_at, article.author, article.url) == (
        "Port workers end strike",
        "The Bay Times",
        "2024-05-03",
        "Ana Ruiz",
        "https://bay.example/strike",
    )
    assert article.text.startswith("Dockers returned")


def test_markdown_title_and_byline(tmp_path: Path) -> None:
    path = tmp_path / "m.md"
    path.write_text(
        "# Library opens late on Sundays\n\n*The Town Crier — 2 February 2024 — by Lee Park*\n\n"
        "The central library will open until 9 p.m. on Sundays from March, the council said.\n"
    )
    article = load_one(path)
    assert article.title == "Library opens late on Sundays"
    assert article.source == "The Town Crier"
    assert article.published_at == "2024-02-02"
    assert article.author == "Lee Park"
    assert article.text.startswith("The central library")


def test_html_main_text_without_page_furniture() -> None:
    article = load_one(Path(__file__).parent.parent / "examples" / "articles" / "eastgate-tram-delay.html")
    assert article.source == "The Eastgate Chronicle"
    assert article.published_at.startswith("2024-07-08")
    assert "Sign up for our morning briefing" not in article.text
    assert "Most read" not in article.text
    assert "Rachel Sandoval" in article.text


def test_jsonl_records_are_articles_and_bad_lines_are_named(tmp_path: Path) -> None:
    path = tmp_path / "feed.jsonl"
    good = {
        "id": "x-1",
        "title": "Dam opens",
        "source": "Wire",
        "published_at": "2024-02-01T10:00:00+00:00",
        "url": "https://w.example/1",
        "author": None,
        "body": "The new dam opened on Thursday to cheers.",
    }
    path.write_text(json.dumps(good) + "\n{not json\n" + json.dumps({"id": "x-2", "title": "No body"}) + "\n")
    items = list(load_file(path, max_bytes=MB))
    articles = [i for i in items if isinstance(i, Article)]
    failures = [i for i in items if isinstance(i, LoadFailure)]
    assert [a.doc_id for a in articles] == ["x-1"]
    assert articles[0].published_at == "2024-02-01T10:00:00+00:00"
    assert articles[0].author == ""
    assert [f.path for f in failures] == [f"{path}:2", f"{path}:3"]
    assert "invalid JSON" in failures[0].error and "body" in failures[1].error


@pytest.mark.parametrize(
    ("name", "content", "reason"),
    [
        ("empty.txt", b"", "no article text"),
        ("binary.txt", b"\x00\x01\x02binary", "binary"),
        ("notes.docx", b"PK\x03\x04", "unsupported file type"),
    ],
)
def test_bad_files_fail_with_reason(tmp_path: Path, name: str, content: bytes, reason: str) -> None:
    path = tmp_path / name
    path.write_bytes(content)
    [item] = list(load_file(path, max_bytes=MB))
    assert isinstance(item, LoadFailure)
    assert reason in item.error


def test_cp1252_text_is_decoded(tmp_path: Path) -> None:
    path = tmp_path / "legacy.txt"
    path.write_bytes("The caf\xe9 owner said: \x93We will reopen.\x94 Prices rose by 5%.".encode("latin-1"))
    article = load_one(path)
    assert "café owner said: “We will reopen.”" in article.text


def test_size_cap(tmp_path: Path) -> None:
    path = tmp_path / "big.txt"
    path.write_text("word " * 1000)
    [item] = list(load_file(path, max_bytes=100))
    assert isinstance(item, LoadFailure) and "limit" in item.error


def test_cleaning_keeps_article_lines_that_mention_comments_or_newsletters() -> None:
    text = (
        "The minister said the comments section of the bill would be rewritten.\n"
        "Sign up for our newsletter\n"
        "Critics said the newsletter sent to voters before the election broke the rules and must be withdrawn."
    )
    cleaned = clean(text)
    assert "Sign up" not in cleaned
    assert "comments section of the bill" in cleaned
    assert "newsletter sent to voters" in cleaned
    assert not is_boilerplate("Advertisers and publishers said the cookie rules will hurt small outlets badly.")


def test_zero_width_and_spaces_are_normalised() -> None:
    assert clean("A\u200bB  said\u00a0so.\n\n\n\nNext") == "AB said so.\n\nNext"


@pytest.mark.parametrize(
    ("text", "iso"),
    [
        ("June 27th, 2023", "2023-06-27"),
        ("27 June 2023", "2023-06-27"),
        ("Sept. 3, 2024", "2024-09-03"),
        ("2023-11-27T08:45:59+00:00", "2023-11-27T08:45:59+00:00"),
        ("no date here", ""),
        ("February 30, 2024", ""),
    ],
)
def test_parse_date(text: str, iso: str) -> None:
    assert parse_date(text) == iso


@pytest.mark.parametrize(
    ("text", "period"),
    [
        ("What did the Courier report on March 14, 2024, about water?", ("2024-03-14", "2024-03-14")),
        ("After the report by the Courier on 14 March 2024, what changed?", ("2024-03-14", "2024-03-14")),
        ("Which schools closed in June 2024?", ("2024-06-01", "2024-06-30")),
        ("What happened during February 2024?", ("2024-02-01", "2024-02-29")),
        ("Did anything change after March 14, 2024?", ("2024-03-15", None)),
        ("What was said after March 2024?", ("2024-04-01", None)),
        ("What was said since March 2024?", ("2024-03-01", None)),
        ("What was said after the start of March 2024?", ("2024-03-01", None)),
        ("Was it reported before March 14, 2024?", (None, "2024-03-13")),
        ("Was it reported prior to March 2024?", (None, "2024-02-29")),
        ("Was it reported before the end of March 2024?", (None, "2024-03-31")),
        ("The mayor may 2024 be re-elected?", None),  # a lower-case "may" before a year is no month
        ("What did the mayor say?", None),
    ],
)
def test_period_named(text: str, period: tuple[str | None, str | None] | None) -> None:
    found = period_named(text)
    assert (None if found is None else tuple(d.isoformat() if d else None for d in found)) == period


def test_helpers_leave_plain_text_alone() -> None:
    meta, body = split_header("ISLANDTOWN: Something happened: a lot of it.\nMore text.")
    assert meta.title == "" and body.startswith("ISLANDTOWN")
    meta, body = take_published_line("Published in Dawn of a new era, the report argued for reform.")
    assert meta.source == "" and body.startswith("Published")
    assert title_from_filename("dawn-2023-06-27-pakistan-demarche", "Dawn") == ("Pakistan demarche", "2023-06-27")


def _pdf(text_ops: str) -> bytes:
    """A minimal one-page PDF whose content stream is `text_ops` (built by hand: no PDF writer needed)."""
    stream = text_ops.encode("latin-1")
    objects = [
        b"<< /Type /Catalog /Pages 2 0 R >>",
        b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
        b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] /Contents 4 0 R "
        b"/Resources << /Font << /F1 5 0 R >> >> >>",
        b"<< /Length %d >>\nstream\n" % len(stream) + stream + b"\nendstream",
        b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>",
    ]
    out = b"%PDF-1.4\n"
    offsets = []
    for number, body in enumerate(objects, start=1):
        offsets.append(len(out))
        out += b"%d 0 obj\n" % number + body + b"\nendobj\n"
    xref = len(out)
    out += b"xref\n0 %d\n0000000000 65535 f \n" % (len(objects) + 1)
    out += b"".join(b"%010d 00000 n \n" % off for off in offsets)
    out += b"trailer\n<< /Size %d /Root 1 0 R >>\nstartxref\n%d\n%%%%EOF\n" % (len(objects) + 1, xref)
    return out


def test_pdf_text_layer_is_read(tmp_path: Path) -> None:
    path = tmp_path / "report.pdf"
    line = "The port authority said cargo volumes rose by 12 percent in March."
    path.write_bytes(_pdf(f"BT /F1 12 Tf 72 720 Td ({line}) Tj ET"))
    article = load_one(path)
    assert "cargo volumes rose by 12 percent" in article.text


def test_pdf_without_text_layer_fails_with_reason(tmp_path: Path) -> None:
    path = tmp_path / "scan.pdf"
    path.write_bytes(_pdf("0 0 m 100 100 l S"))
    [item] = list(load_file(path, max_bytes=MB))
    assert isinstance(item, LoadFailure) and "no text layer" in item.error
