"""A private PostgreSQL cluster with treestore_fdw, for the tests, the
examples' checks and the Python benchmark.

``PrivateServer(directory, port)`` runs initdb, starts the server on a Unix
socket in ``directory`` (no TCP), with the extension preloaded, and stops it.
PostgreSQL refuses to run as root: as root, initdb and pg_ctl run as user
``postgres`` (runuser), and the directory is handed to that user.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import time
from collections.abc import Mapping
from pathlib import Path

import psycopg

PG_CONFIG = os.environ.get("PG_CONFIG", "pg_config")


def _bindir() -> Path:
    try:
        out = subprocess.run([PG_CONFIG, "--bindir"], check=True, capture_output=True, text=True)
        return Path(out.stdout.strip())
    except FileNotFoundError:
        return Path("/usr/lib/postgresql/15/bin")


class PrivateServer:
    def __init__(self, directory: str | Path, port: int,
                 settings: Mapping[str, str] | None = None) -> None:
        self.dir = Path(directory)
        self.port = port
        self.data = self.dir / "data"
        self.log = self.dir / "server.log"
        self.settings = {"fsync": "off", **(settings or {})}
        self.bindir = _bindir()
        self.as_postgres = ["runuser", "-u", "postgres", "--"] if os.geteuid() == 0 else []

    def dsn(self, dbname: str = "postgres", user: str = "postgres") -> str:
        return f"host={self.dir} port={self.port} user={user} dbname={dbname}"

    @property
    def env(self) -> dict[str, str]:
        """PG* variables that point libpq (psql, the examples) here."""
        return {"PGHOST": str(self.dir), "PGPORT": str(self.port), "PGUSER": "postgres",
                "PGDATABASE": "postgres"}

    def _pg(self, *args: str) -> None:
        subprocess.run([*self.as_postgres, *args], check=True, stdout=subprocess.DEVNULL,
                       stderr=subprocess.PIPE)

    def start(self) -> PrivateServer:
        if self.dir.exists():
            self.stop()
            shutil.rmtree(self.dir)
        self.dir.mkdir(parents=True)
        if self.as_postgres:
            shutil.chown(self.dir, "postgres", "postgres")
        self._pg(str(self.bindir / "initdb"), "-D", str(self.data), "-A", "trust",
                 "-U", "postgres", "--no-sync")
        conf = {"shared_preload_libraries": "'treestore_fdw'", "port": str(self.port),
                "listen_addresses": "''", "unix_socket_directories": f"'{self.dir}'",
                "max_connections": "200", **self.settings}
        with open(self.data / "postgresql.conf", "a") as f:
            for k, v in conf.items():
                f.write(f"{k} = {v}\n")
        self._pg(str(self.bindir / "pg_ctl"), "-D", str(self.data), "-l", str(self.log),
                 "-w", "-t", "120", "start")
        self.wait_ready()
        with psycopg.connect(self.dsn(), autocommit=True) as conn:
            conn.execute("CREATE EXTENSION treestore_fdw")
        return self

    def wait_ready(self, timeout: float = 60.0) -> None:
        """Until treestore.health() says ok (the worker has opened the engine)."""
        deadline = time.monotonic() + timeout
        while True:
            try:
                with psycopg.connect(self.dsn(), autocommit=True) as conn:
                    ok = conn.execute("SELECT 1 FROM pg_extension WHERE extname = 'treestore_fdw'"
                                      ).fetchone()
                    if ok is None or conn.execute(
                            "SELECT treestore.health()->>'status'").fetchone() == ("ok",):
                        return
            except psycopg.Error:
                pass
            if time.monotonic() > deadline:
                raise RuntimeError(f"server in {self.dir} not ready after {timeout} s; "
                                   f"log: {self.log}")
            time.sleep(0.1)

    def stop(self) -> None:
        if (self.data / "postmaster.pid").exists():
            subprocess.run([*self.as_postgres, str(self.bindir / "pg_ctl"), "-D", str(self.data),
                            "-m", "fast", "-w", "stop"], stdout=subprocess.DEVNULL,
                           stderr=subprocess.DEVNULL)

    def log_tail(self, lines: int = 30) -> str:
        try:
            return "\n".join(self.log.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return ""
