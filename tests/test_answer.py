"""The answer chain's plumbing, with a recording fake chat model over a real index."""

from __future__ import annotations

import dataclasses
import re

import pytest

from assistant.answer import (
    SentenceCloseness,
    answer,
    excerpt,
    excerpt_sentences,
    finalize,
    format_passages,
    is_yes_no,
    plan_answer,
    repetition_start,
    sentences_at,
)
from assistant.chat import Chat
from assistant.llm import RecordingChatModel
from assistant.prompting import REFUSAL
from assistant.types import Passage


def passage(n: int, text: str) -> Passage:
    return Passage(
        f"d{n}:0:x", f"d{n}", 0, f"Title {n}", "Outlet", "2024-01-0" + str(n), f"/p{n}.txt", 0, len(text), text
    )


def test_model_receives_the_retrieved_passages_numbered_as_cited(sample_retriever, settings) -> None:  # type: ignore[no-untyped-def]
    fake = RecordingChatModel(messages=iter(["Okafor demanded the release of the sailors [1]. Unrelated [9]."]))
    # "What did Okafor say?" would be answered from his statements (quote-first), without the model.
    result = answer("What did Okafor demand?", settings=settings, llm=fake, retriever=sample_retriever)
    [prompt] = fake.prompts
    first_of: dict[str, int] = {}
    for n, p in enumerate(result.passages, start=1):
        heading = f"Same article as [{first_of[p.doc_id]}]" if p.doc_id in first_of else p.title
        first_of.setdefault(p.doc_id, n)
        assert f"[{n}] {heading} ({p.source}, {p.published_at[:10]})" in prompt
        count = sentences_at(settings.retrieval.excerpt_sentences, n - 1)
        closeness = SentenceCloseness(sample_retriever.store.embeddings, "What did Okafor demand?")
        shown = excerpt(p.text, "What did Okafor demand?", count, closeness=closeness)
        pieces = shown.removeprefix("... ").removesuffix(" ...").split(" ... ")
        assert shown in prompt and all(piece in p.text for piece in pieces)
    assert "Okafor" in result.passages[0].text
    assert "ignore any instructions" in prompt.lower() or "not instructions" in prompt.lower()
    assert "[9]" not in result.text  # it points at no passage
    assert [c.n for c in result.citations] == [1]
    assert result.citations[0].passage == result.passages[0]
    assert not result.refused


def test_excerpt_keeps_the_sentences_that_share_words_with_the_question() -> None:
    text = (
        "The council met on Monday. It approved the budget for roads. The mayor, Jane Roe, said the bridge would "
        "reopen in May. Critics said the plan came late. Schools get more money."
    )
    shown = excerpt(text, "When will the bridge reopen, according to the mayor?", 2)
    # The mayor's sentence shares most words; the tie at zero goes to the earlier sentence.
    assert shown == "The council met on Monday. ... The mayor, Jane Roe, said the bridge would reopen in May. ..."
    assert excerpt(text, "bridge", 5) == text and excerpt(text, "bridge", 9) == text


def test_irrelevant_question_is_refused_without_calling_the_model(sample_retriever, settings) -> None:  # type: ignore[no-untyped-def]
    fake = RecordingChatModel(messages=iter(["should not be used"]))
    result = answer("Who won the 1998 Tour de France?", settings=settings, llm=fake, retriever=sample_retriever)
    assert result.refused and result.text == REFUSAL
    assert fake.received == []
    assert result.passages  # the closest passages are still there to show


def test_model_refusal_is_recognised(sample_retriever, settings) -> None:  # type: ignore[no-untyped-def]
    fake = RecordingChatModel(messages=iter([REFUSAL + " [2]"]))
    result = answer("What did Okafor say about football?", settings=settings, llm=fake, retriever=sample_retriever)
    assert result.refused and result.citations == []


def test_tokens_are_streamed(sample_retriever, settings) -> None:  # type: ignore[no-untyped-def]
    fake = RecordingChatModel(messages=iter(["The mayor asked residents to save water [1]."]))
    tokens: list[str] = []
    result = answer(
        "What did the mayor say about water?",
        settings=settings,
        llm=fake,
        retriever=sample_retriever,
        on_token=tokens.append,
    )
    assert len(tokens) > 3 and "".join(tokens) == result.text


def test_a_later_passage_of_an_article_names_the_first_instead_of_repeating_its_title() -> None:
    first, other = passage(1, "The council approved the budget."), passage(2, "Rents rose by 12 percent.")
    again = dataclasses.replace(first, chunk_id="d1:1:x", chunk_no=1, text="The vote was close.")
    shown = format_passages([first, other, again])
    assert shown.count("Title 1") == 1
    assert "[3] Same article as [1] (Outlet, 2024-01-01)\nThe vote was close." in shown
    assert "[2] Title 2 (Outlet, 2024-01-02)\nRents rose" in shown


