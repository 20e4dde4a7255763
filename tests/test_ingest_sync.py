"""Keeping a folder in sync: unchanged files skipped before parsing, --prune, --dry-run."""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path

import pytest
from typer.testing import CliRunner

import index.ingest
from assistant.cli import app
from index.ingest import ingest
from index.ledger import Ledger
from tests.test_index import assert_in_step, catalog_ids, chroma_ids

EXAMPLES = Path(__file__).parent.parent / "examples" / "articles"
DAY = 86_400


def age(folder: Path, seconds: int = DAY) -> None:
    """Set every file's mtime back: a file modified moments ago is not trusted on its mtime alone."""
    for path in folder.rglob("*"):
        st = path.stat()
        os.utime(path, ns=(st.st_atime_ns, st.st_mtime_ns - seconds * 1_000_000_000))


@pytest.fixture
def parsed(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """The names of the files ingest parses."""
    names: list[str] = []
    real = index.ingest.parse_file

    def spy(path: Path, raw: bytes):  # type: ignore[no-untyped-def]
        names.append(path.name)
        return real(path, raw)

    monkeypatch.setattr(index.ingest, "parse_file", spy)
    return names


def test_unchanged_files_are_skipped_before_parsing(articles_dir: Path, settings, store, parsed) -> None:  # type: ignore[no-untyped-def]
    age(articles_dir)
    first = ingest([articles_dir], settings, store=store)
    assert first.added == 10 and len(parsed) == 9
    parsed.clear()

    again = ingest([articles_dir], settings, store=store)
    assert (again.added, again.updated, again.unchanged, again.chunks_added) == (0, 0, 10, 0)
    assert parsed == []  # size and mtime matched the ledger: not even read

    touched = articles_dir / "meridian-rail-strike.txt"
    os.utime(touched)  # new mtime, same bytes: read and hashed, not parsed
    assert ingest([articles_dir], settings, store=store).unchanged == 10
    assert parsed == []

    edited = articles_dir / "harbor-water-rationing.txt"
    edited.write_text(edited.read_text().replace("Vasquez", "Vasquez-Lund"))
    third = ingest([articles_dir], settings, store=store)
    assert (third.updated, third.unchanged) == (1, 9) and parsed == ["harbor-water-rationing.txt"]
    assert_in_step(store)


def test_ledger_is_not_trusted_for_articles_removed_since(articles_dir: Path, settings, store, parsed) -> None:  # type: ignore[no-untyped-def]
    age(articles_dir)
    ingest([articles_dir], settings, store=store)
    [doc_id] = store.find(str(articles_dir / "voltaris-battery-plant.txt"))
    store.remove([doc_id])
    parsed.clear()
    report = ingest([articles_dir], settings, store=store)
    assert (report.added, report.unchanged) == (1, 9)
    assert parsed == ["voltaris-battery-plant.txt"]
    assert_in_step(store)


def test_files_with_failures_are_not_recorded(tmp_path: Path, settings, store) -> None:  # type: ignore[no-untyped-def]
    folder = tmp_path / "feed"
    folder.mkdir()
    (folder / "wire.jsonl").write_text(
        json.dumps({"id": "w1", "title": "Dock cranes", "body": "The port added two new dock cranes on Monday."})
        + "\n{broken\n"
    )
    age(folder)
    assert len(ingest([folder], settings, store=store).failed) == 1
    again = ingest([folder], settings, store=store)
    assert [f.path for f in again.failed] == [f"{folder / 'wire.jsonl'}:2"]  # still reported, every time
    assert Ledger(store.db).get(str(folder / "wire.jsonl")) is None


def test_recent_files_are_compared_by_hash(tmp_path: Path, settings, store) -> None:  # type: ignore[no-untyped-def]
    folder = tmp_path / "fresh"
    shutil.copytree(EXAMPLES, folder, copy_function=shutil.copy)  # mtimes of now: could change again this tick
    ingest([folder], settings, store=store)
    record = Ledger(store.db).get(str(folder / "wire.jsonl"))
    assert record is not None and record.mtime_ns == -1 and len(record.articles) == 2


def test_prune_removes_only_gone_files_under_the_given_paths(tmp_path: Path, settings, store) -> None:  # type: ignore[no-untyped-def]
    one, two = tmp_path / "one", tmp_path / "two"
    shutil.copytree(EXAMPLES, one)
    two.mkdir()
    (two / "elsewhere.txt").write_text("Title: Canal locks reopen\n\nBarges pass the canal locks again after repairs.")
    ingest([one, two], settings, store=store)
    (two / "elsewhere.txt").unlink()
    (one / "riverside-heat-schools.txt").unlink()
    lines = (one / "wire.jsonl").read_text().splitlines()
    (one / "wire.jsonl").write_text(lines[0] + "\n")  # one record dropped from a file that is still there

    without = ingest([one], settings, store=store)
    assert without.removed == 0 and without.unchanged == 8

    report = ingest([one], settings, store=store, prune=True)
    removed = {c.path for c in report.changes if c.action == "remove"}
    assert report.removed == 2 and removed == {str(one / "riverside-heat-schools.txt"), str(one / "wire.jsonl")}
    assert report.chunks_removed > 0
    paths = {a.path for a in store.articles()}
    assert str(two / "elsewhere.txt") in paths  # outside the pruned path: kept though its file is gone
    assert str(one / "riverside-heat-schools.txt") not in paths
    assert len(store.articles()) == 11 - 2
    assert_in_step(store)


def test_dry_run_reports_and_writes_nothing(articles_dir: Path, settings, store) -> None:  # type: ignore[no-untyped-def]
    ingest([articles_dir], settings, store=store)
    before = (catalog_ids(store), chroma_ids(store), len(Ledger(store.db).all()))
    edited = articles_dir / "harbor-water-rationing.txt"
    edited.write_text(edited.read_text().replace("Vasquez", "Vasquez-Lund"))
    (articles_dir / "kolmar-esteria-ceasefire.txt").unlink()
    (articles_dir / "new.txt").write_text("Title: Lighthouse restored\n\nThe old lighthouse shines again at night.")

    report = ingest([articles_dir], settings, store=store, prune=True, dry_run=True)
    assert report.dry_run
    assert (report.added, report.updated, report.removed) == (1, 1, 1)
    assert {c.action for c in report.changes} == {"add", "update", "remove"}
    assert report.chunks_added >= 2 and report.chunks_removed >= 2
    assert (catalog_ids(store), chroma_ids(store), len(Ledger(store.db).all())) == before

    real = ingest([articles_dir], settings, store=store, prune=True)
    assert (real.added, real.updated, real.removed, real.chunks_added, real.chunks_removed) == (
        report.added,
        report.updated,
        report.removed,
        report.chunks_added,
        report.chunks_removed,
    )


def test_cli_dry_run_and_prune_lines(articles_dir: Path) -> None:
    runner = CliRunner()
    assert runner.invoke(app, ["ingest", str(articles_dir)]).exit_code == 0
    (articles_dir / "wire.jsonl").unlink()
    result = runner.invoke(app, ["ingest", str(articles_dir), "--prune", "--dry-run"])
    assert result.exit_code == 0, result.output
    assert result.stdout.count("would remove: ") == 2
    assert "Dry run, nothing written" in result.stdout and "2 removed" in result.stdout
    assert "2 removed" in runner.invoke(app, ["ingest", str(articles_dir), "--prune"]).stdout
    listed = json.loads(runner.invoke(app, ["sources", "--json"]).stdout)
    assert len(listed) == 8
