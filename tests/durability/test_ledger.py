"""The effects ledger read while another process appends to it.

Two recoverers (scenario 6 of the crash matrix) write the same ledger at once, and each step reads
it whole before it writes its own line. A line another process is appending can then be seen in
part: the kernel copies a write that crosses a page boundary one page at a time, and a read in
between gets the first part, without its newline. A step that failed on that part made its saga
compensate, which the matrix then took for fireflytx compensating a saga whose steps all worked.
"""

from __future__ import annotations

import json
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import crash_sagas
import pytest
from crash_sagas import read_ledger, work

LINE = {"cid": "other", "unit": "c", "phase": "step", "attempt": 1, "key": "other:step:c", "pid": 1}
HALF = json.dumps(LINE)[:4]
"""What a reader sees of LINE while its writer is between the two pages it spans."""


def _ledger(tmp_path: Path, *lines: dict[str, Any]) -> Path:
    path = tmp_path / "ledger.jsonl"
    path.write_text("".join(json.dumps(line) + "\n" for line in lines))
    return path


def test_a_line_still_being_appended_is_left_for_the_next_read(tmp_path: Path) -> None:
    path = _ledger(tmp_path, LINE)
    with path.open("a") as ledger:
        ledger.write(HALF)
    assert read_ledger(path) == [LINE]

    with path.open("a") as ledger:
        ledger.write(json.dumps(LINE)[4:] + "\n")
    assert read_ledger(path) == [LINE, LINE]


def test_a_ledger_holding_only_part_of_its_first_line_reads_as_empty(tmp_path: Path) -> None:
    path = tmp_path / "ledger.jsonl"
    path.write_text(HALF)
    assert read_ledger(path) == []


def test_a_step_that_reads_the_ledger_mid_append_of_another_process_still_runs(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = _ledger(tmp_path, LINE)
    monkeypatch.setattr(crash_sagas._Effects, "ledger", path)  # a recovering process's ledger
    monkeypatch.setattr(crash_sagas._Effects, "hang", False)
    read_text = Path.read_text

    def mid_append(self: Path, *args: Any, **kwargs: Any) -> str:
        text = read_text(self, *args, **kwargs)
        return text + HALF if self == path else text

    monkeypatch.setattr(Path, "read_text", mid_append)
    ctx: Any = SimpleNamespace(correlation_id="mine", idempotency_key="mine:step:c")
    plan = {"hang": ["step", "c"]}

    assert work(plan, ctx, "step", "c") == plan

    monkeypatch.undo()
    mine = [line for line in read_ledger(path) if line["cid"] == "mine"]
    assert [(line["phase"], line["unit"], line["attempt"], line["key"]) for line in mine] == [
        ("step", "c", 1, "mine:step:c")
    ]
