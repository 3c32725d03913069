"""Choose the Together base model ("template") for a custom Hugging Face model.

The rule is the BYOM docs FAQ "How to choose the base model?"
(https://docs.together.ai/docs/fine-tuning-byom): same architecture, the base's max sequence length
must not exceed the custom model's, then the closest parameter count; if every base is larger, the
smallest. "No exact architecture match" → the closest family.

How the rule is applied, in order:
    a base that supports the training type (the API refuses the others)
    the same architecture: text-only or image+text, as the model's config.json says (gemma3_text ≠ gemma3)
    limits on record before limits unknown: an unknown context cannot be checked against the rule
    a context ≤ the custom model's; if none has one, the least violation (shortest context), said so
    the closest size; among bases equally close (sizes within 2%, same context), the vendor's own base
    before a community fine-tune, then the variant (instruct/chat or base) that matches the custom model.

Two cases need no template: a model that is itself a Together base is fine-tuned directly, and the local
engine trains the custom model itself with its own template, ``LOCAL_TEMPLATE`` (no Together base).

Over 600 lines on purpose: the rule and the words that justify each of its steps (reasons, warnings, the
explanation, the next call) read the same scored facts (``_Scored``), so a change to one step and to how it is
said are made together; the data (``bases.json``, families, prices) and the live refresh live apart.
"""

from __future__ import annotations

import json
import math
from typing import Literal, Protocol

from pydantic import BaseModel, Field

from byom.catalog._families import (
    is_chat_name,
    is_multimodal_type,
    normalize_family,
    related_families,
    vendor_orgs,
)
from byom.catalog._models import Catalog, CatalogBase
from byom.catalog._payloads import LOCAL_TEMPLATE, BaseLimits, base_limits, local_limits_payload
from byom.hub import human_params

__all__ = [
    "RULE",
    "Candidate",
    "CustomModelFacts",
    "Recommendation",
    "facts_from_report",
    "recommend",
    "recommend_for_report",
    "render_recommendation",
]

_RULE_SAME_FAMILY = (
    "Together BYOM docs (fine-tuning-byom, FAQ 'How to choose the base model?'): use a base of the same "
    "architecture, whose max sequence length does not exceed your model's, with the closest number of "
    "parameters; if every base is larger, the smallest."
)
_RULE_CLOSEST_FAMILY = " No exact architecture match: the closest family."
RULE = _RULE_SAME_FAMILY + _RULE_CLOSEST_FAMILY
MAX_ALTERNATIVES = 4
# Sizes within 2% of each other are equally close: a vocabulary grown by a few tokens
# (OpenHermes-2p5-Mistral-7B vs Mistral-7B) must not decide the template.
_SIZE_TIE = math.log(1.02)

Method = Literal["sft", "dpo"]
TrainingType = Literal["lora", "full"]


class CustomModelFacts(BaseModel):
    """What we know about the user's model (filled from the hub inspection)."""

    model: str
    revision: str | None = None
    family: str | None = None
    model_type: str | None = None
    param_count: int | None = None
    max_context: int | None = None
    is_moe: bool | None = None
    has_chat_template: bool = False

    def is_chat(self) -> bool:
        """Instruct/chat-tuned: the name says so (``-Instruct``, ``-chat``, ``-it``), else a chat template."""
        by_name = is_chat_name(self.model)
        return by_name if by_name is not None else self.has_chat_template


class _ReportLike(Protocol):
    # The fields of byom.hub.InspectReport that selection needs.
    model: str
    revision: str | None
    family: str | None
    model_type: str | None
    param_count: int | None
    max_context: int | None
    is_moe: bool
    has_chat_template: bool


def facts_from_report(report: _ReportLike) -> CustomModelFacts:
    """The selection facts from a hub ``InspectReport``."""
    return CustomModelFacts(
        model=report.model,
        revision=report.revision,
        family=report.family,
        model_type=report.model_type,
        param_count=report.param_count,
        max_context=report.max_context,
        is_moe=report.is_moe,
        has_chat_template=report.has_chat_template,
    )


