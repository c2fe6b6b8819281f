"""The loss mask on real chat templates, built on small local tokenizers."""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

import pytest
from tokenizers import Tokenizer, decoders, models, pre_tokenizers, processors, trainers
from transformers import PreTrainedTokenizerFast

from ftstudio.core.dataset.tokens import ExampleTokenizer, TokenizedExample
from ftstudio.engine.chat_mask import (
    IGNORE_INDEX,
    ChatTemplateTokenizer,
    load_tokenizer,
    preview_example,
    training_labels,
)
from tests.engine.templates import FAMILIES, LLAMA3, Family

SYSTEM = "You are a terse IT helper."
FIRST = "Restart the printer, then check its cable."
SECOND = "Reinstall the driver from the vendor site."
THIRD = "Glad it works now."
CONVERSATION: list[dict[str, Any]] = [
    {"role": "system", "content": SYSTEM},
    {"role": "user", "content": "My printer says it is offline."},
    {"role": "assistant", "content": FIRST},
    {"role": "user", "content": "It is still offline."},
    {"role": "assistant", "content": SECOND},
    {"role": "user", "content": "Thanks, that worked!"},
    {"role": "assistant", "content": THIRD},
]
CORPUS = [
    SYSTEM,
    "My printer says it is offline. It is still offline. Thanks, that worked!",
    f"{FIRST} {SECOND} {THIRD}",
    "The printer is offline now. Restart it. Yes. Is it on?",
]
BY_NAME = {family.name: family for family in FAMILIES}


def build_tokenizer(family: Family) -> PreTrainedTokenizerFast:
    """A tiny byte-level BPE with the family's special tokens and its real chat template."""
    specials = [t for t in (family.bos, family.eos, *family.specials) if t]
    backend = Tokenizer(models.BPE())
    backend.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    backend.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(
        vocab_size=420,
        special_tokens=specials,
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
        show_progress=False,
    )
    backend.train_from_iterator(CORPUS, trainer=trainer)
    if family.name.startswith("llama"):
        # Like the real Llama 3 tokenizer.json: plain tokenisation adds BOS.
        bos_id = backend.token_to_id(family.bos)
        backend.post_processor = processors.TemplateProcessing(
            single=f"{family.bos} $A", special_tokens=[(family.bos, bos_id)]
        )
    tokenizer = PreTrainedTokenizerFast(
        tokenizer_object=backend,
        bos_token=family.bos,
        eos_token=family.eos,
        additional_special_tokens=list(family.specials),
        clean_up_tokenization_spaces=False,
    )
    tokenizer.chat_template = family.template
    return tokenizer


@pytest.fixture(scope="module")
def tokenizers_by_family() -> dict[str, PreTrainedTokenizerFast]:
    return {family.name: build_tokenizer(family) for family in FAMILIES}


@pytest.fixture(scope="module")
def encoders(
    tokenizers_by_family: dict[str, PreTrainedTokenizerFast],
) -> dict[str, ChatTemplateTokenizer]:
    return {name: ChatTemplateTokenizer(tok) for name, tok in tokenizers_by_family.items()}


def trained_runs(tokenizer: PreTrainedTokenizerFast, example: TokenizedExample) -> list[str]:
    """Each run of consecutive trained tokens, decoded."""
    runs: list[list[int]] = []
    previous = False
    for token_id, flag in zip(example.ids, example.trained, strict=True):
        if flag:
            if not previous:
                runs.append([])
            runs[-1].append(token_id)
        previous = flag
    return [tokenizer.decode(run, skip_special_tokens=False) for run in runs]


