"""Web pages and RSS/Atom feeds as articles: fetched with a timeout, a size limit and a few redirects at most."""

from __future__ import annotations

import calendar
import hashlib
import re
import time
from collections.abc import Iterator
from dataclasses import dataclass, replace
from html.parser import HTMLParser
from typing import Any
from urllib.parse import urldefrag, urlsplit

from assistant.errors import InputError
from index.loaders import Article, LoadFailure, article_from_html, make_article
from index.metadata import Metadata

MAX_REDIRECTS = 5
_USER_AGENT = "assistant/0.1 (news archive indexer)"
_HTML_TYPES = {"text/html", "application/xhtml+xml"}
_FEED_TYPES = {"application/rss+xml", "application/atom+xml", "application/rdf+xml", "application/xml", "text/xml"}
_SCHEME = re.compile(r"^[a-zA-Z][a-zA-Z0-9+.-]*://")


def is_url(text: str) -> bool:
    """True for anything that looks like `scheme://...` (only http and https can be fetched)."""
    return bool(_SCHEME.match(text))


@dataclass(frozen=True)
class Response:
    """A fetched body with the URL it finally came from (after redirects)."""

    url: str
    media_type: str  # lower case, parameters removed; "" when the server sent none
    charset: str | None
    body: bytes


class Fetcher:
    """An HTTP client with the index's timeout and size limit; use as a context manager."""

    def __init__(self, *, timeout: float, max_bytes: int) -> None:
        import httpx

        self.timeout = timeout
        self.max_bytes = max_bytes
        self._client = httpx.Client(
            follow_redirects=True,
            max_redirects=MAX_REDIRECTS,
            timeout=httpx.Timeout(timeout),
            headers={"User-Agent": _USER_AGENT},
        )

    def __enter__(self) -> Fetcher:
        return self

    def __exit__(self, *exc: object) -> None:
        self._client.close()

    def get(self, url: str) -> Response:
        """Fetch `url`; raise InputError with a one-line reason on any failure."""
        import httpx

        if urlsplit(url).scheme.lower() not in {"http", "https"}:
            raise InputError("only http:// and https:// URLs can be fetched")
        deadline = time.monotonic() + self.timeout * 3  # per-read timeouts alone let a trickling server go on
        try:
            with self._client.stream("GET", url) as response:
                if response.status_code >= 400:
                    raise InputError(f"HTTP {response.status_code} {response.reason_phrase}".strip())
                declared = response.headers.get("content-length", "")
                if declared.isdigit() and int(declared) > self.max_bytes:
                    raise InputError(f"response is {int(declared) / 1e6:.1f} MB, {self._limit()}")
                body = bytearray()
                for part in response.iter_bytes():
                    body += part
                    if len(body) > self.max_bytes:
                        raise InputError(f"response is {self._limit()}")
                    if time.monotonic() > deadline:
                        raise InputError(f"download took longer than {self.timeout * 3:g} s")
                media_type, _, params = response.headers.get("content-type", "").partition(";")
                charset = re.search(r"charset=[\"']?([\w.:-]+)", params, re.I)
                return Response(
                    url=str(response.url),
                    media_type=media_type.strip().lower(),
                    charset=charset.group(1) if charset else None,
                    body=bytes(body),
                )
        except httpx.TimeoutException:
            raise InputError(f"timed out after {self.timeout:g} s") from None
        except httpx.TooManyRedirects:
            raise InputError(f"too many redirects (more than {MAX_REDIRECTS})") from None
        except httpx.UnsupportedProtocol as exc:
            raise InputError(f"redirected to a URL that cannot be fetched: {exc}") from None
        except httpx.ConnectError as exc:
            raise InputError(f"cannot connect: {exc}") from None
        except (httpx.HTTPError, httpx.InvalidURL) as exc:
            raise InputError(f"fetch failed: {exc}") from None

    def _limit(self) -> str:
        return f"over the {self.max_bytes / 1e6:.1f} MB limit"


def page_doc_id(url: str) -> str:
    """Deterministic id of a web page: last path segment plus a hash of the URL without its fragment."""
    url = urldefrag(url).url
    parts = urlsplit(url)
    stem = re.sub(r"\.\w{1,5}$", "", parts.path.rstrip("/").rsplit("/", 1)[-1]) or parts.hostname or "page"
    return f"{_slug(stem)[:48]}-{hashlib.sha1(url.encode()).hexdigest()[:8]}"


def load_page(fetcher: Fetcher, url: str) -> Article:
    """Fetch one web page and return its main text as an article; raise InputError with the reason."""
    response = fetcher.get(url)
    final = urldefrag(response.url).url
    _require_html(response)
    return article_from_html(_text(response), path=final, doc_id=page_doc_id(final), url=final)


def _require_html(response: Response) -> None:
    if response.media_type in _HTML_TYPES:
        return
    if not response.media_type and re.match(rb"\s*(<!doctype html|<html)", response.body[:512], re.I):
        return
    if response.media_type in _FEED_TYPES or response.media_type.endswith(("+xml", "/xml")):
        raise InputError(f"not an HTML page ({response.media_type}); for a feed use --feed")
    raise InputError(f"not an HTML page (content type {response.media_type or 'unknown'})")


