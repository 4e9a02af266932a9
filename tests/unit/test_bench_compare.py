"""``benchmarks/compare.py``: rounds paired by number, a failed case left out of its round, sides named."""

from __future__ import annotations

import sys
from collections.abc import Callable
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def compare(bench_module: Callable[[str], ModuleType]) -> ModuleType:
    return bench_module("compare")


def _round(compare: ModuleType, role: str, number: int, rates: dict[str, Any]) -> Any:
    rows = {name: {"name": name, "sagas_per_s": rate} for name, rate in rates.items()}
    return compare.Round(role, number, rows, 0.5, 0.7)


def test_ratios_are_of_medians_and_each_round_is_paired_with_its_own(compare: ModuleType) -> None:
    base = [_round(compare, "base", n, {"diamond-c1": r}) for n, r in enumerate((100.0, 200.0, 300.0), 1)]
    head = [_round(compare, "head", n, {"diamond-c1": r}) for n, r in enumerate((150.0, 200.0, 150.0), 1)]

    [row] = compare.summarize(base, head)

    assert row["name"] == "diamond-c1"
    assert row["base_sagas_per_s"] == 200.0
    assert row["head_sagas_per_s"] == 150.0
    assert row["ratio"] == 0.75
    assert row["round_ratios"] == [1.5, 1.0, 0.5]


def test_a_round_where_a_case_failed_is_left_out_of_that_case_only(compare: ModuleType) -> None:
    base = [
        _round(compare, "base", 1, {"chain-1-async": 10.0, "tcc-confirmed-c1": 4.0}),
        _round(compare, "base", 2, {"chain-1-async": 20.0, "tcc-confirmed-c1": None}),  # failed there
    ]
    head = [
        _round(compare, "head", 1, {"chain-1-async": 10.0, "tcc-confirmed-c1": 8.0}),
        _round(compare, "head", 2, {"chain-1-async": 40.0, "tcc-confirmed-c1": 8.0}),
    ]

    rows = {row["name"]: row for row in compare.summarize(base, head)}

    assert rows["chain-1-async"]["round_ratios"] == [1.0, 2.0]
    assert rows["tcc-confirmed-c1"]["round_ratios"] == [2.0]


def test_a_case_that_failed_in_the_first_round_is_still_compared_in_the_others(compare: ModuleType) -> None:
    base = [
        _round(compare, "base", 1, {"chain-1-async": 10.0}),  # tcc-confirmed-c1 failed in round 1
        _round(compare, "base", 2, {"chain-1-async": 10.0, "tcc-confirmed-c1": 4.0}),
    ]
    head = [
        _round(compare, "head", 1, {"chain-1-async": 10.0, "tcc-confirmed-c1": 8.0}),
        _round(compare, "head", 2, {"chain-1-async": 10.0, "tcc-confirmed-c1": 6.0}),
    ]

    rows = {row["name"]: row for row in compare.summarize(base, head)}

    assert rows["tcc-confirmed-c1"]["round_ratios"] == [1.5]


def test_the_table_names_both_sides_and_every_round(compare: ModuleType) -> None:
    base_side = compare.Side("HEAD~1 (abc)", ROOT)
    head_side = compare.Side("this checkout (def with its uncommitted changes)", ROOT)
    base = _round(compare, "base", 1, {"diamond-c100": 1000.0})
    head = _round(compare, "head", 1, {"diamond-c100": 1100.0})

    text = compare.report(base_side, head_side, "throughput", [base, head], compare.summarize([base], [head]))

    assert "- base: HEAD~1 (abc)" in text
    assert "- head: this checkout (def with its uncommitted changes)" in text
    assert "| diamond-c100 | 1,000 | 1,100 | 1.10 | 1.10 |" in text
    assert "1 rounds" in text


def test_a_head_commit_gets_a_worktree_of_its_own(
    compare: ModuleType, monkeypatch: pytest.MonkeyPatch
) -> None:
    """``--head REV`` once put both sides in one directory, and git refused the second worktree."""
    made: list[tuple[str, Any, bool]] = []

    def worktree(rev: str, path: Any, *, with_changes: bool = False) -> Any:
        made.append((rev, path, with_changes))
        if len(made) == 2:
            raise SystemExit("stop before building anything")
        return compare.Side(rev, path)

    monkeypatch.setattr(compare, "_worktree", worktree)
    monkeypatch.setattr(compare, "_git", lambda *args, **kwargs: args[-1])  # rev-parse: each rev itself
    monkeypatch.setattr(sys, "argv", ["compare", "base-rev", "--head", "head-rev"])
    with pytest.raises(SystemExit, match="stop before"):
        compare.main()

    [(base_rev, base_path, base_changes), (head_rev, head_path, head_changes)] = made
    assert (base_rev, head_rev) == ("base-rev", "head-rev")
    assert base_path != head_path
    assert not base_changes and not head_changes