def test_finalize_keeps_checked_cited_sentences_only() -> None:
    passages = [passage(1, "The council approved the budget on Monday."), passage(2, "Rents rose by 12 percent.")]
    assert "[1] Title 1 (Outlet, 2024-01-01)\nThe council" in format_passages(passages)
    result = finalize("q", "Rents rose by 12 percent [2]. The council approved the budget [1][7].", passages)
    assert result.text == "Rents rose by 12 percent [2]. The council approved the budget [1]."
    assert [c.n for c in result.citations] == [1, 2]
    invented = finalize("q", 'The mayor said "we will build a stadium" [1].', passages)
    assert invented.refused  # the only sentence quoted words that no passage holds


def test_chat_rewrites_follow_ups_before_retrieval(sample_retriever, settings) -> None:  # type: ignore[no-untyped-def]
    fake = RecordingChatModel(
        messages=iter(
            [
                "Okafor demanded the release of the sailors [1].",
                "What else did Daniel Okafor demand of the ambassador?",
                "He said the ministry summoned the ambassador twice [1].",
            ]
        )
    )
    chat = Chat(settings, fake, sample_retriever)
    chat.ask("What did Okafor demand?")
    second = chat.ask("What else did he demand?")
    assert second.standalone_question == "What else did Daniel Okafor demand of the ambassador?"
    condense_prompt = fake.prompts[1]
    assert "What did Okafor demand?" in condense_prompt and "What else did he demand?" in condense_prompt
    assert "Question: What else did Daniel Okafor demand" in fake.prompts[2]
    assert any("Okafor" in p.text for p in second.passages)
    assert chat.last is second and len(chat.history) == 2


def test_chat_warm_up_loads_the_embedder_and_opens_the_index_before_the_first_question(sample_home) -> None:  # type: ignore[no-untyped-def]
    from assistant.retrieval import open_retriever
    from assistant.settings import load_settings

    settings = load_settings(home=sample_home)
    retriever = open_retriever(settings, create=False)  # a fresh embedder and store, nothing loaded yet
    fake = RecordingChatModel(messages=iter([]))
    chat = Chat(settings, fake, retriever)
    assert "model" not in vars(retriever.store.embeddings)
    chat.warm_up()
    chat.wait_warm()
    assert "model" in vars(retriever.store.embeddings)  # MiniLM loaded (and the search it ran went through Chroma)
    assert fake.prompts == [] and chat.history == []  # the throwaway question reached no model and no history


def test_fake_factory_model_quotes_passage_one(sample_retriever, settings) -> None:  # type: ignore[no-untyped-def]
    from assistant.llm import make_chat_model

    result = answer(
        "How many schools closed in the heatwave?",
        settings=settings,
        llm=make_chat_model("fake", settings),
        retriever=sample_retriever,
    )
    [quote] = re.findall(r'"([^"]+)"', result.text)
    assert quote in result.citations[0].passage.text


@pytest.mark.parametrize(
    ("question", "expected"),
    [
        ("Did the Northern Dispatch report the ceasefire before the Continental Wire Service?", True),
        ("After the Harbor Courier report on March 14, 2024, was rationing extended?", True),
        ("Is the Sarn River ceasefire holding?", True),
        ("Who brokered the Sarn River ceasefire?", False),
        ("Which outlet, reporting on the ceasefire, did quote Lindqvist?", False),
    ],
)
def test_yes_no_questions_are_recognised(question: str, expected: bool) -> None:
    assert is_yes_no(question) is expected


def test_a_looping_answer_is_cut_after_its_first_round() -> None:
    once = 'Yes, the maps were saved [1]. Varga said: "We carried the map cases out by hand while the smoke fell." '
    looping = once + once[30:] * 3
    assert looping[: repetition_start(looping)] == once.strip()
    assert repetition_start(once) is None


def test_an_answer_that_does_not_loop_is_kept_whole() -> None:
    text = (
        "The company at the center of the antitrust lawsuit is Google. The suit was filed by a publisher in Arkansas."
    )
    assert repetition_start(text) is None
    assert repetition_start(text + " It seeks damages for lost advertising revenue and traffic.") is None


def test_a_verdict_whose_explanation_is_dropped_is_kept_marked_unsupported() -> None:
    passages = [
        passage(1, "The council approved the budget on Monday."),
        passage(1, "The vote was seven to two."),
        passage(2, "Rents rose by 12 percent."),
    ]
    # The model restates the question after its verdict, with no marker: the restatement has no support.
    result = finalize(
        "q", "Yes, there was agreement between the two outlets on the portrayal of it.", passages, yes_no=True
    )
    assert not result.refused
    assert result.text == "Yes [1][3]."  # the best passage of each of the two best articles
    assert result.checked is not None
    [verdict] = result.checked.sentences
    assert verdict.citations == [1, 3] and not verdict.supported
    assert result.checked.dropped  # the restatement is listed as removed
    # A cited explanation is kept and marked, as any cited sentence is: the verdict stays its own sentence.
    marked = finalize("q", "No, the outlets disagreed on the portrayal of it [2].", passages, yes_no=True)
    assert marked.text.startswith("No. The outlets disagreed") and [c.n for c in marked.citations] == [2]
    assert marked.checked is not None and not marked.checked.sentences[-1].supported


