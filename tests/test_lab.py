"""JupyterLab for reviewers: the SQL magics in a real kernel, the start page, Lab's settings, saved outputs.

Everything here runs the real thing: an ipykernel started by jupyter_client, nbclient, the JupyterLab
server started by `make lab`, git with the nbstripout filter that `make setup` configures.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import signal
import socket
import subprocess
import time
import urllib.request
from pathlib import Path

import nbformat
import pytest
from jupyter_client.manager import KernelManager

from workbook import config, docs, gitfilter, nb, render
from workbook.tables import FOLD_LINES, Markdown, escape_math, md_table

PATIENCE_S = 120
ANSI = re.compile(r"\x1b\[[0-9;]*m")


class Kernel:
    """A real ipykernel in notebooks/, as JupyterLab starts one; run() returns a cell's outputs."""

    def __init__(self, sockets: Path) -> None:
        self.km = KernelManager(
            kernel_name=docs.KERNEL_NAME,
            kernel_spec_manager=docs._ThisInterpreterKernelSpecs(),
            transport="ipc",
            ip=str(sockets / "kernel"),
        )
        self.km.start_kernel(cwd=str(config.NOTEBOOKS_DIR), env={**os.environ, **docs.KERNEL_ENV})
        self.kc = self.km.client()
        self.kc.start_channels()
        self.kc.wait_for_ready(timeout=PATIENCE_S)

    def run(self, code: str) -> list[dict]:
        msg_id = self.kc.execute(code)
        outputs = []
        while True:
            msg = self.kc.get_iopub_msg(timeout=PATIENCE_S)
            if msg["parent_header"].get("msg_id") != msg_id:
                continue
            kind, content = msg["msg_type"], msg["content"]
            if kind in ("stream", "display_data", "execute_result", "error"):
                outputs.append({"type": kind, **content})
            if kind == "status" and content["execution_state"] == "idle":
                return outputs

    def close(self) -> None:
        self.kc.stop_channels()
        self.km.shutdown_kernel(now=True)


@pytest.fixture(scope="module")
def kernel(tmp_path_factory):
    k = Kernel(tmp_path_factory.mktemp("kernel"))
    yield k
    k.close()


@pytest.fixture(scope="module")
def engines(kernel):
    out = kernel.run('from workbook import nb\nduck = nb.setup("duckdb")\npg = nb.setup("postgres")')
    return out


def one_line_error(outputs: list[dict]) -> str:
    (err,) = [o for o in outputs if o["type"] == "error"]
    assert len(err["traceback"]) == 1, "one line, not a traceback through jupysql"
    assert "\n" not in err["traceback"][0]
    return ANSI.sub("", err["traceback"][0])


def test_setup_cells_show_nothing(engines):
    """No stray output under setup cells (jupysql's note about the 'toml' package, say)."""
    assert engines == []


@pytest.mark.parametrize("alias", ["duck", "pg"])
def test_one_line_form_names_the_connection(kernel, engines, alias):
    (out,) = kernel.run(f"%sql {alias} SELECT count(*) AS n FROM users")
    assert out["type"] == "execute_result" and "| 0 |" in out["data"]["text/plain"]


@pytest.mark.parametrize("form", ["%sql {alias} {sql}", "%%sql {alias}\n{sql}"], ids=["line", "cell"])
@pytest.mark.parametrize(
    "alias, label", [("duck", "DuckDB (duck)"), ("pg", "PostgreSQL (pg)")], ids=["duckdb", "postgres"]
)
@pytest.mark.parametrize(
    "sql, broken",
    [
        (
            "INSERT INTO users (email, name) VALUES ('not-an-e-mail', 'Ada')",
            "the row breaks ck_users_email (CHECK on users)",
        ),
        (
            "INSERT INTO users (email, name, role) VALUES ('cy@example.com', 'Cy', 'owner')",
            "the row breaks ck_users_role (CHECK on users)",
        ),
        (
            "INSERT INTO projects (name, owner_id) VALUES ('site', '00000000-0000-0000-0000-00000000dead')",
            "the row breaks fk_projects_owner_id_users (FOREIGN KEY on projects)",
        ),
        ("INSERT INTO users (email, name) VALUES ('cy@example.com', NULL)", "users.name must not be NULL"),
    ],
    ids=["check", "check-in-set", "foreign-key", "not-null"],
)
def test_a_rejected_row_is_one_line_naming_the_constraint(kernel, engines, form, alias, label, sql, broken):
    line = one_line_error(kernel.run(form.format(alias=alias, sql=sql)))
    assert line.startswith("ConstraintViolation: ") and f"{label}: {broken}" in line, line


