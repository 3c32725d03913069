"""Local directories: real tiny safetensors files written here, headers read from disk, no network."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from safetensors.numpy import save_file

from byom.errors import EntryNotFound
from byom.hub import HubInspector
from support.fakehub import FakeHub

TINY_LLAMA: dict[str, Any] = {
    "architectures": ["LlamaForCausalLM"],
    "model_type": "llama",
    "vocab_size": 32,
    "hidden_size": 8,
    "intermediate_size": 16,
    "num_hidden_layers": 1,
    "num_attention_heads": 2,
    "num_key_value_heads": 1,
    "max_position_embeddings": 256,
    "tie_word_embeddings": True,
    "transformers_version": "4.55.0",
}


def _tiny_llama_tensors() -> dict[str, np.ndarray]:
    h, i, v, kv = 8, 16, 32, 4
    return {
        "model.embed_tokens.weight": np.zeros((v, h), dtype=np.float16),
        "model.layers.0.self_attn.q_proj.weight": np.zeros((h, h), dtype=np.float16),
        "model.layers.0.self_attn.k_proj.weight": np.zeros((kv, h), dtype=np.float16),
        "model.layers.0.self_attn.v_proj.weight": np.zeros((kv, h), dtype=np.float16),
        "model.layers.0.self_attn.o_proj.weight": np.zeros((h, h), dtype=np.float16),
        "model.layers.0.mlp.gate_proj.weight": np.zeros((i, h), dtype=np.float16),
        "model.layers.0.mlp.up_proj.weight": np.zeros((i, h), dtype=np.float16),
        "model.layers.0.mlp.down_proj.weight": np.zeros((h, i), dtype=np.float16),
        "model.layers.0.input_layernorm.weight": np.zeros((h,), dtype=np.float32),
        "model.layers.0.post_attention_layernorm.weight": np.zeros((h,), dtype=np.float32),
        "model.norm.weight": np.zeros((h,), dtype=np.float32),
    }


def _write_model(path: Path, *, config: dict[str, Any] | None = None, tensors: bool = True) -> Path:
    path.mkdir(parents=True, exist_ok=True)
    (path / "config.json").write_text(json.dumps(config or TINY_LLAMA))
    (path / "tokenizer_config.json").write_text(json.dumps({"chat_template": "{{ messages }}"}))
    (path / "tokenizer.json").write_text("{}")
    if tensors:
        save_file(_tiny_llama_tensors(), str(path / "model.safetensors"))
    (path / "README.md").write_text("---\nlicense: mit\ntags: [x]\n---\n\nA tiny llama. " + "x" * 1000)
    return path


def test_local_model_counts_params_from_headers(
    inspector: HubInspector, hub: FakeHub, tmp_path: Path
) -> None:
    directory = _write_model(tmp_path / "tiny")
    report = inspector.inspect(str(directory))
    expected = sum(t.size for t in _tiny_llama_tensors().values())
    assert report.source == "local" and report.commit_sha is None
    assert (report.param_count, report.param_count_source) == (expected, "safetensors")
    assert report.dtypes == {"F16": expected - 24, "F32": 24}
    assert report.is_causal_lm and report.family == "llama" and report.max_context == 256
    assert report.has_chat_template and report.license == "mit"
    assert report.model_card_excerpt is not None and report.model_card_excerpt.startswith("A tiny llama.")
    assert len(report.model_card_excerpt) <= 500
    assert report.verdict == "compatible"
    assert next(f for f in report.findings if f.check == "access").status == "info"
    assert hub.requests == [] and hub.telemetry == []


def test_formula_agrees_with_real_headers(inspector: HubInspector, tmp_path: Path) -> None:
    with_headers = inspector.inspect(str(_write_model(tmp_path / "a")))
    formula_only = inspector.inspect(str(_write_model(tmp_path / "b", tensors=False)))
    assert formula_only.param_count_source == "config_formula"
    assert formula_only.param_count == with_headers.param_count
    assert formula_only.weight_format == "none" and formula_only.verdict == "incompatible"


def test_local_bin_only(inspector: HubInspector, tmp_path: Path) -> None:
    directory = _write_model(tmp_path / "bin", tensors=False)
    (directory / "pytorch_model.bin").write_bytes(b"pickle")
    (directory / "training_args.bin").write_bytes(b"pickle")
    report = inspector.inspect(str(directory))
    assert report.weight_format == "bin_only"
    finding = next(f for f in report.findings if f.check == "weights_format")
    assert finding.status == "fail" and "training_args.bin" not in finding.evidence


def test_local_adapter_with_local_base(inspector: HubInspector, tmp_path: Path) -> None:
    base = _write_model(tmp_path / "base")
    adapter = tmp_path / "adapter"
    adapter.mkdir()
    (adapter / "adapter_config.json").write_text(
        json.dumps(
            {
                "peft_type": "LORA",
                "task_type": "CAUSAL_LM",
                "r": 4,
                "lora_alpha": 8,
                "target_modules": "all-linear",
                "base_model_name_or_path": str(base),
            }
        )
    )
    save_file(
        {"base_model.model.lora_A.weight": np.zeros((4, 8), dtype=np.float32)},
        str(adapter / "adapter_model.safetensors"),
    )
    report = inspector.inspect(str(adapter))
    assert report.is_adapter and report.adapter_param_count == 32
    assert report.target_modules == "all-linear" and report.lora_rank == 4
    assert report.param_count_source == "config_formula" and report.family == "llama"
    assert report.weight_format == "safetensors"


def test_local_adapter_with_hub_base_stays_offline(
    inspector: HubInspector, hub: FakeHub, tmp_path: Path
) -> None:
    adapter = tmp_path / "adapter"
    adapter.mkdir()
    (adapter / "adapter_config.json").write_text(
        json.dumps(
            {
                "peft_type": "LORA",
                "task_type": "CAUSAL_LM",
                "r": 4,
                "base_model_name_or_path": "HuggingFaceTB/SmolLM2-135M-Instruct",
            }
        )
    )
    (adapter / "adapter_model.bin").write_bytes(b"pickle")
    report = inspector.inspect(str(adapter))
    assert report.is_adapter and report.param_count is None
    assert "no network requests" in next(f for f in report.findings if f.check == "size").evidence
    assert report.weight_format == "bin_only" and report.verdict == "incompatible"
    assert hub.requests == []


def test_local_directory_without_config(inspector: HubInspector, tmp_path: Path) -> None:
    (tmp_path / "empty").mkdir()
    with pytest.raises(EntryNotFound, match="config.json"):
        inspector.inspect(str(tmp_path / "empty"))


def test_lfs_pointer_instead_of_weights(inspector: HubInspector, tmp_path: Path) -> None:
    directory = _write_model(tmp_path / "lfs", tensors=False)
    (directory / "model.safetensors").write_text(
        "version https://git-lfs.github.com/spec/v1\noid sha256:abc\nsize 123\n"
    )
    report = inspector.inspect(str(directory))
    assert any(f.check == "weights_integrity" and "LFS pointer" in f.evidence for f in report.findings)


def test_truncated_safetensors(inspector: HubInspector, tmp_path: Path) -> None:
    directory = _write_model(tmp_path / "cut")
    data = (directory / "model.safetensors").read_bytes()
    (directory / "model.safetensors").write_bytes(data[:20])
    report = inspector.inspect(str(directory))  # a finding (test_hub_damaged_weights.py), not an exception
    assert report.verdict == "incompatible"
    assert any(f.check == "weights_integrity" and "truncated" in f.evidence for f in report.findings)


def test_remote_code_and_unknown_type_locally(inspector: HubInspector, tmp_path: Path) -> None:
    unknown = _write_model(
        tmp_path / "unknown",
        config={**TINY_LLAMA, "model_type": "mystery", "architectures": ["MysteryModel"]},
    )
    report = inspector.inspect(str(unknown))
    statuses = {f.check: f.status for f in report.findings}
    assert statuses["architecture_known"] == "fail" and statuses["causal_lm"] == "fail"
    native = _write_model(tmp_path / "native", config={**TINY_LLAMA, "auto_map": {"AutoConfig": "x.Y"}})
    report = inspector.inspect(str(native))
    assert not report.needs_remote_code
    assert "native" in next(f for f in report.findings if f.check == "remote_code").evidence


def test_context_aliases_rope_and_sliding_window(inspector: HubInspector, tmp_path: Path) -> None:
    cfg = {
        **TINY_LLAMA,
        "model_type": "qwen2",
        "architectures": ["Qwen2ForCausalLM"],
        "max_position_embeddings": 32768,
        "sliding_window": 4096,
        "use_sliding_window": False,
        "rope_scaling": {"type": "yarn", "factor": 4.0, "original_max_position_embeddings": 32768},
    }
    report = inspector.inspect(str(_write_model(tmp_path / "q", config=cfg)))
    assert report.max_context == 32768 and report.sliding_window is None
    assert report.rope_scaling is not None and report.rope_scaling["factor"] == 4.0
    assert "131,072" in next(f for f in report.findings if f.check == "context").evidence
    cfg = {
        **TINY_LLAMA,
        "model_type": "mistral",
        "architectures": ["MistralForCausalLM"],
        "sliding_window": 4096,
        "rope_parameters": {"rope_type": "default", "rope_theta": 1e6},
    }
    report = inspector.inspect(str(_write_model(tmp_path / "m", config=cfg)))
    assert report.sliding_window == 4096 and report.rope_scaling is None
    cfg = {k: v for k, v in TINY_LLAMA.items() if k != "max_position_embeddings"}
    directory = _write_model(tmp_path / "t", config=cfg)
    (directory / "tokenizer_config.json").write_text(
        json.dumps({"model_max_length": 1000000000000000019884624838656})
    )
    report = inspector.inspect(str(directory))
    assert report.max_context is None
    assert next(f for f in report.findings if f.check == "context").status == "warn"


def test_hostile_config_strings_stay_bounded(inspector: HubInspector, tmp_path: Path) -> None:
    cfg = {
        **TINY_LLAMA,
        "model_type": "x" * 5000,
        "architectures": ["Y" * 5000] * 50,
        "target_modules": ["q"] * 1000,
    }
    report = inspector.inspect(str(_write_model(tmp_path / "h", config=cfg)))
    assert report.model_type is not None and len(report.model_type) <= 100
    assert len(report.architectures) <= 8 and all(len(a) <= 100 for a in report.architectures)
    assert all(len(f.evidence) <= 400 for f in report.findings)
    assert report.verdict == "incompatible"


@pytest.mark.parametrize("junk", [None, 7, "text", [1, 2], {"a": 1}, True])
def test_wrong_types_in_config_never_crash(inspector: HubInspector, tmp_path: Path, junk: object) -> None:
    keys = [
        "architectures",
        "model_type",
        "vocab_size",
        "hidden_size",
        "max_position_embeddings",
        "auto_map",
        "rope_scaling",
        "sliding_window",
        "quantization_config",
        "tie_word_embeddings",
        "num_local_experts",
        "ffn_config",
        "text_config",
        "transformers_version",
        "num_experts_per_tok",
    ]
    cfg = {**TINY_LLAMA, **dict.fromkeys(keys, junk)}
    directory = _write_model(tmp_path / "j", config=cfg)
    (directory / "adapter_config.json").write_text(
        json.dumps({"peft_type": junk, "r": junk, "target_modules": junk, "base_model_name_or_path": junk})
    )
    report = inspector.inspect(str(directory))
    assert report.verdict in ("compatible", "compatible_with_warnings", "incompatible")
