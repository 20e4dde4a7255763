"""The citation and quote checker: markers, verbatim quotations, repair, support and sentence splitting."""

from __future__ import annotations

import re

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from assistant.types import Passage
from assistant.verify import (
    CheckedAnswer,
    check_answer,
    cited_numbers,
    find_verbatim,
    quoted_spans,
)

REFUSAL = "The indexed articles do not cover this question."

COUNCIL = (
    "Harbor City Council voted 7-2 on Tuesday to approve a $45 million bond for repairing the old sea wall. "
    'Mayor Lena Ortiz said the vote was "a promise kept to every family on the waterfront." '
    "Construction is expected to begin in March and last 18 months."
)
JOBS = (
    "Unemployment in the region fell to 4.1 percent in June, down from 4.6 percent a year earlier, the state labor "
    "office reported. Analysts credited new jobs at the Riverside logistics park, which employs 1,200 people. "
    'Economist Priya Nair said: "The park changed everything. It was the turning point."'
)
STRIKE = (
    "The strike at Dunmore Steel ended after workers accepted a 21 percent raise over three years. "
    "Union leader Sam Okafor told reporters: 'We held the line, and it paid off.'"
)


def passage(text: str, n: int, title: str = "", source: str = "The Harbor Gazette") -> Passage:
    return Passage(
        chunk_id=f"doc{n}:0",
        doc_id=f"doc{n}",
        chunk_no=0,
        title=title,
        source=source,
        published_at="2024-05-14",
        path=f"/archive/doc{n}.txt",
        start=0,
        end=len(text),
        text=text,
    )


PASSAGES = [
    passage(COUNCIL, 1, "Council backs sea wall bond"),
    passage(JOBS, 2, "Regional jobless rate falls"),
    passage(STRIKE, 3, "Dunmore strike ends"),
]


def only(answer: CheckedAnswer) -> str:
    assert len(answer.sentences) == 1, answer
    return answer.sentences[0].text


# --- quotations --------------------------------------------------------------------------------------------------


def test_altered_quote_is_caught_and_repaired_to_the_verbatim_span() -> None:
    text = 'Mayor Lena Ortiz called the vote "a promise kept to all families on the waterfront" [1].'
    checked = check_answer(text, PASSAGES)
    assert checked.invented_quotes == 1
    assert checked.repaired_quotes == 1
    assert checked.text == 'Mayor Lena Ortiz called the vote "a promise kept to every family on the waterfront" [1].'
    assert checked.sentences[0].supported
    assert checked.dropped == []


def test_wholly_invented_quote_drops_its_sentence() -> None:
    text = (
        "The council approved a $45 million bond for the sea wall [1]. "
        'Ortiz said the wall "will outlast every one of us" [1].'
    )
    checked = check_answer(text, PASSAGES)
    assert checked.invented_quotes == 1
    assert checked.text == "The council approved a $45 million bond for the sea wall [1]."
    assert len(checked.dropped) == 1
    assert "will outlast" in checked.dropped[0]
    assert "quotation not found" in checked.dropped[0]


def test_quote_from_an_uncited_passage_is_not_verbatim_for_this_sentence() -> None:
    text = 'Okafor said "We held the line, and it paid off" [1].'  # the words are in passage 3, not 1
    checked = check_answer(text, PASSAGES)
    assert checked.invented_quotes == 1
    assert checked.text == ""


def test_curly_and_straight_quotes_and_whitespace_still_count_as_verbatim() -> None:
    text = (
        "Ortiz called it “a promise  kept to every\nfamily on the waterfront.” [1] "
        "Okafor said ‘We held the line, and it paid off.’ [3] "
        'He added "We held the line" [3].'
    )
    checked = check_answer(text, PASSAGES)
    assert checked.invented_quotes == 0
    assert len(checked.sentences) == 3
    assert checked.text == text  # nothing to repair, so nothing changes


def test_short_quotes_are_checked_but_may_come_from_anywhere_in_the_passage() -> None:
    kept = check_answer('Ortiz spoke of a "promise" to residents near the "waterfront" [1].', PASSAGES)
    assert kept.invented_quotes == 0 and len(kept.sentences) == 1
    dropped = check_answer('Ortiz spoke of a "betrayal" [1].', PASSAGES)
    assert dropped.invented_quotes == 1 and dropped.sentences == []


def test_quote_with_an_ellipsis_checks_each_part() -> None:
    ok = check_answer('Ortiz called it "a promise kept ... on the waterfront" [1].', PASSAGES)
    assert ok.invented_quotes == 0 and len(ok.sentences) == 1
    bad = check_answer('Ortiz called it "a promise kept ... to the whole nation forever" [1].', PASSAGES)
    assert bad.invented_quotes == 1 and bad.sentences == []


def test_marker_inside_a_quote_moves_after_it() -> None:
    checked = check_answer('Okafor said: "We held the line [3]."', PASSAGES)
    assert checked.invented_quotes == 0
    assert only(checked) == 'Okafor said: "We held the line." [3]'


