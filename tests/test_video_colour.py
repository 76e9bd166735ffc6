"""Video as cameras deliver it beyond 8 bits: 10-bit HLG and PQ HEVC, 12-bit ProRes 4444, full-range
BT.601. Each converts at its own depth with its colour tags, and outside the face it shows the
same levels as the input: the mean difference within 1 code value through a lossy codec, and
every pixel within 1 code value through a lossless one (FFV1).

The inputs are one second of d19.mp4 re-encoded here with the bundled ffmpeg and tagged with
setparams (ffmpeg 7+ ignores -color_trc for frames that carry their own, unset, tags).
"""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner

from faceswap import cli
from faceswap.convert.options import ConvertOptions
from faceswap.convert.pipeline import convert
from faceswap.media.ffmpeg_bin import run_ffmpeg
from faceswap.media.probe import probe_video
from faceswap.media.video_reader import VideoReader

pytestmark = pytest.mark.slow

FRAMES = 12

# name -> (ffmpeg output options making it from d19, its colour tags as probe_video reads them, bits)
SOURCES = {
    "hlg.mov": (["-vf", "scale=out_color_matrix=bt2020:out_range=tv,format=yuv420p10le,setparams=color_primaries="
                 "bt2020:color_trc=arib-std-b67:colorspace=bt2020nc:range=tv", "-c:v", "libx265", "-crf", "10",
                 "-x265-params", "log-level=error", "-tag:v", "hvc1"],
                {"range": "tv", "space": "bt2020nc", "primaries": "bt2020", "transfer": "arib-std-b67"}, 10),
    "pq.mp4": (["-vf", "scale=out_color_matrix=bt2020:out_range=tv,format=yuv420p10le,setparams=color_primaries="
                "bt2020:color_trc=smpte2084:colorspace=bt2020nc:range=tv", "-c:v", "libx265", "-crf", "10",
                "-x265-params", "log-level=error", "-tag:v", "hvc1"],
               {"range": "tv", "space": "bt2020nc", "primaries": "bt2020", "transfer": "smpte2084"}, 10),
    "prores12.mov": (["-vf", "scale=out_color_matrix=bt709:out_range=tv,format=yuv444p12le,setparams=color_primaries="
                      "bt709:color_trc=bt709:colorspace=bt709:range=tv", "-c:v", "prores_ks", "-profile:v", "4"],
                     {"range": "tv", "space": "bt709", "primaries": "bt709", "transfer": "bt709"}, 12),
    "full601.mp4": (["-vf", "scale=out_color_matrix=bt601:out_range=pc,format=yuvj420p,setparams=color_primaries="
                     "smpte170m:color_trc=smpte170m:colorspace=smpte170m:range=pc", "-c:v", "libx264", "-crf", "10"],
                    {"range": "pc", "space": "smpte170m", "primaries": "smpte170m", "transfer": "smpte170m"}, 8),
}


@pytest.fixture(scope="module")
def sources(data, tmp_path_factory) -> dict[str, Path]:
    folder = tmp_path_factory.mktemp("deep_sources")
    out = {}
    for name, (args, _, _) in SOURCES.items():
        out[name] = folder / name
        run_ffmpeg(["-y", "-i", str(data / "video" / "d19.mp4"), "-frames:v", str(FRAMES), *args, str(out[name])],
                   f"make {name}")
    return out


