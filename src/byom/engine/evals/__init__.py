"""Evaluations on the local engine: Together's ``/v1/evaluation`` (compare, score, classify) over served models.

routes.py   the HTTP API, shaped as Together's (SDK ``client.evals``)
bodies.py   each type's parameters and the job as the API shows it
jobs.py     evaluation rows and their one status change
runner.py   the background runner: one evaluation at a time, recovery after a restart
kinds.py    type → parameters and run function (the one dispatch point), and the runs themselves
judging.py  the judge's questions and how its answers are read
samples.py  input rows streamed from the file, templates, answer columns
loss.py     held-out loss of a model (and an adapter) with training's masking: the byom type "loss"
"""
