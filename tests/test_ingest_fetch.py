"""Web pages and feeds, served by a local HTTP server on 127.0.0.1 that the tests start (no other address)."""

from __future__ import annotations

import json
import socket
import threading
from collections import Counter
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from typer.testing import CliRunner

from assistant.cli import app

STORY = """<!doctype html><html><head><title>Ferry fares frozen | The Quayside Ledger</title>
<meta property="og:site_name" content="The Quayside Ledger">
<meta property="article:published_time" content="2024-05-14T09:30:00+00:00"></head>
<body><nav><a href="/">Home</a> <a href="/sport">Sport</a></nav><article><h1>Ferry fares frozen</h1>
<p>The harbour ferry company will keep its fares unchanged until the end of next year, its chief executive Ilse
Brannock said on Tuesday, after a winter in which passenger numbers rose by a fifth.</p>
<p>“Our regulars carried us through a hard season and we want to keep them,” Brannock told reporters at the quay.</p>
<p>The company also plans two late sailings on Fridays from June, when the summer timetable starts.</p>
</article><footer>Sign up for our newsletter</footer></body></html>"""

ITEM_PAGE = STORY.replace("Ferry fares frozen", "Night bus trial extended").replace(
    "harbour ferry company will keep its fares", "night bus trial on the coast road will keep running"
)

RSS = """<?xml version="1.0" encoding="UTF-8"?>
<rss version="2.0" xmlns:content="http://purl.org/rss/1.0/modules/content/"><channel>
<title>The Quayside Ledger</title><link>http://127.0.0.1/</link><description>News</description>
<item><title>Lighthouse keepers return</title><guid isPermaLink="false">ledger-item-1</guid>
<link>{base}/lighthouse.html</link><pubDate>Mon, 06 May 2024 07:15:00 GMT</pubDate><author>Rhea Tamm</author>
<description>Short teaser.</description>
<content:encoded><![CDATA[<p>After twenty years of automation the lighthouse on Gull Point will have keepers
again, the maritime authority said on Monday.</p><p>Two keepers will live on the point from July.</p>]]>
</content:encoded>
</item>
<item><title>Night bus trial extended</title><guid>{base}/night-bus.html</guid><link>{base}/night-bus.html</link>
<pubDate>Tue, 07 May 2024 18:00:00 GMT</pubDate><description>The trial goes on.</description></item>
<item><title>Broken link</title><guid>{base}/gone.html</guid><link>{base}/gone.html</link>
<pubDate>Wed, 08 May 2024 08:00:00 GMT</pubDate><description>Gone.</description></item>
<item><title>Lighthouse keepers return (again)</title><guid isPermaLink="false">ledger-item-1</guid>
<link>{base}/lighthouse.html</link><description>The same item twice.</description></item>
</channel></rss>"""

ATOM = """<?xml version="1.0" encoding="utf-8"?><feed xmlns="http://www.w3.org/2005/Atom">
<title>Valley Courier</title><id>urn:valley-courier</id><updated>2024-06-02T10:00:00Z</updated>
<entry><title>Orchard frost losses counted</title><id>urn:valley-courier:frost</id>
<updated>2024-06-02T10:00:00Z</updated><link href="{base}/frost.html"/>
<content type="html">&lt;p&gt;Apple growers in the upper valley lost about a third of their blossom to two nights of
hard frost, the growers' association said.&lt;/p&gt;</content></entry></feed>"""


