"""The PostgreSQL loader: its binary COPY encoder against PostgreSQL's own parsing, and loads that fail half-way."""

from __future__ import annotations

import json
import tempfile
import threading
import uuid
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from hypothesis import given
from hypothesis import strategies as st

from workbook import migrate, synth
from workbook.catalog import read_catalog
from workbook.engines import connect
from workbook.errors import WorkbookError
from workbook.synth import postgres_load as pgl

I64_MAX = 2**63 - 1
I32_MAX = 2**31 - 1
PG_MIN_US = -210_866_803_200_000_000  # 4714-11-24 00:00:00 BC, PostgreSQL's first timestamp, in Unix µs
PG_MIN_DAYS = -2_440_588  # 4714-11-24 BC in days since 1970-01-01
PG_MAX_DAYS = 2_145_042_905  # 5874897-12-31, PostgreSQL's last date


def _uuids(values: list[bytes | None]) -> pa.Array:
    return pa.ExtensionArray.from_storage(pa.uuid(), pa.array(values, pa.binary(16)))


def _json(values: list[str | None]) -> pa.Array:
    return pa.ExtensionArray.from_storage(pa.json_(), pa.array(values, pa.string()))


def _ts(values: list[int | None], unit: str = "us", tz: str | None = "UTC") -> pa.Array:
    return pa.array(values, pa.int64()).cast(pa.timestamp(unit, tz=tz))


U1, U2 = uuid.UUID("00000000-0000-0000-0000-000000000001"), uuid.UUID("1e2d3c4b-5a69-4788-97a6-b5c4d3e2f100")
UMAX = uuid.UUID("ffffffff-ffff-ffff-ffff-ffffffffffff")
TEXTS = ["Zoë – ünïcode ✓", "", 'a\nb,"c"\\\t;', "😀" * 3 + "x" * 5000, None, "NULL", "\u00a0", None]