@pytest.mark.parametrize("alias, label", [("duck", "DuckDB (duck)"), ("pg", "PostgreSQL (pg)")])
def test_a_duplicate_names_the_unique_index(kernel, engines, alias, label):
    kernel.run(f"%sql {alias} INSERT INTO users (email, name) VALUES ('Dup@Example.com', 'Dup')")
    line = one_line_error(
        kernel.run(f"%sql {alias} INSERT INTO users (email, name) VALUES ('dup@example.com', 'D')")
    )
    assert f"{label}: the row breaks uq_users_email_lower" in line, line


def test_other_errors_are_one_line_too(kernel, engines):
    assert 'PostgreSQL (pg): syntax error at or near "SELEC"' in one_line_error(kernel.run("%sql pg SELEC 1"))
    line = one_line_error(kernel.run("%%sql duck\nSELECT * FROM no_such_table"))
    assert line.startswith("CatalogException: DuckDB (duck): Catalog Error: Table with name no_such_table"), (
        line
    )


def test_the_value_of_a_one_line_query_can_be_kept(kernel, engines):
    (out,) = kernel.run("x = %sql duck SELECT 41 + 1 AS answer\nprint(x.dict()['answer'])")
    assert out["text"].strip() == "(42,)"


def test_full_text_search_works_offline_in_a_notebook(kernel, engines):
    """A reviewer's own `LOAD fts` and a BM25 index on the notebook's DuckDB connection, with no download."""
    kernel.run(
        "%%sql duck\nCREATE TABLE notes AS SELECT * FROM (VALUES (1, 'react app with docker'), (2, 'python cli')) v(id, body)"
    )
    assert not [o for o in kernel.run("%sql duck LOAD fts") if o["type"] == "error"]
    kernel.run("%sql duck PRAGMA create_fts_index('notes', 'id', 'body')")
    (out,) = kernel.run(
        "%sql duck SELECT id FROM notes WHERE fts_main_notes.match_bm25(id, 'docker') IS NOT NULL"
    )
    assert out["type"] == "execute_result" and "| 1  |" in out["data"]["text/plain"], out


def test_start_page_runs_and_lists_the_notebooks_in_document_order():
    """The start page executes (its one failing example is tagged raises-exception) and lists every section."""
    ran = docs.execute_notebook(config.START_PAGE)
    html = next(
        o["data"]["text/markdown"]
        for c in ran.cells
        if c.cell_type == "code" and "notebook_index" in c.source
        for o in c.outputs
        if "data" in o
    )
    listed = re.findall(r"\[(\d\d-[\w-]+\.ipynb)\]", html)
    assert listed == [p.name for p in config.document_notebooks()]
    errors = [o for c in ran.cells if c.cell_type == "code" for o in c.outputs if o["output_type"] == "error"]
    assert [ANSI.sub("", e["traceback"][0]) for e in errors] == [
        "ConstraintViolation: DuckDB (duck): the row breaks ck_users_email (CHECK on users)"
    ]
    assert config.START_PAGE not in config.document_notebooks(), "the start page is not part of the document"


def test_notebook_numbers_follow_the_document_and_titles_match_sections():
    for path in config.document_notebooks():
        number = int(path.name[:2])
        first = nbformat.read(path, as_version=4).cells[0]
        assert first.cell_type == "markdown" and first.source.startswith("# "), path.name
        assert first.source.splitlines()[0][2:] == config.SECTIONS[number], path.name


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def lab():
    """`make lab` itself, on a free port with a known token."""
    port, token = _free_port(), "workbook-test"
    proc = subprocess.Popen(
        [
            "make",
            "-s",
            "lab",
            f"LAB_ARGS=--port={port} --IdentityProvider.token={token} --ServerApp.port_retries=0",
        ],
        cwd=config.PROJ_ROOT,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=True,
    )
    base = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + PATIENCE_S
    while True:
        try:
            urllib.request.urlopen(f"{base}/api/status?token={token}", timeout=2)
            break
        except OSError:
            assert proc.poll() is None, proc.stderr.read()
            assert time.monotonic() < deadline, "JupyterLab did not start"
            time.sleep(0.2)
    yield base, token
    os.killpg(proc.pid, signal.SIGTERM)
    try:
        proc.wait(30)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()


def test_lab_opens_the_start_page_without_news_or_update_checks(lab):
    base, token = lab

    class NoRedirect(urllib.request.HTTPRedirectHandler):
        def redirect_request(self, *args, **kwargs):  # noqa: ANN002, ANN003
            return None

    opener = urllib.request.build_opener(NoRedirect)
    try:
        opener.open(f"{base}/?token={token}", timeout=10)
        location = ""
    except urllib.error.HTTPError as exc:
        location = exc.headers["Location"]
    assert location.split("?")[0].endswith("/lab/tree/start-here.ipynb"), location
    url = f"{base}/lab/api/settings/@jupyterlab/apputils-extension:notification?token={token}"
    # Lab serves the project's overrides as the schema's defaults (a reviewer's own choice still wins).
    defaults = json.load(urllib.request.urlopen(url, timeout=10))["schema"]["properties"]
    assert defaults["fetchNews"]["default"] == "false", "no 'official Jupyter news' pop-up"
    assert defaults["checkForUpdates"]["default"] is False