class _Handler(BaseHTTPRequestHandler):
    hits: Counter[str]
    release: threading.Event

    def do_GET(self) -> None:
        self.hits[self.path] += 1
        base = f"http://127.0.0.1:{self.server.server_address[1]}"
        routes = {
            "/story.html": (200, "text/html; charset=utf-8", STORY),
            "/night-bus.html": (200, "text/html", ITEM_PAGE),
            "/empty.html": (200, "text/html", "<html><body><nav><a href='/'>Home</a></nav></body></html>"),
            "/report.pdf": (200, "application/pdf", "%PDF-1.4 not really"),
            "/feed.xml": (200, "application/rss+xml", RSS.format(base=base)),
            "/atom.xml": (200, "application/atom+xml", ATOM.format(base=base)),
        }
        if self.path in routes:
            status, kind, body = routes[self.path]
            self._send(status, kind, body.encode())
        elif self.path == "/moved":
            self._redirect("/story.html")
        elif self.path.startswith("/loop"):
            self._redirect(f"/loop{len(self.path)}")
        elif self.path == "/big.html":
            self._send(200, "text/html", b"<html><body>" + b"<p>word </p>" * 20_000 + b"</body></html>")
        elif self.path == "/endless.html":  # no Content-Length: the size limit must stop the download
            self.send_response(200)
            self.send_header("Content-Type", "text/html")
            self.end_headers()
            try:
                for _ in range(2_000):
                    self.wfile.write(b"<p>" + b"x" * 1000 + b"</p>")
            except OSError:  # the client hung up, as it should
                pass
        elif self.path == "/slow.html":
            self.release.wait(30)
            self._send(200, "text/html", STORY.encode())
        else:
            self._send(404, "text/html", b"<h1>Not found</h1>")

    def _send(self, status: int, kind: str, body: bytes) -> None:
        self.send_response(status)
        self.send_header("Content-Type", kind)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def _redirect(self, where: str) -> None:
        self.send_response(302)
        self.send_header("Location", where)
        self.send_header("Content-Length", "0")
        self.end_headers()

    def log_message(self, format: str, *args: object) -> None:
        pass


@pytest.fixture
def server(monkeypatch: pytest.MonkeyPatch) -> Iterator[tuple[str, Counter[str]]]:
    """A local HTTP server on 127.0.0.1 with a short fetch timeout and a 0.1 MB size limit."""
    hits: Counter[str] = Counter()
    release = threading.Event()
    handler = type("Handler", (_Handler,), {"hits": hits, "release": release})
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    httpd.daemon_threads = True
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    monkeypatch.setenv("ASSISTANT_INDEX__FETCH_TIMEOUT", "1")
    monkeypatch.setenv("ASSISTANT_INDEX__FETCH_MAX_MB", "0.1")
    for name in ("HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY", "http_proxy", "https_proxy", "all_proxy"):
        monkeypatch.delenv(name, raising=False)
    yield f"http://127.0.0.1:{httpd.server_address[1]}", hits
    release.set()
    httpd.shutdown()
    httpd.server_close()


def ingest(*args: str):  # type: ignore[no-untyped-def]
    return CliRunner().invoke(app, ["ingest", *args, "--json"])


def sources() -> list[dict[str, str]]:
    return json.loads(CliRunner().invoke(app, ["sources", "--json"]).stdout)


def test_page_is_fetched_with_its_main_text_and_redirects_followed(server) -> None:  # type: ignore[no-untyped-def]
    base, _ = server
    result = ingest(f"{base}/moved")
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)["added"] == 1
    [article] = sources()
    assert article["url"] == article["path"] == f"{base}/story.html"  # where the redirect led
    assert article["title"] == "Ferry fares frozen"
    assert article["source"] == "The Quayside Ledger" and article["published_at"].startswith("2024-05-14")
    again = ingest(f"{base}/story.html")
    assert json.loads(again.stdout)["unchanged"] == 1
    removed = CliRunner().invoke(app, ["remove", f"{base}/story.html"])
    assert removed.exit_code == 0 and "Removed 1 article" in removed.stdout


