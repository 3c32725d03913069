"""Judge a RepoSnapshot against Together BYOM's prerequisites and build the InspectReport.

Prerequisites (together-byom-docs.md "Prerequisites"; together-api.md section 8): CausalLM only, at most 100B
parameters, ``.safetensors`` weights, no ``trust_remote_code``, transformers version at most the platform ceiling,
public repo or a token with access. The other checks inform the choice of base model and hardware.

About 600 lines on purpose: ``_Judge`` holds one short method per check, all reading one snapshot into one
list of findings; split, one report's rules would be spread over several modules.
"""

from __future__ import annotations

import re
from typing import Any

from packaging.version import InvalidVersion, Version

from byom.contained import FIX as CONTAINMENT_FIX
from byom.untrusted import NAME_CHARS, clip, name

from ._data import causal_lm_types, config_model_types, families
from ._memory import memory_estimate
from ._models import Finding, InspectReport, verdict_of
from ._params import count_from_config, moe_active_params
from ._repair import fresh_copy
from ._snapshot import RepoSnapshot
from ._tokenizer import has_chat_template, has_tokenizer
from ._units import human_bytes, human_params

__all__ = ["MAX_PARAMS", "analyze"]

MAX_PARAMS = 100_000_000_000  # "A maximum of 100 billion parameters" (Together BYOM prerequisites)
# tokenization_utils_base.VERY_LARGE_INTEGER = int(1e30): "no limit recorded".
_NO_LIMIT = 10**29
# Aliases of max_position_embeddings via attribute_map in transformers 5.23 (ref 2.3).
_CONTEXT_KEYS = (
    "max_position_embeddings",
    "n_positions",
    "max_seq_len",
    "model_max_length",
    "context_length",
    "seq_length",
    "n_ctx",
)
_EXPERT_KEYS = ("num_local_experts", "num_experts", "n_routed_experts")
_MAX_EVIDENCE = 400
_MAX_NAME = NAME_CHARS  # longer model_type / architecture names are not real transformers names
_BIN_WEIGHTS = re.compile(r"^(pytorch_model|model|adapter_model)(-\d+-of-\d+|\.\w+)*\.bin$")


def _get(cfg: dict[str, Any], key: str) -> Any:
    """A config value, looking into ``text_config`` for multimodal wrappers (e.g. gemma3)."""
    if key in cfg:
        return cfg[key]
    text = cfg.get("text_config")
    return text.get(key) if isinstance(text, dict) else None


def _names(values: list[Any]) -> str:
    """Repo-controlled names (model_type, classes, file names) for evidence: the first five, each as «name»."""
    shown = [name(v if isinstance(v, str) else repr(v)) for v in values[:5] if v is not None]
    more = f" and {len(values) - 5} more" if len(values) > 5 else ""
    return ", ".join(shown) + more if shown else "none"


def _int(value: Any) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) else None


