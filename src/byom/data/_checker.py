"""The checker behind ``check_file`` (``byom.data._check``), for JSONL and Parquet training files.

Each line first goes through the fast path (``byom.data._fast``: a typed msgspec decode in C and a loop over the
roles); a line the fast path does not pass goes to the rules (``byom.data._rules``), which name the problem.
Memory stays flat: one line at a time, at most ``MAX_LINE_BYTES`` of it, and at most ``max_problems``
problems kept in full (the rest only counted). A big file is checked on several processes (``byom.data._scan``).
"""

from __future__ import annotations

import io
import json
import re
from contextlib import nullcontext
from pathlib import Path
from typing import IO, Any, Literal

from byom.data._fast import FLAG_BITS, FastCheck, fast_checker
from byom.data._json_errors import describe_json_error
from byom.data._layouts import LAYOUTS, Layout, recognise
from byom.data._limits import MAX_FILE_BYTES, MAX_LINE_BYTES, needs_assistant
from byom.data._lines import iter_lines
from byom.data._parquet import check_parquet
from byom.data._paths import data_file_type
from byom.data._repeats import Repeats, keys_of_line
from byom.data._report import Conversion, DataReport, DatasetFormat, Problem
from byom.data._rules import FLAG_NAMES, LineError, Rules, quote
from byom.data._scan import READ_BUFFER, Workers, auto_workers, chunk_keys, line_at, start_workers

__all__ = ["Method", "check_source"]

_BOM = b"\xef\xbb\xbf"
_MAX_WARNINGS = 20
_INDEX = re.compile(r"\[\d+\]")
# Lines at the head that are not JSON nor start like it, none before them JSON: the file is not training data (a
# key, an .env file, a binary). The check stops there and quotes none of it; a PEM block stops it at once.
_NOT_DATA_AFTER = 3
_NOT_JSON = ("json", "encoding")
_ENV_LINE = re.compile(rb"(?:export\s+)?[A-Za-z_][A-Za-z0-9_]*=")
Method = Literal["sft", "dpo"]


class _Problems:
    """Keeps the first ``limit`` errors and the first warning of each kind and field (at most 20 warnings,
    whatever the limit); counts them all."""

    def __init__(self, limit: int) -> None:
        self.limit = max(1, limit)
        self.errors: list[Problem] = []
        self.warnings: list[Problem] = []
        self.counts: dict[str, int] = {}
        self._warned: set[tuple[str, str]] = set()

    def add(self, problem: Problem) -> None:
        self.counts[problem.kind] = self.counts.get(problem.kind, 0) + 1
        if problem.severity == "error":
            if len(self.errors) < self.limit:
                self.errors.append(problem)
            return
        key = (problem.kind, _INDEX.sub("[]", problem.field or ""))
        if key not in self._warned and len(self.warnings) < max(self.limit, _MAX_WARNINGS):
            self._warned.add(key)
            self.warnings.append(problem)

    def add_first(self, problem: Problem) -> None:
        """A file-level error, shown before the lines' errors."""
        self.counts[problem.kind] = self.counts.get(problem.kind, 0) + 1
        self.errors.insert(0, problem)
        del self.errors[self.limit :]

    def add_counted(self, problem: Problem, count: int) -> None:
        """A warning that stands for ``count`` rows."""
        self.counts[problem.kind] = self.counts.get(problem.kind, 0) + count
        self.warnings.append(problem)

    @property
    def has_errors(self) -> bool:
        return bool(self.errors)


def check_source(
    source: Path | str | bytes,
    *,
    purpose: str,
    max_problems: int,
    workers: int | None,
    method: Method | None,
    started: Workers | None = None,
) -> DataReport:
    """``check_file``'s report (see there); ``started``: workers ``byom.data._scan.early_workers`` started on
    this file, used if the check comes to them (else left to their ``with`` to end)."""
    problems = _Problems(max_problems)
    if isinstance(source, (bytes, bytearray)):
        report = _check_jsonl_stream(io.BytesIO(source), purpose, problems, len(source), method=method)
        return report.model_copy(update={"purpose": purpose})
    path = Path(source)
    kind = data_file_type(path)
    file_type = "parquet" if kind == "parquet" else "jsonl"
    base = DataReport(valid=False, file_type=file_type, purpose=purpose)
    if not path.is_file():
        return _finish(
            base,
            problems,
            _file_problem(f"File not found or not a regular file: {path.name}.", "Check the path."),
        )
    size = path.stat().st_size
    base.nbytes = size
    if size > MAX_FILE_BYTES:
        return _finish(
            base,
            problems,
            _file_problem(
                f"File is {size / 2**30:.1f} GiB; the limit is 50.1 GiB.", "Split it into smaller files."
            ),
        )
    if size == 0:
        return _finish(
            base,
            problems,
            Problem(
                kind="empty_file",
                message="File is empty.",
                fix="Add at least one example, one JSON object per line.",
            ),
        )
    if kind == "csv":
        return _finish(
            base, problems, _file_problem("CSV is accepted only for evaluation data.", "Convert it to JSONL.")
        )
    if file_type == "parquet":
        base.nlines = check_parquet(path, purpose, problems.add)
        if not problems.has_errors:
            base.dataset_format = "tokenized"
        return _finish(base, problems)
    try:
        with path.open("rb", buffering=READ_BUFFER) as stream:
            report = _check_jsonl_stream(
                stream,
                purpose,
                problems,
                size,
                path,
                auto_workers(size) if workers is None else workers,
                method=method,
                started=started,
            )
    except OSError as exc:
        return _finish(
            base,
            problems,
            _file_problem(
                f"File could not be read ({exc.strerror or type(exc).__name__}).", "Check its permissions."
            ),
        )
    return report.model_copy(update={"purpose": purpose})


