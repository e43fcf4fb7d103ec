"""workbook.docs: notebooks executed headless and exported as one deterministic markdown document."""

from __future__ import annotations

import copy
import shutil
import sys
from pathlib import Path

import nbformat
import pytest
from nbformat import v4

from workbook import config, docs
from workbook.errors import WorkbookError

SVG_TEXT = (
    '<svg xmlns="http://www.w3.org/2000/svg" width="20" height="10">'
    '<rect width="20" height="10" fill="#369"/></svg>'
)


def _cell(source: str, *tags: str, markdown: bool = False) -> nbformat.NotebookNode:
    cell = v4.new_markdown_cell(source) if markdown else v4.new_code_cell(source)
    if tags:
        cell.metadata["tags"] = list(tags)
    return cell


def _write(path: Path, cells: list[nbformat.NotebookNode]) -> Path:
    nb = v4.new_notebook(cells=cells)
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    nbformat.write(nb, path)
    return path


@pytest.fixture(scope="module")
def notebooks(tmp_path_factory: pytest.TempPathFactory) -> list[Path]:
    folder = tmp_path_factory.mktemp("project") / "notebooks"
    folder.mkdir()
    first = _write(
        folder / "01-model.ipynb",
        [
            _cell(
                "# Logical model\n\nThe entities.\n\n## Entities\n\n```python\n# not a heading\n```",
                markdown=True,
            ),
            _cell("Internal note: HIDDEN_MARKDOWN", "hide", markdown=True),
            _cell(
                "import duckdb\n"
                "import pandas as pd\n"
                "from pathlib import Path\n"
                "from IPython.display import SVG, display\n"
                "con = duckdb.connect()\n"
                "%load_ext sql\n"
                "%config SqlMagic.displaycon = False\n"
                "%config SqlMagic.feedback = 0\n"
                "%sql con --alias duck\n"
                "SETUP_MARKER = 1",
                "remove_cell",
            ),
            _cell(
                "INPUT_MARKER = pd.DataFrame({'entity': ['user', 'project'], 'row_count': [3, 5]})\n"
                "display(INPUT_MARKER)\n"
                f"display(SVG({SVG_TEXT!r}))",
                "remove_input",
            ),
            _cell(
                "%%sql\nSELECT 'template' AS entity, 7 AS row_count\n"
                "UNION ALL SELECT 'pat|tern', 9\nORDER BY 2"
            ),
            _cell("print('OUTPUT_MARKER')", "remove_output"),
            _cell("print(Path.cwd() / 'data.csv')"),
            _cell("### Notes\n\nDone.", markdown=True),
            _cell(
                "import os, sys\n"
                f"print(sys.executable == {sys.executable!r}, os.environ['PLOOMBER_STATS_ENABLED'],"
                " os.environ['PYDEVD_DISABLE_FILE_VALIDATION'])",
                "remove_cell",
            ),
        ],
    )
    second = _write(
        folder / "02-summary.ipynb",
        [_cell("# Summary\n\nSecond notebook.", markdown=True), _cell("print('rows:', 2)")],
    )
    return [first, second]


@pytest.fixture(scope="module")
def executed(notebooks: list[Path]) -> list[nbformat.NotebookNode]:
    return [docs.execute_notebook(path) for path in notebooks]


@pytest.fixture(scope="module")
def exported(
    notebooks: list[Path], executed: list[nbformat.NotebookNode], tmp_path_factory: pytest.TempPathFactory
) -> tuple[str, Path]:
    assets = tmp_path_factory.mktemp("export") / "design_files"
    text = docs.export_markdown(
        executed[0],
        name="01-model",
        assets_dir=assets,
        assets_rel="design_files",
        notebook_dir=notebooks[0].parent,
    )
    return text, assets


@pytest.fixture(scope="module")
def built(notebooks: list[Path], tmp_path_factory: pytest.TempPathFactory) -> Path:
    return docs.build_document(notebooks, tmp_path_factory.mktemp("docs-a") / "data-design.md")


def test_execution_is_in_memory(notebooks: list[Path], executed: list[nbformat.NotebookNode]) -> None:
    on_disk = nbformat.read(notebooks[0], as_version=4)
    assert all(not cell.get("outputs") for cell in on_disk.cells if cell.cell_type == "code")
    assert any(cell.get("outputs") for cell in executed[0].cells if cell.cell_type == "code")


