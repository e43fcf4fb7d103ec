"""workbook.docs_cache: `make docs` re-executes only the notebooks whose inputs changed.

Every execution here is real (a kernel, nbclient, nbconvert). The tiny notebooks append their name to a
log file when they run, so the log says exactly which notebooks a build executed. The key's shared
inputs (package tree, requirements.txt, pyproject.toml) point at copies in tmp_path, so a test can
change them without touching the project, and a file another engineer saves in src/ meanwhile does not
change what a test sees.
"""

from __future__ import annotations

import base64
import dataclasses
import json
import shutil
import sys
from pathlib import Path

import nbformat
import pytest
from nbformat import v4

from workbook import config, docs, docs_cache
from workbook.docs_cache import Hit, KeyInputs, Miss
from workbook.errors import WorkbookError

SVG_TEXT = (
    '<svg xmlns="http://www.w3.org/2000/svg" width="20" height="10">'
    '<rect width="20" height="10" fill="#963"/></svg>'
)
ASSETS = "design_files"  # the figures folder of <out>/design.md


def _tagged(cell: nbformat.NotebookNode, *tags: str) -> nbformat.NotebookNode:
    cell.metadata["tags"] = list(tags)
    return cell


def write_notebook(path: Path, log: Path, body: str = "print('hello')", *, figure: bool = False) -> Path:
    """A notebook whose every execution appends its stem to `log` (hidden from the document)."""
    cells = [
        v4.new_markdown_cell(f"# Section {path.stem}\n\nSome prose."),
        _tagged(
            v4.new_code_cell(f"with open({str(log)!r}, 'a') as f:\n    f.write({path.stem!r} + '\\n')"),
            "remove_cell",
        ),
        v4.new_code_cell(body),
    ]
    if figure:
        cells.append(
            _tagged(v4.new_code_cell(f"from IPython.display import SVG\nSVG({SVG_TEXT!r})"), "remove_input")
        )
    nb = v4.new_notebook(cells=cells)
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    nbformat.write(nb, path)
    return path


def copy_key_inputs(folder: Path) -> KeyInputs:
    """Copies of the package tree, requirements.txt and pyproject.toml, as the key's inputs."""
    folder.mkdir(parents=True, exist_ok=True)
    package = folder / "workbook"
    shutil.copytree(config.PACKAGE_DIR, package, ignore=shutil.ignore_patterns("__pycache__"))
    files = []
    for name in ("requirements.txt", "pyproject.toml"):
        shutil.copy(config.PROJ_ROOT / name, folder / name)
        files.append(folder / name)
    return KeyInputs(package_dir=package, project_files=tuple(files))


@dataclasses.dataclass
class Project:
    root: Path
    notebooks: list[Path]
    log: Path
    cache: Path
    inputs: KeyInputs

    def build(self, out: str = "out", **kwargs) -> Path:
        kwargs.setdefault("cache_dir", self.cache)
        kwargs.setdefault("cache_inputs", self.inputs)
        return docs.build_document(self.notebooks, self.root / out / "design.md", **kwargs)

    def executions(self) -> list[str]:
        """The notebooks executed since the last call, in order."""
        lines = self.log.read_text().splitlines() if self.log.exists() else []
        self.log.write_text("")
        return lines

    def entries(self) -> list[Path]:
        return sorted(self.cache.glob("*.json"))


def make_project(root: Path, count: int = 2) -> Project:
    folder = root / "notebooks"
    folder.mkdir(parents=True)
    log = root / "executions.log"
    notebooks = [
        write_notebook(folder / "01-first.ipynb", log, "print('first', 6 * 7)", figure=True),
        write_notebook(folder / "02-second.ipynb", log, "print('second')"),
    ][:count]
    return Project(root, notebooks, log, root / "cache", copy_key_inputs(root / "key-inputs"))


@pytest.fixture
def project(tmp_path: Path) -> Project:
    return make_project(tmp_path)


def same_output(a: Path, b: Path) -> None:
    """Document and every figure byte-identical."""
    assert a.read_bytes() == b.read_bytes()
    fa, fb = docs.assets_dir_for(a), docs.assets_dir_for(b)
    names = sorted(p.name for p in fa.iterdir()) if fa.is_dir() else []
    assert names == (sorted(p.name for p in fb.iterdir()) if fb.is_dir() else [])
    for name in names:
        assert (fa / name).read_bytes() == (fb / name).read_bytes(), name