# column: (PostgreSQL type, Arrow array, the same eight values as PostgreSQL text literals; None is NULL)
COLUMNS: dict[str, tuple[str, pa.Array, list[str | None]]] = {
    "u": (
        "uuid",
        _uuids([U1.bytes, UMAX.bytes, None, U2.bytes, None, U1.bytes, U2.bytes, UMAX.bytes]),
        [str(U1), str(UMAX), None, str(U2), None, str(U1), str(U2), str(UMAX)],
    ),
    "t": ("text", pa.array(TEXTS, pa.string()), TEXTS),
    "t_dict": ("text", pa.array(TEXTS, pa.string()).dictionary_encode(), TEXTS),
    "t_large": ("text", pa.array(TEXTS, pa.large_string()), TEXTS),
    "vc": (
        "character varying(8)",
        pa.array(["abc", None, "ünï", "", "12345678", None, "é", "z"]),
        ["abc", None, "ünï", "", "12345678", None, "é", "z"],
    ),
    "j": (
        "json",
        _json(['{"a": [1, "é"]}', "[]", ' {"kept":  "as typed"} ', None, "null", '"x"', "1e400", None]),
        ['{"a": [1, "é"]}', "[]", ' {"kept":  "as typed"} ', None, "null", '"x"', "1e400", None],
    ),
    "jb": (
        "jsonb",
        _json(['{"b": 1, "a": [1, "é"]}', "null", '"x"', None, "{}", "[1, 2.5e3]", '{"k": "✓"}', None]),
        ['{"b": 1, "a": [1, "é"]}', "null", '"x"', None, "{}", "[1, 2.5e3]", '{"k": "✓"}', None],
    ),
    "jb_nonull": (
        "jsonb",
        pa.array(["{}", "[]", "1", '"é"', "true", "null", '{"a": {"b": []}}', "0"]),
        ["{}", "[]", "1", '"é"', "true", "null", '{"a": {"b": []}}', "0"],
    ),
    "ts": (
        "timestamp with time zone",
        _ts([PG_MIN_US, -1, 946_684_799_999_999, 946_684_800_000_000, I64_MAX - 1, None, I64_MAX, -I64_MAX]),
        [
            "4714-11-24 00:00:00+00 BC",
            "1969-12-31 23:59:59.999999+00",
            "1999-12-31 23:59:59.999999+00",
            "2000-01-01 00:00:00+00",
            "294247-01-10 04:00:54.775806+00",
            None,
            "infinity",
            "-infinity",
        ],
    ),
    "ts_ms": (
        "timestamp with time zone",
        _ts([0, -1, 1_700_000_000_123, None, 86_400_000, 1, -86_400_001, None], unit="ms"),
        [
            "1970-01-01 00:00:00+00",
            "1969-12-31 23:59:59.999+00",
            "2023-11-14 22:13:20.123+00",
            None,
            "1970-01-02 00:00:00+00",
            "1970-01-01 00:00:00.001+00",
            "1969-12-30 23:59:59.999+00",
            None,
        ],
    ),
    "tsn": (
        "timestamp without time zone",
        _ts([PG_MIN_US, 0, None, 946_684_800_000_001, I64_MAX, -I64_MAX, 1, None], tz=None),
        [
            "4714-11-24 00:00:00 BC",
            "1970-01-01 00:00:00",
            None,
            "2000-01-01 00:00:00.000001",
            "infinity",
            "-infinity",
            "1970-01-01 00:00:00.000001",
            None,
        ],
    ),
    "d": (
        "date",
        pa.array([PG_MIN_DAYS, -1, 10_956, 10_957, PG_MAX_DAYS, I32_MAX, -I32_MAX, None], pa.int32()).cast(
            pa.date32()
        ),
        [
            "4714-11-24 BC",
            "1969-12-31",
            "1999-12-31",
            "2000-01-01",
            "5874897-12-31",
            "infinity",
            "-infinity",
            None,
        ],
    ),
    "b": (
        "boolean",
        pa.array([True, False, None, True, False, None, True, True]),
        ["true", "false", None, "true", "false", None, "true", "true"],
    ),
    "i2": (
        "smallint",
        pa.array([-32768, 32767, 0, None, -1, 1, None, 7], pa.int16()),
        ["-32768", "32767", "0", None, "-1", "1", None, "7"],
    ),
    "i2_from_i64": (
        "smallint",
        pa.array([-32768, 32767, None, 0, 1, 2, 3, 4], pa.int64()),
        ["-32768", "32767", None, "0", "1", "2", "3", "4"],
    ),
    "i4": (
        "integer",
        pa.array([-(2**31), I32_MAX, 0, None, -1, 1, None, 42], pa.int32()),
        [str(-(2**31)), str(I32_MAX), "0", None, "-1", "1", None, "42"],
    ),
    "i4_from_u16": (
        "integer",
        pa.array([65535, 0, None, 1, 2, 3, 4, 5], pa.uint16()),
        ["65535", "0", None, "1", "2", "3", "4", "5"],
    ),
    "i8": (
        "bigint",
        pa.array([-(2**63), I64_MAX, 0, None, -1, 1, None, 2**40], pa.int64()),
        [str(-(2**63)), str(I64_MAX), "0", None, "-1", "1", None, str(2**40)],
    ),
    "f4": (
        "real",
        pa.array([3.4028235e38, -1.5, np.nan, np.inf, -np.inf, 1e-45, None, 0.0], pa.float32()),
        ["3.4028235e+38", "-1.5", "NaN", "Infinity", "-Infinity", "1e-45", None, "0"],
    ),
    "f4_from_f8": (
        "real",
        pa.array([1.5, None, np.nan, -np.inf, 0.25, -0.0, 3.0e38, 1.0], pa.float64()),
        ["1.5", None, "NaN", "-Infinity", "0.25", "-0", "3e+38", "1"],
    ),
    "f8": (
        "double precision",
        pa.array([1.7976931348623157e308, 5e-324, np.nan, np.inf, -np.inf, -0.0, None, 0.1], pa.float64()),
        ["1.7976931348623157e+308", "5e-324", "NaN", "Infinity", "-Infinity", "-0", None, "0.1"],
    ),
}


def _tables(db, columns: dict) -> None:  # noqa: ANN001
    """Two tables of the given columns: one filled by binary COPY, one by PostgreSQL's text input."""
    ddl = ", ".join(f'"{c}" {t}' for c, (t, _, _) in columns.items())
    db.execute(f"CREATE TABLE bin (k integer, {ddl})")
    db.execute(f"CREATE TABLE ref (k integer, {ddl})")


def _copy(db, table: str, batches, types: list[str], names: list[str]) -> None:  # noqa: ANN001
    cols = ", ".join(f'"{n}"' for n in names)
    with db.con.cursor().copy(f"COPY {table} ({cols}) FROM STDIN (FORMAT binary)") as copy:
        copy.write(pgl.COPY_HEADER)
        for batch in batches:
            copy.write(pgl.encode_batch(batch, types))
        copy.write(pgl.COPY_TRAILER)