def _levels(original: Path, output: Path, backend, bits: int | None = None) -> tuple[np.ndarray, float, float]:
    """(mean signed difference per channel, largest difference, mean change inside the face) of
    output against original, outside / inside each frame's face box grown by 60 % of its width,
    in code values of `bits` (default: the smaller bit depth of the two)."""
    bits = bits or min(probe_video(original).bits, probe_video(output).bits)
    bias, worst, inside = [], 0.0, []
    for (_, a), (_, b) in zip(VideoReader(original), VideoReader(output), strict=True):
        a, b = a.astype(np.float64), b.astype(np.float64)
        scale = 65535 / ((1 << bits) - 1) if a.max() > 255 else 1.0
        shown = (a / (257 if scale != 1 else 1)).astype(np.uint8)
        lm = backend.detect(shown)[0].landmarks
        (x0, y0), (x1, y1) = lm.min(0), lm.max(0)
        grow = 0.6 * (x1 - x0)
        face = np.zeros(a.shape[:2], bool)
        face[max(int(y0 - grow), 0):int(y1 + grow) + 1, max(int(x0 - grow), 0):int(x1 + grow) + 1] = True
        d = (b - a) / scale
        bias.append(d[~face].mean(axis=0))
        worst = max(worst, float(np.abs(d[~face]).max()))
        inside.append(float(np.abs(d[face]).mean()))
    return np.mean(bias, axis=0), worst, float(np.mean(inside))


def _stream_line(path: Path) -> str:
    return re.search(r"Video: .*", run_ffmpeg(["-i", str(path)], "probe").stderr)[0]


@pytest.mark.parametrize("name, output, pix_fmt, out_bits, carried", [
    ("hlg.mov", "out.mov", "yuv422p10le", 10, 10),       # ProRes 422 HQ, the .mov default
    ("pq.mp4", "out.mp4", "yuv420p10le", 10, 10),        # H.264 High 10
    ("prores12.mov", "out.mov", "yuv444p12le", 12, 10),  # ProRes 4444: decoded at 12 bits, prores_ks codes 10
    ("full601.mp4", "out.mp4", "yuvj420p", 8, 8),
])
def test_deep_and_tagged_video_keeps_its_depth_tags_and_levels(sources, swap_model, backend, tmp_path, name, output,
                                                               pix_fmt, out_bits, carried):
    _, tags, bits = SOURCES[name]
    assert probe_video(sources[name]).bits == bits and probe_video(sources[name]).colour == tags
    out = tmp_path / output
    # the pipeline's own levels: without the watermark (its own levels: test_watermark)
    summary = convert(sources[name], swap_model, out, ConvertOptions(all_faces=True, watermark="off"), progress=False)
    assert summary.frames == FRAMES and summary.swapped == FRAMES
    info = probe_video(out)
    assert (info.pix_fmt, info.bits) == (pix_fmt, out_bits), _stream_line(out)
    assert info.colour == tags, _stream_line(out)
    bias, _, inside = _levels(sources[name], out, backend, carried)
    assert np.abs(bias).max() < 1.0, bias       # no shift of levels outside the face (lossy codec: on average)
    assert inside > 1.0                          # while the face itself changed


@pytest.mark.parametrize("name, pix_fmt", [("hlg.mov", "gbrp10le"), ("prores12.mov", "gbrp12le"),
                                           ("full601.mp4", "bgr0")])
def test_through_a_lossless_codec_every_pixel_outside_the_face_is_within_one_code_value(
        sources, swap_model, backend, tmp_path, name, pix_fmt):
    out = tmp_path / "out.mkv"
    # the pipeline's own precision: without the watermark, whose levels test_watermark measures
    convert(sources[name], swap_model, out, ConvertOptions(all_faces=True, codec="ffv1", watermark="off"),
            progress=False)
    info = probe_video(out)
    assert info.pix_fmt == pix_fmt, _stream_line(out)
    assert {k: v for k, v in info.colour.items() if k in ("primaries", "transfer")} == {
        k: v for k, v in SOURCES[name][1].items() if k in ("primaries", "transfer")}
    _, worst, inside = _levels(sources[name], out, backend)
    assert worst <= 1.0, worst                  # 16-bit RGB rounded to the input's depth, nothing more
    assert inside > 1.0
    if name == "hlg.mov":
        _qc_measures_deep_video(out, sources[name], tmp_path)


