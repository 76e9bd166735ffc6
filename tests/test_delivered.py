"""Footage as it is delivered: phone clips with a display rotation, EXIF-rotated stills,
odd sizes and 4:4:4 chroma, and a disk that fills up while the output is written.

Inputs are made from s18.mp4 in the test with the bundled ffmpeg (one second, small).
"""

from __future__ import annotations

import json
import logging
import os
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from faceswap.errors import FaceswapError
from faceswap.media.ffmpeg_bin import complaint, ffmpeg_exe, is_progress
from faceswap.media.images import read_image
from faceswap.media.probe import probe_video
from faceswap.media.video_reader import VideoReader

# s18 is 1280x720 with the face right of centre: a 405x720 strip around it is a portrait shot
PORTRAIT = "crop=405:720:540:0,scale=270:480,setsar=1"


def ffmpeg(*args: str) -> None:
    subprocess.run([ffmpeg_exe(), "-v", "error", "-y", *args], check=True)


def frames(path: Path) -> list[np.ndarray]:
    """8-bit RGB frames (a video of more than 8 bits, as ProRes 4444 decodes, rounded to 8)."""
    return [f.copy() if f.dtype == np.uint8 else ((f.astype(np.uint32) + 128) // 257).astype(np.uint8)
            for _, f in VideoReader(path)]


@pytest.fixture(scope="module")
def phone(data: Path, tmp_path_factory) -> tuple[Path, Path]:
    """(phone clip, its upright reference): a portrait shot stored landscape (480x270, the pixels
    turned a quarter counterclockwise) with a display matrix that turns it back, as phones write
    it; the reference is the same shot stored upright."""
    root = tmp_path_factory.mktemp("phone")
    src = data / "video" / "s18.mp4"
    ffmpeg("-i", str(src), "-t", "1", "-vf", PORTRAIT, "-c:v", "libx264", "-crf", "12", "-an",
           str(root / "upright.mkv"))
    ffmpeg("-i", str(src), "-t", "1", "-vf", PORTRAIT + ",transpose=2", "-c:v", "libx264", "-pix_fmt", "yuv420p",
           "-c:a", "aac", str(root / "stored.mp4"))
    ffmpeg("-display_rotation", "-90", "-i", str(root / "stored.mp4"), "-c", "copy", str(root / "phone.mp4"))
    return root / "phone.mp4", root / "upright.mkv"


@pytest.fixture(scope="module")
def odd444(data: Path, tmp_path_factory) -> Path:
    """The issue's clip: 721x405 H.264 4:4:4, one second with sound."""
    out = tmp_path_factory.mktemp("odd") / "odd444.mp4"
    ffmpeg("-i", str(data / "video" / "s18.mp4"), "-t", "1", "-vf", "scale=721:405", "-pix_fmt", "yuv444p",
           "-c:v", "libx264", "-c:a", "aac", str(out))
    return out


# --- 1. rotation ---------------------------------------------------------------------------------

def test_phone_clip_is_read_upright(phone) -> None:
    """Before: the probe missed ffmpeg 6+'s "Display Matrix" line, kept the stored 480x270 while
    ffmpeg decoded upright 270x480 frames, and the reader cut the byte stream at the wrong
    width: every frame was stripes (no face found anywhere)."""
    clip, upright = phone
    info = probe_video(clip)
    assert (info.width, info.height) == (270, 480)
    assert (info.rotation, info.stored_size) == (90, (480, 270))
    got, want = frames(clip), frames(upright)
    assert len(got) == len(want) == 30
    diff = [float(np.abs(a.astype(int) - b).mean()) for a, b in zip(got, want)]
    assert max(diff) < 3.0, diff   # two encodes of the same pixels; a scrambled frame is ~40 off


def test_exif_orientation_of_stills(data: Path, tmp_path: Path) -> None:
    """Every EXIF orientation of a JPEG, PNG and WebP still reads as the upright photo.
    Before: OpenCV applied JPEG's and PNG's but ignored WebP's (orientations 2-8 came out
    turned or mirrored)."""
    from PIL import Image
    upright = Image.open(data / "stills" / "s0.jpg").convert("RGB").resize((150, 176))
    want = np.asarray(upright).astype(int)
    # the stored pixels for each orientation tag: the inverse of what the tag asks a viewer to do
    stored = {1: [], 2: [Image.Transpose.FLIP_LEFT_RIGHT], 3: [Image.Transpose.ROTATE_180],
              4: [Image.Transpose.FLIP_TOP_BOTTOM], 5: [Image.Transpose.TRANSPOSE],
              6: [Image.Transpose.ROTATE_90], 7: [Image.Transpose.TRANSVERSE], 8: [Image.Transpose.ROTATE_270]}
    bad = []
    for tag, ops in stored.items():
        img = upright
        for op in ops:
            img = img.transpose(op)
        exif = Image.Exif()
        exif[0x0112] = tag
        for suffix in (".jpg", ".png", ".webp"):
            path = tmp_path / f"o{tag}{suffix}"
            img.save(path, exif=exif.tobytes(), quality=95)
            got = read_image(path)
            if got is None or got.shape != want.shape or np.abs(got.astype(int) - want).mean() > 4:
                bad.append(path.name)
    assert not bad, bad


@pytest.mark.slow
def test_phone_clip_extract_and_convert_are_upright(phone, swap_model, tmp_path, caplog) -> None:
    """Before: extract found no face in the phone clip (exit 3) and convert wrote nothing.
    After: crops are cut from upright frames (the same pixels as the upright reference's), the
    contact sheet shows them, and the output is 270x480 with no rotation tag: it plays as the
    input plays, the background untouched."""
    from faceswap.api import extract
    from faceswap.convert.options import ConvertOptions
    from faceswap.convert.pipeline import convert
    from faceswap.data.faceset import iter_faceset, read_crop
    from faceswap.extract.options import ExtractOptions
    from faceswap.faces.geometry import warp
    clip, upright = phone
    want = frames(upright)
    caplog.set_level(logging.INFO)
    result = extract(clip, tmp_path / "faces", ExtractOptions(size=128, preview=True), progress=False)
    assert result.summaries[0].frames_with_faces >= 28, result.summaries[0]
    assert result.contact_sheet is not None and result.contact_sheet.is_file()
    assert any(r.message.startswith("rotation: phone.mp4 is stored 480x270") for r in caplog.records)
    records = list(iter_faceset(tmp_path / "faces"))
    assert len(records) >= 28
    for rec in records[::7]:
        crop, meta = read_crop(rec.path)
        assert (rec.landmarks[:, 0] < 270).all() and (rec.landmarks[:, 1] < 480).all()
        ref = warp(want[meta["frame"]], np.asarray(meta["crop"]["matrix"], np.float64), 128)
        assert np.abs(crop.astype(int) - ref).mean() < 4.0, rec.path.name
    out = tmp_path / "out.mp4"
    s = convert(clip, swap_model, out, ConvertOptions(), progress=False)
    assert s.swapped >= 28
    info = probe_video(out)
    assert (info.width, info.height, info.rotation) == (270, 480, 0)
    got = frames(out)
    assert len(got) == 30
    # the top of the frame (above the head) is not touched by the swap
    top = [float(np.abs(a[:60].astype(int) - b[:60]).mean()) for a, b in zip(got, want)]
    assert max(top) < 4.0, top
    media = json.loads(Path(s.sidecar).read_text())["media"]
    assert media["input"]["rotation"] == 90 and media["decisions"][0].startswith("rotation:")


# --- 3. sizes and chroma the codec would refuse --------------------------------------------------

def test_plan_keeps_chroma_and_size(odd444: Path, data: Path, tmp_path: Path, caplog) -> None:
    """One probe decides codec and pixel format; each decision is one INFO line. Before: no
    plan; the writer refused 721x405 for h264, h265 and prores and wrote 4:4:4 input as 4:2:0."""
    from faceswap.media.output_plan import plan_for
    caplog.set_level(logging.INFO)
    cases = {("x.mp4", None): ("h264", "yuv444p"), ("x.mkv", "h265"): ("h265", "yuv444p"),
             ("x.mov", None): ("prores4444", None), ("x.mov", "prores4444"): ("prores4444", None),
             ("x.mkv", "ffv1"): ("ffv1", None)}
    for (name, codec), want in cases.items():
        caplog.clear()
        plan = plan_for(odd444, tmp_path / name, codec)
        assert (plan.codec, plan.pix_fmt) == want, (name, codec)
        lines = [r.message for r in caplog.records if r.name == "faceswap.media.output_plan"]
        # scale=721:405 of a 16:9 frame makes 720:721 pixels: kept, so it still plays 16:9
        # the clip carries BT.709 tags (made by ffmpeg from a tagged encode): said to be kept
        assert [line.split(":")[0] for line in lines] == ["output", "colour", "aspect"], lines
        assert "721x405" in lines[0] and "shown 720x405" in lines[2] and plan.sar == (720, 721)
        assert plan.to_dict()["decisions"] == lines
    # 4:2:0 input, even size: as it was
    plan = plan_for(data / "video" / "d18.mp4", tmp_path / "x.mp4")
    assert (plan.codec, plan.pix_fmt) == ("h264", None)
    # a 4:2:0 codec asked for on an odd 4:2:0 input (FFV1 stores one): 4:4:4 of that codec, and why
    odd420 = tmp_path / "odd420.mkv"
    ffmpeg("-i", str(odd444), "-pix_fmt", "yuv420p", "-c:v", "ffv1", "-an", str(odd420))
    caplog.clear()
    plan = plan_for(odd420, tmp_path / "y.mp4", "h264")
    assert (plan.codec, plan.pix_fmt) == ("h264", "yuv444p")
    assert "because 721x405 is odd" in plan.notes[0], plan.notes


def test_writer_keeps_odd_size_in_444(odd444: Path, tmp_path: Path, frame_count) -> None:
    """Before: VideoWriter took no pixel format or pixel aspect and refused an odd h264 frame."""
    from faceswap.media.writers import open_writer
    src = frames(odd444)[:10]
    for name, codec, pix_fmt, want in (("a.mp4", "h264", "yuv444p", "yuv444p"),
                                       ("b.mov", "prores4444", None, "yuv444p12le"),  # how ffmpeg decodes it
                                       ("c.mkv", "ffv1", None, "bgr0")):
        writer = open_writer(tmp_path / name, codec, width=721, height=405, fps=30, pix_fmt=pix_fmt, sar=(720, 721))
        for frame in src:
            writer.write(frame)
        writer.close()
        info = probe_video(tmp_path / name)
        assert (info.width, info.height, info.pix_fmt, info.sar) == (721, 405, want, (720, 721))
        assert frame_count(tmp_path / name) == 10
        diff = [float(np.abs(a.astype(int) - b).mean()) for a, b in zip(frames(tmp_path / name), src)]
        assert max(diff) < 2.5, diff


@pytest.mark.slow
def test_odd_444_clip_converts_at_its_own_size(odd444: Path, swap_model, tmp_path, caplog, frame_count) -> None:
    """The issue's case end to end. Before: "h264 needs an even frame width and height" after the
    model had loaded. After: h264 4:4:4 at 721x405 with the input's 720:721 pixels (it plays at
    720x405 like the input), the decisions said before the model loads and kept in the
    provenance record."""
    from faceswap.convert.options import ConvertOptions
    from faceswap.convert.pipeline import convert
    caplog.set_level(logging.INFO)
    out = tmp_path / "out.mp4"
    s = convert(odd444, swap_model, out, ConvertOptions(), progress=False)
    info = probe_video(out)
    assert (info.width, info.height, info.pix_fmt, info.sar) == (721, 405, "yuv444p", (720, 721))
    assert frame_count(out) == 30 and info.has_audio
    messages = [r.message for r in caplog.records]
    decided = next(i for i, m in enumerate(messages) if m.startswith("output: h264 4:4:4"))
    loaded = next(i for i, m in enumerate(messages) if m.startswith("model "))
    assert decided < loaded, messages
    media = json.loads(Path(s.sidecar).read_text())["media"]
    assert media["pix_fmt"] == "yuv444p" and media["input"]["chroma"] == "4:4:4"
    # output, colour, aspect; then the mask this model without an occlusion net fell back to
    assert media["decisions"][:3] == messages[decided:decided + 3] and media["sar"] == [720, 721]
    assert [d.split(":")[0] for d in media["decisions"][3:]] == ["mask"], media["decisions"]


# --- disk full -----------------------------------------------------------------------------------

@pytest.mark.parametrize("codec,name", [("prores", "full.mov"), ("ffv1", "full.mkv"), ("h264", "full.mp4")])
def test_disk_full_says_so_and_leaves_nothing(tmp_path: Path, monkeypatch, codec: str, name: str) -> None:
    """A real ENOSPC: the writer's partial file is a link to /dev/full, which takes no byte.
    Before: the last line was whatever ffmpeg printed last ("Error sending frames to consumers:
    ...", "Error writing trailer: ...", or a progress line such as "bitrate=   2.2kbits/s")."""
    import faceswap.media.writers.video as video
    from faceswap.media.writers import VideoWriter
    real = video.partial_file

    def to_full(path: Path) -> Path:
        link = real(path)
        os.symlink("/dev/full", link)
        return link

    monkeypatch.setattr(video, "partial_file", to_full)
    frame = np.random.default_rng(3).integers(0, 255, (256, 256, 3), np.uint8)
    with pytest.raises(FaceswapError) as err:
        with VideoWriter(tmp_path / name, codec=codec, width=256, height=256, fps=30) as w:
            for _ in range(30):
                w.write(frame)
    assert str(err.value) == f"cannot write {tmp_path / name}: the disk is full (no space left on device)"
    assert not list(tmp_path.iterdir())   # the link is gone; /dev/full is not touched
    assert Path("/dev/full").exists()


_FILL_DISK = """
import os, sys
import numpy as np
from faceswap.errors import FaceswapError
from faceswap.media.writers import VideoWriter
disk = sys.argv[1]
with open(os.path.join(disk, "fill"), "wb") as fh:
    fh.write(bytes(100_000))
frame = np.random.default_rng(1).integers(0, 255, (128, 128, 3), np.uint8)
try:
    with VideoWriter(os.path.join(disk, "out.mov"), codec="prores", width=128, height=128, fps=30) as w:
        for _ in range(200):
            w.write(frame)
    print("wrote")
except FaceswapError as err:
    print(err)
print(sorted(os.listdir(disk)))
"""


def test_disk_full_on_a_real_small_disk(tmp_path: Path) -> None:
    """A 300 KiB tmpfs, mounted in a user namespace (no root needed), fills up part way
    through a ProRes file. Before: "cannot write .../out.mov: bitrate=   0.4kbits/s", a
    progress line, as ffmpeg's every other line that time was one that only says "failed"."""
    import faceswap
    unshare = shutil.which("unshare")
    if unshare is None or subprocess.run([unshare, "-rm", "true"], capture_output=True).returncode != 0:
        pytest.skip("no unprivileged mount namespace here to make a small disk in (the /dev/full tests still run)")
    disk = tmp_path / "disk"
    disk.mkdir()
    env = {**os.environ, "PYTHONPATH": str(Path(faceswap.__file__).resolve().parents[1])}
    run = subprocess.run([unshare, "-rm", "sh", "-c", 'mount -t tmpfs -o size=300k none "$1" && exec "$2" -c "$3" "$1"',
                          "sh", str(disk), sys.executable, _FILL_DISK], capture_output=True, text=True, env=env,
                         timeout=120)
    lines = run.stdout.strip().splitlines()
    assert run.returncode == 0 and len(lines) == 2, (run.stdout, run.stderr[-2000:])
    assert lines == [f"cannot write {disk / 'out.mov'}: the disk is full (no space left on device)", "['fill']"]


def test_progress_lines_are_not_a_complaint() -> None:
    """ffmpeg pads some -progress values ("bitrate=   2.2kbits/s"); before, they counted as its
    complaint."""
    assert is_progress("bitrate=   2.2kbits/s") and is_progress("speed= 1.5x")
    assert complaint(["bitrate=   2.2kbits/s", "progress=end"], "fallback") == "fallback"
    assert not is_progress("Error writing trailer: Invalid argument")


@pytest.mark.parametrize("side_data", [
    "      Display Matrix: rotation of 90.00 degrees",        # ffmpeg 6+
    "      displaymatrix: rotation of -90.00 degrees",        # ffmpeg 4.4-5
    "    Metadata:\n      rotate          : 270",             # ffmpeg 4 and older: a tag
])
def test_probe_reads_every_ffmpeg_rotation_format(tmp_path: Path, monkeypatch, side_data: str) -> None:
    """What each ffmpeg version prints for a phone clip's rotation; only this stream's own
    lines count (a second video stream's rotation does not turn the first)."""
    import faceswap.media.probe as probe
    clip = tmp_path / "phone.mp4"
    clip.write_bytes(b"")
    head = ("  Duration: 00:00:01.00, start: 0.000000, bitrate: 500 kb/s\n"
            "  Stream #0:0[0x1](und): Video: h264 (High) (avc1 / 0x31637661), yuv420p(tv, bt709, progressive), "
            "480x270 [SAR 1:2 DAR 16:9], 300 kb/s, 30 fps, 30 tbr, 15360 tbn (default)\n")
    other = ("  Stream #0:1[0x2](und): Video: mjpeg, yuvj420p, 320x240, 90k tbr\n"
             "      Display Matrix: rotation of 90.00 degrees\n")

    class Done:
        stderr = head + side_data + "\n" + "  Stream #0:2: Audio: aac, 44100 Hz, stereo\n"

    monkeypatch.setattr(probe, "run_ffmpeg", lambda *a, **k: Done)
    info = probe.probe_video(clip)
    assert (info.width, info.height, info.rotation, info.sar) == (270, 480, 90 if "90" in side_data else 270, (2, 1))
    Done.stderr = head + other
    info = probe.probe_video(clip)
    assert (info.width, info.height, info.rotation, info.sar) == (480, 270, 0, (1, 2))