# --------------------------------------------------------------------------------------------
# (a) the real document: warm == cold


def test_real_document_from_warm_cache_is_byte_identical(tmp_path: Path, monkeypatch, capsys) -> None:
    # The first two real notebooks that the cache may hold (figures, SQL magics, both engines): every
    # notebook goes through the same cache code, and the full cold build is `make check-docs`'s job in CI.
    # The Overview and the Quality Checklist read the build's checks, so they always run.
    notebooks = [p for p in config.document_notebooks() if not docs._reads_checks(p)][:2]
    inputs = copy_key_inputs(tmp_path / "key-inputs")  # a snapshot: edits in src/ meanwhile do not count
    cache = tmp_path / "cache"
    cold = docs.build_document(
        notebooks, tmp_path / "cold" / "data-design.md", cache_dir=cache, cache_inputs=inputs
    )
    progress = capsys.readouterr().err
    assert len(list(cache.glob("*.json"))) == len(notebooks), progress

    calls: list[str] = []
    real = docs.execute_notebook
    monkeypatch.setattr(
        docs, "execute_notebook", lambda path, **kw: calls.append(path.name) or real(path, **kw)
    )
    warm = docs.build_document(
        notebooks, tmp_path / "warm" / "data-design.md", cache_dir=cache, cache_inputs=inputs
    )
    progress = capsys.readouterr().err
    assert calls == [], f"re-executed {calls} (was a notebook saved during the test?)\n{progress}"
    assert progress.count("unchanged, reused") == len(notebooks)
    same_output(cold, warm)
    assert any(docs.assets_dir_for(warm).iterdir())  # the figures came out of the cache too


# --------------------------------------------------------------------------------------------
# (b) a second build executes nothing


def test_second_build_executes_nothing_and_matches(project: Project, capsys) -> None:
    cold = project.build("cold")
    assert project.executions() == ["01-first", "02-second"]
    err = capsys.readouterr().err
    assert "[1/2] executing 01-first.ipynb (not cached)" in err
    assert "[2/2] executing 02-second.ipynb (not cached)" in err

    warm = project.build("warm")
    assert project.executions() == []
    err = capsys.readouterr().err.splitlines()
    assert err == ["[1/2] 01-first.ipynb unchanged, reused", "[2/2] 02-second.ipynb unchanged, reused"]
    same_output(cold, warm)
    assert "first 42" in warm.read_text()
    assert [p.name for p in docs.assets_dir_for(warm).iterdir()] == ["01-first-4-1.svg"]

    # and a build without any cache gives the same bytes
    plain = project.build("plain", cache_dir=None)
    assert project.executions() == ["01-first", "02-second"]
    same_output(plain, warm)


# --------------------------------------------------------------------------------------------
# (c) a changed notebook re-executes alone


def test_changed_notebook_reexecutes_alone(project: Project, capsys) -> None:
    project.build()
    assert project.executions() == ["01-first", "02-second"]
    capsys.readouterr()

    write_notebook(project.notebooks[1], project.log, "print('edited second')")
    out = project.build()
    assert project.executions() == ["02-second"]
    err = capsys.readouterr().err
    assert "[1/2] 01-first.ipynb unchanged, reused" in err
    assert "[2/2] executing 02-second.ipynb (changed: notebook)" in err
    assert "edited second" in out.read_text()

    # a tag is content too: it changes what the document shows
    nb = nbformat.read(project.notebooks[0], as_version=4)
    nb.cells[2].metadata["tags"] = ["remove_input"]
    nbformat.write(nb, project.notebooks[0])
    out = project.build()
    assert project.executions() == ["01-first"]
    assert "print('first', 6 * 7)" not in out.read_text() and "first 42" in out.read_text()

    # a renamed notebook renders under its new name; the old entry is deleted
    renamed = project.notebooks[1].rename(project.notebooks[1].with_name("07-renamed.ipynb"))
    project.notebooks[1] = renamed
    old_entries = project.entries()
    out = project.build()
    assert project.executions() == ["02-second"]  # the log line is baked into the source
    assert "## Section 02-second" in out.read_text()
    assert len(project.entries()) == 2 and project.entries() != old_entries
    assert any(p.name.startswith("07-renamed-") for p in project.entries())