def _qc_measures_deep_video(out: Path, source: Path, tmp_path: Path) -> None:
    """qc reads 10-bit video as 8-bit for its detector and measures, and its depth check fails
    an output that lost bits."""
    from faceswap.qc.options import QcOptions
    from faceswap.qc.run import run_qc
    s = run_qc(out, source, options=QcOptions()).summary
    assert s["frames"]["measured"] == FRAMES and s["coverage"]["input_face_frames"] == FRAMES, s["coverage"]
    assert s["integrity"]["depth"] == {"output": 10, "original": 10, "ok": True}
    eight = tmp_path / "eight.mp4"
    run_ffmpeg(["-y", "-i", str(out), "-pix_fmt", "yuv420p", "-c:v", "libx264", str(eight)], "make 8-bit")
    s = run_qc(eight, source, options=QcOptions(max_frames=2)).summary
    assert s["integrity"]["depth"]["ok"] is False
    assert any(f.startswith("integrity depth: output 8 vs input 10") for f in s["failures"]), s["failures"]


def test_tonemap_makes_hlg_bt709_sdr_only_when_asked(sources, swap_model, tmp_path, monkeypatch):
    out = tmp_path / "sdr.mov"
    convert(sources["hlg.mov"], swap_model, out, ConvertOptions(all_faces=True, tonemap="bt709"), progress=False)
    info = probe_video(out)
    assert info.colour == {"range": "tv", "space": "bt709", "primaries": "bt709", "transfer": "bt709"}
    from faceswap.provenance import read_sidecar
    record = read_sidecar(out)
    assert record["settings"]["tonemap"] == "bt709" and record["media"]["tonemap_from"]["transfer"] == "arib-std-b67"
    monkeypatch.setattr(cli, "filter_native_stderr", lambda: None)
    monkeypatch.setattr(cli, "setup_logging", lambda level: None)
    result = CliRunner().invoke(cli.main, ["convert", str(sources["full601.mp4"]), "-m", str(tmp_path / "no-model"),
                                           "-o", str(tmp_path / "x.mp4"), "--tonemap", "bt709", "--no-progress"])
    assert result.exit_code == 1
    assert result.stderr == "error: --tonemap bt709 is for HLG or PQ footage; full601.mp4 is smpte170m\n"
    assert not (tmp_path / "x.mp4").exists()


def test_an_untagged_8_bit_video_is_still_written_8_bit_bt709(data, swap_model, tmp_path):
    out = tmp_path / "out.mp4"
    convert(data / "video" / "d18.mp4", swap_model, out, ConvertOptions(all_faces=True, frames="0:6"), progress=False)
    info = probe_video(out)
    assert info.bits == 8 and info.pix_fmt == "yuv420p"
    assert info.colour == {"range": "tv", "space": "bt709", "primaries": "bt709", "transfer": "bt709"}


def test_rgb_video_written_as_yuv_gets_a_yuv_matrix(data, swap_model, backend, tmp_path):
    """RGB footage (FFV1 bgr0, whose matrix tag is GBR) into H.264: Y'CbCr tagged BT.709, not GBR
    (players read Y'CbCr tagged GBR as G, B, R: a green and magenta frame), and the levels outside
    the face those of the input."""
    rgb = tmp_path / "rgb.mkv"
    run_ffmpeg(["-y", "-i", str(data / "video" / "d19.mp4"), "-frames:v", "6", "-c:v", "ffv1", "-pix_fmt", "bgr0",
                str(rgb)], "make rgb")
    assert probe_video(rgb).colour.get("space") == "gbr"
    out = tmp_path / "out.mp4"
    convert(rgb, swap_model, out, ConvertOptions(all_faces=True, watermark="off"), progress=False)
    info = probe_video(out)
    assert info.pix_fmt == "yuv444p" and info.colour.get("space") == "bt709" and info.colour.get("range") == "tv"
    bias, _, _ = _levels(rgb, out, backend)
    assert np.abs(bias).max() < 1.0, bias


