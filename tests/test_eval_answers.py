"""Answer metrics on hand-made cases, sampling, and `eval answers` over the invented ferry index with the fake model."""

from __future__ import annotations

import json
from pathlib import Path

from typer.testing import CliRunner

from assistant.cli import app
from assistant.evaluation import (
    Query,
    audit_quotes,
    citations_valid,
    cites_gold_article,
    evaluate_answers,
    lenient_correct,
    normalize_answer,
    sample_queries,
    strict_correct,
    verdict,
)
from assistant.prompting import REFUSAL
from assistant.types import Answer, Citation, Passage
from assistant.verify import CheckedAnswer, CheckedSentence

runner = CliRunner()

PASSAGE_1 = 'The harbour board said it is "not safe to sail" and that the ferry\'s shaft had cracked in two places.'
PASSAGE_2 = "Tickets will be refunded in full, the company said on Friday."


def passage(n: int, text: str, doc: str = "", start: int = 0) -> Passage:
    return Passage(f"c{n}", doc or f"d{n}", 0, f"T{n}", "Outlet", "2019-05-03", "p", start, start + len(text), text)


def answered(text: str, sentences: list[tuple[str, list[int]]], passages: list[Passage]) -> Answer:
    """An answer as `finalize` would return it: checked sentences with their citations."""
    cited = sorted({n for _, ns in sentences for n in ns})
    checked = CheckedAnswer(
        text=text, sentences=[CheckedSentence(t, ns, True) for t, ns in sentences], dropped=[], invented_quotes=0
    )
    return Answer("q", text, False, [Citation(n, passages[n - 1]) for n in cited], passages, checked=checked)


def test_yes_no_variants_are_judged_by_the_answers_verdict() -> None:
    assert normalize_answer("TRUE.") == normalize_answer("Correct!") == "yes"
    assert normalize_answer("False") == normalize_answer("incorrect") == "no"
    assert strict_correct("Yes", "Yes, both outlets say the ferry was halted [1].")
    assert strict_correct("True", "Yes, that is what the Courier reported [2].")
    assert strict_correct("no", "No. The barge carried sixty [1].")
    assert strict_correct("False", "That is incorrect: it sailed [1].")
    assert strict_correct("no", "It is not true that the ferry sailed [1].")
    assert not strict_correct("Yes", "No, the Courier did not say so [1].")
    assert not strict_correct("yes", "The Courier reported a cracked shaft [1].")  # no verdict at all
    assert verdict("Yes [1]. No other outlet disagreed.") == "yes"


def test_other_golds_must_be_contained_strict_fails_where_lenient_passes() -> None:
    gold = "Idris Calloway"
    assert strict_correct(gold, "It was idris calloway’s decision [2].")
    assert not strict_correct(gold, "Calloway, the port director, halted it [2].")
    assert lenient_correct(gold, "Calloway, the port director, halted it [2].")
    assert not strict_correct("Olund", "Olundsen said so.")  # words, not substrings
    assert not lenient_correct(gold, "The port director halted it.")
    assert not strict_correct("", "anything")


def test_quote_audit_counts_invented_quotes_per_sentence() -> None:
    passages = [passage(1, PASSAGE_1), passage(2, PASSAGE_2)]
    verbatim = "The board said “the ferry’s shaft had cracked in two places” [1]."  # ’ where the passage has '
    invented = 'The company promised "refunds within a single week" [2].'
    misplaced = 'Tickets "will be refunded in full" [1].'  # in passage 2, but the sentence cites passage 1
    short = 'It was "not safe" [2].'  # two words: not counted
    nested = "The board called it “not safe to sail” [1]."  # the passage has straight quotes around nothing here
    text = " ".join((verbatim, invented, misplaced, short, nested))
    answer = answered(text, [(verbatim, [1]), (invented, [2]), (misplaced, [1]), (short, [2]), (nested, [1])], passages)
    assert audit_quotes(answer) == (4, 2)


def test_quote_first_answer_quotes_may_span_two_passages_of_one_article() -> None:
    article = "Calloway said: We will not sail a vessel we cannot trust. The crossing stays closed until June."
    first = passage(1, article[:60], doc="a", start=0)
    second = passage(2, article[50:], doc="a", start=50)  # overlaps the first by ten characters
    assert first.text[50:] == second.text[:10]
    text = "- Calloway said: “We will not sail a vessel we cannot trust. The crossing stays closed” [1][2]"
    answer = Answer("q", text, False, [Citation(1, first), Citation(2, second)], [first, second])
    assert audit_quotes(answer) == (1, 0)
    only_first = Answer("q", text, False, [Citation(1, first)], [first, second])
    assert audit_quotes(only_first) == (1, 1)


def test_citation_validity() -> None:
    passages = [passage(1, PASSAGE_1), passage(2, PASSAGE_2)]
    good = answered("Refunds in full [2].", [("Refunds in full [2].", [2])], passages)
    assert citations_valid(good)
    out_of_range = Answer("q", "Refunds [3].", False, [Citation(3, passage(3, "x"))], passages)
    assert not citations_valid(out_of_range)
    renumbered = Answer("q", "Refunds [1].", False, [Citation(1, passages[1])], passages)  # [1] is not passage 1
    assert not citations_valid(renumbered)
    unlisted = Answer("q", "Refunds [2]. Shaft [1].", False, [Citation(2, passages[1])], passages)
    assert not citations_valid(unlisted)
    assert not citations_valid(Answer("q", "Refunds.", False, [], passages))  # an answer must cite
    assert cites_gold_article(good, ["d2", "d9"]) and not cites_gold_article(good, ["d1"])


