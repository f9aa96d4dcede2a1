"""distill.write: rows verl 0.9.1's own MultiTurnSFTDataset reads, trained on the response and its <eos> only;
byte-identical rebuilds; a different build is refused without force."""

from __future__ import annotations

import pyarrow.parquet as pq
import pytest

from data_prep.rows import BuildError
from distill.reject import Candidate
from distill.write import (
    SFT_PASS_THROUGH_CHAT_TEMPLATE,
    check_templates_compatible,
    sft_chat_template,
    sft_table,
    write_sft_build,
)

from .conftest import TEACHER

PROMPT = "numbers 2 7 4 target #14 <think>"
RESPONSE = " try 7 * ( 4 - 2 ) = 14 #14 yes </think> <answer> 7 * ( 4 - 2 ) </answer>"
PROMPTS = {
    0: {
        "data_source": "countdown",
        "prompt": [{"role": "user", "content": PROMPT}],
        "extra_info": {"split": "train", "index": 0, "template": "mini"},
    }
}


def _table(response: str = RESPONSE):
    return sft_table([Candidate(0, 3, response, {"acc": 1})], PROMPTS, "mini")


def test_rows_hold_the_prompt_then_the_teachers_response():
    (row,) = _table().to_pylist()
    assert row["messages"] == [
        {"role": "user", "content": PROMPT},
        {"role": "assistant", "content": RESPONSE},
    ]
    assert row["extra_info"] == {
        "split": "train",
        "index": 0,
        "sample": 3,
        "template": "mini",
        "response_chars": len(RESPONSE),
    }


def test_verl_sft_dataset_trains_on_the_response_and_its_end_of_sequence(tmp_path):
    from omegaconf import OmegaConf
    from transformers import AutoTokenizer
    from verl.utils.dataset.multiturn_sft_dataset import MultiTurnSFTDataset

    write_sft_build(tmp_path, _table(), {"arguments": {}}, force=False)
    tokenizer = AutoTokenizer.from_pretrained(TEACHER)
    tokenizer.chat_template = sft_chat_template("mini")  # what model.custom_chat_template sets in verl
    config = OmegaConf.create({"pad_mode": "no_padding", "max_length": 128, "messages_key": "messages"})
    item = MultiTurnSFTDataset(str(tmp_path / "train.parquet"), tokenizer, config)[0]
    prompt_ids = tokenizer(PROMPT, add_special_tokens=False)["input_ids"]
    response_ids = tokenizer(RESPONSE, add_special_tokens=False)["input_ids"]
    assert item["input_ids"].tolist() == [*prompt_ids, *response_ids, tokenizer.eos_token_id]
    assert item["loss_mask"].tolist() == [0] * len(prompt_ids) + [1] * (len(response_ids) + 1)


def test_rebuild_is_byte_identical_and_a_different_build_needs_force(tmp_path):
    meta = write_sft_build(tmp_path, _table(), {"arguments": {"k": 8}}, force=False)
    first = (tmp_path / "train.parquet").read_bytes()
    assert write_sft_build(tmp_path, _table(), {"arguments": {"k": 8}}, force=False) == meta
    assert (tmp_path / "train.parquet").read_bytes() == first
    with pytest.raises(BuildError, match="--force"):
        write_sft_build(
            tmp_path, _table(" other </think> <answer> 1 </answer>"), {"arguments": {}}, force=False
        )
    assert (tmp_path / "train.parquet").read_bytes() == first
    write_sft_build(tmp_path, _table(" other </think> <answer> 1 </answer>"), {"arguments": {}}, force=True)
    assert pq.read_table(tmp_path / "train.parquet").num_rows == 1
    assert (tmp_path / "train.parquet").read_bytes() != first


def test_an_empty_build_is_an_error(tmp_path):
    with pytest.raises(ValueError, match="no response passed"):
        write_sft_build(tmp_path, sft_table([], PROMPTS, "mini"), {}, force=False)


def test_chat_templates_and_template_compatibility():
    assert sft_chat_template("mini") == sft_chat_template("base") == SFT_PASS_THROUGH_CHAT_TEMPLATE
    assert sft_chat_template("instruct") is None  # the student's own chat template renders the turns
    check_templates_compatible("base", "mini")  # both pre-fill <think>, both answer in <answer> tags
    with pytest.raises(ValueError, match="would not continue"):
        check_templates_compatible("base", "instruct")
