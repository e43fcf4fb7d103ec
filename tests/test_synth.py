"""Synthetic data: deterministic, valid under every constraint of both engines, bad input refused."""

from __future__ import annotations

from pathlib import Path

import pytest

from workbook import migrate, synth
from workbook.cli import main
from workbook.engines import connect
from workbook.errors import WorkbookError
from workbook.synth import postgres_load as pgl

SF = 0.005


@pytest.fixture(scope="module")
def generated(tmp_path_factory) -> tuple[Path, synth.Manifest]:
    out = tmp_path_factory.mktemp("synth") / "sf"
    manifest, _ = synth.generate(SF, 42, out)
    return out, manifest


def test_manifest_lists_every_table_with_rows_and_real_checksums(generated):
    out, manifest = generated
    assert set(manifest.rows) == set(synth.TABLES)
    for table in synth.TABLES:
        assert manifest.sha256[table] == synth.sha256(out / f"{table}.parquet")
        assert manifest.rows[table] > 0
    assert manifest.rows["users"] == round(100_000 * SF)
    assert synth.read_manifest(out).sha256 == manifest.sha256
    assert not list(out.glob(".partial-*")), "no temporary files left behind"


def test_same_seed_same_bytes_other_seed_other_bytes(generated, tmp_path):
    _, manifest = generated
    again, _ = synth.generate(SF, 42, tmp_path / "again")
    other, _ = synth.generate(SF, 43, tmp_path / "other")
    assert again.sha256 == manifest.sha256
    assert all(other.sha256[t] != manifest.sha256[t] for t in synth.TABLES)


@pytest.mark.parametrize("engine", ["duckdb", "postgres"])
def test_every_constraint_holds_when_loaded(generated, engine):
    """Loaded with every constraint on (PostgreSQL re-validates every foreign key after COPY)."""
    out, manifest = generated
    with connect(engine) as db:
        migrate.migrate(db)
        loader = synth.load_duckdb if engine == "duckdb" else synth.load_postgres
        counts = loader(db, out)
        assert counts == {t: manifest.rows[t] for t in synth.LOAD_ORDER}
        assert db.scalar("SELECT count(*) - count(DISTINCT lower(email)) FROM users") == 0
        assert (
            db.scalar(
                "SELECT count(*) FROM projects p JOIN users u ON u.id = p.owner_id WHERE p.created_at < u.created_at"
            )
            == 0
        )
        assert (
            db.scalar(
                "SELECT count(*) FROM projects p JOIN templates t ON t.id = p.template_id WHERE p.created_at < t.created_at"
            )
            == 0
        )
        assert db.scalar("SELECT sum(usage_count) FROM patterns") == manifest.rows["pattern_applications"]
        with pytest.raises(WorkbookError, match="already holds data"):
            loader(db, out)


def test_postgres_load_is_all_or_nothing(generated, tmp_path):
    out, _ = generated
    broken = tmp_path / "broken"
    broken.mkdir()
    for f in out.iterdir():
        (broken / f.name).write_bytes(f.read_bytes())
    # A pattern application whose project does not exist: the FK rebuild after COPY must refuse it.
    import duckdb

    apps = broken / "pattern_applications.parquet"
    duckdb.sql(f"""COPY (SELECT * REPLACE (CASE WHEN row_number() OVER () = 1
                   THEN '00000000-0000-0000-0000-00000000dead'::UUID ELSE project_id END AS project_id)
                   FROM read_parquet('{out / "pattern_applications.parquet"}')) TO '{apps}' (FORMAT parquet)""")
    # Recorded in the manifest, so the sha256 check passes and the database itself must refuse the row.
    import json

    raw = json.loads((broken / "manifest.json").read_text())
    raw["sha256"]["pattern_applications"] = synth.sha256(apps)
    (broken / "manifest.json").write_text(json.dumps(raw))
    with connect("postgres") as db:
        migrate.migrate(db)
        with pytest.raises(
            WorkbookError, match="validating foreign key fk_pattern_applications_project_id_projects failed"
        ):
            synth.load_postgres(db, broken)
        assert {t: db.scalar(f"SELECT count(*) FROM {t}") for t in synth.LOAD_ORDER} == dict.fromkeys(
            synth.LOAD_ORDER, 0
        )
        assert (
            db.scalar(
                "SELECT count(*) FROM pg_indexes WHERE indexname = 'ix_templates_search' "
                "AND schemaname = current_schema()"
            )
            == 1
        )


@pytest.mark.parametrize("sf", ["0", "-1", "abc", "nan", "inf"])
def test_bad_scale_factor(sf, capsys):
    assert main(["data", "generate", f"--sf={sf}"]) == 1
    assert f"SF={sf}" in capsys.readouterr().err


@pytest.mark.parametrize("seed", ["1.5", "x", "-3"])
def test_bad_seed(seed, capsys):
    assert main(["data", "generate", "--sf=0.001", f"--seed={seed}"]) == 1
    assert f"SEED={seed}" in capsys.readouterr().err


def test_folder_that_cannot_be_created(tmp_path, capsys):
    blocker = tmp_path / "file"
    blocker.write_text("not a folder")
    assert main(["data", "generate", "--sf=0.001", "--out", str(blocker / "sub")]) == 1
    err = capsys.readouterr().err.splitlines()
    assert err[-1].startswith("workbook: error: ") and "not writable" in err[-1]


