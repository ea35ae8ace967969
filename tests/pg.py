"""A throwaway PostgreSQL server for tests.

``PostgresServer`` runs ``initdb`` + ``pg_ctl`` from the local PostgreSQL install (Debian package
``postgresql``) into a fresh temporary directory, listens on ``127.0.0.1`` on a free port with
trust auth, and ``stop()`` kills it and deletes the directory. PostgreSQL refuses to run as root,
so when the tests run as root the server runs as the ``postgres`` system user and its directory
lives under the system temp dir (pytest's own temp tree is private to root).

Conftest files get one server per test session with::

    from pg import postgres_server  # noqa: F401
"""

from __future__ import annotations

import contextlib
import glob
import os
import pwd
import shutil
import socket
import subprocess
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

START_TIMEOUT_S = 60
_SOCKET_PATH_MAX = 100  # sun_path is 108 bytes; leave room for "/.s.PGSQL.NNNNN"
_PG_ENV_DROP = ("PGHOST", "PGPORT", "PGUSER", "PGDATABASE", "PGPASSWORD", "PGDATA", "PGOPTIONS")
PACKAGE_HINT = (
    "PostgreSQL server binaries (initdb, pg_ctl) not found; install the Debian package "
    "`postgresql` (apt-get install postgresql)"
)


def _version_key(path: str) -> tuple[int, ...]:
    # /usr/lib/postgresql/<version>/bin/pg_ctl
    version = Path(path).parent.parent.name
    return tuple(int(part) for part in version.split(".") if part.isdigit())