def test_unpaired_quotation_mark_is_removed() -> None:
    checked = check_answer('Workers accepted a raise over "three years [3].', PASSAGES)
    assert only(checked) == "Workers accepted a raise over three years [3]."


def test_apostrophes_are_not_quotations() -> None:
    text = "The strike at Dunmore Steel's plant ended after the workers' vote on a 21 percent raise [3]."
    assert quoted_spans(text) == []
    checked = check_answer(text, PASSAGES)
    assert checked.invented_quotes == 0 and checked.sentences[0].supported


def test_find_verbatim_matches_up_to_whitespace_and_quote_style_only() -> None:
    source = 'She said: "We  held\nthe line," and left.'
    assert find_verbatim("“We held the line,”", source) == (10, 30)
    assert find_verbatim("'We held the line,'", source) == (10, 30)
    assert find_verbatim("We held the line", source) == (11, 28)
    assert find_verbatim("we held the line", source) is None  # case is not forgiven
    assert find_verbatim("We held the lines", source) is None
    assert find_verbatim("eld the", source) is None  # whole words only
    assert find_verbatim("   ", source) is None


# --- markers -----------------------------------------------------------------------------------------------------


def test_out_of_range_markers_are_removed() -> None:
    text = "Unemployment fell to 4.1 percent in June [2][4]. Workers won a raise [0]. Analysts credited jobs [2, 7]."
    checked = check_answer(text, PASSAGES)
    assert checked.text.startswith("Unemployment fell to 4.1 percent in June [2]. ")
    assert "Analysts credited jobs [2]." in checked.text
    assert "[0]" not in checked.text and "[4]" not in checked.text and "7" not in checked.text
    # The middle sentence lost its only marker; it is kept citing the one passage that holds its words.
    assert [s.citations for s in checked.sentences if not s.inherited] == [[2], [3], [2]]
    assert "Workers won a raise [3]." in checked.text


@pytest.mark.parametrize(
    ("text", "numbers"),
    [
        ("A [1][2].", [1, 2]),
        ("A [1, 2]. B [2,3].", [1, 2, 3]),
        ("A [3] and B [1; 2].", [3, 1, 2]),
        ("A [2-4].", [2, 3, 4]),
        ("A [ 1 ]. No markers [x] or [].", [1]),
    ],
)
def test_cited_numbers_parses_marker_styles(text: str, numbers: list[int]) -> None:
    assert cited_numbers(text) == numbers


def test_markers_after_the_full_stop_belong_to_the_sentence_before() -> None:
    checked = check_answer("Unemployment fell to 4.1 percent. [2] Workers accepted a 21 percent raise. [3]", PASSAGES)
    assert [(s.text, s.citations) for s in checked.sentences] == [
        ("Unemployment fell to 4.1 percent. [2]", [2]),
        ("Workers accepted a 21 percent raise. [3]", [3]),
    ]


# --- support -----------------------------------------------------------------------------------------------------


def test_supported_paraphrase_passes() -> None:
    checked = check_answer("The council voted to approve a $45 million bond to repair the sea wall [1].", PASSAGES)
    assert checked.sentences[0].supported
    assert checked.sentences[0].reason == ""


def test_unsupported_sentence_is_flagged_and_can_be_dropped() -> None:
    text = "The governor ordered an inquiry into fishing permits at the marina [1]."
    flagged = check_answer(text, PASSAGES)
    assert not flagged.sentences[0].supported
    assert "low support" in flagged.sentences[0].reason
    assert flagged.text == text
    dropped = check_answer(text, PASSAGES, drop_unsupported=True)
    assert dropped.sentences == [] and dropped.text == ""
    assert "low support" in dropped.dropped[0]


def test_number_mismatch_is_flagged() -> None:
    checked = check_answer("Workers at Dunmore Steel accepted a 12 percent raise [3].", PASSAGES)
    assert not checked.sentences[0].supported
    assert "12%" in checked.sentences[0].reason


@pytest.mark.parametrize(
    "text",
    [
        "Workers at Dunmore Steel accepted a 21% raise over three years [3].",
        "Workers at Dunmore Steel accepted a 21 per cent raise [3].",
        "Unemployment fell to 4.10 percent from 4.6 percent [2].",
        "The council approved a bond worth $45,000,000 [1].",
        "The Riverside logistics park employs 1200 people [2].",
        "Construction should last eighteen months [1].",
        "The Harbor Gazette reported the vote on May 14, 2024 [1].",
    ],
)
def test_equivalent_numbers_are_supported(text: str) -> None:
    assert check_answer(text, PASSAGES).sentences[0].supported


# --- uncited sentences, layout, refusal --------------------------------------------------------------------------


