"""What a dry run returns: create_finetune(dry_run=true) for a Qwen3-8B LoRA plan of 2,000 conversations of about
600 tokens × 3 epochs, on Together (the local engine standing in, priced from the packaged rate table) and on the
local engine, then deploy_endpoint's plan. Offline and side-effect free: nothing is uploaded or created.

What is real and what stands in (printed too):
- real: byom's MCP server and its tools (in-memory MCP client), the engine process on loopback, the plan code,
  the packaged rate table, the token count with the model's tokenizer and chat template, the packing and steps;
- stands in: the model is Qwen3-8B's config.json (hidden 4096, 36 layers, 40,960 context) and tensor shapes
  (a sparse safetensors file: the header is real, the data a hole) with a small BPE tokenizer (byom.engine.tiny's):
  the token counts are that tokenizer's, not Qwen's (Qwen's own tokenizer counts the same text differently); the
  data is generated text sized to ~600 tokens a row with it; "Together" is the local engine answering Together's
  API (limits from byom's catalog, not Together's); no elicitation: the token caps for unasked plans apply.

    python bench/dry_run_example.py
"""

from __future__ import annotations

import asyncio
import json
import logging
import shutil
import sys
import tempfile
from pathlib import Path
from typing import Any

from mcp import Client
from mcp.types import TextContent
from pydantic import SecretStr

from byom.config import Settings
from byom.engine.tiny import make_tiny_llama
from byom.server import build_server

sys.path.insert(0, str(Path(__file__).parent))
from _engine import KEY, engine_process

# Qwen/Qwen3-8B's config.json (huggingface.co/Qwen/Qwen3-8B, the fields the inspection reads).
QWEN3_8B = {
    "architectures": ["Qwen3ForCausalLM"],
    "model_type": "qwen3",
    "hidden_size": 4096,
    "intermediate_size": 12288,
    "num_hidden_layers": 36,
    "num_attention_heads": 32,
    "num_key_value_heads": 8,
    "head_dim": 128,
    "vocab_size": 151936,
    "max_position_embeddings": 40960,
    "rope_theta": 1000000,
    "tie_word_embeddings": False,
    "torch_dtype": "bfloat16",
    "transformers_version": "4.51.0",
}
ROWS, TOKENS, EPOCHS = 2_000, 600, 3
_WORDS = [
    "the",
    "model",
    "learns",
    "to",
    "answer",
    "questions",
    "about",
    "orders",
    "shipping",
    "returns",
    "and",
    "invoices",
    "politely",
]


def sparse_weights(path: Path, config: dict[str, Any]) -> None:
    """A safetensors file with Qwen3-8B's tensor shapes (bf16) whose data is a hole: the header is real, the
    16 GB after it take no disk (a sparse file), so the inspection reads the true parameter count."""
    h, inter, kv = (
        config["hidden_size"],
        config["intermediate_size"],
        config["num_key_value_heads"] * config["head_dim"],
    )
    shapes: dict[str, list[int]] = {
        "model.embed_tokens.weight": [config["vocab_size"], h],
        "lm_head.weight": [config["vocab_size"], h],
    }
    for i in range(config["num_hidden_layers"]):
        pre = f"model.layers.{i}."
        shapes |= {
            pre + "self_attn.q_proj.weight": [h, h],
            pre + "self_attn.k_proj.weight": [kv, h],
            pre + "self_attn.v_proj.weight": [kv, h],
            pre + "self_attn.o_proj.weight": [h, h],
            pre + "mlp.gate_proj.weight": [inter, h],
            pre + "mlp.up_proj.weight": [inter, h],
            pre + "mlp.down_proj.weight": [h, inter],
            pre + "input_layernorm.weight": [h],
            pre + "post_attention_layernorm.weight": [h],
        }
    header: dict[str, Any] = {}
    offset = 0
    for name, shape in shapes.items():
        size = 2
        for d in shape:
            size *= d
        header[name] = {"dtype": "BF16", "shape": shape, "data_offsets": [offset, offset + size]}
        offset += size
    raw = json.dumps(header).encode()
    raw += b" " * (-len(raw) % 8)
    with path.open("wb") as out:
        out.write(len(raw).to_bytes(8, "little") + raw)
        out.truncate(8 + len(raw) + offset)


def qwen3_shaped(root: Path) -> Path:
    """Qwen3-8B's config and tensor shapes with the tiny model's tokenizer and chat template (no real weights)."""
    tiny = make_tiny_llama(root / "tiny")
    model = root / "Qwen3-8B-shaped"
    model.mkdir()
    for f in tiny.iterdir():
        if f.name.startswith(("tokenizer", "special_tokens", "chat_template")):
            shutil.copy(f, model / f.name)
    (model / "config.json").write_text(json.dumps(QWEN3_8B))
    sparse_weights(model / "model.safetensors", QWEN3_8B)
    return model


def conversations(model: Path, path: Path) -> Path:
    """ROWS conversations of about TOKENS tokens each with the model's tokenizer and chat template."""
    from byom.data import encode_row, load_tokenizer

    tok = load_tokenizer(model)

    def row(n: int, i: int) -> dict[str, Any]:
        words = [_WORDS[(i + k) % len(_WORDS)] for k in range(n)]
        half = len(words) // 3
        return {
            "messages": [
                {"role": "user", "content": " ".join(words[:half]) + "?"},
                {"role": "assistant", "content": " ".join(words[half:]) + "."},
            ]
        }

    def length(n: int) -> int:
        return len(encode_row(tok, row(n, 0)).input_ids)  # the plan's own count

    n = 20
    while length(n) < TOKENS:
        n += 5
    with path.open("w", encoding="utf-8") as out:
        for i in range(ROWS):
            out.write(json.dumps(row(n + (i % 21) - 10, i)) + "\n")
    return path


def text(result: Any) -> str:
    return "\n".join(b.text for b in result.content if isinstance(b, TextContent))


async def show(settings: Settings, label: str, args: dict[str, Any]) -> None:
    async with Client(build_server(settings)) as client:
        result = await client.call_tool("create_finetune", {**args, "dry_run": True})
    print(f"\n===== {label}: create_finetune(..., dry_run=true) =====")
    print(text(result))
    plan = (result.structured_content or {}).get("plan", {})
    print(
        "-- structured: status",
        (result.structured_content or {}).get("status"),
        "| schedule",
        plan.get("schedule"),
    )
    print("-- price", plan.get("price", {}).get("usd"), "| duration", plan.get("duration"))


async def main() -> None:
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        model = qwen3_shaped(root)
        data = conversations(model, root / "train.jsonl")
        args = {"training_file": str(data), "from_hf_model": str(model), "n_epochs": EPOCHS}
        print(
            __doc__.split("What is real")[1]
            .split("python bench")[0]
            .strip()
            .replace("and what stands in (printed too):", "What is real and what stands in:")
        )
        with engine_process(root, allow_dir=root) as (base, _):
            common = {
                "data_dir": root / "byom",
                "cache_dir": root / "cache",
                "engine_url": base,
                "engine_api_key": SecretStr(KEY),
                "engine_autostart": False,
            }
            together = Settings(
                **common, backend_choice="together", together_api_key=SecretStr(KEY), together_base_url=base
            )
            await show(together, "Together (the engine standing in, packaged rates)", args)
            await show(Settings(**common, backend_choice="local"), "Local engine", args)


if __name__ == "__main__":
    logging.disable(logging.INFO)  # the in-process server's request log: not what this prints
    asyncio.run(main())