class _Judge:
    def __init__(self, snap: RepoSnapshot, ceiling: str) -> None:
        self.snap, self.ceiling = snap, ceiling
        self.findings: list[Finding] = []
        self.is_adapter = snap.adapter_config is not None
        self.cfg: dict[str, Any] = (snap.base_config if self.is_adapter else snap.config) or {}
        self.top_files = [f for f in snap.files if "/" not in f]

    def add(self, check: str, status: str, evidence: str, fix: str | None = None) -> None:
        # Evidence quotes repo-controlled strings (model_type, file names, targets) as «name»: keep it bounded.
        evidence = clip(evidence, _MAX_EVIDENCE)
        self.findings.append(Finding(check=check, status=status, evidence=evidence, fix=fix))

    # -- identity -------------------------------------------------------------------------------------------
    def model_type(self) -> str | None:
        model_type = self.cfg.get("model_type")
        if isinstance(model_type, str) and model_type:
            return model_type[:_MAX_NAME]
        archs = self.cfg.get("architectures")
        archs = archs if isinstance(archs, list) else []
        by_class = {v: k for k, v in causal_lm_types().mapping.items()}
        return by_class.get(archs[0]) if archs and isinstance(archs[0], str) else None

    def causal(self, model_type: str | None, archs: list[str]) -> bool:
        table = causal_lm_types()
        version = table.transformers_version
        raw_map = self.cfg.get("auto_map")
        auto_map: dict[str, Any] = raw_map if isinstance(raw_map, dict) else {}
        if not self.cfg and self.is_adapter:
            task = (self.snap.adapter_config or {}).get("task_type")
            ok = task == "CAUSAL_LM"
            self.add(
                "causal_lm",
                "pass" if ok else "fail",
                f"adapter task_type is {_names([task])} (base config not read)",
                None if ok else "Together BYOM trains causal LMs only: use an adapter trained for CAUSAL_LM.",
            )
            return ok
        # The saved architecture decides first: model types such as bert also have a causal-LM class
        # (BertLMHeadModel), but a BertForMaskedLM checkpoint is still an encoder.
        if archs and archs[0] in table.class_names:
            self.add(
                "causal_lm",
                "pass",
                f"architecture {archs[0]} is a causal-LM class (byom's table of transformers {version})",
            )
            return True
        if not archs and model_type in table.mapping:
            self.add(
                "causal_lm",
                "pass",
                f"no architectures recorded; model_type {_names([model_type])} is in MODEL_FOR_CAUSAL_LM_MAPPING "
                f"({table.mapping[model_type]}; byom's table of transformers {version})",
            )
            return True
        if "AutoModelForCausalLM" in auto_map:
            self.add(
                "causal_lm",
                "pass",
                f"auto_map registers AutoModelForCausalLM -> {_names([auto_map['AutoModelForCausalLM']])}",
            )
            return True
        self.add(
            "causal_lm",
            "fail",
            f"model_type {_names([model_type])} / architectures {_names(archs)} are not causal LMs in transformers "
            f"{version} (e.g. an encoder, classifier or seq2seq model)",
            "Together BYOM fine-tunes text-generation (CausalLM) models only: pick a decoder-only checkpoint.",
        )
        return False

    def remote_code(self, model_type: str | None) -> bool:
        known = set(config_model_types().model_types)
        version = config_model_types().transformers_version
        auto_map = self.cfg.get("auto_map")
        tok_map = (self.snap.tokenizer_config or {}).get("auto_map")
        py_files = [f for f in self.snap.files if f.endswith(".py")]
        reasons = []
        if auto_map and model_type not in known:
            reasons.append(
                f"config.json auto_map points at custom classes and model_type {_names([model_type])} is unknown "
                f"to transformers {version}"
            )
        if tok_map:
            reasons.append("tokenizer_config.json auto_map points at a custom tokenizer class")
        if reasons:
            files = f"; code files: {_names(py_files)}" if py_files else ""
            self.add(
                "remote_code",
                "fail",
                "; ".join(reasons) + files,
                "Together BYOM does not run trust_remote_code: use a checkpoint of a transformers-native "
                "architecture (or one converted to it).",
            )
            return True
        if auto_map:
            self.add(
                "remote_code",
                "pass",
                f"auto_map present but model_type {_names([model_type])} is native in transformers {version}, "
                "so no custom code runs",
            )
        elif py_files:
            self.add(
                "remote_code",
                "warn",
                f"repo ships code files {_names(py_files)} that no auto_map uses",
                "Check that the model loads without trust_remote_code=True before training.",
            )
        else:
            self.add("remote_code", "pass", "no auto_map and no custom code files")
        if model_type is not None and model_type not in known and not auto_map:
            self.add(
                "architecture_known",
                "fail",
                f"transformers {version} does not know model_type {_names([model_type])}",
                "Use a checkpoint whose architecture transformers supports natively.",
            )
        elif model_type is None and self.cfg:
            self.add(
                "architecture_known",
                "fail",
                "config.json has no model_type and no known architecture",
                "Re-save the checkpoint with save_pretrained so config.json records model_type.",
            )
        return False

    # -- size -----------------------------------------------------------------------------------------------
    def params(self, quantization: str | None) -> tuple[int | None, str | None]:
        snap = self.snap
        formula = count_from_config(self.cfg) if self.cfg else None
        if snap.st_total and not self.is_adapter:
            if quantization and formula:
                # Packed GPTQ/AWQ weights under-count logical parameters (ref 1.2 caveats).
                return formula, "config_formula"
            return snap.st_total, "safetensors"
        if formula is not None:
            return formula, "config_formula"
        return None, None

    def size(self, count: int | None, source: str | None) -> None:
        if count is None:
            why = f" ({self.snap.base_config_note})" if self.snap.base_config_note else ""
            self.add(
                "size",
                "warn",
                f"parameter count unknown: no safetensors totals and no formula for this family{why}",
                "Check the parameter count on the model page; Together BYOM accepts at most 100B.",
            )
            return
        origin = {"safetensors": "safetensors metadata", "config_formula": "config.json formula"}[
            source or ""
        ]
        subject = "merged model (base)" if self.is_adapter else "model"
        if count > MAX_PARAMS:
            self.add(
                "size",
                "fail",
                f"{subject} has {count:,} parameters ({human_params(count)}, from {origin}), over 100B",
                "Together BYOM accepts at most 100B parameters: pick a smaller checkpoint.",
            )
        else:
            self.add(
                "size",
                "pass",
                f"{subject} has {count:,} parameters ({human_params(count)}, from {origin}); limit 100B",
            )

    # -- files ----------------------------------------------------------------------------------------------
    def weight_format(self) -> str:
        prefix = "adapter_model" if self.is_adapter else ""
        st = [
            f
            for f in self.top_files
            if f.endswith(".safetensors")
            and f.startswith(prefix)
            and (self.is_adapter or not f.startswith("adapter_model"))
        ]
        bins = [
            f
            for f in self.top_files
            if _BIN_WEIGHTS.match(f)
            and f.startswith(prefix)
            and (self.is_adapter or not f.startswith("adapter_model"))
        ]
        fmt = "both" if st and bins else "safetensors" if st else "bin_only" if bins else "none"
        if fmt == "safetensors":
            self.add("weights_format", "pass", f"{len(st)} .safetensors file(s)")
        elif fmt == "both":
            self.add(
                "weights_format",
                "pass",
                f"{len(st)} .safetensors and {len(bins)} .bin file(s); .bin is ignored",
            )
        elif fmt == "bin_only":
            self.add(
                "weights_format",
                "fail",
                f"only PyTorch pickle weights: {', '.join(bins[:4])}",
                "Convert to safetensors (load, then save_pretrained(..., safe_serialization=True)) and push "
                "to a repo you own; Together BYOM reads .safetensors only.",
            )
        else:
            gguf = [f for f in self.snap.files if f.endswith(".gguf")]
            extra = f" (GGUF files: {', '.join(gguf[:3])})" if gguf else ""
            self.add(
                "weights_format",
                "fail",
                f"no .safetensors weight files found{extra}",
                "Use the original transformers checkpoint with .safetensors weights.",
            )
        return fmt

    def weights_integrity(self) -> None:
        """A weights file cut short or with a corrupt header fails to load: a finding, the other checks still run."""
        for d in self.snap.damaged:
            evidence = d.problem
            if d.expected_bytes is not None:
                evidence += f" (expected {d.expected_bytes:,} bytes, found {d.actual_bytes:,})"
            self.add("weights_integrity", "fail", evidence, fresh_copy(d, self.snap.model))

    def transformers_version(self) -> str | None:
        saved = self.cfg.get("transformers_version")
        if not isinstance(saved, str):
            self.add("transformers_version", "info", "config.json does not record transformers_version", None)
            return None
        try:
            got, cap = Version(saved), Version(self.ceiling)
        except InvalidVersion:
            self.add(
                "transformers_version",
                "warn",
                f"unreadable versions: saved {saved!r}, ceiling {self.ceiling!r}",
                "Set BYOM_TRANSFORMERS_CEILING to a version such as 5.10.",
            )
            return saved
        width = len(cap.release)
        if got.release[:width] <= cap.release:
            self.add(
                "transformers_version",
                "pass",
                f"saved with transformers {saved}; platform ceiling {self.ceiling}",
            )
        elif got.major > cap.major:
            # v5 writes rope_parameters/dtype instead of rope_scaling/torch_dtype (ref 2.8).
            self.add(
                "transformers_version",
                "fail",
                f"saved with transformers {saved}, a newer major version than the platform ceiling "
                f"{self.ceiling}; its config keys (e.g. rope_parameters) may be misread",
                f"Re-save the checkpoint with transformers <= {self.ceiling}, or check Together's current ceiling "
                "(BYOM_TRANSFORMERS_CEILING).",
            )
        else:
            self.add(
                "transformers_version",
                "warn",
                f"saved with transformers {saved}, newer than the platform ceiling {self.ceiling}",
                f"Usually fine (it records the saving version only); if loading fails, re-save with "
                f"transformers <= {self.ceiling}.",
            )
        return saved

    def access(self) -> None:
        snap = self.snap
        if snap.source == "local":
            self.add(
                "access",
                "info",
                "local directory",
                "Together trains from the Hub: push it (huggingface_hub upload_folder) before a cloud job.",
            )
        elif snap.private:
            self.add(
                "access",
                "pass",
                "private repo, readable with the configured Hugging Face token",
                "Pass your HF token as hf_api_token when creating the Together job.",
            )
        elif snap.gated:
            self.add(
                "access",
                "pass",
                f"gated repo ({snap.gated}); your token has access",
                "Pass your HF token as hf_api_token when creating the Together job.",
            )
        else:
            self.add("access", "pass", "public repo", None)

    # -- context, quantization, adapter, MoE, template -------------------------------------------------------
    def context(self) -> tuple[int | None, dict[str, Any] | None, int | None]:
        max_ctx, key = None, None
        for k in _CONTEXT_KEYS:
            value = _int(_get(self.cfg, k))
            if value:
                max_ctx, key = value, k
                break
        tok_len = _int((self.snap.tokenizer_config or {}).get("model_max_length"))
        if max_ctx is None and tok_len and tok_len < _NO_LIMIT:
            max_ctx, key = tok_len, "tokenizer_config.json model_max_length"
        rope = _get(self.cfg, "rope_scaling")
        if not isinstance(rope, dict):
            params = _get(self.cfg, "rope_parameters")
            rope = (
                params
                if isinstance(params, dict) and params.get("rope_type", "default") != "default"
                else None
            )
        window = _int(_get(self.cfg, "sliding_window"))
        if _get(self.cfg, "use_sliding_window") is False:
            window = None
        if max_ctx is None:
            self.add(
                "context",
                "warn",
                "no max_position_embeddings (or alias) in config.json",
                "Check the model card for its context length before choosing max_seq_length.",
            )
        else:
            parts = [f"max context {max_ctx:,} tokens ({key})"]
            if rope:
                kind = rope.get("rope_type") or rope.get("type")
                parts.append(f"rope scaling {kind} factor {rope.get('factor')}")
                orig, factor = _int(rope.get("original_max_position_embeddings")), rope.get("factor")
                if kind == "yarn" and orig and isinstance(factor, int | float):
                    parts.append(f"yarn-extended length {int(orig * factor):,}")
            if window:
                parts.append(f"sliding window {window:,} (limits attention span, not context)")
            self.add(
                "context",
                "info",
                "; ".join(parts),
                "Choose a Together base whose max sequence length does not exceed this.",
            )
        return max_ctx, rope, window

    def quantization(self) -> str | None:
        qc = _get(self.cfg, "quantization_config")
        dtypes = set(self.snap.st_params or {})
        if isinstance(qc, dict):
            method = str(qc.get("quant_method") or "unknown")
            bits = qc.get("bits") or (4 if qc.get("load_in_4bit") else 8 if qc.get("load_in_8bit") else None)
            label = f"{method}-{bits}bit" if bits else method
            self.add(
                "quantization",
                "warn",
                f"quantized checkpoint ({label}, quantization_config)",
                "Full fine-tuning of quantized weights fails: start from the unquantized original model.",
            )
            return label
        odd = sorted(dtypes & {"I32", "U8", "I8", "F8_E4M3", "F8_E5M2", "I4", "U4"})
        if odd:
            self.add(
                "quantization",
                "warn",
                f"weights stored as {', '.join(odd)} without quantization_config",
                "Check the checkpoint is not packed-quantized; start from bf16/fp16/fp32 weights.",
            )
        return None

    def adapter(self) -> dict[str, Any]:
        ac = self.snap.adapter_config or {}
        peft_type, base = ac.get("peft_type"), ac.get("base_model_name_or_path")
        rank, alpha, targets = _int(ac.get("r")), ac.get("lora_alpha"), ac.get("target_modules")
        base_note = f"; {self.snap.base_config_note}" if self.snap.base_config_note else ""
        self.add(
            "adapter",
            "info" if peft_type == "LORA" else "warn",
            f"PEFT {peft_type} adapter (rank {rank}, targets {targets}) on base {base!r}; Together merges an "
            f"adapter start point into the base and trains a full checkpoint{base_note}",
            "Make sure the base repo is readable by Together too."
            if peft_type == "LORA"
            else "Only LoRA adapters are known to merge cleanly: convert or start from the base model.",
        )
        return {
            "base_model": base if isinstance(base, str) else None,
            "peft_type": peft_type if isinstance(peft_type, str) else None,
            "lora_rank": rank,
            "lora_alpha": float(alpha) if isinstance(alpha, int | float) else None,
            "target_modules": (
                [str(t)[:_MAX_NAME] for t in targets][:64]
                if isinstance(targets, list)
                else targets[:_MAX_NAME]
                if isinstance(targets, str)
                else None
            ),
        }

    def moe(self, total: int | None) -> dict[str, Any]:
        experts = next((_int(_get(self.cfg, k)) for k in _EXPERT_KEYS if _int(_get(self.cfg, k))), None)
        raw_ffn = self.cfg.get("ffn_config")
        ffn: dict[str, Any] = raw_ffn if isinstance(raw_ffn, dict) else {}
        experts = experts or _int(ffn.get("moe_num_experts"))
        per_tok = _int(_get(self.cfg, "num_experts_per_tok")) or _int(ffn.get("moe_top_k"))
        if not experts or experts < 2:
            return {"is_moe": False}
        active = moe_active_params(self.cfg, total) if total else None
        act = f", about {active:,} active per token" if active else ""
        self.add(
            "moe",
            "info",
            f"mixture of experts: {experts} experts, {per_tok} per token{act}",
            "Memory follows total parameters; speed follows active ones.",
        )
        return {"is_moe": True, "num_experts": experts, "experts_per_token": per_tok, "active_params": active}

    def tokenizer(self) -> None:
        files = set(self.snap.files)
        if has_tokenizer(files.__contains__):
            kind = next(
                (f for f in ("tokenizer.json", "tokenizer.model") if f in files), "vocab.json + merges.txt"
            )
            if "tokenizer_config.json" in files:
                self.add("tokenizer", "pass", f"tokenizer files present ({kind}, tokenizer_config.json)")
            else:
                self.add(
                    "tokenizer",
                    "warn",
                    f"{kind} present but no tokenizer_config.json: special tokens, padding side and the chat "
                    "template fall back to defaults",
                    "Save the tokenizer with save_pretrained so tokenizer_config.json sits next to the weights.",
                )
        elif self.is_adapter:
            self.add(
                "tokenizer",
                "info",
                "the adapter ships no tokenizer files; training uses the base model's tokenizer",
                "Make sure the base model's repo (or directory) holds its tokenizer files.",
            )
        else:
            # Without them AutoTokenizer fails only once training starts: "Couldn't instantiate the backend
            # tokenizer from one of: ...".
            self.add(
                "tokenizer",
                "fail",
                "no tokenizer files: none of tokenizer.json, tokenizer.model, or vocab.json + merges.txt",
                "Save the tokenizer next to the weights (AutoTokenizer.from_pretrained(<original model>)"
                ".save_pretrained(<model dir>)) and upload those files with the model; training cannot load "
                "a tokenizer without them.",
            )

    def chat_template(self) -> bool:
        has = has_chat_template(set(self.snap.files).__contains__, self.snap.tokenizer_config)
        if has:
            self.add("chat_template", "pass", "tokenizer has a chat template")
        elif self.snap.tokenizer_config is None and any(
            "tokenizer_config.json" in s for s in self.snap.skipped
        ):
            self.add("chat_template", "info", "not checked (tokenizer_config.json skipped)")
        else:
            # failure-catalog.md #4: "Cannot use chat template functions because tokenizer.chat_template is not set".
            self.add(
                "chat_template",
                "warn",
                "no chat_template in tokenizer_config.json and no chat_template.jinja",
                "Train on text or prompt/completion data, or add the instruct variant's chat template before "
                "using conversational data.",
            )
        return has


