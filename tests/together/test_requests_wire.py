"""``finetune_request(...)`` builds the very bodies SDK 3.1.1 sends: the real SDK runs against a mock transport,
its ``POST /v1/fine-tunes`` and estimate-price bodies are captured and compared with ours for the same arguments;
where the April OpenAPI spec describes a body, ours is validated against it too. ``check_request`` wording."""

from __future__ import annotations

import json
from functools import cache
from pathlib import Path
from typing import Any

import httpx
import jsonschema
import pytest
import together
import yaml
from pydantic import SecretStr

from byom.errors import InvalidRequest
from byom.together import FinetuneModelLimits, TrafficSplitEntry
from byom.together._requests import (
    DeploymentCreate,
    FinetuneRequest,
    autoscaling_update_body,
    check_request,
    finetune_request,
    traffic_split_body,
)

SPEC = Path(__file__).resolve().parents[1] / "fixtures" / "together-openapi.yaml"

LIMITS: dict[str, Any] = {
    "model_name": "base/M",
    "default_gradient_accumulation_steps": 1,
    "lora_training": {
        "default_rank": 64,
        "max_batch_size": 64,
        "max_batch_size_dpo": 32,
        "max_rank": 64,
        "min_batch_size": 8,
        "target_modules": ["q_proj", "v_proj"],
    },
    "full_training": {"max_batch_size": 32, "max_batch_size_dpo": 16, "min_batch_size": 8},
    "max_learning_rate": 1.0,
    "min_learning_rate": 1e-8,
    "max_num_checkpoints": 10,
    "max_num_epochs": 20,
    "max_num_evals": 100,
    "max_seq_length_sft": 8192,
    "max_seq_length_dpo": 4096,
    "min_max_seq_length": 512,
    "merge_output_lora": True,
    "supports_full_training": True,
    "supports_reasoning": False,
    "supports_tools": False,
    "supports_vision": False,
}
CREATED = {
    "id": "ft-1",
    "status": "pending",
    "created_at": "2026-11-01T00:00:00Z",
    "updated_at": "2026-11-01T00:00:00Z",
    "user_id": "u",
}

# (SDK create kwargs, our finetune_request kwargs beyond them, limits overrides). The SDK's sync create
# defaults to validation_file="" and lora=None; ours to None and True, so those are passed explicitly.
CASES: dict[str, tuple[dict[str, Any], dict[str, Any]]] = {
    "defaults-lora": (
        {"training_file": "file-1", "model": "base/M", "lora": True, "validation_file": None},
        {},
    ),
    "server-picks-type": (
        {"training_file": "file-1", "model": "base/M", "lora": None, "validation_file": None},
        {},
    ),
    "byom-extras": (
        {
            "training_file": "file-1",
            "model": "base/M",
            "from_hf_model": "org/repo",
            "hf_model_revision": "abc",
            "hf_api_token": "hf_secret_x",
            "hf_output_repo_name": "me/out",
            "validation_file": "file-2",
            "n_evals": 4,
            "wandb_api_key": "wandb_secret_k",
            "wandb_project_name": "p",
            "suffix": "s",
            "gradient_accumulation_steps": 2,
            "random_seed": 7,
            "max_seq_length": 1024,
            "lr_scheduler_type": "linear",
            "warmup_ratio": 0.1,
            "lora": True,
            "lora_r": 16,
            "lora_dropout": 0.05,
            "lora_trainable_modules": "q_proj,v_proj",
            "train_on_inputs": False,
            "n_epochs": 3,
            "batch_size": 16,
            "learning_rate": 2e-4,
            "packing": False,
            "n_checkpoints": 2,
        },
        {},
    ),
    "dpo-simpo": (
        {
            "training_file": "file-1",
            "model": "base/M",
            "training_method": "dpo",
            "dpo_beta": 0.1,
            "simpo_gamma": 0.5,
            "lora": True,
            "batch_size": 8,
            "validation_file": None,
        },
        {},
    ),
    "dpo-rpo": (
        {
            "training_file": "file-1",
            "model": "base/M",
            "training_method": "dpo",
            "rpo_alpha": 0.2,
            "lora": True,
            "validation_file": None,
        },
        {},
    ),
    "full": (
        {
            "training_file": "file-1",
            "model": "base/M",
            "lora": False,
            "batch_size": 16,
            "weight_decay": 0.01,
            "max_grad_norm": 0.5,
            "min_lr_ratio": 0.1,
            "scheduler_num_cycles": 1.0,
            "validation_file": None,
        },
        {},
    ),
    "from-checkpoint": (
        {"training_file": "file-1", "from_checkpoint": "ft-abc:10", "lora": None, "validation_file": None},
        {},
    ),
    "vision-base": (
        {"training_file": "file-1", "model": "base/M", "lora": True, "validation_file": None},
        {"supports_vision": True},
    ),
}


