"""The real notebooks execute, and the exported document is deterministic and up to date."""

from __future__ import annotations

import filecmp
import re
import subprocess
from pathlib import Path

import pytest

from workbook import config, docs

NOTEBOOKS = config.document_notebooks()


@pytest.fixture(scope="module")
def built(tmp_path_factory) -> tuple[Path, Path]:
    """The document built twice from the real notebooks, into two folders."""
    first = tmp_path_factory.mktemp("first") / "data-design.md"
    second = tmp_path_factory.mktemp("second") / "data-design.md"
    docs.build_document(NOTEBOOKS, first)
    docs.build_document(NOTEBOOKS, second)
    return first, second


def _committed(path: Path) -> str:
    """The notebook as git holds it (the index); the file itself outside a git checkout or if untracked."""
    rel = path.relative_to(config.PROJ_ROOT).as_posix()
    shown = subprocess.run(
        ["git", "-C", str(config.PROJ_ROOT), "show", f":{rel}"], capture_output=True, text=True
    )
    return shown.stdout if shown.returncode == 0 else path.read_text()


def test_notebooks_are_committed_without_outputs():
    """What git stores has no outputs: a reviewer's saved outputs stay in their files (nbstripout filter)."""
    import nbformat

    for path in sorted(config.NOTEBOOKS_DIR.glob("*.ipynb")):
        nb = nbformat.reads(_committed(path), as_version=4)
        for cell in nb.cells:
            if cell.cell_type == "code":
                assert cell.outputs == [] and cell.execution_count is None, path.name


def test_two_builds_are_byte_identical(built):
    first, second = built
    assert first.read_bytes() == second.read_bytes()
    a, b = docs.assets_dir_for(first), docs.assets_dir_for(second)
    assert sorted(p.name for p in a.iterdir()) == sorted(p.name for p in b.iterdir())
    for p in a.iterdir():
        assert filecmp.cmp(p, b / p.name, shallow=False), p.name


def test_document_has_the_sections_in_the_seed_order(built):
    text = built[0].read_text()
    sections = re.findall(r"^## (.+)$", text, re.M)
    assert sections[:6] == [
        "Overview",
        "Conceptual Model",
        "Logical Model",
        "Data Patterns",
        "Data Quality",
        "Performance Considerations",
    ]
    assert "Design Review Findings" in sections
    assert "```mermaid\nerDiagram" in text
    assert "| Construct | Rule | Where | PostgreSQL | DuckDB | What DuckDB does instead |" in text
    assert "| Difference | Object | PostgreSQL | DuckDB | Explained by |" in text
    assert "## Data Quality" in text and "| Table | Constraint | Row | Design | PostgreSQL | DuckDB |" in text
    assert "| ID | Severity | Finding |" in text


def test_document_is_clean_markdown(built):
    text = built[0].read_text()
    prose = re.sub(r"```.*?```", "", text, flags=re.S)  # code may mention <table> in comments
    assert not re.search(r"<(table|div|tr|td)[ >]", prose), "no raw HTML tables"
    assert str(config.PROJ_ROOT) not in text and "/tmp/" not in text
    assert not re.search(r"0x[0-9a-fA-F]{6,}", text)
    import datetime

    today = datetime.datetime.now(datetime.UTC).date().isoformat()
    assert today not in text, "no build timestamps (the data window's fixed dates are fine)"
    for link in re.findall(r"\]\((data-design_files/[^)]+)\)", text):
        assert (built[0].parent / link).is_file()


def test_committed_document_is_up_to_date(built):
    """The committed document equals a fresh build (what `make check-docs` enforces)."""
    assert config.DESIGN_DOC.read_bytes() == built[0].read_bytes(), "run 'make docs' and commit the document"
