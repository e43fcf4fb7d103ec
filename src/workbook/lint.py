"""squawk over the migrations: every hit joined with the design's reviewed decision, none unexplained.

squawk (https://squawkhq.com) reads each migration file and reports what would hurt on a live
PostgreSQL database: locks that block reads or writes, table rewrites, timeouts never set. The design
declares, per file and rule, whether a hit was fixed (by a later migration it names) or is ignored,
and why (`workbook.design.lint`). `review` refuses a hit without a reviewed decision, and a decision
that no longer matches any hit, so the table of hits in the document never lies. This module runs
squawk and names none of the design's tables.

The run depends only on the files and the pinned squawk: settings that squawk would otherwise read
from a `.squawk.toml` found above the working folder are given on the command line, and the file
itself is replaced by an empty one. `--assume-in-transaction` says what the runner does
(`workbook.migrate.apply` runs each file in one transaction): squawk then treats a file as atomic
(no `prefer-robust-stmts`), and does not ask for CONCURRENTLY on a table created in the same file.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from . import config, tables
from .errors import WorkbookError
from .migrate import FILE_RE, discover

# Where the design's decisions live, for the messages that ask for one.
REVIEWED_IN = "src/workbook/design/lint.py"
DECISIONS = ("fixed", "ignored")
RULE_DOCS = "https://squawkhq.com/docs/"
_IGNORE_COMMENT = re.compile(r"squawk-ignore", re.IGNORECASE)
_MIGRATION_NAME = re.compile(r"V\d{4,}__[A-Za-z0-9_]+\.sql")


@dataclass(frozen=True)
class Hit:
    """One squawk warning: the file, its line (from 1), the rule and squawk's words."""

    file: str
    line: int
    rule: str
    message: str
    help: str | None


@dataclass(frozen=True)
class Reviewed:
    """The design's decision on a (file, rule): "fixed" by a later migration it names, or "ignored"."""

    decision: str
    reason: str


@dataclass(frozen=True)
class Row:
    """A hit with its reviewed decision: a row of the document's lint table."""

    file: str
    line: int
    rule: str
    decision: str
    reason: str


def squawk_binary() -> Path:
    """The squawk executable: the one installed beside this Python (the venv's bin), else on PATH."""
    found = shutil.which("squawk", path=str(Path(sys.executable).parent)) or shutil.which("squawk")
    if not found:
        raise WorkbookError("squawk not found: run make setup")
    return Path(found)


def version(binary: Path | None = None) -> str:
    """squawk's version, as it prints it (`squawk 2.70.0`)."""
    return _run([str(binary or squawk_binary()), "--version"], Path.cwd()).stdout.strip()


def command(
    files: Sequence[str],
    *,
    pg_version: str,
    excluded: Iterable[str] = (),
    binary: Path | None = None,
    in_transaction: bool = True,
) -> list[str]:
    """The squawk command line over `files` (names in the migrations folder, which is its cwd)."""
    argv = [
        str(binary or squawk_binary()),
        f"--config={os.devnull}",  # an empty config: no .squawk.toml above the cwd is read
        "--reporter=json",
        f"--pg-version={pg_version}",
    ]
    if in_transaction:
        argv.append("--assume-in-transaction")  # the runner applies each file in one transaction
    rules = sorted(set(excluded))
    if rules:
        argv.append("--exclude=" + ",".join(rules))
    return argv + list(files)


def run(directory: Path | None = None, *, pg_version: str, excluded: Iterable[str] = ()) -> list[Hit]:
    """squawk's hits over every migration of `directory`, in version, line and rule order."""
    migrations = discover(directory or config.MIGRATIONS_DIR)
    if not migrations:
        return []
    for mig in migrations:
        for number, text in enumerate(mig.text.splitlines(), 1):
            if _IGNORE_COMMENT.search(text):
                raise WorkbookError(
                    f"{mig.name}:{number}: a squawk-ignore comment hides a hit from the lint table; "
                    f"remove it and give the decision and its reason in {REVIEWED_IN}"
                )
    names = [m.name for m in migrations]
    folder = migrations[0].path.parent
    hits: list[Hit] = []
    # Files marked `-- workbook: no-transaction` run statement by statement, outside a transaction:
    # squawk judges them as such (a second run without --assume-in-transaction).
    for in_tx in (True, False):
        group = [m.name for m in migrations if m.no_transaction != in_tx]
        if not group:
            continue
        argv = command(group, pg_version=pg_version, excluded=excluded, in_transaction=in_tx)
        proc = _run(argv, folder)
        if proc.returncode not in (0, 1) or not proc.stdout.strip():
            detail = proc.stderr.strip().splitlines()[0] if proc.stderr.strip() else f"exit {proc.returncode}"
            raise WorkbookError(f"squawk failed on {folder}: {detail}")
        hits += parse(proc.stdout, names)
    order = {n: i for i, n in enumerate(names)}
    return sorted(hits, key=lambda h: (order.get(h.file, len(order)), h.line, h.rule))


