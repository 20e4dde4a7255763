"""Crash safety: `assistant ingest` is SIGKILLed part-way (at chosen points inside a batch and from outside), run
again, and must end with exactly the passages, lexical rows, statements and vectors of an uninterrupted ingest.

The kill points are set by a small driver that wraps `Store.write` or Chroma's `upsert`/`delete` and sends the
process SIGKILL at the N-th call: no cleanup code runs, as with a power cut.
"""

from __future__ import annotations

import json
import os
import random
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest
from typer.testing import CliRunner

from assistant.cli import app
from assistant.settings import load_settings
from index.ingest import ingest
from index.store import Store
from tests.test_index import assert_in_step

ROOT = Path(__file__).resolve().parent.parent

DRIVER = r"""
import os, signal, sys, time
kind, _, n = os.environ["CRASH_AT"].partition(":")
n = int(n or 0)
calls = {"n": 0}

def hit():
    calls["n"] += 1
    return calls["n"] == n

def die():
    os.kill(os.getpid(), signal.SIGKILL)

def pause():
    Path = __import__("pathlib").Path
    Path(os.environ["CRASH_MARK"]).write_text("paused")
    for _ in range(6000):  # up to 10 minutes; the test lets it go on long before that
        if Path(os.environ["CRASH_MARK"] + ".go").exists():
            return
        time.sleep(0.1)

if kind == "after-write":
    from index.store import Store
    real_write = Store.write
    def write(self, batch, **options):
        result = real_write(self, batch, **options)
        if hit():
            die()
        return result
    Store.write = write
elif kind:
    from chromadb.api.models.Collection import Collection
    method = "delete" if kind.endswith("delete") else "upsert"
    real = getattr(Collection, method)
    def wrapped(self, *args, **kwargs):
        now = hit()
        if now and kind.startswith("before"):
            die()
        if now and kind.startswith("pause"):
            pause()
        result = real(self, *args, **kwargs)
        if now and kind.startswith("after"):
            die()
        return result
    setattr(Collection, method, wrapped)

from assistant.cli import main
sys.argv = ["assistant", *sys.argv[1:]]
main()
"""

TOWNS = "Arlen Brisk Corvale Dunmere Eskby Falwick Gorran Hollis Ivel Jarrow Kestle Lunford".split()
TOPICS = "bridge repairs|school meals|water rates|bus routes|library hours|harbour fees|park lighting".split("|")
PEOPLE = "Okoro Vance Lindqvist Moreau Tanaka Haddad Novak Ferreira Osei Brandt".split()


def write_archive(folder: Path, *, files: int = 240, records: int = 60, edit: int = 0) -> None:
    """Write invented articles: `files` text files and a JSONL file of `records`; `edit` changes the first few."""
    folder.mkdir(parents=True, exist_ok=True)
    for i in range(files + records):
        r = random.Random(i)
        town, topic, person = r.choice(TOWNS), r.choice(TOPICS), r.choice(PEOPLE)
        sentences = [
            f"Officials in {town} said the plan for {topic} would change by {r.randint(2, 40)} percent next year.",
            f"“We have listened to residents,” councillor {person} said on {r.choice(['Monday', 'Friday'])}.",
        ]
        sentences += [
            f"Item {i}.{k}: the {topic} budget in {town} rose to {r.randint(10, 900)} thousand after a vote of "
            f"{r.randint(5, 30)} to {r.randint(1, 4)} in the chamber."
            for k in range(r.choice([1, 2, 3, 14]))  # some articles run to several passages
        ]
        if i < edit:
            sentences.append(f"An earlier version of this report misstated the figure for {town}.")
        body = " ".join(sentences)
        title = f"{town} {topic} update {i}"
        if i < files:
            (folder / f"{town.lower()}-{i:04d}.txt").write_text(
                f"Title: {title}\nSource: The {town} Post\nDate: 2024-03-{1 + i % 28:02d}\n\n{body}\n"
            )
    lines = []
    for i in range(files, files + records):
        r = random.Random(i)
        town = r.choice(TOWNS)
        lines.append(
            json.dumps(
                {
                    "id": f"wire-{i}",
                    "title": f"Wire: {town} report {i}",
                    "source": "Inland Wire",
                    "published_at": f"2024-04-{1 + i % 28:02d}",
                    "body": f"Councillor {r.choice(PEOPLE)} said {town} would review the plan {i} in May. "
                    f"“It is a fair deal,” she said. " * r.choice([1, 2]),
                }
            )
        )
    (folder / "wire.jsonl").write_text("\n".join(lines) + "\n")


