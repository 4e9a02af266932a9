"""A real Redis-compatible server for the ``fireflytx tx`` commands, with a password to keep out of output.

The server comes from ``tests/persistence/valkey_server.py`` and fails the session, never skips, when
it cannot start.
"""

from __future__ import annotations

import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parents[1] / "persistence"))

from valkey_server import ValkeyProcess  # noqa: E402

PASSWORD = "s3cret-pw"


@pytest.fixture(scope="session")
def valkey_with_password(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """The URL of one password-protected server for the session."""
    import redis

    server = ValkeyProcess(tmp_path_factory.mktemp("valkey-cli"))
    server.start()
    client = redis.Redis(host="127.0.0.1", port=server.port)
    client.config_set("requirepass", PASSWORD)
    client.close()
    yield f"redis://:{PASSWORD}@127.0.0.1:{server.port}/0"
    server.stop()
