"""Turn files into articles: cleaned text plus metadata, one article per file or per JSON record."""

from __future__ import annotations

import codecs
import errno
import hashlib
import io
import json
import os
import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from urllib.parse import urlsplit

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
# Bump when the same bytes can load as different articles: ingest then re-reads files it had recorded as unchanged.
LOADER_VERSION = "2"
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
    """Yield the supported files under `paths` (folders recursively, sorted), or a failure for each path that is
    missing, a broken symlink, a symlink loop or an unlistable folder.

    Symlinked folders are followed once: a link back to a folder being walked is reported as a loop, and a file
    reached twice (through links) is yielded once.
    """
    seen: set[str] = set()
    for path in paths:
        problem = _link_problem(path)
        if problem:
            yield LoadFailure(str(path), problem)
        elif path.is_dir():
            yield from _walk(path, ancestors=(os.path.realpath(path),), seen=seen)
        elif path.is_file():
            if _first_visit(path, seen):
                yield path
        elif path.exists():
            yield LoadFailure(str(path), "not a regular file")
        else:
            yield LoadFailure(str(path), "no such file or folder")


def _walk(folder: Path, *, ancestors: tuple[str, ...], seen: set[str]) -> Iterator[Path | LoadFailure]:
    try:
        with os.scandir(folder) as listing:
            names = sorted(entry.name for entry in listing)
    except OSError as exc:
        yield LoadFailure(str(folder), f"cannot list folder: {exc.strerror or exc}")
        return
    for name in names:
        if name.startswith("."):
            continue
        child = folder / name
        supported = child.suffix.lower() in SUFFIXES
        problem = _link_problem(child)
        if problem:
            if supported or not child.suffix:  # a link named like an article or a folder: say why it is skipped
                yield LoadFailure(str(child), problem)
        elif child.is_dir():
            real = os.path.realpath(child)
            if real in ancestors:
                yield LoadFailure(str(child), f"symlink loop (points back to {real})")
            elif _first_visit(child, seen):
                yield from _walk(child, ancestors=(*ancestors, real), seen=seen)
        elif supported and child.is_file() and _first_visit(child, seen):
            yield child


def _link_problem(path: Path) -> str | None:
    """Return why a path that is a symlink cannot be followed, or None."""
    try:
        os.stat(path)
    except OSError as exc:
        if exc.errno == errno.ELOOP:
            return "symlink loop"
        if path.is_symlink():
            return f"broken symlink (points to {os.readlink(path)})"
    return None


def _first_visit(path: Path, seen: set[str]) -> bool:
    real = os.path.realpath(path)
    if real in seen:
        return False
    seen.add(real)
    return True


def load_file(path: Path, *, max_bytes: int) -> Iterator[Article | LoadFailure]:
    """Yield the articles in one file; a bad record yields a failure and the good ones still come. Never raises."""
    raw = read_file(path, max_bytes=max_bytes)
    if isinstance(raw, LoadFailure):
        yield raw
    else:
        yield from parse_file(path, raw)


def read_file(path: Path, *, max_bytes: int) -> bytes | LoadFailure:
    """Return the bytes of a supported file no larger than `max_bytes`, or a failure saying why not."""
    where = str(path)
    suffix = path.suffix.lower()
    if suffix not in SUFFIXES:
        return LoadFailure(where, f"unsupported file type '{suffix or path.name}'")
    try:
        if path.exists() and not path.is_file():  # a FIFO or device: reading it could block for ever
            return LoadFailure(where, "not a regular file")
        size = path.stat().st_size
        if size <= max_bytes:
            with path.open("rb") as handle:
                raw = handle.read(max_bytes + 1)  # +1: a file that grew since stat() is still caught
            size = len(raw)
    except OSError as exc:
        return LoadFailure(where, f"cannot read file: {exc.strerror or exc}")
    if size > max_bytes:
        return LoadFailure(where, f"file is {size / 1e6:.1f} MB, over the {max_bytes / 1e6:.1f} MB limit")
    return raw


def parse_file(path: Path, raw: bytes) -> Iterator[Article | LoadFailure]:
    """Yield the articles in a file's bytes; never raises (a parser bug becomes a failure naming the file)."""
    where = str(path)
    suffix = path.suffix.lower()
    try:
        if suffix == ".pdf":
            yield _from_pdf(path, raw)
            return
        text = decode(raw)
        if suffix in {".json", ".jsonl"}:
            yield from _from_json(path, text)
        elif suffix in {".html", ".htm"}:
            yield article_from_html(text, path=path, doc_id=file_doc_id(path))
        else:
            yield _from_text(path, text)
    except InputError as exc:
        yield LoadFailure(where, str(exc))
    except Exception as exc:  # a parser bug on odd input must not stop the batch: name the file and go on
        yield LoadFailure(where, f"unexpected error while parsing: {type(exc).__name__}: {exc}")


