"""TogetherClient's one request path under faults (MockTransport is the boundary; sleeps are injected, so no
real waiting): what is retried, what never is, and what a caller is told. Plus the upload flow's checks and
the request shapes of the other methods."""

from __future__ import annotations

import json
import logging
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx2
import pytest

from byom.errors import InvalidRequest, RequestOutcomeUnknown, TogetherAPIError
from byom.together import DeploymentCreate, TrafficSplitEntry, finetune_request
from support.together_api import Recorder

pytestmark = pytest.mark.anyio

KEY = "tk-canary-5f0c1d2e3a4b"
JOB = {"id": "ft-1", "status": "pending", "created_at": "2026-11-01T00:00:00Z", "user_id": "u"}
REQ = finetune_request(training_file="file-1", model="base/M", lora_r=8)


def recorder(*answers: httpx2.Response | type[Exception] | Exception) -> Recorder:
    """Answers in order (an exception class or instance is raised for that attempt); the last one repeats."""
    queue = list(answers)

    def handler(request: httpx2.Request) -> httpx2.Response:
        answer = queue.pop(0) if len(queue) > 1 else queue[0]
        if isinstance(answer, type):
            raise answer("boom", request=request)  # type: ignore[call-arg]
        if isinstance(answer, Exception):
            raise answer
        return answer

    return Recorder(handler, key=KEY)


def ok(body: Any = JOB, status: int = 200, **headers: str) -> httpx2.Response:
    return httpx2.Response(status, json=body, headers=headers)


# ---- retries -------------------------------------------------------------------------------------


async def test_429_waits_the_servers_retry_after() -> None:
    rec = recorder(ok({"message": "slow"}, 429, **{"Retry-After": "7"}), ok())
    async with rec.client() as client:
        job = await client.retrieve_finetune("ft-1")
    assert job.id == "ft-1" and rec.sleeps == [7.0] and len(rec.requests) == 2


async def test_5xx_on_a_get_is_retried_until_it_succeeds() -> None:
    rec = recorder(ok({"message": "a"}, 500), ok({"message": "b"}, 503), ok())
    async with rec.client() as client:
        job = await client.retrieve_finetune("ft-1")
    assert job.status == "pending" and len(rec.requests) == 3 and len(rec.sleeps) == 2


async def test_timeouts_on_a_get_are_retried() -> None:
    rec = recorder(httpx2.ReadTimeout, httpx2.RemoteProtocolError, ok())
    async with rec.client() as client:
        job = await client.retrieve_finetune("ft-1")
    assert job.id == "ft-1" and len(rec.requests) == 3


async def test_attempts_are_bounded() -> None:
    rec = recorder(ok({"message": "down"}, 503))
    async with rec.client(max_retries=3) as client:
        with pytest.raises(TogetherAPIError) as info:
            await client.list_finetunes()
    assert len(rec.requests) == 4 and len(rec.sleeps) == 3 and info.value.status_code == 503
    assert "Retry in a minute" in str(info.value)


async def test_a_post_that_never_left_is_sent_again() -> None:
    rec = recorder(httpx2.ConnectError, httpx2.ConnectTimeout, ok())
    async with rec.client() as client:
        job = await client.create_finetune(REQ)
    assert job.id == "ft-1" and len(rec.requests) == 3
    assert all(json.loads(r.content) == REQ.wire() for r in rec.requests)


async def test_a_post_that_never_leaves_ends_in_a_plain_error() -> None:
    rec = recorder(httpx2.ConnectError)
    async with rec.client() as client:
        with pytest.raises(TogetherAPIError) as info:
            await client.create_finetune(REQ)
    assert type(info.value) is TogetherAPIError and len(rec.requests) == 3
    assert "TOGETHER_BASE_URL" in str(info.value)


@pytest.mark.parametrize("fault", [httpx2.ReadTimeout, httpx2.RemoteProtocolError, httpx2.ReadError])
async def test_a_lost_create_answer_is_sent_once_and_said_to_be_unknown(fault: type[Exception]) -> None:
    rec = recorder(fault, ok())
    async with rec.client() as client:
        with pytest.raises(RequestOutcomeUnknown) as info:
            await client.create_finetune(REQ)
    assert len(rec.requests) == 1 and rec.sleeps == []
    text = str(info.value)
    assert "POST /v1/fine-tunes" in text and "may have been created" in text and "list the jobs" in text
    assert info.value.status_code is None and isinstance(info.value, TogetherAPIError)


@pytest.mark.parametrize("status", [500, 502, 503, 429, 408])
async def test_an_error_answer_to_create_is_not_retried(status: int) -> None:
    rec = recorder(ok({"error": {"message": "no", "type": "server_error"}}, status), ok())
    async with rec.client() as client:
        with pytest.raises(TogetherAPIError) as info:
            await client.create_finetune(REQ)
    assert len(rec.requests) == 1 and rec.sleeps == [] and info.value.status_code == status
    assert not isinstance(info.value, RequestOutcomeUnknown)


