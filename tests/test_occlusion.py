"""Issue 16's groundwork: synthetic occluders, occluded clips of real footage with their exact
matte, the benchmark's measure on cases whose answer is known, and qc's occlusion figure."""

from __future__ import annotations

import csv
from pathlib import Path

import numpy as np
import pytest

from faceswap.data import occluders as O
from faceswap.media.video_reader import VideoReader
from faceswap.media.writers import VideoWriter
from faceswap.qc.occlusion import matte_swapped, occluder_frame, occlusion, summarise, swap_region


def frames_of(path: Path, count: int) -> list[np.ndarray]:
    out = []
    for i, frame in VideoReader(path):
        if i >= count:
            break
        out.append(frame.copy())
    return out


@pytest.fixture(scope="module")
def d19(data) -> Path:
    return data / "video" / "d19.mp4"


@pytest.fixture(scope="module")
def d19_frames(d19) -> list[np.ndarray]:
    return frames_of(d19, 30)


@pytest.fixture(scope="module")
def d19_landmarks(d19_frames, backend):
    return [max(backend.detect(f), key=lambda x: x.size).landmarks for f in d19_frames[:3]]


# --- the generators ---

def test_random_occluders_are_deterministic_and_well_formed():
    source = np.random.default_rng(0).integers(0, 255, (96, 128, 3), dtype=np.uint8)
    drawn = [O.random_occluder(np.random.default_rng(seed), (64, 80), source, (40, 20, 90, 80)) for seed in range(40)]
    again = [O.random_occluder(np.random.default_rng(seed), (64, 80), source, (40, 20, 90, 80)) for seed in range(40)]
    for (rgb, alpha), (rgb2, alpha2) in zip(drawn, again):
        assert rgb.shape == (64, 80, 3) and alpha.shape == (64, 80)
        assert rgb.dtype == np.uint8 and alpha.dtype == np.uint8
        assert np.array_equal(rgb, rgb2) and np.array_equal(alpha, alpha2)
    coverage = np.array([(a > 0).mean() for _, a in drawn])
    assert (coverage > 0).mean() > 0.9          # nearly every one lands on the canvas
    assert coverage.max() < 1.0                 # and none is a full-canvas sheet
    assert len({a.tobytes() for _, a in drawn}) == len(drawn)  # seeds differ
    soft = np.array([((a > 0) & (a < 255)).sum() for _, a in drawn])
    assert (soft > 0).all() or (coverage == 0).any()  # anti-aliased edges: the matte is coverage, not 0/1
    with pytest.raises(ValueError):
        O.random_occluder(np.random.default_rng(0), 32, kinds=("cutout",))  # a cut-out needs a frame


def test_hand_is_skin_coloured_with_fingers():
    rgb, alpha = O.hand(np.random.default_rng(3), (120, 90))
    full = alpha == 255
    mean = rgb[full].mean(axis=0)
    assert mean[0] > mean[1] > mean[2]          # skin: red over green over blue
    # fingers: a row through them crosses the matte at least four times
    row = (alpha[30] > 127).astype(int)
    assert np.count_nonzero(np.diff(row) == 1) >= 4


def test_moving_occluders_cross_the_face():
    shape, face = (480, 480, 3), (150.0, 120.0, 330.0, 330.0)
    x0, y0, x1, y1 = (int(v) for v in face)
    for kind in O.MOVING_KINDS:
        on_face = []
        for i in [*range(0, 90, 10), 89]:
            rgb, alpha = O.moving_occluder(kind, i, shape, face)
            assert rgb.shape == shape and alpha.shape == shape[:2]
            on_face.append(int((alpha[y0:y1, x0:x1] > 0).sum()))
            again = O.moving_occluder(kind, i, shape, face)
            assert np.array_equal(again[1], alpha) and np.array_equal(again[0], rgb)
        assert on_face[0] == 0 and on_face[-1] == 0, kind     # starts and ends clear of the face
        assert max(on_face) > 0.05 * (x1 - x0) * (y1 - y0), kind
    rgb, alpha = O.moving_occluder("box", 45, shape, face)
    assert (alpha == 255).sum() == 144 * 144                   # the drawbox: 0.3 of the frame
    assert (rgb[alpha == 255] == O.DRAWBOX_RGB).all()
    with pytest.raises(ValueError):
        O.moving_occluder("piano", 0, shape, face)


