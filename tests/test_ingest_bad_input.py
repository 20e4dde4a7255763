"""A folder of every kind of bad input beside good articles: the good ones are indexed, each bad one is named once
with its reason, the exit code says something failed, and the index is left intact."""

from __future__ import annotations

import json
import os
import pathlib
import shutil
from pathlib import Path

import pytest
from typer.testing import CliRunner

from assistant.cli import app
from index.loaders import Article, LoadFailure, decode, iter_files, load_file
from tests.test_index import assert_in_step
from tests.test_loading import _pdf

GOOD = (
    "Title: Ferry timetable changes\nSource: The Quayside Ledger\nDate: 2024-04-02\n\n"
    "The harbour ferry will run every twenty minutes from May, the operator Brannock Lines said on Tuesday. "
    "Commuters had asked for more frequent crossings during the morning peak.\n"
)


def write_bad_folder(folder: Path) -> dict[str, str]:
    """Write good and bad files into `folder`; return {name: expected reason fragment} of the bad ones."""
    folder.mkdir()
    (folder / "good.txt").write_text(GOOD)
    (folder / "good.md").write_text(
        "# Orchard growers count frost losses\n\n*The Valley Courier — 3 March 2024*\n\n"
        "Apple growers in the upper valley lost about a third of their blossom to two nights of hard frost.\n"
    )
    (folder / "legacy.txt").write_bytes(
        "Title: Café reopens\n\nThe café on Mill Street reopened on Monday. “We missed our regulars,” "
        "the owner said, adding that prices would stay the same until the summer.\n".encode("cp1252")
    )
    (folder / "mixed.jsonl").write_text(
        json.dumps({"id": "rec-1", "title": "Tram depot expands", "body": "The tram depot will add six new bays."})
        + "\n{not json\n"
        + json.dumps({"id": "rec-3", "title": "No body here"})
        + "\n"
        + "[" * 5000
        + "\n"
    )
    bad = {
        "empty.txt": "no article text",
        "binary.txt": "binary file",
        "noise.md": "binary file",
        "huge.txt": "over the",
        "broken.json": "invalid JSON at line",
        "mixed.jsonl:2": "invalid JSON",
        "mixed.jsonl:3": "no 'body' text",
        "mixed.jsonl:4": "nested too deeply",
        "furniture.html": "too little text (2 words)",  # trafilatura keeps only the footer
        "scan.pdf": "no text layer",
        "fake.pdf": "cannot read PDF",
        "locked.txt": "cannot read file: Permission denied",
        "dangling.txt": "broken symlink",
        "self.txt": "symlink loop",
        "sub/back": "symlink loop",
    }
    (folder / "empty.txt").write_bytes(b"")
    (folder / "binary.txt").write_bytes(b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR" + bytes(range(256)))
    (folder / "noise.md").write_bytes(bytes(b % 32 for b in range(1, 4000) if b % 32 not in (0, 9, 10, 13)))
    (folder / "huge.txt").write_text(GOOD * 400)  # about 100 KB, over the 0.05 MB cap the tests set
    (folder / "broken.json").write_text('{\n  "title": "Cut off",\n  "body": "The export stopped mid-')
    (folder / "furniture.html").write_text(
        "<html><head><title>Home</title></head><body><nav><a href='/'>Home</a> <a href='/about'>About</a></nav>"
        "<footer>© The Quayside Ledger</footer></body></html>"
    )
    (folder / "scan.pdf").write_bytes(_pdf("0 0 m 200 200 l S"))
    (folder / "fake.pdf").write_bytes(b"%PDF-1.4\nthis is not really a PDF at all\n%%EOF\n")
    (folder / "locked.txt").write_text(GOOD.replace("Ferry", "Locked"))
    (folder / "locked.txt").chmod(0)  # enough for a normal user; root needs the `unreadable` fixture too
    (folder / "dangling.txt").symlink_to(folder / "deleted-long-ago.txt")
    (folder / "self.txt").symlink_to(folder / "self.txt")
    (folder / "sub").mkdir()
    (folder / "sub" / "nested.txt").write_text(GOOD.replace("Ferry timetable", "Bridge toll"))
    (folder / "sub" / "back").symlink_to(folder)  # a loop: the folder links to its own parent
    (folder / "photo.jpg").write_bytes(b"\xff\xd8\xff\xe0" + bytes(500))  # not an article type: skipped silently
    return bad


@pytest.fixture
def unreadable(monkeypatch: pytest.MonkeyPatch) -> None:
    """Make files named locked.txt unreadable: tests run as root, for whom chmod 000 changes nothing."""
    real_open = pathlib.Path.open

    def guarded_open(self, mode="r", *args, **kwargs):  # type: ignore[no-untyped-def]
        if self.name == "locked.txt" and mode.startswith("r"):
            raise PermissionError(13, "Permission denied", str(self))
        return real_open(self, mode, *args, **kwargs)

    monkeypatch.setattr(pathlib.Path, "open", guarded_open)


def test_every_bad_kind_is_named_and_the_good_ones_indexed(tmp_path: Path, unreadable, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    folder = tmp_path / "archive"
    bad = write_bad_folder(folder)
    monkeypatch.setenv("ASSISTANT_INDEX__MAX_FILE_MB", "0.05")
    result = CliRunner().invoke(app, ["ingest", str(folder), "--json"])
    assert result.exit_code == 1, result.output
    report = json.loads(result.stdout)
    assert report["added"] == 5  # good.txt, good.md, legacy.txt, sub/nested.txt and one JSONL record
    assert report["unchanged"] == report["updated"] == 0
    failed = {f["path"].removeprefix(f"{folder}/"): f["error"] for f in report["failed"]}
    assert set(failed) == set(bad)
    for name, reason in bad.items():
        assert reason in failed[name], (name, failed[name])
    stderr_lines = [line for line in result.stderr.splitlines() if line.startswith("Error: ")]
    assert len(stderr_lines) == len(bad)  # one line per bad file or record
    for name in bad:
        assert any(line.startswith(f"Error: {folder}/{name}: ") for line in stderr_lines), name

    from assistant.settings import load_settings
    from index.embedding import LocalEmbeddings
    from index.store import Store

    store = Store(load_settings(), LocalEmbeddings())
    assert_in_step(store)
    titles = {a.title for a in store.articles()}
    assert {"Ferry timetable changes", "Café reopens", "Bridge toll changes", "Tram depot expands"} <= titles
    [legacy] = [a for a in store.articles() if a.title == "Café reopens"]
    assert "“We missed our regulars,”" in store.article(legacy.doc_id).text
    store.close()

    again = CliRunner().invoke(app, ["ingest", str(folder), "--json"])
    assert again.exit_code == 1  # the bad files are still bad, and still named
    assert json.loads(again.stdout)["unchanged"] == 5
    assert len(json.loads(again.stdout)["failed"]) == len(bad)


def test_walk_survives_loops_and_yields_a_linked_file_once(tmp_path: Path) -> None:
    root = tmp_path / "root"
    (root / "a" / "b").mkdir(parents=True)
    (root / "a" / "b" / "story.txt").write_text(GOOD)
    (root / "a" / "b" / "up").symlink_to(root / "a")  # loop two levels up
    (root / "alias").symlink_to(root / "a")  # the same folder again: walked once
    (root / "latest.txt").symlink_to(root / "a" / "b" / "story.txt")  # the same file again: yielded once
    (root / ".hidden").mkdir()
    (root / ".hidden" / "secret.txt").write_text(GOOD)
    (tmp_path / "ring1").symlink_to(tmp_path / "ring2")
    (tmp_path / "ring2").symlink_to(tmp_path / "ring1")
    items = list(iter_files([root, tmp_path / "ring1", tmp_path / "nowhere.txt", root / "a" / "b" / "story.txt"]))
    files = [i for i in items if isinstance(i, Path)]
    failures = {f.path: f.error for f in items if isinstance(f, LoadFailure)}
    assert len(files) == 1 and files[0].name in {"story.txt", "latest.txt"}
    assert failures == {
        str(root / "a" / "b" / "up"): f"symlink loop (points back to {root / 'a'})",
        str(tmp_path / "ring1"): "symlink loop",
        str(tmp_path / "nowhere.txt"): "no such file or folder",
    }


def test_special_file_named_directly_is_refused_without_blocking(tmp_path: Path) -> None:
    fifo = tmp_path / "pipe.txt"
    os.mkfifo(fifo)  # reading it would block forever
    assert list(iter_files([fifo])) == [LoadFailure(str(fifo), "not a regular file")]
    assert list(load_file(fifo, max_bytes=1000)) == [LoadFailure(str(fifo), "not a regular file")]


def test_utf16_and_mixed_encodings_decode() -> None:
    assert decode("Zoë said “yes”.".encode("utf-16")) == "Zoë said “yes”."
    # UTF-8 with one stray cp1252 byte: the UTF-8 characters stay whole, the stray byte is read as cp1252.
    assert decode("Zoë paid 5 ".encode() + b"\x80" + " – fine".encode()) == "Zoë paid 5 € – fine"
    assert decode(b"plain ascii") == "plain ascii"


def test_a_file_that_grows_past_the_cap_while_read_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "growing.txt"
    path.write_text(GOOD)
    [item] = list(load_file(path, max_bytes=len(GOOD) - 1))
    assert isinstance(item, LoadFailure) and "limit" in item.error
    [item] = list(load_file(path, max_bytes=len(GOOD)))
    assert isinstance(item, Article)


def test_a_parser_crash_is_a_failure_not_an_exception(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import index.loaders

    def explode(*args: object, **kwargs: object) -> Article:
        raise AttributeError("'NoneType' object has no attribute 'strip'")

    monkeypatch.setattr(index.loaders, "_from_text", explode)
    path = tmp_path / "odd.txt"
    path.write_text(GOOD)
    [item] = list(load_file(path, max_bytes=10_000))
    assert isinstance(item, LoadFailure)
    assert item.error == "unexpected error while parsing: AttributeError: 'NoneType' object has no attribute 'strip'"


def test_bad_folder_leaves_an_existing_index_intact(tmp_path: Path, unreadable, settings, store) -> None:  # type: ignore[no-untyped-def]
    from index.ingest import ingest

    good = tmp_path / "good"
    shutil.copytree(Path(__file__).parent.parent / "examples" / "articles", good)
    first = ingest([good], settings, store=store)
    before = {a.doc_id: store.chunk_ids(a.doc_id) for a in store.articles()}
    write_bad_folder(tmp_path / "bad")
    settings.index.max_file_mb = 0.05
    report = ingest([tmp_path / "bad"], settings, store=store)
    assert report.failed and report.added == 5
    after = {a.doc_id: store.chunk_ids(a.doc_id) for a in store.articles()}
    assert {d: after[d] for d in before} == before and first.added == len(before)
    assert_in_step(store)
