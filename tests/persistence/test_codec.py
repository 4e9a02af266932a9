"""Stored values: JSON, with pydantic models and dataclasses coming back as their own types."""

from __future__ import annotations

import dataclasses
import datetime
import json
from decimal import Decimal

import pytest
from pydantic import BaseModel

from fireflytx._persistence import TypeRegistry, decode, dumps, encode
from fireflytx._persistence._errors import UnrestorableValueError, UnstorableValueError


class Money(BaseModel):
    amount: Decimal
    currency: str


class Reservation(BaseModel):
    id: str
    at: datetime.datetime
    price: Money


@dataclasses.dataclass(frozen=True)
class Shipment:
    tracking: str
    parcels: tuple[int, ...]
    reservation: Reservation


def roundtrip(value: object, registry: TypeRegistry | None = None) -> object:
    return decode(json.loads(dumps(value)), registry)


def test_models_and_dataclasses_come_back_as_their_own_types() -> None:
    reservation = Reservation(
        id="R-1",
        at=datetime.datetime(2026, 1, 2, 3, 4, 5),
        price=Money(amount=Decimal("9.99"), currency="EUR"),
    )
    value = {"shipment": Shipment("T-1", (1, 2), reservation), "list": [reservation, 1.5, None, True]}
    back = roundtrip(value)
    assert back == value
    assert isinstance(back, dict) and type(back["shipment"]) is Shipment
    assert type(back["shipment"].reservation.price.amount) is Decimal


def test_tuples_stay_tuples_and_user_dicts_that_look_like_tags_stay_dicts() -> None:
    value = {"pair": (1, ("a", "b")), "$ftx": "model", "type": "os:system", "value": 1}
    assert roundtrip(value) == value
    assert roundtrip([{"$ftx": "tuple", "value": []}]) == [{"$ftx": "tuple", "value": []}]


@pytest.mark.parametrize(
    ("value", "named"),
    [
        ({"a": {1, 2}}, "set"),
        ([object()], "object"),
        ({1: "x"}, "dict with a int key"),
        (float("inf"), "non-finite float"),
        (b"bytes", "bytes"),
    ],
)
def test_a_value_that_cannot_be_stored_names_its_type(value: object, named: str) -> None:
    with pytest.raises(UnstorableValueError, match=named) as raised:
        encode(value, "result of step 'charge'")
    assert "result of step 'charge'" in str(raised.value)


def test_a_value_that_contains_itself_is_refused_not_recursed() -> None:
    loop: list[object] = []
    loop.append(loop)
    with pytest.raises(UnstorableValueError, match="contains itself"):
        encode(loop)


def test_a_local_class_needs_registering_to_come_back() -> None:
    class Local(BaseModel):
        x: int

    stored = json.loads(dumps(Local(x=1)))
    with pytest.raises(UnrestorableValueError, match="inside a function") as raised:
        decode(stored)
    assert raised.value.type_ref.endswith("Local")
    registry = TypeRegistry()
    registry.register(Local)
    assert decode(stored, registry) == Local(x=1)


def test_a_renamed_or_changed_class_is_reported_with_its_stored_name() -> None:
    with pytest.raises(UnrestorableValueError, match="no_such_module"):
        decode({"$ftx": "model", "type": "no_such_module:Gone", "value": {}})
    with pytest.raises(UnrestorableValueError, match="no longer fits"):
        decode({"$ftx": "model", "type": f"{__name__}:Money", "value": {"amount": "x"}})
    with pytest.raises(UnrestorableValueError, match="not a class"):
        decode({"$ftx": "model", "type": "json:dumps", "value": {}})
