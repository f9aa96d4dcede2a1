"""The CPU miniature's base model kit: tokenizer, planted corpus, packing, build cache, gate arithmetic.

python -m pytest tests/mini/test_base.py -q
"""

from __future__ import annotations

import random
import subprocess

import pytest
import torch

from data_prep.tasks import build_command
from mini.base import build, corpus, gate, pretrain
from mini.base.vocab import EOS, UNK, build_tokenizer
from rewards.arithmetic import parse_equation
from rewards.registry import compute_score

EXTRA = {"template": "mini"}


def test_tokenizer_round_trips_corpus_text_one_token_per_integer():
    tokenizer = build_tokenizer()
    text = "try 9 * 81 = 729 , 729 - 8 = 721 yes verify ( 9 * 81 ) - 8 = 721 </think> <answer> ( 9 * 81 ) - 8 </answer>"
    ids = tokenizer(text)["input_ids"]
    assert len(ids) == len(text.split())
    assert tokenizer.decode(ids + [tokenizer.convert_tokens_to_ids(EOS)], skip_special_tokens=True) == text
    assert tokenizer.convert_ids_to_tokens(tokenizer("730 hello")["input_ids"]) == [UNK, UNK]


def test_saved_tokenizer_loads_unchanged_through_autotokenizer(tmp_path):
    """transformers 5 rebuilds a qwen2 model's tokenizer as byte-level BPE unless the dir is made loadable."""
    from transformers import AutoTokenizer
    from verl.utils import hf_tokenizer

    result = pretrain.pretrain(
        pretrain.PretrainConfig(
            steps=1, warmup_steps=1, hidden_size=12, num_heads=2, num_layers=1, intermediate_size=16
        ),
        corpus.problems()[:5],
    )
    build.save(result, tmp_path)
    text = "numbers 9 2 8 target #10 <think>"
    expected = build_tokenizer()(text)["input_ids"]
    assert AutoTokenizer.from_pretrained(str(tmp_path))(text)["input_ids"] == expected
    assert hf_tokenizer(str(tmp_path))(text)["input_ids"] == expected


def test_target_tokens_start_at_their_integer_plus_one_shared_offset():
    from transformers import Qwen2ForCausalLM

    from mini.base.vocab import INTEGERS, TARGETS

    tokenizer = build_tokenizer()
    config = pretrain.PretrainConfig(hidden_size=12, num_heads=2, num_layers=1, intermediate_size=16)
    torch.manual_seed(0)
    model = Qwen2ForCausalLM(pretrain.model_config(config, len(tokenizer), 0, 1))
    pretrain.align_target_embeddings(model, tokenizer)
    weights = model.get_input_embeddings().weight.detach()
    integers = weights[tokenizer.convert_tokens_to_ids(list(INTEGERS))]
    targets = weights[tokenizer.convert_tokens_to_ids(list(TARGETS))]
    offsets = targets - integers
    assert torch.allclose(offsets, offsets[0].expand_as(offsets), atol=1e-6)
    assert offsets[0].norm() > 0 and not torch.allclose(integers[1], integers[2])


def test_routes_are_exact_and_cover_every_data_prep_problem(tmp_path):
    for numbers in [(9, 2, 8), (4, 4, 6), (1, 1, 1), (9, 9, 9), (7, 3, 5)]:
        for route in corpus.routes(numbers):
            equation = parse_equation(route.expression())
            assert equation.value == route.second.value
            assert sorted(equation.literals) == sorted(numbers)
            assert route.first.value > 0 and route.second.value > 0
    pool = set(corpus.problems())
    assert len(pool) == 2145
    out = tmp_path / "data"
    subprocess.run(build_command("countdown-mini", "mini", str(out)), check=True, capture_output=True)
    for split in ("train", "test"):
        held = build.test_keys(out / "countdown-mini" / "mini" / f"{split}.parquet")
        assert held <= pool, f"data_prep {split} problems the exhaustive search cannot reach"


def test_planted_search_scores_as_the_reward_reads_it():
    rng = random.Random(0)
    problems = corpus.problems()
    solved = tried = 0
    for numbers, target in rng.sample(problems, 300):
        response = corpus.search_response(numbers, target, rng)
        result = compute_score("countdown", response, {"target": target, "numbers": list(numbers)}, EXTRA)
        assert result["format_strict"] == 1 and result["has_search"] == 1
        hit = "yes" in response.split()
        assert result["has_verify"] == hit and result["acc"] >= hit  # a failed search may still guess right
        right, total = gate.arithmetic_right([response])
        assert right == total > 0
        solved, tried = solved + result["acc"], tried + 1
    assert 0.6 < solved / tried < 0.9  # the 5-line cap: most, not all, searches succeed


