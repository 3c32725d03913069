"""TogetherClient against a MockTransport that answers like Together's API (the unreachable boundary)."""

from __future__ import annotations

import json

import httpx2
import pytest

from byom.config import load_settings
from byom.errors import TogetherAPIError
from byom.together import TogetherClient
from support.together_api import Recorder
from support.together_api import supported_model as _model

pytestmark = pytest.mark.anyio

KEY = "tk-test-secret-1234567890"
LIMITS = {
    "model_name": "togethercomputer/llama-2-7b-chat",
    "default_gradient_accumulation_steps": 1,
    "lora_training": {
        "default_rank": 64,
        "max_batch_size": 64,
        "max_batch_size_dpo": 32,
        "max_rank": 64,
        "min_batch_size": 8,
        "target_modules": ["q_proj", "v_proj"],
    },
    "full_training": None,
    "max_learning_rate": 1.0,
    "min_learning_rate": 1e-8,
    "max_num_checkpoints": 20,
    "max_num_epochs": 20,
    "max_num_evals": 100,
    "max_seq_length_sft": 4096,
    "max_seq_length_dpo": 4096,
    "min_max_seq_length": 512,
    "merge_output_lora": True,
    "supports_full_training": False,
    "supports_reasoning": False,
    "supports_tools": False,
    "supports_vision": False,
    "brand_new_field": {"kept": True},
}


async def test_supported_models_follows_cursor_and_sends_bearer() -> None:
    def handler(request: httpx2.Request) -> httpx2.Response:
        assert request.url.path == "/v2/supported-models"
        assert request.url.params["product"] == "PRODUCT_FINE_TUNING"
        assert request.headers["authorization"] == f"Bearer {KEY}"
        if request.url.params.get("after") == "c1":
            return httpx2.Response(200, json={"data": [_model("b/two")], "next_cursor": ""})
        return httpx2.Response(200, json={"data": [_model("a/one")], "next_cursor": "c1"})

    rec = Recorder(handler, key=KEY)
    async with rec.client() as client:
        models = await client.supported_models()
    assert [m.model_name for m in models] == ["a/one", "b/two"]
    assert models[0].context == 4096 and models[0].display_name == "a/one"
    assert len(rec.requests) == 2


async def test_cursor_loop_is_bounded() -> None:
    rec = Recorder(lambda r: httpx2.Response(200, json={"data": [_model("a/one")], "next_cursor": "same"}))
    async with rec.client() as client:
        models = await client.supported_models()
    assert len(rec.requests) == 2 and len(models) == 2


async def test_model_limits_parses_leniently() -> None:
    def handler(request: httpx2.Request) -> httpx2.Response:
        assert request.url.path == "/v1/fine-tunes/models/limits"
        assert request.url.params["model_name"] == "togethercomputer/llama-2-7b-chat"
        return httpx2.Response(200, json=LIMITS)

    async with Recorder(handler, key=KEY).client() as client:
        limits = await client.model_limits("togethercomputer/llama-2-7b-chat")
    assert limits.max_seq_length_sft == 4096 and limits.lora_training is not None
    assert limits.lora_training.max_batch_size == 64 and limits.full_supported is False
    assert limits.model_extra == {"brand_new_field": {"kept": True}}


async def test_limits_404_message_body() -> None:
    rec = Recorder(
        lambda r: httpx2.Response(404, json={"message": "Model not found or not supported"}), key=KEY
    )
    async with rec.client() as client:
        with pytest.raises(TogetherAPIError) as info:
            await client.model_limits("nope/model")
    err = info.value
    assert err.status_code == 404 and len(rec.requests) == 1
    assert "Model not found or not supported" in str(err) and "supported-models" in str(err)


async def test_401_names_the_key_variable_and_never_the_key() -> None:
    body = {
        "error": {
            "message": f"Invalid API key {KEY}",
            "type": "authentication_error",
            "param": None,
            "code": "invalid_api_key",
        }
    }
    rec = Recorder(lambda r: httpx2.Response(401, json=body), key=KEY)
    async with rec.client() as client:
        with pytest.raises(TogetherAPIError) as info:
            await client.model_limits("x/y")
    err = info.value
    assert err.status_code == 401 and err.code == "invalid_api_key"
    assert "TOGETHER_API_KEY" in str(err) and KEY not in str(err) and KEY not in repr(err)
    assert len(rec.requests) == 1  # 401 is not retried
    assert KEY not in repr(rec.client())


async def test_400_reports_param_and_code() -> None:
    body = {
        "error": {"message": "bad value", "type": "invalid_request_error", "param": "model_name", "code": "x"}
    }
    async with Recorder(lambda r: httpx2.Response(400, json=body), key=KEY).client() as client:
        with pytest.raises(TogetherAPIError, match=r"bad value \(param: model_name\)\. Fix the request"):
            await client.model_limits("x/y")


async def test_429_retries_after_the_servers_delay() -> None:
    answers = [
        httpx2.Response(429, headers={"Retry-After": "3"}, json={"message": "slow down"}),
        httpx2.Response(200, json=LIMITS),
    ]
    rec = Recorder(lambda r: answers.pop(0), key=KEY)
    async with rec.client() as client:
        limits = await client.model_limits("togethercomputer/llama-2-7b-chat")
    assert limits.model_name == "togethercomputer/llama-2-7b-chat"
    assert rec.sleeps == [3.0] and len(rec.requests) == 2


