"""Request bodies the client sends, built the way SDK 3.1.1 builds them (ref together-api-2026-11 §2.3–§2.6, §3.5).

``finetune_request(...)`` maps the SDK's ``fine_tuning.create`` arguments to the ``POST /v1/fine-tunes`` body
(``together/lib/resources/fine_tuning.py`` ``create_finetune_request``); ``FinetuneRequest.estimate_body()``
is the estimate-price body the SDK sends for the same call. ``check_request`` lists every problem of a
request against the base's limits, in words a user can act on. Two deliberate departures from the SDK:
``validation_file`` is left out when unset (the SDK sends ``""``) and the limits checks the SDK leaves to
the server (epochs, learning rate, evals, checkpoints, rank) are made here, before anything is sent.

The W&B and Hugging Face tokens are ``SecretStr``: ``repr``/``str``/``public()`` never show them; only
``wire()`` reveals them, for the one request that needs them.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, SecretStr
from pydantic.alias_generators import to_camel

from byom.errors import InvalidRequest
from byom.together._endpoints import TrafficSplitEntry
from byom.together._supported_models import FinetuneModelLimits

__all__ = [
    "AutoscalingSpec",
    "DeploymentCreate",
    "DpoMethod",
    "FinetuneRequest",
    "FullType",
    "LoraType",
    "LrSchedulerArgsSpec",
    "LrSchedulerSpec",
    "MultimodalSpec",
    "SftMethod",
    "autoscaling_update_body",
    "check_request",
    "finetune_request",
    "traffic_split_body",
]

# The SDK's defaults (``create_finetune_request``): a falsy learning rate becomes this one.
DEFAULT_LEARNING_RATE = 1e-5
_SECRET_FIELDS = frozenset({"wandb_key", "hf_api_token"})


class _Body(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid", allow_inf_nan=False)


# ---- POST /v1/fine-tunes --------------------------------------------------------------------------


class LoraType(_Body):
    """``training_type`` of a LoRA job (SDK ``LoRATrainingType``)."""

    lora_r: int
    lora_alpha: int
    lora_dropout: float = 0.0
    lora_trainable_modules: str = "all-linear"
    type: Literal["Lora"] = "Lora"


class FullType(_Body):
    """``training_type`` of a full fine-tune."""

    type: Literal["Full"] = "Full"


class SftMethod(_Body):
    method: Literal["sft"] = "sft"
    train_on_inputs: bool | Literal["auto"] = "auto"


class DpoMethod(_Body):
    method: Literal["dpo"] = "dpo"
    dpo_beta: float | None = None
    dpo_normalize_logratios_by_length: bool = False
    dpo_reference_free: bool = False
    rpo_alpha: float | None = None
    simpo_gamma: float | None = None


class LrSchedulerArgsSpec(_Body):
    min_lr_ratio: float | None = 0.0
    num_cycles: float | None = None  # cosine only


class LrSchedulerSpec(_Body):
    lr_scheduler_type: Literal["linear", "cosine"] = "cosine"
    lr_scheduler_args: LrSchedulerArgsSpec | None = None


class MultimodalSpec(_Body):
    train_vision: bool = False


class FinetuneRequest(_Body):
    """The ``POST /v1/fine-tunes`` body; build it with ``finetune_request(...)``. ``None`` fields are not sent."""

    training_file: str
    validation_file: str | None = None
    packing: bool = True
    model: str | None = None
    n_epochs: int = 1
    learning_rate: float = DEFAULT_LEARNING_RATE
    lr_scheduler: LrSchedulerSpec | None = None
    warmup_ratio: float = 0.0
    max_grad_norm: float = 1.0
    weight_decay: float = 0.0
    n_checkpoints: int | None = None
    n_evals: int | None = None
    max_seq_length: int | None = None
    batch_size: int | Literal["max"] | None = None
    gradient_accumulation_steps: int | None = None
    suffix: str | None = None
    wandb_key: SecretStr | None = None
    wandb_project_name: str | None = None
    random_seed: int | None = None
    # The SDK always sends it; byom does not offer early stopping (yet).
    early_stopping_enabled: bool = False
    training_method: SftMethod | DpoMethod = SftMethod()
    training_type: LoraType | FullType | None = None
    multimodal_params: MultimodalSpec | None = None
    from_checkpoint: str | None = None
    from_hf_model: str | None = None
    hf_model_revision: str | None = None
    hf_api_token: SecretStr | None = None
    hf_output_repo_name: str | None = None

    def public(self) -> dict[str, Any]:
        """The body without the W&B and HF tokens: for plans, ledgers and fingerprints."""
        return self.model_dump(mode="json", exclude_none=True, exclude=set(_SECRET_FIELDS))

    def wire(self) -> dict[str, Any]:
        """The JSON body as sent, tokens included: the only place they are revealed."""
        body = self.public()
        for name in sorted(_SECRET_FIELDS):
            secret: SecretStr | None = getattr(self, name)
            if secret is not None:
                body[name] = secret.get_secret_value()
        return body

    def estimate_body(self) -> dict[str, Any]:
        """The ``POST /v1/fine-tunes/estimate-price`` body SDK 3.1.1 sends for the same call (ref §2.3, §2.6)."""
        method = self.training_method
        method_body: dict[str, Any]
        if isinstance(method, DpoMethod):
            # The SDK's estimate sends unset DPO numbers as 0 (``create_price_estimation_params``).
            method_body = {
                "method": "dpo",
                "dpo_beta": method.dpo_beta or 0,
                "dpo_normalize_logratios_by_length": method.dpo_normalize_logratios_by_length,
                "dpo_reference_free": method.dpo_reference_free,
                "rpo_alpha": method.rpo_alpha or 0,
                "simpo_gamma": method.simpo_gamma or 0,
            }
        else:
            method_body = {"method": "sft", "train_on_inputs": method.train_on_inputs}
        body: dict[str, Any] = {
            "training_file": self.training_file,
            "model": self.model or "",  # "" for checkpoint jobs, as the SDK sends
            "n_epochs": self.n_epochs,
            "n_evals": self.n_evals or 0,
            "training_method": method_body,
            # null (not omitted) when the server picks the type: the SDK sends it so.
            "training_type": self.training_type.model_dump(mode="json") if self.training_type else None,
        }
        if self.from_checkpoint:
            body["from_checkpoint"] = self.from_checkpoint
        if self.validation_file:
            body["validation_file"] = self.validation_file
        return body

    @property
    def is_dpo(self) -> bool:
        return isinstance(self.training_method, DpoMethod)


def finetune_request(
    *,
    training_file: str,
    model: str | None = None,
    limits: FinetuneModelLimits | None = None,
    n_epochs: int = 1,
    validation_file: str | None = None,
    packing: bool = True,
    max_seq_length: int | None = None,
    n_evals: int | None = 0,
    n_checkpoints: int | None = 1,
    batch_size: int | Literal["max"] = "max",
    learning_rate: float | None = DEFAULT_LEARNING_RATE,
    lr_scheduler_type: Literal["linear", "cosine"] = "cosine",
    min_lr_ratio: float | None = 0.0,
    scheduler_num_cycles: float = 0.5,
    warmup_ratio: float | None = 0.0,
    max_grad_norm: float = 1.0,
    weight_decay: float | None = 0.0,
    lora: bool | None = True,
    lora_r: int | None = None,
    lora_alpha: float | None = None,
    lora_dropout: float | None = 0.0,
    lora_trainable_modules: str | None = "all-linear",
    suffix: str | None = None,
    wandb_api_key: SecretStr | None = None,
    wandb_project_name: str | None = None,
    random_seed: int | None = None,
    train_on_inputs: bool | Literal["auto"] | None = None,
    training_method: str = "sft",
    dpo_beta: float | None = None,
    dpo_normalize_logratios_by_length: bool = False,
    rpo_alpha: float | None = None,
    simpo_gamma: float | None = None,
    from_checkpoint: str | None = None,
    from_hf_model: str | None = None,
    hf_model_revision: str | None = None,
    hf_api_token: SecretStr | None = None,
    hf_output_repo_name: str | None = None,
    gradient_accumulation_steps: int | None = None,
) -> FinetuneRequest:
    """The ``POST /v1/fine-tunes`` body for these ``fine_tuning.create`` arguments, mapped as SDK 3.1.1 maps them.

    ``lora=True`` takes ``lora_r`` from ``limits.lora_training.default_rank`` and ``lora_alpha = 2·r`` when
    unset; ``lora=None`` leaves the type to the server. Values are not checked against the limits here: call
    ``check_request``. Raises ``InvalidRequest`` only for argument mixes the body cannot carry (a DPO-only
    setting on SFT, ``train_on_inputs`` on DPO, an unknown method, LoRA with no rank to default to).
    """
    if training_method not in ("sft", "dpo"):
        raise InvalidRequest(
            f"training_method={training_method!r} is not a method Together trains: use 'sft' or 'dpo'.",
            param="training_method",
        )
    method: SftMethod | DpoMethod
    if training_method == "sft":
        for name, value in (
            ("dpo_beta", dpo_beta),
            ("rpo_alpha", rpo_alpha),
            ("simpo_gamma", simpo_gamma),
            ("dpo_normalize_logratios_by_length", dpo_normalize_logratios_by_length or None),
        ):
            if value is not None:
                raise InvalidRequest(
                    f"{name} is a DPO setting: drop it, or train with training_method='dpo'.", param=name
                )
        method = SftMethod(train_on_inputs="auto" if train_on_inputs is None else train_on_inputs)
    else:
        if train_on_inputs is not None:
            raise InvalidRequest(
                "train_on_inputs is an SFT setting (DPO trains on the preferred and rejected answers): drop it.",
                param="train_on_inputs",
            )
        # SimPO has no reference model and normalises by length (the SDK forces both).
        simpo = simpo_gamma is not None and simpo_gamma > 0
        method = DpoMethod(
            dpo_beta=dpo_beta,
            dpo_normalize_logratios_by_length=True if simpo else dpo_normalize_logratios_by_length,
            dpo_reference_free=simpo,
            rpo_alpha=rpo_alpha,
            simpo_gamma=simpo_gamma,
        )

    training_type: LoraType | FullType | None = None
    if lora:
        rank = lora_r
        if rank is None:
            rank = limits.lora_training.default_rank if limits and limits.lora_training else None
        if rank is None:
            raise InvalidRequest(
                "lora_r is not set and the base's limits give no default rank: pass lora_r "
                "(or the limits from GET /v1/fine-tunes/models/limits).",
                param="lora_r",
            )
        training_type = LoraType(
            lora_r=rank,
            lora_alpha=int(lora_alpha if lora_alpha is not None else rank * 2),
            lora_dropout=lora_dropout or 0.0,
            lora_trainable_modules=lora_trainable_modules or "all-linear",
        )
    elif lora is False:
        training_type = FullType()

    args = LrSchedulerArgsSpec(
        min_lr_ratio=min_lr_ratio, num_cycles=scheduler_num_cycles if lr_scheduler_type == "cosine" else None
    )
    return FinetuneRequest(
        training_file=training_file,
        validation_file=validation_file or None,
        packing=packing,
        model=model,
        n_epochs=n_epochs,
        learning_rate=learning_rate or DEFAULT_LEARNING_RATE,
        lr_scheduler=LrSchedulerSpec(lr_scheduler_type=lr_scheduler_type, lr_scheduler_args=args),
        warmup_ratio=warmup_ratio if warmup_ratio is not None else 0.0,
        max_grad_norm=max_grad_norm,
        weight_decay=weight_decay or 0.0,
        n_checkpoints=n_checkpoints,
        n_evals=n_evals,
        max_seq_length=max_seq_length,
        batch_size=batch_size,
        gradient_accumulation_steps=gradient_accumulation_steps,
        suffix=suffix,
        wandb_key=wandb_api_key,
        wandb_project_name=wandb_project_name,
        random_seed=random_seed,
        training_method=method,
        training_type=training_type,
        # Sent only for vision bases, as the SDK does; byom never trains the vision tower.
        multimodal_params=MultimodalSpec() if limits is not None and limits.supports_vision else None,
        from_checkpoint=from_checkpoint,
        from_hf_model=from_hf_model,
        hf_model_revision=hf_model_revision,
        hf_api_token=hf_api_token,
        hf_output_repo_name=hf_output_repo_name,
    )


def _range(
    name: str, value: float, low: float | None, high: float | None, why: str = "this base's"
) -> list[str]:
    """'x=v is below/above …' messages for ``low ≤ value ≤ high`` (a None bound is not checked)."""
    if low is not None and value < low:
        return [f"{name}={value:g} is below {why} minimum of {low:g}: use {name} ≥ {low:g}."]
    if high is not None and value > high:
        return [f"{name}={value:g} is above {why} maximum of {high:g}: use {name} ≤ {high:g}."]
    return []


def check_request(req: FinetuneRequest, limits: FinetuneModelLimits | None) -> list[str]:
    """Every problem of ``req`` against the base's ``limits`` (empty: nothing found), each with its fix.

    The SDK's own checks (ref §2.5), plus what it leaves to the server: epochs, learning rate, evals,
    checkpoints and LoRA rank against the limits, and evals without a validation file (the CLI's rule).
    """
    problems: list[str] = []
    # -- where the job starts (SDK §2.5 #1–#4)
    if req.model and req.from_checkpoint:
        problems.append(
            "Both model and from_checkpoint are set: a job starts from one of them. Drop model to continue "
            "a checkpoint, or drop from_checkpoint to start from the base."
        )
    if not req.model and not req.from_checkpoint:
        problems.append("Neither model nor from_checkpoint is set: name the base model (or a checkpoint).")
    if req.from_checkpoint and req.from_hf_model:
        problems.append(
            "Both from_checkpoint and from_hf_model are set: continue a Together checkpoint or start from a "
            "Hugging Face model, not both."
        )
    if req.from_hf_model and not req.model:
        problems.append(
            "from_hf_model needs model: name the Together base whose architecture the Hugging Face model shares."
        )
    # -- hyperparameters that need no limits (SDK §2.5 #9–#12, #16, #20)
    problems += _range("warmup_ratio", req.warmup_ratio, 0, 1, "the allowed")
    args = req.lr_scheduler.lr_scheduler_args if req.lr_scheduler else None
    if args is not None and args.min_lr_ratio is not None:
        problems += _range("min_lr_ratio", args.min_lr_ratio, 0, 1, "the allowed")
    if req.lr_scheduler is not None and req.lr_scheduler.lr_scheduler_type == "cosine":
        cycles = args.num_cycles if args is not None else None
        if cycles is not None and cycles <= 0:
            problems.append(f"scheduler_num_cycles={cycles:g} must be greater than 0: use e.g. 0.5.")
    problems += _range("max_grad_norm", req.max_grad_norm, 0, None, "the allowed")
    problems += _range("weight_decay", req.weight_decay, 0, None, "the allowed")
    if isinstance(req.training_method, DpoMethod):
        for name in ("rpo_alpha", "simpo_gamma"):
            value = getattr(req.training_method, name)
            if value is not None:
                problems += _range(name, value, 0, None, "the allowed")
    lora = req.training_type if isinstance(req.training_type, LoraType) else None
    if lora is not None:
        if not 0 <= lora.lora_dropout < 1:
            problems.append(f"lora_dropout={lora.lora_dropout:g} must be in [0, 1): use e.g. 0.0 or 0.05.")
        if lora.lora_r < 1:
            problems.append(f"lora_r={lora.lora_r} must be at least 1: use e.g. 8, 16 or 64.")
        if lora.lora_alpha < 1:
            problems.append(f"lora_alpha={lora.lora_alpha} must be at least 1: use 2 × lora_r.")
    if req.n_epochs < 1:
        problems.append(f"n_epochs={req.n_epochs} must be at least 1.")
    if req.n_checkpoints is not None and req.n_checkpoints < 1:
        problems.append(f"n_checkpoints={req.n_checkpoints} must be at least 1 (the final model is one).")
    if req.n_evals and req.n_evals < 0:
        problems.append(f"n_evals={req.n_evals} must not be negative.")
    if req.n_evals and not req.validation_file:
        problems.append(
            f"n_evals={req.n_evals} needs a validation file: upload one and pass validation_file, or use n_evals=0."
        )
    if limits is not None:
        problems += _against_limits(req, limits, lora)
    return problems


def _against_limits(req: FinetuneRequest, limits: FinetuneModelLimits, lora: LoraType | None) -> list[str]:
    problems: list[str] = []
    base = limits.model_name
    # -- training type and batch size (SDK §2.5 #6–#8)
    low: int | None = None
    high: int | None = None
    if lora is not None:
        if limits.lora_training is None:
            problems.append(
                f"{base} reports no LoRA limits, so it cannot be LoRA-trained: pick another base."
            )
        else:
            lt = limits.lora_training
            low, high = lt.min_batch_size, lt.max_batch_size_dpo if req.is_dpo else lt.max_batch_size
            if lt.max_rank is not None and lora.lora_r > lt.max_rank:
                problems.append(
                    f"lora_r={lora.lora_r} is above this base's maximum rank of {lt.max_rank}: "
                    f"use lora_r ≤ {lt.max_rank}."
                )
    elif isinstance(req.training_type, FullType):
        if limits.full_supported is False or limits.full_training is None:
            problems.append(f"Full fine-tuning is not supported for {base}: train with LoRA (lora=True).")
        else:
            ft = limits.full_training
            low, high = ft.min_batch_size, ft.max_batch_size_dpo if req.is_dpo else ft.max_batch_size
    # With the type left to the server, its batch limits are unknown (the SDK skips them too).
    if isinstance(req.batch_size, int) and req.training_type is not None:
        why = "this base's DPO" if req.is_dpo else "this base's"
        problems += _range("batch_size", req.batch_size, low, high or None, why)
    # -- the limits the SDK leaves to the server
    problems += _range("n_epochs", req.n_epochs, None, limits.max_num_epochs)
    problems += _range("learning_rate", req.learning_rate, limits.min_learning_rate, limits.max_learning_rate)
    if req.n_evals:
        problems += _range("n_evals", req.n_evals, None, limits.max_num_evals)
    if req.n_checkpoints is not None:
        problems += _range("n_checkpoints", req.n_checkpoints, None, limits.max_num_checkpoints)
    # -- sequence length (SDK §2.5 #21–#22)
    if req.max_seq_length is not None:
        longest = limits.max_seq_length_dpo if req.is_dpo else limits.max_seq_length_sft
        kind = "DPO" if req.is_dpo else "SFT"
        problems += _range("max_seq_length", req.max_seq_length, limits.min_max_seq_length, None)
        problems += _range("max_seq_length", req.max_seq_length, None, longest, f"this base's {kind}")
    return problems


# ---- v2 deploy bodies (camelCase on the wire, ref §3.4–§3.11) --------------------------------------

# PATCH ?updateMask= values: only these fields change.
TRAFFIC_SPLIT_MASK = "trafficSplit"
AUTOSCALING_MASK = "autoscaling.minReplicas,autoscaling.maxReplicas"


class _CamelBody(_Body):
    model_config = ConfigDict(
        frozen=True, extra="forbid", allow_inf_nan=False, alias_generator=to_camel, populate_by_name=True
    )

    def wire(self) -> dict[str, Any]:
        return self.model_dump(mode="json", by_alias=True, exclude_none=True)


class AutoscalingSpec(_CamelBody):
    """``autoscaling`` of a deployment create or scale: 0/0 stops it (ref §3.11)."""

    min_replicas: int
    max_replicas: int


class DeploymentCreate(_CamelBody):
    """``POST /v2/projects/{pid}/endpoints/{ep}/deployments``: what to run (``model``) on which hardware (``config``).

    ``inactive_timeout`` (minutes): None or 0 never auto-stops; otherwise 30–1440 (ref §3.11).
    """

    name: str
    model: str  # projects/{p}/models/{ml}[/revisions/{rv}]
    config: str  # projects/{p}/configs/{cr}
    autoscaling: AutoscalingSpec = AutoscalingSpec(min_replicas=1, max_replicas=1)
    inactive_timeout: int | None = None


def traffic_split_body(split: list[TrafficSplitEntry], *, etag: str | None) -> dict[str, Any]:
    """``PATCH …/endpoints/{ep}?updateMask=trafficSplit`` body; an empty split stops all routing (ref §3.10)."""
    body: dict[str, Any] = {
        "trafficSplit": [{"deploymentId": e.deployment_id, "weight": e.weight} for e in split]
    }
    if etag is not None:
        body["etag"] = etag
    return body


def autoscaling_update_body(*, min_replicas: int, max_replicas: int, etag: str | None) -> dict[str, Any]:
    """``PATCH …/deployments/{id}?updateMask=autoscaling.minReplicas,autoscaling.maxReplicas`` body (stop = 0/0)."""
    body: dict[str, Any] = {
        "autoscaling": AutoscalingSpec(min_replicas=min_replicas, max_replicas=max_replicas).wire()
    }
    if etag is not None:
        body["etag"] = etag
    return body
