"""The memory, disk and time arithmetic against figures worked by hand for Qwen2.5-3B, the PPO variants that
must fit one 80 GB GPU and keep a bounded number of checkpoints, the refusal of a run too big for its GPU
(naming the knob to change first) and the estimate `python -m launch plan` prints."""

import dataclasses
import json
import re
import shutil
import subprocess
import sys
from collections import namedtuple
from pathlib import Path

import pytest

from launch import calibration, estimate, model_configs, preflight, validate
from launch.plan import compile_recipe
from launch.recipe import REPO_ROOT, list_recipes, load_recipe
from launch.validate import RunInvalid

QWEN_3B = 3_085_938_688


def _run(recipe, variant):
    return compile_recipe(load_recipe(recipe), variant=variant, seed=1)[0]


def test_qwen_3b_grpo_on_one_80gb_gpu_matches_the_hand_computed_figure():
    # Actor update, by hand: 3.086e9 params x (4 fp32 weights + 4 grads + 8 Adam) = 49.37 GB; the reference
    # model is offloaded (1x80gb), there is no critic.
    peaks = estimate.update_peaks_gb(_run("countdown-3b", "default"))
    assert peaks == {"actor update": pytest.approx(QWEN_3B * 16 / 1e9)}
    assert peaks["actor update"] == pytest.approx(49.37, abs=0.01)


@pytest.mark.parametrize(
    ("recipe", "variant"), [("countdown-3b", "tinyzero_ppo"), ("countdown-ablations", "ppo")]
)
def test_the_ppo_variants_training_state_fits_one_80gb_gpu(recipe, variant):
    plan = _run(recipe, variant)
    assert plan.profile.name == "1x80gb"
    peaks = estimate.update_peaks_gb(plan)
    # By hand: actor update 49.37 GB with the critic offloaded; critic update 49.37 GB plus the actor's fp32
    # weights (12.34 GB; its Adam state offloaded) = 61.72 GB. Without offloads: 49.37 + 37.03 = 86.4 GB.
    assert peaks["actor update"] == pytest.approx(49.37, abs=0.01)
    assert peaks["critic update"] == pytest.approx(61.72, abs=0.01)
    assert max(peaks.values()) < 80


def test_checkpoint_disk_counts_the_critic_and_stays_bounded():
    grpo, ppo = _run("countdown-3b", "default"), _run("countdown-3b", "tinyzero_ppo")
    assert estimate.checkpoint_bytes(grpo, 3) == 3e9 * 16 * 2  # two actor checkpoints
    assert estimate.checkpoint_bytes(ppo, 3) == 3e9 * 16 * 4  # two actor + two critic checkpoints


def test_preflight_refuses_a_ppo_run_whose_critic_checkpoints_do_not_fit(tmp_path, monkeypatch):
    usage = namedtuple("usage", "total used free")
    monkeypatch.setattr(shutil, "disk_usage", lambda path: usage(1e12, 0, 150e9))
    preflight.check_disk(_run("countdown-3b", "default"), REPO_ROOT)  # 96 GB: fits
    with pytest.raises(preflight.PreflightError, match=r"about 192 GB.*max_critic_ckpt_to_keep"):
        preflight.check_disk(_run("countdown-3b", "tinyzero_ppo"), REPO_ROOT)


# --- the estimate before launch: every phase against figures worked by hand -------------------------------

P_3B = 3_085_938_688
# Qwen2.5-3B's config.json: 36 layers, hidden 2048, 16 heads, 2 kv heads (head_dim 128, kv dim 256),
# intermediate 11008, vocab 151936, tied embeddings. Per layer: q 2048*2048 + 2048 bias, k and v
# 2 * (2048*256 + 256), o 2048*2048, MLP 3 * 2048*11008, two norms 2*2048 = 77,076,992;
# 36 layers + embeddings 151936*2048 + final norm 2048 = 3,085,938,688.
PUBLISHED = {
    "Qwen/Qwen2.5-0.5B": 494_032_768,
    "Qwen/Qwen2.5-1.5B": 1_543_714_304,
    "Qwen/Qwen2.5-Math-1.5B": 1_543_714_304,
    "Qwen/Qwen2.5-3B": P_3B,
    "Qwen/Qwen2.5-7B": 7_615_616_512,
}