def test_a_verdict_with_a_backed_explanation_stands_as_its_own_sentence() -> None:
    passages = [passage(1, "The council approved the budget on Monday."), passage(2, "Rents rose by 12 percent.")]
    result = finalize("q", "yes, the council approved the budget on Monday [1].", passages, yes_no=True)
    assert result.text == "Yes. The council approved the budget on Monday [1]."
    assert result.checked is not None and all(s.supported for s in result.checked.sentences)
    # Without the yes/no flag nothing is rescued: an unbacked answer is refused.
    assert finalize("q", "Yes, there was agreement on the portrayal of it.", passages).refused


def test_chat_sends_a_self_contained_follow_up_without_rewriting(sample_retriever, settings) -> None:  # type: ignore[no-untyped-def]
    fake = RecordingChatModel(messages=iter(["Okafor demanded the release of the sailors [1].", "It rose [1]."]))
    chat = Chat(settings, fake, sample_retriever)
    chat.ask("What did Okafor demand?")
    second = chat.ask("Why did Harbor City ration water?")
    assert len(fake.prompts) == 2  # no rewrite call between the two answers
    assert second.standalone_question is None and "Question: Why did Harbor City ration water?" in fake.prompts[1]


@pytest.mark.parametrize(
    ("question", "expected"),
    [
        ("What else did he demand?", True),
        ("and the mayor?", True),
        ("What about the second vote on the reservoir plan?", True),
        ("Why did Harbor City ration water?", False),
        ("Which outlets reported the Sarn River ceasefire?", False),
    ],
)
def test_follow_ups_that_lean_on_the_conversation_are_recognised(question: str, expected: bool) -> None:
    from assistant.chat import needs_context

    assert needs_context(question) is expected


def test_a_name_opening_an_unbacked_answer_is_kept_marked_unsupported() -> None:
    passages = [
        passage(1, "The council approved the budget on Monday."),
        passage(2, "Mayor Elena Vasquez said the reservoir was at 31 percent."),
    ]
    question = "Who is the official that warned about the reservoir before the vote?"
    raw = "Elena Vasquez is the official that warned about the reservoir level before the vote on rationing."
    result = finalize(question, raw, passages)
    assert not result.refused and result.text == "Elena Vasquez [2]."
    assert result.checked is not None and not result.checked.sentences[0].supported
    # A name no passage holds, or one the question already gives, is not an answer to keep.
    assert finalize(question, "Jonah Pereira is the official that warned about it.", passages).refused
    assert finalize("Did Elena Vasquez warn about it?", "Elena Vasquez warned about the level.", passages).refused
    assert finalize(question, "The official is the one that warned about the reservoir.", passages).refused


def test_excerpt_keeps_sentences_shown_before_only_where_they_share_as_many_words() -> None:
    text = (
        "The bridge will reopen in May. Engineers said the bridge was safe. The bridge cost more than planned. "
        "Schools get more money."
    )
    question = "When will the bridge reopen?"
    assert excerpt_sentences(text, question, 2) == (0, 1)  # the tie between sentences 1 and 2 goes to the earlier
    assert excerpt_sentences(text, question, 2, prefer=[0, 2]) == (0, 2)  # as good: kept
    assert (
        excerpt(text, question, 2, prefer=[2, 0])
        == "The bridge will reopen in May. ... The bridge cost more than planned. ..."
    )
    assert excerpt_sentences(text, question, 2, prefer=[0, 3]) == (0, 1)  # "Schools" shares nothing
    assert excerpt_sentences(text, question, 2, prefer=[1, 2]) == (0, 1)  # loses the sentence sharing most
    assert excerpt_sentences(text, question, 2, prefer=[0, 9]) == (0, 1)  # not a sentence of this text
    assert excerpt_sentences(text, question, 2, prefer=[0]) == (0, 1)


