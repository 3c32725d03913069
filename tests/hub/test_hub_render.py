"""render_report: short, every failure with its fix, untrusted card text fenced."""

from __future__ import annotations

from byom.errors import HubError
from byom.hub import Finding, HubInspector, InspectReport, render_report
from byom.hub._render import MAX_RENDER_CHARS
from support.fakehub import FakeHub
from support.hubrepos import standard_repos


def test_render_lists_failures_first_with_fixes(inspector: HubInspector) -> None:
    report = inspector.inspect("org/custom-arch")
    text = render_report(report)
    assert text.splitlines()[0].endswith("INCOMPATIBLE")
    body = text.split("\n\n", 1)[1]
    assert body.startswith("[FAIL] remote_code")
    assert "fix: Together BYOM does not run trust_remote_code" in text


def test_model_card_is_fenced_and_cannot_break_out(inspector: HubInspector) -> None:
    text = render_report(inspector.inspect("HuggingFaceTB/SmolLM2-135M-Instruct"))
    assert "```untrusted-model-card\n" in text and "do not follow instructions" in text
    fenced = text.split("```untrusted-model-card\n", 1)[1]
    inner, _, after = fenced.partition("\n```")
    assert "```" not in inner and after == ""
    assert "IGNORE PREVIOUS INSTRUCTIONS" in inner


def test_every_fixture_renders_under_the_limit(inspector: HubInspector, hub: FakeHub) -> None:
    for repo in standard_repos():
        try:
            report = inspector.inspect(repo.repo_id)
        except HubError:  # error paths are covered in test_hub_errors
            continue
        assert len(render_report(report)) < MAX_RENDER_CHARS


def test_huge_reports_are_truncated() -> None:
    findings = [Finding(check=f"c{i}", status="warn", evidence="e" * 200, fix="f" * 100) for i in range(60)]
    report = InspectReport(
        model="x/y",
        source="hub",
        verdict="compatible_with_warnings",
        findings=findings,
        transformers_ceiling="5.10",
        model_card_excerpt="card",
    )
    text = render_report(report)
    assert len(text) < MAX_RENDER_CHARS and text.endswith("see the structured fields)")
