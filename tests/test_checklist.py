"""The Quality Checklist: every seed item tied to checks that notebooks record, and the records reach it."""

from __future__ import annotations

from pathlib import Path

import nbformat
from nbformat.v4 import new_code_cell, new_markdown_cell, new_notebook

from workbook import checklist, config, docs
from workbook.design import checklist as design


def test_every_item_of_the_seed_is_there_in_order():
    seed = config.SEED_PROMPT.read_text(encoding="utf-8")
    block = seed.split("## Quality Checklist", 1)[1]
    want = [line.split("]", 1)[1].strip() for line in block.splitlines() if line.startswith("- [ ]")]
    assert [text for text, _ in design.ITEMS] == want
    assert all(checks for _, checks in design.ITEMS), "every item has checks"


def test_every_check_is_recorded_by_a_notebook_and_belongs_to_an_item():
    unrecorded, undeclared = checklist.undeclared_in_notebooks()
    assert unrecorded == set(), "declared checks no notebook records"
    assert undeclared == set(), "notebooks record checks the design does not declare"
    in_items = {c for _, checks in design.ITEMS for c in checks}
    assert in_items == set(design.CHECKS)


def test_an_item_is_ticked_only_when_all_its_checks_passed():
    records = {c: {"name": c, "holds": True, "detail": "ok"} for c in design.CHECKS}
    assert all(it.ticked for it in checklist.evaluate(records))
    del records["injection"]
    items = {it.text: it for it in checklist.evaluate(records)}
    assert not items["Security requirements met"].ticked
    assert items["Security requirements met"].missing == ("injection",)
    text = checklist.markdown(list(items.values()), records)
    assert "- [ ] Security requirements met" in text and "missing: `injection`" in text
    assert "- [x] Migration strategy planned" in text
    assert not any(it.ticked for it in checklist.evaluate(None)), "outside a docs build nothing is ticked"


def _notebook(path: Path, sources: list[str], reads_checks: bool = False) -> Path:
    nb = new_notebook(
        cells=[new_markdown_cell(f"# {path.stem}\n\n> test")] + [new_code_cell(s) for s in sources]
    )
    nb.metadata = {"kernelspec": {"display_name": "Python 3", "language": "python", "name": "python3"}}
    if reads_checks:
        nb.metadata["workbook"] = {"reads_checks": True}
    nbformat.write(nb, path)
    return path


def test_records_reach_the_checklist_notebook_with_and_without_the_cache(tmp_path: Path):
    a = _notebook(
        tmp_path / "01-a.ipynb",
        ['from workbook import nb\nnb.check("entities-in-catalog", 1 + 1 == 2, "two")'],
    )
    b = _notebook(
        tmp_path / "02-b.ipynb",
        [
            "from workbook import nb\nr = nb.build_checks()\n"
            'nb.md("seen: " + ", ".join(f"{k}={v[\'detail\']}@{v[\'section\']}" for k, v in sorted(r.items())))'
        ],
        reads_checks=True,
    )
    out = tmp_path / "doc" / "d.md"
    cache = tmp_path / "cache"
    docs.build_document([a, b], out, cache_dir=cache)
    assert "seen: entities-in-catalog=two@01-a" in out.read_text()
    out.unlink()
    docs.build_document([a, b], out, cache_dir=cache)  # 01-a reused from the cache: its records come with it
    assert "seen: entities-in-catalog=two@01-a" in out.read_text()


def test_a_check_that_does_not_hold_fails_the_build(tmp_path: Path):
    import pytest

    from workbook.errors import WorkbookError

    a = _notebook(
        tmp_path / "01-a.ipynb",
        ['from workbook import nb\nnb.check("entities-in-catalog", False, "none found")'],
    )
    with pytest.raises(WorkbookError, match="entities-in-catalog does not hold: none found"):
        docs.build_document([a], tmp_path / "d.md")
