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
# make mini: GRPO steps per run (default: the recipe's)
STEPS ?=
PYTEST_ARGS ?=

PY := $(if $(filter system,$(VENV)),$(PYTHON),$(VENV)/bin/python)
INSTALL := VENV=$(VENV) PYTHON=$(PYTHON) requirements/install.sh
INSTALL_MODE := $(if $(GPU),gpu,auto)
REQUIRE_GPU := requirements/install.sh require-gpu
PROFILE_ARG := $(if $(PROFILE),--profile $(PROFILE))
RUN_ARGS := $(if $(VARIANT),--variant $(VARIANT)) $(if $(SEED),--seed $(SEED)) $(PROFILE_ARG)
DIR_ARGS := --data-dir $(DATA_DIR) --checkpoints-dir $(CKPT_DIR) --results-dir $(RESULTS_DIR)

.PHONY: help install test lint fmt data smoke mini validate plan train sweep distill report doctor eval eval-checkpoints bench gpu-check countdown-3b clean-env

help: ## list every target
	@echo "ZeroLab targets (variables: RECIPE=$(RECIPE) VARIANT= SEED= PROFILE= LAUNCHER=$(LAUNCHER) GPU= VENV=$(VENV)):"
	@grep -E '^[a-z0-9-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  %-18s %s\n", $$1, $$2}'

install: ## build the Python env in $(VENV): GPU node if nvidia-smi sees a GPU (or GPU=1), else CPU
	@$(INSTALL) $(INSTALL_MODE)

test: install lint ## set up the CPU env if needed, lint, and run the whole test suite
	$(PY) -m pytest $(PYTEST_ARGS)

lint: install ## ruff lint + format check
	$(PY) -m ruff check .
	$(PY) -m ruff format --check .

fmt: install ## ruff format + autofix
	$(PY) -m ruff format .
	$(PY) -m ruff check --fix .

data: install ## build Countdown and 24-point under $(DATA_DIR)/<task>/$(TEMPLATE)/ (math sets need the hub: see README)
	$(PY) -m data_prep countdown --out $(DATA_DIR)/countdown/$(TEMPLATE) --template $(TEMPLATE) --if-missing
	$(PY) -m data_prep game24 --out $(DATA_DIR)/game24/$(TEMPLATE) --template $(TEMPLATE) --if-missing

smoke: install ## CPU: the real verl GRPO trainer for a few steps with a tiny local model (no GPU)
	$(PY) -m launch smoke

mini: install ## CPU, no GPU: R1-Zero in miniature (tiny base pre-trained here + GRPO sweep + report) (VARIANT=, SEED=, STEPS=)
	$(PY) -m launch mini $(RUN_ARGS) $(if $(STEPS),--steps $(STEPS))

validate: install ## check every run of every shipped recipe against the pinned verl schema and its GPU memory (PROFILE=)
	$(PY) -m launch validate $(PROFILE_ARG)

plan: install ## print run ids, full verl commands and memory/disk/time estimates of RECIPE (VARIANT=, SEED=, PROFILE=)
	$(PY) -m launch plan $(RECIPE) $(RUN_ARGS)

train: ## GPU: train one run of RECIPE on this node (VARIANT=, SEED=, PROFILE=)
	@$(REQUIRE_GPU) train
	@$(INSTALL) $(INSTALL_MODE)
	$(PY) -m launch train $(RECIPE) $(RUN_ARGS) $(DIR_ARGS)

sweep: ## all runs of RECIPE with LAUNCHER=local|ray|slurm (add DRY_RUN=1 to only print/write; PROFILE=)
	$(if $(filter local,$(LAUNCHER)),$(if $(DRY_RUN),,@$(REQUIRE_GPU) sweep))
	@# ray/slurm jobs run this environment's python on GPU nodes: build the GPU env even on a login node without GPUs.
	@$(if $(filter local,$(LAUNCHER)),$(INSTALL) $(INSTALL_MODE),GPU_ELSEWHERE=1 $(INSTALL) gpu)
	$(PY) -m launch sweep $(RECIPE) --launcher $(LAUNCHER) $(DIR_ARGS) $(PROFILE_ARG) $(if $(ADDRESS),--address $(ADDRESS)) $(if $(JOB_PYTHON),--python $(JOB_PYTHON)) $(if $(DRY_RUN),--dry-run)

distill: install ## teacher samples -> rule filter -> verl SFT -> eval for each run of a distill RECIPE (VARIANT=, SEED=, DEVICE=cpu)
	$(PY) -m launch distill run $(RECIPE) $(if $(VARIANT),--variant $(VARIANT)) $(if $(SEED),--seed $(SEED)) $(if $(DEVICE),--device $(DEVICE)) $(DIR_ARGS)

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

clean-env: ## remove $(VENV) (the next target rebuilds it)
	rm -rf $(VENV)