class Candidate(BaseModel):
    """One ranked base model with the reasons for its place."""

    base_model: str
    family: str
    param_count: int | None
    size_ratio: float | None = Field(description="base params / custom params")
    context: int = Field(
        description="the base's max sequence length for the chosen method, as its limits report it"
    )
    context_on_record: bool = Field(description="False: no source gives the context; `context` is a default")
    context_fits: bool | None = Field(description="True: ≤ the custom model's context; None: unknown")
    lora_supported: bool
    full_supported: bool
    full_confirmed: bool = Field(
        description="a source confirms full fine-tuning (else inferred from the docs)"
    )
    max_batch_size: int | None = Field(description="LoRA max batch for the chosen method; None: no LoRA")
    min_batch_size: int | None
    rank: int
    reasons: list[str]


class Recommendation(BaseModel):
    """The chosen base, ranked alternatives, and what to watch out for."""

    base_model: str | None
    pick: Candidate | None
    alternatives: list[Candidate]
    custom: CustomModelFacts
    family: str | None = Field(description="the custom model's normalized family")
    matched_family: str | None = Field(description="the family the pick came from")
    training_type: TrainingType
    method: Method
    max_seq_length: int | None
    warnings: list[str]
    catalog_origin: Literal["packaged", "live"]
    catalog_retrieved: str
    limits_source: str = Field(default="", description="where the bases' limits come from, and how fresh")
    explanation: str = Field(default="", description="why the pick was chosen over the alternatives")
    rule: str = RULE
    rule_breaks: list[str] = Field(
        default_factory=list,
        description="each clause of the rule the pick breaks (empty: it follows the rule)",
    )
    direct: bool = Field(
        default=False,
        description="the model is itself a Together base: fine-tune it directly, no BYOM needed",
    )
    backend: Literal["together", "local"] = Field(
        default="together",
        description="the backend the advice is for; local: the engine trains the custom model itself with its "
        "own template (base_model byom/local)",
    )
    next_step: str = Field(default="", description="the create_finetune call this advice leads to")


def _fmt_params(n: int | None) -> str:
    return "unknown size" if n is None else human_params(n)


_LIVE_HINT = "with TOGETHER_API_KEY set, recommend_base reads Together's live limits itself"


def _limits_source(catalog: Catalog) -> str:
    """Where the bases' limits come from: Together's live answer, or the packaged list and its date."""
    if catalog.origin == "live":
        return f"Together's live limits (fetched {catalog.retrieved})"
    return f"the packaged list dated {catalog.retrieved}"


def _architecture(model_type: str | None) -> str:
    return f"{model_type} ({'image+text' if is_multimodal_type(model_type) else 'text-only'})"


class _Scored(BaseModel):
    base: CatalogBase
    limits: BaseLimits
    context: int | None  # on record only: an unknown context is not compared
    fits: bool | None  # context ≤ the custom model's; None: either is unknown
    seq_ok: bool
    support_ok: bool
    full_pref: int  # training_type=full: 0 supported, 1 unconfirmed
    arch_mismatch: bool  # text-only vs image+text, where both model_types are known
    distance: float  # |log(base/custom)|; inf when unknown
    size_tier: float  # distance in 2% steps: equal tiers are equally close
    vendor: bool  # published by the family's vendor, not a community fine-tune
    chat: bool | None  # the base is an instruct/chat variant
    variant_pref: int  # 0: same variant as the custom model (instruct/chat or base), 1: not


def _score(
    base: CatalogBase,
    custom: CustomModelFacts,
    *,
    method: Method,
    training_type: TrainingType,
    max_seq_length: int | None,
) -> _Scored:
    context = base.context(method)
    fits = None if context is None or custom.max_context is None else context <= custom.max_context
    seq_ok = max_seq_length is None or context is None or context >= max_seq_length
    limits = base_limits(base)
    support_ok = limits.supports_full_training if training_type == "full" else limits.lora_supported
    full_pref = 0 if limits.full_training_confirmed else 1
    if base.param_count and custom.param_count:
        distance = abs(math.log(base.param_count / custom.param_count))
    else:
        distance = math.inf
    theirs, yours = is_multimodal_type(base.model_type), is_multimodal_type(custom.model_type)
    chat = is_chat_name(base.name, base.family)
    return _Scored(
        base=base,
        limits=limits,
        size_tier=math.floor(distance / _SIZE_TIE) if math.isfinite(distance) else math.inf,
        vendor=base.name.split("/", 1)[0].lower() in vendor_orgs(base.family),
        chat=chat,
        variant_pref=0 if chat == custom.is_chat() else 1,
        context=context,
        fits=fits,
        seq_ok=seq_ok,
        support_ok=support_ok,
        full_pref=full_pref if training_type == "full" else 0,
        arch_mismatch=theirs is not None and yours is not None and theirs != yours,
        distance=distance,
    )


