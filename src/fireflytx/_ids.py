"""Ids in UUID form without a UUID, and its random bytes, per id.

A run's correlation id and an event's id need only be unique. ``uuid4()`` reads 16 bytes from the
kernel and builds an object each time: a few microseconds on every run and every event. An
``IdSequence`` takes the first 20 hex digits of one random UUID (version and variant included) and
counts in the last 12, so its ids keep the UUID shape, are unique within the sequence, and differ
between sequences and processes with the chance of two random 74-bit prefixes meeting. A child
made by ``fork`` takes a new prefix, so it never repeats its parent's ids.
"""

from __future__ import annotations

import itertools
import os
import uuid
import weakref

__all__ = ["IdSequence", "new_correlation_id"]

_LOW48 = (1 << 48) - 1
_sequences: weakref.WeakSet[IdSequence] = weakref.WeakSet()


class IdSequence:
    """UUID-shaped ids: one random prefix, then a counter; safe to call from any thread."""

    __slots__ = ("__weakref__", "_counter", "_prefix")

    def __init__(self) -> None:
        self._reseed()
        _sequences.add(self)

    def _reseed(self) -> None:
        first = uuid.uuid4()
        self._prefix = str(first)[:24]
        self._counter = itertools.count(first.int & _LOW48)  # next() on it is atomic

    def __call__(self) -> str:
        """The next id."""
        return f"{self._prefix}{next(self._counter) & _LOW48:012x}"


def _reseed_all() -> None:
    for sequence in list(_sequences):
        sequence._reseed()


os.register_at_fork(after_in_child=_reseed_all)

new_correlation_id = IdSequence()
"""A new run's correlation id when its caller gives none."""
