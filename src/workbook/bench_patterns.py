"""What the audit trigger costs: single-row updates per second on PostgreSQL, with and without it.

`make bench-patterns` prints JSON: the median rate of each, over interleaved rounds on the same table
(the trigger is disabled for the "without" rounds), and their ratio. Each update is its own
transaction, as an application's would be. Timings vary by machine and load, so they stay out of
the design document; quote the ratio from one run.
"""

from __future__ import annotations

import json
import statistics
import sys
import time

from . import migrate
from .design import WORKBOOK_ACTOR
from .engines import connect


def measure(rows: int = 1000, updates: int = 2000, rounds: int = 5) -> dict:
    """Updates per second with the audit trigger and without it, interleaved `rounds` times."""
    with connect("postgres") as db:
        migrate.migrate(db)
        db.set_session_actor(WORKBOOK_ACTOR)
        db.execute(
            "INSERT INTO users (email, name) SELECT 'user' || g || '@example.com', 'User ' || g "
            "FROM generate_series(1, ?) AS g",
            [rows],
        )
        ids = [r[0] for r in db.fetchall("SELECT id FROM users ORDER BY email")]
        rates: dict[str, list[float]] = {"with_audit_trigger": [], "without_audit_trigger": []}
        for r in range(rounds):
            for mode in ("with_audit_trigger", "without_audit_trigger"):
                action = "ENABLE" if mode == "with_audit_trigger" else "DISABLE"
                db.execute(f"ALTER TABLE users {action} TRIGGER trg_users_audit")
                start = time.perf_counter()
                for i in range(updates):
                    db.con.execute(
                        "UPDATE users SET name = %s WHERE id = %s",
                        (f"Name {r}-{i}", ids[i % rows]),
                        prepare=True,
                    )
                rates[mode].append(updates / (time.perf_counter() - start))
        db.execute("ALTER TABLE users ENABLE TRIGGER trg_users_audit")
        audit_rows = db.scalar("SELECT count(*) FROM audit_log WHERE operation = 'UPDATE'")
    with_, without = (statistics.median(rates[m]) for m in ("with_audit_trigger", "without_audit_trigger"))
    return {
        "updates_per_round": updates,
        "rounds": rounds,
        "with_audit_trigger_per_s": round(with_),
        "without_audit_trigger_per_s": round(without),
        "slowdown_ratio": round(without / with_, 2),
        "audit_rows_written": audit_rows,
        "rates_per_s": {m: [round(x) for x in v] for m, v in rates.items()},
    }


if __name__ == "__main__":
    print(json.dumps(measure(*(int(a) for a in sys.argv[1:4])), indent=2))
