"""Convert options: one record shared by the CLI, the Python API and batch manifests."""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

from .. import defaults
from ..errors import FaceswapError
from ..media.colour import ColourOptions, check_colour
from ..ranges import bounded, check_ranges

MODES = ("swap", "reenact")
SIDES = ("a", "b")                          # the model's two identities (decoders)
AUDIO_SOURCES = ("input", "driver", "none")


def parse_frames(text: str | None) -> tuple[int, int | None]:
    """'START:END' (0-based, END excluded, either side may be empty) -> (start, end or None)."""
    if not text:
        return 0, None
    start_s, sep, end_s = text.partition(":")
    try:
        start = int(start_s) if start_s.strip() else 0
        end = int(end_s) if sep and end_s.strip() else None
    except ValueError:
        raise FaceswapError(f"--frames must look like START:END (frame numbers), not {text!r}") from None
    if not sep:
        raise FaceswapError(f"--frames must look like START:END (frame numbers), not {text!r}")
    if start < 0 or (end is not None and end <= start):
        raise FaceswapError(f"--frames {text}: need 0 <= START < END")
    return start, end


@dataclass
class ConvertOptions(ColourOptions):
    """How convert runs. Numeric fields carry their range (faceswap/ranges.py), checked by `validate`;
    where --frames and --preview fall in the footage is checked against it (convert/frame_range.py)."""

    mode: str = MODES[0]                    # one of MODES
    to: str | None = None                   # swap: the identity put in (default b); reenact: the footage's own
    driver: str | None = None               # reenact: the video whose expressions drive the footage
    region: str = defaults.REENACT_REGION   # reenact: mouth | lower | face
    driver_end: str = defaults.DRIVER_END   # reenact: stop | loop | hold
    audio: str | None = None                # input | driver | none (default: input for swap, driver for reenact)
    alignments: str | None = None           # extract's <source>.alignments.jsonl (or its faceset folder)
    track: int | None = bounded(None, 0)       # a track id as extract numbers them (from 0)
    reference: str | None = None
    reference_threshold: float = bounded(defaults.REFERENCE_THRESHOLD, 0, low_open=True)
    all_faces: bool = False
    detector: str = defaults.DETECTOR
    confidence: float = bounded(defaults.DETECT_CONFIDENCE, *defaults.CONFIDENCE_RANGE)
    detect_every: int = bounded(defaults.DETECT_EVERY, 1)
    smooth: float = bounded(defaults.SMOOTH, 0)  # sigma, frames
    bridge_gap: int = bounded(defaults.BRIDGE_GAP, 0)  # frames
    mask: str = defaults.MASK
    landmark_mask: str = defaults.LANDMARK_MASK
    erode: float = bounded(defaults.ERODE, -50, 50)  # % of the face width
    blur: float = bounded(defaults.BLUR, 0, 50)      # % of the face width
    occlusion_grow: float = bounded(defaults.OCCLUSION_GROW, 0, 20)  # % of the face width
    glasses: str = defaults.GLASSES         # face | keep | remove: the footage's glasses' frames
    detail: str = defaults.DETAIL           # reference | off: B's own detail on a face shown larger than rendered
    expression: str = defaults.EXPRESSION   # fit | off: the render warped onto the footage's landmarks
    color: str = defaults.COLOR
    color_from: str = defaults.COLOR_FROM   # face | skin: where the colour statistics come from
    blend: str = defaults.BLEND
    edge_match: float = bounded(defaults.EDGE_MATCH, 0, 50)  # % of the face width matched to the footage at the edge
    grain: float = bounded(defaults.GRAIN, 0, 1)  # share of the footage's finest grain laid over the face
    edge_steady: float = bounded(defaults.EDGE_STEADY, 0, 10)  # frames: the edge match's field averaged over a track
    codec: str | None = None                # None: from the output's suffix
    tonemap: str | None = None              # HLG/PQ video to BT.709 SDR ("bt709"); None: the transfer is kept
    watermark: str = defaults.WATERMARK     # auto | frame | face | off (media/watermark.py)
    sign_cert: str | None = None            # PEM certificate chain: C2PA Content Credentials (credentials.py)
    sign_key: str | None = None             # its PEM private key
    crf: int | None = bounded(None, *defaults.CRF_RANGE)  # None: the codec's default
    preset: str | None = None               # the H.264/H.265 encoder's speed preset
    frames: str | None = None               # START:END
    preview: int | None = bounded(None, 0)  # write this one frame as PNG instead of the video
    overwrite: bool = False
    batch_size: int = bounded(defaults.CONVERT_BATCH, 1)
    device: str = defaults.DEVICE

    def validate(self) -> None:
        """FaceswapError (one line naming the option) for a number out of its range, an unknown
        choice or options that do not go together."""
        from .blend import BLEND_METHODS
        from .color import COLOR_METHODS

        def choice(name: str, value: Any, allowed) -> None:
            if value not in allowed:
                raise FaceswapError(f"--{name.replace('_', '-')} must be one of {', '.join(allowed)}, not {value!r}")

        check_ranges(self)
        choice("mode", self.mode, MODES)
        if self.to is not None:
            choice("to", self.to, SIDES)
        choice("region", self.region, defaults.REENACT_REGIONS)
        choice("driver_end", self.driver_end, defaults.DRIVER_ENDS)
        if self.audio is not None:
            choice("audio", self.audio, AUDIO_SOURCES)
        choice("mask", self.mask, defaults.MASKS)
        choice("landmark_mask", self.landmark_mask, defaults.LANDMARK_MASKS)
        choice("glasses", self.glasses, defaults.GLASSES_MODES)
        choice("detail", self.detail, defaults.DETAIL_MODES)
        choice("expression", self.expression, defaults.EXPRESSION_MODES)
        choice("color", self.color, tuple(COLOR_METHODS))
        choice("color_from", self.color_from, defaults.COLOR_SOURCES)
        choice("blend", self.blend, tuple(BLEND_METHODS))
        choice("detector", self.detector, defaults.DETECTORS)
        choice("device", self.device, defaults.DEVICES)
        if self.preset is not None:
            choice("preset", self.preset, defaults.ENCODER_PRESETS)
        if self.tonemap is not None:
            choice("tonemap", self.tonemap, defaults.TONEMAPS)
        choice("watermark", self.watermark, defaults.WATERMARKS)
        if self.mode == "reenact" and not self.driver:
            raise FaceswapError("--mode reenact needs --driver DRIVER_VIDEO")
        if self.mode == "swap" and self.driver:
            raise FaceswapError("--driver is for --mode reenact")
        if self.audio == "driver" and self.mode != "reenact":
            raise FaceswapError("--audio driver is for --mode reenact")
        if self.track is not None and self.reference:
            raise FaceswapError("give --track or --reference, not both")
        if bool(self.sign_cert) != bool(self.sign_key):
            raise FaceswapError("--sign-cert and --sign-key go together: the certificate and its private key")
        parse_frames(self.frames)
        check_colour(self)

    @property
    def audio_source(self) -> str:
        if self.audio is not None:
            return self.audio
        return "driver" if self.mode == "reenact" else "input"

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


__all__ = ["AUDIO_SOURCES", "ConvertOptions", "MODES", "SIDES", "parse_frames"]