@pytest.mark.parametrize(("model", "count"), PUBLISHED.items())
def test_the_model_table_rebuilds_each_published_parameter_count(model, count):
    assert model_configs.KNOWN[model].parameters() == count


def test_qwen_3b_grpo_on_1x80gb_every_phase_matches_the_hand_computation():
    found = estimate.estimate(_run("countdown-3b", "default"), constants=calibration.ARITHMETIC)
    phases = {phase.name: phase for phase in found.phases}
    # Rollout: actor fp32 weights + Adam resident, 12 * P = 37.031 GB; reference offloaded; vLLM 0.4 * 80 GB
    # = 32 GB; overhead 2 GB -> 71.031 GB.
    assert phases["rollout"].peak_gb == pytest.approx(12 * P_3B / 1e9 + 32 + 2)
    assert phases["rollout"].peak_gb == pytest.approx(71.03, abs=0.01)
    # vLLM's KV cache: (32e9 - 2 * P bf16 weights) / (2 * 36 layers * 256 kv dim * 2 bytes = 36,864 B/token).
    assert found.vllm_kv_tokens == int((32e9 - 2 * P_3B) / 36_864) == 700_632
    # Log-prob, the reference pass (larger than the actor's): 37.031 resident + 6.172 ref bf16 loaded (2 * P)
    # + 32,768 tokens * (4 B * 151,936 logits + (2*2048 + 2*11008) * 2 B transient = 659,968 B) = 21.626 GB
    # + 2 GB -> 66.83 GB.
    assert phases["log-prob"].engine == "ref"
    assert phases["log-prob"].peak_gb == pytest.approx((14 * P_3B + 32_768 * 659_968) / 1e9 + 2)
    assert phases["log-prob"].peak_gb == pytest.approx(66.83, abs=0.01)
    # Update: 16 * P = 49.375 GB + 16,384 tokens * (checkpointed inputs 36 * 2048 * 2 B = 147,456 + one layer
    # (6*2048 + 2*256 + 4*11008) * 2 B = 113,664 + logits 6 B * 151,936 = 911,616 -> 1,172,736 B) = 19.214 GB
    # + 2 GB -> 70.59 GB: under 80.
    assert phases["update"].peak_gb == pytest.approx((16 * P_3B + 16_384 * 1_172_736) / 1e9 + 2)
    assert phases["update"].peak_gb == pytest.approx(70.59, abs=0.01)
    assert found.over() == []
    # Checkpoints: 2 actor saves * 16 B * P = 98.7 GB.
    assert found.checkpoint_gb == pytest.approx(2 * 16 * P_3B / 1e9)
    # Time: 256 prompts * 8 samples * (256 prompt + 512 response) = 1,572,864 tokens; rollout 2 * P * tokens
    # at 10% of 989 TFLOPS = 98.2 s; actor + ref forwards (2 * 2PT) + update with recomputation (8PT) = 12PT at
    # 35% = 168.3 s.
    assert found.rollout_s == pytest.approx(2 * P_3B * 1_572_864 / (989e12 * 0.10))
    assert found.rollout_s == pytest.approx(98.2, abs=0.1)
    assert found.train_s == pytest.approx(168.3, abs=0.1)


def test_countdown_3b_on_1x24gb_is_refused_naming_what_to_change_first():
    plan = compile_recipe(load_recipe("countdown-3b"), variant="default", profile="1x24gb")[0]
    # 16 * P = 49.4 GB of training state in the actor update alone: no token budget lowers it.
    with pytest.raises(
        RunInvalid, match=r"update phase.*24 GB GPU.*49\.4 GB per GPU.*trainer\.n_gpus_per_node"
    ):
        validate.validate_plans([plan], check_data_files=False)


def test_the_knob_named_first_is_the_one_that_fixes_the_phase():
    plan = _run("countdown-3b", "default")

    def with_(**changes):
        return dataclasses.replace(plan, overrides={**plan.overrides, **changes})

    tokens = with_(**{"actor_rollout_ref.actor.ppo_max_token_len_per_gpu": 65536})
    with pytest.raises(
        estimate.DoesNotFit, match=r"update.*lower actor_rollout_ref\.actor\.ppo_max_token_len"
    ):
        estimate.check_fits(tokens)
    vllm = with_(**{"actor_rollout_ref.rollout.gpu_memory_utilization": 0.6})
    with pytest.raises(
        estimate.DoesNotFit, match=r"rollout.*lower actor_rollout_ref\.rollout\.gpu_memory_util"
    ):
        estimate.check_fits(vllm)
    # The same run on a real 141 GB GPU fits (pre-flight checks against nvidia-smi's memory).
    assert estimate.check_fits(tokens, gpu_memory_gb=141).over() == []