def decode(raw: bytes) -> str:
    """Decode bytes as UTF-8; bytes that are not UTF-8 are read as cp1252 (else latin-1). Refuse binary data."""
    if raw.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        try:
            return raw.decode("utf-16")
        except UnicodeDecodeError:
            raise InputError("binary file (bad UTF-16 text)") from None
    if b"\x00" in raw[:8192]:
        raise InputError("binary file (contains NUL bytes)")
    # Byte by byte, so that a UTF-8 file with one stray cp1252 byte keeps its UTF-8 characters intact.
    text = raw.decode("utf-8-sig", errors=_LEGACY_FALLBACK)
    sample = text[:8192]
    controls = sum(1 for ch in sample if (ch < " " and ch not in "\t\n\r\f\v") or "\x7f" <= ch <= "\x9f")
    if sample and controls / len(sample) > 0.05:
        raise InputError("binary file (mostly control characters)")
    return text


def _legacy_bytes(exc: UnicodeError) -> tuple[str, int]:
    if not isinstance(exc, UnicodeDecodeError):
        raise exc
    bad = exc.object[exc.start : exc.end]
    return "".join(bytes([b]).decode("cp1252", errors="ignore") or chr(b) for b in bad), exc.end


_LEGACY_FALLBACK = "assistant-cp1252-fallback"
codecs.register_error(_LEGACY_FALLBACK, _legacy_bytes)


def file_doc_id(path: Path) -> str:
    """Deterministic id for a file's article: readable stem plus a hash of its absolute path."""
    digest = hashlib.sha1(str(path.resolve()).encode()).hexdigest()[:8]
    return f"{_slug(path.stem)[:48]}-{digest}"


def _slug(text: str) -> str:
    return re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-") or "doc"


def make_article(path: Path | str, doc_id: str, body: str, meta: Metadata) -> Article:
    """Clean `body`, complete metadata from the text and file name, and check something is left.

    `path` is a file's path, or (a string) the URL a page or feed item came from.
    """
    text = normalise(body)
    found, text = take_published_line(text)
    meta.fill(found)
    found, text = take_title_and_byline(text) if not meta.title else (Metadata(), text)
    meta.fill(found)
    text = clean(text)
    if not meta.title or not meta.published_at:
        stem = path.stem if isinstance(path, Path) else PurePosixPath(urlsplit(path).path).stem
        title, day = title_from_filename(stem or str(path), meta.source)
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


def article_from_html(html: str | bytes, *, path: Path | str, doc_id: str, url: str = "") -> Article:
    """Extract the main text and metadata of an HTML page (a file, or a page fetched from `url`)."""
    import trafilatura  # imported here: it is slow to import and only HTML needs it

    try:
        extracted = trafilatura.extract(
            html, url=url or None, output_format="json", with_metadata=True, include_comments=False,
            include_tables=False,
        )  # fmt: skip
    except Exception as exc:  # lxml and trafilatura raise several types on malformed markup
        raise InputError(f"cannot parse the HTML page: {exc}") from exc
    if not extracted:
        raise InputError("no article text found in the HTML page")
    data = json.loads(extracted)
    meta = Metadata(
        title=data.get("title") or "",
        source=data.get("sitename") or data.get("source-hostname") or data.get("hostname") or "",
        published_at=parse_date(data.get("date") or ""),
        author=data.get("author") or "",
        url=url or data.get("source") or data.get("url") or "",
    )
    return make_article(path, doc_id, data.get("text") or "", meta)


def _from_pdf(path: Path, raw: bytes) -> Article:
    from pypdf import PdfReader

    try:
        reader = PdfReader(io.BytesIO(raw))
        pages = [page.extract_text() or "" for page in reader.pages]
        info: dict[str, object] = dict(reader.metadata or {})
    except Exception as exc:  # pypdf raises many types (PdfReadError, KeyError, struct.error, ...) on broken files
        raise InputError(f"cannot read PDF: {str(exc) or type(exc).__name__}") from exc
    body = "\n\n".join(pages)
    if not body.strip():
        raise InputError("PDF has no text layer (scanned pages need OCR first)")
    meta = Metadata(title=str(info.get("/Title") or ""), author=str(info.get("/Author") or ""))
    return make_article(path, file_doc_id(path), body, meta)


def _from_json(path: Path, text: str) -> Iterator[Article | LoadFailure]:
    records: list[tuple[str, object]] = []
    if not text.strip():
        yield LoadFailure(str(path), "no article text (empty file)")
        return
    if path.suffix.lower() == ".jsonl":
        for number, line in enumerate(text.split("\n"), start=1):
            if not line.strip():
                continue
            try:
                records.append((f"{path}:{number}", json.loads(line)))
            except json.JSONDecodeError as exc:
                yield LoadFailure(f"{path}:{number}", f"invalid JSON: {exc.msg}")
            except RecursionError:
                yield LoadFailure(f"{path}:{number}", "invalid JSON: nested too deeply")
    else:
        try:
            data = json.loads(text)
        except json.JSONDecodeError as exc:
            yield LoadFailure(str(path), f"invalid JSON at line {exc.lineno}: {exc.msg}")
            return
        except RecursionError:
            yield LoadFailure(str(path), "invalid JSON: nested too deeply")
            return
        items = data if isinstance(data, list) else [data]
        if not items:
            yield LoadFailure(str(path), "no article records (an empty list)")
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
