"""How a judge's answer is read (``engine/evals/judging.py``): only its last line counts, and what is not a
verdict, a number or a label is no answer — never a winner."""

from __future__ import annotations

import pytest

from byom.engine.evals.judging import label_of, reconcile, score_of, swap, verdict


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("A", "A"),
        ("b", "B"),
        ("tie", "TIE"),
        ("Response A is more precise.\n\n**Verdict: B**", "B"),
        ("The answer is: [[A]]", "A"),
        ("Final verdict - TIE.", "TIE"),
        ("", None),
        ("inginginginginging", None),
        ("A is better than B", None),  # a sentence, not a verdict
        ("AAAA", None),
        ("A\nreasons follow", None),  # the verdict must be the last line
    ],
)
def test_a_compare_verdict_is_the_last_line_alone(text: str, expected: str | None) -> None:
    assert verdict(text) == expected


def test_orders_must_agree_for_a_win() -> None:
    assert reconcile(["A", swap("B")]) == "A"  # B shown first in the flipped order is model A
    assert reconcile(["B", swap("A")]) == "B"
    # A judge that always picks the first response has a position bias: the orders disagree, a tie.
    assert reconcile(["A", swap("A")]) == "Tie"
    assert reconcile(["TIE", swap("TIE")]) == "Tie"
    assert reconcile(["A", swap("TIE")]) == "Tie"
    assert reconcile(["A"]) == "A"  # one order only (position-bias correction disabled)


def test_an_unusable_answer_in_either_order_is_a_judge_failure() -> None:
    assert reconcile(["A", None]) == "judge_fail"
    assert reconcile([None, swap("B")]) == "judge_fail"
    assert reconcile([None]) == "judge_fail"
    assert swap(None) is None


def test_scores_and_labels() -> None:
    assert score_of("Clear and correct.\nScore: 8") == 8.0
    assert score_of("7.5") == 7.5
    assert score_of("eight") is None
    assert score_of("nan") is None and score_of("inf") is None
    assert label_of("Label: Good", ["good", "bad"]) == "good"
    assert label_of("goodish", ["good", "bad"]) is None