# --------------------------------------------------------------------------------------------
# (d) every key input invalidates


@pytest.fixture(scope="module")
def warm(tmp_path_factory: pytest.TempPathFactory) -> Project:
    """Two tiny notebooks built once into a cache; tests look them up in copies of that cache."""
    project = make_project(tmp_path_factory.mktemp("warm"))
    project.build()
    assert project.executions() == ["01-first", "02-second"]
    return project


def _lookup(project: Project, cache: Path, inputs: KeyInputs, index: int = 0) -> Hit | Miss:
    return docs.open_cache(cache, inputs).lookup(project.notebooks[index], ASSETS)


@pytest.fixture
def copies(warm: Project, tmp_path: Path) -> tuple[Path, KeyInputs]:
    """A copy of the warm cache and of its key inputs (same names and contents: same keys)."""
    cache = tmp_path / "cache"
    shutil.copytree(warm.cache, cache)
    inputs_dir = tmp_path / "key-inputs"
    shutil.copytree(warm.inputs.package_dir.parent, inputs_dir)
    inputs = KeyInputs(
        package_dir=inputs_dir / "workbook",
        project_files=(inputs_dir / "requirements.txt", inputs_dir / "pyproject.toml"),
    )
    return cache, inputs


def _append(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("a") as handle:
        handle.write(text)


def _fake_dot(tmp: Path) -> str:
    script = tmp / "fake-dot"
    script.write_text("#!/bin/sh\necho 'dot - graphviz version 99.0.0 (0)' >&2\n")
    script.chmod(0o755)
    return str(script)


CHANGES = {
    "migration edited": (
        lambda inp, tmp, mp: _append(inp.package_dir / "migrations/V0001__schema_migrations.sql", "\n-- x\n"),
        "workbook/migrations/V0001__schema_migrations.sql",
    ),
    "migration added": (
        lambda inp, tmp, mp: _append(inp.package_dir / "migrations/V0099__more.sql", "SELECT 1;\n"),
        "workbook/migrations/V0099__more.sql added",
    ),
    "seed prompt edited": (
        lambda inp, tmp, mp: _append(inp.package_dir / "seed_prompt.md", "\nmore\n"),
        "workbook/seed_prompt.md",
    ),
    "design declaration added": (
        lambda inp, tmp, mp: _append(inp.package_dir / "design/entities.yaml", "users: {}\n"),
        "workbook/design/entities.yaml added",
    ),
    "module edited": (
        lambda inp, tmp, mp: _append(inp.package_dir / "render.py", "\n# x\n"),
        "workbook/render.py",
    ),
    "requirements.txt": (
        lambda inp, tmp, mp: _append(inp.project_files[0], "extra==1.0\n"),
        "requirements.txt",
    ),
    "pyproject.toml": (lambda inp, tmp, mp: _append(inp.project_files[1], "\n# x\n"), "pyproject.toml"),
    "python version": (lambda inp, tmp, mp: mp.setattr(sys, "version", sys.version + " (other)"), "python"),
    "dot -V": (
        lambda inp, tmp, mp: dataclasses.replace(inp, dot=_fake_dot(tmp)),
        "graphviz (dot -V)",
    ),
    "kernel env": (lambda inp, tmp, mp: mp.setitem(docs.KERNEL_ENV, "EXTRA_SETTING", "1"), "kernel env"),
    **{
        f"${name}": (lambda inp, tmp, mp, name=name: mp.setenv(name, "elsewhere"), f"${name}")
        for name in (*docs_cache.PG_SOURCE_VARS, "PGOPTIONS", "TZ", "LC_ALL")
    },
}


@pytest.mark.parametrize("change", CHANGES)
def test_each_key_input_invalidates(
    change: str, warm: Project, copies: tuple[Path, KeyInputs], tmp_path: Path, monkeypatch
) -> None:
    cache, inputs = copies
    assert isinstance(_lookup(warm, cache, inputs), Hit)  # the copies alone change nothing
    apply, named = CHANGES[change]
    inputs = apply(inputs, tmp_path, monkeypatch) or inputs
    found = _lookup(warm, cache, inputs)
    assert isinstance(found, Miss)
    assert found.reason.startswith("changed: ") and named in found.reason, found.reason
    assert isinstance(_lookup(warm, cache, inputs, index=1), Miss)  # shared inputs: every notebook


@pytest.mark.parametrize(
    "change",
    [
        "bytecode in __pycache__",
        "cache switch",
        "unrelated variable",
        "kernel language_info",
    ],
)
def test_what_does_not_invalidate(
    change: str, warm: Project, copies: tuple[Path, KeyInputs], monkeypatch
) -> None:
    cache, inputs = copies
    if change == "bytecode in __pycache__":
        _append(inputs.package_dir / "__pycache__/render.cpython-311.pyc", "x")
    elif change == "cache switch":
        monkeypatch.setenv(docs_cache.NO_CACHE_ENV, "0")
    elif change == "unrelated variable":
        monkeypatch.setenv("SOME_UNRELATED_SETTING", "1")
    else:
        nb = nbformat.read(warm.notebooks[0], as_version=4)
        nb.metadata["language_info"] = {"name": "python", "version": "9.9"}
        assert docs_cache.notebook_components(
            nb, path=warm.notebooks[0], assets_rel=ASSETS
        ) == docs_cache.notebook_components(
            nbformat.read(warm.notebooks[0], as_version=4), path=warm.notebooks[0], assets_rel=ASSETS
        )
    assert isinstance(_lookup(warm, cache, inputs), Hit)


def test_changed_inputs_reexecute_and_no_dsn_is_stored(project: Project, monkeypatch, capsys) -> None:
    project.notebooks = project.notebooks[:1]
    project.build()
    assert project.executions() == ["01-first"]
    secret = "s3cr3t-pw"
    monkeypatch.setenv("WORKBOOK_PG_DSN", f"postgresql://reviewer:{secret}@db.invalid:5432/design")
    project.build()
    assert project.executions() == ["01-first"]
    assert "(changed: $WORKBOOK_PG_DSN set)" in capsys.readouterr().err
    project.build()
    assert project.executions() == []
    assert project.entries()
    for entry in project.entries():
        raw = entry.read_bytes()
        assert secret.encode() not in raw and b"db.invalid" not in raw and b"reviewer" not in raw

    _append(project.inputs.package_dir / "migrations/V0001__schema_migrations.sql", "\n-- reviewed\n")
    project.build()
    assert project.executions() == ["01-first"]
    assert "(changed: workbook/migrations/V0001__schema_migrations.sql)" in capsys.readouterr().err


def test_input_changed_during_build_is_not_cached(project: Project, monkeypatch, capsys) -> None:
    """A key file saved while a notebook runs: which version the kernel saw is unknown, keep nothing."""
    real = docs.execute_notebook

    def execute_then_edit(path: Path, **kwargs):
        nb = real(path, **kwargs)
        _append(project.inputs.package_dir / "render.py", "\n# saved meanwhile\n")
        return nb

    monkeypatch.setattr(docs, "execute_notebook", execute_then_edit)
    project.notebooks = project.notebooks[:1]
    project.build()
    assert project.executions() == ["01-first"]
    assert (
        "01-first.ipynb: not cached: workbook/render.py changed during the build" in capsys.readouterr().err
    )
    assert project.entries() == []


# --------------------------------------------------------------------------------------------
# (e) outputs saved into a notebook


def test_saved_outputs_neither_invalidate_nor_leak(project: Project, capsys) -> None:
    project.notebooks = project.notebooks[:1]
    before = project.build()
    assert project.executions() == ["01-first"]
    reference = project.root / "reference"
    shutil.copytree(before.parent, reference)

    # what a reviewer's save in JupyterLab leaves: outputs, counts, language_info, view state
    executed = docs.execute_notebook(project.notebooks[0])
    assert project.executions() == ["01-first"]
    executed.cells[2].outputs[0]["text"] = "STALE_OUTPUT_FROM_REVIEW\n"
    for cell in executed.cells:
        cell.metadata.update(
            {"collapsed": False, "scrolled": True, "jupyter": {"outputs_hidden": False}},
            execution={
                "iopub.execute_input": "2025-01-01T00:00:00Z",
                "shell.execute_reply": "2025-01-01T00:00:01Z",
            },
        )
    executed.metadata["language_info"] = {"name": "python", "version": "3.11.7", "mimetype": "text/x-python"}
    nbformat.write(executed, project.notebooks[0])
    on_disk = nbformat.read(project.notebooks[0], as_version=4)
    assert on_disk.cells[2].outputs and on_disk.cells[2].execution_count == 2
    assert on_disk.metadata["language_info"]["name"] == "python"

    capsys.readouterr()
    warm = project.build()
    assert project.executions() == []
    assert "01-first.ipynb unchanged, reused" in capsys.readouterr().err
    same_output(reference / "design.md", warm)

    # built from scratch, the saved outputs are replaced by the execution's: the same document
    fresh = project.build("fresh", cache_dir=project.root / "fresh-cache")
    assert project.executions() == ["01-first"]
    same_output(reference / "design.md", fresh)
    assert "STALE_OUTPUT_FROM_REVIEW" not in fresh.read_text()


# --------------------------------------------------------------------------------------------
# (f) damaged entries are ignored


def _rewrite(entry: Path, edit) -> None:  # noqa: ANN001
    data = json.loads(entry.read_bytes())
    edit(data)
    entry.write_text(json.dumps(data))


def _reseal(data: dict) -> None:
    data["checksum"] = docs_cache._checksum(data["key"], data["notebook"], data["text"], data["assets"])


DAMAGE = {
    "empty": lambda e: e.write_bytes(b""),
    "truncated": lambda e: e.write_bytes(e.read_bytes()[: len(e.read_bytes()) // 2]),
    "not utf-8": lambda e: e.write_bytes(b"\xff\xfe\x00garbage"),
    "a json list": lambda e: e.write_text("[1, 2]"),
    "text edited": lambda e: _rewrite(
        e, lambda d: d.update(text=d["text"].replace("Some prose", "Tampered"))
    ),
    "figure edited": lambda e: _rewrite(
        e, lambda d: d["assets"].update({k: base64.b64encode(b"<svg/>").decode() for k in d["assets"]})
    ),
    "figure not base64 (resealed)": lambda e: _rewrite(
        e, lambda d: (d["assets"].update({k: "!!not base64!!" for k in d["assets"]}), _reseal(d))
    ),
    "figure path escapes (resealed)": lambda e: _rewrite(
        e, lambda d: (d.update(assets={"../../escape.svg": next(iter(d["assets"].values()))}), _reseal(d))
    ),
    "key swapped (resealed)": lambda e: _rewrite(e, lambda d: (d.update(key="0" * 64), _reseal(d))),
    "other format": lambda e: _rewrite(e, lambda d: d.update(format=999)),
    "missing field": lambda e: _rewrite(e, lambda d: d.pop("components")),
}


@pytest.mark.parametrize("damage", DAMAGE)
def test_damaged_entry_is_never_used(damage: str, warm: Project, copies: tuple[Path, KeyInputs]) -> None:
    cache, inputs = copies
    cache_obj = docs.open_cache(cache, inputs)
    entry = cache_obj.slot(warm.notebooks[0], ASSETS)
    assert entry.is_file() and isinstance(cache_obj.lookup(warm.notebooks[0], ASSETS), Hit)
    DAMAGE[damage](entry)
    found = _lookup(warm, cache, inputs)
    assert isinstance(found, Miss) and found.reason == "damaged cache entry ignored"


def test_entry_that_is_a_folder_is_unreadable(warm: Project, copies: tuple[Path, KeyInputs]) -> None:
    cache, inputs = copies
    entry = docs.open_cache(cache, inputs).slot(warm.notebooks[0], ASSETS)
    entry.unlink()
    entry.mkdir()
    found = _lookup(warm, cache, inputs)
    assert isinstance(found, Miss) and found.reason == "cache entry unreadable"


def test_damaged_entry_is_rebuilt(project: Project, capsys) -> None:
    project.notebooks = project.notebooks[:1]
    cold = project.build("cold")
    assert project.executions() == ["01-first"]
    (entry,) = project.entries()
    entry.write_bytes(entry.read_bytes()[:100])
    capsys.readouterr()
    again = project.build("again")
    assert project.executions() == ["01-first"]
    assert "[1/1] executing 01-first.ipynb (damaged cache entry ignored)" in capsys.readouterr().err
    same_output(cold, again)
    project.build("third")
    assert project.executions() == []  # the entry was written anew


def test_unwritable_cache_warns_once_and_builds(project: Project, capsys) -> None:
    project.cache.write_text("a file where the cache folder should be")
    out = project.build()
    assert project.executions() == ["01-first", "02-second"]
    err = capsys.readouterr().err.splitlines()
    warnings = [line for line in err if line.startswith("warning:")]
    assert len(warnings) == 1 and "cannot write the docs cache" in warnings[0]
    assert "first 42" in out.read_text()


# --------------------------------------------------------------------------------------------
# (g) check ignores the cache; the switches


def test_check_and_no_cache_ignore_a_poisoned_cache(
    project: Project, tmp_path: Path, monkeypatch, capsys
) -> None:
    project.notebooks = project.notebooks[1:]
    monkeypatch.setattr(config, "PROJ_ROOT", tmp_path)
    monkeypatch.setattr(config, "NOTEBOOKS_DIR", tmp_path / "only")
    (tmp_path / "only").mkdir()
    notebook = project.notebooks[0].rename(tmp_path / "only" / project.notebooks[0].name)
    monkeypatch.setattr(config, "DESIGN_DOC", tmp_path / "docs" / "design.md")
    cache = docs_cache.default_dir()
    assert cache == tmp_path / ".cache" / "docs"

    assert docs.main(["build"]) == 0
    assert project.executions() == ["02-second"]
    (entry,) = cache.glob("*.json")
    clean = config.DESIGN_DOC.read_bytes()

    # an entry with a valid key and checksum but the wrong text: a cached build would trust it ...
    nb = nbformat.read(notebook, as_version=4)
    assert docs.open_cache(cache).store(notebook, nb, "design_files", "## POISONED\n", {})
    assert docs.main(["build"]) == 0
    assert project.executions() == []
    assert b"POISONED" in config.DESIGN_DOC.read_bytes()

    # ... check does not: it executes and finds the committed document stale
    capsys.readouterr()
    assert docs.main(["check"]) == 1
    assert project.executions() == ["02-second"]
    assert "docs/design.md is stale" in capsys.readouterr().err
    assert b"POISONED" in entry.read_bytes()  # check neither read nor rewrote the cache

    # --no-cache executes and refreshes the entry; WORKBOOK_DOCS_NO_CACHE=1 does the same
    assert docs.main(["build", "--no-cache"]) == 0
    assert project.executions() == ["02-second"]
    assert config.DESIGN_DOC.read_bytes() == clean
    assert b"POISONED" not in entry.read_bytes()
    assert docs.main(["check"]) == 0
    assert project.executions() == ["02-second"]
    monkeypatch.setenv(docs_cache.NO_CACHE_ENV, "1")
    capsys.readouterr()
    assert docs.main(["build"]) == 0
    assert project.executions() == ["02-second"]
    assert "[1/1] executing 02-second.ipynb (cache not used)" in capsys.readouterr().err
    monkeypatch.setenv(docs_cache.NO_CACHE_ENV, "maybe")
    assert docs.main(["build"]) == 1
    assert capsys.readouterr().err.splitlines()[-1] == (
        "error: WORKBOOK_DOCS_NO_CACHE='maybe': expected 1 (execute every notebook) or 0"
    )
    monkeypatch.delenv(docs_cache.NO_CACHE_ENV)
    assert docs.main(["build"]) == 0
    assert project.executions() == []


def test_unreadable_notebook_fails_in_one_line(tmp_path: Path, capsys) -> None:
    bad = tmp_path / "01-bad.ipynb"
    bad.write_text("{not json")
    with pytest.raises(WorkbookError) as info:
        docs.build_document([bad], tmp_path / "out" / "design.md", cache_dir=tmp_path / "cache")
    assert str(info.value).startswith("01-bad.ipynb: cannot read notebook: ")
    assert capsys.readouterr().err.splitlines() == ["[1/1] executing 01-bad.ipynb"]
    assert not list((tmp_path / "cache").glob("*.json"))