def test_uncited_sentences_borrow_a_neighbours_citations_or_are_dropped() -> None:
    text = (
        "Here is what the articles say:\n\n"
        "Harbor City Council approved a $45 million bond [1]. "
        "The bond pays for repairing the old sea wall. "
        "The mayor also promised free parking downtown."
    )
    checked = check_answer(text, PASSAGES)
    assert [(s.text, s.citations, s.inherited) for s in checked.sentences] == [
        ("Here is what the articles say:", [], False),
        ("Harbor City Council approved a $45 million bond [1].", [1], False),
        ("The bond pays for repairing the old sea wall.", [1], True),
    ]
    assert len(checked.dropped) == 1 and "free parking" in checked.dropped[0]


def test_connective_sentence_goes_when_nothing_cited_is_left() -> None:
    checked = check_answer('Here is what the articles say:\n- Ortiz said "we will rebuild" [1].', PASSAGES)
    assert checked.text == ""
    assert checked.sentences == []


def test_bullets_and_paragraphs_keep_their_layout() -> None:
    text = (
        "Key developments:\n"
        "- Unemployment fell to 4.1 percent in June [2].\n"
        '- Ortiz said "nothing will stop us" [1].\n'
        "- Workers accepted a 21 percent raise [3].\n\n"
        "Both stories ran in May [1][3]."
    )
    checked = check_answer(text, PASSAGES)
    assert checked.text == (
        "Key developments:\n"
        "- Unemployment fell to 4.1 percent in June [2].\n"
        "- Workers accepted a 21 percent raise [3].\n\n"
        "Both stories ran in May [1][3]."
    )


def test_refusal_is_returned_unchanged() -> None:
    checked = check_answer(REFUSAL, PASSAGES, refusal=REFUSAL)
    assert checked.text == REFUSAL
    assert checked.dropped == [] and checked.invented_quotes == 0
    assert all(s.supported for s in checked.sentences)


def test_sentence_splitting_respects_abbreviations_decimals_and_quotes() -> None:
    text = (
        "Mr. Okafor told reporters in the U.S. capital that the raise was 2.5 times the offer [3]. "
        'Nair said: "The park changed everything. It was the turning point." [2] '
        "Jobs came to the U.S. [2] Analysts credited new jobs [2]."
    )
    sentences = [s.text for s in check_answer(text, PASSAGES).sentences]
    assert sentences == [
        "Mr. Okafor told reporters in the U.S. capital that the raise was 2.5 times the offer [3].",
        'Nair said: "The park changed everything. It was the turning point." [2]',
        "Jobs came to the U.S. [2]",
        "Analysts credited new jobs [2].",
    ]


# --- properties --------------------------------------------------------------------------------------------------

ELLIPSIS = re.compile(r"\[\s*(?:\.\s*){3}\]|\[\s*…\s*\]|(?:\.\s*){3,}|…")
PASSAGE_WORDS = sorted(set(re.findall(r"\S+", COUNCIL + " " + JOBS + " " + STRIKE)))
PIECES = st.one_of(
    st.sampled_from(PASSAGE_WORDS),
    st.sampled_from(['"', "“", "”", "‘", "’", "'", "«", "»", "...", "…", ".", ",", ":", "?", "\n", "\n\n", "- ", "#"]),
    st.sampled_from(["[1]", "[2]", "[3]", "[0]", "[4]", "[1, 3]", "[2][3]", "[1-3]", "[99]"]),
    st.sampled_from(["Mr.", "U.S.", "2.5", "12 percent", "21%", "the", "said", "invented"]),
    st.text(max_size=6),
)
ANSWERS = st.lists(PIECES, max_size=40).flatmap(
    lambda pieces: st.sampled_from([" ", ""]).map(lambda sep: sep.join(pieces))
)


def assert_quotes_are_verbatim(checked: CheckedAnswer) -> None:
    for sentence in checked.sentences:
        cited = [PASSAGES[n - 1].text for n in sentence.citations]
        for start, end in quoted_spans(sentence.text):
            for part in ELLIPSIS.split(sentence.text[start:end]):
                part = part.strip()
                if not re.search(r"\w", part):
                    continue
                core = part.rstrip(".,;:").rstrip()
                assert any(
                    find_verbatim(part, text) is not None or (core and find_verbatim(core, text) is not None)
                    for text in cited
                ), (sentence, part)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(ANSWERS)
def test_output_never_holds_a_quote_that_is_not_verbatim(text: str) -> None:
    checked = check_answer(text, PASSAGES)
    assert_quotes_are_verbatim(checked)
    for sentence in checked.sentences:
        assert all(1 <= n <= len(PASSAGES) for n in cited_numbers(sentence.text))
        assert sentence.text in checked.text


@settings(max_examples=200, deadline=None)
@given(st.text(max_size=300), st.integers(min_value=0, max_value=3))
def test_never_crashes_on_arbitrary_text(text: str, shown: int) -> None:
    checked = check_answer(text, PASSAGES[:shown])
    assert isinstance(checked.text, str)
    assert all(1 <= n <= shown for n in cited_numbers(checked.text))
