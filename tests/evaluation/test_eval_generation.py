"""The generation server's overrides, composed offline against verl 0.9.1's own Hydra config (no GPU).

`python -m verl.trainer.main_generation_server` composes `ppo_trainer` like the trainer does; here the same
composition runs, then the config objects its vLLM replica builds (RolloutConfig, HFModelConfig) are built
from it, and the values the server reads are checked.
"""

import pytest

from data_prep.templates import get_template
from evaluation.generate import Decoding, GenerationError, Hardware, generation_overrides, require_gpu
from launch.cpu_backend.tiny_model import build_tiny_model
from launch.verl_config import compose, to_hydra_overrides


@pytest.fixture(scope="module")
def tiny_model(tmp_path_factory):
    return build_tiny_model(tmp_path_factory.mktemp("model") / "tiny")


def test_overrides_compose_into_the_config_the_server_reads(tiny_model, tmp_path):
    template_file = tmp_path / "countdown.chat_template.jinja"
    template_file.write_text(get_template("base").chat_template)
    overrides = generation_overrides(
        str(tiny_model),
        tmp_path / "test.parquet",
        tmp_path / "out" / "countdown.generations.parquet",
        Decoding(n=16, temperature=0.6, top_p=0.95, max_tokens=1024),
        Hardware(gpus=4, tensor_parallel=2),
        chat_template_path=template_file,
    )
    config = compose(overrides)
    rollout = config.actor_rollout_ref.rollout
    # What main_generation_server reads, by the names it reads them with.
    assert config.data.train_files == [str(tmp_path / "test.parquet")]
    assert config.data.output_path == str(tmp_path / "out" / "countdown.generations.parquet")
    assert config.data.prompt_key == "prompt"
    assert (config.trainer.n_gpus_per_node * config.trainer.nnodes) // rollout.tensor_model_parallel_size == 2
    assert (rollout.n, rollout.temperature, rollout.top_p, rollout.response_length) == (16, 0.6, 0.95, 1024)
    assert config.actor_rollout_ref.model.path == str(tiny_model)

    from verl.utils.config import omega_conf_to_dataclass
    from verl.workers.config import HFModelConfig

    rollout_config = omega_conf_to_dataclass(rollout)  # as RolloutReplica.__init__ does
    assert rollout_config.name == "vllm"
    assert rollout_config.load_format == "auto"  # not the random `dummy` weights
    assert rollout_config.engine_kwargs["vllm"] == {"chat_template": str(template_file)}
    model_config = omega_conf_to_dataclass(config.actor_rollout_ref.model, dataclass_type=HFModelConfig)
    assert model_config.local_path == str(tiny_model)


def test_greedy_pass_satisfies_the_servers_own_check(tiny_model, tmp_path):
    greedy = Decoding(n=16, temperature=0.6, top_p=0.95, max_tokens=256).greedy()
    config = compose(
        generation_overrides(
            str(tiny_model), tmp_path / "t.parquet", tmp_path / "o.parquet", greedy, Hardware(1)
        )
    )
    rollout = config.actor_rollout_ref.rollout
    assert (rollout.temperature, rollout.n, rollout.response_length) == (
        0.0,
        1,
        256,
    )  # server asserts n == 1 at T=0
    assert "chat_template" not in config.actor_rollout_ref.rollout.engine_kwargs.vllm


def test_overrides_are_passed_as_valid_hydra_strings(tiny_model, tmp_path):
    spaced = tmp_path / "dir with space"
    overrides = generation_overrides(
        str(tiny_model), spaced / "t.parquet", spaced / "o.parquet", Decoding(2, 1.0, 1.0, 8), Hardware(1)
    )
    strings = to_hydra_overrides(overrides)
    assert f"+data.output_path='{spaced / 'o.parquet'}'" in strings
    assert compose(overrides).data.output_path == str(spaced / "o.parquet")


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"n": 4, "temperature": 0.0}, "greedy decoding"),
        ({"n": 0}, "--n must be at least 1"),
        ({"top_p": 0.0}, "--top-p"),
        ({"max_tokens": 0}, "--max-tokens"),
    ],
)
def test_bad_decoding_settings_are_errors_naming_the_flag(kwargs, message):
    with pytest.raises(ValueError, match=message):
        Decoding(**{"n": 4, "temperature": 0.6, "top_p": 0.95, "max_tokens": 64, **kwargs})


def test_gpu_count_must_fit_the_tensor_parallel_size(tiny_model, tmp_path):
    with pytest.raises(ValueError, match="not a multiple of --tensor-parallel 2"):
        generation_overrides(
            str(tiny_model), tmp_path / "t", tmp_path / "o", Decoding(1, 0.0, 1.0, 8), Hardware(3, 2)
        )


def test_no_gpu_fails_fast_naming_the_cpu_path():
    import torch

    if torch.cuda.is_available():
        pytest.skip("this machine has a GPU")
    with pytest.raises(GenerationError, match="python -m launch score"):
        require_gpu()
