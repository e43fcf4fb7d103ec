"""The committed document: its structure and cleanliness.

That it is up to date and deterministic is `make check-docs`'s job (CI runs it after `make test`): it
executes every notebook on the clean clone and compares the fresh build byte for byte with the
committed document built on another machine, so this suite does not build it again.
"""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

import pytest

from workbook import config

NOTEBOOKS = config.document_notebooks()


@pytest.fixture(scope="module")
def built() -> tuple[Path]:
    """The committed document."""
    assert config.DESIGN_DOC.is_file(), "run 'make docs' and commit the document"
    return (config.DESIGN_DOC,)


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


def test_document_has_the_sections_in_the_seed_order(built):
    text = built[0].read_text()
    sections = re.findall(r"^## (.+)$", text, re.M)
    present = [name for name in config.SECTIONS if name in sections]
    assert sections[: len(present)] == present, "sections in the seed's order, before any sub-heading"
    for name in ("Overview", "Access Patterns", "Data Quality", "Performance Considerations"):
        assert name in present
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


def test_every_notebook_has_its_section(built):
    """A notebook added or renamed without rebuilding the document fails here, before check-docs runs."""
    import nbformat

    sections = re.findall(r"^## (.+)$", built[0].read_text(), re.M)
    for path in NOTEBOOKS:
        nb = nbformat.reads(_committed(path), as_version=4)
        titles = [
            m.group(1).strip()
            for cell in nb.cells
            if cell.cell_type == "markdown"
            for m in [re.match(r"# (.+)", cell.source)]
            if m
        ]
        assert titles and titles[0] in sections, f"{path.name}: section {titles[:1]} not in the document"
