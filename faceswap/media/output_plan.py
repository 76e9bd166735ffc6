"""What the output will be, decided once from one probe of the input before any work starts.

Each decision is one line, logged at INFO and kept in `OutputPlan.notes` for the
provenance record:

- rotation: a stream with a display rotation (phone footage) is decoded upright by
  ffmpeg, so every stage sees upright frames; the output is written upright, at the size
  the input is displayed at, with no rotation tag. (Copying the display matrix instead
  would mean turning every converted frame back before encoding, and PNG frames and
  compositor patches cannot carry one: written upright, every output and every player,
  NLE or compositor that ignores display matrices shows the same picture.)
- chroma: the input's chroma subsampling is kept when the codec can carry it
  (H.264/H.265 4:4:4 and 4:2:2, ProRes 4444, FFV1's RGB). A size that 4:2:0 (or 4:2:2)
  cannot hold is written in 4:4:4 of the same codec, never at a different size.
  The pipeline stays 8-bit (ProRes keeps its 10-bit container format).
- aspect: non-square pixels (anamorphic footage) are tagged on a video output, so it is
  shown at the input's width; PNG outputs cannot say it, the line gives the size to show.
- plates: video written to an image sequence pattern (`sh010_comp.####.exr`, `.dpx`, `.tif`,
  `.png`) becomes plates numbered from defaults.VIDEO_PLATE_START (1001 + the video's frame
  index; a range in the pattern, `sh010_comp.1-#.exr`, gives another first number) at the
  video's depth: half-float EXR (float above 10 bits), 10-bit DPX (16 above 10 bits), 8 or
  16-bit TIFF/PNG. The pixels are the video's own R'G'B' code values, not linearised (that is
  a colour decision the compositor makes with its OCIO config, e.g. oiiotool --colorconvert);
  the header says their encoding and carries each frame's timecode.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .. import defaults
from ..errors import FaceswapError
from ..log import get_logger
from .codecs import CODECS, check_output, chroma_of, codec_for, even_sides, fits
from .probe import VideoInfo, probe_video

__all__ = ["OutputPlan", "PlateFormat", "plan_for", "plan_output", "rotation_note"]

log = get_logger(__name__)

# The codec (a ProRes profile is a codec here) and pixel format that carry each chroma
# subsampling, for the codecs that do not carry every one (None: the codec's own format).
_CARRY: dict[str, dict[str, tuple[str, str | None]]] = {
    "h264": {"4:2:0": ("h264", None), "4:2:2": ("h264", "yuv422p"), "4:4:4": ("h264", "yuv444p")},
    "h265": {"4:2:0": ("h265", None), "4:2:2": ("h265", "yuv422p"), "4:4:4": ("h265", "yuv444p")},
    "prores": {"4:2:2": ("prores", None), "4:4:4": ("prores4444", None)},
}


def rotation_note(info: VideoInfo, output: bool = False) -> str | None:
    """The one line that says how a rotated input is read (and, with `output`, written);
    None for an input without a display rotation."""
    if not info.rotation:
        return None
    sw, sh = info.stored_size
    line = (f"rotation: {Path(info.path).name} is stored {sw}x{sh} with a {info.rotation} degree display "
            f"rotation: every stage sees it upright at {info.width}x{info.height}, as it plays")
    if output:
        line += "; the output is written upright at that size with no rotation tag, so it plays the same"
    return line


@dataclass(frozen=True)
class PlateFormat:
    """How a video's frames are stored as plates: file type `ext` (".exr"), OpenImageIO sample
    type `format` ("half", "float", "uint16", "uint8") and `bits` per sample (10 for a 10-bit
    DPX), numbered from `first` (the plate number of the video's frame 0)."""

    ext: str
    format: str
    bits: int
    first: int


@dataclass
class OutputPlan:
    """The output's codec, pixel format and pixel aspect, and why. `codec` None: the writer's
    own choice (images in, images out); `pix_fmt` None: the codec's own (see media/codecs.py);
    `input`: the probe's facts (sizes, rotation, pixel format, chroma, pixel aspect)."""

    codec: str | None
    pix_fmt: str | None = None
    sar: tuple[int, int] | None = None   # non-square pixels of the input, kept in a video output
    deep: bool = False                   # frames written from 16-bit RGB at more than 8 bits
    colour: dict[str, str | None] = field(default_factory=dict)  # the output's colour tags (the input's)
    tonemap_from: dict[str, str | None] | None = None  # --tonemap: the HDR input's tags, mapped to `colour`
    plates: PlateFormat | None = None    # video written as an image sequence: its files' format
    notes: list[str] = field(default_factory=list)
    input: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready, for the provenance record."""
        return {"codec": self.codec, "pix_fmt": self.pix_fmt, "sar": list(self.sar) if self.sar else None,
                "deep": self.deep, "colour": dict(self.colour), "tonemap_from": self.tonemap_from,
                "plates": dataclasses.asdict(self.plates) if self.plates else None,
                "input": dict(self.input), "decisions": list(self.notes)}


def plan_output(info: VideoInfo | None, output: str | Path | None, codec: str | None = None,
                images: bool = False, tonemap: str | None = None) -> OutputPlan:
    """Decide the output's codec and pixel format from the input's probe `info` (None: the
    input is an image or a folder of images) and the output path and `codec` the user gave
    (None: by the output's suffix, see `codec_for`; `images`: a folder of images stays
    one). `output` None: no video is written (a preview's PNGs): only the input's facts.
    Logs each decision as one INFO line. Raises FaceswapError (one line) for a suffix no
    codec is written to, or a codec the output cannot hold (see `check_output`)."""
    plan = OutputPlan(codec=codec if output is not None else "png")
    if info is not None:
        plan.input = {"name": Path(info.path).name, "size": [info.width, info.height],
                      "stored_size": list(info.stored_size), "rotation": info.rotation,
                      "pix_fmt": info.pix_fmt, "chroma": chroma_of(info.pix_fmt), "sar": list(info.sar)}
        note = rotation_note(info, output=output is not None)
        if note:
            plan.notes.append(note)
    if output is not None and codec is None and not images:
        plan.codec = codec_for(output)
    if output is not None and plan.codec in CODECS:
        check_output(output, plan.codec)  # now, not once the model has loaded
    video = plan.codec in CODECS and CODECS[plan.codec].encoder is not None
    if info is not None and video:
        _choose_format(plan, info, plan.codec)
        _choose_depth(plan, info, tonemap)
    if info is not None and info.sar[0] != info.sar[1]:
        plan.sar = info.sar if video else None
        shown = round(info.width * info.sar[0] / info.sar[1])
        plan.notes.append(f"aspect: {Path(info.path).name} has non-square pixels ({info.sar[0]}:{info.sar[1]}, "
                          f"shown {shown}x{info.height}): " + ("the output keeps that pixel aspect" if video else
                          f"{plan.codec} frames hold square pixels: show them at {shown}x{info.height}"))
    for note in plan.notes:
        log.info("%s", note)
    return plan


def plan_for(input_path: str | Path, output: str | Path | None, codec: str | None = None,
             tonemap: str | None = None) -> OutputPlan:
    """`plan_output` from one probe of `input_path`: a video file is probed, an image, a folder
    of images or an image sequence is not (images in, images out; a sequence goes to a sequence
    pattern or a folder). Raises FaceswapError (one line) for a video ffmpeg cannot read, or an
    output `plan_output` refuses."""
    from .sequence import is_sequence_spec
    from .source import source_kind

    path = Path(input_path)
    kind = source_kind(path)
    if kind == "sequence" and output is not None and Path(output).suffix and not is_sequence_spec(output):
        raise FaceswapError(f"{path.name} is an image sequence: write it as one, to a pattern such as "
                            f"{Path(output).stem}.####{path.suffix} or to a folder, not to {Path(output).name}")
    if kind == "sequence" and output is not None:
        _check_sequence_output(path, Path(output))
    video = kind == "video"
    if tonemap is not None and not video:
        raise FaceswapError(f"--tonemap is for HLG or PQ video; {path.name} is not a video")
    if video and output is not None and is_sequence_spec(output):
        return _plan_plates(probe_video(path), Path(output), codec, tonemap)
    return plan_output(probe_video(path) if video else None, output, codec, images=not video, tonemap=tonemap)


# The file types a video is written to as plates: (up to this many bits, sample type, bits
# stored), the first tier that holds the video's depth. Half float holds each 10-bit value.
_INTEGER = ((8, "uint8", 8), (16, "uint16", 16))
_PLATE_TYPES = {".exr": ((10, "half", 16), (16, "float", 32)), ".dpx": ((10, "uint16", 10), (16, "uint16", 16)),
                ".tif": _INTEGER, ".tiff": _INTEGER, ".png": _INTEGER}


def _plan_plates(info: VideoInfo, output: Path, codec: str | None, tonemap: str | None) -> OutputPlan:
    """A video written to an image sequence pattern: plates of the video's depth (see the
    module's notes). Raises FaceswapError (one line) for a file type not written as plates, a
    --codec (a video codec has no place in an image sequence) or a folder that cannot be made."""
    from .sequence import check_pattern_folder, first_number

    ext = output.suffix.lower()
    if ext not in _PLATE_TYPES:
        raise FaceswapError(f"cannot write {output.name}: a video becomes plates in one of "
                            f"{', '.join(_PLATE_TYPES)} (e.g. {output.stem.split('.')[0]}.####.exr)")
    if codec is not None:
        raise FaceswapError(f"--codec {codec} is for video files: {output.name} is an image sequence, "
                            f"written as {ext} files")
    check_pattern_folder(output)
    if tonemap is not None:
        raise FaceswapError("--tonemap is for video outputs: plates keep the footage's own encoding")
    plan = plan_output(info, None, None)
    plan.codec = "plates"
    said = len(plan.notes)
    _choose_depth(plan, info)   # the colour tags, said in one line
    tiers = _PLATE_TYPES[ext]
    sample, bits = next(((s, b) for most, s, b in tiers if info.bits <= most), tiers[-1][1:])
    plan.deep = info.deep
    plan.plates = PlateFormat(ext, sample, bits, first_number(output, defaults.VIDEO_PLATE_START))
    tags = ", ".join(f"{k} {v}" for k, v in plan.colour.items() if k != "range") or "untagged"
    line = (f"plates: {info.bits}-bit {Path(info.path).name} written as {bits}-bit "
            f"{'float' if sample in ('half', 'float') else 'integer'} {ext} frames numbered from "
            f"{plan.plates.first} (frame N of the video is plate {plan.plates.first} + N), as the video's own "
            f"R'G'B' code values ({tags}) at full range, not linearised: the header says so")
    plan.notes.append(line)
    for note in plan.notes[said:]:
        log.info("%s", note)
    return plan


def _check_sequence_output(source: Path, output: Path) -> None:
    """Refuse, before any work, a sequence output that could not be written: a folder whose
    parent is missing (the folder itself is made), or a pattern of another file type."""
    from .sequence import find_sequence, is_sequence_spec, output_pattern

    if is_sequence_spec(output):
        output_pattern(output, find_sequence(source))
    elif not output.is_dir() and not output.parent.is_dir():
        raise FaceswapError(f"cannot write {output}: folder {output.parent} does not exist")


# Transfer characteristics of HDR video: HLG (ARIB STD-B67) and PQ (SMPTE ST 2084).
HDR_TRANSFERS = ("arib-std-b67", "smpte2084")
# The most bits each codec's encoder writes (libx264 10, libx265 12, prores_ks 10, ffv1 16).
_MAX_BITS = {"h264": 10, "h265": 12, "prores": 10, "prores4444": 10, "ffv1": 16}


def _choose_depth(plan: OutputPlan, info: VideoInfo, tonemap: str | None = None) -> None:
    """Video of more than 8 bits is written at its own depth, as far as the codec goes, with its
    colour tags; 8-bit video keeps the 8-bit path (and BT.709 tags where it has none). `tonemap`
    "bt709": HLG or PQ input is tone mapped to BT.709 SDR (and tagged so); else FaceswapError."""
    codec = plan.codec or ""
    tags = {k: v for k, v in info.colour.items() if v}
    plan.colour = dict(tags)
    if tonemap is not None:
        if tags.get("transfer") not in HDR_TRANSFERS:
            raise FaceswapError(f"--tonemap {tonemap} is for HLG or PQ footage; {Path(info.path).name} is "
                                f"{tags.get('transfer') or 'untagged (taken as BT.709)'}")
        plan.tonemap_from = dict(tags)
        plan.colour = {"range": "tv", "space": "bt709", "primaries": "bt709", "transfer": "bt709"}
        plan.notes.append(f"colour: {tags['transfer']} tone mapped to BT.709 SDR (--tonemap {tonemap}; zscale + "
                          "tonemap hable), tagged bt709")
    elif tags:
        if tags.get("space") == "gbr" and codec in CODECS and CODECS[codec].yuv:
            # RGB footage (FFV1, PNG-in-MOV, a grade's RGB export) written as Y'CbCr: its RGB matrix tag
            # on Y'CbCr makes players read Y, Cb, Cr as G, B, R (a green and magenta picture)
            plan.colour.update(space="bt709", range="tv")
            plan.notes.append(f"colour: RGB input written as Y'CbCr ({codec}): BT.709 matrix, limited range")
            tags = {k: v for k, v in tags.items() if k not in ("space", "range")}
        if tags:
            plan.notes.append("colour: " + ", ".join(f"{k} {v}" for k, v in tags.items()) + " read from the input "
                              "and written unchanged (no tone mapping)")
    if not info.deep or codec not in _MAX_BITS:
        return
    plan.deep = True
    bits = min(info.bits, _MAX_BITS[codec])
    if codec in ("h264", "h265"):
        base = plan.pix_fmt or CODECS[codec].pix_fmt or "yuv420p"
        plan.pix_fmt = f"{base}{bits}le"
    elif codec == "ffv1":
        plan.pix_fmt = "gbrp16le" if info.bits > 12 else f"gbrp{bits}le"
    line = f"depth: {info.bits}-bit {Path(info.path).name} written at {bits} bits ({plan.pix_fmt or CODECS[codec].pix_fmt})"
    if bits < info.bits:
        line += f"; {codec} holds {_MAX_BITS[codec]} at most: ffv1 (.mkv) keeps all {info.bits}"
    plan.notes.append(line)


def _choose_format(plan: OutputPlan, info: VideoInfo, codec: str) -> None:
    """Pick the pixel format (and ProRes profile) that keeps the input's chroma and size."""
    size = f"{info.width}x{info.height}"
    if codec not in _CARRY:  # ffv1 (RGB), prores4444: every chroma, every size
        plan.notes.append(f"output: {codec} {'RGB' if codec == 'ffv1' else '4:4:4'} at {size}, "
                          f"which carries any chroma and size")
        return
    carry = _CARRY[codec]
    source = chroma_of(info.pix_fmt)
    own = chroma_of(CODECS[codec].pix_fmt or "")
    too_odd = not fits(own, info.width, info.height)
    odd_why = f"{size} is odd and {own} needs an even {'width and height' if even_sides(own)[1] else 'width'}"
    chroma = source if source in carry else own
    if not fits(chroma, info.width, info.height):
        chroma = "4:4:4"  # never a different size: the same codec in 4:4:4, which has no even-size rule
    plan.codec, plan.pix_fmt = carry[chroma]
    pix = plan.pix_fmt or CODECS[plan.codec].pix_fmt
    if chroma == own:
        why = "as the input" if chroma == source else f"the codec's own (the input is {info.pix_fmt or 'unknown'})"
    elif chroma == source:
        why = f"to keep the input's {source} chroma ({info.pix_fmt})" + (f"; {odd_why}" if too_odd else "")
    else:
        why = f"because {odd_why}"
    plan.notes.append(f"output: {plan.codec} {chroma} ({pix}) at {size}, {why}")
