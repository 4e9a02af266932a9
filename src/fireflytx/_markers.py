"""The ``Annotated`` markers that fill a method's parameters from the run, beyond its input.

They are read with every other parameter when a class is decorated (``_signature``), whichever kind
of transaction declares the method; each kind then says which of them its methods may use: a saga
step reads ``FromStep``, a fan-out step's compensation reads ``FanOutItem``, and a TCC phase neither.
"""

from __future__ import annotations

__all__ = ["FanOutItem", "FromStep"]


class FromStep:
    """Marks a step parameter that receives another step's result.

    Use it inside ``typing.Annotated``: ``reservation: Annotated[Reservation, FromStep("reserve")]``.
    The named step must be one the step depends on (directly or through others), so its result is
    there when the step runs.
    """

    __slots__ = ("step_id",)

    def __init__(self, step_id: str) -> None:
        if not isinstance(step_id, str) or not step_id:
            raise TypeError("FromStep needs the id of a step, e.g. FromStep('reserve')")
        self.step_id = step_id

    def __repr__(self) -> str:
        return f"FromStep({self.step_id!r})"

    def __eq__(self, other: object) -> bool:
        return isinstance(other, FromStep) and other.step_id == self.step_id

    def __hash__(self) -> int:
        return hash(("FromStep", self.step_id))


class FanOutItem:
    """Marks a compensation parameter that receives its clone's item.

    The compensation of a fan-out step runs once per completed clone; its first parameter receives
    that clone's result, and a parameter annotated ``Annotated[T, FanOutItem()]`` receives the item
    the clone ran for. (The step itself receives the item as its first parameter.)
    """

    __slots__ = ()

    def __repr__(self) -> str:
        return "FanOutItem()"

    def __eq__(self, other: object) -> bool:
        return isinstance(other, FanOutItem)

    def __hash__(self) -> int:
        return hash("FanOutItem")
