"""Every error the user can fix: class, message with the next step, and no token in the text."""

from __future__ import annotations

import pytest

from byom.config import Settings
from byom.errors import (
    EntryNotFound,
    GatedRepo,
    HubError,
    HubUnreachable,
    PrivateRepo,
    RateLimited,
    RepoNotFound,
    RevisionNotFound,
)
from byom.hub import HubInspector
from support.fakehub import TOKEN, FakeHub, make_inspector


def _assert_clean(exc: BaseException) -> None:
    text = str(exc)
    assert TOKEN not in text and "hf_fake" not in text
    assert "Traceback" not in text


def test_missing_repo_without_token_may_be_private(inspector: HubInspector) -> None:
    with pytest.raises(PrivateRepo) as info:
        inspector.inspect("org/does-not-exist")
    assert "HF_TOKEN" in str(info.value) and "check the spelling" in str(info.value)
    _assert_clean(info.value)


def test_missing_repo_with_token(authed_inspector: HubInspector) -> None:
    with pytest.raises(RepoNotFound) as info:
        authed_inspector.inspect("org/does-not-exist")
    assert "Check the spelling" in str(info.value) and "read access" in str(info.value)
    _assert_clean(info.value)


def test_private_repo_without_token(inspector: HubInspector) -> None:
    with pytest.raises(PrivateRepo) as info:
        inspector.inspect("org/private-model")
    assert "set HF_TOKEN" in str(info.value)
    _assert_clean(info.value)


def test_gated_repo_without_token(inspector: HubInspector) -> None:
    with pytest.raises(GatedRepo) as info:
        inspector.inspect("meta-llama/Llama-3.2-1B")
    message = str(info.value)
    assert "https://huggingface.co/meta-llama/Llama-3.2-1B" in message and "HF_TOKEN" in message
    _assert_clean(info.value)


def test_gated_repo_with_token_without_access(settings: Settings, hub: FakeHub) -> None:
    inspector = make_inspector(settings, token="hf_other_token_without_access")
    with pytest.raises(GatedRepo) as info:
        inspector.inspect("meta-llama/Llama-3.2-1B")
    assert "accept the terms" in str(info.value)
    assert "hf_other_token" not in str(info.value)


def test_bad_revision(inspector: HubInspector) -> None:
    with pytest.raises(RevisionNotFound) as info:
        inspector.inspect("HuggingFaceTB/SmolLM2-135M-Instruct", revision="nope")
    assert "'nope'" in str(info.value) and "tree/main" in str(info.value)


def test_repo_without_config(inspector: HubInspector) -> None:
    with pytest.raises(EntryNotFound) as info:
        inspector.inspect("org/gguf-only")
    assert "config.json" in str(info.value) and "GGUF" in str(info.value)


def test_config_listed_but_missing_is_entry_not_found(inspector: HubInspector, hub: FakeHub) -> None:
    repo = hub.repos["openai-community/gpt2"]
    # The sibling list says config.json exists but the resolve endpoint answers EntryNotFound.
    content = repo.files.pop("config.json")
    repo.files = {"config.json": content, **repo.files}
    original = hub._resolve

    def resolve(request, repo_id, rev, filename):  # type: ignore[no-untyped-def]
        if filename == "config.json":
            return hub._error(404, "EntryNotFound", "gone")
        return original(request, repo_id, rev, filename)

    hub._resolve = resolve  # type: ignore[method-assign]
    with pytest.raises(EntryNotFound) as info:
        inspector.inspect("openai-community/gpt2")
    assert "config.json" in str(info.value) and "adapter_config.json" in str(info.value)


def test_rate_limited_carries_retry_after(inspector: HubInspector, hub: FakeHub) -> None:
    hub.rate_limited["openai-community/gpt2"] = 17
    with pytest.raises(RateLimited) as info:
        inspector.inspect("openai-community/gpt2")
    assert info.value.retry_after == 17.0
    assert "Retry in 17 seconds" in str(info.value)


def test_hub_unreachable(inspector: HubInspector, hub: FakeHub) -> None:
    hub.down = True
    with pytest.raises(HubUnreachable) as info:
        inspector.inspect("openai-community/gpt2")
    assert "network" in str(info.value) and "local directory" in str(info.value)


def test_server_error_is_unreachable(inspector: HubInspector, hub: FakeHub) -> None:
    original = hub.handle

    def broken(request):  # type: ignore[no-untyped-def]
        if request.url.path.startswith("/api/models/"):
            hub.requests.append(request)
            return hub._error(503, None, "maintenance")
        return original(request)

    hub.handle = broken  # type: ignore[method-assign]
    with hub.installed(), pytest.raises(HubUnreachable) as info:
        inspector.inspect("openai-community/gpt2")
    assert "503" in str(info.value) and "Retry" in str(info.value)


