"""The benchmark's peers write the same tables as ours, validly and reproducibly; dbgen runs offline."""

from __future__ import annotations

import hashlib
from pathlib import Path

import duckdb
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from workbook import bench_peers, synth

SF = 0.002  # 200 users, 2,000 projects
SEED = 7
GENERATORS = {
    "ours": bench_peers.ours_users_projects,
    "faker": bench_peers.faker_users_projects,
    "mimesis": bench_peers.mimesis_users_projects,
}


@pytest.fixture(scope="module")
def written(tmp_path_factory: pytest.TempPathFactory) -> dict[str, tuple[Path, dict]]:
    """Each generator's users and projects at SF, in a folder of its own, with its figures."""
    root = tmp_path_factory.mktemp("peers")
    return {name: (root / name, gen(SF, SEED, root / name)) for name, gen in GENERATORS.items()}


def _arrow(path: Path) -> list[tuple[str, pa.DataType, bool]]:
    """Column names, Arrow types (a dictionary of strings is its strings) and nullability of a file."""
    fields = pq.read_schema(path)
    return [
        (f.name, f.type.value_type if pa.types.is_dictionary(f.type) else f.type, f.nullable) for f in fields
    ]


def _duck(path: Path) -> list[tuple[str, str]]:
    return [(r[0], r[1]) for r in duckdb.sql(f"DESCRIBE SELECT * FROM read_parquet('{path}')").fetchall()]


@pytest.mark.parametrize("table", ["users", "projects"])
def test_same_columns_and_types(written: dict, table: str) -> None:
    """Every generator writes the same column names, Arrow and DuckDB types as ours."""
    ours = written["ours"][0] / f"{table}.parquet"
    for name in ("faker", "mimesis"):
        theirs = written[name][0] / f"{table}.parquet"
        assert _arrow(theirs) == _arrow(ours), name
        assert _duck(theirs) == _duck(ours), name


def test_same_row_counts(written: dict) -> None:
    """The same rows per table on every side, as the figures report and the files hold."""
    expected = {"users": synth.Sizes.at(SF).users, "projects": synth.Sizes.at(SF).projects}
    for name, (folder, figures) in written.items():
        assert figures["tables"] == expected, name
        assert figures["rows"] == sum(expected.values())
        for table, rows in expected.items():
            assert pq.read_metadata(folder / f"{table}.parquet").num_rows == rows, (name, table)


def test_no_violations(written: dict) -> None:
    """Unique lower(email), existing owners and ordered times hold on every side."""
    for name, (folder, _) in written.items():
        check = bench_peers.check_users_projects(folder)
        assert bench_peers.violations(check) == 0, (name, check)
        assert 0.2 < check["description_null_share"] < 0.4, name


def test_check_finds_violations(tmp_path: Path, written: dict) -> None:
    """The check is not vacuous: a duplicated email in other case and an orphan owner are counted."""
    folder = written["faker"][0]
    users = pq.read_table(folder / "users.parquet")
    emails = users.column("email").to_pylist()
    emails[1] = emails[0].upper()
    users = users.set_column(1, users.schema.field("email"), pa.array(emails))
    pq.write_table(users.slice(1), tmp_path / "users.parquet")  # user 0 gone: their projects are orphans
    pq.write_table(pq.read_table(folder / "projects.parquet"), tmp_path / "projects.parquet")
    check = bench_peers.check_users_projects(tmp_path)
    assert check["missing_owner"] > 0
    pq.write_table(users, tmp_path / "users.parquet")
    assert bench_peers.check_users_projects(tmp_path)["duplicate_lower_email"] == 1


@pytest.mark.parametrize("name", ["faker", "mimesis"])
def test_peers_reproducible(tmp_path: Path, written: dict, name: str) -> None:
    """A peer seeded the same writes the same rows again."""
    GENERATORS[name](SF, SEED, tmp_path)
    for table in ("users", "projects"):
        again = pq.read_table(tmp_path / f"{table}.parquet")
        assert again.equals(pq.read_table(written[name][0] / f"{table}.parquet")), table


def test_ours_is_the_generator(tmp_path: Path, written: dict) -> None:
    """Ours writes byte for byte the users and projects files that `synth.generate` writes."""
    manifest, _ = synth.generate(SF, SEED, tmp_path)
    for table in ("users", "projects"):
        data = (written["ours"][0] / f"{table}.parquet").read_bytes()
        assert hashlib.sha256(data).hexdigest() == manifest.sha256[table], table


def test_tpch_dbgen_offline(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """dbgen runs with an empty DuckDB home (nothing installed, nothing to fetch) and makes rows."""
    monkeypatch.setenv("HOME", str(tmp_path))
    result = bench_peers.tpch_dbgen(0.01)
    assert result["rows"] > 0
    assert set(result["tables"]) >= {"lineitem", "orders", "customer", "part"}
    assert not (tmp_path / ".duckdb").exists()
