"""A question and its parts are embedded in batches of like length, in bfloat16 where the CPU has it: the vectors
and what they retrieve stay those of one float32 batch."""

from __future__ import annotations

import numpy as np
import pytest

from index.embedding import LocalEmbeddings, length_groups

# A long question and the short parts `Retriever.parts` splits from it.
QUESTION = [
    "Which minister told the Harbor City Ledger that the reservoir would be refilled before the summer, and did the "
    "Kolmar Gazette later report that the water rationing in the eastern districts had been extended into August?",
    "reservoir refilled before the summer",
    "water rationing eastern districts extended",
    "Harbor City Ledger",
]


@pytest.mark.parametrize(
    ("lengths", "expected"),
    [
        ([], []),
        ([20], [[0]]),
        ([20, 18, 22], [[2, 0, 1]]),  # alike: one batch, longest first
        ([62, 32, 27, 22], [[0], [1, 2, 3]]),  # a long question alone, its parts together
        ([10, 200, 12, 190], [[1, 3], [2, 0]]),  # two of each length
    ],
)
def test_length_groups_split_where_padding_costs_more_than_a_forward_pass(
    lengths: list[int], expected: list[list[int]]
) -> None:
    assert length_groups(lengths) == expected


def test_length_groups_cover_every_text_once_at_least_cost() -> None:
    rng = np.random.default_rng(7)
    for _ in range(200):
        lengths = [int(n) for n in rng.integers(3, 120, size=rng.integers(1, 7))]
        groups = length_groups(lengths, forward_cost=40)
        assert sorted(i for group in groups for i in group) == list(range(len(lengths)))

        def cost(groups: list[list[int]], lengths: list[int] = lengths) -> int:
            return sum(40 + max(lengths[i] for i in group) * len(group) for group in groups)

        # No better than one batch or one text a batch is missed.
        assert cost(groups) <= cost([list(range(len(lengths)))])
        assert cost(groups) <= cost([[i] for i in range(len(lengths))])


def test_grouped_batches_give_the_vectors_of_one_batch(embeddings: LocalEmbeddings, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    calls: list[list[str]] = []
    encode = embeddings.model.encode

    def spy(texts, *args, **kwargs):  # type: ignore[no-untyped-def]
        calls.append(list(texts))
        return encode(texts, *args, **kwargs)

    monkeypatch.setattr(embeddings.model, "encode", spy)
    grouped = embeddings.encode(QUESTION)
    assert [len(batch) for batch in calls] == [1, 3]  # the question alone, then its parts
    assert calls[0] == [QUESTION[0]]
    monkeypatch.undo()

    one_batch = embeddings.model.encode(QUESTION, normalize_embeddings=True, convert_to_numpy=True)
    assert grouped.shape == one_batch.shape
    assert np.allclose(grouped, one_batch, atol=1e-5)


def test_questions_in_bfloat16_point_where_float32_does(
    embeddings: LocalEmbeddings,
    sample_retriever,  # type: ignore[no-untyped-def]
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    questions = [
        "What did Okafor say about the detained sailors?",
        "Which outlets reported the Kolmar and Esteria ceasefire, and when?",
        "How many schools did the Riverside heatwave shut?",
    ]
    monkeypatch.setattr(embeddings, "questions_in_bf16", False)
    exact = np.array(embeddings.embed_questions(questions))
    exact_hits = [[p.chunk_id for p in sample_retriever.search(q)] for q in questions]
    monkeypatch.setattr(embeddings, "questions_in_bf16", True)  # forced on, even where the CPU emulates it
    half = np.array(embeddings.embed_questions(questions))
    half_hits = [[p.chunk_id for p in sample_retriever.search(q)] for q in questions]

    assert not np.array_equal(half, exact)  # bfloat16 did compute them
    cosines = (half * exact).sum(axis=1) / np.linalg.norm(half, axis=1) / np.linalg.norm(exact, axis=1)
    assert cosines.min() > 0.999
    assert [hits[:3] for hits in half_hits] == [hits[:3] for hits in exact_hits]
    alone = np.array(embeddings.embed_query(questions[0]))  # a lone question goes the same way
    assert not np.allclose(alone, exact[0], atol=1e-6)
    assert float(alone @ half[0]) / float(np.linalg.norm(alone) * np.linalg.norm(half[0])) > 0.999
