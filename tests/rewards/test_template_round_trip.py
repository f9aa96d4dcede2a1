"""Prompt and parser tested together: render each template's real prompt, let a "model" continue it with a
gold completion, decode the response as verl does, and score it; a corrupted completion scores below 1."""

import pytest

from data_prep import countdown, game24
from data_prep.templates import ANSWER_TAG, BOXED, SENTENCE, TEMPLATES, TERSE
from rewards import compute_score

# Templates that word the question in a sentence tell the model the answer format; a terse template's model
# learned the format in pre-training (test_mini_round_trip below).
SENTENCE_TEMPLATES = sorted(name for name, t in TEMPLATES.items() if t.question_style == SENTENCE)

PROBLEMS = {  # data source: (question as data_prep writes it, ground truth, gold answer, wrong answer)
    "countdown": (
        countdown.question([25, 3, 7], 100),
        {"target": 100, "numbers": [25, 3, 7]},
        "(7 - 3) * 25",
        "(7 + 3) * 25",
    ),
    "game24": (
        game24.question((3, 3, 8, 8)),
        {"target": 24, "numbers": [8, 3, 8, 3]},
        "8 / (3 - 8 / 3)",
        "8 * 3",
    ),
    "gsm8k": (
        "Natalia sold clips to 48 of her friends in April, and then she sold half as many clips in May. "
        "How many clips did Natalia sell altogether in April and May?",
        "72",
        "72",
        "96",
    ),
    "math": ("What is $\\frac{2}{4}$ in lowest terms?", "\\frac{1}{2}", "\\frac{1}{2}", "\\frac{1}{3}"),
}


def render_prompt(template, question, tokenizer):
    """The exact text the model continues: the pass-through template's text, or the chat rendering."""
    if template.chat_template is not None:
        return template.render_text(question)
    return tokenizer.apply_chat_template(
        template.messages(question), add_generation_prompt=True, tokenize=False
    )


def completion(template, answer):
    """How a model that follows `template` continues its prompt."""
    if template.answer_format == BOXED:
        return f"Halving works here. Let me verify once more: yes. So the answer is $\\boxed{{{answer}}}$."
    opening = "" if template.prefills_think else "<think>"
    return f"{opening} I try a few options. Wait, let me check it again: fine. </think> <answer> {answer} </answer>"


def respond(tokenizer, prompt, text):
    """verl's view: generated token ids after the prompt, decoded with special tokens skipped."""
    prompt_ids = tokenizer(prompt, add_special_tokens=False)["input_ids"]
    full_ids = tokenizer(prompt + text + tokenizer.eos_token, add_special_tokens=False)["input_ids"]
    assert full_ids[: len(prompt_ids)] == prompt_ids
    return tokenizer.decode(full_ids[len(prompt_ids) :], skip_special_tokens=True)


@pytest.mark.parametrize("template_name", SENTENCE_TEMPLATES)
def test_prompt_asks_for_what_the_parser_reads(template_name, tiny_tokenizer):
    template = TEMPLATES[template_name]
    prompt = render_prompt(template, "QUESTION", tiny_tokenizer)
    if template.answer_format == ANSWER_TAG:
        assert "<answer>" in prompt and "</answer>" in prompt
    else:
        assert "\\boxed{}" in prompt
    assert prompt.endswith("<think>") is template.prefills_think


@pytest.mark.parametrize("template_name", SENTENCE_TEMPLATES)
@pytest.mark.parametrize("source", sorted(PROBLEMS))
def test_round_trip(template_name, source, tiny_tokenizer):
    template = TEMPLATES[template_name]
    question, ground_truth, gold, wrong = PROBLEMS[source]
    prompt = render_prompt(template, question, tiny_tokenizer)
    extra_info = {"split": "test", "index": 0, "template": template_name}

    def score(text, **options):
        return compute_score(
            source, respond(tiny_tokenizer, prompt, text), ground_truth, extra_info, **options
        )

    good = score(completion(template, gold))
    assert (good["score"], good["acc"], good["format"], good["format_strict"]) == (1.0, 1, 1, 1)
    assert good["has_verify"] == 1
    assert score(completion(template, gold), strict_format=True)["score"] == 1.0

    wrong_answer = score(completion(template, wrong))
    assert (wrong_answer["score"], wrong_answer["acc"], wrong_answer["format"]) == (0.1, 0, 1)
    unanswered = score(completion(template, gold).replace("answer>", "reply>").replace("\\boxed", "\\fbox"))
    assert (unanswered["score"], unanswered["format"]) == (0.0, 0)


def test_mini_round_trip():
    """The mini template's real prompt, continued as its base model's corpus answers, through its tokenizer."""
    import random

    from mini.base import corpus
    from mini.base.vocab import build_tokenizer

    tokenizer = build_tokenizer()
    template = TEMPLATES["mini"]
    numbers, target = [9, 2, 8], 10
    prompt = template.render_text(countdown.question(numbers, target, template.question_style))
    assert template.question_style == TERSE and prompt == corpus.prompt(tuple(numbers), target)
    truth = {"target": target, "numbers": numbers}
    extra_info = {"split": "test", "index": 0, "template": "mini"}
    rng = random.Random(0)
    solved = [corpus.search_response(tuple(numbers), target, rng) for _ in range(20)]
    solved = [text for text in solved if "yes" in text]
    assert solved
    for text in solved:
        text = " " + text  # word-level tokens: the continuation's first word stands apart from <think>
        result = compute_score("countdown", respond(tokenizer, prompt, text), truth, extra_info)
        assert (
            result["score"] == 1
            and result["format_strict"] == result["has_verify"] == result["has_search"] == 1
        )
        wrong = text.rsplit("<answer>", 1)[0] + "<answer> ( 9 + 2 ) - 8 </answer>"
        assert compute_score("countdown", respond(tokenizer, prompt, wrong), truth, extra_info)["score"] < 1