def test_kernel_runs_this_interpreter_with_env(executed: list[nbformat.NotebookNode]) -> None:
    assert executed[0].cells[-1].outputs[0]["text"] == "True false 1\n"


def test_headings_demoted_outside_fences(exported: tuple[str, Path]) -> None:
    text, _ = exported
    lines = text.splitlines()
    assert "## Logical model" in lines
    assert "### Entities" in lines
    assert "#### Notes" in lines
    assert "# not a heading" in lines  # inside the fenced block: untouched
    assert "# Logical model" not in lines


def test_tables_are_gfm(exported: tuple[str, Path]) -> None:
    text, _ = exported
    assert "<table" not in text and "<div" not in text and "<style" not in text
    # pandas DataFrame with its RangeIndex column dropped
    assert "| entity | row_count |\n| --- | --- |\n| user | 3 |\n| project | 5 |" in text
    # jupysql result, pipe escaped
    assert "| template | 7 |\n| pat\\|tern | 9 |" in text


def test_sql_cell_shown_as_sql(exported: tuple[str, Path]) -> None:
    text, _ = exported
    assert "```sql\nSELECT 'template' AS entity, 7 AS row_count\n" in text
    assert "%%sql" not in text


def test_svg_written_and_linked_relatively(exported: tuple[str, Path]) -> None:
    text, assets = exported
    files = sorted(p.name for p in assets.iterdir())
    assert files == ["01-model-4-2.svg"]
    assert (assets / files[0]).read_text() == SVG_TEXT
    assert "![01-model figure 1](design_files/01-model-4-2.svg)" in text


def test_tagged_cells_hidden(exported: tuple[str, Path]) -> None:
    text, _ = exported
    assert "HIDDEN_MARKDOWN" not in text  # hide
    assert "SETUP_MARKER" not in text and "load_ext" not in text  # remove_cell
    assert "INPUT_MARKER" not in text  # remove_input: source gone ...
    assert "| user | 3 |" in text  # ... outputs kept
    assert "print('OUTPUT_MARKER')" in text  # remove_output: source kept ...
    assert "\nOUTPUT_MARKER" not in text  # ... output gone


def test_no_absolute_paths_counts_or_noise(exported: tuple[str, Path], notebooks: list[Path]) -> None:
    text, _ = exported
    assert str(notebooks[0].parent.parent) not in text
    assert str(config.PROJ_ROOT) not in text
    assert "```text\n./data.csv\n```" in text  # the kernel's cwd is the notebook folder, shown relative
    assert "execution_count" not in text and "In [" not in text
    assert text.endswith("\n") and not text.endswith("\n\n")
    assert "\n\n\n" not in text
    assert all(line == line.rstrip() for line in text.splitlines())


def test_build_document(built: Path) -> None:
    text = built.read_text()
    lines = text.splitlines()
    assert lines[0] == "# Data Design"
    assert lines[2].startswith("<!-- Generated by `make docs`")
    assert text.index("## Logical model") < text.index("## Summary")
    assert "![01-model figure 1](data-design_files/01-model-4-2.svg)" in text
    assert sorted(p.name for p in (built.parent / "data-design_files").iterdir()) == ["01-model-4-2.svg"]


def test_two_builds_byte_identical(notebooks: list[Path], built: Path, tmp_path: Path) -> None:
    stale = tmp_path / "data-design_files" / "old-figure.svg"
    stale.parent.mkdir()
    stale.write_text("<svg/>")
    again = docs.build_document(notebooks, tmp_path / "data-design.md")
    assert again.read_bytes() == built.read_bytes()
    first, second = built.parent / "data-design_files", tmp_path / "data-design_files"
    assert sorted(p.name for p in second.iterdir()) == sorted(p.name for p in first.iterdir())
    for path in first.iterdir():
        assert (second / path.name).read_bytes() == path.read_bytes()


