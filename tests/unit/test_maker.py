"""Events built on the hot path equal those built by the dataclass, and a maker missing a field is refused."""

from __future__ import annotations

import dataclasses
from datetime import UTC, datetime

import pytest

from fireflytx._core._maker import positional_maker
from fireflytx.listeners import AttemptFinished, AttemptStarted, Phase, TransactionKind


def test_made_events_equal_the_dataclass_ones_and_stay_frozen() -> None:
    now = datetime.now(UTC)
    make = positional_maker(
        AttemptFinished,
        "kind name correlation_id at phase unit_id attempt duration_ms error result final replayed",
    )
    error = ValueError("x")
    made = make(TransactionKind.SAGA, "s", "c", now, Phase.STEP, "a", 2, 1.5, error, None, True, False)
    built = AttemptFinished(
        kind=TransactionKind.SAGA, name="s", correlation_id="c", at=now, phase=Phase.STEP, unit_id="a",
        attempt=2, duration_ms=1.5, error=error, result=None, final=True, replayed=False,
    )
    assert made == built
    assert repr(made) == repr(built)
    assert type(made) is AttemptFinished
    with pytest.raises(dataclasses.FrozenInstanceError):
        made.attempt = 3  # type: ignore[misc]


def test_a_maker_takes_the_fields_in_the_order_it_names_them() -> None:
    now = datetime.now(UTC)
    make = positional_maker(AttemptStarted, "attempt unit_id phase at correlation_id name kind")
    made = make(3, "a", Phase.STEP, now, "c", "s", TransactionKind.TCC)
    assert made == AttemptStarted(
        kind=TransactionKind.TCC, name="s", correlation_id="c", at=now, phase=Phase.STEP, unit_id="a",
        attempt=3,
    )


@pytest.mark.parametrize(
    "fields",
    [
        "kind name correlation_id at phase unit_id",  # one missing
        "kind name correlation_id at phase unit_id attempt attempts",  # one the class lacks
        "kind name correlation_id at phase unit_id unit_id",  # one twice, one missing
    ],
)
def test_a_maker_that_does_not_name_every_field_once_is_refused(fields: str) -> None:
    with pytest.raises(TypeError, match="fields are"):
        positional_maker(AttemptStarted, fields)


def test_a_class_with_post_init_is_refused() -> None:
    @dataclasses.dataclass(frozen=True, slots=True)
    class Checked:
        value: int

        def __post_init__(self) -> None:
            if self.value < 0:
                raise ValueError("negative")

    with pytest.raises(TypeError, match="__post_init__"):
        positional_maker(Checked, "value")
