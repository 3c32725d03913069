"""The fine-tune lifecycle: from ``POST /v1/fine-tunes`` to a registered model.

    request.py   the create body as SDK 3.1.1 sends it (pydantic, unknown keys kept)
    plan.py      request → ``TrainSpec``: every check against the template's limits, files and parent job
    jobs.py      job rows: status changes, events, and the JSON the API answers with
    runner.py    one trainer subprocess at a time: queue, progress tailing, cancel, recovery, registration
    tokens.py    token counts for the price estimate
    preview.py   ``POST /v1/fine-tunes/preview``: what the loss sees in a file's first rows
    routes.py    the HTTP endpoints (create, list, retrieve, events, checkpoints, metrics, cancel, estimate)
    download.py  ``GET /v1/finetune/download``: a job's weights as .tar.gz

The trainer itself (``byom.engine.trainer``) runs in the subprocess and knows nothing of HTTP or SQLite.
"""
