"""Registry → deploy → inference: a finished job's weights served behind an endpoint (Together's v2 model).

registry.py     every job output (and its base) as a versioned model: ``ml_…`` with revisions ``rv_…``
project.py      v2 request conventions: the one project, names, etags, update masks, model lookups
models.py       routes: models, revisions, files, configs, instance types
endpoints.py    routes: endpoints, traffic split, endpoint events
deployments.py  routes: deployments (create, scale, stop, delete)
adapters.py     routes: LoRA adapters attached to a running base deployment (attach mode)
runtime.py      background loading/unloading, auto-stop, routing a request to a ready deployment
host.py         loaded weights (full or LoRA on its base) and generation in threads
batching.py     concurrent generations of one loaded model gathered into one batch
generate.py     one answer of a served model (route, encode, generate): inference's and evaluations' one path
inference.py    routes: ``/v1/chat/completions`` and ``/v1/completions`` by endpoint name (or attached adapter's name)
"""
