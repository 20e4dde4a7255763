"""Quote extraction and speaker attribution: one test per pattern and per trap, on small invented snippets."""

from __future__ import annotations

import importlib.util
import json
import sys
from pathlib import Path
from types import ModuleType

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from index.quotes import Statement, extract_statements, speaker_matches

ROOT = Path(__file__).resolve().parent.parent
DATA = ROOT / "tests" / "data" / "quotes"
SEED = ROOT.parent / "shared" / "eval" / "seed" / "dawn-2023-06-27-pakistan-demarche.txt"


def by_text(statements: list[Statement], fragment: str) -> Statement:
    """The one statement whose text contains `fragment`."""
    hits = [s for s in statements if fragment in s.text]
    assert len(hits) == 1, f"{fragment!r} in {[s.text for s in statements]}"
    return hits[0]


def assert_sliced(text: str, statements: list[Statement]) -> None:
    for s in statements:
        assert text[s.start : s.end] == s.text


# --- quote marks ------------------------------------------------------------------------------------------------


def test_straight_double_quotes_with_trailing_pronoun() -> None:
    text = 'Mayor Olga Brandt opened the bridge.\n"It took nine years and three budgets," she said.'
    s = by_text(extract_statements(text), "nine years")
    assert (s.speaker, s.role, s.kind) == ("Olga Brandt", "Mayor", "direct")
    assert s.text == "It took nine years and three budgets"
    assert_sliced(text, [s])


def test_curly_double_quotes_with_named_attribution() -> None:
    text = "“We will appeal the ruling tomorrow,” lawyer Imran Sethi told reporters."
    s = by_text(extract_statements(text), "appeal")
    assert (s.speaker, s.kind, s.text) == ("Imran Sethi", "direct", "We will appeal the ruling tomorrow")


def test_single_curly_quotes_as_quotation_marks() -> None:
    text = "‘The harbour will reopen on Friday,’ said Agnes Holm, the port director."
    s = by_text(extract_statements(text), "harbour")
    assert (s.speaker, s.kind, s.text) == ("Agnes Holm", "direct", "The harbour will reopen on Friday")
    assert s.role == "the port director"


def test_apostrophes_are_not_quote_marks() -> None:
    text = "‘The drivers’ union and the city’s council agree on this,’ said Tomas Reiner."
    s = by_text(extract_statements(text), "drivers’ union")
    assert s.text == "The drivers’ union and the city’s council agree on this"
    assert s.speaker == "Tomas Reiner"


def test_nested_quote_stays_inside_the_outer_quote() -> None:
    text = "‘They sent a memo titled “Next steps” and nothing else,’ the nurse said."
    statements = extract_statements(text)
    assert len(statements) == 1
    assert statements[0].text == "They sent a memo titled “Next steps” and nothing else"


# --- patterns -----------------------------------------------------------------------------------------------------


def test_mixed_partial_quote_inside_reported_speech_is_one_reported_statement() -> None:
    text = "Senator Ruth Adair said the agency had been “slow, careless and secretive” about the leak."
    statements = extract_statements(text)
    assert len(statements) == 1
    s = statements[0]
    assert (s.speaker, s.kind) == ("Ruth Adair", "reported")
    assert s.text == "the agency had been “slow, careless and secretive” about the leak"


def test_colon_lead_in_then_quote() -> None:
    text = "Asked about the delay, engineer Pavel Novak said: “The steel arrived late. Nothing else went wrong.”"
    s = by_text(extract_statements(text), "steel")
    assert (s.speaker, s.kind) == ("Pavel Novak", "direct")
    assert s.text == "The steel arrived late. Nothing else went wrong."


def test_quote_paragraph_continues_previous_speaker() -> None:
    text = (
        "Coach Dario Venn said the team was tired.\n"
        "“We played four matches in nine days. Nobody can do that and stay sharp.”"
    )
    s = by_text(extract_statements(text), "four matches")
    assert (s.speaker, s.kind) == ("Dario Venn", "direct")


def test_quote_introduced_by_colon_in_previous_paragraph() -> None:
    text = "Relief worker Hina Qazi described the camp:\n“There is one tap for two hundred families.”"
    s = by_text(extract_statements(text), "one tap")
    assert (s.speaker, s.kind) == ("Hina Qazi", "direct")