def snapshot(store: Store) -> dict[str, object]:
    """What must match an uninterrupted ingest: chunk ids per article, rows per article of every doc_id table."""
    db = store.db
    tables = [
        name
        for (name,) in db.execute("SELECT name FROM sqlite_master WHERE type = 'table'")
        if not name.startswith(("chunks_fts_", "sqlite_"))
        and "doc_id" in {row[1] for row in db.execute(f'PRAGMA table_info("{name}")')}
    ]
    per_table = {
        t: sorted(db.execute(f'SELECT doc_id, COUNT(*) FROM "{t}" GROUP BY doc_id').fetchall()) for t in tables
    }
    return {
        "chunks": sorted(db.execute("SELECT doc_id, chunk_id FROM chunks").fetchall()),
        "states": sorted({s for (s,) in db.execute("SELECT state FROM articles")}),
        "tables": per_table,
    }


def open_store(home: Path, embeddings) -> Store:  # type: ignore[no-untyped-def]
    return Store(load_settings(home=home), embeddings)


def run_cli(home: Path, *args: str, crash_at: str = "", mark: Path | None = None) -> subprocess.Popen[bytes]:
    env = {
        **os.environ,
        "ASSISTANT_HOME": str(home),
        "ASSISTANT_INDEX__WRITE_BATCH_PASSAGES": "40",  # many small batches: many places to die in
        "CRASH_AT": crash_at,
        "CRASH_MARK": str(mark or ""),
    }
    return subprocess.Popen(
        [sys.executable, "-c", DRIVER, *args], env=env, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE
    )


def finish(proc: subprocess.Popen[bytes]) -> tuple[int, str]:
    out, err = proc.communicate(timeout=900)
    return proc.returncode, (out + err).decode()


def ready_count(home: Path) -> int:
    """Articles marked ready in the catalog, read the way another process would (0 before the catalog exists)."""
    catalogs = list((home / "indexes").glob("*/catalog.sqlite3"))
    if not catalogs:
        return 0
    db = sqlite3.connect(f"file:{catalogs[0]}?mode=ro", uri=True, timeout=30)
    try:
        return int(db.execute("SELECT COUNT(*) FROM articles WHERE state = 'ready'").fetchone()[0])
    except sqlite3.OperationalError:  # the schema is not there yet
        return 0
    finally:
        db.close()


def complete_and_compare(home: Path, archive: Path, reference: dict[str, object], embeddings) -> None:  # type: ignore[no-untyped-def]
    """Run the ingest again, uninterrupted, and check the index equals the reference in every store."""
    code, output = finish(run_cli(home, "ingest", str(archive), "--quiet"))
    assert code == 0, output
    store = open_store(home, embeddings)
    assert snapshot(store) == reference
    assert_in_step(store)
    store.close()


