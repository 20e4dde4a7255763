"""The chunker keeps sentences whole, fits the embedder's word-piece limit and slices back exactly."""

from __future__ import annotations

import itertools

from hypothesis import given, settings
from hypothesis import strategies as st

from index.chunking import chunk_text, header_for, sentence_spans


def words(texts):  # type: ignore[no-untyped-def]
    return [len(t.split()) for t in texts]


def test_sentences_survive_abbreviations_and_quotes() -> None:
    text = "Mr. Obi met U.S. officials at 9 a.m. on Monday. “We are ready,” he said. Talks resume on Friday."
    spans = [text[s:e] for s, e in sentence_spans(text)]
    assert spans == [
        "Mr. Obi met U.S. officials at 9 a.m. on Monday.",
        "“We are ready,” he said.",
        "Talks resume on Friday.",
    ]


def test_chunks_fit_the_real_tokenizer_with_header(embeddings) -> None:  # type: ignore[no-untyped-def]
    sentence = "The harbour authority said the new cranes would double container traffic by 2026. "
    text = (sentence * 60).strip()
    header = header_for("Harbour expansion approved after long review", "The Coast Gazette", "2024-05-01")
    chunks = chunk_text(text, header=header, count_tokens=embeddings.count_tokens, max_tokens=256)
    assert len(chunks) > 3
    for chunk in chunks:
        assert text[chunk.start : chunk.end] == chunk.text
        assert embeddings.count_tokens([header + chunk.text])[0] + 2 <= 256
        assert chunk.text.endswith(".")  # whole sentences
    assert [c.chunk_no for c in chunks] == list(range(len(chunks)))


def test_overlap_repeats_the_last_sentence() -> None:
    text = " ".join(f"Sentence number {i} is here." for i in range(12))
    chunks = chunk_text(text, header="", count_tokens=words, max_tokens=2 + 15, overlap_sentences=1)
    for a, b in itertools.pairwise(chunks):
        assert b.start < a.end  # the next chunk starts inside the previous one
    assert chunks[-1].end == len(text)


def test_a_sentence_longer_than_the_budget_is_cut_at_words() -> None:
    text = " ".join(["word"] * 100) + "."
    chunks = chunk_text(text, header="", count_tokens=words, max_tokens=2 + 30, overlap_sentences=0)
    assert len(chunks) == 4
    assert all(len(c.text.split()) <= 30 for c in chunks)
    assert " ".join(c.text for c in chunks) == text


@settings(max_examples=200, deadline=None)
@given(
    text=st.text(alphabet=st.characters(codec="utf-8", exclude_categories=("Cs",)), max_size=2000),
    budget=st.integers(min_value=20, max_value=120),
    overlap=st.integers(min_value=0, max_value=2),
)
def test_offsets_always_slice_back(text: str, budget: int, overlap: int) -> None:
    chunks = chunk_text(text, header="Title\n", count_tokens=words, max_tokens=budget, overlap_sentences=overlap)
    covered = set()
    for chunk in chunks:
        assert text[chunk.start : chunk.end] == chunk.text
        assert chunk.text.strip()
        covered.update(range(chunk.start, chunk.end))
    for i, ch in enumerate(text):  # nothing but whitespace is left out
        assert i in covered or ch.isspace()
