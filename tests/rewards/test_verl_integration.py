"""verl 0.9.1's own reward loop scores decoded responses with rewards/verl_reward.py, on CPU.

The config is composed from verl's packaged `ppo_trainer` with the keys a recipe sets; verl's
RewardLoopWorker (the class its Ray reward actors run, instantiated here without Ray) loads our file by
path, builds the `naive` reward manager around it, decodes each response from token ids and calls our
function in its thread pool. The results are then stacked and aggregated as RewardLoopManager and the
trainer's validation do.
"""

from pathlib import Path

import numpy as np
import pytest
import torch

import rewards
from rewards import compute_score

VERL_REWARD_FILE = Path(rewards.__file__).with_name("verl_reward.py")
PROMPT_LENGTH, RESPONSE_LENGTH = 96, 48
ROWS = [
    # (data_source, response, ground_truth, template)
    (
        "countdown",
        " 7-3=4, 4*25=100 </think> <answer>(7 - 3) * 25</answer>",
        {"target": 100, "numbers": [3, 7, 25]},
        "base",
    ),
    (
        "countdown",
        " wait </think> <answer>(7 + 3) * 25</answer>",
        {"target": 100, "numbers": [3, 7, 25]},
        "base",
    ),
    (
        "game24",
        "<think> 8/(3-8/3) </think> <answer>8/(3-8/3)</answer>",
        {"target": 24, "numbers": [3, 3, 8, 8]},
        "instruct",
    ),
    ("game24", "<think> 想想 no idea", {"target": 24, "numbers": [3, 3, 8, 8]}, "instruct"),
    ("gsm8k", "<think> 48+24 </think> <answer>72</answer>", "72", "instruct"),
    ("math", "So $\\boxed{\\frac{1}{2}}$.", "0.5", "boxed"),
    ("math", "So $\\boxed{(9999!)^{9999}}$.", "1", "boxed"),  # passes the screen, hangs sympy: must time out
]
# zh: the rows' few words are English, so language consistency moves some scores and not others.
REWARD_KWARGS = {
    "format_score": 0.2,
    "math_timeout_s": 2.0,
    "language_consistency": 0.5,
    "target_language": "zh",
}
# format_score / correct_score, plus 0.5 x the share of Han characters among the CoT's words (1 without words)
SCORES = [1.5, 0.2, 1.5, 0.25, 1.5, 1.0, 0.2]


@pytest.fixture(scope="module")
def config(tiny_tokenizer_dir):
    from hydra import compose, initialize_config_dir
    from hydra.core.global_hydra import GlobalHydra
    from omegaconf import OmegaConf
    from verl.trainer import main_ppo

    overrides = [
        f"actor_rollout_ref.model.path={tiny_tokenizer_dir}",
        "actor_rollout_ref.rollout.name=vllm",
        f"reward.custom_reward_function.path={VERL_REWARD_FILE}",
        "reward.custom_reward_function.name=compute_score",
        "reward.reward_manager.name=naive",
        *(
            f"+reward.custom_reward_function.reward_kwargs.{key}={value}"
            for key, value in REWARD_KWARGS.items()
        ),
    ]
    config_dir = str(Path(main_ppo.__file__).with_name("config"))
    GlobalHydra.instance().clear()
    try:
        with initialize_config_dir(config_dir=config_dir, version_base=None):
            return OmegaConf.create(OmegaConf.to_container(compose("ppo_trainer", overrides=overrides)))
    finally:
        GlobalHydra.instance().clear()