def _text(response: Response) -> str | bytes:
    if response.charset:
        try:
            return response.body.decode(response.charset, errors="replace")
        except LookupError:  # an unknown charset name: let trafilatura guess
            pass
    return response.body


# -- Feeds -------------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class FeedItem:
    """One item of a feed: its id in the index and what the feed says about it."""

    doc_id: str
    link: str
    title: str
    published_at: str
    author: str
    source: str
    content: str  # the item's full text (HTML or plain) when the feed carries it, else ""
    summary: str


def read_feed(fetcher: Fetcher, url: str) -> list[FeedItem]:
    """Fetch and parse an RSS or Atom feed; raise InputError when it is not one."""
    import feedparser

    response = fetcher.get(url)
    if response.media_type in _HTML_TYPES:
        raise InputError(f"not an RSS/Atom feed (content type {response.media_type})")
    parsed: Any = feedparser.parse(response.body, response_headers={"content-location": response.url})
    if not parsed.entries and (parsed.bozo or not parsed.version):
        reason = getattr(parsed, "bozo_exception", None) or "no items"
        raise InputError(f"not an RSS/Atom feed: {str(reason).splitlines()[0] if str(reason) else 'no items'}")
    source = str(parsed.feed.get("title") or urlsplit(response.url).hostname or "")
    items = []
    for entry in parsed.entries:
        link = urldefrag(str(entry.get("link") or "")).url
        guid = str(entry.get("id") or link or "")
        title = str(entry.get("title") or "")
        if not guid:
            guid = f"{title}\x1f{entry.get('summary', '')}"
        # A bare GUID such as "1234" is only unique within its feed.
        key = guid if ":" in guid else f"{urldefrag(response.url).url}\x1f{guid}"
        stem = _slug(title or urlsplit(link).path.rsplit("/", 1)[-1] or "item")[:40]
        contents = [str(c.get("value") or "") for c in entry.get("content", [])]
        items.append(
            FeedItem(
                doc_id=f"{stem}-{hashlib.sha1(key.encode()).hexdigest()[:10]}",
                link=link,
                title=title,
                published_at=_published(entry),
                author=str(entry.get("author") or ""),
                source=source,
                content=max(contents, key=len, default=""),
                summary=str(entry.get("summary") or ""),
            )
        )
    return items


def load_item(fetcher: Fetcher, feed_url: str, item: FeedItem) -> Article:
    """Make an article of a feed item: its own full text, else the linked page's main text, else its summary."""
    body = item.content or ("" if item.link else item.summary)
    path = item.link or f"{feed_url}#{item.doc_id}"
    if body:
        meta = Metadata(
            title=item.title, source=item.source, published_at=item.published_at, author=item.author, url=item.link
        )
        return make_article(path, item.doc_id, html_to_text(body), meta)
    page = load_page(fetcher, item.link)
    return replace(
        page,
        doc_id=item.doc_id,
        title=item.title or page.title,
        source=page.source or item.source,
        published_at=item.published_at or page.published_at,
        author=item.author or page.author,
    )


def iter_feed(fetcher: Fetcher, url: str, skip: set[str]) -> Iterator[Article | LoadFailure | str]:
    """Yield the articles of a feed's items not in `skip` (doc ids and links already indexed); a skipped item's
    doc id is yielded as a string. A failing item is a failure naming its link; the others still come."""
    try:
        items = read_feed(fetcher, url)
    except InputError as exc:
        yield LoadFailure(url, str(exc))
        return
    taken: set[str] = set()
    for item in items:
        keys = {item.doc_id, item.link} - {""}
        if keys & taken:  # the same item twice in one feed
            continue
        taken.update(keys)
        if keys & skip:
            yield item.doc_id
            continue
        try:
            yield load_item(fetcher, url, item)
        except InputError as exc:
            yield LoadFailure(item.link or f"{url} (item '{item.title}')", str(exc))


def _published(entry: Any) -> str:
    for key in ("published_parsed", "updated_parsed", "created_parsed"):
        value = entry.get(key)
        if value:
            return time.strftime("%Y-%m-%dT%H:%M:%S+00:00", time.gmtime(calendar.timegm(value)))
    return ""


class _TextOf(HTMLParser):
    _BLOCKS = frozenset("p div br li h1 h2 h3 h4 h5 h6 blockquote tr section article".split())
    _SKIP = frozenset({"script", "style"})

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.parts: list[str] = []
        self._skipping = 0

    def handle_starttag(self, tag: str, attrs: Any) -> None:
        if tag in self._SKIP:
            self._skipping += 1
        elif tag in self._BLOCKS:
            self.parts.append("\n\n")

    def handle_endtag(self, tag: str) -> None:
        if tag in self._SKIP:
            self._skipping = max(0, self._skipping - 1)
        elif tag in self._BLOCKS:
            self.parts.append("\n\n")

    def handle_data(self, data: str) -> None:
        if not self._skipping:
            self.parts.append(data)


def html_to_text(fragment: str) -> str:
    """Plain text of an HTML fragment (a feed item's content), with paragraph breaks kept."""
    parser = _TextOf()
    parser.feed(fragment)
    parser.close()
    text = "".join(parser.parts)
    text = re.sub(r"[ \t]*\n[ \t]*", "\n", text)
    return re.sub(r"\n{3,}", "\n\n", text).strip()


def _slug(text: str) -> str:
    return re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-") or "item"