def _sdk_bodies(kwargs: dict[str, Any], limits: dict[str, Any]) -> tuple[dict[str, Any], dict[str, Any]]:
    """(create body, estimate body) the real SDK sends for ``create(**kwargs)``."""
    sent: dict[str, Any] = {}

    def handler(request: httpx.Request) -> httpx.Response:
        if request.url.path == "/v1/fine-tunes/models/limits":
            return httpx.Response(200, json=limits)
        if request.url.path == "/v1/fine-tunes/estimate-price":
            sent["estimate"] = json.loads(request.content)
            return httpx.Response(200, json={"estimation_available": True, "estimated_total_price": 1.0})
        assert request.url.path == "/v1/fine-tunes", request.url
        sent["create"] = json.loads(request.content)
        return httpx.Response(200, json=CREATED)

    with httpx.Client(transport=httpx.MockTransport(handler)) as http:
        sdk = together.Together(api_key="x", base_url="http://t", http_client=http, max_retries=0)
        sdk.fine_tuning.create(**kwargs)
    return sent["create"], sent["estimate"]


def _ours(kwargs: dict[str, Any], limits: dict[str, Any]) -> FinetuneRequest:
    args = dict(kwargs)
    for secret in ("hf_api_token", "wandb_api_key"):
        if secret in args:
            args[secret] = SecretStr(args[secret])
    return finetune_request(limits=FinetuneModelLimits.model_validate(limits), **args)


@pytest.mark.parametrize("case", sorted(CASES))
def test_bodies_equal_what_sdk_3_1_1_sends(case: str) -> None:
    kwargs, limit_overrides = CASES[case]
    limits = {**LIMITS, **limit_overrides}
    sdk_create, sdk_estimate = _sdk_bodies(kwargs, limits)
    req = _ours(kwargs, limits)
    assert req.wire() == sdk_create
    assert req.estimate_body() == sdk_estimate
    assert check_request(req, FinetuneModelLimits.model_validate(limits)) == []


def test_secrets_show_only_in_the_wire_body() -> None:
    kwargs, _ = CASES["byom-extras"]
    req = _ours(kwargs, LIMITS)
    for shown in (repr(req), str(req), json.dumps(req.public()), json.dumps(req.estimate_body())):
        assert "hf_secret_x" not in shown and "wandb_secret_k" not in shown
    assert "hf_api_token" not in req.public() and "wandb_key" not in req.public()
    assert req.wire()["hf_api_token"] == "hf_secret_x" and req.wire()["wandb_key"] == "wandb_secret_k"
    assert {k: v for k, v in req.wire().items() if k not in ("hf_api_token", "wandb_key")} == req.public()


def test_the_request_is_frozen() -> None:
    req = _ours(CASES["defaults-lora"][0], LIMITS)
    with pytest.raises(ValueError):
        req.n_epochs = 3  # type: ignore[misc]


# ---- the April spec, where it describes the body ---------------------------------------------------


@cache
def _spec() -> dict[str, Any]:
    with SPEC.open(encoding="utf-8") as fh:
        document: dict[str, Any] = yaml.load(fh, Loader=getattr(yaml, "CSafeLoader", yaml.SafeLoader))
    schemas = document["components"]["schemas"]
    # Spec flaws SDK 3.1.1's own bodies break (the same ones tests/engine/test_openapi.py lists): "auto" next
    # to a stray `type: boolean`; cosine args matching both oneOf branches; 3.0 `nullable` in a 3.1 document.
    schemas["TrainingMethodSFT"]["properties"]["train_on_inputs"].pop("type")
    args = schemas["LRScheduler"]["properties"]["lr_scheduler_args"]
    args["anyOf"] = args.pop("oneOf")
    return document