@pytest.fixture(scope="module")
def archive(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("crash") / "archive"
    write_archive(folder)
    return folder


@pytest.fixture(scope="module")
def reference(archive: Path, tmp_path_factory: pytest.TempPathFactory, embeddings) -> dict[str, object]:  # type: ignore[no-untyped-def]
    """The state an uninterrupted ingest of the archive leaves."""
    home = tmp_path_factory.mktemp("reference")
    store = open_store(home, embeddings)
    report = ingest([archive], store.settings, store=store)
    assert report.added == 300 and not report.failed
    assert_in_step(store)
    state = snapshot(store)
    store.close()
    return state


def test_killed_at_several_points_then_rerun_matches_an_uninterrupted_ingest(
    archive: Path, reference: dict[str, object], tmp_path: Path, embeddings
) -> None:  # type: ignore[no-untyped-def]
    home = tmp_path / "home"
    for crash_at in ("after-write:2", "before-upsert:2", "after-upsert:1"):
        code, output = finish(run_cli(home, "ingest", str(archive), "--quiet", crash_at=crash_at))
        assert code == -signal.SIGKILL, (crash_at, output)
        assert 0 < ready_count(home) < 300, crash_at  # killed part-way, not before or after
        if crash_at == "after-write:2":
            # Killed between batches: what is indexed answers, with passages that slice back into their article.
            result = CliRunner().invoke(
                app, ["ask", "What did councillor Okoro say?", "--model", "fake", "--json", "--index-dir", str(home)]
            )
            assert result.exit_code == 0, result.output
            citations = json.loads(result.stdout)["citations"]
            assert citations, result.stdout
            store = open_store(home, embeddings)
            for c in citations:
                assert store.article(c["doc_id"]).text[c["start"] : c["end"]] == c["text"]
            store.close()
        if crash_at == "before-upsert:2":
            store = open_store(home, embeddings)
            assert store.db.execute("SELECT COUNT(*) FROM articles WHERE state = 'pending'").fetchone()[0] > 0
            store.close()

    complete_and_compare(home, archive, reference, embeddings)
    result = CliRunner().invoke(app, ["doctor", "--index-dir", str(home)])
    assert result.exit_code == 0 and "OK: the stores agree." in result.stdout, result.output


def test_killed_while_updating_and_pruning_then_rerun_matches(
    archive: Path, tmp_path: Path, tmp_path_factory: pytest.TempPathFactory, embeddings
) -> None:  # type: ignore[no-untyped-def]
    folder = tmp_path / "archive"
    write_archive(folder, files=80, records=20)
    home = tmp_path / "home"
    code, output = finish(run_cli(home, "ingest", str(folder), "--quiet"))
    assert code == 0, output

    write_archive(folder, files=80, records=20, edit=30)  # 30 articles change
    for path in sorted(folder.glob("*.txt"))[-10:]:
        path.unlink()  # 10 files are gone
    for crash_at in ("before-upsert:1", "after-delete:2"):
        code, output = finish(run_cli(home, "ingest", str(folder), "--prune", "--quiet", crash_at=crash_at))
        assert code == -signal.SIGKILL, (crash_at, output)
    code, output = finish(run_cli(home, "ingest", str(folder), "--prune", "--quiet"))
    assert code == 0, output

    fresh = open_store(tmp_path_factory.mktemp("fresh-reference"), embeddings)
    ingest([folder], fresh.settings, store=fresh)
    store = open_store(home, embeddings)
    assert snapshot(store) == snapshot(fresh)
    assert len(store.articles()) == 90
    assert_in_step(store)
    store.close()
    fresh.close()


def test_killed_from_outside_while_running_then_rerun_matches(
    archive: Path, reference: dict[str, object], tmp_path: Path, embeddings
) -> None:  # type: ignore[no-untyped-def]
    home = tmp_path / "home"
    proc = run_cli(home, "ingest", str(archive), "--quiet")
    while ready_count(home) == 0 and proc.poll() is None:  # wait for the first batch, whatever it takes
        time.sleep(0.05)
    proc.kill()
    code, output = finish(proc)
    assert code == -signal.SIGKILL, output  # it was still running: the kill landed part-way
    complete_and_compare(home, archive, reference, embeddings)


def test_ask_works_and_a_second_ingest_is_refused_while_an_ingest_runs(
    archive: Path, tmp_path: Path, articles_dir: Path, embeddings
) -> None:  # type: ignore[no-untyped-def]
    home = tmp_path / "home"
    runner = CliRunner()
    assert runner.invoke(app, ["ingest", str(articles_dir), "--index-dir", str(home)]).exit_code == 0
    mark = tmp_path / "paused"
    # Paused inside the second batch's write: its catalog rows are committed as pending, Chroma not yet written.
    proc = run_cli(home, "ingest", str(archive), "--quiet", crash_at="pause-upsert:2", mark=mark)
    try:
        while not mark.exists():
            assert proc.poll() is None, finish(proc)
            time.sleep(0.05)
        result = runner.invoke(
            app,
            ["ask", "What did Okafor say about the sailors?", "--model", "fake", "--json", "--index-dir", str(home)],
        )
        assert result.exit_code == 0, result.output
        assert json.loads(result.stdout)["citations"]
        result = runner.invoke(app, ["ingest", str(articles_dir), "--index-dir", str(home)])
        assert result.exit_code == 4 and "another ingest or remove is writing" in result.stderr
        result = runner.invoke(app, ["doctor", "--index-dir", str(home)])
        assert result.exit_code == 4 and "another ingest or remove is writing" in result.stderr
    finally:
        Path(str(mark) + ".go").write_text("go")
    code, output = finish(proc)
    assert code == 0, output
    store = open_store(home, embeddings)
    assert len(store.articles()) == 310
    assert_in_step(store)
    store.close()