def _reference(db, columns: dict, n: int) -> None:  # noqa: ANN001
    """The same rows inserted as text literals, parsed by PostgreSQL's own input functions."""
    names = list(columns)
    cols = ", ".join(f'"{c}"' for c in names)
    casts = ", ".join(f"?::{columns[c][0]}" for c in names)
    for k in range(n):
        db.execute(
            f"INSERT INTO ref (k, {cols}) VALUES (?, {casts})", [k, *[columns[c][2][k] for c in names]]
        )


def _rows(db, table: str) -> list[str]:  # noqa: ANN001
    return [r[0] for r in db.fetchall(f"SELECT t::text FROM {table} t ORDER BY k")]


def test_encoder_matches_postgres_parsing_of_every_type_nulls_and_extremes():
    """Every type, NULLs in every column, non-ASCII, bounds, infinities: the bytes mean what the text means."""
    n = 8
    table = pa.table({"k": pa.array(range(n), pa.int32()), **{c: arr for c, (_, arr, _) in COLUMNS.items()}})
    types = ["integer", *[t for t, _, _ in COLUMNS.values()]]
    with connect("postgres") as db:
        _tables(db, COLUMNS)
        _reference(db, COLUMNS, n)
        # Slices of three rows: Arrow arrays with an offset into their buffers.
        _copy(db, "bin", table.to_batches(max_chunksize=3), types, table.column_names)
        assert _rows(db, "bin") == _rows(db, "ref")
        nulls = db.fetchall(
            "SELECT " + ", ".join(f'count(*) FILTER (WHERE "{c}" IS NULL)' for c in COLUMNS) + " FROM bin"
        )[0]
        assert list(nulls) == [sum(v is None for v in lits) for _, _, lits in COLUMNS.values()]


def test_encoder_reads_parquet_dictionary_uuid_and_json_columns_as_generated(tmp_path):
    """Through a Parquet file (dictionary pages, the UUID and JSON logical types), batch by batch."""
    n = 8
    names = ["u", "t_dict", "j", "jb", "ts", "b", "i4"]
    table = pa.table({"k": pa.array(range(n), pa.int32()), **{c: COLUMNS[c][1] for c in names}})
    path = tmp_path / "t.parquet"
    pq.write_table(table, path, store_schema=True)
    read = pq.ParquetFile(path, read_dictionary=["t_dict"])
    assert pa.types.is_dictionary(read.schema_arrow.field("t_dict").type)
    chosen = {c: COLUMNS[c] for c in names}
    with connect("postgres") as db:
        _tables(db, chosen)
        _reference(db, chosen, n)
        types = ["integer", *[chosen[c][0] for c in names]]
        _copy(db, "bin", read.iter_batches(batch_size=3), types, ["k", *names])
        assert _rows(db, "bin") == _rows(db, "ref")


@pytest.mark.parametrize(
    "pg_type",
    [
        "uuid",
        "text",
        "jsonb",
        "json",
        "timestamp with time zone",
        "date",
        "boolean",
        "integer",
        "bigint",
        "real",
    ],
)
def test_a_column_of_nulls_only_encodes_for_every_type(pg_type):
    arrow = {
        "uuid": pa.uuid(),
        "text": pa.string(),
        "jsonb": pa.json_(),
        "json": pa.string(),
        "timestamp with time zone": pa.timestamp("us", tz="UTC"),
        "date": pa.date32(),
        "boolean": pa.bool_(),
        "integer": pa.int32(),
        "bigint": pa.int64(),
        "real": pa.float32(),
    }[pg_type]
    batch = pa.record_batch([pa.nulls(3, arrow), pa.array([1, 2, 3], pa.int32())], names=["x", "k"])
    with connect("postgres") as db:
        db.execute(f"CREATE TABLE t (x {pg_type}, k integer)")
        with db.con.cursor().copy("COPY t (x, k) FROM STDIN (FORMAT binary)") as copy:
            copy.write(pgl.COPY_HEADER)
            copy.write(pgl.encode_batch(batch, [pg_type, "integer"]))
            copy.write(pgl.COPY_TRAILER)
        assert db.fetchall("SELECT x IS NULL, k FROM t ORDER BY k") == [(True, 1), (True, 2), (True, 3)]


@pytest.fixture(scope="module")
def pg():
    with connect("postgres") as db:
        db.execute(
            "CREATE TABLE h (k integer, t text, j jsonb, ts timestamptz, n bigint, b boolean, f double precision)"
        )
        yield db