def _validator(path: str) -> jsonschema.Draft202012Validator:
    document = _spec()
    schema = dict(document["paths"][path]["post"]["requestBody"]["content"]["application/json"]["schema"])
    if "training_type" in schema["properties"]:
        training_type = dict(schema["properties"]["training_type"])
        # `nullable: true` is OpenAPI 3.0; the SDK's estimate sends training_type: null.
        training_type["type"] = ["object", "null"]
        for key in ("oneOf", "anyOf"):
            if key in training_type:
                training_type[key] = [*training_type[key], {"type": "null"}]
        schema["properties"] = {**schema["properties"], "training_type": training_type}
    return jsonschema.Draft202012Validator({**schema, "components": document["components"]})


@pytest.mark.parametrize("case", sorted(CASES))
def test_bodies_validate_against_the_april_spec(case: str) -> None:
    kwargs, limit_overrides = CASES[case]
    req = _ours(kwargs, {**LIMITS, **limit_overrides})
    estimate_errors = [
        e.message for e in _validator("/fine-tunes/estimate-price").iter_errors(req.estimate_body())
    ]
    assert estimate_errors == []
    create_errors = [e.message for e in _validator("/fine-tunes").iter_errors(req.wire())]
    # The spec requires model; SDK 3.1.1 leaves it out of checkpoint jobs (ref §6).
    expected = ["'model' is a required property"] if req.from_checkpoint else []
    assert create_errors == expected


# ---- check_request ---------------------------------------------------------------------------------


def _limits(**overrides: Any) -> FinetuneModelLimits:
    return FinetuneModelLimits.model_validate({**LIMITS, **overrides})


def _problems(limits: FinetuneModelLimits | None = None, **kwargs: Any) -> list[str]:
    limits = limits or _limits()
    args = {"training_file": "file-1", "model": "base/M", **kwargs}
    return check_request(finetune_request(limits=limits, **args), limits)


def test_limits_the_sdk_leaves_to_the_server_are_checked_with_the_fix() -> None:
    assert _problems(n_epochs=50) == ["n_epochs=50 is above this base's maximum of 20: use n_epochs ≤ 20."]
    assert _problems(learning_rate=2.0) == [
        "learning_rate=2 is above this base's maximum of 1: use learning_rate ≤ 1."
    ]
    assert _problems(learning_rate=1e-9) == [
        "learning_rate=1e-09 is below this base's minimum of 1e-08: use learning_rate ≥ 1e-08."
    ]
    assert _problems(n_checkpoints=11) == [
        "n_checkpoints=11 is above this base's maximum of 10: use n_checkpoints ≤ 10."
    ]
    assert _problems(n_evals=101, validation_file="file-2") == [
        "n_evals=101 is above this base's maximum of 100: use n_evals ≤ 100."
    ]
    assert _problems(lora_r=128) == ["lora_r=128 is above this base's maximum rank of 64: use lora_r ≤ 64."]
    assert _problems(n_evals=2) == [
        "n_evals=2 needs a validation file: upload one and pass validation_file, or use n_evals=0."
    ]


def test_batch_size_bounds_follow_the_training_type_and_method() -> None:
    assert _problems(batch_size=128) == [
        "batch_size=128 is above this base's maximum of 64: use batch_size ≤ 64."
    ]
    assert _problems(batch_size=4) == ["batch_size=4 is below this base's minimum of 8: use batch_size ≥ 8."]
    assert _problems(batch_size=48, training_method="dpo") == [
        "batch_size=48 is above this base's DPO maximum of 32: use batch_size ≤ 32."
    ]
    assert _problems(batch_size=48, lora=False) == [
        "batch_size=48 is above this base's maximum of 32: use batch_size ≤ 32."
    ]
    assert _problems(batch_size=20, lora=False, training_method="dpo") == [
        "batch_size=20 is above this base's DPO maximum of 16: use batch_size ≤ 16."
    ]
    # The server picks the type: its batch limits are unknown, as in the SDK.
    assert _problems(batch_size=1000, lora=None) == []