def _rank(s: _Scored) -> tuple[bool, ...]:
    # Hard constraint first (the API refuses LoRA/full where unsupported), then the architecture (the docs'
    # first clause), then limits on record (an unknown context cannot be checked against the rule), then the
    # context rule, the requested training length and the full-FT preference.
    return (
        not s.support_ok,
        s.arch_mismatch,
        s.context is None,
        s.fits is False,
        not s.seq_ok,
        s.full_pref == 1,
    )


def _sort_key(s: _Scored) -> tuple[object, ...]:
    # Then size. When no known base fits the context, the least violation: the shortest context first.
    # Equally close (same size tier and context): the vendor's base, then the matching variant.
    if s.fits is False:
        inner: tuple[float, ...] = (float(s.context or 0), s.size_tier)
    else:
        inner = (s.size_tier, -float(s.context or 0))
    tie = (not s.vendor, s.variant_pref, s.distance)
    return (*_rank(s), *inner, *tie, s.base.name)


def _reasons(
    s: _Scored, custom: CustomModelFacts, family: str | None, method: Method, source: str
) -> list[str]:
    base = s.base
    out: list[str] = []
    if family == base.family:
        out.append(f"same architecture family ({base.family})")
    else:
        out.append(f"different family: {base.family} (yours: {family or 'unknown'})")
    if s.arch_mismatch:
        out.append(f"architecture {_architecture(base.model_type)}, yours {_architecture(custom.model_type)}")
    elif base.model_type and custom.model_type and base.model_type != custom.model_type:
        kind = "image+text" if is_multimodal_type(base.model_type) else "text-only"
        out.append(f"{kind} architecture ({base.model_type}) like yours")
    if base.param_count and custom.param_count:
        ratio = base.param_count / custom.param_count
        approx = "" if base.param_count_exact else " (nominal)"
        sizes = f"{_fmt_params(base.param_count)} vs {_fmt_params(custom.param_count)}"
        # A multiple is readable up to 10×; beyond, "57530× yours" says less than the two sizes.
        if ratio >= 10:
            out.append(f"much larger than yours ({sizes}){approx}")
        elif ratio <= 0.1:
            out.append(f"much smaller than yours ({sizes}){approx}")
        else:
            out.append(f"{_fmt_params(base.param_count)}{approx} params, {ratio:.2g}× yours")
    else:
        out.append("parameter count unknown: size not compared")
    label = "DPO" if method == "dpo" else "SFT"
    limits = s.limits
    if s.context is None:
        out.append(
            f"{label} context unknown (not on record in {source}): fit not checked, limits assume "
            f"{limits.max_seq_length(method)}"
        )
    elif custom.max_context is None:
        out.append(f"{label} context {s.context}; your model's max context is unknown")
    elif s.fits:
        out.append(f"{label} context {s.context} ≤ your {custom.max_context}")
    else:
        out.append(f"{label} context {s.context} exceeds your {custom.max_context}")
    if limits.lora is None:
        out.append("LoRA not supported")
    elif limits.lora_batch_on_record:
        out.append(f"LoRA batch {limits.lora.min_batch_size}–{limits.lora.max_batch_size}")
    else:
        out.append("LoRA supported, batch limits not on record")
    if limits.full is None:
        out.append("LoRA only: no full fine-tuning")
    elif limits.full_training_confirmed:
        full = base.full
        batch = f" (batch {limits.full.min_batch_size}–{limits.full.max_batch_size})" if full else ""
        out.append(f"full fine-tuning supported{batch}")
    else:
        out.append(
            "full fine-tuning supported (Together's docs: most dense models; not confirmed for this base)"
        )
    org = base.name.split("/", 1)[0]
    out.append(f"official {org} base" if s.vendor else f"community fine-tune by {org}, not the vendor's base")
    if s.chat is not None:
        variant = "instruct/chat variant" if s.chat else "base (pretrained) variant"
        yours = "instruct/chat" if custom.is_chat() else "a base model"
        out.append(f"{variant}" + (" like yours" if s.variant_pref == 0 else f" (yours is {yours})"))
    if custom.is_moe is not None and custom.is_moe != base.moe:
        out.append(
            "MoE mismatch: " + ("base is MoE, yours is dense" if base.moe else "base is dense, yours is MoE")
        )
    return out


