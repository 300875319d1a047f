"""Throwaway PostgreSQL and Redis servers from the Debian packages, for tests and benchmarks (no Docker here).

    with services() as running:          # a fresh cluster and a fresh redis-server on free ports of 127.0.0.1
        env = running.environment()      # TRACKER_DB_*, REDIS_*, APP_DB_URL for endpoints.postgres.yml
    # both are stopped and their files deleted here

PostgreSQL refuses to run as root, and CI runs as root: the cluster is then created (`initdb`) and run as the
`postgres` user through `runuser`, in its own folder under the system temp dir (a pytest tmp dir is root-only, so the
`postgres` user could not enter it). Every step is bounded in time; a server that does not answer in time is killed
and the error carries the end of its log. `python -m tests.reliability.services` (or scripts/services.sh) starts
both for a shell session and prints the environment to use.
"""

from __future__ import annotations

import contextlib
import glob
import os
import pwd
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

START_TIMEOUT_SECONDS = 60
STOP_TIMEOUT_SECONDS = 15
DATABASES = ("rasa", "app")
DB_USER = "nxa"


class ServiceError(RuntimeError):
    """A server could not be found, started or reached in time."""


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def postgres_bin(name: str) -> str:
    """Path of a PostgreSQL server program (`initdb`, `postgres`): the newest /usr/lib/postgresql/*/bin, else PATH."""
    candidates = sorted(glob.glob(f"/usr/lib/postgresql/*/bin/{name}"), key=lambda p: int(Path(p).parts[4]))
    found = candidates[-1] if candidates else shutil.which(name)
    if not found:
        raise ServiceError(f"{name} not found: install the Debian package postgresql (scripts/system-packages.txt)")
    return found


def _as_postgres_user() -> list[str]:
    """The command prefix that runs a program as a user PostgreSQL accepts (root cannot run the server)."""
    if os.geteuid() != 0:
        return []
    try:
        pwd.getpwnam("postgres")
    except KeyError:
        raise ServiceError("running as root but there is no 'postgres' user (install the postgresql package)") from None
    return ["runuser", "-u", "postgres", "--"]


def _tail(path: Path, size: int = 3000) -> str:
    return path.read_text(errors="replace")[-size:] if path.exists() else "(no log)"


@dataclass
class Postgres:
    """A running throwaway PostgreSQL cluster on 127.0.0.1 with one password-protected user and DATABASES."""

    folder: Path
    port: int
    password: str
    process: subprocess.Popen
    host: str = "127.0.0.1"
    user: str = DB_USER

    def url(self, database: str) -> str:
        return f"postgresql://{self.user}:{self.password}@{self.host}:{self.port}/{database}"

    def stop(self) -> None:
        """Fast shutdown (SIGINT to the postmaster), SIGKILL past STOP_TIMEOUT_SECONDS, then delete the cluster."""
        pid_file = self.folder / "data" / "postmaster.pid"
        if self.process.poll() is None:
            with contextlib.suppress(ValueError, OSError, IndexError):
                os.kill(int(pid_file.read_text().split()[0]), signal.SIGINT)
            try:
                self.process.wait(timeout=STOP_TIMEOUT_SECONDS)
            except subprocess.TimeoutExpired:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(self.process.pid, signal.SIGKILL)
                self.process.wait(timeout=STOP_TIMEOUT_SECONDS)
        shutil.rmtree(self.folder, ignore_errors=True)


@dataclass
class Redis:
    """A running throwaway redis-server on 127.0.0.1, password-protected, persisting nothing."""

    folder: Path
    port: int
    password: str
    process: subprocess.Popen
    host: str = "127.0.0.1"

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=STOP_TIMEOUT_SECONDS)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout=STOP_TIMEOUT_SECONDS)
        shutil.rmtree(self.folder, ignore_errors=True)


@dataclass
class Services:
    postgres: Postgres
    redis: Redis
    stopped: list[str] = field(default_factory=list)

    def environment(self) -> dict[str, str]:
        """The variables that make the assistant use these servers (endpoints.postgres.yml and APP_DB_URL)."""
        return {
            "RASA_ENDPOINTS": "endpoints.postgres.yml",
            "TRACKER_DB_HOST": self.postgres.host,
            "TRACKER_DB_PORT": str(self.postgres.port),
            "TRACKER_DB_NAME": "rasa",
            "TRACKER_DB_USER": self.postgres.user,
            "TRACKER_DB_PASSWORD": self.postgres.password,
            "REDIS_HOST": self.redis.host,
            "REDIS_PORT": str(self.redis.port),
            "REDIS_PASSWORD": self.redis.password,
            "REDIS_DB": "0",
            "APP_DB_URL": self.postgres.url("app"),
        }

    def stop(self) -> None:
        for server in (self.redis, self.postgres):
            server.stop()


