"""Shared fixtures: every test gets its own data dir; the embedder and the local LLM load once per session."""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parent.parent
EXAMPLES = ROOT / "examples" / "articles"
FERRY = ROOT / "tests" / "data" / "ferry" / "articles.jsonl"  # invented: three outlets, May 2019
SEED = ROOT.parent / "shared" / "eval" / "seed"
# The joined 1.1 GB model is shared between test runs (joining it takes seconds, not minutes, but why repeat it).
MODEL_CACHE = Path(os.environ.get("ASSISTANT_TEST_CACHE", ROOT / ".cache" / "assistant"))
# Session fixtures are built before the per-test environment below: keep them off any real config file too.
os.environ["ASSISTANT_CONFIG"] = str(ROOT / ".cache" / "no-config.toml")
# Read by Settings or by the provider SDKs themselves: a developer's real key must never reach a test.
_PROVIDER_VARIABLES = frozenset(
    ("OPENAI_API_KEY", "OPENAI_BASE_URL", "OPENAI_API_BASE", "ANTHROPIC_API_KEY", "ANTHROPIC_BASE_URL", "OLLAMA_HOST")
)


@pytest.fixture(autouse=True)
def _hermetic(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Point the data dir and config at tmp_path: tests never touch the real home (nor a provider's real API)."""
    for name in list(os.environ):
        if name.startswith("ASSISTANT_") or name in _PROVIDER_VARIABLES:
            monkeypatch.delenv(name)
    monkeypatch.setenv("ASSISTANT_HOME", str(tmp_path / "home"))
    monkeypatch.setenv("ASSISTANT_CONFIG", str(tmp_path / "no-config.toml"))
    monkeypatch.setenv("ASSISTANT_CACHE_DIR", str(MODEL_CACHE))


@pytest.fixture(scope="session")
def embeddings():  # type: ignore[no-untyped-def]
    """The real packaged embedder, loaded once."""
    from index.embedding import LocalEmbeddings

    return LocalEmbeddings()


@pytest.fixture
def settings(tmp_path: Path):  # type: ignore[no-untyped-def]
    """Settings pointing at this test's data dir."""
    from assistant.settings import load_settings

    return load_settings(home=tmp_path / "home")


@pytest.fixture
def articles_dir(tmp_path: Path) -> Path:
    """A writable copy of the bundled sample articles."""
    target = tmp_path / "articles"
    shutil.copytree(EXAMPLES, target)
    return target


@pytest.fixture
def store(settings, embeddings):  # type: ignore[no-untyped-def]
    """An empty store (real SQLite catalog and real Chroma on disk) in this test's data dir."""
    from index.store import Store

    s = Store(settings, embeddings)
    yield s
    s.close()


def _indexed_home(factory: pytest.TempPathFactory, embeddings: Any, articles: Path, name: str) -> Path:
    """A fresh data dir with `articles` (a file or folder) indexed."""
    from assistant.settings import load_settings
    from index.ingest import ingest
    from index.store import Store

    home = factory.mktemp(name)
    settings = load_settings(home=home, cache_dir=MODEL_CACHE)
    store = Store(settings, embeddings)
    report = ingest([articles], settings, store=store)
    assert not report.failed, report.failed
    store.close()
    return home


@pytest.fixture(scope="session")
def sample_home(tmp_path_factory: pytest.TempPathFactory, embeddings) -> Path:  # type: ignore[no-untyped-def]
    """A data dir with the sample articles indexed once for the session; tests must not write to it."""
    return _indexed_home(tmp_path_factory, embeddings, EXAMPLES, "sample-home")


@pytest.fixture
def sample_retriever(sample_home: Path, embeddings):  # type: ignore[no-untyped-def]
    """A retriever over the session's sample index."""
    from assistant.retrieval import Retriever
    from assistant.settings import load_settings
    from index.store import Store

    settings = load_settings(home=sample_home)
    retriever = Retriever(Store(settings, embeddings), settings)
    yield retriever
    retriever.store.close()


@pytest.fixture(scope="session")
def local_llm() -> Iterator[object]:
    """The real default local model (Qwen2.5-Coder-1.5B GGUF), loaded once."""
    from assistant.llm import make_chat_model
    from assistant.settings import load_settings

    yield make_chat_model("local", load_settings(cache_dir=MODEL_CACHE))


@pytest.fixture(scope="session")
def ferry_home(tmp_path_factory: pytest.TempPathFactory, embeddings) -> Path:  # type: ignore[no-untyped-def]
    """A data dir with the four invented ferry articles (three outlets, May 2019) indexed once; read-only."""
    return _indexed_home(tmp_path_factory, embeddings, FERRY, "ferry-home")
