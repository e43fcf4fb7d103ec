"""The generated data's shape: independent where the design means it, the declared laws where it means them.

Every value is a pure function of (seed, scale factor), so these tests are deterministic: a seed
either has the shape or not. They were written against the previous generator, which combined
DuckDB hashes with XOR, and fail on its data (owner x template chi-square 44,291 on 9 degrees of
freedom at SF 0.1); see `test_a_generator_with_correlated_draws_fails_the_checks` for the same
defect planted in today's generator.
"""

from __future__ import annotations

import dataclasses
import uuid

import duckdb
import numpy as np
import pyarrow.parquet as pq
import pytest

from workbook import synth
from workbook.design import synthetic
from workbook.design.synthetic import SPEC
from workbook.synth import shape
from workbook.synth.streams import Streams, stream_key, zipf_rank

N = 200_000
ALPHA = 1e-4  # the chance an independent pair looks this dependent; outcomes are fixed per seed


def joint_p(a: np.ndarray, b: np.ndarray, bins: int = 16) -> float:
    """p-value of a chi-square test of independence of two uniform draws binned bins x bins."""
    cells = np.histogram2d(a, b, bins=bins, range=[[0, 1], [0, 1]])[0]
    return shape.chi_square([(i, j, int(cells[i, j])) for i in range(bins) for j in range(bins)])[2]


PAIRS = [
    (("projects", "owner_id"), ("projects", "template_id")),  # the pair the old generator locked together
    (("users", "created_at"), ("users", "active")),
    (("templates", "category"), ("templates", "published")),
    (("templates", "tech"), ("templates", "published")),
    (("projects", "id.hi"), ("projects", "id.lo")),
    (("users", "id"), ("projects", "id")),  # same column name, other table
]


@pytest.mark.parametrize("seed", [0, 42])
@pytest.mark.parametrize(("a", "b"), PAIRS, ids=lambda x: ".".join(x))
def test_streams_of_one_row_are_pairwise_independent(seed, a, b):
    rows = np.arange(N)
    s = Streams(seed)
    ua, ub = s.unit(*a, rows), s.unit(*b, rows)
    assert joint_p(ua, ub) >= ALPHA
    assert abs(np.corrcoef(ua, ub)[0, 1]) < 4 / np.sqrt(N)  # four standard errors of r under independence
    # and each is uniform on its own
    counts = np.histogram(ua, bins=64, range=(0, 1))[0]
    assert (
        shape.chi_square(
            [(0, k, int(n)) for k, n in enumerate(counts)] + [(1, k, N // 64) for k in range(64)]
        )[2]
        >= ALPHA
    )


def test_the_same_stream_of_two_seeds_is_independent():
    rows = np.arange(N)
    assert (
        joint_p(Streams(1).unit("projects", "owner_id", rows), Streams(2).unit("projects", "owner_id", rows))
        >= ALPHA
    )


def test_the_old_construction_is_caught_by_the_same_test():
    """hash(i, seed, tag) combined per argument with XOR: the two draws differ by a constant."""
    con = duckdb.connect()
    a, b = (
        np.array(
            con.execute(
                f"SELECT hash(i, 42, '{tag}') / 18446744073709551616.0 FROM range({N}) r(i) ORDER BY i"
            ).fetchall()
        ).ravel()
        for tag in ("po", "pz")
    )
    assert joint_p(a, b) < ALPHA


def test_a_value_depends_only_on_its_row_not_on_the_chunk_it_is_drawn_in():
    s = Streams(7)
    rows = np.arange(300_000)
    whole = s.u64("t", "c", rows)
    shuffled = np.random.default_rng(0).permutation(rows)
    assert np.array_equal(s.u64("t", "c", shuffled), whole[shuffled])
    assert np.array_equal(s.u64("t", "c", rows[123_456:123_460]), whole[123_456:123_460])
    k1, g1 = stream_key(7, "t", "c")
    k2, g2 = stream_key(7, "t", "d")
    assert k1 != k2 and g1 != g2 and int(g1) % 2 == 1


def test_ids_are_version_4_uuids():
    raw = Streams(3).uuid4("users", "id", np.arange(1000))
    ids = [uuid.UUID(bytes=r.tobytes()) for r in raw]
    assert {u.version for u in ids} == {4} and {u.variant for u in ids} == {uuid.RFC_4122}
    assert len(set(ids)) == 1000


def test_zipf_ranks_follow_the_law():
    u = Streams(5).unit("x", "rank", np.arange(N))
    counts = np.bincount(zipf_rank(u, 1000, 1.0), minlength=1000)
    slope = np.polyfit(np.log(np.arange(1, 101)), np.log(counts[:100]), 1)[0]
    assert -1.15 < slope < -0.85


@pytest.fixture(scope="module")
def folders(tmp_path_factory):
    root = tmp_path_factory.mktemp("shape")
    out = {}
    for seed in (42, 1, 2):
        synth.generate(0.05, seed, root / f"seed{seed}")
        out[seed] = root / f"seed{seed}"
    return out


@pytest.mark.parametrize("seed", [42, 1, 2])
def test_generated_data_has_every_declared_shape(folders, seed):
    results = shape.evaluate(folders[seed], SPEC.checks, SPEC.tables)
    failed = [f"{r.check.name}: {r.detail}" for r in results if not r.passed]
    assert not failed, failed
    assert {r.kind for r in results} == {"Independent", "Within", "Holds"}


def test_rows_are_written_in_creation_order(folders):
    """Files hold rows in the order an application would have inserted them (time), as PostgreSQL stores them."""
    times = {
        "users": "created_at",
        "templates": "created_at",
        "template_versions": "created_at",
        "patterns": "created_at",
        "projects": "created_at",
        "pattern_applications": "applied_at",
        "audit_log": "changed_at",
    }
    for table, column in times.items():
        t = pq.read_table(folders[42] / f"{table}.parquet", columns=[column]).column(0).to_numpy()
        assert (np.diff(t.astype("int64")) >= 0).all(), table


def test_a_generator_with_correlated_draws_fails_the_checks(tmp_path, monkeypatch):
    """The old defect planted again: the template draw reuses the owner's stream; the checks see it."""
    real = synthetic.Streams.unit

    def unit(self, table, column, rows):
        if (table, column) == ("projects", "template_id"):
            column = "owner_id"
        return real(self, table, column, rows)

    monkeypatch.setattr(synthetic.Streams, "unit", unit)
    synth.generate(0.05, 42, tmp_path / "bad")
    monkeypatch.undo()
    results = {r.check.name: r for r in shape.evaluate(tmp_path / "bad", SPEC.checks, SPEC.tables)}
    assert not results["owner activity × template popularity"].passed
    assert not results["heaviest owner's templates vs independence"].passed
    assert results["template category × published"].passed  # only what was broken fails


def test_a_published_share_per_category_is_a_stated_parameter(tmp_path):
    """published_share_by_category makes category and published dependent, and the check says so."""
    params = dataclasses.replace(synthetic.PARAMS, published_share_by_category={"frontend": 0.2})
    spec = dataclasses.replace(SPEC, params=params)
    synth.generate(0.05, 42, tmp_path / "skew", spec=spec)
    con = shape.on_folder(tmp_path / "skew", SPEC.tables)
    share = dict(con.execute("SELECT category, avg(published::INT) FROM templates GROUP BY 1").fetchall())
    assert share["frontend"] < 0.35 < 0.7 < share["backend"]
    check = next(c for c in SPEC.checks if c.name == "template category × published")
    assert not shape.evaluate_one(con, check).passed