def _wait(check, process: subprocess.Popen, log: Path, what: str, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    last_error: Exception | None = None
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise ServiceError(f"{what} exited with code {process.returncode}:\n{_tail(log)}")
        try:
            check()
            return
        except Exception as exc:  # not up yet: connection refused, starting up, ...
            last_error = exc
            time.sleep(0.2)
    raise ServiceError(f"{what} did not answer in {timeout:.0f} s ({last_error}):\n{_tail(log)}")


def start_postgres(timeout: float = START_TIMEOUT_SECONDS) -> Postgres:
    """initdb a new cluster in a temp folder, start it on a free port and create DATABASES (owned by DB_USER)."""
    import psycopg2

    folder = Path(tempfile.mkdtemp(prefix="nxa-postgres-"))
    prefix = _as_postgres_user()
    if prefix:
        shutil.chown(folder, "postgres", "postgres")
    password = secrets.token_hex(12)
    (folder / "pwfile").write_text(password + "\n")
    if prefix:
        shutil.chown(folder / "pwfile", "postgres", "postgres")
    log = folder / "postgres.log"
    try:
        subprocess.run(
            [
                *prefix,
                postgres_bin("initdb"),
                "--pgdata",
                str(folder / "data"),
                "--username",
                DB_USER,
                "--pwfile",
                str(folder / "pwfile"),
                "--auth",
                "scram-sha-256",
                "--encoding",
                "UTF8",
                "--locale",
                "C.UTF-8",
                "--no-sync",
            ],
            check=True,
            capture_output=True,
            text=True,
            timeout=timeout,
        )
    except subprocess.CalledProcessError as exc:
        shutil.rmtree(folder, ignore_errors=True)
        raise ServiceError(f"initdb failed:\n{exc.stdout}\n{exc.stderr}") from None
    except subprocess.TimeoutExpired:
        shutil.rmtree(folder, ignore_errors=True)
        raise ServiceError(f"initdb did not finish in {timeout:.0f} s") from None
    port = free_port()
    with log.open("ab") as out:
        process = subprocess.Popen(
            [
                *prefix,
                postgres_bin("postgres"),
                "-D",
                str(folder / "data"),
                "-p",
                str(port),
                "-c",
                "listen_addresses=127.0.0.1",
                "-c",
                f"unix_socket_directories={folder}",
                "-c",
                "max_connections=200",
                "-c",
                "shared_buffers=32MB",
                # a throwaway cluster: durability is not the point, speed on a busy 2-core machine is
                "-c",
                "fsync=off",
                "-c",
                "synchronous_commit=off",
                "-c",
                "full_page_writes=off",
            ],
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    server = Postgres(folder, port, password, process)
    try:

        def connect():
            psycopg2.connect(
                host="127.0.0.1", port=port, user=DB_USER, password=password, dbname="postgres", connect_timeout=2
            ).close()

        _wait(connect, process, log, "postgres", timeout)
        connection = psycopg2.connect(
            host="127.0.0.1", port=port, user=DB_USER, password=password, dbname="postgres", connect_timeout=5
        )
        connection.autocommit = True
        with connection.cursor() as cursor:
            for name in DATABASES:
                cursor.execute(f'CREATE DATABASE "{name}"')
        connection.close()
    except BaseException:
        server.stop()
        raise
    return server


def start_redis(timeout: float = START_TIMEOUT_SECONDS) -> Redis:
    """A redis-server on a free port of 127.0.0.1 with a password, no persistence, its files in a temp folder."""
    import redis

    binary = shutil.which("redis-server")
    if not binary:
        raise ServiceError("redis-server not found: install the Debian package redis-server")
    folder = Path(tempfile.mkdtemp(prefix="nxa-redis-"))
    port, password = free_port(), secrets.token_hex(12)
    log = folder / "redis.log"
    with log.open("ab") as out:
        process = subprocess.Popen(
            [
                binary,
                "--port",
                str(port),
                "--bind",
                "127.0.0.1",
                "--requirepass",
                password,
                "--save",
                "",
                "--appendonly",
                "no",
                "--dir",
                str(folder),
                "--daemonize",
                "no",
            ],
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    server = Redis(folder, port, password, process)
    try:
        _wait(
            lambda: redis.Redis(host="127.0.0.1", port=port, password=password, socket_timeout=2).ping(),
            process,
            log,
            "redis-server",
            timeout,
        )
    except BaseException:
        server.stop()
        raise
    return server


@contextlib.contextmanager
def services(timeout: float = START_TIMEOUT_SECONDS) -> Iterator[Services]:
    """PostgreSQL and Redis for the length of the block; both stopped and deleted afterwards, whatever happens."""
    postgres = start_postgres(timeout)
    try:
        redis_server = start_redis(timeout)
    except BaseException:
        postgres.stop()
        raise
    running = Services(postgres, redis_server)
    try:
        yield running
    finally:
        running.stop()


def main() -> int:
    """Start both servers, print `export` lines for the shell, and keep them up until Ctrl-C or SIGTERM."""
    signal.signal(signal.SIGTERM, lambda *_: (_ for _ in ()).throw(KeyboardInterrupt()))
    with services() as running:
        for name, value in running.environment().items():
            print(f"export {name}={value}")
        print("# PostgreSQL and Redis are up; Ctrl-C stops and deletes them", file=sys.stderr, flush=True)
        sys.stdout.flush()
        try:
            while running.postgres.process.poll() is None and running.redis.process.poll() is None:
                time.sleep(1)
        except KeyboardInterrupt:
            pass
    return 0


if __name__ == "__main__":
    sys.exit(main())