def test_every_shipped_recipe_fits_its_own_profile():
    from launch.stages.plan import RlStagePlan, compile_pipelines

    for name in list_recipes():
        recipe = load_recipe(name)
        if recipe.stages is None:
            plans = compile_recipe(recipe)
        else:  # every RL stage, sized on the base's architecture as the pipeline's validation sizes it
            pipelines = compile_pipelines(recipe)
            plans = [
                dataclasses.replace(plan, model=pipeline.base_model)
                for pipeline in pipelines
                for plan in pipeline.stages
                if isinstance(plan, RlStagePlan)
            ]
        for plan in plans:
            validate.check_memory(plan)


def test_a_local_config_json_serves_a_model_outside_the_table(tmp_path):
    config = {"model_type": "qwen2", "num_hidden_layers": 24, "hidden_size": 896, "num_attention_heads": 14,
              "num_key_value_heads": 2, "intermediate_size": 4864, "vocab_size": 151936,
              "tie_word_embeddings": True}  # fmt: skip
    (tmp_path / "config.json").write_text(json.dumps(config))
    assert model_configs.lookup(str(tmp_path)).parameters() == PUBLISHED["Qwen/Qwen2.5-0.5B"]
    assert model_configs.lookup(str(tmp_path / "missing")) is None


def test_the_defaults_assumed_are_verls():
    import yaml

    from launch.verl_config import verl_config_dir

    generated = yaml.safe_load((Path(verl_config_dir()) / "_generated_ppo_trainer.yaml").read_text())

    def value(key):
        node = generated
        for part in key.split("."):
            node = node[part]
        return node

    for key, assumed in estimate.VERL_DEFAULTS.items():
        if key == "critic.ppo_infer_max_token_len_per_gpu":  # not in the YAML: CriticConfig's default
            from verl.workers.config import CriticConfig

            assert CriticConfig.ppo_infer_max_token_len_per_gpu == assumed
        elif assumed is None:  # an interpolation: the actor's budget (estimate._tokens)
            assert "actor_rollout_ref.actor.ppo_max_token_len_per_gpu" in value(key)
        else:
            assert value(key) == assumed, key


def test_preflight_checks_the_estimate_against_this_nodes_gpus(monkeypatch):
    from launch import hardware

    monkeypatch.setattr(preflight, "detect_gpus", lambda: [hardware.Gpu(0, "NVIDIA A10", 24.1)])
    with pytest.raises(preflight.PreflightError, match=r"update phase.*24\.1 GB GPU"):
        preflight.check_gpu_memory(_run("countdown-3b", "default"))
    monkeypatch.setattr(preflight, "detect_gpus", lambda: [hardware.Gpu(0, "NVIDIA H100", 85.5)])
    preflight.check_gpu_memory(_run("countdown-3b", "default"))


def test_plan_prints_the_estimate_and_refuses_a_run_that_does_not_fit(tmp_path):
    command = [sys.executable, "-m", "launch", "plan", "countdown-3b", "--variant", "default", "--no-data-check"]  # fmt: skip
    # --profile: the same figures on any machine (a GPU node would otherwise pick its own profile).
    fits = subprocess.run(
        [*command, "--profile", "1x80gb"], capture_output=True, text=True, cwd=REPO_ROOT, timeout=300
    )
    assert fits.returncode == 0, fits.stderr
    assert "arithmetic constants" in fits.stdout  # no calibration file matches this node
    assert re.search(r"rollout 71\.0 GB .*log-prob 66\.8 GB .*update 70\.6 GB .*fits", fits.stdout)
    assert "checkpoints kept (2 actor): 99 GB" in fits.stdout and "time per step ~4.4 min" in fits.stdout
    refused = subprocess.run(
        [*command, "--profile", "1x24gb"], capture_output=True, text=True, cwd=REPO_ROOT, timeout=300
    )
    assert refused.returncode == 1 and "DOES NOT FIT" in refused.stdout
    assert "plan: error: countdown-3b: run countdown-3b__default__s1: estimated peak" in refused.stderr
