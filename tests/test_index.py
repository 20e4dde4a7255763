"""Ingest into a real Chroma on disk with the real embedder: idempotence, updates, removal, recovery."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from assistant.errors import IndexStoreError
from assistant.types import Filters
from index import lexicon
from index.ingest import ingest
from index.store import Store


def chroma_ids(store: Store) -> set[str]:
    return set(store.collection.get(include=[])["ids"])


def catalog_ids(store: Store) -> set[str]:
    return {r[0] for r in store.db.execute("SELECT chunk_id FROM chunks")}


def fts_ids(store: Store) -> set[str]:
    return {r[0] for r in store.db.execute("SELECT chunk_id FROM chunks_fts")}


def assert_in_step(store: Store) -> None:
    assert chroma_ids(store) == catalog_ids(store) == fts_ids(store)
    lexical_rows = set(store.db.execute("SELECT rowid, doc_id FROM chunks_fts"))
    assert lexical_rows == set(store.db.execute("SELECT fts_rowid, doc_id FROM fts_docs"))
    assert lexicon.held_rowids(store.db) == {rowid for rowid, _ in lexical_rows}
    assert {r[0] for r in store.db.execute("SELECT chunk_id FROM chunk_vectors")} == catalog_ids(store)


def test_ingest_twice_adds_nothing_and_edit_replaces_only_that_file(articles_dir: Path, settings, store) -> None:  # type: ignore[no-untyped-def]
    first = ingest([articles_dir], settings, store=store)
    assert first.added == 10 and first.updated == 0 and not first.failed  # 8 files + 2 JSONL records
    assert first.chunks_added == len(catalog_ids(store)) > 10
    assert_in_step(store)
    before = {a.doc_id: set(store.chunk_ids(a.doc_id)) for a in store.articles()}

    again = ingest([articles_dir], settings, store=store)
    assert (again.added, again.updated, again.unchanged, again.chunks_added, again.chunks_removed) == (0, 0, 10, 0, 0)

    edited = articles_dir / "harbor-water-rationing.txt"
    edited.write_text(edited.read_text().replace("Vasquez", "Vázquez-Ortega"))
    third = ingest([articles_dir], settings, store=store)
    assert (third.added, third.updated, third.unchanged) == (0, 1, 9)
    assert third.chunks_added > 0 and third.chunks_removed > 0
    after = {a.doc_id: set(store.chunk_ids(a.doc_id)) for a in store.articles()}
    changed = {d for d in before if before[d] != after[d]}
    assert len(changed) == 1 and next(iter(changed)).startswith("harbor-water-rationing")
    assert_in_step(store)


def test_remove_takes_chunks_out_of_every_store(articles_dir: Path, settings, store) -> None:  # type: ignore[no-untyped-def]
    ingest([articles_dir], settings, store=store)
    [doc_id] = store.find(str(articles_dir / "riverside-heat-schools.txt"))
    n = len(store.chunk_ids(doc_id))
    assert store.remove([doc_id]) == n
    assert doc_id not in {a.doc_id for a in store.articles()}
    assert not [cid for cid in chroma_ids(store) if cid.startswith(doc_id)]
    assert_in_step(store)
    assert store.find(str(articles_dir / "wire.jsonl")) and len(store.find(str(articles_dir / "wire.jsonl"))) == 2


def test_lexical_index_follows_updates(articles_dir: Path, settings, store) -> None:  # type: ignore[no-untyped-def]
    ingest([articles_dir], settings, store=store)
    assert store.lexical_search("Vasquez reservoir", 5)[0].doc_id.startswith("harbor-water")
    path = articles_dir / "harbor-water-rationing.txt"
    path.write_text(path.read_text().replace("Vasquez", "Quintanilla"))
    ingest([articles_dir], settings, store=store)
    assert not store.lexical_search("Vasquez", 5)
    assert store.lexical_search("Quintanilla", 5)[0].doc_id.startswith("harbor-water")


def test_catalog_from_before_fts_docs_is_mapped_on_open(articles_dir: Path, settings, store, embeddings) -> None:  # type: ignore[no-untyped-def]
    ingest([articles_dir], settings, store=store)
    courier = Filters(sources=("The Harbor Courier",))
    before = [p.chunk_id for p in store.lexical_search("water rationing reservoir", 5, courier)]
    store.db.execute("DROP TABLE fts_docs")  # as a catalog written by an earlier version has it
    store.close()

    reopened = Store(settings, embeddings)
    assert_in_step(reopened)
    assert before and [p.chunk_id for p in reopened.lexical_search("water rationing reservoir", 5, courier)] == before
    reopened.close()


def test_catalog_without_vector_copies_gets_them_from_chroma_on_first_filtered_search(  # type: ignore[no-untyped-def]
    articles_dir: Path, settings, store, embeddings
) -> None:
    ingest([articles_dir], settings, store=store)
    courier = Filters(sources=("The Harbor Courier",))
    vector = embeddings.embed_query("water rationing at the reservoir")
    before = [(p.chunk_id, round(p.score, 4)) for p in store.dense_search(vector, 5, courier)]
    store.db.execute("DELETE FROM chunk_vectors")  # as a catalog written by an earlier version has it
    store.close()

    reopened = Store(settings, embeddings)
    assert before and [(p.chunk_id, round(p.score, 4)) for p in reopened.dense_search(vector, 5, courier)] == before
    copied = {r[0] for r in reopened.db.execute("SELECT chunk_id FROM chunk_vectors")}
    assert copied == catalog_ids(reopened)  # all of them, once
    reopened.close()


def test_interrupted_write_is_recovered(articles_dir: Path, settings, store, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    reference = Store(settings.model_copy(update={"home": settings.home.parent / "ref"}), store.embeddings)
    ingest([articles_dir], reference.settings, store=reference)

    calls = {"n": 0}
    real_upsert = type(store.collection).upsert

    def crash_on_second_batch(self, *args, **kwargs):  # type: ignore[no-untyped-def]
        calls["n"] += 1
        if calls["n"] == 1:
            real_upsert(self, *args, **kwargs)
            raise KeyboardInterrupt  # as if the process died right after Chroma took the vectors
        return real_upsert(self, *args, **kwargs)

    monkeypatch.setattr(type(store.collection), "upsert", crash_on_second_batch)
    with pytest.raises(KeyboardInterrupt):
        ingest([articles_dir], settings, store=store)
    monkeypatch.undo()
    pending = store.db.execute("SELECT COUNT(*) FROM articles WHERE state != 'ready'").fetchone()[0]
    assert pending > 0  # the catalog knows the write did not finish

    report = ingest([articles_dir], settings, store=store)
    assert not report.failed
    assert_in_step(store)
    assert catalog_ids(store) == catalog_ids(reference)
    reference.close()


def test_second_writer_is_refused(settings, store) -> None:  # type: ignore[no-untyped-def]
    other = Store(settings, store.embeddings)
    with store.writing(), pytest.raises(IndexStoreError, match="another ingest"), other.writing():
        pass
    other.close()


def test_failures_are_reported_and_good_files_indexed(tmp_path: Path, settings, store) -> None:  # type: ignore[no-untyped-def]
    folder = tmp_path / "mixed"
    shutil.copytree(Path(__file__).parent.parent / "examples" / "articles", folder)
    (folder / "empty.txt").write_text("")
    (folder / "broken.jsonl").write_text("{oops\n")
    report = ingest([folder, tmp_path / "missing.txt"], settings, store=store)
    assert report.added == 10
    errors = {Path(f.path.split(":")[0]).name: f.error for f in report.failed}
    assert set(errors) == {"empty.txt", "broken.jsonl", "missing.txt"}
    assert "no such file" in errors["missing.txt"]