def test_no_prior_corpus_has_no_search_and_no_verification():
    rng = random.Random(1)
    examples = [corpus.example(corpus.problems(), 0.0, rng) for _ in range(2000)]
    text = " ".join(response for _, response in examples)
    assert " try " not in f" {text} " and "verify" not in text
    assert sum(prompt == "drill" for prompt, _ in examples) > 100


def test_packed_examples_do_not_see_each_other():
    tokenizer = build_tokenizer()
    config = pretrain.PretrainConfig(hidden_size=24, num_heads=2, num_layers=2, intermediate_size=32)
    packer = pretrain.Packer(tokenizer, corpus.problems(), 0.2, random.Random(0))
    ids, positions, labels, mask = packer.batch(2)
    assert ids.shape == positions.shape == labels.shape == (2, pretrain.ROW_TOKENS)
    torch.manual_seed(0)
    model = pretrain_model(config, tokenizer)
    starts = (positions[0] == 0).nonzero().squeeze(1).tolist()
    begin, end = starts[1], starts[2]
    with torch.no_grad():
        packed = model(input_ids=ids, position_ids=positions, attention_mask=mask).logits[0, begin:end]
        alone = model(input_ids=ids[:1, begin:end]).logits[0]
    assert torch.allclose(packed, alone, atol=1e-5)
    assert (labels[0, begin:end] != pretrain.IGNORE).sum() > 0


def pretrain_model(config, tokenizer):
    from transformers import Qwen2ForCausalLM

    return Qwen2ForCausalLM(pretrain.model_config(config, len(tokenizer), 0, 1)).eval()


def test_build_is_reused_by_hash_and_never_replaced_silently(tmp_path):
    data = tmp_path / "data"
    subprocess.run(build_command("countdown-mini", "mini", str(data)), check=True, capture_output=True)
    split = data / "countdown-mini" / "mini" / "test.parquet"
    out = tmp_path / "base"
    path, record, built = build.build_base(out, split, "none", steps=2)
    assert built and record["held_out_problems"] == 256 and record["pool_problems"] == 2145 - 256
    weights = (out / "model.safetensors").read_bytes()
    assert build.build_base(out, split, "none", steps=2)[2] is False
    with pytest.raises(FileExistsError, match="another build"):
        build.build_base(out, split, "none", steps=3)
    assert (out / "model.safetensors").read_bytes() == weights
    path, record, built = build.build_base(out, split, "none", steps=3, force=True)
    assert built and record["config"]["steps"] == 3


def test_gate_helpers_score_and_check_arithmetic():
    truths = [{"target": 10, "numbers": [9, 2, 8]}] * 2
    right = (
        "try 9 * 2 = 18 , 18 - 8 = 10 yes verify ( 9 * 2 ) - 8 = 10 </think> <answer> ( 9 * 2 ) - 8 </answer>"
    )
    wrong = "try 9 * 2 = 17 , 17 - 8 = 10 no guess </think> <answer> 9 + 2 + 8 </answer>"
    assert gate.accuracy([right, wrong], truths) == 0.5
    assert gate.arithmetic_right([right, wrong]) == (2, 4)


def test_the_build_hash_follows_code_not_prose():
    source = '"""Doc."""\nimport os\n\n\ndef f(x):\n    """Doc."""\n    return x + 1  # why\n'
    moved = 'from elsewhere import os\n\n\ndef f(x):\n    """Reworded."""\n    return x + 1\n'
    assert build.code_of(source) == build.code_of(moved)
    assert build.code_of(source) != build.code_of(source.replace("x + 1", "x + 2"))


def test_the_committed_bases_are_the_builds_the_code_names(tmp_path):
    """Changing the code that shapes the weights (build.SHAPING_MODULES) or MINI_SIZE makes the committed
    bases stale: rebuild them (`make mini` rebuilds what no longer matches) and commit the new builds."""
    import json

    from launch.recipe import REPO_ROOT
    from mini import BASES

    data = tmp_path / "data"
    subprocess.run(build_command("countdown-mini", "mini", str(data)), check=True, capture_output=True)
    held_out = build.test_keys(data / "countdown-mini" / "mini" / "test.parquet")
    # The language miniature's base is built by `make mini RECIPE=countdown-mini-r1` until it is committed.
    committed = {prior: out for prior, out in BASES.items() if (REPO_ROOT / out / build.BUILD_FILE).is_file()}
    assert {"search", "none", "long", "short"} <= set(committed)
    for prior, out in committed.items():
        record = json.loads((REPO_ROOT / out / build.BUILD_FILE).read_text())
        assert record["prior"] == prior
        assert record["hash"] == build.build_hash(build.record_config(record), held_out), prior