async def test_safe_posts_are_retried() -> None:
    estimate = {"estimation_available": True, "estimated_total_price": 2.5}
    rec = recorder(ok({"message": "x"}, 503), httpx2.ReadTimeout, ok(estimate))
    async with rec.client() as client:
        price = await client.estimate_price(REQ)
    assert price.estimated_total_price == 2.5 and len(rec.requests) == 3
    assert json.loads(rec.requests[0].content) == REQ.estimate_body()
    rec = recorder(httpx2.ReadTimeout, ok({**JOB, "status": "cancel_requested"}))
    async with rec.client() as client:
        assert (await client.cancel_finetune("ft-1")).status == "cancel_requested"
    assert len(rec.requests) == 2


async def test_a_lost_endpoint_create_names_its_own_next_step() -> None:
    rec = recorder(httpx2.ReadTimeout)
    async with rec.client() as client:
        with pytest.raises(RequestOutcomeUnknown, match=r"list_endpoints\(name='my-ft'\)"):
            await client.create_endpoint("proj_1", "my-ft")
    assert len(rec.requests) == 1


# ---- secrets and messages ------------------------------------------------------------------------


async def test_no_error_or_log_line_carries_the_api_key(caplog: pytest.LogCaptureFixture) -> None:
    echo = {"error": {"message": f"bad key {KEY}", "type": "x"}}
    faults: list[tuple[Callable[[], Recorder], Callable[[Any], Any]]] = [
        (lambda: recorder(ok(echo, 401)), lambda c: c.whoami()),
        (lambda: recorder(ok(echo, 500)), lambda c: c.retrieve_finetune("ft-1")),
        (lambda: recorder(ok(echo, 400)), lambda c: c.create_finetune(REQ)),
        (lambda: recorder(httpx2.ReadTimeout), lambda c: c.create_finetune(REQ)),
        (lambda: recorder(httpx2.ConnectError), lambda c: c.list_files()),
        (lambda: recorder(httpx2.Response(200, text=f"<html>{KEY}</html>")), lambda c: c.whoami()),
    ]
    with caplog.at_level(logging.DEBUG, logger="byom"):
        for make, call in faults:
            rec = make()
            async with rec.client() as client:
                with pytest.raises(TogetherAPIError) as info:
                    await call(client)
            assert KEY not in str(info.value) and KEY not in repr(info.value), info.value
            assert str(info.value).rstrip().endswith((".", ")")), info.value
            assert rec.requests[0].headers["authorization"] == f"Bearer {KEY}"
    assert KEY not in caplog.text


async def test_wrong_shapes_and_non_json_are_clear_errors() -> None:
    async with recorder(httpx2.Response(200, text="<html>hi</html>")).client() as client:
        with pytest.raises(
            TogetherAPIError, match=r"GET /v3/whoami answered 200 with a body that is not JSON"
        ):
            await client.whoami()
    async with recorder(ok({"data": [{"no_id": 1}]})).client() as client:
        with pytest.raises(TogetherAPIError, match=r"GET /v1/fine-tunes answered with an unexpected shape"):
            await client.list_finetunes()
    async with recorder(ok({"id": 5})).client() as client:
        with pytest.raises(TogetherAPIError, match=r"POST /v1/fine-tunes answered with an unexpected shape"):
            await client.create_finetune(REQ)


# ---- request shapes ------------------------------------------------------------------------------


async def test_path_parameters_are_percent_encoded() -> None:
    rec = recorder(ok())
    async with rec.client() as client:
        await client.retrieve_finetune("a/b c")
        await client.retrieve_endpoint("proj/1", "ep_1")
    assert rec.requests[0].url.raw_path == b"/v1/fine-tunes/a%2Fb%20c"
    assert rec.requests[1].url.raw_path.startswith(b"/v2/projects/proj%2F1/endpoints/ep_1")


async def test_list_finetunes_is_newest_first_and_tolerates_missing_dates() -> None:
    jobs = [
        {"id": "old", "created_at": "2026-01-01T00:00:00Z"},
        {"id": "undated"},
        {"id": "new", "created_at": "2026-11-01T00:00:00Z"},
    ]
    async with recorder(ok({"data": jobs})).client() as client:
        assert [j.id for j in await client.list_finetunes()] == ["new", "old", "undated"]