def test_sampling_is_deterministic_and_draws_n_of_each_kind() -> None:
    queries = [Query(str(i), f"q{i}", "Yes", "null_query" if i % 3 == 0 else "inference_query", (
        () if i % 3 == 0 else ("fact",))) for i in range(30)]  # fmt: skip
    first = sample_queries(queries, 4, seed=7)
    assert first == sample_queries(queries, 4, seed=7)
    assert sum(q.is_null for q in first) == 4 and sum(not q.is_null for q in first) == 4
    assert [int(q.id) for q in first] == sorted(int(q.id) for q in first)  # file order kept
    assert any(sample_queries(queries, 4, seed=s) != first for s in range(3))
    everything = sample_queries(queries, 50, seed=1)
    assert everything == queries  # fewer exist than asked for: all of them


def test_report_counts_refusals_and_accuracy_over_the_right_questions() -> None:
    passages = [passage(1, PASSAGE_1)]
    queries = [
        Query("1", "Why was it halted?", "cracked shaft", "inference_query", ("f",), ("d1",)),
        Query("2", "Who refunded?", "the company", "inference_query", ("f",), ("d2",)),
        Query("3", "Who won the cup?", "Insufficient information.", "null_query"),
    ]
    replies = {
        "Why was it halted?": answered("It had a cracked shaft [1].", [("It had a cracked shaft [1].", [1])], passages),
        "Who refunded?": Answer("Who refunded?", REFUSAL, True, passages=passages),
        "Who won the cup?": Answer("Who won the cup?", REFUSAL, True),
    }  # fmt: skip
    seen: list[str] = []
    report, records = evaluate_answers(queries, replies.__getitem__, on_progress=lambda r: seen.append(r.id))
    data = report.to_dict()
    assert seen == ["1", "2", "3"] and [r.id for r in records] == seen
    assert data["n"] == 3 and data["answerable"] == 2 and data["null"] == 1
    assert data["accuracy"] == 0.5 and data["accuracy_answered"] == 1.0
    assert data["false_refusal_rate"] == 0.5 and data["refusal_rate_null"] == 1.0
    assert data["citation_validity"] == 1.0 and data["citing_gold_article"] == 1.0
    assert data["by_type"]["null_query"]["accuracy"] is None  # nothing to count, not 0


def test_eval_answers_command(ferry_home: Path, tmp_path: Path) -> None:
    questions = tmp_path / "q.jsonl"
    rows = [
        {"id": "w1", "question": "Why was the Kestrel Line ferry halted?", "answer": "cracked propeller shaft",
         "question_type": "inference_query",
         "evidence": [{"doc_id": "courier-2019-05-03-kestrel-ferry", "fact": "found a cracked propeller shaft"}]},
        {"id": "w2", "question": "Who won the Tarnfield marathon in 2012?", "answer": "Insufficient information.",
         "question_type": "null_query", "evidence": []},
        {"id": "w3", "question": "Did Halvard Coast Radio report that the ferry would return in June?",
         "answer": "Yes", "question_type": "comparison_query",
         "evidence": [{"doc_id": "radio-2019-05-17-kestrel-return-date", "fact": "will return"}]},
    ]  # fmt: skip
    questions.write_text("".join(json.dumps(r) + "\n" for r in rows))
    records_file = tmp_path / "records.jsonl"
    args = ["eval", "answers", "--queries", str(questions), "--model", "fake", "--index-dir", str(ferry_home)]
    result = runner.invoke(app, [*args, "--json", "--records", str(records_file)])
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    rates = {"accuracy", "accuracy_lenient", "refusal_rate_null", "false_refusal_rate", "citation_validity"}
    assert set(data) == {"n", "by_type", *rates, "answerable", "null", "accuracy_answered", "citing_gold_article",
                         "quotes", "invented_quotes", "seconds_per_answer"}  # fmt: skip
    assert all(0.0 <= data[key] <= 1.0 for key in rates)
    assert set(data["by_type"]) == {"inference_query", "null_query", "comparison_query"}

    records = [json.loads(line) for line in records_file.read_text().splitlines()]
    assert [r["id"] for r in records] == ["w1", "w2", "w3"]
    answerable = [r for r in records if not r["null"]]
    assert data["n"] == 3 and data["answerable"] == 2 and data["null"] == 1
    assert data["accuracy"] == sum(r["strict"] for r in answerable) / 2
    assert data["accuracy_lenient"] == sum(r["lenient"] for r in answerable) / 2
    assert data["false_refusal_rate"] == sum(r["refused"] for r in answerable) / 2
    assert data["refusal_rate_null"] == 1.0 and records[1]["refused"] and records[1]["citations"] == []
    # The fake model quotes passage [1] word for word: cited, valid and never invented.
    assert data["citation_validity"] == 1.0 and data["invented_quotes"] == 0
    assert data["quotes"] == sum(r["quotes"] for r in records) == 2
    first = records[0]
    assert first["citations"] == [1] and first["cited_docs"] == ["courier-2019-05-03-kestrel-ferry"]
    assert first["strict"] and "cracked propeller shaft" in first["answer"]
    assert data["citing_gold_article"] == 1.0

    sampled = runner.invoke(app, [*args, "--json", "--sample", "1", "--seed", "3"])
    assert sampled.exit_code == 0, sampled.output
    assert json.loads(sampled.stdout)["null"] == 1 and json.loads(sampled.stdout)["answerable"] == 1
    table = runner.invoke(app, [*args, "--limit", "1"])
    assert table.exit_code == 0 and "inference" in table.stdout and "comparison" not in table.stdout

    missing = runner.invoke(app, ["eval", "answers", "--queries", str(tmp_path / "none.jsonl")])
    assert missing.exit_code == 1 and missing.stderr.startswith("Error:") and "cannot read queries" in missing.stderr
