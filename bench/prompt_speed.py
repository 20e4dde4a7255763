"""How fast the installed llama.cpp build reads a prompt and generates, with the default local model.

    python bench/prompt_speed.py                      # this venv's llama-cpp-python build, flash attention on
    python bench/prompt_speed.py --no-flash-attn
    /path/to/other/venv/bin/python bench/prompt_speed.py --out /tmp/other.json   # another build, same model

Prompt reading is what the user waits for before an answer's first token on a CPU. The prompt is the first 800
tokens of this repository's README, read into an empty cache three times; then 32 tokens are generated. Only
llama-cpp-python and the model file are needed, so any venv holding a build can run it (the model must have been
joined once, e.g. by `make demo`).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
MODEL = Path.home() / ".cache" / "assistant" / "models" / "qwen2.5-coder-1.5b-instruct-q4_k_m.gguf"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--model", type=Path, default=MODEL)
    parser.add_argument("--tokens", type=int, default=800)
    parser.add_argument("--threads", type=int, default=os.cpu_count() or 1)
    parser.add_argument("--no-flash-attn", action="store_true")
    parser.add_argument("--out", type=Path, default=ROOT / "bench" / "results" / "prompt-speed.json")
    args = parser.parse_args()

    import llama_cpp

    llm = llama_cpp.Llama(
        model_path=str(args.model),
        n_ctx=4096,
        n_threads=args.threads,
        n_batch=512,
        flash_attn=not args.no_flash_attn,
        verbose=False,
    )
    tokens = llm.tokenize((ROOT / "README.md").read_text().encode())[: args.tokens]
    reads = []
    for _ in range(3):
        llm.reset()
        llm._ctx.kv_cache_clear()
        start = time.perf_counter()
        llm.eval(tokens)
        reads.append(len(tokens) / (time.perf_counter() - start))
    start = time.perf_counter()
    for n, _ in enumerate(llm.generate(tokens[:50], reset=True), start=1):
        if n == 32:
            break
    generate = time.perf_counter() - start
    lib = Path(llama_cpp.__file__).parent / "lib" / "libggml-cpu.so"
    result = {
        "llama_cpp_python": llama_cpp.__version__,
        "ggml_cpu_lib": str(lib.resolve()),
        "system_info": llama_cpp.llama_print_system_info().decode(),
        "flash_attn": not args.no_flash_attn,
        "threads": args.threads,
        "prompt_tokens": len(tokens),
        "prompt_tokens_per_s": [round(r, 1) for r in reads],
        "generate_32_tokens_s": round(generate, 2),
        "machine": {"cores": os.cpu_count(), "python": platform.python_version()},
        "loadavg": os.getloadavg()[0],
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=1) + "\n")
    print(json.dumps(result))


if __name__ == "__main__":
    main()
