"""The Quality Checklist, filled from the checks this build's notebooks recorded (workbook.nb.check).

An item is ticked only when every check behind it was recorded and held; otherwise it is shown
unticked with what is missing. Outside `make docs` (a notebook opened on its own) nothing was
recorded, so nothing is ticked.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType

from . import config
from .tables import md_table


def _design() -> ModuleType:
    from .design import checklist

    return checklist


@dataclass(frozen=True)
class Item:
    text: str
    checks: tuple[str, ...]
    passed: tuple[str, ...]
    missing: tuple[str, ...]

    @property
    def ticked(self) -> bool:
        return bool(self.checks) and not self.missing


def evaluate(records: dict[str, dict] | None, design: ModuleType | None = None) -> list[Item]:
    d = design or _design()
    records = records or {}
    out = []
    for text, checks in d.ITEMS:
        passed = tuple(c for c in checks if records.get(c, {}).get("holds"))
        out.append(Item(text, checks, passed, tuple(c for c in checks if c not in passed)))
    return out


def markdown(items: list[Item], records: dict[str, dict] | None, design: ModuleType | None = None) -> str:
    d = design or _design()
    records = records or {}
    lines = []
    for it in items:
        box = "[x]" if it.ticked else "[ ]"
        why = f"{len(it.passed)} of {len(it.checks)} checks passed" if it.checks else "no check proves it"
        if it.missing:
            why += "; missing: " + ", ".join(f"`{m}`" for m in it.missing)
        lines.append(f"- {box} {it.text} ({why})")
    rows = []
    for it in items:
        for c in it.checks:
            section, proves = d.CHECKS[c]
            r = records.get(c)
            rows.append(
                [
                    it.text,
                    f"`{c}`",
                    section,
                    proves,
                    ("✓ " + r["detail"]) if r and r.get("holds") else "**not run**",
                ]
            )
    return (
        "\n".join(lines)
        + "\n\n"
        + md_table(["Item", "Check", "Recorded by", "What it proves", "This build"], rows)
    )


def sections_complete(
    records: dict[str, dict] | None, notebooks: list[Path] | None = None
) -> tuple[bool, str]:
    """Every section of config.SECTIONS before the checklist is a notebook that recorded a check."""
    notebooks = notebooks if notebooks is not None else config.document_notebooks()
    numbered = {int(re.match(r"(\d\d)-", p.name).group(1)): p.stem for p in notebooks}
    last = len(config.SECTIONS) - 1
    missing = [config.SECTIONS[i] for i in range(last) if i not in numbered]
    sections = {r.get("section") for r in (records or {}).values()}
    silent = [numbered[i] for i in range(1, last) if i in numbered and numbered[i] not in sections]
    ok = records is not None and not missing and not silent
    detail = (
        f"{last} sections before this one, each executed with its checks"
        if ok
        else "; ".join(
            x
            for x in (
                "no docs build" if records is None else "",
                "no notebook: " + ", ".join(missing) if missing else "",
                "recorded no check: " + ", ".join(silent) if silent else "",
            )
            if x
        )
    )
    return ok, detail


def with_own_checks(
    records: dict[str, dict] | None, notebooks: list[Path] | None = None
) -> dict[str, dict] | None:
    """The build's records plus the checklist's own check (sections-complete), computed from them."""
    if records is None:
        return None
    ok, detail = sections_complete(records, notebooks)
    return {**records, "sections-complete": {"name": "sections-complete", "holds": ok, "detail": detail}}


def undeclared_in_notebooks(design: ModuleType | None = None) -> tuple[set[str], set[str]]:
    """(checks declared but recorded by no notebook, checks notebooks record but the design does not declare)."""
    import nbformat

    d = design or _design()
    used: set[str] = set()
    for path in config.document_notebooks():
        for cell in nbformat.read(path, as_version=4).cells:
            if cell.cell_type == "code":
                used |= set(re.findall(r"nb\.check\(\s*\"([a-z0-9-]+)\"", cell.source))
    return set(d.CHECKS) - used, used - set(d.CHECKS)
