"""The README's testing example passes as a user's own test file."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

README = Path(__file__).resolve().parents[2] / "README.md"


def test_the_readmes_saga_test_passes(pytester: pytest.Pytester) -> None:
    section = README.read_text(encoding="utf-8").split("## Testing your own sagas", 1)[1].split("\n## ", 1)[0]
    (example,) = re.findall(r"```python\n(.*?)```", section, re.S)
    pytester.makeini("[pytest]\nasyncio_mode = auto\nasyncio_default_fixture_loop_scope = function\n")
    pytester.makepyfile(test_orders=example)
    result = pytester.runpytest_subprocess("-p", "fireflytx.testing.plugin", "-p", "no:randomly")
    result.assert_outcomes(passed=3)
