"""An unknown id is one typed error from the client (``JobNotFound``, ``FileNotFound``, ``EndpointNotFound``,
``RegistryModelNotFound``), with its next step: the tools, the job resource and the workflows never translate
a 404 themselves. Against the real engine over ASGI."""

from __future__ import annotations

import httpx2
import pytest

from byom.engine.state import EngineState
from byom.errors import EndpointNotFound, FileNotFound, JobNotFound, RegistryModelNotFound, ResourceNotFound
from byom.together import TogetherClient
from support.engine import BASE_URL, KEY, PID

pytestmark = pytest.mark.anyio


async def test_each_unknown_id_is_its_typed_not_found(
    engine_transport: tuple[httpx2.ASGITransport, EngineState],
) -> None:
    async with TogetherClient(api_key=KEY, base_url=BASE_URL, transport=engine_transport[0]) as client:
        with pytest.raises(JobNotFound, match="No job 'ft-nope'.*list_jobs") as job:
            await client.retrieve_finetune("ft-nope")
        with pytest.raises(FileNotFound, match="No file 'file-nope'.*local .jsonl"):
            await client.retrieve_file("file-nope")
        with pytest.raises(EndpointNotFound, match="No endpoint 'ep_nope'.*deploy_endpoint"):
            await client.retrieve_endpoint(PID, "ep_nope")
        with pytest.raises(RegistryModelNotFound, match="no model ml_nope"):
            await client.retrieve_model(PID, "ml_nope")
    assert isinstance(job.value, ResourceNotFound) and job.value.status_code in (400, 404)
