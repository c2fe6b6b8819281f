"""GGUF writing: Llama, Mistral and Qwen2 files read back with gguf and with transformers."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch
from tokenizers import Tokenizer, decoders, models, normalizers, processors, trainers
from transformers import (
    AutoModelForCausalLM,
    AutoTokenizer,
    LlamaConfig,
    LlamaForCausalLM,
    MistralConfig,
    MistralForCausalLM,
    PreTrainedTokenizerFast,
    Qwen2Config,
    Qwen2ForCausalLM,
)

from ftstudio.core.sample import sample_corpus
from ftstudio.engine.export import ExportError
from ftstudio.engine.gguf_export import (
    QUANT_BLOCK,
    gguf_architecture,
    read_gguf_strings,
    read_gguf_summary,
    round_like_gguf,
    write_gguf,
)

pytestmark = pytest.mark.slow

SIZES = {
    "hidden_size": 64,
    "num_hidden_layers": 2,
    "num_attention_heads": 4,
    "num_key_value_heads": 2,
    "max_position_embeddings": 512,
}


def _model(kind: str, tiny_model_dir: Path, out: Path) -> Path:
    """A randomly initialised small model of ``kind`` with the tiny model's tokenizer."""
    tokenizer = AutoTokenizer.from_pretrained(tiny_model_dir)
    ids = {
        "vocab_size": len(tokenizer),
        "bos_token_id": tokenizer.bos_token_id,
        "eos_token_id": tokenizer.eos_token_id,
        "pad_token_id": tokenizer.pad_token_id,
    }
    torch.manual_seed(1)
    if kind == "llama":
        model = LlamaForCausalLM(LlamaConfig(**SIZES, **ids, intermediate_size=176))
    elif kind == "mistral":
        model = MistralForCausalLM(
            MistralConfig(**SIZES, **ids, intermediate_size=128, sliding_window=None)
        )
    else:  # qwen2 with tied embeddings, like Qwen2.5-0.5B
        model = Qwen2ForCausalLM(
            Qwen2Config(**SIZES, **ids, intermediate_size=128, tie_word_embeddings=True)
        )
    with torch.no_grad():  # q/k/v biases of Qwen2 start at zero: give them values
        for name, parameter in model.named_parameters():
            if name.endswith("bias"):
                parameter.normal_(0, 0.5)
    model.save_pretrained(out)
    tokenizer.save_pretrained(out)
    return out


@pytest.mark.parametrize("kind", ["llama", "mistral", "qwen2"])
@pytest.mark.parametrize("quant", ["f16", "q8_0"])
def test_round_trip_through_transformers(
    kind: str, quant: str, tiny_model_dir: Path, tmp_path: Path
) -> None:
    folder = _model(kind, tiny_model_dir, tmp_path / kind)
    gguf_file = write_gguf(folder, tmp_path / f"m-{quant}.gguf", quant, name=f"tiny {kind}")
    summary = read_gguf_summary(gguf_file)
    assert summary.architecture == ("qwen2" if kind == "qwen2" else "llama")
    assert summary.name == f"tiny {kind}"
    meta = summary.metadata
    arch = summary.architecture
    assert meta[f"{arch}.embedding_length"] == 64
    assert meta[f"{arch}.block_count"] == 2
    assert meta[f"{arch}.attention.head_count"] == 4
    assert meta[f"{arch}.attention.head_count_kv"] == 2
    assert meta[f"{arch}.context_length"] == 512
    assert meta["tokenizer.ggml.model"] == "gpt2"
    assert meta["tokenizer.ggml.pre"] == "gpt-2"
    assert meta["tokenizer.ggml.tokens"] == 1024
    assert meta["tokenizer.ggml.eos_token_id"] == 1
    assert meta["tokenizer.ggml.add_bos_token"] is False
    names = {t.name for t in summary.tensors}
    assert ("output.weight" in names) == (kind != "qwen2")  # tied embeddings: no output
    if kind == "qwen2":
        assert "blk.0.attn_q.bias" in names

    # The file reloads through transformers and computes what the source model does,
    # once its weights are rounded exactly as the file stores them.
    source = AutoModelForCausalLM.from_pretrained(folder, dtype=torch.float32).eval()
    loaded = AutoModelForCausalLM.from_pretrained(
        tmp_path, gguf_file=gguf_file.name, dtype=torch.float32
    ).eval()
    ids = torch.tensor([[0, 5, 17, 99, 250, 3, 42, 8]])
    with torch.no_grad():
        raw = source(ids).logits
        round_like_gguf(source, quant)
        rounded = source(ids).logits
        got = loaded(ids).logits
    assert float((got - rounded).abs().max()) < 1e-4
    assert float((got - raw).abs().max()) < (1e-3 if quant == "f16" else 1e-2)


def test_q8_0_quantises_rows_of_32_and_keeps_the_rest_in_float(
    tiny_model_dir: Path, tmp_path: Path
) -> None:
    # The tiny model: hidden 64 (rows of 64: Q8_0) but intermediate 176, so ffn_down's
    # rows (176 values) are not a multiple of 32 and stay F16, as llama.cpp does.
    gguf_file = write_gguf(tiny_model_dir, tmp_path / "tiny.gguf", "q8_0")
    types = {t.name: t.type for t in read_gguf_summary(gguf_file).tensors}
    assert types["blk.0.attn_q.weight"] == "Q8_0"
    assert types["blk.0.ffn_gate.weight"] == "Q8_0"
    assert types["token_embd.weight"] == "Q8_0"
    assert types["output.weight"] == "Q8_0"
    assert types["blk.0.ffn_down.weight"] == "F16"
    assert types["blk.0.attn_norm.weight"] == "F32"
    assert list(types.values()).count("Q8_0") == 14
    assert 176 % QUANT_BLOCK != 0


