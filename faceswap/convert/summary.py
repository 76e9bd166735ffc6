"""What one convert run did: the record the CLI prints and scripts read."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from .changed import ChangedTracks

__all__ = ["ConvertSummary"]


@dataclass
class ConvertSummary:
    """What one convert run did, for the console and for scripts."""

    input: str
    output: str
    frames: int = 0
    swapped: int = 0                                      # frames with at least one face changed
    faces: int = 0
    bridged: int = 0                                      # faces filled in across detection gaps
    tracks: set[int] = field(default_factory=set)         # face tracks changed
    no_face: list[str] = field(default_factory=list)     # frames passed through untouched
    shots: int = 1
    seconds: float = 0.0
    decode_warning: str | None = None
    sidecar: str | None = None
    preview: list[str] = field(default_factory=list)
    interrupted: bool = False
    changed: ChangedTracks = field(default_factory=ChangedTracks)  # per frame, the tracks changed (sidecar)
    segments: list[dict[str, Any]] = field(default_factory=list)   # segmented runs: each segment (segments.py)
    mostly_covered: int = 0                               # faces the occlusion net cut by more than half

    @property
    def speed_fps(self) -> float:
        """Processing speed: frames converted per second of wall time (not the footage's rate)."""
        return self.frames / self.seconds if self.seconds > 0 else 0.0

    @property
    def status(self) -> str:
        """"interrupted" or "done" (a run that found no face raises NoFaceError instead)."""
        return "interrupted" if self.interrupted else "done"

    def to_dict(self) -> dict[str, Any]:
        return {"input": self.input, "output": self.output, "frames": self.frames, "swapped": self.swapped,
                "faces": self.faces, "bridged": self.bridged, "tracks": sorted(self.tracks), "no_face": len(self.no_face),
                "no_face_frames": self.no_face[:50], "shots": self.shots, "seconds": round(self.seconds, 3),
                "speed_fps": round(self.speed_fps, 2), "decode_warning": self.decode_warning, "sidecar": self.sidecar,
                "preview": self.preview, "interrupted": self.interrupted, "mostly_covered": self.mostly_covered,
                **({"segments": self.segments} if self.segments else {})}