def _file_problem(message: str, fix: str) -> Problem:
    return Problem(kind="file", message=message, fix=fix)


def _finish(report: DataReport, problems: _Problems, extra: Problem | None = None) -> DataReport:
    if extra is not None:
        problems.add(extra)
    report.problems = problems.errors + problems.warnings
    report.problem_counts = dict(problems.counts)
    report.valid = not problems.has_errors
    return report


class _Scanner:
    """The sequential check, one line at a time: the fast path once the format is known, else the rules."""

    def __init__(self, purpose: str, problems: _Problems, method: Method | None = None) -> None:
        self.rules = Rules(purpose, method)
        self.problems = problems
        self.method = method
        self.need_assistant = needs_assistant(purpose)
        self.fast: FastCheck | None = None
        self.bits = self.nlines = self.blank = self.bad = 0
        self.saw_json = False  # some line decoded as JSON: the file is data, however broken
        self.head_bad = 0  # lines that are not JSON before any that is
        self.not_data: Problem | None = None  # set when the file is not data at all: the scan stops
        self.repeats = Repeats()
        self.keys = [0, 0, 0]
        self.conversion: Conversion | None = None

    def line(self, lineno: int, raw: bytes | int) -> None:
        if self.fast is not None and raw.__class__ is bytes:
            line_bits = self.fast(raw, self.need_assistant, self.keys)
            if line_bits is not None:
                self.nlines += 1
                self.bits |= line_bits
                self.repeats.add(lineno, *self.keys)
                return
        problems, rules = self.problems, self.rules
        if isinstance(raw, int):
            self.nlines += 1
            self.bad += 1
            problems.add(
                Problem(
                    line=lineno,
                    kind="line_too_long",
                    message=f"this line is {raw / 2**20:.0f} MiB; the checker reads at most {MAX_LINE_BYTES // 2**20} MiB per line.",
                    fix="No sample that long trains: split it, or shrink its images (at most 10 of 10 MB each).",
                )
            )
            return
        if not raw.strip():
            self.blank += 1  # blank lines are skipped (SDK check_file)
            return
        self.nlines += 1
        if lineno == 1 and raw.startswith(_BOM):
            raw = raw[len(_BOM) :]
            rules.warn(
                1,
                "encoding",
                None,
                "the file starts with a UTF-8 byte-order mark; some tools reject it.",
                "Save it as UTF-8 without BOM.",
            )
        error, converted = _slow_line(rules, lineno, raw)
        if error is None or error.kind not in _NOT_JSON or raw.lstrip().startswith((b"{", b"[")):
            self.saw_json = True  # JSON, or an attempt at it: data, however broken, and quoted as such
        elif not self.saw_json:
            self.head_bad += 1
            if self.head_bad >= _NOT_DATA_AFTER or raw.lstrip().startswith(b"-----BEGIN"):
                self.not_data = _not_data(raw, lineno)
        if error is not None:
            self.bad += 1
            problems.add(
                Problem(line=lineno, field=error.field, kind=error.kind, message=error.message, fix=error.fix)
            )
        elif rules.fmt is not None:
            row_json = None
            if converted is not None:
                layout, row, together = converted
                row_json = json.dumps(together).encode()
                if self.conversion is None:
                    self.conversion = Conversion(
                        layout=layout.id,
                        name=layout.name,
                        to_format=layout.target,
                        line=lineno,
                        row=_clipped(row),
                        converted=_clipped(together),
                    )
            self.repeats.add(lineno, *keys_of_line(rules.fmt, raw, row_json))
        for warning in rules.warnings:
            problems.add(warning)
        rules.warnings.clear()
        if self.fast is None and rules.fmt is not None and rules.layout is None:
            self.fast = fast_checker(rules.fmt)

    def report(self, size: int) -> DataReport:
        report = DataReport(valid=False, nbytes=size)
        if self.not_data is not None:  # what the head's lines said would quote the file: say only what it is
            self.problems = _Problems(self.problems.limit)
            self.problems.add(self.not_data)
        if self.nlines == 0 and not self.problems.has_errors:
            self.problems.add(
                Problem(
                    kind="empty_file",
                    message="File has no examples (only blank lines).",
                    fix="Add at least one JSON object per line.",
                )
            )
        rules = self.rules
        report.dataset_format = rules.fmt if rules.layout is None else None
        report.nlines, report.blank_lines, report.bad_lines = self.nlines, self.blank, self.bad
        report.conversion = self.conversion
        if rules.layout is not None:
            self.problems.add_first(_layout_problem(rules.layout, self.conversion))
        method_problem = _method_problem(self.method, rules.fmt)
        if method_problem is not None:
            self.problems.add_first(method_problem)
        for problem, count in self.repeats.problems(self.nlines):
            self.problems.add_counted(problem, count)
        report.duplicate_rows, report.conflicting_answers = self.repeats.duplicates, self.repeats.conflicts
        for name, bit in zip(FLAG_NAMES, FLAG_BITS, strict=True):
            setattr(report, name, self.rules.flags[name] or bool(self.bits & bit))
        return _finish(report, self.problems)


