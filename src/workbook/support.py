"""Engine support, from what ran: each promise of a pattern checked on each engine.

A promise kept by plain SQL is native; kept only through the write API, emulated by it; kept by
neither, not available. The capabilities and the story they run on come from the design.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from . import migrate
from .engines import Engine, connect
from .writes import Writer

NATIVE, EMULATED, MISSING = "native", "emulated (write API)", "not available"


class _Rollback(Exception):
    """Raised to roll a plain-SQL check back."""


def _raw(db: Engine, check: Callable[[Engine, dict], bool], ids: dict) -> bool:
    result = False
    try:
        with db.transaction():
            try:
                result = bool(check(db, ids))
            except Exception:  # noqa: BLE001 - the engine could not do it
                result = False
            raise _Rollback
    except _Rollback:
        pass
    except Exception:  # noqa: BLE001 - a rollback of an aborted transaction
        pass
    return result


@dataclass(frozen=True)
class Support:
    """One promise and what each engine did with it."""

    pattern: str
    promise: str
    status: dict[str, str]


def evaluate(
    capabilities: list,
    setup: Callable[[Writer], dict],
    actor: str,
    engines: tuple[str, ...] = ("postgres", "duckdb"),
) -> list[Support]:
    """Run every capability on a fresh database of each engine, after `setup` wrote its story."""
    found: dict[str, list[str]] = {}
    for engine in engines:
        with connect(engine) as db:
            migrate.migrate(db)
            w = Writer(db, actor)
            ids = setup(w)
            db.set_session_actor(actor)  # plain SQL on PostgreSQL acts as the same actor
            for cap in capabilities:
                if _raw(db, cap.raw, ids):
                    status = NATIVE
                elif cap.api is not None and cap.api(w, db, ids):
                    status = EMULATED
                else:
                    status = MISSING
                found.setdefault(cap.promise, []).append(status)
    return [
        Support(c.pattern, c.promise, dict(zip(engines, found[c.promise], strict=True))) for c in capabilities
    ]
