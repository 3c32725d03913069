"""A file checked on several processes gives the very report of the sequential check: the same counts, flags,
problems, line numbers and order, wherever the chunks are cut."""

from __future__ import annotations

import json
import os
import pickle
import signal
import sys
import tempfile
import threading
from itertools import pairwise
from pathlib import Path

import pytest

from byom.data import _scan, check_file
from byom.data._fast import fast_checker
from byom.data._scan import MAX_FAILS, Chunk, chunk_keys, early_workers, scan_chunk, split

GOOD = {"messages": [{"role": "user", "content": "hi"}, {"role": "assistant", "content": "hello"}]}
TOOLS = {
    "messages": [
        {"role": "user", "content": "weather?"},
        {
            "role": "assistant",
            "tool_calls": [{"type": "function", "function": {"name": "w", "arguments": "{}"}}],
        },
        {"role": "tool", "content": "21"},
        {"role": "assistant", "content": "21 degrees", "weight": 1},
    ]
}
BAD_LINES = [
    b"not json\n",
    b"\n",
    b"   \n",
    json.dumps({"messages": [{"role": "user", "content": ""}]}).encode() + b"\n",
    json.dumps({"messages": [{"role": "robot", "content": "x"}]}).encode() + b"\n",
    json.dumps({"text": "another format"}).encode() + b"\n",
    b'{"messages": [{"role": "user", "content": "caf\xc3"}]}\n',  # invalid UTF-8
    json.dumps({**GOOD, "extra": 1}).encode() + b"\n",  # an unknown key: a warning
]


def _write(path: Path, lines: list[bytes]) -> Path:
    path.write_bytes(b"".join(lines))
    return path