def batch(tokenizer):
    """A DataProto as the agent loop hands it to the reward loop: left-padded prompts, right-padded responses."""
    from verl import DataProto

    prompts, responses, masks = [], [], []
    for source, response, _, template in ROWS:
        prompt_ids = tokenizer(f"Solve this {source} problem ({template}).", add_special_tokens=False)[
            "input_ids"
        ]
        response_ids = tokenizer(response + tokenizer.eos_token, add_special_tokens=False)["input_ids"]
        assert len(prompt_ids) <= PROMPT_LENGTH and len(response_ids) <= RESPONSE_LENGTH
        prompt_pad = PROMPT_LENGTH - len(prompt_ids)
        response_pad = RESPONSE_LENGTH - len(response_ids)
        prompts.append([tokenizer.pad_token_id] * prompt_pad + prompt_ids)
        responses.append(response_ids + [tokenizer.pad_token_id] * response_pad)
        masks.append([0] * prompt_pad + [1] * len(prompt_ids) + [1] * len(response_ids) + [0] * response_pad)
    prompts, responses = torch.tensor(prompts), torch.tensor(responses)
    return DataProto.from_dict(
        tensors={
            "prompts": prompts,
            "responses": responses,
            "input_ids": torch.cat([prompts, responses], dim=1),
            "attention_mask": torch.tensor(masks),
        },
        non_tensors={
            "data_source": np.array([row[0] for row in ROWS], dtype=object),
            "reward_model": np.array(
                [{"style": "rule", "ground_truth": row[2]} for row in ROWS], dtype=object
            ),
            "extra_info": np.array(
                [{"split": "test", "index": i, "template": row[3]} for i, row in enumerate(ROWS)],
                dtype=object,
            ),
        },
    )


def test_verl_reward_loop_scores_with_our_function(config, tiny_tokenizer):
    from verl.experimental.reward_loop import RewardLoopWorker
    from verl.trainer.ppo.metric_utils import process_validation_metrics

    worker = RewardLoopWorker(config)
    data = batch(tiny_tokenizer)
    outputs = worker.loop.run_until_complete(worker.compute_score_batch(data))

    expected = [
        compute_score(source, response, gt, {"template": template}, **REWARD_KWARGS)
        for source, response, gt, template in ROWS
    ]
    assert [output["reward_score"] for output in outputs] == pytest.approx(SCORES)
    for output, direct in zip(outputs, expected, strict=True):
        assert output["reward_extra_info"] == direct
    assert outputs[-1]["reward_extra_info"]["timed_out"] == 1

    # RewardLoopManager.compute_rm_score: the score sits on each response's last valid token
    rm_scores = worker.reward_manager.assemble_rm_scores(data, [output["reward_score"] for output in outputs])
    assert rm_scores.sum(dim=1).tolist() == pytest.approx(SCORES)
    keys = list(outputs[0]["reward_extra_info"])
    stacked = {key: np.array([output["reward_extra_info"][key] for output in outputs]) for key in keys}

    # the trainer's validation: lists per key, aggregated per data source
    infos = {"reward": rm_scores.sum(dim=1).tolist()} | {
        key: values.tolist() for key, values in stacked.items()
    }
    uids = ["countdown", "countdown", "game24", "game24", "gsm8k", "math-1", "math-2"]  # prompts' uids
    metrics = process_validation_metrics(list(data.non_tensor_batch["data_source"]), uids, infos)
    assert metrics["countdown"]["acc"]["mean@2"] == 0.5
    assert metrics["math"]["timed_out"]["mean@1"] == 0.5
    assert "maj@2/mean" in metrics["countdown"]["acc"]


@pytest.mark.slow
def test_verl_reward_loop_manager_in_ray_actors(config, tiny_tokenizer, monkeypatch):
    """The production path: RewardLoopManager's Ray actor runs our function (and its math helpers)."""
    import ray
    from verl.experimental.reward_loop import RewardLoopManager

    monkeypatch.setenv("RAY_AUTH_MODE", "disabled")
    config.reward.num_workers = 1
    ray.init(num_cpus=2, include_dashboard=False)
    try:
        output = RewardLoopManager(config).compute_rm_score(batch(tiny_tokenizer))
    finally:
        ray.shutdown()
    assert output.batch["rm_scores"].sum(dim=1).tolist() == pytest.approx(SCORES)
    assert output.meta_info["reward_extra_keys"] == list(compute_score("math", "", "1"))
    assert output.non_tensor_batch["timed_out"].tolist() == [0, 0, 0, 0, 0, 0, 1]
    assert output.non_tensor_batch["pred"].tolist()[-2:] == ["1/2", "(9999!)^{9999}"]
