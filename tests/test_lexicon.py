"""The postings give FTS5's BM25 ranking, scores and all, through writes, updates, removals, merges and rebuilds."""

from __future__ import annotations

from pathlib import Path

import pytest

from assistant.types import Filters
from index import lexicon
from index.ingest import ingest
from index.store import Store, lexical_words

QUESTIONS = [
    "What did the mayor say about water rationing at the reservoir?",
    "Which union called the rail strike, and what did the transport minister reply?",
    "Were the detained sailors released after the ceasefire talks, according to officials?",
    "frost damage to the valley's orchards and the growers' losses this season",
    "battery plant jobs",
    "tram delays heat schools",
    "Did the Harbor Courier report rationing before the wire services reported the strike?",
]


def fts_ranking(store: Store, question: str, k: int, filters: Filters | None = None) -> list[tuple[str, float]]:
    return [(p.chunk_id, p.score) for p in store._fts_search(lexical_words(question), k, filters)]


def ranking(store: Store, question: str, k: int, filters: Filters | None = None) -> list[tuple[str, float]]:
    return [(p.chunk_id, p.score) for p in store.lexical_search(question, k, filters)]


def assert_same_ranking(ours: list[tuple[str, float]], theirs: list[tuple[str, float]]) -> None:
    """The same scores rank by rank, and each passage among FTS5's passages of its score (ties may swap).

    `theirs` may run longer than `ours`, so that ties across the cut are still found.
    """
    assert [s for _, s in ours] == pytest.approx([s for _, s in theirs[: len(ours)]], rel=1e-12)
    for cid, score in ours:
        assert cid in {c for c, s in theirs if s == pytest.approx(score, rel=1e-12)}
    assert len({cid for cid, _ in ours}) == len(ours)


def assert_same_as_fts(store: Store, k: int = 12) -> None:
    sources = tuple(store.sources())
    filtered = 0
    for question in QUESTIONS:
        for filters in (
            None,
            Filters(sources=sources[:1]),
            Filters(since=20240315),
            Filters(sources=sources[:3], since=20240301, until=20240531),  # outlets read apart, then days applied
        ):
            ours, theirs = ranking(store, question, k, filters), fts_ranking(store, question, k + 30, filters)
            assert len(ours) == min(k, len(theirs)), (question, filters)
            assert_same_ranking(ours, theirs)
            filtered += bool(filters and ours)
    assert filtered >= len(QUESTIONS)  # the filters let passages through


@pytest.fixture
def written_one_by_one(articles_dir: Path, settings, store, monkeypatch):  # type: ignore[no-untyped-def]
    """The sample articles written one file at a time, with merges after every second segment."""
    monkeypatch.setattr(lexicon, "_FANOUT", 2)
    for path in sorted(articles_dir.iterdir()):
        ingest([path], settings, store=store)
    assert store.db.execute("SELECT MAX(level) FROM lex_segments").fetchone()[0] >= 2  # merged more than once
    return store


def test_postings_rank_and_score_as_fts5_does(written_one_by_one: Store) -> None:
    assert_same_as_fts(written_one_by_one)
    assert lexicon.in_step(written_one_by_one.db)


def test_postings_follow_updates_and_removals_through_merges(  # type: ignore[no-untyped-def]
    written_one_by_one: Store, articles_dir: Path, settings
) -> None:
    store = written_one_by_one
    # Words searched before the writes are kept in memory (`Postings._read`); the writes must make them stale.
    assert store.lexical_search("Vasquez reservoir", 5) and {"vasquez", "reservoir"} <= set(store.postings._read)
    assert_same_as_fts(store)
    path = articles_dir / "harbor-water-rationing.txt"
    path.write_text(path.read_text().replace("Vasquez", "Quintanilla").replace("reservoir", "aquifer"))
    ingest([path], settings, store=store)
    store.remove(store.find(str(articles_dir / "meridian-rail-strike.txt")))
    assert store.db.execute("SELECT COUNT(*) FROM lex_dead").fetchone()[0]  # removed rows not yet merged away
    assert not store.lexical_search("Vasquez", 5)
    assert store.lexical_search("Quintanilla aquifer", 5)[0].doc_id.startswith("harbor-water")
    assert_same_as_fts(store)
    # More writes merge the dead rows away; the ranking stays FTS5's.
    for name in ("voltaris-battery-plant.txt", "serrano-valley-frost.md", "eastgate-tram-delay.html"):
        p = articles_dir / name
        p.write_text(p.read_text() + "\n\nThis story was updated with a correction.\n")
        ingest([p], settings, store=store)
    assert_same_as_fts(store)
    assert lexicon.held_rowids(store.db) == {r[0] for r in store.db.execute("SELECT fts_rowid FROM fts_docs")}


