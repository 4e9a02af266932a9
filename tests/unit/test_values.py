from __future__ import annotations

from dataclasses import dataclass

import pytest
from pydantic import BaseModel, ValidationError

from fireflytx._values import convert_to, is_carriable, to_jsonable


class M(BaseModel):
    x: int


@dataclass
class D:
    y: str


def test_convert_to_models_and_dataclasses() -> None:
    assert convert_to(M, {"x": "3"}) == M(x=3)
    assert convert_to(D, {"y": "a"}) == D(y="a")
    m = M(x=1)
    assert convert_to(M, m) is m
    assert convert_to(dict, {"a": 1}) == {"a": 1}
    with pytest.raises(ValidationError):
        convert_to(M, {"x": "not a number"})


@pytest.mark.parametrize(
    "value", [None, 1, 2.5, "s", True, [1, "a"], (1, 2), {"a": {"b": [1]}}, M(x=1), D(y="z")]
)
def test_carriable(value: object) -> None:
    assert is_carriable(value)


@pytest.mark.parametrize("value", [object(), {1: "a"}, {"a": object()}, {1, 2}, D, b"bytes"])
def test_not_carriable(value: object) -> None:
    assert not is_carriable(value)


def test_to_jsonable() -> None:
    assert to_jsonable({"m": M(x=1), "d": [D(y="q")]}) == {"m": {"x": 1}, "d": [{"y": "q"}]}


def test_jvm_heap_sizes_must_nest() -> None:
    from fireflytx.config import JvmConfig, heap_bytes

    assert heap_bytes("96m") == 96 << 20 and heap_bytes("1g") == 1 << 30 and heap_bytes("2048") == 2048
    assert JvmConfig(initial_heap="256m", young_heap="128m").young_heap == "128m"
    with pytest.raises(ValidationError, match="young_heap < initial_heap <= max_heap"):
        JvmConfig(initial_heap="32m", young_heap="64m")
    with pytest.raises(ValidationError, match="young_heap < initial_heap <= max_heap"):
        JvmConfig(initial_heap="1g", max_heap="512m")
