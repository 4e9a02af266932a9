"""The least an envelope can cost: the diamond's 10 envelopes written by the leanest code we know.

The events case asks whether events on every step can keep 80% of the events-off rate. Kafka
alone (producing 10 fixed messages per diamond from the steps) already costs the loop some CPU, and
every event still needs its own envelope: a unique id, its sequence, a timestamp to the microsecond
and a duration, in the documented JSON. This times only that, in a tight loop with a warm cache and
everything that does not change within a run written once per run (the ``EventObserver`` looks
them up per event), so it is a lower bound for what envelopes cost inside a run, not an estimate.
Added to the Kafka-alone loop CPU it gives a ceiling for the events-on rate that holds even if the
engine's run events cost nothing.
"""

from __future__ import annotations

import time
from datetime import UTC, datetime

from fireflytx._ids import IdSequence
from fireflytx.events import EventEnvelope

SAGAS = 2_000
"""Diamonds' worth of envelopes per timing."""

_DIAMOND = (
    ("TRANSACTION_STARTED", None),
    ("STEP_STARTED", "a"),
    ("STEP_SUCCEEDED", "a"),
    ("STEP_STARTED", "b"),
    ("STEP_STARTED", "c"),
    ("STEP_SUCCEEDED", "b"),
    ("STEP_SUCCEEDED", "c"),
    ("STEP_STARTED", "d"),
    ("STEP_SUCCEEDED", "d"),
    ("TRANSACTION_FINISHED", None),
)
"""A diamond's events in the order a run sends them."""


def _heads() -> list[str]:
    heads = []
    for kind, unit in _DIAMOND:
        if unit is None:
            heads.append(f'"type":"{kind}","unit_id":null,"phase":null,"attempt":null,"will_retry":null,')
        else:
            heads.append(f'"type":"{kind}","unit_id":"{unit}","phase":"step","attempt":1,"will_retry":null,')
    return heads


def envelopes(correlation_ids: list[str]) -> list[bytes]:
    """Every envelope of a diamond run per correlation id, UTF-8 JSON in the documented layout."""
    heads = _heads()
    event_id = IdSequence()
    out: list[bytes] = []
    append = out.append
    second = -1
    second_text = ""
    for correlation_id in correlation_ids:
        tail = (
            f',"transaction_kind":"saga","transaction_name":"diamond",'
            f'"correlation_id":"{correlation_id}","headers":{{}}}}'
        )
        for sequence, head in enumerate(heads):
            micros = time.time_ns() // 1000
            now, fraction = divmod(micros, 1_000_000)
            if now != second:
                second = now
                second_text = datetime.fromtimestamp(now, UTC).isoformat()[:19]
            append(
                f'{{"schema_version":1,"event_id":"{event_id()}","sequence":{sequence},'
                f'"timestamp":"{second_text}.{fraction:06d}+00:00",{head}"duration_ms":{fraction / 1e5!r},'
                f'"status":null,"error":null,"payload":null{tail}'.encode()
            )
    return out


def least_envelope_us_per_saga(rounds: int = 5) -> float:
    """Median µs of loop CPU to write one diamond's 10 envelopes (checked against the schema once)."""
    ids = IdSequence()
    correlation_ids = [ids() for _ in range(SAGAS)]
    EventEnvelope.model_validate_json(envelopes(correlation_ids[:1])[5])
    timings = []
    for _ in range(rounds):
        start = time.thread_time()
        envelopes(correlation_ids)
        timings.append((time.thread_time() - start) / SAGAS * 1e6)
    return sorted(timings)[len(timings) // 2]
