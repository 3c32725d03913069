"""The upload size cap holds while the body streams (no Content-Length), and cut-short uploads leave nothing."""

from __future__ import annotations

import hashlib
from collections.abc import AsyncIterator
from pathlib import Path

import httpx2
import pytest

from byom.engine.app import create_app
from byom.engine.state import EngineState
from support.engine import AUTH, BASE_URL, assert_together_error, make_state

pytestmark = pytest.mark.anyio

CAP = 1024 * 1024
CHUNK = 64 * 1024
BOUNDARY = "byom-test-boundary"


class Body:
    """A chunked request body of ``CAP * 10`` bytes that counts what the server read of it."""

    def __init__(self, head: bytes = b"", tail: bytes = b"") -> None:
        self.head, self.tail = head, tail
        self.sent = 0
        self.total = len(head) + CAP * 10 + len(tail)

    async def __aiter__(self) -> AsyncIterator[bytes]:
        for chunk in (self.head, *(b"x" * CHUNK for _ in range(CAP * 10 // CHUNK)), self.tail):
            self.sent += len(chunk)
            yield chunk


@pytest.fixture
async def capped(tmp_path: Path) -> AsyncIterator[tuple[httpx2.AsyncClient, EngineState]]:
    state = make_state(tmp_path, max_upload_bytes=CAP)
    app = create_app(state)
    transport = httpx2.ASGITransport(app=app)
    async with httpx2.AsyncClient(transport=transport, base_url=BASE_URL, headers=AUTH) as client:
        yield client, state
    state.close()


def _leftovers(state: EngineState) -> list[Path]:
    return [*(state.data_dir / "uploads").iterdir(), *(state.data_dir / "blobs").iterdir()]


async def test_a_chunked_multipart_upload_stops_at_the_cap(
    capped: tuple[httpx2.AsyncClient, EngineState],
) -> None:
    client, state = capped
    head = (
        f'--{BOUNDARY}\r\nContent-Disposition: form-data; name="purpose"\r\n\r\nfine-tune\r\n'
        f'--{BOUNDARY}\r\nContent-Disposition: form-data; name="file"; filename="big.jsonl"\r\n'
        "Content-Type: application/octet-stream\r\n\r\n"
    ).encode()
    body = Body(head, f"\r\n--{BOUNDARY}--\r\n".encode())
    r = await client.post(
        "/v1/files/upload",
        content=body,
        headers={"Content-Type": f"multipart/form-data; boundary={BOUNDARY}"},
    )
    assert "content-length" not in r.request.headers
    assert_together_error(r, 413)
    # The engine stopped reading soon after the cap (fields and boundaries are allowed 64 KiB more).
    assert body.sent <= CAP + 64 * 1024 + 2 * CHUNK < body.total, body.sent
    assert _leftovers(state) == []
    assert (await client.get("/v1/files")).json()["data"] == []


async def test_a_chunked_put_upload_stops_at_the_cap(capped: tuple[httpx2.AsyncClient, EngineState]) -> None:
    client, state = capped
    form = {"purpose": "fine-tune", "file_name": "big.jsonl", "checksum": hashlib.sha256(b"x").hexdigest()}
    created = await client.post("/v1/files", files={k: (None, v) for k, v in form.items()})
    body = Body()
    r = await client.put(created.headers["location"], content=body, headers={"Authorization": ""})
    assert_together_error(r, 413)
    assert body.sent <= CAP + CHUNK < body.total, body.sent
    assert _leftovers(state) == []


async def test_the_fields_only_form_has_a_small_cap(capped: tuple[httpx2.AsyncClient, EngineState]) -> None:
    client, _ = capped
    body = Body(f'--{BOUNDARY}\r\nContent-Disposition: form-data; name="purpose"\r\n\r\n'.encode())
    r = await client.post(
        "/v1/files", content=body, headers={"Content-Type": f"multipart/form-data; boundary={BOUNDARY}"}
    )
    assert_together_error(r, 413)
    assert body.sent <= 64 * 1024 + 2 * CHUNK, body.sent


async def test_temp_files_of_a_killed_upload_are_removed_at_start(tmp_path: Path) -> None:
    state = make_state(tmp_path)
    state.close()
    stale = state.data_dir / "uploads" / "up-killed-mid-upload"
    stale.write_bytes(b"half an upload")
    again = make_state(tmp_path)
    try:
        assert not stale.exists()
    finally:
        again.close()
