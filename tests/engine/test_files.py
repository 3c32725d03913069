"""Files API against the real app: both upload flows, dedupe, validation, limits, reads and deletes."""

from __future__ import annotations

import hashlib
from pathlib import Path

import httpx2
import pytest

from byom.engine.app import create_app
from support.engine import BASE_URL, assert_together_error, job_body, make_state, upload, wait_file

pytestmark = pytest.mark.anyio

GOOD = b'{"messages": [{"role": "user", "content": "hi"}, {"role": "assistant", "content": "hello"}]}\n' * 3


def _form(data: bytes, name: str = "train.jsonl", **override: str) -> dict[str, tuple[None, str]]:
    fields = {
        "purpose": "fine-tune",
        "file_name": name,
        "file_type": "jsonl",
        "checksum": hashlib.sha256(data).hexdigest(),
    }
    fields.update(override)
    return {k: (None, v) for k, v in fields.items()}


async def test_sdk_flow_uploads_validates_and_dedupes(client: httpx2.AsyncClient) -> None:
    r = await client.post("/v1/files", files=_form(GOOD))
    assert r.status_code == 302
    file_id = r.headers["x-together-file-id"]
    location = r.headers["location"]
    assert location.startswith(f"{BASE_URL}/v1/files/{file_id}/upload?token=")
    async with httpx2.AsyncClient(transport=client._transport) as anonymous:  # the SDK's PUT has no auth
        put = await anonymous.put(location, content=GOOD)
        assert put.status_code == 200
        # The token is one-time.
        assert_together_error(await anonymous.put(location, content=GOOD), 403)
    pre = (await client.post(f"/v1/files/{file_id}/preprocess")).json()
    assert pre["object"] == "file" and pre["FileType"] == "jsonl" and pre["bytes"] == len(GOOD)
    done = await wait_file(client, file_id)
    assert done["processing_status"] == "COMPLETED" and done["Processed"] is True
    assert done["validation_report"]["valid"] is True and done["validation_report"]["nlines"] == 3
    assert done["validation_report"]["dataset_format"] == "CONVERSATION"

    again = await client.post("/v1/files", files=_form(GOOD, name="copy.jsonl"))
    body = assert_together_error(again, 409)
    assert body["file_id"] == file_id and again.headers["x-should-retry"] == "false"

    listed = (await client.get("/v1/files")).json()["data"]
    assert [f["id"] for f in listed] == [file_id]
    content = await client.get(f"/v1/files/{file_id}/content")
    assert content.status_code == 200 and content.content == GOOD


async def test_one_step_upload_returns_the_existing_file_for_the_same_bytes(
    client: httpx2.AsyncClient,
) -> None:
    first = await client.post(
        "/v1/files/upload", files={"file": ("a.jsonl", GOOD)}, data={"purpose": "fine-tune"}
    )
    assert first.status_code == 200
    second = await client.post(
        "/v1/files/upload", files={"file": ("b.jsonl", GOOD)}, data={"purpose": "fine-tune"}
    )
    assert second.json()["id"] == first.json()["id"]
    assert (await wait_file(client, first.json()["id"]))["processing_status"] == "COMPLETED"
    # The three-step flow sees it as a duplicate too.
    assert_together_error(await client.post("/v1/files", files=_form(GOOD)), 409)


async def test_invalid_jsonl_is_invalid_format_with_the_line(client: httpx2.AsyncClient) -> None:
    bad = GOOD + b'{"messages": [{"role": "user", "content": "hi"}\n'
    body = await upload(client, bad)
    assert body["processing_status"] == "INVALID_FORMAT" and body["Processed"] is False
    report = body["validation_report"]
    assert report["valid"] is False and report["error_type"] == "INVALID_FORMAT"
    assert report["error"].startswith("Line 4:"), report["error"]


async def test_checksum_mismatch_is_refused(client: httpx2.AsyncClient) -> None:
    r = await client.post("/v1/files", files=_form(GOOD))
    put = await client.put(r.headers["location"], content=GOOD + b"\n")
    assert_together_error(put, 400, param="checksum")
    # Nothing was stored; the file never got content.
    assert_together_error(await client.post(f"/v1/files/{r.headers['x-together-file-id']}/preprocess"), 400)


async def test_size_cap_is_a_413(tmp_path: Path) -> None:
    state = make_state(tmp_path, max_upload_bytes=100)
    async with httpx2.AsyncClient(
        transport=httpx2.ASGITransport(app=create_app(state)),
        base_url=BASE_URL,
        headers={"Authorization": "Bearer engine-test-key"},
    ) as client:
        big = b'{"text": "' + b"x" * 200 + b'"}\n'
        r = await client.post("/v1/files", files=_form(big))
        assert_together_error(await client.put(r.headers["location"], content=big), 413)
        assert_together_error(await client.post("/v1/files/upload", files={"file": ("a.jsonl", big)}), 413)
    state.close()


@pytest.mark.parametrize(
    ("form", "param"),
    [
        ({"purpose": "nonsense"}, "purpose"),
        ({"file_type": "exe"}, "file_type"),
        ({"file_name": ""}, "file_name"),
        ({"checksum": "abc"}, "checksum"),
    ],
)
async def test_bad_upload_forms(client: httpx2.AsyncClient, form: dict[str, str], param: str) -> None:
    assert_together_error(await client.post("/v1/files", files=_form(GOOD, **form)), 400, param=param)


async def test_bad_upload_bodies(client: httpx2.AsyncClient) -> None:
    assert_together_error(await client.post("/v1/files", json={"purpose": "fine-tune"}), 400)
    assert_together_error(
        await client.post("/v1/files/upload", data={"purpose": "fine-tune"}), 400, param="file"
    )
    assert_together_error(await client.put("/v1/files/file-nope/upload?token=x", content=b"x"), 403)
    # Over 5 GiB the SDK switches to multipart upload, which the engine refuses with the size cap.
    assert_together_error(
        await client.post("/v1/files/multipart/initiate", json={"file_size": 6 * 2**30}), 413
    )


async def test_delete_removes_the_file_unless_a_job_needs_it(
    client: httpx2.AsyncClient, tiny_model: Path
) -> None:
    kept = await upload(client, GOOD)
    other = await upload(client, GOOD.replace(b"hello", b"hey"))
    job = await client.post("/v1/fine-tunes", json=job_body(kept["id"], tiny_model))
    assert job.status_code == 200, job.text
    assert_together_error(await client.delete(f"/v1/files/{kept['id']}"), 409)
    await client.post(f"/v1/fine-tunes/{job.json()['id']}/cancel")

    r = await client.delete(f"/v1/files/{other['id']}")
    assert r.status_code == 200 and r.json() == {"id": other["id"], "object": "file", "deleted": True}
    assert_together_error(await client.get(f"/v1/files/{other['id']}"), 404)
    assert_together_error(await client.delete(f"/v1/files/{other['id']}"), 404)