def template_messages(family: Family, messages: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The messages as the family's users pass them (system folded where it has no role)."""
    if family.system or messages[0]["role"] != "system":
        return messages
    first = {"role": "user", "content": messages[0]["content"] + "\n\n" + messages[1]["content"]}
    return [first, *messages[2:]]


def expected_run(family: Family, content: str) -> str:
    return family.answer_prefix + content + family.end_of_turn


# ---------------------------------------------------------------- real templates


@pytest.mark.parametrize("name", list(BY_NAME))
def test_every_answer_and_its_end_of_turn_are_trained(
    name: str,
    tokenizers_by_family: dict[str, PreTrainedTokenizerFast],
    encoders: dict[str, ChatTemplateTokenizer],
) -> None:
    family, tokenizer = BY_NAME[name], tokenizers_by_family[name]
    example = encoders[name].tokenize_example({"messages": CONVERSATION})

    assert trained_runs(tokenizer, example) == [
        expected_run(family, FIRST),
        expected_run(family, SECOND),
        expected_run(family, THIRD),
    ]
    # The mask applies to the exact training text: the template's own tokenisation.
    rendered = tokenizer.apply_chat_template(template_messages(family, CONVERSATION))
    assert example.ids == rendered["input_ids"]
    assert len(example.trained) == len(example.ids)
    # Nothing of the system prompt, the questions or the headers carries loss.
    untrained = tokenizer.decode(
        [i for i, f in zip(example.ids, example.trained, strict=True) if not f]
    )
    for question in ("My printer says it is offline.", "It is still offline.", "Thanks"):
        assert question in untrained
    for answer in (FIRST, SECOND, THIRD):
        assert answer not in untrained


@pytest.mark.parametrize("name", list(BY_NAME))
def test_a_weight_0_answer_is_not_trained(
    name: str,
    tokenizers_by_family: dict[str, PreTrainedTokenizerFast],
    encoders: dict[str, ChatTemplateTokenizer],
) -> None:
    family, tokenizer = BY_NAME[name], tokenizers_by_family[name]
    messages = copy.deepcopy(CONVERSATION)
    messages[4]["weight"] = 0
    messages[2]["weight"] = 1

    example = encoders[name].tokenize_example({"messages": messages})

    assert trained_runs(tokenizer, example) == [
        expected_run(family, FIRST),
        expected_run(family, THIRD),
    ]
    assert (
        example.ids
        == tokenizer.apply_chat_template(template_messages(family, messages))["input_ids"]
    )


def test_bos_is_written_once(
    tokenizers_by_family: dict[str, PreTrainedTokenizerFast],
    encoders: dict[str, ChatTemplateTokenizer],
) -> None:
    tokenizer = tokenizers_by_family["llama3"]
    assert tokenizer("Hi")["input_ids"][0] == tokenizer.bos_token_id  # plain calls add BOS

    example = encoders["llama3"].tokenize_example({"messages": CONVERSATION})

    assert example.ids.count(tokenizer.bos_token_id) == 1
    assert example.ids[0] == tokenizer.bos_token_id


def test_injected_default_system_prompt_and_date_are_not_trained(
    tokenizers_by_family: dict[str, PreTrainedTokenizerFast],
    encoders: dict[str, ChatTemplateTokenizer],
) -> None:
    messages = CONVERSATION[1:3]  # no system message
    for name, injected in (
        ("qwen2.5", "You are Qwen, created by Alibaba Cloud."),
        ("llama3.1", "Cutting Knowledge Date: December 2023"),
    ):
        encoded = encoders[name].encode({"messages": messages})
        assert injected in encoded.text
        runs = trained_runs(tokenizers_by_family[name], encoded.tokenized())
        assert runs == [expected_run(BY_NAME[name], FIRST)]


@pytest.mark.parametrize("name", ["gemma2", "mistral-v0.1"])
def test_templates_without_system_role_raise_and_the_system_prompt_is_folded(
    name: str,
    tokenizers_by_family: dict[str, PreTrainedTokenizerFast],
    encoders: dict[str, ChatTemplateTokenizer],
) -> None:
    tokenizer = tokenizers_by_family[name]
    with pytest.raises(Exception, match="(?i)system role not supported|must alternate"):
        tokenizer.apply_chat_template(CONVERSATION, tokenize=False)  # the official behaviour

    encoded = encoders[name].encode({"messages": CONVERSATION})

    assert f"{SYSTEM}\n\nMy printer says it is offline." in encoded.text
    assert any("no system role" in note for note in encoded.notes)


def test_a_template_that_leaves_out_the_system_prompt_says_so(
    encoders: dict[str, ChatTemplateTokenizer],
) -> None:
    # Mistral v0.3 puts the system prompt into the last user message only, so a
    # conversation ending with an answer loses it, and earlier turns re-render
    # differently as the conversation grows.
    encoded = encoders["mistral-v0.3"].encode({"messages": CONVERSATION})

    assert SYSTEM not in encoded.text
    assert any("leaves out the system prompt" in note for note in encoded.notes)
    prompt_only = encoders["mistral-v0.3"].tokenizer.apply_chat_template(
        CONVERSATION[:4], tokenize=False, add_generation_prompt=True
    )
    assert SYSTEM in prompt_only


def test_template_errors_are_plain_value_errors(encoders: dict[str, ChatTemplateTokenizer]) -> None:
    two_users = [
        {"role": "user", "content": "Hi"},
        {"role": "user", "content": "Hello?"},
        {"role": "assistant", "content": "Yes."},
    ]
    with pytest.raises(ValueError, match="must alternate"):
        encoders["gemma2"].tokenize_example({"messages": two_users})
    # Folding cannot help a system prompt that is not followed by a user message.
    with pytest.raises(ValueError, match="System role not supported"):
        encoders["gemma2"].tokenize_example(
            {
                "messages": [
                    {"role": "system", "content": "S"},
                    {"role": "assistant", "content": "A"},
                ]
            }
        )


def test_whitespace_around_an_answer(
    tokenizers_by_family: dict[str, PreTrainedTokenizerFast],
    encoders: dict[str, ChatTemplateTokenizer],
) -> None:
    messages = [
        {"role": "user", "content": "My printer says it is offline."},
        {"role": "assistant", "content": "  Restart it.\n"},
    ]
    # Llama 3 trims the content: the training text has none of the whitespace.
    llama = encoders["llama3"].tokenize_example({"messages": messages})
    assert trained_runs(tokenizers_by_family["llama3"], llama) == ["Restart it.<|eot_id|>"]
    # ChatML keeps it, and it belongs to the answer.
    qwen = encoders["qwen2.5"].tokenize_example({"messages": messages})
    assert trained_runs(tokenizers_by_family["qwen2.5"], qwen) == ["  Restart it.\n<|im_end|>"]


def test_mistral_space_before_the_answer_is_trained(
    tokenizers_by_family: dict[str, PreTrainedTokenizerFast],
    encoders: dict[str, ChatTemplateTokenizer],
) -> None:
    # Mistral writes "[/INST] answer": the model generates the space. "Zap" is not in
    # the corpus, so the space stays a token of its own here.
    messages = [{"role": "user", "content": "Hi"}, {"role": "assistant", "content": "Zap."}]
    encoded = encoders["mistral-v0.3"].encode({"messages": messages})
    first = encoded.trained.index(True)

    assert encoded.pieces[first - 1 : first + 1] == ["[/INST]", " "]
    assert trained_runs(tokenizers_by_family["mistral-v0.3"], encoded.tokenized()) == [" Zap.</s>"]


@pytest.mark.parametrize("name", ["qwen2.5", "phi3"])
def test_newline_after_the_end_of_turn_token_is_not_trained(
    name: str, encoders: dict[str, ChatTemplateTokenizer]
) -> None:
    encoded = encoders[name].encode({"messages": CONVERSATION[1:3]})
    end_of_turn = BY_NAME[name].end_of_turn
    index = max(i for i, piece in enumerate(encoded.pieces) if piece == end_of_turn)

    assert encoded.trained[index]
    assert encoded.pieces[index + 1] == "\n"
    assert not encoded.trained[index + 1]
    # Phi-3 closes the whole conversation with EOS; that is not part of the answer.
    assert not any(encoded.trained[index + 1 :])


def test_same_text_from_the_user_and_the_assistant(
    tokenizers_by_family: dict[str, PreTrainedTokenizerFast],
    encoders: dict[str, ChatTemplateTokenizer],
) -> None:
    messages = [
        {"role": "user", "content": "Yes."},
        {"role": "assistant", "content": "Yes."},
        {"role": "user", "content": "Yes."},
        {"role": "assistant", "content": "Yes.", "weight": 0},
    ]
    example = encoders["phi3"].tokenize_example({"messages": messages})
    pieces = encoders["phi3"].encode({"messages": messages}).pieces
    # The first answer (after the first <|assistant|>) is trained, and nothing else.
    first_answer = pieces.index("<|assistant|>") + 2  # header, newline, answer
    trained_at = [i for i, flag in enumerate(example.trained) if flag]
    assert trained_at[0] == first_answer
    assert trained_runs(tokenizers_by_family["phi3"], example) == ["Yes.<|end|>"]


def test_an_answer_that_repeats_the_header_word(
    tokenizers_by_family: dict[str, PreTrainedTokenizerFast],
    encoders: dict[str, ChatTemplateTokenizer],
) -> None:
    # Gemma's answer header is "<start_of_turn>model\n"; the answer "model" is found
    # where the template puts the answer, not in the header.
    messages = [
        {"role": "user", "content": "Which word?"},
        {"role": "assistant", "content": "model"},
    ]
    encoded = encoders["gemma2"].encode({"messages": messages})
    first = encoded.trained.index(True)

    assert "".join(encoded.pieces[:first]).endswith("<start_of_turn>model\n")
    assert trained_runs(tokenizers_by_family["gemma2"], encoded.tokenized()) == [
        "model<end_of_turn>"
    ]


def test_a_template_the_probes_cannot_render_still_finds_the_end_of_turn(
    tokenizers_by_family: dict[str, PreTrainedTokenizerFast],
) -> None:
    tokenizer = copy.deepcopy(tokenizers_by_family["phi3"])
    # Refuses conversations without a system prompt, as the probes are.
    tokenizer.chat_template = (
        "{% if messages[0]['role'] != 'system' %}{{ raise_exception('Needs a system prompt') }}"
        "{% endif %}" + BY_NAME["phi3"].template
    )
    example = ChatTemplateTokenizer(tokenizer).tokenize_example({"messages": CONVERSATION})

    assert trained_runs(tokenizer, example) == [
        f"{FIRST}<|end|>",
        f"{SECOND}<|end|>",
        f"{THIRD}<|end|>",
    ]


def test_private_use_characters_in_the_data_use_the_search_fallback(
    tokenizers_by_family: dict[str, PreTrainedTokenizerFast],
    encoders: dict[str, ChatTemplateTokenizer],
) -> None:
    # The marker characters come from the Unicode private-use area; data may hold them.
    messages = copy.deepcopy(CONVERSATION)
    messages[0]["content"] = "Icons: \ue000 \ue001."
    messages[1]["content"] = FIRST  # the user repeats the answer text first
    example = encoders["qwen2.5"].tokenize_example({"messages": messages})

    assert trained_runs(tokenizers_by_family["qwen2.5"], example) == [
        f"{FIRST}<|im_end|>",
        f"{SECOND}<|im_end|>",
        f"{THIRD}<|im_end|>",
    ]


def test_a_template_that_rewrites_answers_is_refused(
    tokenizers_by_family: dict[str, PreTrainedTokenizerFast],
) -> None:
    tokenizer = copy.deepcopy(tokenizers_by_family["phi3"])
    tokenizer.chat_template = (
        "{% for m in messages %}<|{{ m.role }}|>\n{{ m.content | reverse }}<|end|>\n{% endfor %}"
    )
    with pytest.raises(ValueError, match="message 2 is not in the text"):
        ChatTemplateTokenizer(tokenizer).tokenize_example({"messages": CONVERSATION[1:3]})


def test_a_template_without_end_of_turn_trains_the_answer_and_says_so(
    tokenizers_by_family: dict[str, PreTrainedTokenizerFast],
) -> None:
    tokenizer = copy.deepcopy(tokenizers_by_family["phi3"])
    tokenizer.chat_template = (
        "{% for m in messages %}{{ m.role }}: {{ m.content }}\n{% endfor %}"
        "{% if add_generation_prompt %}assistant:{% endif %}"
    )
    encoded = ChatTemplateTokenizer(tokenizer).encode({"messages": CONVERSATION[1:3]})

    assert trained_runs(tokenizer, encoded.tokenized()) == [f" {FIRST}"]
    assert any("No end-of-turn token" in note for note in encoded.notes)


def test_tiny_model_mask_equals_generation_markers(tiny_model_dir: Path) -> None:
    tokenizer = load_tokenizer(tiny_model_dir)
    assert "{% generation %}" in tokenizer.chat_template
    encoder = ChatTemplateTokenizer(tokenizer)
    conversations = [
        CONVERSATION,
        CONVERSATION[1:3],
        [*CONVERSATION[1:5], {"role": "user", "content": "And then?"}],
        [
            {"role": "user", "content": "Yes."},
            {"role": "assistant", "content": "Yes."},
            {"role": "user", "content": "  spaced  "},
            {"role": "assistant", "content": "  spaced  "},
        ],
    ]
    for messages in conversations:
        reference = tokenizer.apply_chat_template(
            messages, return_dict=True, return_assistant_tokens_mask=True
        )
        example = encoder.tokenize_example({"messages": messages})
        assert example.ids == reference["input_ids"]
        assert example.trained == [bool(m) for m in reference["assistant_masks"]]
        assert example.trained_count > 0


# ---------------------------------------------------------------- completion and preference


def test_completion_trains_the_completion_and_eos(
    tokenizers_by_family: dict[str, PreTrainedTokenizerFast],
    encoders: dict[str, ChatTemplateTokenizer],
) -> None:
    tokenizer = tokenizers_by_family["llama3"]
    prompt, completion = "My printer says it is offline.\n", "Restart the printer."
    example = encoders["llama3"].tokenize_example({"prompt": prompt, "completion": completion})

    assert example.ids == tokenizer(prompt + completion)["input_ids"] + [tokenizer.eos_token_id]
    assert example.ids[0] == tokenizer.bos_token_id
    assert trained_runs(tokenizer, example) == [completion + tokenizer.eos_token]


def test_a_token_across_the_prompt_completion_edge_is_trained(
    tokenizers_by_family: dict[str, PreTrainedTokenizerFast],
    encoders: dict[str, ChatTemplateTokenizer],
) -> None:
    tokenizer = tokenizers_by_family["qwen2.5"]
    assert len(tokenizer.tokenize(" offline")) == 1
    example = encoders["qwen2.5"].tokenize_example(
        {"prompt": "The printer is off", "completion": "line now."}
    )
    assert trained_runs(tokenizer, example) == [" offline now.<|im_end|>"]


def test_preference_trains_the_chosen_answer_only(
    tokenizers_by_family: dict[str, PreTrainedTokenizerFast],
    encoders: dict[str, ChatTemplateTokenizer],
) -> None:
    tokenizer = tokenizers_by_family["llama3"]
    prompt = CONVERSATION[:4]  # holds an earlier answer: context, not trained
    data = {
        "prompt": prompt,
        "chosen": [{"role": "assistant", "content": SECOND}],
        "rejected": [{"role": "assistant", "content": "Buy a new one."}],
    }
    example = encoders["llama3"].tokenize_example(data)

    assert trained_runs(tokenizer, example) == [f"{SECOND}<|eot_id|>"]
    assert example.ids == tokenizer.apply_chat_template([*prompt, *data["chosen"]])["input_ids"]

    plain = encoders["llama3"].tokenize_example(
        {"prompt": "Printer offline?\n", "chosen": "Restart it.", "rejected": "No."}
    )
    assert trained_runs(tokenizer, plain) == ["Restart it.<|end_of_text|>"]


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ({"messages": "hello"}, '"messages" must be a list'),
        ({"messages": [{"role": "user", "content": None}]}, r"messages\[0\].content must be text"),
        ({"messages": [{"content": "x"}]}, r'messages\[0\] has no "role"'),
        ({"text": "raw"}, "nothing to tokenise"),
        ({"prompt": "a", "completion": ["b"]}, "must both be text"),
    ],
)
def test_malformed_examples_raise_plain_value_errors(
    data: dict[str, Any], message: str, encoders: dict[str, ChatTemplateTokenizer]
) -> None:
    with pytest.raises(ValueError, match=message):
        encoders["qwen2.5"].tokenize_example(data)


