"""Turn files into articles: cleaned text plus metadata, one article per file or per JSON record."""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path

from assistant.errors import InputError
from index.cleaning import clean, normalise
from index.metadata import (
    Metadata,
    parse_date,
    split_header,
    take_published_line,
    take_title_and_byline,
    title_from_filename,
)

SUFFIXES = {".txt", ".md", ".markdown", ".html", ".htm", ".json", ".jsonl", ".pdf"}
_MIN_WORDS = 5


@dataclass(frozen=True)
class Article:
    """One cleaned article, ready to chunk. `text` is what passage offsets index into."""

    doc_id: str
    path: str
    title: str
    source: str
    published_at: str
    author: str
    url: str
    text: str

    @property
    def content_hash(self) -> str:
        """Hash of everything that ends up in the index, to tell an unchanged article from a changed one."""
        parts = [self.title, self.source, self.published_at, self.author, self.url, self.path, self.text]
        return hashlib.sha256("\x1f".join(parts).encode()).hexdigest()


@dataclass(frozen=True)
class LoadFailure:
    """A file or record that could not be loaded, with a one-line reason."""

    path: str
    error: str


def iter_files(paths: Iterable[Path]) -> Iterator[Path | LoadFailure]:
    """Yield the supported files under `paths` (folders recursively, sorted), or a failure for a missing path."""
    for path in paths:
        if path.is_dir():
            for child in sorted(path.rglob("*")):
                if child.is_file() and child.suffix.lower() in SUFFIXES and not _hidden(child, path):
                    yield child
        elif path.is_file():
            yield path
        else:
            yield LoadFailure(str(path), "no such file or folder")


def _hidden(child: Path, root: Path) -> bool:
    return any(part.startswith(".") for part in child.relative_to(root).parts)


def load_file(path: Path, *, max_bytes: int) -> Iterator[Article | LoadFailure]:
    """Yield the articles in one file; a bad record yields a failure and the good ones still come."""
    where = str(path)
    suffix = path.suffix.lower()
    if suffix not in SUFFIXES:
        yield LoadFailure(where, f"unsupported file type '{suffix or path.name}'")
        return
    try:
        size = path.stat().st_size
        if size > max_bytes:
            yield LoadFailure(where, f"file is {size / 1e6:.1f} MB, over the {max_bytes / 1e6:.1f} MB limit")
            return
        if suffix == ".pdf":
            yield _from_pdf(path)
            return
        raw = path.read_bytes()
    except OSError as exc:
        yield LoadFailure(where, f"cannot read file: {exc.strerror or exc}")
        return
    except InputError as exc:
        yield LoadFailure(where, str(exc))
        return
    try:
        text = decode(raw)
        if suffix in {".json", ".jsonl"}:
            yield from _from_json(path, text)
        elif suffix in {".html", ".htm"}:
            yield _from_html(path, text)
        else:
            yield _from_text(path, text)
    except InputError as exc:
        yield LoadFailure(where, str(exc))


def decode(raw: bytes) -> str:
    """Decode bytes as UTF-8, falling back to cp1252 then latin-1; refuse binary data."""
    if b"\x00" in raw[:8192]:
        raise InputError("binary file (contains NUL bytes)")
    for encoding in ("utf-8-sig", "cp1252", "latin-1"):
        try:
            return raw.decode(encoding)
        except UnicodeDecodeError:
            continue
    raise InputError("cannot decode text")  # unreachable: latin-1 decodes any bytes


def file_doc_id(path: Path) -> str:
    """Deterministic id for a file's article: readable stem plus a hash of its absolute path."""
    digest = hashlib.sha1(str(path.resolve()).encode()).hexdigest()[:8]
    return f"{_slug(path.stem)[:48]}-{digest}"


def _slug(text: str) -> str:
    return re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-") or "doc"