async def test_v2_lists_follow_next_cursor_and_filter_by_bare_name() -> None:
    pages = [
        ok({"data": [{"id": "ep_1", "name": "s/my-ft"}], "next_cursor": "c1"}),
        ok({"data": [{"id": "ep_2", "name": "s/my-ft"}], "next_cursor": None}),
    ]
    rec = recorder(*pages)
    async with rec.client() as client:
        found = await client.list_endpoints("proj_1", name="s/my-ft")
    assert [e.id for e in found] == ["ep_1", "ep_2"]
    assert [r.url.params.get("filter") for r in rec.requests] == ['name="my-ft"', 'name="my-ft"']
    assert rec.requests[1].url.params["after"] == "c1"


async def test_deploy_calls_send_the_captured_shapes() -> None:
    dep = {"id": "dep_1"}
    rec = recorder(ok({"id": "ep_1"}), ok(dep), ok(dep), ok({}), ok({}), ok({"data": [{"id": "ev"}]}))
    async with rec.client() as client:
        split = [TrafficSplitEntry(deployment_id="dep_1", weight=1)]
        await client.set_traffic_split("p", "ep_1", split, etag="e1")
        body = DeploymentCreate(name="d1", model="projects/p/models/ml", config="projects/p/configs/cr")
        await client.create_deployment("p", "ep_1", body)
        await client.scale_deployment("p", "ep_1", "dep_1", min_replicas=0, max_replicas=0, etag="e2")
        await client.delete_deployment("p", "ep_1", "dep_1", etag="e3")
        assert await client.delete_endpoint("p", "ep_1") is None
        await client.endpoint_events("p", "ep_1", min_level="LEVEL_WARN", limit=5)
    patch, create, scale, delete_dep, delete_ep, events = rec.requests
    assert patch.method == "PATCH" and patch.url.params["updateMask"] == "trafficSplit"
    assert json.loads(patch.content) == {
        "etag": "e1",
        "trafficSplit": [{"deploymentId": "dep_1", "weight": 1.0}],
    }
    assert json.loads(create.content) == {**body.wire(), "autoscaling": {"minReplicas": 1, "maxReplicas": 1}}
    assert scale.url.params["updateMask"] == "autoscaling.minReplicas,autoscaling.maxReplicas"
    assert json.loads(scale.content) == {"etag": "e2", "autoscaling": {"minReplicas": 0, "maxReplicas": 0}}
    assert delete_dep.method == "DELETE" and delete_dep.url.params["etag"] == "e3"
    assert delete_ep.url.path == "/v2/projects/p/endpoints/ep_1" and "etag" not in delete_ep.url.params
    assert events.url.params["minLevel"] == "LEVEL_WARN" and events.url.params["limit"] == "5"


async def test_wait_file_polls_until_validation_settles() -> None:
    states = [ok({"id": "f", "processing_status": s}) for s in ("PENDING", "RUNNING", "COMPLETED")]
    rec = recorder(*states)
    async with rec.client() as client:
        file = await client.wait_file("f", timeout=600, interval=0.5)
    assert file.is_ready and len(rec.requests) == 3 and rec.sleeps == [0.5, 0.5]
    rec = recorder(ok({"id": "f", "processing_status": "PENDING"}))
    async with rec.client() as client:
        assert (await client.wait_file("f", timeout=0)).is_pending  # the last state seen, at the deadline


# ---- the upload flow ------------------------------------------------------------------------------

UPLOAD_URL = "http://127.0.0.1:9/v1/files/file-1/upload?token=one-time-token"


def upload_server(
    first: httpx2.Response | None = None, put_status: int = 200
) -> tuple[Recorder, list[bytes]]:
    """Answers step 1 (``first``, else a 302 to UPLOAD_URL), the PUT (``put_status``) and preprocess."""
    bodies: list[bytes] = []

    def handler(request: httpx2.Request) -> httpx2.Response:
        path = request.url.path
        if request.method == "POST" and path == "/v1/files":
            return first or httpx2.Response(
                302, headers={"Location": UPLOAD_URL, "X-Together-File-Id": "file-1"}
            )
        if request.method == "PUT":
            bodies.append(request.content)
            return httpx2.Response(put_status)
        if path in ("/v1/files/file-1/preprocess", "/v1/files/file-1", "/v1/files/file-old"):
            return ok({"id": path.split("/")[3], "processing_status": "PENDING", "object": "file"})
        raise AssertionError(f"unexpected {request.method} {request.url}")

    return Recorder(handler, key=KEY), bodies


@pytest.fixture
def dataset(tmp_path: Path) -> Path:
    path = tmp_path / "train.jsonl"
    line = json.dumps({"messages": [{"role": "user", "content": "x" * 200}]}) + "\n"
    path.write_text(line * 12_000)  # ≈ 2.6 MiB: three PUT chunks
    return path