def _candidate(
    s: _Scored, rank: int, custom: CustomModelFacts, family: str | None, method: Method, source: str
) -> Candidate:
    base = s.base
    limits = s.limits
    ratio = base.param_count / custom.param_count if base.param_count and custom.param_count else None
    lora = limits.lora
    return Candidate(
        base_model=base.name,
        family=base.family,
        param_count=base.param_count,
        size_ratio=round(ratio, 4) if ratio is not None else None,
        context=limits.max_seq_length(method),
        context_on_record=limits.context_on_record(method),
        context_fits=s.fits,
        lora_supported=limits.lora_supported,
        full_supported=limits.supports_full_training,
        full_confirmed=limits.full_training_confirmed,
        max_batch_size=(lora.max_batch_size_dpo if method == "dpo" else lora.max_batch_size)
        if lora
        else None,
        min_batch_size=lora.min_batch_size if lora else None,
        rank=rank,
        reasons=_reasons(s, custom, family, method, source),
    )


def _explain(
    scored: list[_Scored], custom: CustomModelFacts, family: str, matched: str, method: Method
) -> str:
    best = scored[0]
    label = "DPO" if method == "dpo" else "SFT"
    why = [f"same architecture family ({matched})" if matched == family else f"closest family ({matched})"]
    if any(s.arch_mismatch for s in scored[1:]) and not best.arch_mismatch:
        why.append(f"{_architecture(best.base.model_type)} like yours")
    if best.context is None:
        why.append(f"its {label} context is not on record")
    elif custom.max_context is None:
        why.append(f"{label} context {best.context} (yours is unknown)")
    elif best.fits:
        why.append(f"{label} context {best.context} fits your {custom.max_context}")
    else:
        why.append(
            f"the least violation of the context rule: the shortest {label} context ({best.context}; "
            f"yours is {custom.max_context})"
        )
    if math.isfinite(best.distance):
        closest = "closest size" if best.fits is not False else "size"
        why.append(
            f"{closest} ({_fmt_params(best.base.param_count)} vs your {_fmt_params(custom.param_count)})"
        )
    text = f"{best.base.name} was chosen: " + "; ".join(why) + "."

    def rank(s: _Scored) -> tuple[object, ...]:
        return (*_rank(s), s.size_tier, s.context)

    tied = [s for s in scored[1:] if rank(s) == rank(best)]
    community = next((s for s in tied if best.vendor and not s.vendor), None)
    if community is not None:
        text += (
            f" Preferred over the equally close {community.base.name}: the vendor's own base, "
            "not a community fine-tune."
        )
    other_variant = next(
        (s for s in tied if s.vendor == best.vendor and s.variant_pref > best.variant_pref), None
    )
    if other_variant is not None:
        variant = "an instruct/chat variant" if best.chat else "a base (pretrained) variant"
        yours = "instruct/chat" if custom.is_chat() else "base"
        text += f" Preferred over {other_variant.base.name}: {variant}, like your {yours} model."
    return text


def _next_step(
    custom: CustomModelFacts,
    base: str,
    *,
    direct: bool,
    local: bool,
    training_type: TrainingType,
    method: Method,
    max_seq_length: int | None,
) -> str:
    """The create_finetune call the advice leads to, with only the arguments that differ from its defaults."""
    args: dict[str, object] = {}
    if direct:
        args["model"] = base
    else:
        args["from_hf_model"] = custom.model
        if custom.revision:
            args["hf_model_revision"] = custom.revision
        if not local:  # the local engine's create_finetune takes its own template
            args["model"] = base
    args["training_file"] = "<your .jsonl>"
    if training_type != "lora":
        args["training_type"] = training_type
    if method != "sft":
        args["method"] = method
    if max_seq_length is not None:
        args["max_seq_length"] = max_seq_length
    shown = ", ".join(f"{k}={json.dumps(v, ensure_ascii=False)}" for k, v in args.items())
    return f"create_finetune({shown})"


