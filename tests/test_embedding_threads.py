"""A question's small batch is embedded on one torch thread: the same vectors, and the thread count comes back."""

from __future__ import annotations

import numpy as np
import torch

from index.embedding import _ONE_THREAD_MAX, LocalEmbeddings

TEXTS = [
    "Did Amara Lindqvist broker the ceasefire between Kolmar and Esteria?",
    "Harbor City rations water as the reservoir falls to a record low",
]


def test_small_batch_runs_on_one_thread_and_restores_the_count(embeddings: LocalEmbeddings, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    seen: list[int] = []
    encode = embeddings.model.encode

    def spy(*args, **kwargs):  # type: ignore[no-untyped-def]
        seen.append(torch.get_num_threads())
        return encode(*args, **kwargs)

    before = torch.get_num_threads()
    torch.set_num_threads(2)
    try:
        monkeypatch.setattr(embeddings.model, "encode", spy)
        small = embeddings.encode(TEXTS)
        large = embeddings.encode(TEXTS * (_ONE_THREAD_MAX // 2 + 1))
        assert seen == [1, 2]
        assert torch.get_num_threads() == 2
    finally:
        torch.set_num_threads(before)
    # Same vectors whichever thread count computed them.
    assert np.allclose(small, large[: len(TEXTS)], atol=1e-5)