def _check_jsonl_stream(
    stream: IO[bytes],
    purpose: str,
    problems: _Problems,
    size: int,
    path: Path | None = None,
    workers: int = 1,
    *,
    method: Method | None = None,
    started: Workers | None = None,
) -> DataReport:
    """The check of a JSONL stream; of a file on ``workers`` processes when ``path`` is its path (``started``:
    workers already running on it from its first line)."""
    if size == 0:
        return _finish(
            DataReport(valid=False, nbytes=size),
            problems,
            Problem(
                kind="empty_file",
                message="File is empty.",
                fix="Add at least one example, one JSON object per line.",
            ),
        )
    parallel = path is not None and workers > 1
    scan = _Scanner(purpose, problems, method)
    lines = iter_lines(stream, MAX_LINE_BYTES)
    lineno = pos = 0
    if parallel:
        assert path is not None
        # The head in order until the format is known (line 1, as a rule), then the rest on all workers.
        for lineno, raw in lines:
            pos += raw if isinstance(raw, int) else len(raw)
            scan.line(lineno, raw)
            if scan.fast is not None or scan.not_data is not None:
                break
        fmt = scan.rules.fmt
        if scan.fast is not None and fmt is not None and pos < size:
            # Workers started from line 1 alone scan what is left now; otherwise they start here.
            fits = started is not None and started.matches(fmt, pos, size, scan.need_assistant)
            if started is not None and not fits:
                started.close(wait=False)  # not what this check needs: they must not hold a core meanwhile
            with (
                nullcontext(started)
                if fits
                else start_workers(path, stream, pos, size, workers, fmt, scan.need_assistant) as running
            ):
                if running is None:  # no temporary folder for the workers' keys: this process checks it all
                    _check_range(scan, stream, pos, size, lineno)
                else:
                    _check_in_parallel(scan, stream, running, lineno)
            return scan.report(size)
    for lineno, raw in lines:
        scan.line(lineno, raw)
        if scan.not_data is not None:
            break
    return scan.report(size)


def _check_in_parallel(scan: _Scanner, stream: IO[bytes], workers: Workers, lineno: int) -> None:
    """Each chunk's scan (the first made here, the others by the workers) in file order: each line's keys counted,
    and the lines the fast path did not pass through the rules here, with the line numbers they have in the file."""
    add = scan.repeats.add
    for chunk in workers.scans():
        scan.nlines += chunk.lines - len(chunk.fail_index)
        scan.bits |= chunk.bits
        # In file order, as the sequential check: repeats are counted against the rows before them.
        fails = dict(zip(chunk.fail_index, chunk.fail_offset, strict=True))
        for number, (row, prompt, answer) in enumerate(chunk_keys(chunk), lineno + 1):
            offset = fails.get(number - lineno - 1) if fails else None
            if offset is None:
                add(number, row, prompt, answer)
            else:
                scan.line(number, line_at(stream, offset, MAX_LINE_BYTES))
        lineno += chunk.lines
        if chunk.stop is not None:  # the worker left the rest of its range to this process
            lineno = _check_range(scan, stream, chunk.stop, chunk.chunk.end, lineno)


