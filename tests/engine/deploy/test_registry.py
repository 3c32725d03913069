"""The model registry: models, revisions and the registry fields of a finished job."""

from __future__ import annotations

from pathlib import Path

import pytest

from byom.engine.db import Database
from byom.engine.deploy import registry
from byom.engine.deploy.registry import register_job_outputs, register_model, safe_model_name


@pytest.fixture
def db(tmp_path: Path) -> Database:
    database = Database(tmp_path / "engine.db")
    yield database
    database.close()


def _weights(path: Path) -> Path:
    import torch
    from safetensors.torch import save_file

    path.mkdir(parents=True)
    (path / "config.json").write_text(
        '{"architectures": ["LlamaForCausalLM"], "max_position_embeddings": 2048}'
    )
    save_file(
        {"a": torch.zeros(3, 4), "b": torch.zeros(5, dtype=torch.bfloat16)}, str(path / "model.safetensors")
    )
    return path


def test_register_reads_metadata_and_revisions_accumulate(db: Database, tmp_path: Path) -> None:
    weights = _weights(tmp_path / "w")
    first = register_model(
        db, project_id="proj_local", project_slug="local", name="my-model", kind="model", path=weights
    )
    assert first.id.startswith("ml_") and first.revision_id.startswith("rv_")
    assert first.qualified_name == "local/my-model"
    assert (first.architecture, first.context_length, first.parameters) == ("LlamaForCausalLM", 2048, 17)
    again = register_model(
        db, project_id="proj_local", project_slug="local", name="local/my-model", kind="model", path=weights
    )
    assert again.id == first.id and again.revision_id != first.revision_id
    revisions = registry.list_revisions(db, first.id)
    assert [r["id"] for r in revisions] == [again.revision_id, first.revision_id]
    assert registry.latest_revision(db, first.id)["id"] == again.revision_id
    row = registry.get_model(db, "proj_local", first.id)
    assert row is not None and row["parameters_by_dtype"] is not None
    assert registry.get_model(db, "proj_other", first.id) is None


def test_job_outputs_register_merged_model_and_adapter(db: Database, tmp_path: Path) -> None:
    merged = _weights(tmp_path / "merged")
    adapter = tmp_path / "adapter"
    adapter.mkdir()
    (adapter / "adapter_config.json").write_text('{"base_model_name_or_path": "/models/base"}')
    fields = register_job_outputs(
        db,
        project_id="proj_local",
        project_slug="local",
        job_id="ft-123",
        output_name="local/SmolLM2-135M-Instruct-my-ft-abc",
        template="HuggingFaceTB/SmolLM2-135M-Instruct",
        outputs={"adapter": adapter, "model": None, "merged": merged},
        from_hf_model="/models/base",
    )
    assert fields["model_object_name"] == "local/SmolLM2-135M-Instruct-my-ft-abc"
    assert fields["adapter_object_name"] == "local/SmolLM2-135M-Instruct-my-ft-abc-adapter"
    model = registry.get_model(db, "proj_local", fields["model_object_id"])
    adapter_row = registry.get_model(db, "proj_local", fields["adapter_object_id"])
    assert model["kind"] == "model" and adapter_row["kind"] == "adapter"
    base = registry.get_model(db, "proj_local", model["base_model_id"])
    assert base["name"] == "models--base"  # keyed by what was trained (from_hf_model), not the template
    assert adapter_row["base_model_id"] == base["id"]
    assert registry.latest_revision(db, base["id"])["path"] == "/models/base"
    assert model["source_job_id"] == "ft-123"

    # A second job from the same base reuses the base entry (no new revision for it).
    second = register_job_outputs(
        db,
        project_id="proj_local",
        project_slug="local",
        job_id="ft-456",
        output_name="other-ft",
        template="HuggingFaceTB/SmolLM2-135M-Instruct",
        outputs={"adapter": None, "model": merged, "merged": None},
        from_hf_model="/models/base",
    )
    assert second["adapter_object_id"] is None and second["model_object_name"] == "local/other-ft"
    assert len(registry.list_revisions(db, base["id"])) == 1


def test_two_byom_jobs_on_one_template_keep_their_own_bases(db: Database, tmp_path: Path) -> None:
    merged = _weights(tmp_path / "merged")
    bases = []
    for source in ("org/model-a", "org/model-b"):
        fields = register_job_outputs(
            db,
            project_id="proj_local",
            project_slug="local",
            job_id=f"ft-{source[-1]}",
            output_name=source[-7:],
            template="Qwen/Qwen3-8B",
            outputs={"merged": merged},
            from_hf_model=source,
        )
        bases.append(registry.get_model(db, "proj_local", fields["model_object_id"])["base_model_id"])
    assert bases[0] != bases[1]


def test_no_outputs_registers_nothing_but_the_base(db: Database) -> None:
    fields = register_job_outputs(
        db,
        project_id="proj_local",
        project_slug="local",
        job_id="ft-1",
        output_name="x",
        template="t",
        outputs={},
        from_hf_model="org/model",
    )
    assert set(fields.values()) == {None}


@pytest.mark.parametrize(
    ("raw", "expected"),
    [("org/Model-1B", "org--Model-1B"), ("a b/c?d", "a-b--c-d"), ("/x/", "x"), ("", "model")],
)
def test_safe_model_name(raw: str, expected: str) -> None:
    assert safe_model_name(raw) == expected
