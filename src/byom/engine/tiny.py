"""A tiny random-weight Llama model and a dataset it can overfit: for tests, benches and the demo.

Nothing is downloaded: the tokenizer is a byte-level BPE trained on a small built-in corpus.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, Literal

__all__ = ["CHAT_TEMPLATE", "make_tiny_llama", "write_overfit_dataset"]

# ChatML-style; `{% generation %}` marks assistant tokens so `return_assistant_tokens_mask` works.
CHAT_TEMPLATE = (
    "{%- for message in messages %}"
    "{{- '<|im_start|>' + message['role'] + '\\n' }}"
    "{%- if message['role'] == 'assistant' %}"
    "{% generation %}{{- message['content'] + '<|eos|>' }}{% endgeneration %}{{- '\\n' }}"
    "{%- else %}"
    "{{- message['content'] + '<|eos|>' + '\\n' }}"
    "{%- endif %}"
    "{%- endfor %}"
    "{%- if add_generation_prompt %}{{- '<|im_start|>assistant\\n' }}{%- endif %}"
)
SPECIAL_TOKENS = ["<|pad|>", "<|bos|>", "<|eos|>", "<|im_start|>"]

_FACTS = [
    ("What is the capital of France?", "Paris is the capital of France."),
    ("What is the capital of Japan?", "Tokyo is the capital of Japan."),
    ("What color is the sky on a clear day?", "The sky is blue on a clear day."),
    ("How many legs does a spider have?", "A spider has eight legs."),
    ("What do bees make?", "Bees make honey."),
    ("What is two plus two?", "Two plus two is four."),
    ("Which planet is known as the red planet?", "Mars is known as the red planet."),
    ("What is the largest ocean?", "The Pacific is the largest ocean."),
    ("What gas do plants take in?", "Plants take in carbon dioxide."),
    ("How many days are in a week?", "A week has seven days."),
    ("What is frozen water called?", "Frozen water is called ice."),
    ("Who wrote Romeo and Juliet?", "William Shakespeare wrote Romeo and Juliet."),
    ("What is the opposite of hot?", "The opposite of hot is cold."),
    ("What animal says moo?", "A cow says moo."),
    ("What is the boiling point of water in Celsius?", "Water boils at one hundred degrees Celsius."),
    ("How many continents are there?", "There are seven continents."),
]

_CORPUS = [q + " " + a for q, a in _FACTS] + [
    "The quick brown fox jumps over the lazy dog.",
    "A language model learns to predict the next token from the tokens before it.",
    "Fine-tuning adapts a pretrained model to a new task with a small dataset.",
    "The user asks a question and the assistant gives a short, helpful answer.",
    "Low-rank adapters train a few small matrices while the base weights stay frozen.",
    "Numbers like one, two, three, four, five, six, seven, eight, nine and ten are common words.",
    "Hello! How can I help you today? Thank you, that is very kind. Goodbye and good luck.",
    "system user assistant tool weather search answer question please the of and to in is it you that",
]


def _train_tokenizer(vocab_size: int) -> Any:
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, processors, trainers

    tok = Tokenizer(models.BPE())
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tok.decoder = decoders.ByteLevel()
    tok.post_processor = processors.ByteLevel(trim_offsets=False)
    trainer = trainers.BpeTrainer(
        vocab_size=vocab_size,
        special_tokens=SPECIAL_TOKENS,
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
        show_progress=False,
    )
    tok.train_from_iterator(_CORPUS * 4, trainer=trainer)
    return tok


def make_tiny_llama(
    dest: Path,
    *,
    vocab_size: int = 512,
    hidden: int = 64,
    layers: int = 2,
    heads: int = 4,
    kv_heads: int = 2,
    max_position: int = 1024,
    seed: int = 0,
) -> Path:
    """Write a tiny random Llama (safetensors) with a freshly trained BPE tokenizer and chat template."""
    import torch
    from transformers import GenerationConfig, LlamaConfig, LlamaForCausalLM, PreTrainedTokenizerFast

    dest = Path(dest)
    dest.mkdir(parents=True, exist_ok=True)
    tokenizer = PreTrainedTokenizerFast(
        tokenizer_object=_train_tokenizer(vocab_size),
        bos_token="<|bos|>",
        eos_token="<|eos|>",
        pad_token="<|pad|>",
        additional_special_tokens=["<|im_start|>"],
        model_max_length=max_position,
    )
    tokenizer.chat_template = CHAT_TEMPLATE
    tokenizer.save_pretrained(dest)

    config = LlamaConfig(
        vocab_size=len(tokenizer),
        hidden_size=hidden,
        intermediate_size=hidden * 2,
        num_hidden_layers=layers,
        num_attention_heads=heads,
        num_key_value_heads=kv_heads,
        max_position_embeddings=max_position,
        bos_token_id=tokenizer.bos_token_id,
        eos_token_id=tokenizer.eos_token_id,
        pad_token_id=tokenizer.pad_token_id,
        tie_word_embeddings=False,
    )
    torch.manual_seed(seed)
    model = LlamaForCausalLM(config)
    model.generation_config = GenerationConfig(
        bos_token_id=tokenizer.bos_token_id,
        eos_token_id=tokenizer.eos_token_id,
        pad_token_id=tokenizer.pad_token_id,
    )
    from transformers.utils import logging as hf_logging

    bar = hf_logging.is_progress_bar_enabled()
    hf_logging.disable_progress_bar()  # a "Writing model shards" bar per tiny model is just noise
    try:
        model.save_pretrained(dest)
    finally:
        if bar:
            hf_logging.enable_progress_bar()
    return dest


def write_overfit_dataset(
    path: Path,
    n: int = 32,
    fmt: Literal["conversation", "instruction", "general", "preference"] = "conversation",
) -> Path:
    """Write n short, repetitive examples (cycling a fixed fact list) that a tiny model can memorise."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w", encoding="utf-8") as out:
        for i in range(n):
            q, a = _FACTS[i % len(_FACTS)]
            row: dict[str, Any]
            if fmt == "conversation":
                row = {"messages": [{"role": "user", "content": q}, {"role": "assistant", "content": a}]}
            elif fmt == "instruction":
                row = {"prompt": q, "completion": " " + a}
            elif fmt == "general":
                row = {"text": q + " " + a}
            elif fmt == "preference":
                row = {
                    "input": {"messages": [{"role": "user", "content": q}]},
                    "preferred_output": [{"role": "assistant", "content": a}],
                    # A bad answer of its own per row (one phrase rejected everywhere teaches only to avoid it):
                    # the right words in the wrong order.
                    "non_preferred_output": [{"role": "assistant", "content": " ".join(reversed(a.split()))}],
                }
            else:
                raise ValueError(
                    f"unknown format {fmt!r}; use conversation, instruction, general or preference"
                )
            out.write(json.dumps(row) + "\n")
    return path