def analyze(snap: RepoSnapshot, ceiling: str) -> InspectReport:
    """Run every check on ``snap`` and return the report with its verdict."""
    judge = _Judge(snap, ceiling)
    for what in snap.unsafe_files:  # a link out of the directory, a FIFO, ...: never opened (byom.contained)
        judge.add("model_files", "fail", what, CONTAINMENT_FIX)
    model_type = judge.model_type()
    raw_archs = judge.cfg.get("architectures")
    archs = [a[:_MAX_NAME] for a in (raw_archs if isinstance(raw_archs, list) else []) if isinstance(a, str)][
        :8
    ]
    is_causal = judge.causal(model_type, archs)
    needs_remote = judge.remote_code(model_type)
    quant = judge.quantization()
    count, count_source = judge.params(quant)
    judge.size(count, count_source)
    fmt = judge.weight_format()
    judge.weights_integrity()
    saved_version = judge.transformers_version()
    judge.access()
    max_ctx, rope, window = judge.context()
    adapter = judge.adapter() if judge.is_adapter else {}
    moe = judge.moe(count)
    judge.tokenizer()
    has_template = judge.chat_template()
    if snap.license:
        judge.add("license", "info", snap.license, "Check the license allows your use.")
    if snap.skipped:
        judge.add(
            "not_checked",
            "info",
            "skipped to stay within the request budget: " + "; ".join(snap.skipped),
            None,
        )
    memory = memory_estimate(count)
    if memory and count:
        judge.add(
            "memory",
            "info",
            f"about {human_bytes(count * 16)} full fine-tune, {human_bytes(count * 2)} LoRA, "
            f"{human_bytes(count * 2 * 1.2)} inference (weights and optimizer only)",
        )
    vocab = _int(_get(judge.cfg, "vocab_size"))
    return InspectReport(
        model=snap.model,
        source=snap.source,
        revision=snap.revision,
        commit_sha=snap.commit_sha,
        verdict=verdict_of(judge.findings),
        findings=judge.findings,
        architectures=archs,
        model_type=model_type,
        family=families().get(model_type, model_type) if model_type else None,
        is_causal_lm=is_causal,
        needs_remote_code=needs_remote,
        param_count=count,
        param_count_source=count_source,
        weight_format=fmt,
        dtypes=dict(snap.st_params or {}),
        transformers_version=saved_version,
        transformers_ceiling=ceiling,
        max_context=max_ctx,
        rope_scaling=rope,
        sliding_window=window,
        vocab_size=vocab,
        hidden_size=_int(_get(judge.cfg, "hidden_size")),
        is_adapter=judge.is_adapter,
        adapter_param_count=snap.adapter_st_total if judge.is_adapter else None,
        quantization=quant,
        gated=snap.gated,
        private=snap.private,
        license=snap.license,
        has_chat_template=has_template,
        memory=memory,
        model_card_excerpt=snap.card_excerpt,
        **adapter,
        **moe,
    )
