"""A real ``deconflict`` process for end-to-end tests, and the CLI that prepares its store.

The process is ``python -m deconflict …`` run by the interpreter that runs the
tests, on a free loopback port. Its output goes to a log file, so that a server
that fails to start says why in the test failure. :class:`Threaded` serves an
app from a thread of the test process instead, for a test that holds the
service's clock.
"""

from __future__ import annotations

import contextlib
import socket
import sqlite3
import subprocess
import sys
import threading
import time
from collections.abc import Sequence
from contextlib import closing
from pathlib import Path

import httpx
import pytest
import uvicorn
from starlette.types import ASGIApp

__all__ = ["Server", "Threaded", "cli", "copy_store", "free_port", "free_ports", "new_store"]

_START_TIMEOUT_S = 30.0
_STOP_TIMEOUT_S = 15.0


def free_port() -> int:
    """A loopback port nobody listens on right now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def free_ports(count: int) -> tuple[int, ...]:
    """``count`` different loopback ports nobody listens on right now."""
    with contextlib.ExitStack() as stack:
        sockets = []
        for _ in range(count):
            sock = stack.enter_context(socket.socket(socket.AF_INET, socket.SOCK_STREAM))
            sock.bind(("127.0.0.1", 0))
            sockets.append(sock)
        return tuple(int(sock.getsockname()[1]) for sock in sockets)


def new_store(backend: str, folder: Path, request: pytest.FixtureRequest) -> str:
    """Where a new store goes: a file in ``folder``, or a new PostgreSQL database."""
    if backend == "postgresql":
        return str(request.getfixturevalue("pg_database")())
    return str(folder / "store.db")


def copy_store(template: str, folder: Path, request: pytest.FixtureRequest) -> str:
    """A copy of a seeded store, so that each test starts from the same one."""
    if template.startswith("postgresql://"):
        return str(request.getfixturevalue("pg_database")(like=template))
    db = folder / Path(template).name
    with closing(sqlite3.connect(template)) as source, closing(sqlite3.connect(db)) as target:
        source.backup(target)
    return str(db)


def cli(*args: str) -> str:
    """Run ``deconflict ARGS`` to completion and return its stdout; fail on a non-zero exit."""
    done = subprocess.run(
        [sys.executable, "-m", "deconflict", *args],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    if done.returncode != 0:
        raise RuntimeError(
            f"deconflict {' '.join(args)} exited {done.returncode}:\n{done.stdout}{done.stderr}"
        )
    return done.stdout


class Server:
    """One ``deconflict`` command that serves HTTP: start it, then stop or kill it.

    ``start`` may be called again after ``stop`` or ``kill``: the same command on
    the same port and store, as an operator restarting the service would.
    """

    def __init__(self, args: Sequence[str], port: int, log: Path) -> None:
        self.args = list(args)
        self.port = port
        self.log = log
        self.url = f"http://127.0.0.1:{port}"
        self._process: subprocess.Popen[bytes] | None = None

    @classmethod
    def serve(cls, db: Path | str, log: Path) -> Server:
        """``deconflict serve`` on the store ``db`` (a SQLite file or a store URL)."""
        port = free_port()
        args = ["serve", "--db", str(db), "--host", "127.0.0.1", "--port", str(port)]
        return cls(args, port, log)

    def output(self) -> str:
        return self.log.read_text(encoding="utf-8", errors="replace") if self.log.exists() else ""

    def start(self) -> None:
        """Start the process and return once ``GET /healthz`` answers 200."""
        if self._process is not None:
            raise RuntimeError("the server is already running")
        with self.log.open("ab") as out:
            self._process = subprocess.Popen(
                [sys.executable, "-m", "deconflict", *self.args],
                stdout=out,
                stderr=subprocess.STDOUT,
            )
        deadline = time.monotonic() + _START_TIMEOUT_S
        while True:
            code = self._process.poll()
            if code is not None:
                self._process = None
                raise RuntimeError(f"the server exited with {code}:\n{self.output()}")
            with contextlib.suppress(httpx.TransportError):
                if httpx.get(f"{self.url}/healthz", timeout=1.0).status_code == 200:
                    return
            if time.monotonic() > deadline:
                self.kill()
                raise RuntimeError(
                    f"no healthy server after {_START_TIMEOUT_S:g} s:\n{self.output()}"
                )
            time.sleep(0.05)

    def stop(self) -> None:
        """SIGTERM, as an operator stops the service; SIGKILL if it lingers. Idempotent."""
        process, self._process = self._process, None
        if process is None:
            return
        process.terminate()
        try:
            process.wait(timeout=_STOP_TIMEOUT_S)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()

    def kill(self) -> None:
        """SIGKILL (``kill -9``): no shutdown code runs. Idempotent."""
        process, self._process = self._process, None
        if process is None:
            return
        process.kill()
        process.wait()


class Threaded:
    """An ASGI app served by uvicorn from a thread of the test process, on a loopback port.

    A real HTTP server, so streamed answers arrive as they are written, around a
    service the test made (with a clock it moves). Use it as a context manager;
    open streams should be closed before it exits, which waits for them at most
    a few seconds.
    """

    def __init__(self, app: ASGIApp) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        config = uvicorn.Config(
            app,
            host="127.0.0.1",
            port=self.port,
            log_level="warning",
            timeout_graceful_shutdown=3,
        )
        self._server = uvicorn.Server(config)
        self._thread = threading.Thread(target=self._server.run, daemon=True)

    def __enter__(self) -> Threaded:
        self._thread.start()
        deadline = time.monotonic() + _START_TIMEOUT_S
        while not self._server.started:
            if not self._thread.is_alive() or time.monotonic() > deadline:
                raise RuntimeError("the in-process server did not start")
            time.sleep(0.02)
        return self

    def __exit__(self, *exc: object) -> None:
        self._server.should_exit = True
        self._thread.join(_STOP_TIMEOUT_S)