def test_failed_generation_leaves_no_partial_files(tmp_path):
    """A table that fails half-way (after others were written) leaves the folder as it was."""
    import dataclasses

    import pyarrow as pa

    from workbook.synth.columns import Column

    out = tmp_path / "out"

    class Broken(type(synth.SPEC)):
        def plan(self, sf, seed):
            for table in super().plan(sf, seed):
                if table.name == "patterns":
                    table.columns["name"] = Column(
                        "text", lambda rows: pa.array([1]).cast(pa.string()).take([len(rows)])
                    )
                yield table

    with pytest.raises(WorkbookError, match="generating the data failed"):
        synth.generate(
            0.001,
            1,
            out,
            spec=Broken(**{f.name: getattr(synth.SPEC, f.name) for f in dataclasses.fields(synth.SPEC)}),
        )
    assert list(out.iterdir()) == []


def test_cli_generate_and_load(tmp_path, capsys):
    out = tmp_path / "cli"
    assert main(["data", "generate", "--sf=0.001", "--seed=5", "--out", str(out)]) == 0
    db = tmp_path / "x.duckdb"
    assert main(["data", "load", "--database", str(db), "--from", str(out)]) == 0
    assert "loaded" in capsys.readouterr().out
    assert main(["data", "load", "--database", str(db), "--from", str(out)]) == 1


def test_postgres_load_restores_every_key_index_and_trigger(generated):
    """The loader drops keys and indexes for speed; afterwards the catalog is exactly as migrated."""
    from workbook.catalog import read_catalog

    out, _ = generated
    with connect("postgres") as db:
        migrate.migrate(db)
        before = read_catalog(db)
        synth.load_postgres(db, out)
        assert read_catalog(db) == before
        assert (
            db.scalar(
                "SELECT count(*) FROM pg_trigger t JOIN pg_class c ON c.oid = t.tgrelid "
                "WHERE t.tgenabled = 'D' AND c.relnamespace = current_schema()::regnamespace"
            )
            == 0
        )


def test_binary_copy_encoding_round_trips_every_type(tmp_path):
    """Each type the loader encodes for PostgreSQL's binary COPY comes back equal, NULLs and non-ASCII included."""
    import duckdb
    import pyarrow.parquet as pq

    path = tmp_path / "t.parquet"
    duckdb.sql(f"""COPY (SELECT * FROM (VALUES
        ('00000000-0000-0000-0000-000000000001'::UUID, 'Zoë – ünïcode ✓', '{{"a": [1, "é"]}}'::JSON,
         TIMESTAMPTZ '1999-12-31 23:59:59.999999+00', -2147483648, true),
        (NULL, NULL, NULL, NULL, NULL, NULL),
        ('ffffffff-ffff-ffff-ffff-ffffffffffff'::UUID, '', '[]'::JSON, TIMESTAMPTZ '2025-06-01 12:00:00+00',
         2147483647, false)) AS v(u, t, j, ts, n, b)) TO '{path}' (FORMAT parquet)""")
    with connect("postgres") as db:
        db.execute("CREATE TABLE t (u uuid, t text, j jsonb, ts timestamptz, n integer, b boolean)")
        types = dict(
            db.fetchall(
                "SELECT attname, format_type(atttypid, atttypmod) FROM pg_attribute "
                "WHERE attrelid = 't'::regclass AND attnum > 0"
            )
        )
        with db.con.cursor().copy("COPY t (u, t, j, ts, n, b) FROM STDIN (FORMAT binary)") as copy:
            copy.write(pgl.COPY_HEADER)
            for batch in pq.ParquetFile(path).iter_batches(10):
                copy.write(pgl.encode_batch(batch, [types[c] for c in "u t j ts n b".split()]))
            copy.write(pgl.COPY_TRAILER)
        got = db.fetchall(
            "SELECT u::text, t, j::text, ts = TIMESTAMPTZ '1999-12-31 23:59:59.999999+00', n, b FROM t"
        )
    assert got[0] == (
        "00000000-0000-0000-0000-000000000001",
        "Zoë – ünïcode ✓",
        '{"a": [1, "é"]}',
        True,
        -2147483648,
        True,
    )
    assert got[1] == (None, None, None, None, None, None)
    assert (
        got[2][0] == "ffffffff-ffff-ffff-ffff-ffffffffffff"
        and got[2][1:3] == ("", "[]")
        and got[2][4:] == (2147483647, False)
    )


DISK_FULL = """
set -e
mount -t tmpfs -o size=3m tmpfs "$1"
{python} -m workbook data generate --sf=0.001 --seed=1 --out "$1/out"
{python} -m workbook data generate --sf=0.05 --seed=2 --out "$1/out" && exit 99 || true
{python} -c "from workbook import synth; m = synth.read_manifest('$1/out'); print('still', m.seed, m.sf)"
ls -A "$1/out"
"""


def test_a_disk_that_fills_up_leaves_the_previous_run_in_place(tmp_path):
    """A real full disk: a 3 MiB tmpfs (mounted in a private user and mount namespace)."""
    import shutil
    import subprocess
    import sys

    if not shutil.which("unshare") or subprocess.run(["unshare", "-rm", "true"]).returncode != 0:
        pytest.skip("this machine cannot make a private mount namespace (unshare -rm)")
    script = DISK_FULL.format(python=sys.executable)
    done = subprocess.run(
        ["unshare", "-rm", "sh", "-c", script, "sh", str(tmp_path)],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 0, (done.stdout, done.stderr)
    lines = [ln for ln in done.stderr.splitlines() if ln.startswith("workbook: error:")]
    assert lines == [
        f"workbook: error: {tmp_path}/out: the disk filled up while writing; nothing was replaced"
    ]
    assert "still 1 0.001" in done.stdout
    assert ".partial-" not in done.stdout, "the work folder is removed"