@pytest.mark.parametrize("bad", ["not a repo id!", "org/na me", "a/b/c/d"])
def test_malformed_ids_and_missing_paths(inspector: HubInspector, hub: FakeHub, bad: str) -> None:
    with pytest.raises(RepoNotFound) as info:
        inspector.inspect(bad)
    assert "org/name" in str(info.value)
    assert hub.requests == []


def test_missing_local_path(inspector: HubInspector) -> None:
    with pytest.raises(RepoNotFound, match="not an existing directory"):
        inspector.inspect("./no/such/model/dir")


def test_invalid_json_config(inspector: HubInspector, hub: FakeHub) -> None:
    hub.repos["openai-community/gpt2"].files["config.json"] = b"{not json"
    with pytest.raises(HubError, match="not valid JSON"):
        inspector.inspect("openai-community/gpt2")


def test_token_is_sent_but_never_in_reports(authed_inspector: HubInspector, hub: FakeHub) -> None:
    report = authed_inspector.inspect("org/private-model")
    assert TOKEN not in report.model_dump_json()
    assert hub.requests[0].headers["authorization"] == f"Bearer {TOKEN}"


# The translation seam on hand-built responses (as huggingface_hub's own test_utils_errors.py does).
def _raise_for(
    status: int, headers: dict[str, str] | None = None, url: str = "http://hub.test/api/models/o/n"
):
    import httpx2
    from huggingface_hub.utils import hf_raise_for_status

    response = httpx2.Response(status, headers=headers or {}, request=httpx2.Request("GET", url))
    hf_raise_for_status(response)


@pytest.mark.parametrize(
    ("status", "headers", "has_token", "expected", "needle"),
    [
        (403, {}, True, PrivateRepo, "read access"),
        (403, {}, False, PrivateRepo, "Set HF_TOKEN"),
        (403, {"X-Error-Message": "Access to this resource is disabled."}, False, RepoNotFound, "disabled"),
        (
            429,
            {"RateLimit": '"api";r=0;t=42', "RateLimit-Policy": '"fixed window";"api";q=500;w=300'},
            False,
            RateLimited,
            "42 seconds",
        ),
        (429, {}, False, RateLimited, "in a minute"),
        (500, {}, False, HubUnreachable, "HTTP 500"),
        (418, {}, False, HubError, "HTTP 418"),
    ],
)
def test_status_translation(status, headers, has_token, expected, needle) -> None:  # type: ignore[no-untyped-def]
    from byom.hub._errors import hub_errors

    with pytest.raises(expected) as info, hub_errors("o/n", revision=None, has_token=has_token, what="x"):
        _raise_for(status, headers)
    assert needle in str(info.value)


def test_offline_mode_is_unreachable() -> None:
    from huggingface_hub.errors import OfflineModeIsEnabled

    from byom.hub._errors import hub_errors

    with (
        pytest.raises(HubUnreachable, match="HF_HUB_OFFLINE"),
        hub_errors("o/n", revision=None, has_token=False, what="x"),
    ):
        raise OfflineModeIsEnabled("offline")


def test_hub_timeout_is_unreachable(inspector: HubInspector, hub: FakeHub) -> None:
    import httpx2

    def stall(request):  # type: ignore[no-untyped-def]
        raise httpx2.ReadTimeout("timed out", request=request)

    hub.handle = stall  # type: ignore[method-assign]
    with hub.installed(), pytest.raises(HubUnreachable, match="ReadTimeout"):
        inspector.inspect("openai-community/gpt2")


@pytest.mark.parametrize(
    ("repo_id", "revision", "expected"),
    [
        ("org/does-not-exist", None, RepoNotFound),
        ("HuggingFaceTB/SmolLM2-135M-Instruct", "nope", RevisionNotFound),
        ("org/gguf-only", None, EntryNotFound),
        ("openai-community/gpt2", None, RateLimited),
    ],
)
def test_errors_with_a_token_never_show_it(
    authed_inspector: HubInspector, hub: FakeHub, repo_id: str, revision: str | None, expected: type
) -> None:
    hub.rate_limited["openai-community/gpt2"] = 5
    with pytest.raises(expected) as info:
        authed_inspector.inspect(repo_id, revision=revision)
    _assert_clean(info.value)
    if repo_id != "org/gguf-only":  # that one is our own finding (no config.json listed), not a Hub error
        assert info.value.__cause__ is not None  # translated once, from the library error
