"""The learning rate's schedule over a run (faceswap.train.schedule)."""

from __future__ import annotations

import pytest

from faceswap.train.schedule import lr_factor, run_progress


def test_held_then_falls_linearly_to_the_floor():
    assert lr_factor(0.0, 0.3, 0.1) == lr_factor(0.7, 0.3, 0.1) == 1.0
    assert lr_factor(0.85, 0.3, 0.1) == pytest.approx(0.55)
    assert lr_factor(1.0, 0.3, 0.1) == pytest.approx(0.1)
    assert lr_factor(1.7, 0.3, 0.1) == pytest.approx(0.1)   # past the budget: held at the floor
    assert lr_factor(0.99, 0.0, 0.1) == 1.0                 # no decay: constant


def test_progress_is_the_larger_share_of_either_budget():
    assert run_progress(30.0, 1.0, 10, 100) == pytest.approx(0.5)    # half the minute, a tenth of the steps
    assert run_progress(6.0, 1.0, 80, 100) == pytest.approx(0.8)
    assert run_progress(600.0, None, 5, None) == 0.0                  # no budget: never decays
    assert run_progress(120.0, 1.0, 0, None) == 1.0