def test_one_scoring_per_outlet_matches_filtering_to_each(written_one_by_one: Store) -> None:
    store = written_one_by_one
    sources = tuple(store.sources()[:3])
    for question in QUESTIONS:
        by_source = store.lexical_search_by_source(question, 4, Filters(sources=sources))
        for source in sources:
            ours = [(p.chunk_id, p.score) for p in by_source[source]]
            theirs = fts_ranking(store, question, 34, Filters(sources=(source,)))
            assert len(ours) == min(4, len(theirs))
            assert_same_ranking(ours, theirs)


def test_catalog_without_postings_gets_them_on_open(articles_dir: Path, settings, store, embeddings) -> None:  # type: ignore[no-untyped-def]
    ingest([articles_dir], settings, store=store)
    before = ranking(store, QUESTIONS[0], 8)
    for table in ("lex_postings", "lex_segments", "lex_dead"):
        store.db.execute(f"DELETE FROM {table}")  # as a catalog written before the postings existed
    store.close()

    reopened = Store(settings, embeddings)
    assert lexicon.in_step(reopened.db)
    assert before and ranking(reopened, QUESTIONS[0], 8) == before
    reopened.close()


def test_a_word_fts5_splits_into_a_phrase_is_searched_by_fts5(articles_dir: Path, settings, store) -> None:  # type: ignore[no-untyped-def]
    ingest([articles_dir], settings, store=store)
    assert lexicon.words_to_terms(store.db, ["rationing", "reservoirs"]) == ["ration", "reservoir"]
    assert lexicon.words_to_terms(store.db, ["water_rationing"]) is None
    # Words seen before come from memory, new ones from the tokenizer, each in its place.
    terms = lexicon.words_to_terms(store.db, ["reservoirs", "councils", "rationing"])
    assert terms == ["reservoir", "council", "ration"]
    assert lexicon.words_to_terms(store.db, ["rationing", "water_rationing"]) is None
    found = store.lexical_search("water_rationing", 3)
    assert found and [(p.chunk_id, p.score) for p in found] == fts_ranking(store, "water_rationing", 3)


def test_what_searches_keep_in_memory_follows_a_write(articles_dir: Path, settings, store) -> None:  # type: ignore[no-untyped-def]
    """The passages and outlets kept between searches are dropped when an article's title and outlet change."""
    ingest([articles_dir], settings, store=store)
    question = "Greystone Reservoir water rationing"
    courier, gazette = Filters(sources=("The Harbor Courier",)), Filters(sources=("The Harbor Gazette",))
    before = store.lexical_search(question, 3, courier)
    assert before and before[0].source == "The Harbor Courier"
    assert not store.lexical_search(question, 3, gazette)  # no such outlet yet
    path = articles_dir / "harbor-water-rationing.txt"
    text = path.read_text().replace("Source: The Harbor Courier", "Source: The Harbor Gazette")
    path.write_text(text.replace("Title: Harbor City council votes", "Title: Harbor City votes"))
    ingest([path], settings, store=store)

    after = {p.chunk_id: p for p in store.lexical_search(question, 3)}
    assert before[0].chunk_id in after  # the same text: the same passage
    assert after[before[0].chunk_id].source == "The Harbor Gazette"
    assert after[before[0].chunk_id].title.startswith("Harbor City votes")
    assert all(p.doc_id != before[0].doc_id for p in store.lexical_search(question, 3, courier))
    found = store.lexical_search(question, 3, gazette)
    assert found and found[0].chunk_id == before[0].chunk_id
