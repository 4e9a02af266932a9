"""Fixtures of the unit tests."""

from __future__ import annotations

import importlib.util
import sys
from collections.abc import Callable
from pathlib import Path
from types import ModuleType

import pytest

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="session")
def bench_module() -> Callable[[str], ModuleType]:
    """Loads ``benchmarks/<name>.py`` by its path, as ``bench_<name>``: the benchmarks are no package."""

    def load(name: str) -> ModuleType:
        module_name = f"bench_{name.lstrip('_')}"
        if module_name in sys.modules:
            return sys.modules[module_name]
        spec = importlib.util.spec_from_file_location(module_name, ROOT / "benchmarks" / f"{name}.py")
        assert spec is not None and spec.loader is not None
        module = importlib.util.module_from_spec(spec)
        sys.modules[module_name] = module  # dataclasses look their module up while being made
        spec.loader.exec_module(module)
        return module

    return load