def _support_warning(s: _Scored, matched: str, training_type: TrainingType, source: str) -> str | None:
    if not s.support_ok:
        kind = "full fine-tuning" if training_type == "full" else "LoRA"
        return (
            f"No {matched} base supports {kind}. Use training_type="
            f"{'lora' if training_type == 'full' else 'full'} instead, or another model."
        )
    if training_type == "full" and not s.limits.full_training_confirmed:
        return (
            f"Full fine-tuning on {s.base.name} is not confirmed in {source} (Together's docs say it covers "
            "most dense models); create_finetune checks the base's limits for it before anything is spent."
        )
    return None


def _cross_family_warning(family: str, matched: str) -> str:
    # The template sets up training and serving (BYOM docs, "Key Concept"); a neighbour family differs in
    # exactly what that set-up assumes.
    return (
        f"No base of your family ({family}); the pick is from the closest family, {matched}, as the docs advise "
        f"for 'No exact architecture match'. Together sets up training and serving from the {matched} template, "
        f"which risks: architecture (its layer names, attention and rope settings may not match yours: the job "
        f"can fail loading your checkpoint); tokenizer (a different vocabulary and special tokens: the "
        f"template's EOS and padding defaults may not fit); chat template (the endpoint may format prompts the "
        f"{matched} way). Check a few generations before relying on the result."
    )


def _local_explanation(custom: CustomModelFacts, max_seq_length: int | None, warnings: list[str]) -> str:
    """What the local engine does with ``custom`` (its own template, no Together base), adding to ``warnings``
    a requested length past the model's context."""
    payload = local_limits_payload()
    limits = payload["lora_training"]
    context = custom.max_context
    if max_seq_length is not None and context is not None and max_seq_length > context:
        warnings.append(
            f"Requested max_seq_length {max_seq_length} exceeds your model's max context {context}; lower it."
        )
    return (
        f"The local engine trains {custom.model} itself with its own template {LOCAL_TEMPLATE}: no Together base "
        "is needed and Together's BYOM rule does not apply. Limits: max_seq_length up to your model's context "
        f"({context if context is not None else 'unknown'}), batch size {limits['min_batch_size']}–"
        f"{limits['max_batch_size']}, LoRA rank ≤ {limits['max_rank']}, n_epochs ≤ {payload['max_num_epochs']}, "
        f"learning rate {payload['min_learning_rate']:g}–{payload['max_learning_rate']:g}. For a Together job, "
        "call recommend_base "
        "with together=true."
    )