def test_interrupted_quote_gives_two_direct_statements() -> None:
    text = "“The vote is final,” said Karim Osei, “and we will not hold another.”"
    statements = extract_statements(text)
    assert [s.text for s in statements] == ["The vote is final", "and we will not hold another."]
    assert {s.speaker for s in statements} == {"Karim Osei"}


def test_reported_said_that() -> None:
    text = "Finance Secretary Lucia Ferraro said that the deficit would narrow next year."
    s = by_text(extract_statements(text), "deficit")
    assert (s.speaker, s.role, s.kind) == ("Lucia Ferraro", "Finance Secretary", "reported")
    assert s.text == "the deficit would narrow next year"


def test_reported_said_without_that_after_adverbials() -> None:
    text = "The Port Authority said in a statement on Monday the berth would stay closed."
    s = by_text(extract_statements(text), "berth")
    assert (s.speaker, s.text) == ("Port Authority", "the berth would stay closed")


def test_according_to_leading_and_trailing() -> None:
    text = (
        "According to the Harbour Board, repairs will cost Rs2 billion.\n"
        "The work will take a year, according to engineer Saad Mirza."
    )
    statements = extract_statements(text)
    assert by_text(statements, "repairs").speaker == "Harbour Board"
    assert by_text(statements, "repairs").text == "repairs will cost Rs2 billion"
    assert by_text(statements, "a year").speaker == "Saad Mirza"
    assert by_text(statements, "a year").text == "The work will take a year"


def test_told_reporters_skips_the_listener() -> None:
    text = "Police chief Anil Varma told reporters at the station that two suspects had been arrested."
    s = by_text(extract_statements(text), "suspects")
    assert s.text == "two suspects had been arrested"
    assert s.speaker == "Anil Varma"


@pytest.mark.parametrize(
    ("sentence", "expected"),
    [
        ("Governor Lena Pohl warned that the reservoir was almost empty.", "the reservoir was almost empty"),
        ("Governor Lena Pohl urged farmers to plant less rice.", "farmers to plant less rice"),
        ("Governor Lena Pohl commended the rescue teams for their speed.", "the rescue teams for their speed"),
        ("Governor Lena Pohl called on the army to help.", "the army to help"),
        ("Governor Lena Pohl noted that rainfall was half the average.", "rainfall was half the average"),
        ("Governor Lena Pohl added that schools would stay open.", "schools would stay open"),
    ],
)
def test_reporting_verbs(sentence: str, expected: str) -> None:
    (s,) = extract_statements(sentence)
    assert (s.speaker, s.kind, s.text) == ("Lena Pohl", "reported", expected)


def test_trailing_attribution_clause_comes_first() -> None:
    text = "The talks will resume next week, the ministry said on Tuesday."
    (s,) = extract_statements(text)
    assert (s.speaker, s.text) == ("ministry", "The talks will resume next week")


def test_inverted_attribution_with_appositive() -> None:
    text = "“The water rose in ten minutes,” said Bilal Rana, a shopkeeper."
    (s,) = extract_statements(text)
    assert (s.speaker, s.role) == ("Bilal Rana", "a shopkeeper")


def test_adding_that_and_conjoined_verbs_split_statements() -> None:
    text = (
        "Union leader Farida Bux said the strike would continue, adding that talks had failed.\n"
        "She urged members to stay calm and called for a fresh ballot."
    )
    texts = [s.text for s in extract_statements(text)]
    assert texts == [
        "the strike would continue",
        "talks had failed",
        "members to stay calm",
        "a fresh ballot",
    ]


# --- follow-ups ---------------------------------------------------------------------------------------------------


def test_pronouns_follow_gender() -> None:
    text = (
        "Opposition leader Nadia Rehman said the bill was rushed.\n"
        "Interior Minister Javed Alvi said it had been debated for a month.\n"
        "“The minister has not read his own bill,” she said.\n"
        "“I wrote half of it,” he replied."
    )
    statements = extract_statements(text)
    assert by_text(statements, "own bill").speaker == "Nadia Rehman"
    assert by_text(statements, "half of it").speaker == "Javed Alvi"


def test_pronoun_prefers_the_person_the_last_sentence_was_about() -> None:
    text = (
        "Councillor Mark Ellery said the budget was fair.\n"
        "Councillor Tom Birch, whose ward lost its library, voted against it.\n"
        "“My voters were promised a library for life,” he said."
    )
    assert by_text(extract_statements(text), "library for life").speaker == "Tom Birch"