def _check_range(scan: _Scanner, stream: IO[bytes], start: int, end: int, lineno: int) -> int:
    """The lines in ``[start, end)`` through the sequential check, numbered after ``lineno``; the last one's number."""
    stream.seek(start)
    pos = start
    for _, raw in iter_lines(stream, MAX_LINE_BYTES):
        if pos >= end:
            break
        pos += raw if isinstance(raw, int) else len(raw)
        lineno += 1
        scan.line(lineno, raw)
    return lineno


def _not_data(raw: bytes, lineno: int) -> Problem:
    """The whole-file problem for a file that is not JSONL: what it looks like, quoting none of it."""
    return Problem(
        kind="file",
        message=(
            f"This is not a JSONL data file: it looks like {_looks_like(raw.lstrip())}. No line up to line {lineno} "
            "is JSON, so the check stopped there (nothing of the file is quoted)."
        ),
        fix="Pass your training data: one JSON object per line (.jsonl), or a .parquet file.",
    )


def _looks_like(head: bytes) -> str:
    if head.startswith(b"-----BEGIN"):
        return "a private key (PEM)" if b"PRIVATE KEY" in head[:100] else "a PEM block (a certificate or key)"
    if head.startswith((b"ssh-", b"ecdsa-")):
        return "an SSH key"
    if head.startswith(b"<"):
        return "HTML or XML"
    if b"\x00" in head[:4096]:
        return "a binary file"
    if _ENV_LINE.match(head):
        return "shell variables (an .env file)"
    return "plain text"


def _slow_line(
    rules: Rules, lineno: int, raw: bytes
) -> tuple[LineError | None, tuple[Layout, dict[str, Any], dict[str, Any]] | None]:
    """The line's first error, or None and (for a row in another layout) the layout, the row and the row
    converted."""
    try:
        try:
            text = raw.decode("utf-8")
        except UnicodeDecodeError as exc:
            raise LineError(
                "encoding", None, f"not valid UTF-8 (byte {exc.start}).", "Save the file as UTF-8."
            ) from exc
        text = text.rstrip("\r\n")  # with its newline, a line cut short would break "at line 2 column 1"
        try:
            obj = json.loads(text)
        except json.JSONDecodeError as exc:
            what, fix = describe_json_error(text, exc)
            raise LineError("json", None, f"not valid JSON ({what}): {quote(text.rstrip())}.", fix) from exc
        except RecursionError as exc:
            raise LineError("json", None, "JSON nested too deeply.", "Flatten the object.") from exc
        layout = recognise(obj) if isinstance(obj, dict) else None
        if layout is None:
            rules.sample(lineno, obj)
            return None, None
        rules.layout_of(lineno, layout.id)
        together = layout.convert(obj)
        try:
            rules.sample(lineno, together, converted=True)
        except LineError as exc:
            exc.message = f"converted to Together's {layout.target} format, {exc.message}"
            raise
    except LineError as exc:
        return exc, None
    return None, (layout, obj, together)


_CLIP = 200


def _clipped(value: Any) -> Any:
    """A row for the conversion example: every string over 200 characters cut (rows are untrusted and can be
    long); the shape stays."""
    if isinstance(value, str):
        return value if len(value) <= _CLIP else value[:_CLIP] + "…"
    if isinstance(value, list):
        return [_clipped(v) for v in value[:20]]
    if isinstance(value, dict):
        return {str(k): _clipped(v) for k, v in list(value.items())[:20]}
    return value


def _layout_problem(layout_id: str, conversion: Conversion | None) -> Problem:
    layout = next(lay for lay in LAYOUTS if lay.id == layout_id)
    kept = ", both answers kept" if layout.target == "preference" else ""
    shown = f"; conversion shows line {conversion.line} before and after" if conversion is not None else ""
    return Problem(
        kind="layout",
        message=f"the rows are in the {layout.name} layout, not one of Together's formats: each row converts "
        f"to Together's {layout.target} format{kept}{shown}.",
        fix="Write a converted copy and upload that: check_training_data with write_converted=PATH "
        "(CLI: byom check-data FILE --write-converted PATH). The original is left as it is.",
    )


def _method_problem(method: Method | None, fmt: DatasetFormat | None) -> Problem | None:
    if method == "dpo" and fmt is not None and fmt != "preference":
        return Problem(
            kind="method",
            message=f"DPO trains on preference pairs, but these rows are {fmt} data (one answer each).",
            fix='Give each prompt a chosen and a rejected answer ({"prompt": ..., "chosen": ..., "rejected": ...} '
            'converts; Together\'s own is {"input": {"messages": [...]}, "preferred_output": [...], '
            '"non_preferred_output": [...]}), or train this file with method "sft".',
        )
    if method == "sft" and fmt == "preference":
        return Problem(
            kind="method",
            message="these rows are preference pairs, which only DPO trains on.",
            fix='Use method "dpo" for this file.',
        )
    return None