def recommend(
    custom: CustomModelFacts,
    catalog: Catalog,
    *,
    training_type: TrainingType = "lora",
    max_seq_length: int | None = None,
    method: Method = "sft",
    local_engine: bool = False,
) -> Recommendation:
    """Pick the base model for ``custom`` by the BYOM docs' rule, with up to 4 ranked alternatives.

    ``local_engine``: the advice is for the local engine, which trains ``custom`` itself with its own template
    (``LOCAL_TEMPLATE``): no Together base, rule, alternatives or template warnings.
    """
    from byom.hub import MAX_PARAMS  # the Hub analyser loads on the first recommendation, not at start-up

    # model_type decides (the docs' rule is about architecture); the caller's family label is the fallback.
    family = (
        normalize_family(custom.model_type, known_only=True)
        or normalize_family(custom.family)
        or normalize_family(custom.model_type)
    )
    warnings: list[str] = list(catalog.warnings)
    source = _limits_source(catalog)
    label = "DPO" if method == "dpo" else "SFT"
    by_family: dict[str, list[CatalogBase]] = {}
    for base in catalog.bases:
        by_family.setdefault(base.family, []).append(base)

    # A Together base itself (no revision pinned): no template, no BYOM.
    own = catalog.get(custom.model) if custom.revision is None else None
    matched: str | None = None
    if own is not None:
        matched = own.family
    elif family is not None and family in by_family:
        matched = family
    elif family is not None:
        matched = next((f for f in related_families(family) if f in by_family), None)

    def result(
        pick: Candidate | None,
        alternatives: list[Candidate],
        explanation: str = "",
        *,
        breaks: list[str] | None = None,
        direct: bool = False,
    ) -> Recommendation:
        # The engine trains a model of a known architecture itself, with its own template.
        local = local_engine and not direct and family is not None
        base_model = LOCAL_TEMPLATE if local else pick.base_model if pick else None
        return Recommendation(
            base_model=base_model,
            pick=pick,
            alternatives=alternatives,
            custom=custom,
            family=family,
            matched_family=matched,
            training_type=training_type,
            method=method,
            max_seq_length=max_seq_length,
            warnings=warnings,
            catalog_origin=catalog.origin,
            catalog_retrieved=catalog.retrieved,
            limits_source=source,
            explanation=explanation,
            rule=RULE,
            rule_breaks=breaks or [],
            direct=direct,
            backend="local" if local_engine else "together",
            next_step=_next_step(
                custom,
                base_model,
                direct=direct,
                local=local,
                training_type=training_type,
                method=method,
                max_seq_length=max_seq_length,
            )
            if base_model is not None
            else "",
        )

    def score(base: CatalogBase) -> _Scored:
        return _score(base, custom, method=method, training_type=training_type, max_seq_length=max_seq_length)

    if own is not None:
        s = score(own)
        support = _support_warning(s, own.family, training_type, source)
        warnings.extend([support] if support else [])
        explanation = (
            "It is in Together's fine-tuning catalog: pass it as model=, without from_hf_model, and Together "
            "trains its own copy."
        )
        return result(_candidate(s, 1, custom, family, method, source), [], explanation, direct=True)

    families = ", ".join(sorted(by_family))
    if family is None:
        warnings.append(
            "Your model's architecture (config.json model_type) is unknown, so no template can be matched. "
            f"Inspect the model first; Together has templates for: {families}."
        )
        return result(None, [])
    if local_engine:
        return result(None, [], _local_explanation(custom, max_seq_length, warnings))
    if matched is None:
        warnings.append(
            f"No template: Together's catalog has no base of the {family!r} family or a close one, so BYOM "
            f"cannot be used for this model. Families with templates: {families}. Pick a model of one of "
            "those architectures, or ask Together support to add the architecture."
        )
        return result(None, [])

    scored = sorted((score(b) for b in by_family[matched]), key=_sort_key)
    ranked = [
        _candidate(s, i + 1, custom, family, method, source)
        for i, s in enumerate(scored[: 1 + MAX_ALTERNATIVES])
    ]
    best = scored[0]
    pick = ranked[0]
    name = best.base.name
    # Rule warnings are about Together's template; requests and support are the common ones.
    rule: list[str] = []
    breaks: list[str] = []
    common: list[str] = []

    if matched != family:
        breaks.append(f"different family: {matched} for your {family}")
        rule.append(_cross_family_warning(family, matched))
    if best.arch_mismatch:
        breaks.append(
            f"architecture {_architecture(best.base.model_type)} for your {_architecture(custom.model_type)}"
        )
        rule.append(
            f"No {matched} base shares your model's architecture ({_architecture(custom.model_type)}); {name} "
            f"is {_architecture(best.base.model_type)}. Together sets up training from the template: the job "
            "may fail loading your checkpoint. Check the result before relying on it."
        )
    support = _support_warning(best, matched, training_type, source)
    common.extend([support] if support else [])
    if custom.max_context is None:
        rule.append(
            "Your model's max context (max_position_embeddings) is unknown, so context fit was not checked; "
            "set max_seq_length no higher than what your model supports."
        )
    elif best.fits is False:
        unknown = sum(1 for s in scored if s.context is None)
        breaks.append(
            f"{label} context {best.context} exceeds your {custom.max_context}: no {matched} base fits, this is "
            "the least violation"
        )
        rule.append(
            f"Every {matched} base whose {label} context is on record is longer than your model's "
            f"{custom.max_context} tokens, so the rule (base context ≤ yours) cannot hold: the pick is the least violation, {name} at "
            f"{best.context}. Keep max_seq_length ≤ {custom.max_context} (create_finetune's default caps it "
            "there)."
            + (
                f" {unknown} {matched} base(s) whose context is not on record ({source}) rank below it: their "
                "fit cannot be checked."
                if unknown
                else ""
            )
        )
    elif best.context is None:
        breaks.append(f"{label} context not on record: the context rule is unchecked")
        hint = f"; {_LIVE_HINT}" if catalog.origin == "packaged" else ""
        rule.append(
            f"{name}'s {label} context is not on record ({source}{hint}), nor any other {matched} base's, so "
            f"its fit with your model's {custom.max_context} tokens is unchecked. Keep max_seq_length ≤ {custom.max_context} "
            "(create_finetune's default caps it there)."
        )
    if max_seq_length is not None:
        if best.context is not None and max_seq_length > best.context:
            common.append(
                f"Requested max_seq_length {max_seq_length} exceeds {name}'s {label} limit of "
                f"{best.context}; lower it to ≤ {best.context}."
            )
        if custom.max_context is not None and max_seq_length > custom.max_context:
            common.append(
                f"Requested max_seq_length {max_seq_length} exceeds your model's max context "
                f"{custom.max_context}; lower it."
            )
    if custom.param_count is None:
        rule.append("Your model's parameter count is unknown, so sizes were not compared.")
    elif custom.param_count > MAX_PARAMS:
        rule.append(
            f"Your model has {_fmt_params(custom.param_count)} parameters; BYOM accepts at most 100B. "
            "Use a smaller model."
        )
    elif best.base.param_count and best.base.param_count / custom.param_count > 8:
        rule.append(
            f"The template is much larger than your model ({_fmt_params(best.base.param_count)} vs "
            f"{_fmt_params(custom.param_count)}); that is expected when no closer base fits — the system "
            "adjusts to your checkpoint (docs: 'Use the smallest available base model')."
        )

    warnings.extend(rule + common)
    return result(pick, ranked[1:], _explain(scored, custom, family, matched, method), breaks=breaks)