def _mixed(n: int, every: int) -> list[bytes]:
    lines = []
    for i in range(n):
        if i % every == every - 1:
            lines.append(BAD_LINES[(i // every) % len(BAD_LINES)])
        else:
            lines.append(json.dumps(TOOLS if i % 7 == 0 else GOOD).encode() + b"\n")
    return lines


def _same_report(path: Path, workers: int, max_problems: int = 20) -> None:
    sequential = check_file(path, workers=1, max_problems=max_problems)
    parallel = check_file(path, workers=workers, max_problems=max_problems)
    assert parallel.model_dump() == sequential.model_dump()


@pytest.mark.parametrize("workers", [2, 3, 5])
def test_scattered_problems_have_their_line_numbers(tmp_path: Path, workers: int) -> None:
    path = _write(tmp_path / "mixed.jsonl", _mixed(2_000, every=37))
    _same_report(path, workers, max_problems=500)
    report = check_file(path, workers=workers, max_problems=500)
    assert not report.valid and report.bad_lines > 0
    assert {p.line for p in report.problems if p.kind == "json"} >= {37}


def test_a_clean_file_is_valid_with_its_flags(tmp_path: Path) -> None:
    path = _write(tmp_path / "clean.jsonl", _mixed(3_000, every=10**9))
    _same_report(path, 4)
    report = check_file(path, workers=4)
    assert report.valid and report.nlines == 3_000 and report.has_tools and report.has_message_weights


def test_format_known_only_after_bad_first_lines(tmp_path: Path) -> None:
    path = _write(tmp_path / "late.jsonl", [b"\xef\xbb\xbf" + b"garbage\n", b"\n", b"{}\n", *_mixed(500, 50)])
    _same_report(path, 3)


def test_a_file_with_no_recognised_format(tmp_path: Path) -> None:
    path = _write(tmp_path / "none.jsonl", [b"[1, 2]\n"] * 300 + [b"\n"] * 10)
    _same_report(path, 3)


def test_a_worker_that_meets_too_many_bad_lines_leaves_the_rest_to_the_parent(tmp_path: Path) -> None:
    lines = [
        json.dumps(GOOD).encode() + b"\n",
        *([b"{}\n"] * (MAX_FAILS + 500)),
        json.dumps(GOOD).encode() + b"\n",
    ]
    path = _write(tmp_path / "bad.jsonl", lines)
    chunk = Chunk(0, path.stat().st_size)
    scan = scan_chunk(str(path), chunk, "conversation", True, 2**20, str(tmp_path / "keys"))
    assert scan.stop is not None and len(scan.fail_index) == MAX_FAILS and scan.lines == MAX_FAILS + 1
    _same_report(path, 2, max_problems=5)
    assert check_file(path, workers=2).problem_counts == check_file(path, workers=1).problem_counts


def test_chunks_are_cut_at_line_starts(tmp_path: Path) -> None:
    lines = [b"x" * n + b"\n" for n in (5, 70_000, 3, 200_000, 1, 9)]
    path = _write(tmp_path / "cuts.jsonl", lines)
    size = path.stat().st_size
    starts = {sum(map(len, lines[:i])) for i in range(len(lines))}
    with path.open("rb") as stream:
        for parts in (2, 3, 6, 50):
            chunks = split(stream, 0, size, parts)
            assert chunks[0].start == 0 and chunks[-1].end == size
            assert all(a.end == b.start for a, b in pairwise(chunks))
            assert {c.start for c in chunks} <= starts


def test_workers_are_spawned_from_a_threaded_process(tmp_path: Path) -> None:
    """The MCP server and the engine check files from a worker thread: there the pool spawns, not forks."""
    path = _write(tmp_path / "threaded.jsonl", _mixed(1_000, every=101))
    expected = check_file(path, workers=1).model_dump()
    seen: list[dict[str, object]] = []
    thread = threading.Thread(target=lambda: seen.append(check_file(path, workers=2).model_dump()))
    thread.start()
    thread.join()
    assert seen == [expected]


def test_an_over_long_line_is_skipped_whole_and_the_next_line_starts_where_it_should(tmp_path: Path) -> None:
    good = json.dumps(GOOD).encode() + b"\n"
    long = b'{"text": "' + b"x" * (3 * 2**20) + b'"}\n'
    path = _write(tmp_path / "long.jsonl", [good, long, good, long, good])
    scan = scan_chunk(
        str(path), Chunk(0, path.stat().st_size), "conversation", True, 2**20, str(tmp_path / "keys")
    )
    assert scan.lines == 5 and scan.stop is None
    assert list(scan.fail_index) == [1, 3]
    assert list(scan.fail_offset) == [len(good), 2 * len(good) + len(long)]


def test_what_a_worker_sends_back_does_not_grow_with_its_range(tmp_path: Path) -> None:
    """Memory flat to any size: a worker's answer is counts and failed lines, its keys go through a file."""
    sizes = []
    for n in (1_000, 20_000):
        path = _write(tmp_path / f"clean-{n}.jsonl", _mixed(n, every=10**9))
        scan = scan_chunk(
            str(path), Chunk(0, path.stat().st_size), "conversation", True, 2**20, str(tmp_path / "k")
        )
        assert scan.lines == n and Path(scan.keys_path).stat().st_size == 24 * n
        sizes.append(len(pickle.dumps(scan)))
    assert sizes[0] == sizes[1]


def test_keys_read_back_in_batches_are_the_keys_of_each_line(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr("byom.data._scan.KEYS_BATCH", 4)  # 10 lines: batches of 4, 4 and 2
    lines = [
        json.dumps(
            {"messages": [{"role": "user", "content": f"q{i}"}, {"role": "assistant", "content": "a"}]}
        ).encode()
        + b"\n"
        for i in range(10)
    ]
    lines[5] = b"{}\n"  # the fast path fails it: its keys are 0s, it keeps its place
    path = _write(tmp_path / "ten.jsonl", lines)
    scan = scan_chunk(
        str(path), Chunk(0, path.stat().st_size), "conversation", True, 2**20, str(tmp_path / "k")
    )
    check = fast_checker("conversation")
    assert check is not None
    expected = []
    for line in lines:
        keys = [0, 0, 0]
        check(line, True, keys)
        expected.append(tuple(keys))
    assert list(chunk_keys(scan)) == expected and expected[5] == (0, 0, 0) and list(scan.fail_index) == [5]


@pytest.mark.parametrize("workers", [2, 4])
def test_repeats_across_ranges_and_key_batches_are_counted_exactly(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, workers: int
) -> None:
    """Rows repeated and prompts answered again far apart, in other ranges, past several key batches."""
    monkeypatch.setattr("byom.data._scan.KEYS_BATCH", 7)
    qa = [
        {"messages": [{"role": "user", "content": f"q{i}"}, {"role": "assistant", "content": f"a{i}"}]}
        for i in range(100)
    ]
    rows = [
        *qa,
        *qa[:40],
        *[{"messages": [*r["messages"][:1], {"role": "assistant", "content": "other"}]} for r in qa[:25]],
    ]
    path = _write(tmp_path / "repeats.jsonl", [json.dumps(r).encode() + b"\n" for r in rows * 3])
    report = check_file(path, workers=workers)
    # Each pass after the first repeats all 165 rows; the first repeats 40 and answers 25 prompts again.
    assert (report.duplicate_rows, report.conflicting_answers) == (40 + 2 * 165, 25)
    _same_report(path, workers)


def test_with_no_temporary_folder_the_check_runs_in_this_process(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The workers' keys need a temporary folder; where there is none (gone, read-only) the report is the same."""
    path = _write(tmp_path / "mixed.jsonl", _mixed(1_000, every=37))
    expected = check_file(path, workers=1).model_dump()
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path / "gone"))
    assert check_file(path, workers=3).model_dump() == expected


def _early(source: Path | bytes, workers: int | None = 2, need_assistant: bool = True) -> str | None:
    """The format early_workers started workers in, or None where it started none."""
    with early_workers(source, workers, need_assistant) as started:
        return None if started is None else started.fmt


def test_workers_start_from_a_first_line_the_fast_path_passes(tmp_path: Path) -> None:
    """check_file starts them before the rules load; the report is the one the late start gives."""
    path = _write(tmp_path / "clean.jsonl", _mixed(400, every=10**9))
    assert _early(path) == "conversation"
    text = _write(
        tmp_path / "text.jsonl", [json.dumps({"text": f"t{i}"}).encode() + b"\n" for i in range(50)]
    )
    assert _early(text) == "general"
    _same_report(path, 2)


@pytest.mark.parametrize(
    "name, first",
    [
        (
            "bom.jsonl",
            b"\xef\xbb\xbf" + json.dumps(GOOD).encode() + b"\n",
        ),  # a warning: the rules must see it
        ("warn.jsonl", json.dumps({**GOOD, "extra": 1}).encode() + b"\n"),
        ("alpaca.jsonl", json.dumps({"instruction": "i", "input": "", "output": "o"}).encode() + b"\n"),
        ("blank.jsonl", b"\n"),
        ("data.parquet", json.dumps(GOOD).encode() + b"\n"),  # read as Parquet, whatever it holds
        ("data.csv", json.dumps(GOOD).encode() + b"\n"),
    ],
)
def test_no_early_workers_where_the_rules_must_read_the_head_first(
    tmp_path: Path, name: str, first: bytes
) -> None:
    path = _write(tmp_path / name, [first, *_mixed(200, every=10**9)])
    assert _early(path) is None
    if name.endswith(".jsonl"):
        _same_report(path, 2)


def test_no_early_workers_for_bytes_one_worker_a_small_file_or_no_file(tmp_path: Path) -> None:
    path = _write(tmp_path / "clean.jsonl", _mixed(100, every=10**9))
    assert _early(path.read_bytes()) is None
    assert _early(path, workers=1) is None
    assert _early(path, workers=None) is None  # under PARALLEL_MIN_BYTES: one process
    assert _early(tmp_path / "missing.jsonl") is None
    assert _early(tmp_path) is None  # a folder


def test_an_eval_file_with_no_assistant_turn_starts_early_only_for_eval(tmp_path: Path) -> None:
    row = json.dumps({"messages": [{"role": "user", "content": "q"}]}).encode() + b"\n"
    path = _write(tmp_path / "eval.jsonl", [row] * 300)
    assert _early(path, need_assistant=False) == "conversation"
    assert _early(path, need_assistant=True) is None
    assert (
        check_file(path, purpose="eval", workers=2).model_dump()
        == check_file(path, purpose="eval", workers=1).model_dump()
    )


linux_only = pytest.mark.skipif(sys.platform != "linux", reason="workers are forked on Linux only")


@linux_only
def test_a_forked_worker_that_dies_leaves_its_range_to_this_process(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = _write(tmp_path / "mixed.jsonl", _mixed(1_500, every=41))
    expected = check_file(path, workers=1).model_dump()
    parent, real, here = os.getpid(), _scan.scan_chunk, []

    def killed_in_a_child(*args: object) -> _scan.ChunkScan:
        if os.getpid() != parent:
            os.kill(os.getpid(), signal.SIGKILL)  # as the out-of-memory killer would
        here.append(args[1])
        return real(*args)  # type: ignore[arg-type]

    monkeypatch.setattr(_scan, "scan_chunk", killed_in_a_child)
    monkeypatch.setattr(_scan, "_forks", lambda: True)
    assert check_file(path, workers=3).model_dump() == expected
    assert len(here) == 3  # its own chunk, then the two the children did not finish


@linux_only
def test_forked_workers_whose_scans_are_not_read_are_ended(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A check that ends before it reads its workers' scans (an error, the file was Parquet after all) leaves
    no process behind, running or unreaped."""
    monkeypatch.setattr(_scan, "_forks", lambda: True)
    path = _write(tmp_path / "clean.jsonl", _mixed(2_000, every=10**9))
    with early_workers(path, 3, True) as started:
        assert started is not None and isinstance(started._workers, _scan._Forked)
        pids = list(started._workers._pids)
        assert len(pids) == 2
    for pid in pids:
        with pytest.raises(ChildProcessError):  # reaped: no such child any more
            os.waitpid(pid, os.WNOHANG)


@linux_only
def test_a_child_whose_pipe_was_read_but_not_waited_for_is_reaped_on_close(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """As after Ctrl-C between reading a worker's scan and reaping it: close() still reaps it."""
    monkeypatch.setattr(_scan, "_forks", lambda: True)
    path = _write(tmp_path / "clean.jsonl", _mixed(2_000, every=10**9))
    with early_workers(path, 2, True) as started:
        assert started is not None and isinstance(started._workers, _scan._Forked)
        forked = started._workers
        [pid], [read_end] = forked._pids, forked._reads
        assert pid is not None and read_end is not None
        with open(read_end, "rb") as source:  # what result() does before waitpid
            source.read()
        forked._reads[0] = None
    with pytest.raises(ChildProcessError):
        os.waitpid(pid, os.WNOHANG)


def test_early_workers_for_a_file_that_changed_since_are_ended_and_the_check_reads_it_as_it_is(
    tmp_path: Path,
) -> None:
    """A writer still appending: the workers cut the file at its old size, the check finds the new one."""
    from byom.data._checker import check_source

    path = _write(tmp_path / "growing.jsonl", _mixed(1_000, every=10**9))
    with early_workers(path, 2, True) as started:
        assert started is not None
        with path.open("ab") as out:
            out.write(json.dumps(TOOLS).encode() + b"\n" + b"not json\n")
        report = check_source(
            path, purpose="fine-tune", max_problems=20, workers=2, method=None, started=started
        )
        assert started._workers is None  # ended at once, not at the end of the check
    assert report.model_dump() == check_file(path, workers=1).model_dump()
    assert report.nlines == 1_002 and report.bad_lines == 1


def test_a_first_line_that_cannot_be_read_starts_no_early_workers(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = _write(tmp_path / "clean.jsonl", _mixed(300, every=10**9))

    def unreadable(*_: object) -> object:
        raise OSError(5, "Input/output error")

    monkeypatch.setattr(_scan, "iter_lines", unreadable)
    assert _early(path) is None