def test_outputs_saved_in_lab_never_reach_git(tmp_path):
    """A notebook saved with outputs: git stores and shows it without them (nbstripout, set up by make setup)."""
    repo = tmp_path / "repo"
    (repo / "notebooks").mkdir(parents=True)
    shutil.copy(config.PROJ_ROOT / ".gitattributes", repo / ".gitattributes")
    target = repo / "notebooks" / "02-logical-model.ipynb"
    shutil.copy(config.NOTEBOOKS_DIR / "02-logical-model.ipynb", target)
    git = ["git", "-C", str(repo), "-c", "user.name=t", "-c", "user.email=t@example.com"]
    subprocess.run([*git, "init", "-q"], check=True)
    assert gitfilter.install(repo)
    subprocess.run([*git, "add", "-A"], check=True)
    subprocess.run([*git, "commit", "-qm", "clean"], check=True)
    ran = nbformat.read(target, as_version=4)
    code = next(c for c in ran.cells if c.cell_type == "code")
    code.outputs = [nbformat.v4.new_output("stream", name="stdout", text="a review session\n")]
    code.execution_count = 7
    ran.metadata["language_info"] = {"name": "python", "version": "3.11.7"}  # what Lab writes on save
    nbformat.write(ran, target)
    assert subprocess.run([*git, "diff", "--quiet"]).returncode == 0, "git diff shows no change"
    subprocess.run([*git, "add", "-A"], check=True)
    staged = subprocess.run(
        [*git, "show", ":notebooks/02-logical-model.ipynb"], capture_output=True, text=True
    )
    assert "a review session" not in staged.stdout and '"execution_count": 7' not in staged.stdout
    status = subprocess.run([*git, "status", "--porcelain"], capture_output=True, text=True, check=True)
    assert status.stdout == "", "after git add there is nothing to commit"
    assert "a review session" in target.read_text(), "the reviewer's outputs stay in their file"


def test_long_outputs_fold_in_lab_and_stay_whole_in_the_document():
    rows = [[i, f"row {i}"] for i in range(300)]
    long = Markdown(md_table(["n", "text"], rows))
    html = long._repr_html_()
    assert html.startswith('<details class="tex2jax_ignore"><summary>300 rows')
    assert "max-height" in html and html.count("<tr>") == 301
    assert long._repr_markdown_().count("\n") == 302, "the document keeps every row"
    short = Markdown(md_table(["n"], [[1]]))
    assert short._repr_html_() is None, "short outputs render as markdown in Lab"
    assert Markdown("x\n" * (FOLD_LINES + 5), fold=False)._repr_html_() is None


def test_ddl_listing_folds_each_migration():
    from workbook import migrate

    files = migrate.discover()
    listing = nb.ddl_listing(files)
    assert listing.text.count("<details><summary><code>V00") == len(files)
    assert f"<summary>{len(files)} migrations: click to show</summary>" in listing._repr_html_()


def test_er_drawing_scrolls_in_its_own_box(duck_catalog):
    svg = render.er_svg_display(duck_catalog)
    html = svg._repr_html_()
    assert html.startswith('<div style="max-width: 100%; max-height: 48em; overflow: auto"><svg')
    assert "<?xml" not in html and svg._repr_svg_().startswith("<?xml")


def test_mermaid_for_notebooks_leaves_comments_to_the_reference_tables(duck_catalog):
    lines = nb.mermaid(duck_catalog).text.splitlines()
    assert lines[:2] == ["```mermaid", "erDiagram"]
    attributes = [line for line in lines if line.startswith("        ")]
    assert attributes and not any('"' in line for line in attributes), "no comment strings in the entities"
    assert any('"Surrogate key' in line for line in render.mermaid_er(duck_catalog).splitlines())


@pytest.mark.parametrize(
    "text, want",
    [
        (
            "json_exists(x, '$.key') and json_extract(x, '$.key')",
            "json_exists(x, '`$`.key') and json_extract(x, '`$`.key')",
        ),
        ("`'$.key'` stays", "`'$.key'` stays"),
        ("a ``x`$`` b $", "a ``x`$`` b `$`"),
        ("no dollars", "no dollars"),
    ],
)
def test_dollars_outside_code_are_not_math(text, want):
    assert escape_math(text) == want
    assert escape_math(want) == want, "escaping twice changes nothing"