TYPES_H = ["integer", "text", "jsonb", "timestamp with time zone", "bigint", "boolean", "double precision"]
texts = st.text(st.characters(blacklist_characters="\x00", blacklist_categories=("Cs",)), max_size=40)
rows_h = st.lists(
    st.tuples(
        st.none() | texts,
        st.none() | st.dictionaries(texts, st.integers(-(2**53), 2**53) | texts, max_size=3),
        st.none() | st.integers(PG_MIN_US, I64_MAX - 1),
        st.none() | st.integers(-(2**63), I64_MAX),
        st.none() | st.booleans(),
        st.none() | st.floats(allow_nan=False),
    ),
    min_size=1,
    max_size=12,
)


@given(rows=rows_h)
def test_encoder_matches_postgres_parsing_of_drawn_values(pg, rows):
    """Drawn text, JSON, timestamps, integers, booleans and floats, NULLs among them, sent both ways."""
    pg.execute("TRUNCATE h")
    cols = list(zip(*rows, strict=True))
    batch = pa.record_batch(
        [
            pa.array(range(len(rows)), pa.int32()),
            pa.array(cols[0], pa.string()),
            _json([None if v is None else json.dumps(v, ensure_ascii=False) for v in cols[1]]),
            _ts(list(cols[2])),
            pa.array(cols[3], pa.int64()),
            pa.array(cols[4], pa.bool_()),
            pa.array(cols[5], pa.float64()),
        ],
        names=["k", "t", "j", "ts", "n", "b", "f"],
    )
    with pg.con.cursor().copy("COPY h FROM STDIN (FORMAT binary)") as copy:
        copy.write(pgl.COPY_HEADER)
        copy.write(pgl.encode_batch(batch, TYPES_H))
        copy.write(pgl.COPY_TRAILER)
    got = pg.fetchall(
        "SELECT t, j::text, (extract(epoch FROM ts) * 1000000)::bigint, n, b, f FROM h ORDER BY k"
    )
    for (t, j, ts, n, b, f), (t0, j0, ts0, n0, b0, f0) in zip(got, rows, strict=True):
        assert (t, ts, n, b, f) == (t0, ts0, n0, b0, f0)
        want = (
            None if j0 is None else pg.scalar("SELECT ?::jsonb::text", [json.dumps(j0, ensure_ascii=False)])
        )
        assert j == want


@pytest.mark.parametrize(
    ("array", "pg_type", "message"),
    [
        (
            pa.array([1, 2**31], pa.int64()),
            "integer",
            "value 2147483648 is out of range for PostgreSQL type integer",
        ),
        (
            pa.array([2**63], pa.uint64()),
            "bigint",
            "value 9223372036854775808 is out of range for PostgreSQL type bigint",
        ),
        (
            pa.array([-40000], pa.int32()),
            "smallint",
            "value -40000 is out of range for PostgreSQL type smallint",
        ),
        (pa.array([1e39], pa.float64()), "real", "out of range for PostgreSQL type real"),
        (pa.array([2**62], pa.int64()).cast(pa.timestamp("s")), "timestamp with time zone", "out of range"),
        (
            pa.array([-(2**63) + 2], pa.int64()).cast(pa.timestamp("us")),
            "timestamp with time zone",
            "out of range",
        ),
        (pa.array(["00000000-0000-0000-0000-000000000001"]), "uuid", "Arrow type string cannot be sent as"),
        (pa.array([1], pa.int32()), "text", "Arrow type int32 cannot be sent as PostgreSQL type text"),
        (pa.array([1.5]), "integer", "Arrow type double cannot be sent as PostgreSQL type integer"),
        (pa.array([1]), "numeric", "no binary COPY encoding for PostgreSQL type numeric"),
    ],
)
def test_encoder_refuses_what_the_type_cannot_hold(array, pg_type, message):
    batch = pa.record_batch([array], names=["x"])
    with pytest.raises(pgl.EncodeError, match=f"^column x: .*{message}"):
        pgl.encode_batch(batch, [pg_type])


def test_encoder_range_checks_ignore_what_sits_under_a_null():
    """A NULL slot may hold any bytes: only valid values are range-checked."""
    data = np.array([2**40, 5], np.int64)
    arr = pa.Array.from_buffers(pa.int64(), 2, [pa.py_buffer(np.array([0b10], np.uint8)), pa.py_buffer(data)])
    out = bytes(pgl.encode_batch(pa.record_batch([arr], names=["x"]), ["integer"]))
    assert out == b"\x00\x01\xff\xff\xff\xff" + b"\x00\x01\x00\x00\x00\x04\x00\x00\x00\x05"


