"""``_gc_pacing``: engines raise Python's young collection threshold while they run, and put it back."""

from __future__ import annotations

import gc

import pytest

from fireflytx import _gc_pacing

pytestmark = pytest.mark.usefixtures("no_gc_holder")


def test_the_first_hold_raises_generation_0_and_the_last_release_puts_back_what_it_found() -> None:
    assert _gc_pacing.hold(10_000)
    assert gc.get_threshold() == (10_000, 10, 10)
    assert _gc_pacing.hold(10_000)
    _gc_pacing.release()
    assert gc.get_threshold() == (10_000, 10, 10)  # one engine still runs
    _gc_pacing.release()
    assert gc.get_threshold() == (700, 10, 10)
    _gc_pacing.release()  # one too many changes nothing
    assert gc.get_threshold() == (700, 10, 10)


def test_none_holds_nothing() -> None:
    assert not _gc_pacing.hold(None)
    assert gc.get_threshold() == (700, 10, 10)
    assert _gc_pacing._holders == 0


def test_a_higher_threshold_the_application_chose_is_left_alone() -> None:
    gc.set_threshold(50_000, 20, 20)
    assert _gc_pacing.hold(10_000)
    assert gc.get_threshold() == (50_000, 20, 20)
    _gc_pacing.release()
    assert gc.get_threshold() == (50_000, 20, 20)


def test_a_threshold_the_application_set_while_engines_ran_is_kept() -> None:
    assert _gc_pacing.hold(10_000)
    gc.set_threshold(2_000, 10, 10)
    _gc_pacing.release()
    assert gc.get_threshold() == (2_000, 10, 10)