def test_vocabulary_and_chat_template_are_in_the_metadata(
    tiny_model_dir: Path, tmp_path: Path
) -> None:
    gguf_file = write_gguf(tiny_model_dir, tmp_path / "tiny.gguf", "f16")
    tokenizer = AutoTokenizer.from_pretrained(tiny_model_dir)
    tokens = read_gguf_strings(gguf_file, "tokenizer.ggml.tokens")
    assert tokens == [tokenizer.convert_ids_to_tokens(i) for i in range(len(tokenizer))]
    merges = read_gguf_strings(gguf_file, "tokenizer.ggml.merges")
    assert len(merges) > 500
    meta = read_gguf_summary(gguf_file).metadata
    assert meta["tokenizer.chat_template"] == tokenizer.chat_template
    assert meta["tokenizer.ggml.token_type"] == 1024
    assert "tokenizer.ggml.eot_token_id" not in meta  # the end of turn is EOS itself
    rebuilt = AutoTokenizer.from_pretrained(tmp_path, gguf_file="tiny.gguf")
    text = "<|user|>\nMy VPN keeps dropping, what now?<|end|>"
    assert (
        rebuilt(text, add_special_tokens=False)["input_ids"]
        == tokenizer(text, add_special_tokens=False)["input_ids"]
    )


def test_unsupported_architectures_are_refused_by_name(tmp_path: Path) -> None:
    with pytest.raises(ExportError, match="supports Llama, Mistral and Qwen2") as caught:
        gguf_architecture("gemma2")
    assert caught.value.code == "unsupported_arch"
    assert "gemma2" in str(caught.value)
    folder = tmp_path / "phi"
    folder.mkdir()
    (folder / "config.json").write_text('{"model_type": "phi3"}', encoding="utf-8")
    with pytest.raises(ExportError, match="phi3"):
        write_gguf(folder, tmp_path / "phi.gguf", "f16")
    assert not (tmp_path / "phi.gguf").exists()


def test_round_like_gguf_rounds_each_tensor_by_the_file_rule() -> None:
    layer = torch.nn.Linear(64, 176)  # weight rows of 64 (Q8_0), bias 1-D (F32)
    down = torch.nn.Linear(176, 64, bias=False)  # rows of 176: F16
    model = torch.nn.Sequential(layer, down)
    before = [p.detach().clone() for p in model.parameters()]
    round_like_gguf(model, "q8_0")
    weight, bias, down_weight = (p.detach() for p in model.parameters())
    assert torch.equal(bias, before[1])
    assert torch.equal(down_weight, before[2].half().float())
    assert not torch.equal(weight, before[0].half().float())  # 8-bit, not 16-bit
    assert float((weight - before[0]).abs().max()) < 0.01
    assert np.isfinite(weight.numpy()).all()


def test_sentencepiece_style_vocabulary_is_written_as_llama(tmp_path: Path) -> None:
    # Llama 2 / Mistral tokenizers: BPE with byte fallback and "▁" for spaces, BOS added.
    backend = Tokenizer(models.BPE(byte_fallback=True, unk_token="<unk>", fuse_unk=True))
    backend.normalizer = normalizers.Sequence(
        [normalizers.Prepend("▁"), normalizers.Replace(" ", "▁")]
    )
    backend.decoder = decoders.Sequence(
        [
            decoders.Replace("▁", " "),
            decoders.ByteFallback(),
            decoders.Fuse(),
            decoders.Strip(" ", 1, 0),
        ]
    )
    specials = ["<unk>", "<s>", "</s>", *(f"<0x{i:02X}>" for i in range(256))]
    trainer = trainers.BpeTrainer(vocab_size=600, special_tokens=specials, show_progress=False)
    backend.train_from_iterator(list(sample_corpus()), trainer=trainer)
    backend.post_processor = processors.TemplateProcessing(
        single="<s> $A", special_tokens=[("<s>", 1)]
    )
    tokenizer = PreTrainedTokenizerFast(
        tokenizer_object=backend, bos_token="<s>", eos_token="</s>", unk_token="<unk>"
    )
    tokenizer.chat_template = (
        "{{ bos_token }}{% for m in messages %}{% if m['role'] == 'user' %}"
        "[INST] {{ m['content'] }} [/INST]{% else %}{{ m['content'] }}{{ eos_token }}"
        "{% endif %}{% endfor %}"
    )
    torch.manual_seed(0)
    model = LlamaForCausalLM(
        LlamaConfig(
            **SIZES,
            vocab_size=len(tokenizer),
            intermediate_size=128,
            bos_token_id=1,
            eos_token_id=2,
        )
    )
    model.save_pretrained(tmp_path)
    tokenizer.save_pretrained(tmp_path)
    gguf_file = write_gguf(tmp_path, tmp_path / "spm.gguf", "f16")
    meta = read_gguf_summary(gguf_file).metadata
    assert meta["tokenizer.ggml.model"] == "llama"
    assert meta["tokenizer.ggml.scores"] == 600
    assert meta["tokenizer.ggml.add_bos_token"] is True
    assert meta["tokenizer.ggml.unknown_token_id"] == 0
    rebuilt = AutoTokenizer.from_pretrained(tmp_path, gguf_file="spm.gguf")
    text = "My VPN keeps dropping, what now? Ünïcødé 🙂"
    assert rebuilt(text)["input_ids"] == tokenizer(text)["input_ids"]
    assert rebuilt.decode(rebuilt(text)["input_ids"]) == f"<s> {text}"