# Loads that fail half-way -------------------------------------------------------------------------


@pytest.fixture(scope="module")
def generated(tmp_path_factory) -> tuple[Path, synth.Manifest]:
    out = tmp_path_factory.mktemp("pgload") / "sf"
    manifest, _ = synth.generate(0.005, 7, out)
    return out, manifest


def _largest(manifest: synth.Manifest) -> str:
    return max(manifest.rows, key=manifest.rows.get)


def _untouched(db, before) -> None:  # noqa: ANN001
    """Every table empty, every key, index and trigger as migrated, none left disabled."""
    assert {t: db.scalar(f"SELECT count(*) FROM {t}") for t in synth.LOAD_ORDER} == dict.fromkeys(
        synth.LOAD_ORDER, 0
    )
    assert read_catalog(db) == before
    assert (
        db.scalar(
            "SELECT count(*) FROM pg_trigger t JOIN pg_class c ON c.oid = t.tgrelid "
            "WHERE t.tgenabled = 'D' AND c.relnamespace = current_schema()::regnamespace"
        )
        == 0
    )


def _no_encoder_thread() -> bool:
    return not any(t.name == "workbook-copy-encoder" for t in threading.enumerate())


def test_load_that_fails_in_the_middle_of_copy_leaves_the_schema_as_migrated(generated):
    out, manifest = generated
    big = _largest(manifest)
    seen: list[tuple[str, int]] = []

    def progress(table: str, rows: int) -> None:
        seen.append((table, rows))
        if table == big:
            raise RuntimeError("stopped in the middle of COPY")

    with connect("postgres") as db:
        migrate.migrate(db)
        before = read_catalog(db)
        with pytest.raises(RuntimeError, match="stopped in the middle of COPY"):
            synth.load_postgres(db, out, progress=progress, batch_rows=500)
        assert seen[-1] == (big, 500) and len({t for t, _ in seen}) > 1, "earlier tables were COPYed first"
        _untouched(db, before)
        assert _no_encoder_thread()
        phases: dict[str, float] = {}
        counts = synth.load_postgres(db, out, timings=phases)  # the same schema still loads afterwards
        assert counts == {t: manifest.rows[t] for t in synth.LOAD_ORDER}
        assert {"verify", "prepare", "copy", "rebuild_keys_and_indexes", "analyze"} <= set(phases)


def test_load_whose_connection_is_killed_during_copy_leaves_nothing(generated):
    """The server ends the session half-way through the largest table: nothing of the load remains."""
    out, manifest = generated
    big = _largest(manifest)
    with connect("postgres") as db:
        migrate.migrate(db)
        before = read_catalog(db)
        other = db.sibling()
        try:
            pid = db.scalar("SELECT pg_backend_pid()")

            def progress(table: str, rows: int) -> None:
                if table == big:
                    other.execute("SELECT pg_terminate_backend(?)", [pid])

            with pytest.raises(WorkbookError, match=f"^COPY {big} from .* failed, nothing was loaded: "):
                synth.load_postgres(db, out, progress=progress, batch_rows=200)
            assert _no_encoder_thread()
            _untouched(other, before)
        finally:
            other.execute(f'DROP SCHEMA IF EXISTS "{db.schema}" CASCADE')
            other.close()


def test_value_the_column_cannot_hold_fails_mid_copy_naming_file_column_and_value(generated, tmp_path):
    out, _ = generated
    broken = tmp_path / "broken"
    broken.mkdir()
    for f in out.iterdir():
        (broken / f.name).write_bytes(f.read_bytes())
    path = broken / "patterns.parquet"
    table = pq.read_table(out / "patterns.parquet")
    counts = table.column("usage_count").to_numpy().astype(np.int64)
    counts[-1] = 2**31  # only in the last batch
    i = table.schema.get_field_index("usage_count")
    pq.write_table(table.set_column(i, "usage_count", pa.array(counts)), path)
    raw = json.loads((broken / "manifest.json").read_text())
    raw["sha256"]["patterns"] = synth.sha256(path)
    (broken / "manifest.json").write_text(json.dumps(raw))
    with connect("postgres") as db:
        migrate.migrate(db)
        before = read_catalog(db)
        with pytest.raises(WorkbookError) as info:
            synth.load_postgres(db, broken, batch_rows=50)
        assert str(info.value) == (
            f"COPY patterns from {path} failed, nothing was loaded: column usage_count: "
            "value 2147483648 is out of range for PostgreSQL type integer"
        )
        _untouched(db, before)


