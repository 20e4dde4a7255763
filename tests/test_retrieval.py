"""Retrieval: benchmark metrics on hand-made cases, filters, outlet-aware decomposition, search and eval commands."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from assistant.cli import app
from assistant.evaluation import Query, RetrievalScores, evaluate_retrieval, hit_ranks, load_queries
from assistant.retrieval import by_article, feedback_words
from assistant.types import Filters, Passage

runner = CliRunner()


def passage(cid: str, text: str, doc: str = "d") -> Passage:
    return Passage(cid, doc, 0, "T", "S", "2024-01-01", "p", 0, len(text), text)


def test_a_fact_split_across_two_passages_is_not_a_hit() -> None:
    fact = "The council approved the budget on Monday."
    passages = [passage("a", "News. The council approved"), passage("b", "the budget on Monday. More.")]
    assert hit_ranks([fact], passages) == [None]
    # Spaces and newlines do not matter, as in the benchmark's own script.
    assert hit_ranks([fact], [passage("c", "x"), passage("d", "The council\napproved the  budget on Monday.")]) == [2]


def test_mrr_of_a_hit_at_rank_three_is_one_third() -> None:
    scores = RetrievalScores()
    scores.add([3, None], [100, 200])
    result = scores.to_dict()
    assert result["mrr@10"] == pytest.approx(1 / 3, abs=1e-4)
    assert result["hits@4"] == 1.0 and result["hits@10"] == 1.0
    assert result["fact_recall@10"] == 0.5 and result["all_evidence@10"] == 0.0
    assert result["mean_passage_tokens"] == 150.0
    scores.add([11], [10])  # rank 11 is outside the top 10
    assert scores.to_dict()["hits@10"] == 0.5


def test_null_queries_are_excluded() -> None:
    queries = [Query("1", "q one", facts=("alpha beta",)), Query("2", "q two", question_type="null_query")]
    report = evaluate_retrieval(queries, lambda q: [passage("a", "alpha beta gamma")], lambda ts: [1] * len(ts))
    assert report.to_dict()["n"] == 1 and report.to_dict()["hits@4"] == 1.0


def test_feedback_words_are_shared_by_the_best_passages_and_new_to_the_question() -> None:
    texts = [
        "The Sarn River ceasefire was signed in Velmora by envoys of both sides.",
        "Envoys met again in Velmora on Tuesday; the ceasefire holds.",
        "Grain prices rose 12 percent in 2024, traders in Velmora said.",
    ]
    # Shared by 2+ passages, not asked about, no stopwords or numbers; most shared first, then first seen.
    assert feedback_words("When was the ceasefire signed?", texts) == ["velmora", "envoys"]
    assert feedback_words("When was the ceasefire signed?", texts[:1]) == []


def test_by_article_deals_from_the_best_articles() -> None:
    a = [passage("a1", "x", "A"), passage("a2", "x", "A"), passage("a3", "x", "A")]
    b = [passage("b1", "x", "B"), passage("a1", "x", "A")]
    # Article A is voted first by both rankings; each article gives its best passage before any gives a second.
    assert [p.chunk_id for p in by_article([a, b], 3)] == ["a1", "b1", "a2"]
    assert [p.chunk_id for p in by_article([a, b], 3, articles=1)] == ["a1", "a2", "a3"]
    # Places left after the best articles run out go to the best passages elsewhere.
    c = [passage("c1", "x", "C")]
    assert [p.chunk_id for p in by_article([[a[0]], b[:1], c], 3, articles=2)] == ["a1", "b1", "c1"]


def test_filters_limit_both_rankings(sample_retriever) -> None:  # type: ignore[no-untyped-def]
    only_wire = Filters(sources=("Continental Wire Service",))
    found = sample_retriever.search("ceasefire prisoners", 10, only_wire)
    assert found and {p.source for p in found} == {"Continental Wire Service"}
    march = Filters(since=20240301, until=20240319)
    found = sample_retriever.search("ceasefire", 10, march)
    assert found and all("2024-03-01" <= p.published_at[:10] <= "2024-03-19" for p in found)


@pytest.mark.parametrize(
    "filters",
    [
        Filters(sources=("Continental Wire Service",)),
        Filters(sources=("Continental Wire Service", "The Harbor Courier")),  # scored outlet by outlet, then merged
        Filters(since=20240301, until=20240319),
        Filters(until=20000101),
        # An outlet's passages are kept whole, and the dates applied to them.
        Filters(sources=("The Harbor Courier",), since=20240310, until=20240316),
        Filters(sources=("Continental Wire Service", "The Northern Dispatch"), since=20240319),
    ],
)
def test_filtered_dense_search_over_catalog_vectors_matches_chroma_where(  # type: ignore[no-untyped-def]
    sample_retriever, filters: Filters, monkeypatch: pytest.MonkeyPatch
) -> None:
    store = sample_retriever.store
    vector = store.embeddings.embed_query("ceasefire prisoners exchange")
    listed = store.dense_search(vector, 8, filters)  # the sample's filters allow fewer passages than the limit
    monkeypatch.setattr("index.store._LISTED_FILTER_MAX", 1)  # forces Chroma's `where`
    by_where = store.dense_search(vector, 8, filters)
    assert [p.chunk_id for p in listed] == [p.chunk_id for p in by_where]
    assert [p.score for p in listed] == pytest.approx([p.score for p in by_where], abs=1e-3)  # float16 copies
    if filters.until == 20000101:
        assert listed == []
    else:
        assert listed and all(not filters.sources or p.source in filters.sources for p in listed)
        assert all(filters.since <= int(p.published_at[:10].replace("-", "")) for p in listed)


def test_question_naming_two_outlets_gets_passages_from_both(sample_retriever) -> None:  # type: ignore[no-untyped-def]
    question = "How did The Northern Dispatch describe the ceasefire, and what did Continental Wire Service report?"
    parts = sample_retriever.parts(question, Filters())
    assert {s for part in parts for s in part.filters.sources} == {"The Northern Dispatch", "Continental Wire Service"}
    found = sample_retriever.search(question, 4)
    assert {"The Northern Dispatch", "Continental Wire Service"} <= {p.source for p in found}


def test_a_clause_that_only_attributes_names_the_outlet_of_the_clause_before_it(sample_retriever) -> None:  # type: ignore[no-untyped-def]
    question = (
        "Which side agreed to withdraw its artillery from the Sarn, according to The Northern Dispatch, and how many "
        "prisoners were exchanged in the first week, as reported by Continental Wire Service?"
    )
    parts = {part.text: part.filters.sources for part in sample_retriever.parts(question, Filters())}
    assert "as reported by Continental Wire Service" not in parts  # nothing to search for but the outlet
    assert parts["Which side agreed to withdraw its artillery from the Sarn"] == ("The Northern Dispatch",)
    assert parts["how many prisoners were exchanged in the first week"] == ("Continental Wire Service",)
    assert len(parts) == 3
    assert parts[question] == ("Continental Wire Service", "The Northern Dispatch")
    # A clause with words of its own is searched, within the outlet it names.
    question = "Did Continental Wire Service report the prisoner exchange, and what did The Northern Dispatch say?"
    parts = {part.text: part.filters.sources for part in sample_retriever.parts(question, Filters())}
    assert parts["what did The Northern Dispatch say"] == ("The Northern Dispatch",)


def test_dates_in_a_question_steer_its_parts(sample_retriever) -> None:  # type: ignore[no-untyped-def]
    question = (
        "After The Northern Dispatch reported the ceasefire on March 18, 2024, what did Continental Wire Service "
        "say about the prisoners after March 19, 2024?"
    )
    parts = {part.text: part.filters for part in sample_retriever.parts(question, Filters())}
    # The comma inside "March 18, 2024" does not split the clause from its date.
    dispatch = parts["After The Northern Dispatch reported the ceasefire on March 18, 2024"]
    assert dispatch == Filters(sources=("The Northern Dispatch",), since=20240317, until=20240319)
    wire = parts["what did Continental Wire Service say about the prisoners after March 19, 2024"]
    assert wire == Filters(sources=("Continental Wire Service",), since=20240319, until=0)  # from March 20, less a day
    # Nor does the comma of a number.
    question = "Did The Northern Dispatch count 1,200 prisoners, and how many did Continental Wire Service count?"
    assert "Did The Northern Dispatch count 1,200 prisoners" in [
        p.text for p in sample_retriever.parts(question, Filters())
    ]


def test_a_time_named_in_a_one_clause_question_steers_retrieval(sample_retriever) -> None:  # type: ignore[no-untyped-def]
    month = "Which city closed its schools in June 2024?"
    assert Filters(since=20240531, until=20240701) in [
        part.filters for part in sample_retriever.parts(month, Filters())
    ]
    # Two outlets reported the ceasefire, two days apart: the day named picks the article.
    for day in ("2024-03-18", "2024-03-20"):
        question = f"What was reported about the Kolmar and Esteria ceasefire on March {day[-2:]}, 2024?"
        assert sample_retriever.search(question, 4)[0].published_at.startswith(day)


@pytest.mark.parametrize("k", [1, 4])  # at k=1 both outlets have more matches than are kept
def test_ranking_within_several_outlets_at_once_matches_ranking_within_each(  # type: ignore[no-untyped-def]
    sample_retriever, k: int
) -> None:
    store = sample_retriever.store
    both = Filters(sources=("The Northern Dispatch", "Continental Wire Service"), since=20240101)
    query = "ceasefire talks prisoners exchange"
    by_source = store.lexical_search_by_source(query, k, both)
    assert list(by_source) == list(both.sources)
    for source in both.sources:
        alone = store.lexical_search(query, k, Filters(sources=(source,), since=20240101))
        assert alone and [(p.chunk_id, p.score) for p in by_source[source]] == [(p.chunk_id, p.score) for p in alone]
    vector = store.embeddings.embed_query(query)
    together, *each = sample_retriever._ranked_each_source(query, vector, both, k)
    assert [p.chunk_id for p in together] == [p.chunk_id for p in sample_retriever._ranked(query, vector, both, k)]
    for source, ranking in zip(both.sources, each, strict=True):
        alone = sample_retriever._ranked(query, vector, Filters(sources=(source,), since=20240101), k)
        assert [p.chunk_id for p in ranking] == [p.chunk_id for p in alone]
    assert store.lexical_search_by_source("the of and", k, both) == {source: [] for source in both.sources}


def test_search_command(sample_home: Path, tmp_path: Path) -> None:
    result = runner.invoke(
        app, ["search", "heatwave schools closed", "-k", "3", "--json", "--index-dir", str(sample_home)]
    )
    assert result.exit_code == 0, result.output
    rows = json.loads(result.stdout)
    assert [r["rank"] for r in rows] == [1, 2, 3]
    assert set(rows[0]) == {"rank", "doc_id", "title", "source", "published_at", "start", "end", "text", "score"}
    assert rows[0]["source"] == "The Riverside Standard"

    questions = tmp_path / "q.jsonl"
    questions.write_text('{"id": "a", "question": "rail strike pay"}\n{"id": "b", "question": "apricot frost"}\n')
    result = runner.invoke(app, ["search", "--queries", str(questions), "-k", "2", "--index-dir", str(sample_home)])
    lines = [json.loads(line) for line in result.stdout.splitlines()]
    assert [line["id"] for line in lines] == ["a", "b"] and all(len(line["passages"]) == 2 for line in lines)

    result = runner.invoke(app, ["search", "x", "--mode", "fuzzy", "--index-dir", str(sample_home)])
    assert result.exit_code == 2


def test_eval_retrieval_command(sample_home: Path, tmp_path: Path) -> None:
    questions = tmp_path / "q.jsonl"
    records = [
        {"id": "1", "question": "How many schools did the heatwave shut?", "question_type": "inference_query",
         "evidence": [{"doc_id": "x", "fact": "Forty-six public schools in the Riverside district closed early"}]},
        {"id": "2", "question": "Who won the cup?", "question_type": "null_query", "evidence": []},
    ]  # fmt: skip
    questions.write_text("\n".join(json.dumps(r) for r in records))
    assert len(load_queries(questions)) == 2
    result = runner.invoke(
        app, ["eval", "retrieval", "--queries", str(questions), "--json", "--index-dir", str(sample_home)]
    )
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    assert data["n"] == 1 and data["hits@10"] == 1.0  # the heatwave article has that sentence
    assert set(data) >= {"hits@4", "hits@10", "mrr@10", "fact_recall@10", "all_evidence@10", "mean_passage_tokens"}
    assert set(data["by_type"]) == {"inference_query"}


def test_only_passages_close_to_the_question_or_naming_what_it_names_are_shown(sample_retriever) -> None:  # type: ignore[no-untyped-def]
    question = "How many prisoners will Kolmar and Esteria exchange under the ceasefire?"
    passages = sample_retriever.search(question)
    shown = sample_retriever.worth_showing(question, passages)
    assert shown[0] == passages[0] and len(shown) < len(passages)  # ten articles: the top 5 hold unrelated ones
    for p in passages[1:]:
        close = p.score >= sample_retriever.settings.retrieval.show_score
        named = any(name in f"{p.title} {p.text}" for name in ("Kolmar", "Esteria"))
        assert (p in shown) == (close or named), (p.title, p.score)
    assert any("Kolmar" in p.text for p in shown)
    sample_retriever.settings.retrieval.show_score = -1.0
    assert sample_retriever.worth_showing(question, passages) == passages
