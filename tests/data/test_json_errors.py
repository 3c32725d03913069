"""A line that is not JSON is described where it breaks, with what is missing."""

from __future__ import annotations

import json

import pytest

from byom.data import check_file

ROW = json.dumps(
    {
        "messages": [
            {"role": "user", "content": "What is the capital of France, and why is it the capital?"},
            {"role": "assistant", "content": "Paris: it has been the seat of government for centuries."},
        ]
    }
)


def _problem(line: str) -> tuple[str, str]:
    report = check_file((line + "\n").encode())
    return report.problems[0].message, report.problems[0].fix


def test_a_line_cut_off_says_where_and_what_is_missing() -> None:
    message, fix = _problem(ROW[: ROW.rindex('"}') + 2])  # cut after the last message closes
    assert "the line ends at column" in message and "2 brackets still open (`]}` missing)" in message
    assert "column 1)" not in message and "cut off" in fix


def test_a_line_cut_off_at_column_110_names_that_column_and_the_open_string() -> None:
    message, _ = _problem(ROW[:110])
    assert "the line ends at column 110 inside a string begun at column" in message
    assert '(`"}]}` missing)' in message


@pytest.mark.parametrize(
    ("line", "words"),
    [
        (ROW + ROW, "a second JSON value starts there"),
        ("{'text': 'x'}", "double quotes"),
        ('{"messages": [1,]}', "Expecting value at column 17"),
    ],
)
def test_other_breaks_name_their_column(line: str, words: str) -> None:
    message, fix = _problem(line)
    assert words in message + fix and message.startswith("not valid JSON (")
