"""The local engine: a service that speaks Together's REST API and trains and serves on this machine.

service.py   ``byom engine``: data dir, key file, lock, uvicorn on loopback
app.py       the Starlette app: routes, middleware, error handler, lifespan
state.py     ``EngineState``: what every endpoint reads (db, runner, deploy runtime, eval runner, config)
db.py        SQLite (WAL) with one ordered list of migrations; row ids and timestamps
private.py   the data dir is private: 0700 dirs, 0600 files (umask, explicit modes, repair at open)
http.py      the Together error body, strict JSON bodies, query integers, paging
auth.py      the access log, Bearer-key middleware and the last-resort 500
identity.py  ``/health`` and ``/v3/whoami``
devices.py   this machine's devices (CPU, CUDA GPUs, Apple mps), probed once in a subprocess
templates.py the template (base) models: limits and ``/v2/supported-models``
files.py     the Files API (upload flows, validation); blobs.py stores the bytes by digest
finetunes/   the fine-tune lifecycle (request → plan → job rows → runner → routes)
deploy/      registry → endpoints/deployments → runtime → inference
evals/       ``/v1/evaluation``: compare, score and classify jobs over the models deploy/ serves
trainer/     the training subprocess (transformers + PEFT)
tiny.py      a tiny random-weight model and dataset, for tests, benches and the demo
"""