@pytest.mark.parametrize(
    ("path", "reason"),
    [
        ("/missing.html", "HTTP 404 Not Found"),
        ("/loop", "too many redirects (more than 5)"),
        ("/report.pdf", "not an HTML page (content type application/pdf)"),
        ("/feed.xml", "not an HTML page (application/rss+xml); for a feed use --feed"),
        ("/big.html", "response is 0.2 MB, over the 0.1 MB limit"),
        ("/endless.html", "response is over the 0.1 MB limit"),
        ("/slow.html", "timed out after 1 s"),
        ("/empty.html", "too little text"),
    ],
)
def test_page_errors_are_one_clear_line(server, path: str, reason: str) -> None:  # type: ignore[no-untyped-def]
    base, _ = server
    result = ingest(f"{base}{path}")
    assert result.exit_code == 1
    [failure] = json.loads(result.stdout)["failed"]
    assert failure["path"] == f"{base}{path}" and failure["error"].startswith(reason)
    assert f"Error: {base}{path}: {reason}" in result.stderr


def test_unreachable_and_unsupported_urls(server) -> None:  # type: ignore[no-untyped-def]
    with socket.socket() as probe:  # a port on 127.0.0.1 that nothing listens on
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    result = ingest(f"http://127.0.0.1:{port}/x.html", "ftp://127.0.0.1/file.txt")
    assert result.exit_code == 1
    errors = {f["path"]: f["error"] for f in json.loads(result.stdout)["failed"]}
    assert errors[f"http://127.0.0.1:{port}/x.html"].startswith("cannot connect")
    assert errors["ftp://127.0.0.1/file.txt"] == "only http:// and https:// URLs can be fetched"


def test_feed_items_new_only_deduplicated_with_feed_dates(server) -> None:  # type: ignore[no-untyped-def]
    base, hits = server
    result = ingest("--feed", f"{base}/feed.xml", "--feed", f"{base}/atom.xml")
    assert result.exit_code == 1  # the item whose page is gone
    report = json.loads(result.stdout)
    assert report["added"] == 3
    assert [(f["path"], f["error"]) for f in report["failed"]] == [(f"{base}/gone.html", "HTTP 404 Not Found")]
    by_title = {a["title"]: a for a in sources()}
    assert set(by_title) == {"Lighthouse keepers return", "Night bus trial extended", "Orchard frost losses counted"}
    lighthouse = by_title["Lighthouse keepers return"]
    assert lighthouse["published_at"] == "2024-05-06T07:15:00+00:00" and lighthouse["author"] == "Rhea Tamm"
    assert lighthouse["source"] == "The Quayside Ledger" and lighthouse["url"] == f"{base}/lighthouse.html"
    assert by_title["Night bus trial extended"]["published_at"] == "2024-05-07T18:00:00+00:00"  # feed beats page
    assert by_title["Orchard frost losses counted"]["published_at"] == "2024-06-02T10:00:00+00:00"
    assert hits["/night-bus.html"] == 1 and hits["/lighthouse.html"] == 0  # full text in the feed: no fetch

    again = ingest("--feed", f"{base}/feed.xml", "--feed", f"{base}/atom.xml")
    report = json.loads(again.stdout)
    assert (report["added"], report["unchanged"]) == (0, 3)
    assert hits["/night-bus.html"] == 1  # known items are not fetched again
    assert hits["/gone.html"] == 2  # the failed one is tried again


def test_feed_errors(server) -> None:  # type: ignore[no-untyped-def]
    base, _ = server
    result = ingest("--feed", f"{base}/story.html", "--feed", f"{base}/missing.xml")
    assert result.exit_code == 1
    errors = {f["path"]: f["error"] for f in json.loads(result.stdout)["failed"]}
    assert errors == {
        f"{base}/story.html": "not an RSS/Atom feed (content type text/html)",
        f"{base}/missing.xml": "HTTP 404 Not Found",
    }


def test_a_page_already_indexed_is_not_fetched_again_from_a_feed(server) -> None:  # type: ignore[no-untyped-def]
    base, hits = server
    assert ingest(f"{base}/night-bus.html").exit_code == 0
    result = ingest("--feed", f"{base}/feed.xml")
    report = json.loads(result.stdout)
    assert report["unchanged"] == 1 and report["added"] == 1  # night bus known by its link; lighthouse new
    assert hits["/night-bus.html"] == 1
