"""explain_error's accuracy on real error text: the corpus of public issue-tracker excerpts in tests/triage/.

Each excerpt has the category a practitioner would assign; an answer counts when ``explain_text`` gives that
category. The held-out part (corpus_heldout.yaml, chosen by a hash of the URL) was not used to write patterns;
``--misses`` lists the development part's misses only, so the held-out part stays unread while patterns change.

    python bench/triage_accuracy.py [--misses]
"""

from __future__ import annotations

import argparse
from pathlib import Path

import yaml

from byom.triage import explain_text

CORPUS = Path(__file__).resolve().parents[1] / "tests" / "triage"


def load(part: str) -> list[dict[str, str]]:
    rows: list[dict[str, str]] = yaml.safe_load((CORPUS / f"corpus_{part}.yaml").read_text(encoding="utf-8"))
    return rows


def score(rows: list[dict[str, str]]) -> tuple[int, list[tuple[str, str, str]]]:
    """(right answers, misses as (url, expected, answered))."""
    misses = []
    for row in rows:
        got = explain_text(row["text"]).category
        if got != row["category"]:
            misses.append((row["url"], row["category"], got))
    return len(rows) - len(misses), misses


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--misses", action="store_true", help="list the development part's misses")
    args = parser.parse_args()
    for part in ("dev", "heldout"):
        rows = load(part)
        right, misses = score(rows)
        print(f"{part:8} {right:3}/{len(rows):3} = {100 * right / len(rows):5.1f}%")
        if args.misses and part == "dev":
            for url, expected, got in misses:
                print(f"    expected {expected:18} got {got:18} {url}")


if __name__ == "__main__":
    main()
