"""verl 0.9.1 reads the built parquet files with its own dataset code, and the `base` template reaches the model
as exactly the intended text once the recipe sets the pass-through `custom_chat_template`.

Follows verl's own path: `HFModelConfig` (which installs `custom_chat_template` on the tokenizer),
`create_rl_dataset` (RLHFDataset, including its prompt-length filter), and the agent loop's Continuous Token
builder, which renders a row's `raw_prompt` into the prompt token ids sent to the rollout engine.
"""

from __future__ import annotations

import os

import pytest

from data_prep import countdown, game24, math_sets
from data_prep.templates import PASS_THROUGH_CHAT_TEMPLATE, TEMPLATES, get_template

pytest.importorskip("verl")


@pytest.fixture(scope="module")
def model_dir(tmp_path_factory):
    from launch.cpu_backend.tiny_model import build_tiny_model

    return build_tiny_model(tmp_path_factory.mktemp("tiny") / "model")


@pytest.fixture(autouse=True)
def _private_datasets_cache(tmp_path, monkeypatch):
    import datasets

    monkeypatch.setattr(datasets.config, "HF_DATASETS_CACHE", str(tmp_path / "hf-datasets"))


def _model_config(model_dir, custom_chat_template):
    from verl.workers.config import HFModelConfig

    return HFModelConfig(path=str(model_dir), custom_chat_template=custom_chat_template)


def _data_config(files):
    import verl
    from hydra import compose, initialize_config_dir

    config_dir = os.path.join(os.path.dirname(verl.__file__), "trainer", "config")
    with initialize_config_dir(config_dir=config_dir, version_base=None):
        config = compose(
            "ppo_trainer",
            overrides=[
                f"data.train_files={files}",
                "data.max_prompt_length=4096",
                "data.filter_overlong_prompts=true",
            ],
        )
    return config.data


def _dataset(files, tokenizer):
    from verl.trainer.ppo.utils import create_rl_dataset

    return create_rl_dataset(files, _data_config(files), tokenizer, None, is_train=True)


def test_rlhf_dataset_reads_every_task_back(tmp_path, model_dir):
    countdown.build(tmp_path / "countdown", train_size=64, test_size=16)
    game24.build(tmp_path / "game24")
    source = tmp_path / "gsm8k.jsonl"
    source.write_text('{"question": "2 + 2?", "answer": "#### 4"}\n')
    math_sets.build(tmp_path / "gsm8k", dataset="gsm8k", source=str(source), template="instruct")
    tokenizer = _model_config(model_dir, None).tokenizer

    files = [str(tmp_path / "countdown" / "train.parquet"), str(tmp_path / "game24" / "test.parquet")]
    dataset = _dataset(files, tokenizer)
    assert len(dataset) == 64 + 272  # nothing filtered: every prompt fits
    row = dataset[0]
    assert row["data_source"] == "countdown"
    assert row["reward_model"]["style"] == "rule" and set(row["reward_model"]["ground_truth"]) == {
        "target",
        "numbers",
    }
    assert (
        row["extra_info"]["split"] == "train"
        and row["index"] == 0
        and row["extra_info"]["template"] == "base"
    )
    assert row["raw_prompt"][0]["role"] == "user" and row["raw_prompt"][0]["content"].endswith("<think>")
    assert (
        dataset[64]["data_source"] == "game24" and dataset[64]["reward_model"]["ground_truth"]["target"] == 24
    )

    gsm8k = _dataset([str(tmp_path / "gsm8k" / "test.parquet")], tokenizer)[0]
    assert gsm8k["reward_model"]["ground_truth"] == "4"
    assert [m["role"] for m in gsm8k["raw_prompt"]] == ["system", "user"]


def test_base_prompt_reaches_the_model_as_exactly_the_template_text(tmp_path, model_dir):
    from verl.utils.tokenizer.continuous_token_wiring import create_continuous_token_builder

    base = get_template("base")
    assert base.chat_template == PASS_THROUGH_CHAT_TEMPLATE
    countdown.build(tmp_path / "countdown", train_size=8, test_size=4)
    model_config = _model_config(model_dir, base.chat_template)
    tokenizer = model_config.tokenizer
    dataset = _dataset([str(tmp_path / "countdown" / "test.parquet")], tokenizer)
    builder = create_continuous_token_builder(tokenizer, hf_model_type=model_config.hf_config.model_type)
    for index in range(len(dataset)):
        row = dataset[index]
        truth = row["reward_model"]["ground_truth"]
        intended = base.render_text(countdown.question(list(truth["numbers"]), int(truth["target"])))
        prompt_ids = builder.build_initial_tokens(row["raw_prompt"])
        assert tokenizer.decode(prompt_ids) == intended
        assert prompt_ids == tokenizer.encode(intended, add_special_tokens=False)
        # No chat markup and no generation prompt: the completion continues straight after "<think>".
        assert "<|im_start|>" not in tokenizer.decode(prompt_ids) and intended.endswith("\n<think>")


def test_chat_templates_keep_the_models_own_chat_markup(tmp_path, model_dir):
    instruct = TEMPLATES["instruct"]
    assert instruct.chat_template is None
    countdown.build(tmp_path / "countdown", train_size=8, test_size=4, template="instruct")
    tokenizer = _model_config(model_dir, None).tokenizer
    row = _dataset([str(tmp_path / "countdown" / "test.parquet")], tokenizer)[0]
    text = tokenizer.apply_chat_template(row["raw_prompt"], tokenize=False, add_generation_prompt=True)
    assert text.startswith("<|im_start|>system\n" + instruct.system) and text.endswith(
        "<|im_start|>assistant\n"
    )
