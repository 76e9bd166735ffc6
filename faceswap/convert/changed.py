"""Which face tracks convert changed in each frame, kept as runs of frames with the same set.

The runs go into the provenance sidecar ("changed_tracks") and the run's summary, and
`faceswap qc` reports them beside its measures, so a reviewer sees per frame whose face
was replaced. Runs, not one entry per frame: a shot of 100 000 frames stays a few lines.
"""

from __future__ import annotations

from typing import Any


class ChangedTracks:
    """`add(frame, tracks)` once per output frame, in output order; `runs` is the record.

    Each run: {"frames": [first, last] input frame numbers, "output_frames": [first, last]
    (0-based position in the output), "tracks": sorted track ids changed ([] none)}.
    """

    def __init__(self) -> None:
        self.runs: list[dict[str, Any]] = []
        self._written = 0

    def add(self, frame: int, tracks: list[int]) -> None:
        ids = sorted(set(tracks))
        last = self.runs[-1] if self.runs else None
        if last is not None and last["tracks"] == ids and last["frames"][1] == frame - 1:
            last["frames"][1] = frame
            last["output_frames"][1] = self._written
        else:
            self.runs.append({"frames": [frame, frame], "output_frames": [self._written, self._written],
                              "tracks": ids})
        self._written += 1


__all__ = ["ChangedTracks"]
