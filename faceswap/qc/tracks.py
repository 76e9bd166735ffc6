"""Which face tracks convert changed in each frame of the output, read from its provenance sidecar."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from ..errors import FaceswapError
from ..provenance import read_sidecar, sidecar_path


def changed_tracks(output: str | Path) -> dict[str, Any] | None:
    """{"source": the sidecar, "tracks": every track id changed, "frames_changed": output frames
    with a face changed, "runs": convert's per-frame record} for a converted `output`; None when
    it has no sidecar, or one written before convert recorded its tracks.

    Each run covers consecutive frames with the same tracks changed: {"frames": [first, last]
    input frame numbers, "output_frames": [first, last] 0-based output positions, "tracks": ids}.
    """
    try:
        runs = read_sidecar(output).get("changed_tracks")
    except FaceswapError:
        return None
    if not isinstance(runs, list):
        return None
    return {"source": str(sidecar_path(output)),
            "tracks": sorted({t for r in runs for t in r["tracks"]}),
            "frames_changed": sum(r["output_frames"][1] - r["output_frames"][0] + 1 for r in runs if r["tracks"]),
            "runs": runs}


__all__ = ["changed_tracks"]