def _face_boxes(frames: list[np.ndarray], backend) -> list[np.ndarray]:
    """Each frame's face box grown by 60 % of its width, as a boolean mask (frames 16-bit RGB)."""
    out = []
    for a in frames:
        lm = backend.detect((a / 257).astype(np.uint8))[0].landmarks
        (x0, y0), (x1, y1) = lm.min(0), lm.max(0)
        grow = 0.6 * (x1 - x0)
        face = np.zeros(a.shape[:2], bool)
        face[max(int(y0 - grow), 0):int(y1 + grow) + 1, max(int(x0 - grow), 0):int(x1 + grow) + 1] = True
        out.append(face)
    return out


@pytest.mark.parametrize("name, pattern, sample, bits", [
    ("hlg.mov", "sh010_comp.####.exr", "half", 16),      # 10 bits: half float holds each code value
    ("prores12.mov", "sh010_comp.%04d.dpx", "uint16", 16),  # 12 bits: 16-bit DPX
    ("full601.mp4", "sh010_comp.#.tif", "uint8", 8),      # 8 bits: 8-bit TIFF
])
def test_video_written_as_plates_keeps_depth_numbers_timecode_and_sound(data, sources, swap_model, backend, tmp_path,
                                                                          name, pattern, sample, bits):
    import OpenImageIO as oiio

    from faceswap.media.timecode import smpte_timecode
    # the test source with timecode 01:00:10:00 and two sound tracks (PCM, AAC) added
    src = tmp_path / f"tc_{name}"
    run_ffmpeg(["-y", "-i", str(sources[name]), "-f", "lavfi", "-i", "sine=frequency=440:sample_rate=48000", "-f",
                "lavfi", "-i", "sine=frequency=660:sample_rate=48000", "-map", "0:v", "-map", "1:a", "-map", "2:a",
                "-t", f"{FRAMES / probe_video(sources[name]).fps:.4f}", "-c:v", "copy", "-c:a:0", "pcm_s24le",
                "-c:a:1", "aac", "-timecode", "01:00:10:00", str(src)], "add timecode and sound")
    out = tmp_path / "plates" / pattern
    summary = convert(src, swap_model, out, ConvertOptions(all_faces=True, frames="2:", watermark="off"),
                      progress=False)
    assert summary.frames == FRAMES - 2
    folder = tmp_path / "plates"
    numbers = sorted(int(p.name.split(".")[1]) for p in folder.glob("sh010_comp.*.*") if p.name.split(".")[1].isdigit()
                     and p.suffix == Path(pattern).suffix)
    assert numbers == list(range(1003, 1001 + FRAMES))            # frame N of the video is plate 1001 + N
    assert sorted(p.name for p in folder.glob("sh010_comp*.wav")) + sorted(
        p.name for p in folder.glob("sh010_comp*.m4a")) == ["sh010_comp.wav", "sh010_comp.2.m4a"]
    for sound, codec in (("sh010_comp.wav", "pcm_s24le"), ("sh010_comp.2.m4a", "aac")):
        probe = run_ffmpeg(["-i", str(folder / sound)], "probe").stderr
        assert re.findall(r"Audio: (\w+)", probe) == [codec]
        seconds = [int(h) * 3600 + int(m) * 60 + float(s) for h, m, s in re.findall(r"Duration: (\d+):(\d+):([\d.]+)", probe)]
        assert abs(seconds[0] - (FRAMES - 2) / probe_video(src).fps) < 0.05, seconds   # the frames written
    video = {i: img.astype(np.uint16) * (257 if img.dtype == np.uint8 else 1) for i, img in VideoReader(sources[name])
             if i >= 2}
    faces = _face_boxes([video[n - 1001] for n in numbers], backend)
    source_bits = SOURCES[name][2]
    worst, inside = 0.0, []
    for number, face in zip(numbers, faces):
        image = oiio.ImageInput.open(str(folder / f"sh010_comp.{number}{Path(pattern).suffix}"))
        spec = image.spec()
        pixels = np.asarray(image.read_image(0, 0, 0, 3, spec.format), dtype=np.float64)
        image.close()
        assert (str(spec.format), spec.get_int_attribute("oiio:BitsPerSample", spec.format.size() * 8)) == (sample, bits)
        # EXR and DPX hold a timecode, TIFF none; DPX and TIFF hold no free entries: DPX its own
        # transfer field, both a text (DPX's of 32 characters)
        if not pattern.endswith(".tif"):
            assert smpte_timecode(spec.getattribute("smpte:TimeCode")) == f"01:00:10:{number - 1001:02d}"
        if pattern.endswith(".dpx"):
            assert spec.get_string_attribute("dpx:Transfer") == "ITU-R 709-4"
        if not pattern.endswith(".exr"):
            assert spec.get_string_attribute("ImageDescription").startswith("Synthetic media")
        else:
            assert spec.get_string_attribute("faceswap:colour_transfer") == SOURCES[name][1]["transfer"]
            assert spec.get_string_attribute("faceswap:synthetic") == "1"
        full = 1.0 if sample == "half" else float((1 << spec.format.size() * 8) - 1)
        # both in code values of the source's depth
        d = (pixels / full - video[number - 1001] / 65535.0) * ((1 << source_bits) - 1)
        worst = max(worst, float(np.abs(d[~face]).max()))
        inside.append(float(np.abs(d[face]).mean()))
    assert worst <= 0.5, worst            # outside the face: the video's own code values, rounded once
    assert np.mean(inside) > 1.0          # the face changed
    if pattern.endswith(".exr"):
        _plates_from_video_read_back_as_they_are(folder / "sh010_comp.####.exr", numbers, swap_model, tmp_path,
                                                 probe_video(src).fps)