def make_article(path: Path, doc_id: str, body: str, meta: Metadata) -> Article:
    """Clean `body`, complete metadata from the text and file name, and check something is left."""
    text = normalise(body)
    found, text = take_published_line(text)
    meta.fill(found)
    found, text = take_title_and_byline(text) if not meta.title else (Metadata(), text)
    meta.fill(found)
    text = clean(text)
    if not meta.title or not meta.published_at:
        title, day = title_from_filename(path.stem, meta.source)
        meta.fill(Metadata(title=title, published_at=day))
    if len(text.split()) < _MIN_WORDS:
        raise InputError("no article text" if not text else f"too little text ({len(text.split())} words)")
    return Article(
        doc_id=doc_id,
        path=str(path),
        title=normalise(meta.title),
        source=normalise(meta.source),
        published_at=meta.published_at,
        author=normalise(meta.author),
        url=meta.url.strip(),
        text=text,
    )


def _from_text(path: Path, text: str) -> Article:
    meta, body = split_header(normalise(text))
    return make_article(path, file_doc_id(path), body, meta)


def _from_html(path: Path, html: str) -> Article:
    import trafilatura  # imported here: it is slow to import and only HTML needs it

    extracted = trafilatura.extract(
        html, output_format="json", with_metadata=True, include_comments=False, include_tables=False
    )
    if not extracted:
        raise InputError("no article text found in the HTML page")
    data = json.loads(extracted)
    meta = Metadata(
        title=data.get("title") or "",
        source=data.get("sitename") or data.get("source-hostname") or data.get("hostname") or "",
        published_at=parse_date(data.get("date") or ""),
        author=data.get("author") or "",
        url=data.get("source") or data.get("url") or "",
    )
    return make_article(path, file_doc_id(path), data.get("text") or "", meta)


def _from_pdf(path: Path) -> Article:
    from pypdf import PdfReader
    from pypdf.errors import PdfReadError

    try:
        reader = PdfReader(path)
        pages = [page.extract_text() or "" for page in reader.pages]
        info: dict[str, object] = dict(reader.metadata or {})
    except (PdfReadError, ValueError, KeyError, OSError) as exc:
        raise InputError(f"cannot read PDF: {exc}") from exc
    body = "\n\n".join(pages)
    if not body.strip():
        raise InputError("PDF has no text layer (scanned pages need OCR first)")
    meta = Metadata(title=str(info.get("/Title") or ""), author=str(info.get("/Author") or ""))
    return make_article(path, file_doc_id(path), body, meta)


def _from_json(path: Path, text: str) -> Iterator[Article | LoadFailure]:
    records: list[tuple[str, object]] = []
    if path.suffix.lower() == ".jsonl":
        for number, line in enumerate(text.split("\n"), start=1):
            if not line.strip():
                continue
            try:
                records.append((f"{path}:{number}", json.loads(line)))
            except json.JSONDecodeError as exc:
                yield LoadFailure(f"{path}:{number}", f"invalid JSON: {exc.msg}")
    else:
        try:
            data = json.loads(text)
        except json.JSONDecodeError as exc:
            yield LoadFailure(str(path), f"invalid JSON at line {exc.lineno}: {exc.msg}")
            return
        items = data if isinstance(data, list) else [data]
        records = [(f"{path}[{i}]" if isinstance(data, list) else str(path), item) for i, item in enumerate(items)]
    for where, record in records:
        try:
            yield _from_record(path, record)
        except InputError as exc:
            yield LoadFailure(where, str(exc))


def _from_record(path: Path, record: object) -> Article:
    if not isinstance(record, dict):
        raise InputError("record is not a JSON object")
    body = record.get("body") or record.get("text") or record.get("content")
    if not isinstance(body, str) or not body.strip():
        raise InputError("record has no 'body' text")
    title = str(record.get("title") or "")
    record_id = record.get("id")
    if record_id is not None and str(record_id).strip():
        doc_id = _slug(str(record_id))[:64] if not re.fullmatch(r"[\w.-]{1,64}", str(record_id)) else str(record_id)
    else:
        digest = hashlib.sha1(f"{path.resolve()}\x1f{title}\x1f{body[:200]}".encode()).hexdigest()[:10]
        doc_id = f"{_slug(path.stem)[:40]}-{digest}"
    meta = Metadata(
        title=title,
        source=str(record.get("source") or ""),
        published_at=parse_date(str(record.get("published_at") or record.get("date") or "")),
        author=str(record.get("author") or ""),
        url=str(record.get("url") or ""),
    )
    return make_article(path, doc_id, body, meta)