def test_column_of_a_type_the_encoder_cannot_send_is_refused_before_anything_runs(generated, tmp_path):
    out, _ = generated
    broken = tmp_path / "broken"
    broken.mkdir()
    for f in out.iterdir():
        (broken / f.name).write_bytes(f.read_bytes())
    path = broken / "users.parquet"
    table = pq.read_table(out / "users.parquet")
    i = table.schema.get_field_index("active")
    pq.write_table(table.set_column(i, "active", table.column("active").cast(pa.int8())), path)
    raw = json.loads((broken / "manifest.json").read_text())
    raw["sha256"]["users"] = synth.sha256(path)
    (broken / "manifest.json").write_text(json.dumps(raw))
    with connect("postgres") as db:
        migrate.migrate(db)
        with pytest.raises(
            WorkbookError, match=r"users.parquet: column active: Arrow type int8 cannot be sent"
        ):
            synth.load_postgres(db, broken)


# The plan around the COPYs ------------------------------------------------------------------------


def test_plan_validates_a_foreign_key_by_merge_only_where_a_full_index_leads_with_its_columns():
    with connect("postgres") as db:
        db.execute("CREATE TABLE p (id integer PRIMARY KEY, x integer, UNIQUE (id, x))")
        db.execute(
            "CREATE TABLE c (a integer REFERENCES p, b integer REFERENCES p, d integer REFERENCES p, "
            "e integer, f integer, CONSTRAINT fk_ef FOREIGN KEY (e, f) REFERENCES p (id, x), "
            "g integer, h integer, CONSTRAINT fk_gh FOREIGN KEY (g, h) REFERENCES p (id, x))"
        )
        db.execute("CREATE INDEX ON c (a, b)")  # leads with a: merge for a only
        db.execute("CREATE INDEX ON c (d) WHERE d > 0")  # partial: no
        db.execute("CREATE INDEX ON c (e, f, a)")  # leads with (e, f): merge
        db.execute("CREATE INDEX ON c (h, g)")  # the wrong order: no
        plan = pgl.LoadPlan.read(db, ["p", "c"])
        ordered = {name: merge for _, name, _, merge in plan.foreign_keys}
        assert ordered == {
            "c_a_fkey": True,
            "c_b_fkey": False,
            "c_d_fkey": False,
            "fk_ef": True,
            "fk_gh": False,
        }
        steps = [sql for _, sql in plan.after_copy()]
        off, on = (
            steps.index("SET LOCAL enable_hashjoin = off"),
            steps.index("SET LOCAL enable_hashjoin = on"),
        )
        merged = [s for s in steps[off:on] if "FOREIGN KEY" in s]
        assert len(merged) == 2 and all("c_a_fkey" in s or "fk_ef" in s for s in merged)
        assert max(i for i, s in enumerate(steps) if "INDEX" in s or "PRIMARY" in s) < off, "indexes first"
        assert steps[-2:] == ["ALTER TABLE p ENABLE TRIGGER USER", "ALTER TABLE c ENABLE TRIGGER USER"]


# The benchmark against psql -----------------------------------------------------------------------


def test_versus_psql_loads_identical_rows_reports_figures_and_cleans_up(tmp_path):
    from workbook import bench_pgload

    out = tmp_path / "sf"
    manifest, _ = synth.generate(0.002, 3, out)
    tmp = Path(tempfile.gettempdir())
    leftovers = set(tmp.glob("workbook-pgload-*"))
    with connect("postgres") as db:
        schemas = "SELECT count(*) FROM pg_namespace WHERE nspname LIKE 'workbook\\_%'"
        before = db.scalar(schemas)
        report = bench_pgload.versus_psql(out, pairs=1)
        assert db.scalar(schemas) == before, "every schema of the runs is dropped"
    assert set(tmp.glob("workbook-pgload-*")) == leftovers, "the CSV files are gone"
    json.dumps(report)
    assert report["rows"] == sum(manifest.rows.values())
    assert report["same_rows_checked"] == dict(manifest.rows)
    assert len(report["pairs"]) == 1 and set(report["pairs"][0]) == {
        "ours_s",
        "peer_s",
        "ratio_peer_over_ours",
    }
    assert report["session_settings"] == pgl.SESSION_SETTINGS
    assert {"copy", "rebuild_keys_and_indexes", "analyze"} <= set(report["ours"]["phases_s_median"])
    assert {"copy", "rebuild_keys_and_indexes", "analyze"} <= set(report["peer"]["phases_s_median"])
