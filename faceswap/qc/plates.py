"""qc of image sequences (plates): frames read as the model saw them, and the integrity checks
that apply to a plate: the same frame numbers, size and stored type as the input's."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ..media.plates import read_plate
from ..media.source import FrameSource
from .integrity import Check, Integrity


@dataclass
class _Info:
    frame_count: int


class SequenceReader:
    """A VideoReader's interface over an image sequence: `(plate frame number, working-space
    uint8 RGB frame)`, with `info.frame_count`, `frames_read` and `warning` (None)."""

    def __init__(self, path: str | Path, within: tuple[int, int] | None = None) -> None:
        """`within` (FIRST, LAST): only those plate frames (the range an output was converted from)."""
        self.source = FrameSource(path, start=within[0] if within else 0)
        self.within = within
        numbers = self.source.sequence.frames if self.source.sequence else ()
        self.frames = tuple(f for f in numbers if within is None or within[0] <= f <= within[1])
        self.info = _Info(len(self.frames))
        self.frames_read = 0
        self.warning: str | None = None

    def __iter__(self) -> Iterator[tuple[int, np.ndarray]]:
        for frame in self.source:
            if self.within is not None and frame.index > self.within[1]:
                break
            self.frames_read += 1
            yield frame.index, frame.image


def sequence_readers(output: str | Path, original: str | Path) -> tuple[SequenceReader, SequenceReader]:
    """Readers of a converted sequence and of its input over the output's frame range: qc pairs
    plate frame numbers, so an output of frames 1100-1109 is measured against those."""
    out = SequenceReader(output)
    return out, SequenceReader(original, (out.frames[0], out.frames[-1]))


def check_sequence_integrity(output: SequenceReader, original: SequenceReader,
                             ignore: tuple[str, ...] = ()) -> Integrity:
    """frame_count (the output has the plate frame numbers of the input over its range), size and
    depth (stored type and bits) of the output sequence against the input's, from the first frame
    of each."""
    out_seq, src_seq = output.source.sequence, original.source.sequence
    assert out_seq is not None and src_seq is not None
    extra = sorted(set(output.frames) - set(original.frames))
    lost = sorted(set(original.frames) - set(output.frames))
    note = ", ".join(s for s in (f"missing {lost[:5]}" if lost else "", f"extra {extra[:5]}" if extra else "") if s)
    first_out, first_src = read_plate(out_seq.path(out_seq.frames[0])), read_plate(src_seq.path(src_seq.frames[0]))
    size = [f"{p.pixels.shape[1]}x{p.pixels.shape[0]}" for p in (first_out, first_src)]
    depth = [f"{p.format} ({p.bits} bit)" for p in (first_out, first_src)]
    return Integrity([
        Check("frame_count", len(output.frames), len(original.frames), not note, note),
        Check("size", size[0], size[1], size[0] == size[1]),
        Check("depth", depth[0], depth[1], depth[0] == depth[1]),
    ], tuple(ignore))
