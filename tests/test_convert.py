"""`faceswap convert`: a tiny model swaps and reenacts real footage; the output is probed."""

from __future__ import annotations

import hashlib
import signal
import subprocess
import sys
import time
from pathlib import Path

import cv2
import numpy as np
import pytest

from faceswap import defaults
from faceswap.convert.options import ConvertOptions
from faceswap.convert.pipeline import convert
from faceswap.errors import FaceswapError, NoFaceError
from faceswap.media.ffmpeg_bin import ffmpeg_exe
from faceswap.media.probe import probe_video
from faceswap.media.video_reader import VideoReader
from faceswap.qc.integrity import audio_seconds

pytestmark = pytest.mark.slow

@pytest.fixture(scope="module")
def model(swap_model) -> Path:
    return swap_model


def audio_pcm(path: Path, seconds: float) -> np.ndarray:
    pcm = subprocess.run([ffmpeg_exe(), "-v", "error", "-i", str(path), "-vn", "-ac", "1", "-ar", "8000",
                          "-t", str(seconds), "-f", "s16le", "-"], capture_output=True, check=True).stdout
    return np.frombuffer(pcm, np.int16).astype(np.float32)


def envelope_match(reference: np.ndarray, got: np.ndarray, offset_s: float) -> tuple[float, float]:
    """(lag in seconds, correlation) of the best match of `got`'s loudness envelope (10 ms steps)
    against `reference`'s from `offset_s` on, searched within +-50 ms. Envelopes, not waveforms:
    a cut AAC stream decodes with a different sample phase but the same sound at the same time."""
    def env(x: np.ndarray) -> np.ndarray:
        x = x[:len(x) // 80 * 80]
        return np.abs(x).reshape(-1, 80).mean(axis=1)
    ref, out = env(reference), env(got)
    start = int(round(offset_s * 100))
    best = max(range(-5, 6), key=lambda k: np.corrcoef(ref[start + k:start + k + len(out)], out)[0, 1])
    return best / 100, float(np.corrcoef(ref[start + best:start + best + len(out)], out)[0, 1])


def test_swap_keeps_frames_fps_size_and_audio(model, data, tmp_path, frame_count):
    src = data / "video" / "d19.mp4"
    out = tmp_path / "out.mp4"
    s = convert(src, model, out, ConvertOptions(), progress=False)
    info, src_info = probe_video(out), probe_video(src)
    assert frame_count(out) == frame_count(src) == s.frames == 250
    assert (info.width, info.height) == (src_info.width, src_info.height)
    assert abs(info.fps - src_info.fps) < 0.01
    assert info.has_audio
    assert abs(audio_seconds(out) - audio_seconds(src)) < 0.1
    assert s.swapped >= 0.98 * s.frames, s.to_dict()
    # labelled synthetic: a container tag and a sidecar record
    from faceswap.provenance import hash_file, read_container_tags, read_sidecar, sidecar_path
    assert read_container_tags(out).get("synthetic") == "1"
    record = read_sidecar(out)
    assert Path(s.sidecar) == sidecar_path(out)
    assert record["synthetic"] is True and record["output"]["sha256"] == hash_file(out)
    # the face changed and the background did not
    first = next(iter(VideoReader(src)))[1].astype(np.int16)
    swapped = next(iter(VideoReader(out)))[1].astype(np.int16)
    diff = np.abs(first - swapped).mean(axis=2)
    assert diff[150:330, 160:320].mean() > 3 * diff[:60, :].mean() + 1


def test_frames_range_keeps_audio_in_sync(model, data, tmp_path, frame_count):
    # d14 has sound (d18/d19 carry silent tracks); the tiny model's swap of her face does not matter here
    src = data / "video" / "d14.mp4"
    out = tmp_path / "range.mp4"
    s = convert(src, model, out, ConvertOptions(frames="60:150", all_faces=True), progress=False)
    assert s.frames == 90 == frame_count(out)
    assert abs(audio_seconds(out) - 90 / 30) < 0.08
    # the sound is the input's from frame 60 (2.0 s) on, not from its start, and in sync
    lag, corr = envelope_match(audio_pcm(src, 8.0), audio_pcm(out, 2.5), 2.0)
    assert corr > 0.9 and abs(lag) <= 0.03, (lag, corr)


def test_reenact_has_the_footage_or_driver_length_and_the_driver_audio(model, data, tmp_path, frame_count):
    out = tmp_path / "reenact.mp4"
    opts = ConvertOptions(mode="reenact", driver=str(data / "video" / "d19.mp4"), region="mouth")
    s = convert(data / "video" / "d18.mp4", model, out, opts, progress=False)
    assert s.frames == frame_count(out) == 216  # d18 (216 frames) is shorter than the driver (250)
    assert s.swapped >= 0.98 * s.frames
    assert probe_video(out).has_audio
    # a driver with sound that is shorter than the footage (d12: 183 frames at 25 fps) sets the length
    out2 = tmp_path / "reenact2.mp4"
    opts = ConvertOptions(mode="reenact", driver=str(data / "video" / "d12.mp4"), region="lower")
    s = convert(data / "video" / "d18.mp4", model, out2, opts, progress=False)
    assert s.frames == frame_count(out2) == 183
    assert abs(audio_seconds(out2) - 183 / 30) < 0.1
    lag, corr = envelope_match(audio_pcm(data / "video" / "d12.mp4", 6.0), audio_pcm(out2, 3.0), 0.05)
    assert corr > 0.9 and abs(lag) <= 0.08, (lag, corr)


@pytest.fixture(scope="module")
def previews(model, data, backend, tmp_path_factory):
    """get(color, blend) -> (converted, original, face hull mask) of d19 frame 100, each pair converted once
    (without the watermark, which a preview carries over the whole frame: its own test is test_watermark)."""
    root = tmp_path_factory.mktemp("previews")
    cache: dict[tuple[str, str], np.ndarray] = {}
    found: dict[str, np.ndarray] = {}

    def get(color: str, blend: str, edge_match: float = 0.0) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        # edge match off unless asked for: it moves the face's colour toward the footage's itself,
        # and the colour and blend methods are what is compared here (grain off: it is noise)
        if (color, blend, edge_match) not in cache:
            s = convert(data / "video" / "d19.mp4", model, root / f"{color}_{blend}_{edge_match}.mp4",
                        ConvertOptions(color=color, blend=blend, preview=100, watermark="off", grain=0.0,
                                       edge_match=edge_match), progress=False)
            assert s.faces == 1
            converted, compare = (cv2.imread(p)[..., ::-1] for p in s.preview)
            cache[color, blend, edge_match] = converted
            found.setdefault("original", compare[:, :compare.shape[1] // 2])
        original = found["original"]
        if "hull" not in found:
            faces = backend.detect(original)
            assert len(faces) == 1
            hull = np.zeros(original.shape[:2], np.uint8)
            cv2.fillConvexPoly(hull, cv2.convexHull(faces[0].landmarks.astype(np.int32)), 1)
            found["hull"] = hull
        return cache[color, blend, edge_match], original, found["hull"]
    return get


@pytest.mark.parametrize("color", ["none", "rct", "lct", "hist", "mkl"])
@pytest.mark.parametrize("blend", ["feather", "poisson", "laplacian"])
def test_colour_and_blend_methods_change_the_face_only(previews, color, blend):
    converted, original, hull = previews(color, blend)
    changed = np.abs(original.astype(np.int16) - converted).max(axis=2) > 0
    ys, xs = np.nonzero(changed)
    assert changed.mean() > 0.02
    # nothing changes far from the face: the changed pixels sit in one face-sized box
    assert xs.min() > 60 and xs.max() < 420 and ys.min() > 40
    assert not changed[:40].any() and not changed[:, :60].any() and not changed[:, 420:].any()
    inner = cv2.erode(hull, np.ones((15, 15), np.uint8)).astype(bool)  # the face, 7 px in from its outline
    near = cv2.dilate(hull, np.ones((41, 41), np.uint8)).astype(bool)  # the face and its seam
    assert inner.sum() > 20000

    def differs(other: np.ndarray, where: np.ndarray) -> float:
        return float(np.abs(converted.astype(np.int16) - other).max(axis=2)[where].mean())
    # each method does something of its own (measured: colour 2.7-12 levels inside the face, poisson
    # 7-10 and laplacian ~1 around the seam, against feather)
    if color != "none":
        plain = previews("none", blend)[0]
        assert differs(plain, inner) > 1.0, "the colour transfer changed nothing"
        if blend != "poisson":  # poisson takes its level from the footage round the mask, whatever the colour
            # the face's mean colour moves toward the footage's (measured 12-13 levels off without a
            # colour transfer, about 2 with one)
            goal = original[inner].reshape(-1, 3).mean(axis=0)
            off = np.linalg.norm(converted[inner].reshape(-1, 3).mean(axis=0) - goal)
            off_plain = np.linalg.norm(plain[inner].reshape(-1, 3).mean(axis=0) - goal)
            assert off < 0.5 * off_plain, (off, off_plain)
    if blend != "feather":
        assert differs(previews(color, "feather")[0], near) > 0.5, "the blend is feather's"


def test_edge_match_takes_the_step_out_of_the_blend_edge(previews, backend):
    """qc's seam on d19 frame 100 (the tiny model's face lit otherwise than the footage's): the
    default edge match against none."""
    from faceswap.qc.appearance import seam
    from faceswap.qc.measures import largest
    off, original, _ = previews("lct", "feather", 0.0)
    on = previews("lct", "feather", defaults.EDGE_MATCH)[0]
    face = largest(backend.detect(original))
    before, after = (seam(x, original, face.landmarks, face.size) for x in (off, on))
    assert before > 4 and after < 0.6 * before, (before, after)


def test_patch_writer_recomposites_to_the_same_frames(model, data, tmp_path):
    """The patch folder, read back from its files and put over the untouched plate, gives the
    frames the png codec writes for the same convert, within 2 levels (docs/convert.md: the
    patches' alpha is stored in 8 bits). Both are numbered by the source's frame numbers."""
    from faceswap.media.writers import load_patches, recomposite
    src = data / "video" / "d19.mp4"
    first, end = 20, 32
    # watermark off: the two runs' settings differ, so would their marks (marking: the job's output id)
    convert(src, model, tmp_path / "frames", ConvertOptions(codec="png", frames=f"{first}:{end}", watermark="off"),
            progress=False)
    convert(src, model, tmp_path / "patches", ConvertOptions(codec="patch", frames=f"{first}:{end}", watermark="off"),
            progress=False)
    index = load_patches(tmp_path / "patches")
    assert sorted(index.frames) == list(range(first, end))
    assert all(len(index.frames[i]) == 1 for i in index.frames)  # d19: one face in every frame
    checked = 0
    for i, plate in VideoReader(src):
        if i >= end:
            break
        if i < first:
            continue
        rebuilt = recomposite(index, i, plate)
        full = cv2.imread(str(tmp_path / "frames" / f"{i:06d}.png"))[..., ::-1].astype(np.int16)
        assert np.abs(rebuilt - full).max() <= 2, i
        # the face was changed: the comparison is not of the plate with itself
        assert (np.abs(full - plate).max(axis=2) > 20).sum() > 500, i
        checked += 1
    assert checked == end - first


def test_bad_input(model, data, tmp_path):
    src = data / "video" / "d19.mp4"
    with pytest.raises(FaceswapError, match="must not be the input"):
        convert(src, model, src, ConvertOptions(), progress=False)
    existing = tmp_path / "exists.mp4"
    existing.write_bytes(b"mine")
    with pytest.raises(FaceswapError, match="exists"):
        convert(src, model, existing, ConvertOptions(frames="0:5"), progress=False)
    assert existing.read_bytes() == b"mine"
    with pytest.raises(FaceswapError, match=r"\.mov"):
        convert(src, model, tmp_path / "x.mp4", ConvertOptions(codec="prores", frames="0:5"), progress=False)
    with pytest.raises(NoFaceError):
        convert(data / "negatives", model, tmp_path / "animals", ConvertOptions(), progress=False)
    assert not (tmp_path / "animals").exists()
    with pytest.raises(FaceswapError, match="no such"):
        convert(tmp_path / "missing.mp4", model, tmp_path / "y.mp4", ConvertOptions(), progress=False)
    with pytest.raises(FaceswapError, match="not a faceswap model"):
        convert(src, tmp_path, tmp_path / "y.mp4", ConvertOptions(), progress=False)
    # a model folder whose config says another crop size than its weights were trained at
    import json
    import shutil
    other = tmp_path / "other_model"
    shutil.copytree(model, other)
    config = json.loads((other / "config.json").read_text())
    config["model"]["resolution"] = 128
    (other / "config.json").write_text(json.dumps(config))
    with pytest.raises(FaceswapError, match="does not fit"):
        convert(src, other, tmp_path / "y.mp4", ConvertOptions(), progress=False)


def test_corrupt_frames_in_the_middle_are_skipped_and_counted(model, data, tmp_path, frame_count):
    damaged = tmp_path / "damaged.mp4"
    raw = bytearray((data / "video" / "d19.mp4").read_bytes())
    mid = len(raw) // 2
    raw[mid:mid + 4000] = bytes(4000)
    damaged.write_bytes(bytes(raw))
    s = convert(damaged, model, tmp_path / "out.mp4", ConvertOptions(), progress=False)
    assert s.frames == frame_count(tmp_path / "out.mp4") > 200
    assert s.decode_warning


def test_cli_convert(model, data, tmp_path, frame_count):
    out = tmp_path / "cli.mp4"
    cmd = [sys.executable, "-m", "faceswap.cli", "convert", str(data / "video" / "d19.mp4"), "-m", str(model),
           "-o", str(out), "--frames", "0:30", "--no-progress"]
    run = subprocess.run(cmd, capture_output=True, text=True)
    assert run.returncode == 0, run.stderr
    assert "converted 30 frames" in run.stdout and frame_count(out) == 30
    again = subprocess.run(cmd, capture_output=True, text=True)
    assert again.returncode == 1 and again.stderr.strip().startswith("error:")
    assert len(again.stderr.strip().splitlines()) == 1
    helptext = subprocess.run([sys.executable, "-m", "faceswap.cli", "convert", "--help"], capture_output=True,
                              text=True).stdout
    for option in ("--mode", "--driver", "--smooth", "--color", "--blend", "--codec", "--frames", "--preview",
                   "--erode", "--blur", "--overwrite", "--reference", "--track", "--audio"):
        assert option in helptext, option


class _SpyBackend:
    """A real backend that records which frames (by their pixels) it was asked to look at."""

    def __init__(self, backend, seen: list[str]) -> None:
        self._backend, self._seen = backend, seen

    def _saw(self, image: np.ndarray) -> None:
        self._seen.append(hashlib.sha1(np.ascontiguousarray(image)).hexdigest())

    def detect_boxes(self, image):
        self._saw(image)
        return self._backend.detect_boxes(image)

    def faces_in_boxes(self, image, boxes):
        self._saw(image)
        return self._backend.faces_in_boxes(image, boxes)

    def detect(self, image):
        self._saw(image)
        return self._backend.detect(image)

    def close(self) -> None:
        self._backend.close()


def test_faces_from_extract_alignments(model, data, tmp_path, monkeypatch):
    """The model fixture extracted every 5th frame of d19: those frames' faces come from the file
    (no detector looks at them), the others are found on the fly, and every frame gets its face."""
    import faceswap.convert.pipeline as pipeline
    from faceswap.data.faceset import AlignmentsFile, alignments_path
    faceset = model.parent / "a"
    covered = {r["frame"] for r in AlignmentsFile(alignments_path(faceset, "d19.mp4")).frames.values()
               if r["frame"] < 40}
    assert covered == set(range(0, 40, 5))
    frames = {}
    for index, image in VideoReader(data / "video" / "d19.mp4"):
        frames[hashlib.sha1(np.ascontiguousarray(image)).hexdigest()] = index
        if index == 39:
            break
    assert len(frames) == 40  # every frame tells itself apart by its pixels
    seen: list[str] = []
    real = pipeline.make_backend
    monkeypatch.setattr(pipeline, "make_backend", lambda *a, **k: _SpyBackend(real(*a, **k), seen))
    s = convert(data / "video" / "d19.mp4", model, tmp_path / "al.mp4",
                ConvertOptions(alignments=str(faceset), frames="0:40"), progress=False)
    assert s.frames == 40 and s.swapped == 40
    # a face found between the file's frames continues the file's track: one face changed per frame
    assert s.tracks == {0} and s.faces == 40, (s.tracks, s.faces)
    # what else the detector saw are the renders (the expression fit reads their landmarks): no frame
    looked_at = {frames[h] for h in seen if h in frames}
    assert looked_at == set(range(40)) - covered, sorted(looked_at)
    assert len(seen) - sum(h in frames for h in seen) == 40   # one render a frame
    with pytest.raises(FaceswapError, match="no alignments file"):
        convert(data / "video" / "d18.mp4", model, tmp_path / "x.mp4", ConvertOptions(alignments=str(faceset)),
                progress=False)


def test_variable_frame_rate_input_keeps_every_frame(model, data, tmp_path, frame_count):
    vfr = tmp_path / "vfr.mp4"
    # every other frame 15 ms late: uneven frame durations
    subprocess.run([ffmpeg_exe(), "-v", "error", "-i", str(data / "video" / "d18.mp4"), "-vf",
                    "setpts='(N/30+if(mod(N,2),0.015,0))/TB'", "-fps_mode", "vfr", "-c:v", "libx264",
                    "-c:a", "copy", str(vfr)], check=True)
    out = tmp_path / "vfr_out.mp4"
    s = convert(vfr, model, out, ConvertOptions(), progress=False)
    assert s.frames == frame_count(vfr) == frame_count(out) == 216
    assert abs(probe_video(out).duration - probe_video(vfr).duration) < 0.05


@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM])
def test_interrupted_convert_leaves_nothing_half_written(model, data, tmp_path, sig):
    out = tmp_path / "stopped.mp4"
    proc = subprocess.Popen([sys.executable, "-m", "faceswap.cli", "convert", str(data / "video" / "d14.mp4"),
                             "-m", str(model), "-o", str(out), "--no-progress"],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            preexec_fn=_sigint_default)
    deadline = time.time() + 120
    while not list(tmp_path.glob(".stopped.partial*")) and time.time() < deadline and proc.poll() is None:
        time.sleep(0.2)
    time.sleep(1.0)  # some frames in
    proc.send_signal(sig)
    _, err = proc.communicate(timeout=120)
    assert proc.returncode == 130, err
    assert not out.exists() and not list(tmp_path.glob(".stopped*")), list(tmp_path.iterdir())


def test_a_stop_while_the_output_is_closed_keeps_it_whole_and_says_so(model, data, tmp_path, monkeypatch, caplog,
                                                                    frame_count):
    """Ctrl-C that lands while ffmpeg finishes the file: the work is done, so the output is kept
    whole with its sidecar, a warning says so, and the stop is raised after (exit 130)."""
    import logging

    from faceswap.media.writers.video import VideoWriter
    close = VideoWriter.close

    def ctrl_c_then_close(self):
        signal.raise_signal(signal.SIGINT)   # held: the close goes on
        return close(self)

    monkeypatch.setattr(VideoWriter, "close", ctrl_c_then_close)
    before = signal.signal(signal.SIGINT, signal.default_int_handler)   # a background job starts with it ignored
    logger = logging.getLogger("faceswap")   # the CLI's set-up stops it propagating to caplog's root handler
    logger.addHandler(caplog.handler)
    out = tmp_path / "closed.mp4"
    try:
        with pytest.raises(KeyboardInterrupt):
            convert(data / "video" / "d18.mp4", model, out, ConvertOptions(frames="0:6"), progress=False)
    finally:
        signal.signal(signal.SIGINT, before)
        logger.removeHandler(caplog.handler)
    assert frame_count(out) == 6
    assert (tmp_path / "closed.mp4.provenance.json").is_file()
    assert any("is complete and kept" in r.getMessage() for r in caplog.records)


def test_image_folder_in_images_out_with_their_names(model, data, tmp_path):
    out = tmp_path / "stills_out"
    s = convert(data / "stills", model, out, ConvertOptions(all_faces=True), progress=False)
    names = sorted(p.stem for p in (data / "stills").iterdir() if p.suffix.lower() in (".jpg", ".png"))
    assert sorted(p.stem for p in out.glob("*.png")) == names
    assert s.swapped == len(names) == s.frames
    first = sorted((data / "stills").glob("*.jpg"))[0]
    assert cv2.imread(str(out / f"{first.stem}.png")).shape == cv2.imread(str(first)).shape


def test_whose_face_is_changed_in_a_shot_with_several_people(model, data, tmp_path):
    src = data / "video" / "hamilton_stage.mp4"
    everyone = convert(src, model, tmp_path / "all.mp4", ConvertOptions(all_faces=True, frames="205:255"),
                       progress=False)
    default = convert(src, model, tmp_path / "one.mp4", ConvertOptions(frames="205:255"), progress=False)
    assert everyone.faces > everyone.swapped  # more than one face a frame
    assert 0 < default.faces < everyone.faces
    assert default.tracks < everyone.tracks
    chosen = max(everyone.tracks)
    one = convert(src, model, tmp_path / "track.mp4", ConvertOptions(track=chosen, frames="205:255"),
                  progress=False)
    assert one.tracks == {chosen}
    with pytest.raises(NoFaceError):
        convert(src, model, tmp_path / "none.mp4", ConvertOptions(track=999, frames="205:255"), progress=False)


def test_color_from_skin_changes_the_face_only(model, data, tmp_path):
    """--color-from skin takes the colour statistics from the footage's skin instead of the whole
    face: the face's colour differs, the frame away from the face does not."""
    src = data / "video" / "d19.mp4"
    frames = {}
    for source in ("face", "skin"):
        out = tmp_path / source
        convert(src, model, out, ConvertOptions(codec="png", frames="0:3", color_from=source, watermark="off"), progress=False)
        frames[source] = cv2.imread(str(out / "000001.png")).astype(np.int16)
    diff = np.abs(frames["face"] - frames["skin"]).mean(axis=2)
    assert diff[150:330, 160:320].mean() > 0.5
    assert diff[:60, :].max() == 0
    with pytest.raises(FaceswapError, match="--color-from"):
        ConvertOptions(color_from="hair").validate()


def _sigint_default() -> None:
    """In the child: SIGINT as a terminal's Ctrl-C finds it. A runner started in the background
    (`cmd &` in a script) hands its children SIGINT ignored, and Python then never raises
    KeyboardInterrupt; that is the shell's doing, not what these tests are about."""
    import signal
    signal.signal(signal.SIGINT, signal.SIG_DFL)
