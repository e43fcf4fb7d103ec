"""What `workbook baseline` checks first: the database really has the schema at the version it names.

A scratch database on the same engine (PostgreSQL: a throwaway schema on the same server) is
migrated up to that version; every object of both, the ledger's own tables left out, is compared.
"""

from __future__ import annotations

import os

from . import migrate
from .engines import DuckDBEngine, Engine, PostgresEngine
from .faults import difference, snapshot

_OWN = (migrate.LEDGER, migrate.REPAIRS)


def _without_ledger(snap: tuple) -> tuple:
    return tuple(r for r in snap if r[0] != "ledger" and not any(t in r[1] for t in _OWN))


def differs_from_schema(engine: Engine, version: str, directory=None) -> str | None:  # noqa: ANN001
    """The first difference between `engine` and the schema at `version` (None: the same)."""
    if engine.name == "postgres":
        scratch: Engine = PostgresEngine(engine.dsn, schema=f"workbook_baseline_{os.getpid()}")
    else:
        scratch = DuckDBEngine()
    try:
        for mig in migrate.discover(directory or migrate.default_directory()):
            if int(mig.version) > int(version):
                break
            migrate.apply(scratch, mig)
        want = _without_ledger(snapshot(scratch))
    finally:
        scratch.close()
    have = _without_ledger(snapshot(engine))
    return None if have == want else difference(want, have)
