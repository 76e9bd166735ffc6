"""Join video files end to end without re-encoding: ffmpeg's concat demuxer with stream copy,
the sound muxed once over the whole from its source.

Convert writes a long shot as segments, each a complete file in the final codec
(every segment starts on a keyframe, with the same encoder settings), so their
packets can follow each other as they are: the demuxer shifts each file's
timestamps by the durations of the files before it. The segments carry no
sound: cut once over the whole (`AudioSource`), it has no gap or click at the
joins, which muxing each segment's own stretch would leave at every border
(AAC frames do not end on video frame borders). The result is written under a
temporary name and renamed, as every writer does.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path

from ..errors import FaceswapError
from ..log import get_logger
from .audio import AudioSource, mux_args, probe_audio
from .ffmpeg_bin import complaint, run_ffmpeg
from .writers.base import partial_file, remove

__all__ = ["concat_files", "concat_list"]

log = get_logger(__name__)


def concat_list(paths: Sequence[Path]) -> str:
    """The concat demuxer's list file for `paths` (absolute, quoted as its syntax asks:
    a single quote is closed, escaped and reopened)."""
    lines = ["ffconcat version 1.0"]
    for path in paths:
        quoted = str(Path(path).resolve()).replace("'", "'\\''")
        lines.append(f"file '{quoted}'")
    return "\n".join(lines) + "\n"


def _cut_audio(audio: AudioSource, path: Path, timeout: float) -> bool:
    """Cut the sound of `audio` into `path` (a container of the output's kind), exactly as the
    video writer cuts it beside encoded frames (`mux_args`); False when the source has none.

    Its own step: `mux_args` ends with the output option `-ss 0`, which drops packets before
    the cut; on copied video it drops the first segment's packets up to the next keyframe
    (its first packets decode before time 0), so the sound is cut first and copied in."""
    probe = probe_audio(audio.path)
    if not probe.codecs:
        log.info("%s has no audio: the output will have none", audio.path.name)
        return False
    audio_in, audio_out = mux_args(audio, probe, path.suffix.lower(), input_number=0)
    proc = run_ffmpeg(["-loglevel", "error", *audio_in, "-vn", *audio_out, "-y", str(path)],
                      f"cut the audio of {audio.path}", timeout=timeout)
    if proc.returncode != 0:
        raise FaceswapError(f"cannot cut the audio of {audio.path}: {complaint(proc.stderr, 'ffmpeg failed')}")
    return True


def concat_files(paths: Sequence[Path], output: Path, *, audio: AudioSource | None = None,
                 metadata: dict[str, str] | None = None, timecode: str | None = None, timeout: float = 3600) -> bool:
    """Join the video files `paths` (same codec, size and settings; no sound) into `output` by
    stream copy, adding every audio track of `audio` (cut to its range; see `mux_args`) and the
    container tags `metadata` (nothing else of the segments' own tags) and the start `timecode`
    (HH:MM:SS:FF; a tmcd track in .mp4/.mov, a tag in .mkv), if given. Written as `.NAME.partial`
    beside `output`, then renamed over it. Returns whether sound was added (`audio` may have
    none). Raises FaceswapError (ffmpeg's complaint, one line) when ffmpeg fails; nothing is
    left under either name then."""
    if not paths:
        raise FaceswapError(f"cannot write {output}: no segments to join")
    output = Path(output)
    suffix = output.suffix.lower()
    tmp = partial_file(output)
    listing = tmp.with_name(tmp.name + ".ffconcat")
    listing.write_text(concat_list(paths), encoding="utf-8")
    sound = tmp.with_name(f".{output.stem}.partial-audio{output.suffix}")
    args = ["-loglevel", "error", "-f", "concat", "-safe", "0", "-i", str(listing)]
    has_audio = False
    try:
        if audio is not None:
            has_audio = _cut_audio(audio, sound, timeout)
            if has_audio:
                args += ["-i", str(sound)]
        args += ["-map", "0:v:0", "-c:v", "copy", *(["-map", "1:a", "-c:a", "copy"] if has_audio else []),
                 "-map_metadata", "-1"]
        for key, value in (metadata or {}).items():
            args += ["-metadata", f"{key}={value}"]
        args += ["-timecode", timecode] if timecode else []
        if suffix in (".mp4", ".m4v", ".mov"):
            # as the video writer: keep every tag; faststart puts the index first for streaming
            args += ["-movflags", "+use_metadata_tags" + ("+faststart" if suffix in (".mp4", ".m4v") else "")]
        args += ["-y", str(tmp)]
        proc = run_ffmpeg(args, f"join the segments into {output}", timeout=timeout)
        if proc.returncode != 0:
            raise FaceswapError(f"cannot write {output}: {complaint(proc.stderr, 'ffmpeg failed to join the segments')}")
        os.replace(tmp, output)
    except BaseException:
        remove(tmp)
        raise
    finally:
        remove(listing)
        remove(sound)
    return has_audio
