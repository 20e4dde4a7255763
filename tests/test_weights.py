"""The packaged local model: joined from its part packages and checked against the official release."""

from __future__ import annotations

from pathlib import Path

import pytest

from assistant import weights
from assistant.errors import ModelError


def test_a_file_that_does_not_match_the_release_is_an_error_naming_the_fix() -> None:
    with pytest.raises(ModelError, match=r"does not match the official release.*reinstall"):
        weights.check_file(weights.LOCAL_MODEL_SIZE - 1, weights.LOCAL_MODEL_SHA256)
    with pytest.raises(ModelError, match="does not match"):
        weights.check_file(weights.LOCAL_MODEL_SIZE, "0" * 64)
    weights.check_file(weights.LOCAL_MODEL_SIZE, weights.LOCAL_MODEL_SHA256)  # the real one passes


def test_bad_join_leaves_no_file_and_a_stale_cache_is_replaced(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    parts = []
    for i in range(3):
        part = tmp_path / f"part{i}.bin"
        part.write_bytes(bytes([i]) * 10)
        parts.append(part)
    monkeypatch.setattr(weights, "part_paths", lambda: parts)
    cache = tmp_path / "cache"
    target = cache / "models" / weights.LOCAL_MODEL_FILE
    target.parent.mkdir(parents=True)
    target.write_bytes(b"stale")  # a cached file with no verification marker is not trusted
    with pytest.raises(ModelError, match="the bad file was removed"):
        weights.local_model_path(cache)
    assert not target.exists()
    assert not list(target.parent.glob("*.partial"))


def test_parts_are_installed_in_order() -> None:
    paths = weights.part_paths()
    assert len(paths) == 22 and all(p.is_file() for p in paths)
    assert sum(p.stat().st_size for p in paths) == weights.LOCAL_MODEL_SIZE