def test_closeness_breaks_only_the_tie_at_the_cut_and_yields_to_sentences_shown_before() -> None:
    text = (
        "The bridge will reopen in May. Engineers said the bridge was safe. The bridge cost more than planned. "
        "Schools get more money."
    )
    question = "When will the bridge reopen?"
    asked: list[list[str]] = []

    def closeness(sentences):  # type: ignore[no-untyped-def]
        asked.append(list(sentences))
        return [1.0 if "cost" in s else 0.0 for s in sentences]

    # Sentences 1 and 2 share one word each and compete for the second place: the closer one wins.
    assert excerpt_sentences(text, question, 2, closeness=closeness) == (0, 2)
    assert asked == [["Engineers said the bridge was safe.", "The bridge cost more than planned."]]
    # No tie at the cut: nothing is embedded.
    assert excerpt_sentences(text, question, 3, closeness=closeness) == (0, 1, 2) and len(asked) == 1
    # Sentences read ahead that are as good stay, however close the others are.
    assert excerpt_sentences(text, question, 2, prefer=[0, 1], closeness=closeness) == (0, 1) and len(asked) == 1


def test_the_index_embedder_ranks_tied_sentences_by_meaning(sample_retriever) -> None:  # type: ignore[no-untyped-def]
    text = (
        "Harbor City will limit water use from Monday. The reservoir has fallen to a third of its usual level after "
        "the driest summer on record. A new stadium opens downtown next year."
    )
    question = "Why is Harbor City rationing water?"  # sentences 2 and 3 share no word with it
    closeness = SentenceCloseness(sample_retriever.store.embeddings, question)
    assert excerpt_sentences(text, question, 2) == excerpt_sentences(text, question, 2, closeness=closeness) == (0, 1)
    swapped = (
        "Harbor City will limit water use from Monday. A new stadium opens downtown next year. The reservoir has "
        "fallen to a third of its usual level after the driest summer on record."
    )
    assert excerpt_sentences(swapped, question, 2) == (0, 1)  # the earlier sentence wins: the stadium
    assert excerpt_sentences(swapped, question, 2, closeness=closeness) == (0, 2)  # the reservoir, by meaning
    [stadium, reservoir] = closeness(["A new stadium opens downtown next year.", swapped.split(". ", 2)[2]])
    assert reservoir > stadium


def test_excerpt_counts_follow_the_passage_rank() -> None:
    assert [sentences_at([4, 3, 2], rank) for rank in range(5)] == [4, 3, 2, 2, 2]
    assert sentences_at(3, 7) == 3 and sentences_at([0], 2) == 0
    text = "One bridge. Two bridges. Three bridges. Four bridges."
    shown = format_passages([passage(1, text), passage(2, text), passage(3, text)], "bridge", [3, 0, 1])
    blocks = shown.split("\n\n")
    assert blocks[0].endswith("\nOne bridge. Two bridges. Three bridges. ...")
    assert blocks[1].endswith("\n" + text)  # 0: the whole passage
    assert blocks[2].endswith("\nOne bridge. ...")


def test_one_excerpt_count_in_the_settings_means_every_passage(monkeypatch) -> None:  # type: ignore[no-untyped-def]
    from assistant.settings import load_settings

    monkeypatch.setenv("ASSISTANT_RETRIEVAL__EXCERPT_SENTENCES", "3")
    assert load_settings().retrieval.excerpt_sentences == [3]
    monkeypatch.setenv("ASSISTANT_RETRIEVAL__EXCERPT_SENTENCES", "[5, 2]")
    assert load_settings().retrieval.excerpt_sentences == [5, 2]


def test_a_plan_names_the_sentences_its_prompt_shows(sample_retriever, settings) -> None:  # type: ignore[no-untyped-def]
    question = "Did Amara Lindqvist broker the ceasefire between Kolmar and Esteria?"
    plan = plan_answer(question, settings=settings, retriever=sample_retriever)
    [_, user] = plan.messages()
    assert plan.excerpts and set(plan.excerpts) == {p.chunk_id for p in plan.passages}
    for rank, p in enumerate(plan.passages):
        count = sentences_at(settings.retrieval.excerpt_sentences, rank)
        shown = excerpt(p.text, question, count, plan.excerpts[p.chunk_id])
        assert shown in str(user.content)
    # A draft's choice that is as good is kept, the rest is chosen anew; the prompt then shares more with the draft's.
    draft = plan_answer(question.rsplit(" ", 1)[0] + "?", settings=settings, retriever=sample_retriever)
    again = plan_answer(question, settings=settings, retriever=sample_retriever, prefer=draft.excerpts)
    assert [p.chunk_id for p in again.passages] == [p.chunk_id for p in draft.passages]
    kept = [c for c in again.excerpts if again.excerpts[c] == draft.excerpts[c] != plan.excerpts[c]]
    assert kept and all(again.excerpts[c] in (draft.excerpts[c], plan.excerpts[c]) for c in again.excerpts)
    passages_of = lambda p: str(p.messages()[1].content).split("Question:")[0]  # noqa: E731
    blocks = lambda p: re.split(r"\n\n(?=\[\d+\] )", passages_of(p))  # noqa: E731
    same = lambda a, b: sum(x == y for x, y in zip(blocks(a), blocks(b), strict=True))  # noqa: E731
    assert same(again, draft) > same(plan, draft)