def recommend_for_report(
    report: _ReportLike,
    catalog: Catalog,
    *,
    training_type: TrainingType = "lora",
    max_seq_length: int | None = None,
    method: Method = "sft",
    local_engine: bool = False,
) -> Recommendation:
    """The base model for an inspected model: what ``byom recommend`` and ``recommend_base`` both call."""
    return recommend(
        facts_from_report(report),
        catalog,
        training_type=training_type,
        max_seq_length=max_seq_length,
        method=method,
        local_engine=local_engine,
    )


def render_recommendation(rec: Recommendation) -> str:
    """A short plain-text summary of a recommendation (well under 6,000 characters)."""
    custom = rec.custom
    ctx = custom.max_context if custom.max_context is not None else "unknown"
    lines = [
        (
            f"Custom model: {custom.model} — family {rec.family or 'unknown'}, "
            f"{_fmt_params(custom.param_count)} params, max context {ctx}."
        ),
    ]
    if rec.backend == "local" and not rec.direct and rec.base_model is not None:
        lines.append(f"Local engine: it trains your model itself (template {rec.base_model}).")
        lines.append(f"  {rec.explanation}")
    elif rec.pick is None:
        lines.append("No base model recommended.")
    else:
        if rec.direct:
            lines.append(
                f"{rec.pick.base_model} is itself a Together base: fine-tune it directly, no BYOM needed."
            )
        else:
            lines.append(f"Recommended base (model=): {rec.pick.base_model}")
        if rec.explanation:
            lines.append(f"  {rec.explanation}")
        lines.append("  " + "; ".join(rec.pick.reasons))
    if rec.next_step:
        lines.append(f"Next: {rec.next_step}")
    if rec.alternatives:
        lines.append("Alternatives:")
        for alt in rec.alternatives:
            lines.append(f"  {alt.rank}. {alt.base_model} — " + "; ".join(alt.reasons))
    if rec.warnings:
        lines.append("Warnings:")
        lines.extend(f"  - {w}" for w in rec.warnings)
    hint = f" ({_LIVE_HINT})" if rec.catalog_origin == "packaged" else ""
    lines.append(
        f"Training: {rec.training_type}, {rec.method}"
        + (f", max_seq_length {rec.max_seq_length}" if rec.max_seq_length else "")
        + f". Limits: {rec.limits_source}{hint}."
    )
    if rec.backend == "together" and not rec.direct:
        # The docs' fallback clause only applies when the family did not match.
        matched = rec.matched_family is not None and rec.matched_family == rec.family
        lines.append(f"Rule: {rec.rule.removesuffix(_RULE_CLOSEST_FAMILY) if matched else rec.rule}")
    text = "\n".join(lines)
    # Reasons and warnings are bounded, but cap anyway so a tool result stays small.
    return text if len(text) < 6000 else text[:5980] + "\n[truncated]"