async def test_429_exhausted_says_when_to_retry() -> None:
    rec = Recorder(
        lambda r: httpx2.Response(429, headers={"retry-after-ms": "1500"}, json={"message": "slow"}), key=KEY
    )
    async with rec.client(max_retries=1) as client:
        with pytest.raises(TogetherAPIError, match="retry after 2 s") as info:
            await client.model_limits("x/y")
    assert info.value.status_code == 429 and rec.sleeps == [1.5]


async def test_5xx_retries_with_backoff_then_names_request_id() -> None:
    rec = Recorder(
        lambda r: httpx2.Response(503, headers={"x-request-id": "req-42"}, text="overloaded"), key=KEY
    )
    async with rec.client() as client:
        with pytest.raises(TogetherAPIError) as info:
            await client.supported_models()
    assert len(rec.requests) == 3  # 1 + 2 retries, like SDK 3.1.1
    assert len(rec.sleeps) == 2 and 0.75 <= rec.sleeps[0] <= 1.0 and 1.5 <= rec.sleeps[1] <= 2.0
    assert (
        info.value.request_id == "req-42" and "req-42" in str(info.value) and "overloaded" in str(info.value)
    )


async def test_x_should_retry_false_is_honoured() -> None:
    rec = Recorder(
        lambda r: httpx2.Response(500, headers={"x-should-retry": "false"}, json={"message": "no"}), key=KEY
    )
    async with rec.client() as client:
        with pytest.raises(TogetherAPIError):
            await client.supported_models()
    assert len(rec.requests) == 1


async def test_post_is_never_retried() -> None:
    rec = Recorder(
        lambda r: httpx2.Response(500, json={"error": {"message": "boom", "type": "server_error"}}), key=KEY
    )
    async with rec.client() as client:
        with pytest.raises(TogetherAPIError) as info:
            await client.request("POST", "/v1/fine-tunes", json={"model": "x"})
    assert len(rec.requests) == 1 and rec.sleeps == [] and info.value.status_code == 500
    assert json.loads(rec.requests[0].content) == {"model": "x"}


async def test_connection_errors_retry_then_explain() -> None:
    def handler(request: httpx2.Request) -> httpx2.Response:
        raise httpx2.ConnectError("connection refused", request=request)

    rec = Recorder(handler, key=KEY)
    async with rec.client() as client:
        with pytest.raises(TogetherAPIError) as info:
            await client.model_limits("x/y")
    assert len(rec.requests) == 3 and info.value.status_code is None
    assert "TOGETHER_BASE_URL" in str(info.value) and isinstance(info.value.__cause__, httpx2.ConnectError)


async def test_non_json_success_body() -> None:
    rec = Recorder(lambda r: httpx2.Response(200, text="<html>hello</html>"), key=KEY)
    async with rec.client() as client:
        with pytest.raises(TogetherAPIError, match="not JSON"):
            await client.model_limits("x/y")


async def test_unexpected_shape() -> None:
    rec = Recorder(lambda r: httpx2.Response(200, json={"data": "not-a-list"}), key=KEY)
    async with rec.client() as client:
        with pytest.raises(TogetherAPIError, match="unexpected shape"):
            await client.supported_models()


async def test_from_settings_uses_key_and_root_url() -> None:
    seen: list[httpx2.Request] = []

    def handler(request: httpx2.Request) -> httpx2.Response:
        seen.append(request)
        return httpx2.Response(200, json=LIMITS)

    settings = load_settings({"TOGETHER_API_KEY": KEY, "TOGETHER_BASE_URL": "http://127.0.0.1:8377/"})
    async with TogetherClient.from_settings(settings, transport=httpx2.MockTransport(handler)) as client:
        assert client.base_url == "http://127.0.0.1:8377"
        await client.model_limits("m")
    assert str(seen[0].url).startswith("http://127.0.0.1:8377/v1/fine-tunes/models/limits?")
    engine = TogetherClient.for_engine(load_settings({}), transport=httpx2.MockTransport(handler))
    async with engine:
        await engine.model_limits("m")
    assert "authorization" not in seen[1].headers


async def test_a_message_ending_in_a_period_gets_no_second_one() -> None:
    body = {
        "error": {"message": "Invalid API key.", "type": "authentication_error", "code": "invalid_api_key"}
    }
    async with Recorder(lambda r: httpx2.Response(401, json=body), key=KEY).client() as client:
        with pytest.raises(TogetherAPIError) as info:
            await client.model_limits("x/y")
    assert "Invalid API key. The API key was rejected" in str(info.value) and ".." not in str(info.value)


async def test_unexpected_shape_names_the_field_without_pydantic_links() -> None:
    broken = {**LIMITS, "max_seq_length_sft": "long"}
    async with Recorder(lambda r: httpx2.Response(200, json=broken), key=KEY).client() as client:
        with pytest.raises(TogetherAPIError) as info:
            await client.model_limits("x/y")
    text = str(info.value)
    assert "max_seq_length_sft: Input should be a valid integer" in text
    assert "pydantic.dev" not in text and "'long'" not in text
