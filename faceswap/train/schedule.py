"""The learning rate over a run: held, then lowered linearly over the run's last stretch.

A run with a budget (--minutes or --iterations) keeps its learning rate until the last `decay`
share of that budget, then lowers it linearly to `floor` times the rate at the budget's end: the
warmup-stable-decay schedule (Hu et al., "MiniCPM", 2024; Hägele et al., "Scaling laws and
compute-optimal training beyond fixed training durations", NeurIPS 2024). The decay is what
takes the noise of Adam's last steps out of the weights, which a constant rate leaves in as a
softer, less steady face; holding the rate until then (rather than a cosine over the whole run)
keeps a run that is resumed with a new budget as good as one trained in one go. A run without a
budget keeps its rate.
"""

from __future__ import annotations

from .. import defaults


def lr_factor(progress: float, decay: float = defaults.LR_DECAY, floor: float = defaults.LR_FLOOR) -> float:
    """The learning rate's multiplier at `progress` (share of the run's budget spent, 0..1; clipped).

    decay: the share of the budget at its end over which the rate falls (0 = never);
    floor: the multiplier it reaches at the end. 1.0 before the decay starts.
    """
    progress = min(max(progress, 0.0), 1.0)
    if decay <= 0 or progress <= 1.0 - decay:
        return 1.0
    return 1.0 - (1.0 - floor) * (progress - (1.0 - decay)) / decay


def run_progress(elapsed_s: float, minutes: float | None, done: int, iterations_left: int | None) -> float:
    """The share of a run's budget spent (0..1): the larger of its time share (`elapsed_s` of
    `minutes`) and its step share (`done` of the `iterations_left` it had at its start); 0 for a
    run without a budget."""
    shares = []
    if minutes:
        shares.append(elapsed_s / (minutes * 60.0))
    if iterations_left is not None:
        shares.append(done / max(iterations_left, 1))
    return min(max(shares, default=0.0), 1.0)


__all__ = ["lr_factor", "run_progress"]