def test_descriptor_follow_ups_resolve_by_role() -> None:
    text = (
        "Foreign Minister Laila Omari met Trade Secretary Owen Hart on Monday.\n"
        "The minister said the visit had been productive.\n"
        "The British official also praised the new customs deal."
    )
    statements = extract_statements(text)
    assert by_text(statements, "productive").speaker == "Laila Omari"


def test_descriptor_from_relative_clause_role() -> None:
    text = (
        "Sana Mirza, who chairs the teachers’ union, said pay talks had stalled.\n"
        "The union chair added that a strike was possible."
    )
    assert by_text(extract_statements(text), "strike").speaker == "Sana Mirza"


def test_surname_and_honorific_follow_ups_use_the_full_name() -> None:
    text = "Economist Rafael Ortiz said growth would slow.\nMr Ortiz said exports were the weak spot."
    assert {s.speaker for s in extract_statements(text)} == {"Rafael Ortiz"}


def test_acronym_refers_back_to_organisation() -> None:
    text = (
        "The National Highway Authority (NHA) said the motorway would open in May.\n"
        "According to the NHA, tolls will not rise."
    )
    assert {s.speaker for s in extract_statements(text)} == {"National Highway Authority"}


# --- traps --------------------------------------------------------------------------------------------------------


def test_spokesperson_speaking_for_a_minister_is_the_spokesperson() -> None:
    text = (
        "A spokesman for Health Minister Zainab Qureshi said the minister would visit the hospital.\n"
        "Ms Qureshi's spokeswoman, Amna Riaz, said the visit was private."
    )
    statements = extract_statements(text)
    assert by_text(statements, "would visit").speaker == "a spokesman for Health Minister Zainab Qureshi"
    assert by_text(statements, "private").speaker == "Amna Riaz"
    assert not any(s.speaker == "Zainab Qureshi" for s in statements)
    assert not speaker_matches("Zainab Qureshi", "a spokesman for Health Minister Zainab Qureshi")


def test_organisations_as_speakers() -> None:
    text = (
        "The envoy was summoned on Monday, said a press release issued by the Foreign Office.\n"
        "The Foreign Office said the meeting lasted an hour."
    )
    statements = extract_statements(text)
    assert {s.speaker for s in statements} == {"Foreign Office"}


def test_scare_quotes_and_titles_are_not_statements() -> None:
    text = (
        "The ministry launched its ‘clean streets’ drive and screened the film “The Long Road” in schools.\n"
        "Critics call the scheme a “mutual” effort."
    )
    assert extract_statements(text) == []


def test_nominal_relative_quote_is_not_a_statement() -> None:
    text = "The army launched what it called “a limited operation” near the border."
    assert extract_statements(text) == []


def test_anonymity_clause_is_not_a_statement() -> None:
    text = "An official, who asked not to be named, said the files were missing."
    (s,) = extract_statements(text)
    assert (s.speaker, s.text) == ("an official", "the files were missing")


def test_passive_speech_verb_is_not_an_attribution() -> None:
    text = "The ambassador was called to the ministry and told to explain the remarks."
    assert extract_statements(text) == []


def test_evaluative_verb_needs_a_quotation() -> None:
    text = "The party rejected the plan.\nThe party rejected the plan as “a betrayal of farmers”."
    (s,) = extract_statements(text)
    assert s.text == "the plan as “a betrayal of farmers”"


def test_listener_after_quote_is_not_the_speaker() -> None:
    text = "“We lost everything in one night,” farmer Yusuf Dar told the Valley Times."
    (s,) = extract_statements(text)
    assert s.speaker == "Yusuf Dar"


def test_saying_goodbye_is_not_a_statement() -> None:
    assert extract_statements("The family said goodbye to the soldiers at the gate.") == []


def test_singular_nouns_ending_in_s_are_not_groups() -> None:
    text = "According to his analysis, the dam can hold another metre of water."
    assert all(s.speaker != "his analysis" for s in extract_statements(text))


def test_joint_subject_does_not_leak_into_the_role() -> None:
    text = "Singers Ana Ruiz and Leo Park said the tour would end in June."
    (s,) = extract_statements(text)
    assert "and" not in s.role.split()


def test_quoted_question_with_inverted_asked() -> None:
    text = "“Who pays for the repairs?” asked Nora Quist, a tenant."
    (s,) = extract_statements(text)
    assert (s.speaker, s.text) == ("Nora Quist", "Who pays for the repairs?")


def test_request_for_anonymity_is_not_a_statement() -> None:
    text = "“I saw the fire start,” a guard said, asking that his name not be used."
    (s,) = extract_statements(text)
    assert s.kind == "direct"


