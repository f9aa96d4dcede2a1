"""The miniature's word-level tokenizer: one token per integer 0..729, per target #0..#729 and per word.

One token per integer is what makes arithmetic learnable at this size: with character tokens a 1M-parameter
model gets most multi-digit intermediate results wrong (../shared/MINI_NOTES.md, first probe). Text is
split on spaces, so the corpus and the mini prompt template write every token apart ("( 9 * 2 ) - 8");
decoding joins tokens with single spaces, which the Countdown reward parses as written.
<eos> ends a response and is the only special token the reward never sees. Two tokens the corpus never
uses are there for verl: its agent loop picks a tokenization builder by model type, and the one for qwen2
insists that "\n" is one token and that <|im_end|> exists (verl/utils/tokenizer/continuous_token.py).

    python -m pytest tests/mini/test_base.py -q -k tokenizer
"""

from __future__ import annotations

import os

from data_prep.tasks import MINI_SIZE
from data_prep.templates import PASS_THROUGH_CHAT_TEMPLATE

PAD, EOS, UNK = "<pad>", "<eos>", "<unk>"
NEWLINE, IM_END = "\n", "<|im_end|>"
MAX_INTEGER = MINI_SIZE.max_value  # 729 = 9 * 9 * 9: the largest value three numbers in 1..9 reach
WORDS = (
    "numbers",
    "target",
    "drill",
    "try",
    "yes",
    "no",
    "guess",
    "verify",
    "<think>",
    "</think>",
    "<answer>",
    "</answer>",
    "=",
    ",",
    "(",
    ")",
    "+",
    "-",
    "*",
    "/",
)
INTEGERS = tuple(str(n) for n in range(MAX_INTEGER + 1))
# The prompt's target, #N: a token of its own, so "is this result the target?" is one attention lookup that
# no repeated intermediate result can confuse (with the target spelled like a result, the base often never
# learned to stop its search at a hit).
TARGETS = tuple(f"#{n}" for n in range(MAX_INTEGER + 1))
TOKENS = (PAD, EOS, UNK, IM_END, NEWLINE, *WORDS, *INTEGERS, *TARGETS)


def build_tokenizer(out_dir: str | os.PathLike | None = None):
    """The transformers fast tokenizer (pass-through chat template), saved to `out_dir` when given."""
    from tokenizers import AddedToken, Tokenizer, models, pre_tokenizers
    from transformers import PreTrainedTokenizerFast

    core = Tokenizer(models.WordLevel({token: index for index, token in enumerate(TOKENS)}, unk_token=UNK))
    core.pre_tokenizer = pre_tokenizers.WhitespaceSplit()
    # Matched before the whitespace split would drop it.
    core.add_tokens([AddedToken(NEWLINE, normalized=False)])
    tokenizer = PreTrainedTokenizerFast(
        tokenizer_object=core,
        pad_token=PAD,
        eos_token=EOS,
        unk_token=UNK,
        additional_special_tokens=[IM_END],
        chat_template=PASS_THROUGH_CHAT_TEMPLATE,
        clean_up_tokenization_spaces=False,
        model_max_length=512,
    )
    if out_dir is not None:
        tokenizer.save_pretrained(str(out_dir))
    return tokenizer
