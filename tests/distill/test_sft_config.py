"""distill.sft: every SFT key is checked against verl 0.9.1's sft_trainer_engine config before anything runs."""

from __future__ import annotations

import pytest

from distill.sft import sft_command, sft_overrides, validate_sft
from launch.cpu_backend import cpu_sft_overrides
from launch.verl_config import VerlConfigError

from .conftest import TEACHER


@pytest.fixture(scope="module")
def overrides(tmp_path_factory):
    out = tmp_path_factory.mktemp("sft")
    return {**sft_overrides(out, str(TEACHER), out / "ckpt", "{{ x }}", "t"), **cpu_sft_overrides()}


def test_the_cpu_run_composes_and_runs_verl_dataclass_checks(overrides):
    config = validate_sft({**overrides, "data.train_batch_size": 8, "data.micro_batch_size_per_gpu": 2})
    assert config.model.path == str(TEACHER.absolute()) and config.trainer.device == "cpu"
    assert config.engine.mixed_precision.param_dtype == "fp32"
    command = sft_command(overrides, config)
    assert command[1:6] == ["-m", "torch.distributed.run", "--standalone", "--nnodes=1", "--nproc_per_node=1"]
    assert command[6:8] == ["-m", "verl.trainer.sft_trainer"]
    assert (
        command[-1] == f"hydra.run.dir={config.trainer.default_local_dir}/hydra"
    )  # nothing stray in the cwd


@pytest.mark.parametrize(
    ("key", "value", "message"),
    [
        (
            "data.max_lenght",
            64,
            "not a key of verl 0.9.1's sft_trainer_engine config; did you mean data.max_length",
        ),
        ("optim.lr_warmup_step_ratio", 0.1, "did you mean optim.lr_warmup_steps_ratio"),
        ("data.balance_dp_token", True, "never read by verl 0.9.1's SFT trainer"),
        ("trainer.balance_batch", False, "never read"),
        ("trainer.seed", 2, "never read .* default seed, 0"),
        ("model.partial_pretrain", "x", "old fsdp_sft_trainer spelling; .* uses model.path"),
        ("data.micro_batch_size", 4, "data.micro_batch_size_per_gpu"),
        ("custom_reward_function.path", "x", "silently ignored"),
    ],
)
def test_misspelled_dead_and_legacy_keys_are_errors_naming_the_key(overrides, key, value, message):
    with pytest.raises(VerlConfigError, match=message):
        validate_sft({**overrides, key: value})


def test_batch_arithmetic_and_verl_dataclass_checks(overrides):
    with pytest.raises(VerlConfigError, match="multiple of the 2 ranks"):
        validate_sft({**overrides, "trainer.n_gpus_per_node": 2, "data.train_batch_size": 5})
    with pytest.raises(VerlConfigError, match="must divide the per-rank batch 6"):
        validate_sft({**overrides, "data.use_dynamic_bsz": False, "data.train_batch_size": 6})
    with pytest.raises(VerlConfigError, match="engine section"):
        validate_sft({**overrides, "engine.strategy": "fsdp3"})
    with pytest.raises(VerlConfigError, match="optim section"):
        validate_sft({**overrides, "optim.lr_scheduler_type": "warmup_stable_decay"})


def test_fewer_traces_than_one_batch_are_refused_before_the_trainer(tmp_path, overrides):
    import pyarrow as pa
    import pyarrow.parquet as pq

    from distill.sft import check_enough_traces

    train = tmp_path / "train.parquet"
    pq.write_table(pa.table({"messages": [[{"role": "user", "content": "x"}]] * 25}), train)
    config = validate_sft({**overrides, "data.train_files": str(train), "data.train_batch_size": 32})
    with pytest.raises(
        VerlConfigError, match=r"25 SFT row\(s\) .* less than one batch \('data.train_batch_size=32'\)"
    ):
        check_enough_traces(config)
    check_enough_traces(
        validate_sft({**overrides, "data.train_files": str(train), "data.train_batch_size": 8})
    )