def test_composite_is_exact():
    frame = np.random.default_rng(1).integers(0, 256, (20, 30, 3), dtype=np.uint8)
    rgb = np.full_like(frame, 200)
    alpha = np.zeros((20, 30), np.uint8)
    alpha[5:10] = 255
    alpha[10:12] = 51
    out = O.composite(frame, rgb, alpha)
    assert np.array_equal(out[alpha == 0], frame[alpha == 0])
    assert (out[alpha == 255] == 200).all()
    assert np.array_equal(out[10:12], (frame[10:12].astype(int) * 204 + 200 * 51 + 127) // 255)


def test_occluded_clips_are_lossless_with_an_exact_matte(tmp_path, d19, d19_frames, backend):
    from faceswap.occlusion_bench import face_box, make_clips
    paths = make_clips(d19, tmp_path, seconds=0.5, kinds=("box", "hand"), backend=backend)
    clean = frames_of(paths["clean"], 100)
    assert len(clean) == 15
    assert all(np.array_equal(a, b) for a, b in zip(clean, d19_frames))   # FFV1 kept every level
    box = face_box(clean, backend)  # the detector is stateless: the box make_clips drew around
    for kind in ("box", "hand"):
        matte = np.load(tmp_path / f"{kind}.matte.npy", allow_pickle=False)
        assert matte.shape == (15, 480, 480) and matte.dtype == np.uint8
        assert (matte[7] > 0).sum() > 2000                              # crossing the face mid-clip
        for i, frame in enumerate(frames_of(paths[kind], 100)):
            rgb, alpha = O.moving_occluder(kind, i, frame.shape, box, period=15)
            assert np.array_equal(alpha, matte[i])
            assert np.array_equal(frame, O.composite(clean[i], rgb, matte[i]))
            assert np.array_equal(frame[matte[i] == 0], clean[i][matte[i] == 0])
            if kind == "box":
                assert (frame[matte[i] == 255] == O.DRAWBOX_RGB).all()


# --- the benchmark's measure, on cases with a known answer ---

def _case(d19_frames):
    footage = d19_frames[0]
    yy, xx = np.mgrid[0:480, 0:480]
    face = ((xx - 240) / 90.0) ** 2 + ((yy - 230) / 120.0) ** 2 <= 1
    clean_output = footage.copy()
    clean_output[face] = np.clip(footage[face].astype(int) + 40, 0, 255)   # "the swap": 40 levels brighter
    rgb, alpha = O.box((100, 100), (30, 60, 200))
    box_rgb, matte = O.place(rgb, alpha, (480, 480), 190, 240)
    occluded = O.composite(footage, box_rgb, matte)
    return footage, occluded, clean_output, matte, face


def test_measure_known_answers(d19_frames):
    footage, occluded, clean_output, matte, face = _case(d19_frames)
    region = swap_region(clean_output, footage)
    assert region.sum() == pytest.approx(face.sum(), rel=0.02)
    # output = the occluded footage: every occluder pixel kept, nothing swapped
    f = occluder_frame(occluded, occluded, clean_output, matte, region)
    assert f.overlap == pytest.approx(((matte == 255) & face).sum(), rel=0.01)
    assert f.kept == 1.0 and f.swapped == 0.0 and f.occluder_change == 0
    # output = the swap painted over the occluder (the face everywhere): nothing kept, all swapped
    painted = clean_output.copy()
    f = occluder_frame(painted, occluded, clean_output, matte, region)
    assert f.kept == 0.0 and f.swapped == 1.0 and f.occluder_change > 40
    # output = the swap with the occluder in front: all kept, all swapped
    ideal = O.composite(clean_output, np.full((480, 480, 3), (30, 60, 200), np.uint8), matte)
    f = occluder_frame(ideal, occluded, clean_output, matte, region)
    assert f.kept == 1.0 and f.swapped == 1.0
    # half the occluder painted over: under the 90 % line
    half = ideal.copy()
    half[240:290, 190:290] = painted[240:290, 190:290]
    f_half = occluder_frame(half, occluded, clean_output, matte, region)
    assert f_half.kept == pytest.approx(0.5, abs=0.01)
    # a mask that cuts the face above row 230 away: only the face below it still swapped
    cut = ideal.copy()
    cut[:230] = occluded[:230]
    f_cut = occluder_frame(cut, occluded, clean_output, matte, region)
    free = face & (matte == 0)
    assert f_cut.kept == 1.0 and f_cut.swapped == pytest.approx(free[230:].sum() / free.sum(), abs=0.02)
    s = summarise([f, f_half, occluder_frame(occluded, occluded, clean_output, np.zeros_like(matte), region)])
    assert s["overlap_frames"] == 2 and s["kept_frames"] == 0.5 and s["swapped_clear"] == 0.0
    assert s["swapped_matte_mean"] is None


def test_swapped_read_from_the_matte(d19_frames):
    """convert's matte, not changed pixels: a matte cut round the occluder keeps the rest of the face
    whole, one that also leaves the face's top out loses it, and a swap drawn the footage's own colour
    still counts (the changed-pixel count calls it not swapped)."""
    footage, occluded, clean_output, matte, face = _case(d19_frames)
    clean_matte = face.astype(np.float32)
    free = face & (matte == 0)
    around = clean_matte * (matte == 0)
    assert matte_swapped(around, clean_matte, matte) == 1.0
    top_cut = around.copy()
    top_cut[:230] = 0.0
    assert matte_swapped(top_cut, clean_matte, matte) == pytest.approx(free[230:].sum() / free.sum(), abs=1e-6)
    assert matte_swapped(np.zeros_like(clean_matte), clean_matte, matte) == 0.0
    assert matte_swapped(around, np.zeros_like(clean_matte), matte) is None
    # the swap drawn as the footage itself where nothing covers it: the matte still says swapped
    same = O.composite(footage, np.full((480, 480, 3), (30, 60, 200), np.uint8), matte)
    f = occluder_frame(same, occluded, clean_output, matte, swap_region(clean_output, footage))
    f.swapped_matte = matte_swapped(around, clean_matte, matte)
    assert f.swapped == 0.0 and f.swapped_matte == 1.0
    assert summarise([f])["swapped_matte_mean"] == 1.0


# --- qc's occlusion figure ---

def test_qc_occlusion_measure(d19_frames, d19_landmarks):
    for frame, lm in zip(d19_frames, d19_landmarks):
        assert occlusion(frame, frame, lm) == 0.0
        # the drawbox painted over the mouth of the output
        painted = frame.copy()
        painted[240:384, 168:312] = O.DRAWBOX_RGB
        assert occlusion(painted, frame, lm) > 0
        # a dark microphone in front of the mouth in the footage, painted over by the face
        held = frame.copy()
        held[250:470, 225:255] = 40
        assert occlusion(frame, held, lm) > 5 * occlusion(painted, frame, lm)


def test_qc_reports_and_gates_occlusion(tmp_path, d19_frames):
    from faceswap.qc import QcOptions, run_qc
    frames = d19_frames[:20]
    paths = {}
    for name in ("original", "output"):
        paths[name] = tmp_path / f"{name}.mkv"
        writer = VideoWriter(paths[name], width=480, height=480, fps=30, codec="ffv1")
        for i, frame in enumerate(frames):
            if name == "output" and 8 <= i < 14:
                frame = frame.copy()
                frame[240:384, 168:312] = O.DRAWBOX_RGB
            writer.write(frame, i)
        writer.close()
    result = run_qc(paths["output"], paths["original"],
                    options=QcOptions(report=str(tmp_path / "qc"), fail_over=["occlusion=0"], identity_every=50))
    with open(tmp_path / "qc" / "frames.csv", newline="") as fh:
        rows = list(csv.DictReader(fh))
    values = [float(r["occlusion"]) for r in rows]
    assert all(v > 0 for v in values[8:14]) and all(v == 0 for v in values[:8] + values[14:])
    assert result.summary["appearance"]["occlusion"]["max"] > 0
    assert not result.ok and any("occlusion" in f for f in result.failures)
    same = run_qc(paths["original"], paths["original"], options=QcOptions(fail_over=["occlusion=0"],
                                                                           identity_every=50))
    assert same.ok and same.summary["appearance"]["occlusion"]["max"] == 0


def test_flicker_leaves_out_an_occluder_the_swap_kept(d19_frames, d19_landmarks):
    """A microphone crosses d19's face in 30 frames; the 'swap' makes the face's skin 25 levels
    redder and keeps the microphone. The face's colour changes by the same 25 levels in every
    frame, so its flicker is that of the footage: about 0. Measured over the whole landmark
    region, the microphone's share of it moves the mean (the issue's 'qc flicker counts
    occluded pixels'); measured over the skin, it does not."""
    from faceswap.faces.masks import landmark_mask
    from faceswap.faces.types import Face
    from faceswap.qc.measures import Region, flicker, measure_pair

    lm = d19_landmarks[0]
    face = Face(landmarks=lm, score=1.0)
    box = tuple(float(v) for v in np.r_[lm.min(axis=0), lm.max(axis=0)])
    face_mask = landmark_mask(lm, d19_frames[0].shape[:2], "components") >= 128
    measured, region_means = [], []
    region = Region.of(lm, d19_frames[0].shape[:2])
    for i, frame in enumerate(d19_frames):
        rgb, alpha = O.moving_occluder("microphone", i, frame.shape, box, period=len(d19_frames))
        footage = O.composite(frame, rgb, alpha)
        out = footage.copy()
        swapped = face_mask & (alpha == 0)
        out[swapped, 0] = np.minimum(out[swapped, 0].astype(np.int16) + 25, 255).astype(np.uint8)
        measured.append(measure_pair(footage, out, [face], [face]))
        region_means.append(region.mean_colour(out) - region.mean_colour(footage))
    skin = np.mean([flicker(b, a) for a, b in zip(measured, measured[1:])])
    whole = np.mean([np.linalg.norm(b - a) for a, b in zip(region_means, region_means[1:])])
    assert whole > 0.1, whole            # the old measure: the microphone's share moves it
    assert skin < 0.25 * whole, (skin, whole)
    print(f"flicker with a kept microphone: skin {skin:.3f}, whole region {whole:.3f} levels/frame")