def _plates_from_video_read_back_as_they_are(pattern: Path, numbers: list[int], swap_model, tmp_path: Path,
                                             fps: float) -> None:
    """EXR plates holding a video's code values are shown to the model as those values (a plain
    float EXR is taken as ACEScg and transformed), and their header's rate is the sequence's."""
    import json

    import OpenImageIO as oiio

    from faceswap.media.source import FrameSource
    frame = next(iter(FrameSource(pattern)))
    stored = np.asarray(oiio.ImageInput.open(str(pattern.parent / f"sh010_comp.{numbers[0]}.exr"))
                        .read_image(0, 0, 0, 3, "float"))
    assert np.abs(frame.image - stored * 255.0).max() <= 0.51
    convert(pattern, swap_model, tmp_path / "patches", ConvertOptions(all_faces=True, codec="patch"), progress=False)
    assert json.loads((tmp_path / "patches" / "patches.json").read_text())["fps"] == pytest.approx(fps)


@pytest.mark.parametrize("output, extra, said", [
    ("x.####.mov", [], "error: cannot write x.####.mov: a video becomes plates in one of .exr, .dpx, .tif, .tiff, "
                       ".png (e.g. x.####.exr)\n"),
    ("x.####.exr", ["--codec", "h264"], "error: --codec h264 is for video files: x.####.exr is an image sequence, "
                                        "written as .exr files\n"),
    ("x.####.exr", ["--tonemap", "bt709"], "error: --tonemap is for video outputs: plates keep the footage's own "
                                           "encoding\n"),
])
def test_video_to_plates_refuses_what_it_cannot_write_before_any_work(sources, tmp_path, monkeypatch, output, extra,
                                                                       said):
    monkeypatch.setattr(cli, "filter_native_stderr", lambda: None)
    monkeypatch.setattr(cli, "setup_logging", lambda level: None)
    result = CliRunner().invoke(cli.main, ["convert", str(sources["hlg.mov"]), "-m", str(tmp_path / "no-model"),
                                           "-o", str(tmp_path / output), *extra, "--no-progress"])
    assert (result.exit_code, result.stderr) == (1, said)
    assert list(tmp_path.iterdir()) == []
