"""How `faceswap batch` runs (not what it converts: that is the manifest, batch/manifest.py).

Light on imports, so the CLI can read its defaults and ranges at start-up.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

from .. import defaults
from ..errors import FaceswapError
from ..ranges import bounded, check_ranges


@dataclass
class BatchOptions:
    """Settings of one batch run; defaults in faceswap/defaults.py, ranges checked by `validate`."""

    jobs: int = bounded(defaults.BATCH_JOBS, 1)                    # shots (or segments) at once
    cluster: str | None = None                                     # "ray", "ray://HOST:PORT"; None: this machine
    segment_frames: int | None = bounded(defaults.SEGMENT_FRAMES, 2)  # None: every shot in one piece
    retries: int = bounded(defaults.BATCH_RETRIES, 0)              # further tries of a failed shot
    report: str | None = None                                      # None: <manifest stem>-report/ beside it
    check: bool = False                                            # validate and list the shots only

    def validate(self) -> None:
        """FaceswapError (one line naming the option) for a number out of its range or a cluster
        address that is neither "ray" nor ray://HOST:PORT."""
        check_ranges(self)
        if self.cluster is not None and self.cluster != "ray" and not self.cluster.startswith("ray://"):
            raise FaceswapError(f"--cluster takes 'ray' or ray://HOST:PORT, not {self.cluster!r}")

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


__all__ = ["BatchOptions"]
