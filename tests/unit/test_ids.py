"""Correlation and event ids: UUID-shaped, unique across threads, new in a forked child."""

from __future__ import annotations

import os
import threading
import uuid

from fireflytx._ids import IdSequence


def test_ids_are_version_4_uuids_in_text_form() -> None:
    ids = IdSequence()
    for _ in range(100):
        text = ids()
        parsed = uuid.UUID(text)
        assert str(parsed) == text
        assert parsed.version == 4
        assert parsed.variant == uuid.RFC_4122


def test_two_sequences_do_not_share_a_prefix() -> None:
    assert IdSequence()()[:24] != IdSequence()()[:24]


def test_threads_drawing_at_once_never_get_the_same_id() -> None:
    ids = IdSequence()
    drawn: list[list[str]] = [[] for _ in range(8)]
    barrier = threading.Barrier(8)

    def draw(into: list[str]) -> None:
        barrier.wait()
        into.extend(ids() for _ in range(20_000))

    threads = [threading.Thread(target=draw, args=(into,)) for into in drawn]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    every = [i for into in drawn for i in into]
    assert len(set(every)) == len(every) == 160_000


def test_a_forked_child_draws_from_a_new_prefix() -> None:
    ids = IdSequence()
    before = ids()
    read, write = os.pipe()
    pid = os.fork()
    if pid == 0:  # pragma: no cover - the child
        os.write(write, ids().encode())
        os._exit(0)
    os.close(write)
    _, status = os.waitpid(pid, 0)
    child = os.read(read, 100).decode()
    os.close(read)
    assert os.waitstatus_to_exitcode(status) == 0
    assert child[:24] != before[:24]
    assert ids()[:24] == before[:24]
