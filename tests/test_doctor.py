"""`assistant doctor`: finds every kind of disagreement between the stores, repairs it, and says what remains."""

from __future__ import annotations

import json
from pathlib import Path

from typer.testing import CliRunner

from assistant.cli import app
from index.doctor import examine
from index.ingest import ingest
from index.ledger import Ledger
from tests.test_index import assert_in_step, catalog_ids


def damage(store) -> None:  # type: ignore[no-untyped-def]
    """Break the index in every way the doctor checks, as bugs or lost writes could."""
    docs = [a.doc_id for a in store.articles()]
    one, two, three = docs[:3]
    lost = store.chunk_ids(one)[0]
    store.collection.delete(ids=[lost])  # a passage without its vector
    store.collection.upsert(ids=["ghost:0:000"], embeddings=[[0.1] * 384], documents=["ghost"], metadatas=[{"doc_id": "ghost"}])  # fmt: skip  # noqa: E501
    db = store.db
    db.execute("DELETE FROM chunks_fts WHERE chunk_id = ?", (store.chunk_ids(two)[0],))  # missing lexically
    cid = store.chunk_ids(three)[0]
    db.execute("INSERT INTO chunks_fts (chunk_id, doc_id, body) VALUES (?, ?, 'doubled')", (cid, three))
    db.execute("UPDATE chunks_fts SET body = 'stale words' WHERE chunk_id = ?", (store.chunk_ids(three)[-1],))
    db.execute("INSERT INTO chunks_fts (chunk_id, doc_id, body) VALUES ('orphan:0:1', 'orphan', 'nobody')")
    db.execute("INSERT INTO chunks_fts (chunk_id, doc_id, body) VALUES (?, ?, 'old passage')", (f"{one}:99:0", one))
    db.execute("PRAGMA foreign_keys=OFF")  # as a bug or an older version could have left them
    db.execute(
        'INSERT INTO statements (doc_id, seq, speaker, role, kind, text, start, "end") '
        "VALUES ('removed-long-ago', 0, 'Nobody', '', 'direct', 'words', 0, 5)"
    )
    db.execute("PRAGMA foreign_keys=ON")
    db.execute("CREATE TABLE notes (doc_id TEXT, note TEXT)")  # a table the doctor has never heard of
    db.execute("INSERT INTO notes VALUES (?, 'fine'), ('vanished', 'dangling')", (one,))
    db.execute("UPDATE articles SET state = 'pending' WHERE doc_id = ?", (docs[3],))
    Ledger(db).record([("/nowhere/x.txt", 1, 1, "00", {"vanished-doc": "h"})])


def test_healthy_index_is_ok(articles_dir: Path, settings, store) -> None:  # type: ignore[no-untyped-def]
    ingest([articles_dir], settings, store=store)
    health = examine(store)
    assert health.ok and health.findings == []
    assert health.articles == 10 and health.passages == health.lexical == health.vectors > 10
    assert health.tables["statements"] > 0  # the quote store is among the tables checked


def test_every_disagreement_is_found_and_repaired(articles_dir: Path, settings, store) -> None:  # type: ignore[no-untyped-def]
    ingest([articles_dir], settings, store=store)
    before = catalog_ids(store)
    damage(store)

    health = examine(store)
    found = {f.kind: f.count for f in health.findings}
    assert found == {
        "interrupted-writes": 1,
        "dangling:chunks_fts": 1,
        "dangling:statements": 1,
        "dangling:notes": 1,
        "dangling-chunk:chunks_fts": 1,
        "lexical-missing": 1,
        "lexical-doubled": 1,
        "lexical-stale": 1,
        "lexical-unmapped": 4,  # the missing row's entry, and the doubled, orphan and old rows not entered
        "lexical-postings": 4,  # the same four rows, seen from the BM25 postings
        "vectors-extra": 1,
        "vectors-missing": 1,
        "ledger-stale": 1,
    }
    assert not health.ok and not any(f.repaired for f in health.findings)

    repaired = examine(store, repair=True)
    assert repaired.ok and all(f.repaired for f in repaired.findings)
    assert examine(store).findings == []
    assert catalog_ids(store) == before
    assert_in_step(store)
    assert store.db.execute("SELECT COUNT(*) FROM notes").fetchone()[0] == 1  # only the dangling row went
    assert store.lexical_search("Vasquez reservoir", 3)[0].doc_id.startswith("harbor-water")


def test_cli_doctor_exit_codes_and_output(articles_dir: Path, settings, store) -> None:  # type: ignore[no-untyped-def]
    runner = CliRunner()
    assert runner.invoke(app, ["ingest", str(articles_dir)]).exit_code == 0
    ok = runner.invoke(app, ["doctor"])
    assert ok.exit_code == 0 and "OK: the stores agree." in ok.stdout
    assert "statements:" in ok.stdout

    damage(store)
    sick = runner.invoke(app, ["doctor"])
    assert sick.exit_code == 4
    assert "Problem: 1 passage(s) have no vector." in sick.stdout
    assert "13 problems remain; run `assistant doctor --repair`." in sick.stdout

    fixed = runner.invoke(app, ["doctor", "--repair", "--json"])
    assert fixed.exit_code == 0, fixed.output
    data = json.loads(fixed.stdout)
    assert data["ok"] and len(data["findings"]) == 13 and all(f["repaired"] for f in data["findings"])
    assert runner.invoke(app, ["doctor"]).exit_code == 0