def test_surname_links_to_a_name_seen_with_an_unlisted_role() -> None:
    text = "The club signed goalkeeper Ivo Brandl on Monday.\n“I am very happy here,” Brandl said."
    (s,) = extract_statements(text)
    assert s.speaker == "Ivo Brandl"


def test_outlet_with_article_is_not_a_person() -> None:
    text = (
        "The singer spoke about the move, according to the Evening Ledger.\n"
        "“I needed a quieter city,” she told a radio station."
    )
    statements = extract_statements(text)
    assert by_text(statements, "spoke about").speaker == "Evening Ledger"
    assert not any("quieter city" in s.text and s.speaker == "Evening Ledger" for s in statements)


def test_clause_openers_are_not_subjects() -> None:
    text = "It's also worth pointing out that the stadium was half empty.\nYou've said the club is in crisis."
    assert extract_statements(text) == []


# --- speaker_matches ----------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("query", "speaker"),
    [
        ("Miller", "Mathew Miller"),
        ("Matthew Miller", "Mathew Miller"),
        ("mathew miller", "Mathew Miller"),
        ("Mohammed Ali", "Muhammad Ali"),
        ("FO", "Foreign Office"),
        ("the Foreign Office", "FO"),
        ("a senior official", "a senior official at the ministry"),
        ("Dr Sana Mir", "Sana Mir"),
    ],
)
def test_speaker_matches_tolerates_variants(query: str, speaker: str) -> None:
    assert speaker_matches(query, speaker)


@pytest.mark.parametrize(
    ("query", "speaker"),
    [
        ("Miller", "Mathew Hill"),
        ("Sarah Miller", "Mathew Miller"),
        ("Khan", "Kamran Bhatti"),
        ("", "Mathew Miller"),
        ("Bilal Shah", "Bilal Shah's spokesman"),
    ],
)
def test_speaker_matches_rejects_other_speakers(query: str, speaker: str) -> None:
    assert not speaker_matches(query, speaker)


# --- properties and data ------------------------------------------------------------------------------------------

_PIECES = st.sampled_from(
    [
        "said",
        "told reporters",
        "he",
        "she",
        "the minister",
        "Minister Ali Raza",
        "according to",
        "“",
        "”",
        "‘",
        "’",
        '"',
        "'",
        ",",
        ".",
        ":",
        "\n",
        "that",
        "who",
        "(FO)",
        "added",
        "urged",
        "a spokesman for",
        "The",
        "workers’",
    ]
)


@settings(max_examples=300, deadline=None)
@given(st.lists(st.one_of(_PIECES, st.text(max_size=12)), max_size=40).map(" ".join))
def test_any_text_gives_statements_that_slice_back(text: str) -> None:
    statements = extract_statements(text)
    for s in statements:
        assert text[s.start : s.end] == s.text
        assert s.kind in {"direct", "reported"}
        assert s.speaker


@settings(max_examples=200, deadline=None)
@given(st.text())
def test_arbitrary_unicode_never_crashes(text: str) -> None:
    assert_sliced(text, extract_statements(text))


def test_labels_locate_exactly_once() -> None:
    for labels in (DATA / "labels.jsonl", DATA / "heldout" / "labels.jsonl", DATA / "fresh" / "labels.jsonl"):
        articles = labels.parent / "articles"
        for line in labels.read_text(encoding="utf-8").splitlines():
            row = json.loads(line)
            text = (articles / row["article"]).read_text(encoding="utf-8")
            assert text.count(row["text"]) == 1, row
            assert row["kind"] in {"direct", "reported"}


def _load_bench() -> ModuleType:
    spec = importlib.util.spec_from_file_location("quotes_eval", ROOT / "bench" / "quotes_eval.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up while the class is built
    spec.loader.exec_module(module)
    return module


def test_labelled_sets_meet_attribution_targets() -> None:
    bench = _load_bench()
    for name, path in bench.SETS.items():
        overall = bench.score(*bench.load_gold(path))["overall"]
        assert overall["attribution_precision"] >= 0.95, name
        assert overall["attribution_recall"] >= 0.90, name


@pytest.mark.skipif(not SEED.exists(), reason="the seed article lives outside the repo, in ../shared/eval/seed")
def test_seed_article_yields_millers_four_statements() -> None:
    result = _load_bench().seed_check(SEED)
    assert result["passed"], result["problems"]