def test_is_an_example_tokenizer(encoders: dict[str, ChatTemplateTokenizer]) -> None:
    tokenizer: ExampleTokenizer = encoders["phi3"]
    example = tokenizer.tokenize_example({"messages": CONVERSATION})
    labels = training_labels(example)

    assert len(labels) == len(example.ids)
    assert all(
        label == (token_id if flag else IGNORE_INDEX)
        for label, token_id, flag in zip(labels, example.ids, example.trained, strict=True)
    )


# ---------------------------------------------------------------- preview


def test_preview_lists_every_token_and_the_truncation(
    tokenizers_by_family: dict[str, PreTrainedTokenizerFast],
) -> None:
    tokenizer = tokenizers_by_family["llama3"]
    full = preview_example(tokenizer, {"messages": CONVERSATION}, None)

    assert full["text"] == tokenizer.apply_chat_template(CONVERSATION, tokenize=False)
    assert "".join(t["token"] for t in full["tokens"]) == full["text"]
    assert [t["id"] for t in full["tokens"]] == tokenizer.apply_chat_template(CONVERSATION)[
        "input_ids"
    ]
    assert full["count"] == len(full["tokens"])
    assert full["trained_count"] == sum(t["trained"] for t in full["tokens"])
    assert (full["max_length"], full["truncated"], full["truncated_trained"]) == (None, 0, 0)
    assert full["kind"] == "chat"
    assert full["tokens"][-1]["token"] == "<|eot_id|>"
    assert full["tokens"][-1]["trained"] is True

    # Cut inside the last answer: its tail (and end-of-turn token) is lost.
    cut = preview_example(tokenizer, {"messages": CONVERSATION}, full["count"] - 3)
    assert cut["tokens"] == full["tokens"]
    assert (cut["max_length"], cut["truncated"], cut["truncated_trained"]) == (
        full["count"] - 3,
        3,
        3,
    )
    # Cut where the last answer starts: all of it and its end-of-turn token are lost.
    flags = [t["trained"] for t in full["tokens"]]
    last_start = max(i for i in range(1, len(flags)) if flags[i] and not flags[i - 1])
    answer_tokens = len(tokenizer.tokenize(THIRD)) + 1
    before = preview_example(tokenizer, {"messages": CONVERSATION}, last_start)
    assert before["truncated"] == before["truncated_trained"] == answer_tokens
    # A limit above the length cuts nothing.
    roomy = preview_example(tokenizer, {"messages": CONVERSATION}, full["count"] + 10)
    assert (roomy["truncated"], roomy["truncated_trained"]) == (0, 0)