def find_pg_bin() -> Path | None:
    """The directory holding ``initdb`` and ``pg_ctl`` (highest Debian version first), or None."""
    candidates: list[Path] = [
        Path(p).parent
        for p in sorted(
            glob.glob("/usr/lib/postgresql/*/bin/pg_ctl"), key=_version_key, reverse=True
        )
    ]
    pg_config = shutil.which("pg_config")
    if pg_config:
        with contextlib.suppress(OSError, subprocess.SubprocessError):
            out = subprocess.run(
                [pg_config, "--bindir"], capture_output=True, text=True, timeout=10, check=True
            ).stdout.strip()
            if out:
                candidates.append(Path(out))
    pg_ctl = shutil.which("pg_ctl")
    if pg_ctl:
        candidates.append(Path(pg_ctl).resolve().parent)
    for bin_dir in candidates:
        if all(os.access(bin_dir / tool, os.X_OK) for tool in ("initdb", "pg_ctl", "postgres")):
            return bin_dir
    return None


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class PostgresServer:
    """A throwaway PostgreSQL cluster in a temp dir, listening on 127.0.0.1:<free port>, trust
    auth, stopped and deleted by stop()."""

    def __init__(self, base_dir: Path) -> None:
        self.base_dir = Path(base_dir)
        self.bin_dir = find_pg_bin()
        self.port = 0
        self.root: Path | None = None
        self._as_root = os.geteuid() == 0
        self._started = False
        self.start_seconds = 0.0  # wall time of the last start(): initdb + pg_ctl start

    # -- paths -----------------------------------------------------------------------------
    @property
    def data_dir(self) -> Path:
        assert self.root is not None, "server not started"
        return self.root / "data"

    @property
    def socket_dir(self) -> Path:
        assert self.root is not None, "server not started"
        return self.root / "sock"

    @property
    def log_file(self) -> Path:
        assert self.root is not None, "server not started"
        return self.root / "server.log"

    def url_for(self, name: str) -> str:
        return f"postgresql+psycopg://postgres@127.0.0.1:{self.port}/{name}"

    # -- lifecycle -------------------------------------------------------------------------
    def start(self) -> None:
        if self._started:
            return
        if self.bin_dir is None:
            raise RuntimeError(PACKAGE_HINT)
        began = time.perf_counter()
        self.root = self._make_root()
        try:
            self._run(
                "initdb",
                "-D",
                str(self.data_dir),
                "-A",
                "trust",
                "-U",
                "postgres",
                "--encoding",
                "UTF8",
                "--locale",
                "C",
                "--no-sync",
                "--no-instructions",
                timeout=START_TIMEOUT_S,
            )
            self.socket_dir.mkdir(mode=0o700)
            self._chown(self.socket_dir)
            self._pg_ctl_start()
        except BaseException:
            self.stop()
            raise
        self._started = True
        self.start_seconds = time.perf_counter() - began

    def stop(self) -> None:
        """Kill the server (``-m immediate``) and delete its directory; safe to call twice."""
        root, self.root = self.root, None
        self._started = False
        if root is None:
            return
        if (root / "data" / "postmaster.pid").exists() and self.bin_dir is not None:
            with contextlib.suppress(subprocess.SubprocessError, OSError):
                self._run(
                    "pg_ctl",
                    "stop",
                    "-D",
                    str(root / "data"),
                    "-m",
                    "immediate",
                    "-w",
                    "-t",
                    "30",
                    cwd=root,
                    timeout=40,
                    check=False,
                )
        shutil.rmtree(root, ignore_errors=True)

    def create_database(self, name: str) -> str:
        """CREATE DATABASE ``name`` and return its SQLAlchemy URL."""
        import psycopg
        from psycopg import sql

        with psycopg.connect(
            host="127.0.0.1", port=self.port, user="postgres", dbname="postgres", autocommit=True
        ) as conn:
            conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
        return self.url_for(name)

    def __enter__(self) -> PostgresServer:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # -- helpers ---------------------------------------------------------------------------
    def _make_root(self) -> Path:
        if self._as_root:
            # The postgres user must reach the directory; pytest's tmp tree is 0700 root.
            root = Path(tempfile.mkdtemp(prefix="pixelforge-pg-"))
            root.chmod(0o755)
            self._chown(root)
        else:
            self.base_dir.mkdir(parents=True, exist_ok=True)
            root = Path(tempfile.mkdtemp(prefix="pg-", dir=self.base_dir))
            if len(str(root / "sock" / ".s.PGSQL.65535")) > _SOCKET_PATH_MAX:
                root.rmdir()
                root = Path(tempfile.mkdtemp(prefix="pixelforge-pg-"))
        return root

    def _chown(self, path: Path) -> None:
        if self._as_root:
            pw = pwd.getpwnam("postgres")
            os.chown(path, pw.pw_uid, pw.pw_gid)

    def _pg_ctl_start(self) -> None:
        last_error = ""
        for _attempt in range(3):  # the free port can be taken between probe and bind
            self.port = _free_port()
            options = (
                f"-h 127.0.0.1 -p {self.port} -k {self.socket_dir} -F "
                "-c fsync=off -c synchronous_commit=off -c full_page_writes=off "
                "-c max_connections=200"
            )
            result = self._run(
                "pg_ctl",
                "start",
                "-D",
                str(self.data_dir),
                "-l",
                str(self.log_file),
                "-w",
                "-t",
                str(START_TIMEOUT_S),
                "-o",
                options,
                timeout=START_TIMEOUT_S + 15,
                check=False,
            )
            if result.returncode == 0:
                return
            log = self._log_tail()
            last_error = f"{result.stdout}{result.stderr}\n--- server log tail ---\n{log}"
            if "could not bind" not in log and "already in use" not in log:
                break
        raise RuntimeError(
            f"PostgreSQL did not start within {START_TIMEOUT_S}s (port {self.port}):\n{last_error}"
        )

    def _log_tail(self, lines: int = 40) -> str:
        try:
            text = self.log_file.read_text(errors="replace")
        except OSError:
            return "(no server log)"
        return "\n".join(text.splitlines()[-lines:])

    def _run(
        self,
        tool: str,
        *args: str,
        timeout: float,
        cwd: Path | None = None,
        check: bool = True,
    ) -> subprocess.CompletedProcess[str]:
        assert self.bin_dir is not None
        env = {k: v for k, v in os.environ.items() if k not in _PG_ENV_DROP}
        kwargs: dict[str, Any] = {}
        if self._as_root:
            pw = pwd.getpwnam("postgres")
            kwargs = {"user": pw.pw_uid, "group": pw.pw_gid, "extra_groups": []}
            env["HOME"] = pw.pw_dir
            env["USER"] = env["LOGNAME"] = "postgres"
        result = subprocess.run(
            [str(self.bin_dir / tool), *args],
            capture_output=True,
            text=True,
            stdin=subprocess.DEVNULL,
            timeout=timeout,
            cwd=cwd or self.root,
            env=env,
            check=False,
            **kwargs,
        )
        if check and result.returncode != 0:
            raise RuntimeError(
                f"{tool} failed (rc {result.returncode}):\n{result.stdout}{result.stderr}"
            )
        return result


def _postgres_required() -> bool:
    return bool(os.environ.get("CI")) or os.environ.get("PIXELFORGE_REQUIRE_POSTGRES") == "1"


@pytest.fixture(scope="session")
def postgres_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[PostgresServer]:
    """One PostgreSQL server for the whole test session; skipped (or failed, under CI or
    PIXELFORGE_REQUIRE_POSTGRES=1) when PostgreSQL is not installed."""
    if find_pg_bin() is None:
        if _postgres_required():
            pytest.fail(PACKAGE_HINT, pytrace=False)
        pytest.skip(PACKAGE_HINT)
    server = PostgresServer(tmp_path_factory.mktemp("postgres"))
    try:
        server.start()
        yield server
    finally:
        server.stop()


def postgres_session_fixture() -> Any:
    """The session-scoped ``postgres_server`` fixture, for ``postgres_server =
    postgres_session_fixture()`` in a conftest."""
    return postgres_server
