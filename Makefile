# Two commands for a fresh clone:  `make demo` (install, index the sample articles, ask a question)
# and `make test` (install, lint, type-check, run every test). `.ci/run` calls `make test`.
SHELL := /bin/bash
PYTHON ?= python3.11
VENV := .venv
BIN := $(VENV)/bin
# llama-cpp-python is built from source once per CPU kind; the wheel is kept here, outside the clone, and reused.
WHEELS_ROOT ?= $(HOME)/.cache/assistant/wheels
LLAMA_VERSION := 0.3.36
# CPUs with AVX-512 (VNNI) get kernels that read prompts ~1.5x faster than the AVX2 ones (BENCHMARKS.md): `avx512`
# with BF16 and AVX-VNNI (e.g. Sapphire Rapids), `avx512-bf16` with BF16 but without AVX-VNNI (AMD Zen 4: its
# kernels die with SIGILL there), `avx512-nobf16` without BF16 (e.g. Ice Lake); others get the portable AVX2 build.
# Each kind's wheel has its own directory, so a cache moved to another CPU never runs kernels it lacks. AMX stays off: its kernels
# die with SIGILL (tilezero) in this machine's VM, though the CPU lists it and the kernel grants the tile state.
CPU_FLAGS := $(shell grep -m1 '^flags' /proc/cpuinfo 2>/dev/null)
HAS = $(filter $(1),$(CPU_FLAGS))
AVX512_OK := $(and $(call HAS,avx512_vnni),$(call HAS,avx512vl),$(call HAS,avx512bw),$(call HAS,avx512vbmi))
LLAMA_CPU ?= $(if $(AVX512_OK),$(if $(call HAS,avx512_bf16),$(if $(call HAS,avx_vnni),avx512,avx512-bf16),avx512-nobf16),avx2)
LLAMA_CMAKE_ARGS := -DGGML_NATIVE=OFF -DGGML_AVX=ON -DGGML_AVX2=ON -DGGML_FMA=ON -DGGML_F16C=ON -DGGML_BMI2=ON \
	-DGGML_AMX_TILE=OFF -DGGML_AMX_INT8=OFF -DGGML_AMX_BF16=OFF
ifeq ($(LLAMA_CPU),avx512)
LLAMA_CMAKE_ARGS += -DGGML_AVX512=ON -DGGML_AVX512_VNNI=ON -DGGML_AVX512_BF16=ON -DGGML_AVX512_VBMI=ON -DGGML_AVX_VNNI=ON
else ifeq ($(LLAMA_CPU),avx512-bf16)
LLAMA_CMAKE_ARGS += -DGGML_AVX512=ON -DGGML_AVX512_VNNI=ON -DGGML_AVX512_BF16=ON -DGGML_AVX512_VBMI=ON -DGGML_AVX_VNNI=OFF
else ifeq ($(LLAMA_CPU),avx512-nobf16)
LLAMA_CMAKE_ARGS += -DGGML_AVX512=ON -DGGML_AVX512_VNNI=ON -DGGML_AVX512_BF16=OFF -DGGML_AVX512_VBMI=ON -DGGML_AVX_VNNI=OFF
else
LLAMA_CMAKE_ARGS += -DGGML_AVX512=OFF
endif
WHEELS := $(WHEELS_ROOT)/$(LLAMA_CPU)
DEMO_INDEX := .cache/demo-index
DEMO_QUESTION ?= What did Okafor say about the detained sailors?

export HF_HUB_OFFLINE := 1
export TRANSFORMERS_OFFLINE := 1
export ANONYMIZED_TELEMETRY := False

.PHONY: install demo test lint clean

install: $(VENV)/.installed

$(VENV)/.installed: pyproject.toml Makefile
	@command -v $(PYTHON) >/dev/null || { echo "Error: $(PYTHON) not found (Python 3.11 is required)"; exit 1; }
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip
	# torch first, pinned to the CPU build: anything that asks for torch later finds it satisfied.
	$(BIN)/pip install -q torch==2.13.0
	@if ! ls $(WHEELS)/llama_cpp_python-$(LLAMA_VERSION)-*.whl >/dev/null 2>&1; then \
		echo "Building llama-cpp-python $(LLAMA_VERSION) for $(LLAMA_CPU) from source (about 10 minutes on 2 cores, once)..."; \
		mkdir -p $(WHEELS) && \
		CMAKE_ARGS="$(LLAMA_CMAKE_ARGS)" CMAKE_BUILD_PARALLEL_LEVEL=$$(nproc) \
			$(BIN)/pip wheel -q --no-deps --no-cache-dir -w $(WHEELS) llama-cpp-python==$(LLAMA_VERSION); \
	fi
	$(BIN)/pip install -q --find-links $(WHEELS) -e '.[dev]'
	# This CPU's build, even where a venv already holds another build of the same version.
	$(BIN)/pip install -q --no-deps --force-reinstall $(WHEELS)/llama_cpp_python-$(LLAMA_VERSION)-*.whl
	touch $@

demo: install
	$(BIN)/assistant ingest examples/articles --index-dir $(DEMO_INDEX)
	$(BIN)/assistant ask "$(DEMO_QUESTION)" --index-dir $(DEMO_INDEX)

lint: install
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy

test: lint
	$(BIN)/pytest

clean:
	rm -rf $(VENV) .cache .pytest_cache .mypy_cache .ruff_cache