def test_preview_of_completion_shows_the_special_tokens(
    encoders: dict[str, ChatTemplateTokenizer],
) -> None:
    preview = preview_example(encoders["llama3"], {"prompt": "Hi ", "completion": "Yes."}, 100)

    pieces = [t["token"] for t in preview["tokens"]]
    assert pieces[0] == "<|begin_of_text|>"
    assert pieces[-1] == "<|end_of_text|>"
    assert preview["text"] == "<|begin_of_text|>Hi Yes.<|end_of_text|>"
    assert [t["trained"] for t in preview["tokens"]][0] is False
    assert preview["kind"] == "completion"


def test_preview_rejects_a_max_length_below_1(encoders: dict[str, ChatTemplateTokenizer]) -> None:
    with pytest.raises(ValueError, match="at least 1"):
        preview_example(encoders["phi3"], {"messages": CONVERSATION}, 0)


# ---------------------------------------------------------------- loading


def test_load_tokenizer_from_a_model_folder(tiny_model_dir: Path) -> None:
    tokenizer = load_tokenizer(tiny_model_dir)
    assert tokenizer.chat_template
    assert ChatTemplateTokenizer(tokenizer).tokenize_example({"messages": CONVERSATION}).ids


def test_load_tokenizer_errors_name_the_folder(
    tmp_path: Path, tokenizers_by_family: dict[str, PreTrainedTokenizerFast]
) -> None:
    missing = tmp_path / "nowhere"
    with pytest.raises(FileNotFoundError, match="nowhere.*does not exist"):
        load_tokenizer(missing)

    a_file = tmp_path / "model.txt"
    a_file.write_text("x", encoding="utf-8")
    with pytest.raises(ValueError, match="model.txt is a file"):
        load_tokenizer(a_file)

    empty = tmp_path / "empty"
    empty.mkdir()
    with pytest.raises(ValueError, match="empty holds no tokenizer"):
        load_tokenizer(empty)

    broken = tmp_path / "broken"
    broken.mkdir()
    (broken / "tokenizer.json").write_text("{not json", encoding="utf-8")
    with pytest.raises(ValueError, match="broken could not be loaded"):
        load_tokenizer(broken)

    plain = tmp_path / "base-model"
    tokenizer = copy.deepcopy(tokenizers_by_family["llama3"])
    tokenizer.chat_template = None
    tokenizer.save_pretrained(plain)
    with pytest.raises(ValueError, match="base-model has no chat template.*Choose a template"):
        load_tokenizer(plain)
    # A base model without a template still serves plain completion data.
    base = ChatTemplateTokenizer(load_tokenizer(plain, require_chat_template=False))
    assert base.tokenize_example({"prompt": "Hi ", "completion": "Yes."}).trained_count > 0
    with pytest.raises(ValueError, match="no chat template.*Choose a template"):
        base.tokenize_example({"messages": CONVERSATION})
    chosen = load_tokenizer(plain, chat_template=LLAMA3)
    assert chosen.chat_template == LLAMA3
    assert ChatTemplateTokenizer(chosen).tokenize_example({"messages": CONVERSATION}).ids