def test_sequence_length_and_full_training() -> None:
    assert _problems(max_seq_length=256) == [
        "max_seq_length=256 is below this base's minimum of 512: use max_seq_length ≥ 512."
    ]
    assert _problems(max_seq_length=10_000) == [
        "max_seq_length=10000 is above this base's SFT maximum of 8192: use max_seq_length ≤ 8192."
    ]
    assert _problems(max_seq_length=6000, training_method="dpo") == [
        "max_seq_length=6000 is above this base's DPO maximum of 4096: use max_seq_length ≤ 4096."
    ]
    no_full = _limits(full_training=None, supports_full_training=False)
    assert _problems(no_full, lora=False) == [
        "Full fine-tuning is not supported for base/M: train with LoRA (lora=True)."
    ]


def test_the_sdks_own_checks_in_clear_words() -> None:
    assert _problems(from_checkpoint="ft-1")[0].startswith("Both model and from_checkpoint are set")
    assert _problems(model=None)[0].startswith("Neither model nor from_checkpoint is set")
    assert any("from_hf_model needs model" in p for p in _problems(model=None, from_hf_model="org/repo"))
    assert _problems(lora_dropout=1.0) == ["lora_dropout=1 must be in [0, 1): use e.g. 0.0 or 0.05."]
    assert _problems(warmup_ratio=1.5) == [
        "warmup_ratio=1.5 is above the allowed maximum of 1: use warmup_ratio ≤ 1."
    ]
    assert _problems(min_lr_ratio=-0.1) == [
        "min_lr_ratio=-0.1 is below the allowed minimum of 0: use min_lr_ratio ≥ 0."
    ]
    assert _problems(max_grad_norm=-1.0) == [
        "max_grad_norm=-1 is below the allowed minimum of 0: use max_grad_norm ≥ 0."
    ]
    assert _problems(scheduler_num_cycles=0.0) == [
        "scheduler_num_cycles=0 must be greater than 0: use e.g. 0.5."
    ]
    assert _problems(training_method="dpo", rpo_alpha=-1.0) == [
        "rpo_alpha=-1 is below the allowed minimum of 0: use rpo_alpha ≥ 0."
    ]
    assert _problems(_limits(lora_training=None), lora_r=8) == [
        "base/M reports no LoRA limits, so it cannot be LoRA-trained: pick another base."
    ]


def test_argument_mixes_the_body_cannot_carry_are_refused() -> None:
    with pytest.raises(InvalidRequest) as info:
        finetune_request(training_file="f", model="m", limits=_limits(), dpo_beta=0.1)
    assert info.value.param == "dpo_beta" and "training_method='dpo'" in str(info.value)
    with pytest.raises(InvalidRequest) as info:
        finetune_request(
            training_file="f", model="m", limits=_limits(), training_method="dpo", train_on_inputs=True
        )
    assert info.value.param == "train_on_inputs"
    with pytest.raises(InvalidRequest) as info:
        finetune_request(training_file="f", model="m", limits=_limits(), training_method="ppo")
    assert "'sft' or 'dpo'" in str(info.value)
    with pytest.raises(InvalidRequest) as info:
        finetune_request(training_file="f", model="m", limits=None)
    assert info.value.param == "lora_r"


# ---- v2 deploy bodies (the captured shapes, ref §3.5, §3.10, §3.11) --------------------------------


def test_deploy_bodies_are_camel_case_as_captured() -> None:
    create = DeploymentCreate(
        name="my-ft-1",
        model="projects/p/models/ml_1/revisions/rv_1",
        config="projects/p/configs/cr_1",
        inactive_timeout=60,
    )
    assert create.wire() == {
        "name": "my-ft-1",
        "model": "projects/p/models/ml_1/revisions/rv_1",
        "config": "projects/p/configs/cr_1",
        "autoscaling": {"minReplicas": 1, "maxReplicas": 1},
        "inactiveTimeout": 60,
    }
    assert "inactiveTimeout" not in DeploymentCreate(name="d", model="m", config="c").wire()
    split = [TrafficSplitEntry(deployment_id="dep_1", weight=1)]
    assert traffic_split_body(split, etag="e1") == {
        "etag": "e1",
        "trafficSplit": [{"deploymentId": "dep_1", "weight": 1.0}],
    }
    assert traffic_split_body([], etag=None) == {"trafficSplit": []}
    assert autoscaling_update_body(min_replicas=0, max_replicas=0, etag=None) == {
        "autoscaling": {"minReplicas": 0, "maxReplicas": 0}
    }
