"""Statements stored beside the chunks: written with them, replaced on update, deleted on remove, recovered."""

from __future__ import annotations

from pathlib import Path

import pytest

from index import statements
from index.ingest import ingest
from index.quotes import extract_statements
from index.store import Store


def stored(store: Store, doc_id: str | None = None) -> list[tuple[str, str, str, str, str, int, int]]:
    sql = 'SELECT doc_id, speaker, role, kind, text, start, "end" FROM statements'
    rows = store.db.execute(sql + (" WHERE doc_id = ?" if doc_id else ""), (doc_id,) if doc_id else ())
    return sorted(rows.fetchall())


def expected(store: Store, doc_id: str) -> list[tuple[str, str, str, str, str, int, int]]:
    text = store.article(doc_id).text
    return sorted((doc_id, s.speaker, s.role, s.kind, s.text, s.start, s.end) for s in extract_statements(text))


def assert_in_step(store: Store) -> None:
    """Every article's rows are what the extractor finds in its stored text, and no row outlives its article."""
    doc_ids = [r[0] for r in store.db.execute("SELECT doc_id FROM articles")]
    assert {row[0] for row in stored(store)} <= set(doc_ids)
    for doc_id in doc_ids:
        assert stored(store, doc_id) == expected(store, doc_id), doc_id


def test_statements_are_written_with_the_chunks(articles_dir: Path, settings, store) -> None:  # type: ignore[no-untyped-def]
    ingest([articles_dir], settings, store=store)
    assert len(stored(store)) > 50
    assert_in_step(store)
    for doc_id, _, _, _, text, start, end in stored(store):
        assert store.article(doc_id).text[start:end] == text  # offsets index the cleaned text, as chunk offsets do


def test_statements_follow_update_and_remove(articles_dir: Path, settings, store) -> None:  # type: ignore[no-untyped-def]
    ingest([articles_dir], settings, store=store)
    [doc_id] = store.find(str(articles_dir / "harbor-water-rationing.txt"))
    others = [row for row in stored(store) if row[0] != doc_id]
    assert any(row[1] == "Elena Vasquez" for row in stored(store, doc_id))

    path = articles_dir / "harbor-water-rationing.txt"
    path.write_text(path.read_text().replace("Vasquez", "Quintanilla"))
    assert ingest([articles_dir], settings, store=store).updated == 1
    speakers = {row[1] for row in stored(store, doc_id)}
    assert "Elena Quintanilla" in speakers and "Elena Vasquez" not in speakers
    assert [row for row in stored(store) if row[0] != doc_id] == others
    assert_in_step(store)

    store.remove([doc_id])
    assert stored(store, doc_id) == []
    assert [row for row in stored(store)] == others
    assert not [s for s in statements.find(store.db, "Quintanilla")]
    assert_in_step(store)


def test_interrupted_write_and_remove_keep_statements_in_step(articles_dir: Path, settings, store, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    real_upsert = type(store.collection).upsert

    def crash_after_upsert(self, *args, **kwargs):  # type: ignore[no-untyped-def]
        real_upsert(self, *args, **kwargs)
        raise KeyboardInterrupt  # the process dies after Chroma took the vectors, before the articles are ready

    monkeypatch.setattr(type(store.collection), "upsert", crash_after_upsert)
    with pytest.raises(KeyboardInterrupt):
        ingest([articles_dir], settings, store=store)
    monkeypatch.undo()
    assert store.db.execute("SELECT COUNT(*) FROM articles WHERE state = 'pending'").fetchone()[0] > 0
    assert_in_step(store)  # the statements went in with the chunks, in one transaction
    assert statements.find(store.db, "Okafor") == []  # only ready articles are answered from

    ingest([articles_dir], settings, store=store)  # recovers, then finds everything unchanged
    assert_in_step(store)
    assert len(statements.find(store.db, "Okafor")) == 7

    [doc_id] = store.find(str(articles_dir / "marenia-detained-sailors.txt"))
    store.db.execute("UPDATE articles SET state = 'deleting' WHERE doc_id = ?", (doc_id,))  # a remove that died
    assert statements.find(store.db, "Okafor") == []
    assert store.recover() == [doc_id]
    assert stored(store, doc_id) == []
    assert_in_step(store)


def test_rows_from_another_extractor_version_are_re_extracted(articles_dir: Path, settings, store) -> None:  # type: ignore[no-untyped-def]
    ingest([articles_dir], settings, store=store)
    before = stored(store)
    store.db.execute("DELETE FROM statements")
    store.db.execute("UPDATE info SET value = 'older' WHERE key = 'statements_extractor'")
    assert len(statements.find(store.db, "Okafor")) == 7
    assert stored(store) == before
    assert statements.refresh(store.db) == 0  # current now


def test_covering_passages_contain_the_span(articles_dir: Path, settings, embeddings) -> None:  # type: ignore[no-untyped-def]
    small = settings.model_copy(update={"index": settings.index.model_copy(update={"max_passage_tokens": 64})})
    store = Store(small, embeddings)
    ingest([articles_dir / "marenia-detained-sailors.txt"], small, store=store)
    [doc_id] = store.find(str(articles_dir / "marenia-detained-sailors.txt"))
    text = store.article(doc_id).text
    chunks = store.db.execute(
        'SELECT chunk_no, start, "end" FROM chunks WHERE doc_id = ? ORDER BY chunk_no', (doc_id,)
    ).fetchall()
    assert len(chunks) >= 4
    spans = [(s.start, s.end) for s in statements.find(store.db, "Okafor")]
    spans.append((chunks[0][1] + 1, chunks[2][2] - 1))  # one over three chunks
    for start, end in spans:
        cover = statements.covering_passages(store.db, doc_id, start, end)
        inside = [c for c in chunks if c[1] <= start and end <= c[2]]
        if inside:  # the one chunk that holds it all
            assert len(cover) == 1 and cover[0].start <= start and end <= cover[0].end
            assert text[start:end] in cover[0].text
        else:  # else consecutive chunks, in order, that hold every character of it between them
            assert len(cover) > 1 and [p.chunk_no for p in cover] == sorted(p.chunk_no for p in cover)
            covered = set().union(*(range(p.start, p.end) for p in cover))
            assert all(i in covered for i in range(start, end) if not text[i].isspace())
    assert any(not [c for c in chunks if c[1] <= a and b <= c[2]] for a, b in spans[:-1])  # the case was tested
    store.close()