def _run(argv: list[str], cwd: Path) -> subprocess.CompletedProcess:
    try:
        return subprocess.run(
            argv, cwd=cwd, stdin=subprocess.DEVNULL, capture_output=True, text=True, timeout=120
        )
    except OSError as exc:
        raise WorkbookError(f"{argv[0]}: cannot run squawk: {exc.strerror or exc}") from None
    except subprocess.TimeoutExpired:
        raise WorkbookError(f"{argv[0]}: squawk did not finish within 120 s") from None


def parse(output: str, order: Sequence[str] = ()) -> list[Hit]:
    """Hits from squawk's JSON reporter, sorted by file (in `order`, else by name), line and rule.

    squawk's JSON counts lines from 0 (its terminal report from 1); hits here count from 1, like
    every other file:line of the workbook.
    """
    try:
        items = json.loads(output)
        hits = [
            Hit(
                Path(item["file"]).name,
                int(item["line"]) + 1,
                str(item["rule_name"]),
                str(item["message"]),
                None if item.get("help") is None else str(item["help"]),
            )
            for item in items
        ]
    except (ValueError, TypeError, KeyError) as exc:
        raise WorkbookError(f"squawk: output is not its JSON report ({exc}): {output[:80]!r}") from None
    rank = {name: i for i, name in enumerate(order)}
    return sorted(hits, key=lambda h: (rank.get(h.file, len(rank)), h.file, h.line, h.rule, h.message))


def review(
    hits: Sequence[Hit],
    reviewed: Mapping[tuple[str, str], Reviewed],
    *,
    files: Sequence[str] | None = None,
    source: str = REVIEWED_IN,
) -> list[Row]:
    """Each hit with its reviewed decision; the first unexplained hit or stale decision is an error.

    `files` (the folder's file names) lets a "fixed" decision be checked: it must name a later
    migration that exists.
    """
    missing = list(dict.fromkeys((h.file, h.rule) for h in hits if (h.file, h.rule) not in reviewed))
    if missing:
        hit = next(h for h in hits if (h.file, h.rule) == missing[0])
        more = (
            "; also unreviewed: " + ", ".join(f"({f!r}, {r!r})" for f, r in missing[1:])
            if missing[1:]
            else ""
        )
        raise WorkbookError(
            f"{hit.file}:{hit.line}: squawk rule {hit.rule} has no reviewed reason in {source}: "
            f"change the statement, or add ({hit.file!r}, {hit.rule!r}) with a decision and a reason "
            f"(squawk: {hit.message}){more}"
        )
    rows = [
        Row(h.file, h.line, h.rule, reviewed[h.file, h.rule].decision, reviewed[h.file, h.rule].reason)
        for h in hits
    ]
    stale = sorted(set(reviewed) - {(h.file, h.rule) for h in hits})
    if stale:
        file, rule = stale[0]
        raise WorkbookError(
            f"{source}: reviewed ({file!r}, {rule!r}) matches no squawk hit: remove the stale reason"
        )
    for (file, rule), entry in sorted(reviewed.items()):
        _check_entry(file, rule, entry, files, source)
    return rows


def _check_entry(file: str, rule: str, entry: Reviewed, files: Sequence[str] | None, source: str) -> None:
    where = f"{source}: ({file!r}, {rule!r})"
    if entry.decision not in DECISIONS:
        raise WorkbookError(f"{where}: decision must be 'fixed' or 'ignored', not {entry.decision!r}")
    if not entry.reason.strip():
        raise WorkbookError(f"{where}: the reason is empty")
    if entry.decision == "fixed":
        later = [
            name
            for name in _MIGRATION_NAME.findall(entry.reason)
            if _number(name) > _number(file) and (files is None or name in files)
        ]
        if not later:
            raise WorkbookError(f"{where}: a fixed decision must name the later migration file that fixes it")


def _number(name: str) -> int:
    m = FILE_RE.match(name)
    return int(m["version"]) if m else -1


def check(directory: Path | None = None, design: object | None = None) -> list[Row]:
    """squawk over the migrations, reviewed against the design's decisions (default: this design's)."""
    if design is None:
        from .design import lint as design
    folder = directory or config.MIGRATIONS_DIR
    hits = run(folder, pg_version=design.PG_VERSION, excluded=design.RULES_EXCLUDED)
    return review(hits, design.REVIEWED, files=[m.name for m in discover(folder)])


def md_table(rows: Sequence[Row]) -> str:
    """The lint table: a row per file and reason, with the rules and lines it answers and its decision.

    Rules of one file with the same lines and the same decision and reason share a row.
    """
    by_rule: dict[tuple[str, str], list[Row]] = {}
    for row in rows:
        by_rule.setdefault((row.file, row.rule), []).append(row)
    merged: dict[tuple[str, str, str, str], list[str]] = {}
    for (file, rule), group in by_rule.items():
        lines = ", ".join(str(r.line) for r in group)
        merged.setdefault((file, lines, group[0].decision, group[0].reason), []).append(rule)
    body = [
        (f"`{file}`", lines, ", ".join(f"[{r}]({RULE_DOCS}{r})" for r in rules), decision, reason)
        for (file, lines, decision, reason), rules in merged.items()
    ]
    return tables.md_table(("File", "Lines", "Rules", "Decision", "Reason"), body)