def test_check_document_reports_changes(
    notebooks: list[Path],
    executed: list[nbformat.NotebookNode],
    built: Path,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # reuse the executed notebooks: what is under test here is the comparison, not the kernel
    by_path = dict(zip(notebooks, executed, strict=True))
    monkeypatch.setattr(docs, "execute_notebook", lambda path, **_: copy.deepcopy(by_path[path]))
    committed = tmp_path / "data-design.md"
    shutil.copy(built, committed)
    shutil.copytree(built.parent / "data-design_files", tmp_path / "data-design_files")
    assert docs.check_document(notebooks, committed) == []

    committed.write_text(committed.read_text().replace("Second notebook.", "Edited by hand."))
    (tmp_path / "data-design_files" / "extra.svg").write_text("<svg/>")
    assert docs.check_document(notebooks, committed) == ["data-design.md", "data-design_files/extra.svg"]


def test_main_check_reports_stale(
    notebooks: list[Path],
    executed: list[nbformat.NotebookNode],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    by_name = {path.name: nb for path, nb in zip(notebooks, executed, strict=True)}
    monkeypatch.setattr(docs, "execute_notebook", lambda path, **_: copy.deepcopy(by_name[path.name]))
    monkeypatch.setattr(config, "PROJ_ROOT", tmp_path)
    monkeypatch.setattr(config, "NOTEBOOKS_DIR", notebooks[0].parent)
    monkeypatch.setattr(config, "DESIGN_DOC", tmp_path / "docs" / "data-design.md")
    assert docs.main(["check"]) == 1
    err = capsys.readouterr().err
    assert "docs/data-design.md is stale: run 'make docs' and commit it (differs: data-design.md" in err
    assert docs.main(["build"]) == 0
    assert docs.main(["check"]) == 0
    monkeypatch.setattr(config, "NOTEBOOKS_DIR", tmp_path / "empty")
    assert docs.main(["build"]) == 1
    assert capsys.readouterr().err.splitlines()[-1].startswith("error: no notebooks")


def test_failing_cell_names_notebook_and_cell(tmp_path: Path) -> None:
    path = _write(
        tmp_path / "03-broken.ipynb",
        [
            _cell("# Broken", markdown=True),
            _cell("x = 1"),
            _cell("raise ValueError('bad value\\nmore detail')"),
        ],
    )
    with pytest.raises(WorkbookError) as info:
        docs.execute_notebook(path)
    assert str(info.value) == "03-broken.ipynb: cell 3 failed: ValueError: bad value"
    assert not nbformat.read(path, as_version=4).cells[2].outputs  # nothing written back


def _fake(outputs: list[nbformat.NotebookNode]) -> nbformat.NotebookNode:
    cell = v4.new_code_cell("value", outputs=outputs, execution_count=1)
    return v4.new_notebook(cells=[cell])


def test_memory_address_is_an_error(tmp_path: Path) -> None:
    nb = _fake([v4.new_output("stream", name="stdout", text="<object object at 0x7f3a2b1c9d40>\n")])
    with pytest.raises(WorkbookError, match=r"04-leaky\.ipynb: cell 1 .*memory address"):
        docs.export_markdown(nb, name="04-leaky", assets_dir=tmp_path, assets_rel="x")


def test_output_selection(tmp_path: Path) -> None:
    outputs = [
        v4.new_output("stream", name="stderr", text="a warning\n"),
        v4.new_output("display_data", data={"text/html": "<b>bold</b>", "text/plain": "plain repr"}),
        v4.new_output(
            "execute_result", data={"text/markdown": "# Shown", "text/plain": "x"}, execution_count=1
        ),
    ]
    text = docs.export_markdown(_fake(outputs), name="n", assets_dir=tmp_path, assets_rel="x")
    assert text == "```python\nvalue\n```\n\n```text\nplain repr\n```\n\n## Shown\n"


def test_html_table_conversion() -> None:
    jupysql = "<table><thead><tr><th>a</th></tr></thead><tbody><tr><td><b></td></tr></tbody></table>"
    assert docs.html_to_markdown(jupysql) == "| a |\n| --- |\n| &lt;b&gt; |"  # jupysql does not escape
    described = (
        "<table><thead><tr><th></th><th>v</th></tr></thead><tbody>"
        "<tr><th>count</th><td>2</td></tr><tr><th>mean</th><td>1.5</td></tr></tbody></table>"
        "<p>2 rows × 1 columns</p>"
    )
    assert docs.html_to_markdown(described) == (
        "|  | v |\n| --- | --- |\n| count | 2 |\n| mean | 1.5 |\n\n2 rows × 1 columns"
    )


def test_demote_headings() -> None:
    source = "# A\n\nTitle\n=====\n\n~~~\n# code\n~~~\n\n###### deep\n\ntext #not-heading"
    assert docs.demote_headings(source) == (
        "## A\n\n## Title\n\n~~~\n# code\n~~~\n\n###### deep\n\ntext #not-heading"
    )
