"""Progress lines as the runner reads them back: typed by ``kind``, a torn or foreign line skipped, not applied."""

from __future__ import annotations

import json

from byom.engine.trainer.spec import (
    CheckpointLine,
    ErrorLine,
    EventLine,
    MetricLine,
    ResultLine,
    parse_progress_line,
    progress_line,
)


def _raw(**fields: object) -> bytes:
    return json.dumps({"time": 1.0, **fields}).encode()


def test_each_kind_parses_to_its_typed_line() -> None:
    assert isinstance(parse_progress_line(_raw(kind="event", type="job_start", message="hi")), EventLine)
    assert isinstance(parse_progress_line(_raw(kind="metric", step=2, values={"train/loss": 1})), MetricLine)
    checkpoint = parse_progress_line(_raw(kind="checkpoint", step=4, path="/j/step-4", final=True))
    assert isinstance(checkpoint, CheckpointLine) and checkpoint.checkpoint == "adapter" and checkpoint.final
    result = parse_progress_line(_raw(kind="result", outputs={"adapter": "/j/a", "merged": None}))
    assert isinstance(result, ResultLine) and result.outputs == {"adapter": "/j/a", "merged": None}
    assert isinstance(parse_progress_line(_raw(kind="error", stage="training", message="OOM")), ErrorLine)


def test_a_torn_or_foreign_line_is_none() -> None:
    assert parse_progress_line(b'{"kind": "metric", "st') is None  # killed mid-write
    assert parse_progress_line(b"[1, 2]") is None
    assert parse_progress_line(_raw(kind="gossip")) is None
    assert parse_progress_line(_raw(kind="metric", values={})) is None  # a metric without its step
    assert parse_progress_line(_raw(kind="checkpoint", step=4)) is None  # a checkpoint without its path


def test_a_metric_keeps_its_numbers_and_drops_the_rest() -> None:
    line = parse_progress_line(
        _raw(kind="metric", step=3, values={"train/loss": 0.5, "note": "x", "n": None})
    )
    assert isinstance(line, MetricLine) and line.values == {"train/loss": 0.5}


def test_what_the_trainer_writes_round_trips() -> None:
    written = progress_line(
        {"kind": "event", "time": 2.0, "type": "checkpoint_save", "checkpoint_path": "/p"}
    )
    read = parse_progress_line(json.dumps(written.model_dump(mode="json")).encode())
    assert read == written and read.model_extra == {"checkpoint_path": "/p"}
