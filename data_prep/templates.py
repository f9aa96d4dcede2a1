"""Prompt templates: how a task's question is put to the model, and what answer form the reward reads.

Every template declares its `answer_format` and whether it pre-fills `<think>`; `rewards` reads both, so a
prompt and the parser of its answer cannot drift apart (tests/rewards/test_template_round_trip.py renders
each template and scores a gold continuation). verl 0.9.1 always applies the tokenizer's chat template to a
row's `prompt`; a plain-text template therefore ships the pass-through Jinja template a recipe must set as
`actor_rollout_ref.model.custom_chat_template`.

    python -m data_prep templates          # lists them with a rendered example
"""

from __future__ import annotations

from dataclasses import dataclass

ANSWER_TAG = "answer_tag"  # the final answer is the content of the last <answer>...</answer> block
BOXED = "boxed"  # the final answer is the content of the last \boxed{...}
SENTENCE = "sentence"  # the task states its question in an English sentence
TERSE = "terse"  # the task states only its data, e.g. "numbers 3 7 9 target #25" (tasks that support it)

# Renders the messages' contents back to back and ignores add_generation_prompt: the user message of a
# plain-text template already ends where the model must continue.
PASS_THROUGH_CHAT_TEMPLATE = "{% for message in messages %}{{ message['content'] }}{% endfor %}"


@dataclass(frozen=True)
class PromptTemplate:
    name: str
    answer_format: str
    prefills_think: bool
    # {question} is the task's question; the format-specific instruction comes from answer_format.
    user: str
    system: str | None = None
    # Set for plain-text templates: the chat template that passes the text through unchanged.
    chat_template: str | None = None
    # How the task words its question (SENTENCE or TERSE); a task without a terse form refuses TERSE.
    question_style: str = SENTENCE

    def messages(self, question: str) -> list[dict[str, str]]:
        chat = [{"role": "system", "content": self.system}] if self.system else []
        return [*chat, {"role": "user", "content": self.user.format(question=question)}]

    def render_text(self, question: str) -> str:
        """The exact text the model sees, for templates whose chat template is the pass-through."""
        if self.chat_template != PASS_THROUGH_CHAT_TEMPLATE:
            raise ValueError(f"template {self.name!r} is rendered by the model's own chat template")
        return "".join(message["content"] for message in self.messages(question))


_THINK_THEN_ANSWER = (
    "Think it through inside <think> </think> tags, then give only the final answer inside "
    "<answer> </answer> tags."
)

TEMPLATES: dict[str, PromptTemplate] = {
    # R1-Zero style for base models: a plain-text dialogue whose assistant turn is pre-filled up to an
    # open <think>, so the completion starts inside the reasoning block.
    "base": PromptTemplate(
        name="base",
        answer_format=ANSWER_TAG,
        prefills_think=True,
        user=(
            "A dialogue between a User and an Assistant. The User poses a problem; the Assistant reasons "
            "about it privately and then answers. The reasoning goes between <think> and </think>, the "
            "final answer between <answer> and </answer>.\n"
            "User: {question} " + _THINK_THEN_ANSWER + "\n"
            "Assistant: I will work through this carefully.\n<think>"
        ),
        chat_template=PASS_THROUGH_CHAT_TEMPLATE,
    ),
    # Chat models: the model's own chat template, same tags, nothing pre-filled.
    "instruct": PromptTemplate(
        name="instruct",
        answer_format=ANSWER_TAG,
        prefills_think=False,
        system=(
            "You are a careful problem solver. First reason step by step inside <think> </think> tags, "
            "then state only the final answer inside <answer> </answer> tags."
        ),
        user="{question}",
    ),
    # The CPU miniature's tiny base model (mini/base): the bare problem data, then an open
    # <think>. Its word-level tokenizer knows only the words of its corpus, so the question is terse.
    "mini": PromptTemplate(
        name="mini",
        answer_format=ANSWER_TAG,
        prefills_think=True,
        user="{question} <think>",
        chat_template=PASS_THROUGH_CHAT_TEMPLATE,
        question_style=TERSE,
    ),
    # Math-tuned chat models (e.g. Qwen2.5-Math) are trained to box their answer; keep that habit.
    "boxed": PromptTemplate(
        name="boxed",
        answer_format=BOXED,
        prefills_think=False,
        system="Reason step by step, and put your final answer within \\boxed{}.",
        user="{question}",
    ),
}


def get_template(name: str) -> PromptTemplate:
    try:
        return TEMPLATES[name]
    except KeyError:
        raise ValueError(f"unknown prompt template {name!r}; known: {', '.join(sorted(TEMPLATES))}") from None


def require_sentence_questions(template: PromptTemplate, task: str) -> PromptTemplate:
    """`template`, unless it wants a terse question that `task` cannot word (ValueError naming both)."""
    if template.question_style != SENTENCE:
        raise ValueError(
            f"template {template.name!r} words questions {template.question_style}ly; {task} has only "
            "sentence questions (countdown has both)"
        )
    return template