async def test_upload_streams_without_the_key_and_reports_progress(dataset: Path) -> None:
    rec, bodies = upload_server()
    seen: list[tuple[int, int]] = []

    async def progress(sent: int, total: int) -> None:
        seen.append((sent, total))

    async with rec.client() as client:
        file = await client.upload_file(dataset, progress=progress)
    size = dataset.stat().st_size
    assert file.id == "file-1" and bodies == [dataset.read_bytes()]
    post, put, preprocess = rec.requests
    form = post.content.decode()
    for field in ("purpose", "file_name", "file_type", "checksum"):
        assert f'name="{field}"' in form
    assert 'filename="' not in form  # text fields only: no file part
    assert "authorization" not in put.headers and put.headers["content-length"] == str(size)
    assert preprocess.headers["authorization"] == f"Bearer {KEY}"
    assert [s for s, _ in seen] == sorted({s for s, _ in seen}) and seen[-1] == (size, size)
    assert len(seen) == 3 and all(t == size for _, t in seen)


async def test_a_duplicate_upload_returns_the_stored_file(dataset: Path) -> None:
    conflict = httpx2.Response(
        409, json={"error": {"message": "exists"}, "file_id": "file-old"}, headers={"x-should-retry": "false"}
    )
    rec, bodies = upload_server(first=conflict)
    async with rec.client() as client:
        file = await client.upload_file(dataset)
    assert file.id == "file-old" and bodies == []
    assert [r.url.path for r in rec.requests] == ["/v1/files", "/v1/files/file-old"]


async def test_a_2xx_with_both_headers_is_an_upload_too(dataset: Path) -> None:
    created = httpx2.Response(200, headers={"Location": UPLOAD_URL, "X-Together-File-Id": "file-1"})
    rec, bodies = upload_server(first=created)
    async with rec.client() as client:
        assert (await client.upload_file(dataset)).id == "file-1"
    assert len(bodies) == 1


@pytest.mark.parametrize(
    ("headers", "match"),
    [
        ({"Location": "/put/x", "X-Together-File-Id": "file-1"}, "not an absolute http"),
        ({"Location": "ftp://h/x", "X-Together-File-Id": "file-1"}, "not an absolute http"),
        (
            {"Location": "http://metadata.google.internal/x", "X-Together-File-Id": "file-1"},
            "not an absolute",
        ),
        ({"Location": UPLOAD_URL, "X-Together-File-Id": "../etc"}, "invalid file id"),
        ({"Location": UPLOAD_URL}, "without the Location and X-Together-File-Id"),
    ],
)
async def test_the_servers_upload_target_is_checked(
    dataset: Path, headers: dict[str, str], match: str
) -> None:
    rec, bodies = upload_server(first=httpx2.Response(302, headers=headers))
    async with rec.client() as client:
        with pytest.raises(TogetherAPIError, match=match):
            await client.upload_file(dataset)
    assert bodies == [] and len(rec.requests) == 1


@pytest.mark.parametrize("status", [201, 204, 403])
async def test_only_a_200_put_completes_the_upload(dataset: Path, status: int) -> None:
    rec, _ = upload_server(put_status=status)
    async with rec.client() as client:
        with pytest.raises(TogetherAPIError, match="Start the upload again") as info:
            await client.upload_file(dataset)
    assert info.value.status_code == status and "one-time-token" not in str(info.value)
    assert [r.method for r in rec.requests] == ["POST", "PUT"]


async def test_local_files_are_checked_before_anything_is_sent(tmp_path: Path) -> None:
    rec, _ = upload_server()
    (tmp_path / "data.txt").write_text("x")
    (tmp_path / "empty.jsonl").write_text("")
    async with rec.client() as client:
        for path, match in [
            (tmp_path / "missing.jsonl", "is not a file"),
            (tmp_path / "data.txt", "unknown extension"),
            (tmp_path / "empty.jsonl", "is empty"),
        ]:
            with pytest.raises(InvalidRequest, match=match):
                await client.upload_file(path)
        with pytest.raises(InvalidRequest, match="purpose"):
            await client.upload_file(tmp_path / "data.txt", purpose="nope")
    assert rec.requests == []


async def test_chat_and_config_calls_send_what_the_sdk_sends() -> None:
    chat = {"id": "c", "choices": [{"message": {"role": "assistant", "content": "hi"}}]}
    rec = recorder(ok(chat), ok({"data": [{"id": "cr_1"}], "next_cursor": None}))
    async with rec.client() as client:
        answer = await client.chat_completion("s/ep", [{"role": "user", "content": "x"}], max_tokens=4)
        configs = await client.list_configs("p", reference_model="projects/p/models/ml")
    assert answer.text == "hi" and [c.id for c in configs] == ["cr_1"]
    sent, listed = rec.requests
    assert json.loads(sent.content) == {
        "model": "s/ep",
        "messages": [{"role": "user", "content": "x"}],
        "max_tokens": 4,
    }
    assert dict(listed.url.params) == {"referenceModel": "projects/p/models/ml"}
