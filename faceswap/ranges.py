"""The numeric range of an option, declared once on its options record's field.

Each options record (ExtractOptions, ConvertOptions, TrainConfig,
ModelConfig, QcOptions) marks a numeric field with `bounded(default, low,
high)`; its `validate()` calls `check_ranges`, so the CLI, the Python API and
a batch manifest (the same records) refuse the same value with the same line,
and `faceswap --help` reads the range from the same place (`range_of`).
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Any

from .errors import FaceswapError

_KEY = "range"


@dataclass(frozen=True)
class Range:
    """Closed bounds `low`..`high` (None: unbounded on that side); `low_open` excludes `low`
    itself, for a quantity that must be more than 0 (a learning rate, a time limit)."""

    low: float | None = None
    high: float | None = None
    low_open: bool = False

    def __contains__(self, value: float) -> bool:
        if self.low is not None and (value <= self.low if self.low_open else value < self.low):
            return False
        return self.high is None or value <= self.high

    def __str__(self) -> str:
        """The range in words, as it follows "must be": "in 0-51", "1 or more", "more than 0"."""
        low, high = (None if v is None else _shown(v) for v in (self.low, self.high))
        if self.low_open:
            return f"more than {low}" + (f" and at most {high}" if high is not None else "")
        if low is not None and high is not None:
            return f"in {low}-{high}" if self.low >= 0 else f"in {low} to {high}"
        if low is not None:
            return f"{low} or more"
        return f"at most {high}" if high is not None else "any number"


def bounded(default: Any, low: float | None = None, high: float | None = None, *,
            low_open: bool = False) -> Any:
    """A dataclass field with `default` whose value must lie in Range(low, high, low_open);
    None, where a field allows it, means "not set" and is never out of range."""
    return dataclasses.field(default=default, metadata={_KEY: Range(low, high, low_open)})


def range_of(cls: Any, name: str) -> Range | None:
    """The Range declared on field `name` of options dataclass `cls` (or an instance), or None."""
    return {f.name: f.metadata.get(_KEY) for f in dataclasses.fields(cls)}[name]


def option_name(name: str) -> str:
    """A field name as the CLI option that sets it: batch_size -> --batch-size."""
    return "--" + name.replace("_", "-")


def check_ranges(record: Any) -> None:
    """FaceswapError "--crf must be in 0-51 (got 99)" for the first field of options
    dataclass `record` whose value is outside its declared Range (or not a number)."""
    for f in dataclasses.fields(record):
        rng = f.metadata.get(_KEY)
        value = getattr(record, f.name)
        if rng is None or value is None:
            continue
        if isinstance(value, bool) or not isinstance(value, (int, float)) or value != value or value not in rng:
            raise FaceswapError(f"{option_name(f.name)} must be {rng} (got {_shown(value)})")


def _shown(value: Any) -> str:
    return f"{value:g}" if isinstance(value, float) else repr(value)


__all__ = ["Range", "bounded", "check_ranges", "option_name", "range_of"]
