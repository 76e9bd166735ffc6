"""Whose face convert changes in a two-shot whose people change sides at a cut.

The footage: d19 (the model's footage identity A) and d12 side by side for 2 s, then, after a
cut, the same two the other way round for 2 s. By default only d19 may change, in both shots,
chosen by likeness to the A faceset (not by position or track number); `--reference` does the
same from a photo; the provenance sidecar and qc say per frame which tracks were changed.
"""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import numpy as np
import pytest

from faceswap.convert.options import ConvertOptions
from faceswap.convert.pipeline import convert
from faceswap.media.ffmpeg_bin import ffmpeg_exe
from faceswap.media.video_reader import VideoReader

pytestmark = pytest.mark.slow

SIDE = 360      # each person's half is SIDE x SIDE
PART = 2.0      # seconds before and after the cut
FPS = 25


@pytest.fixture(scope="module")
def two_shot(data, tmp_path_factory) -> Path:
    """d19 | d12 for PART s, a cut, then d12 | d19 for PART s (FPS fps, h264)."""
    out = tmp_path_factory.mktemp("two_shot") / "two_shot.mp4"
    half = f"scale={SIDE}:{SIDE},setsar=1,fps={FPS}"
    graph = (f"[0:v]{half},split[a0][a1];[1:v]{half},split[b0][b1];"
             f"[a0][b0]hstack,trim=0:{PART},setpts=PTS-STARTPTS[p];"
             f"[b1][a1]hstack,trim={PART}:{2 * PART},setpts=PTS-STARTPTS[q];"
             "[p][q]concat=n=2:v=1:a=0[v]")
    subprocess.run([ffmpeg_exe(), "-v", "error", "-y", "-i", str(data / "video" / "d19.mp4"),
                    "-i", str(data / "video" / "d12.mp4"), "-filter_complex", graph, "-map", "[v]",
                    "-c:v", "libx264", "-crf", "14", "-pix_fmt", "yuv420p", str(out)], check=True)
    return out


def half_changes(original: Path, output: Path) -> np.ndarray:
    """(frames, 2 halves, 2): per frame and half (left, right), the mean absolute difference in
    8-bit levels and the share of pixels changed by more than 8 levels in some channel."""
    rows = []
    for (_, a), (_, b) in zip(VideoReader(original), VideoReader(output)):
        diff = np.abs(a.astype(np.int16) - b.astype(np.int16))
        rows.append([(d.mean(), (d.max(axis=2) > 8).mean()) for d in (diff[:, :SIDE], diff[:, SIDE:])])
    return np.asarray(rows)


def d19_and_d12_halves(changes: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Per-frame figures of d19's half and of d12's half (d19 is left before the cut, right after)."""
    cut = int(PART * FPS)
    d19 = np.concatenate([changes[:cut, 0], changes[cut:, 1]])
    d12 = np.concatenate([changes[:cut, 1], changes[cut:, 0]])
    return d19, d12


def assert_only_d19_changed(two_shot: Path, out: Path) -> None:
    changes = half_changes(two_shot, out)
    assert len(changes) == int(2 * PART * FPS)
    d19, d12 = d19_and_d12_halves(changes)
    cut = int(PART * FPS)
    for part, sl in (("before the cut", slice(0, cut)), ("after the cut", slice(cut, None))):
        print(f"{part}: d19 half {d19[sl, 0].mean():.2f} levels, {d19[sl, 1].min():.3f}-{d19[sl, 1].max():.3f} "
              f"of it changed; d12 half {d12[sl, 0].mean():.3f} levels (max {d12[sl, 0].max():.3f})")
        assert d12[sl, 0].max() <= 1.0, f"the other person (d12) was changed {part}"
        # d19's face is about a tenth of its half (a swapped face changes 10-11% of it by > 8 levels)
        assert d19[sl, 1].min() > 0.05, f"d19 was not changed in every frame {part}"


def changed_runs(sidecar: Path) -> list[dict]:
    return json.loads(sidecar.read_text())["changed_tracks"]


def test_default_changes_the_models_person_in_both_shots(swap_model, two_shot, tmp_path):
    out = tmp_path / "out.mkv"
    summary = convert(two_shot, swap_model, out, ConvertOptions(codec="ffv1", watermark="off"), progress=False)
    assert summary.shots == 2
    assert_only_d19_changed(two_shot, out)
    # the cut ends every track: d19 before and after it are two tracks, and so is d12
    runs = changed_runs(Path(summary.sidecar))
    # known only at the end, the record stays out of the hash the container tags carry
    from faceswap.provenance import read_container_tags, read_sidecar, record_digest
    assert read_container_tags(out)["faceswap_record"] == record_digest(read_sidecar(out))
    cut = int(PART * FPS)
    before = {t for r in runs if r["frames"][0] < cut for t in r["tracks"]}
    after = {t for r in runs if r["frames"][1] >= cut for t in r["tracks"]}
    assert len(before) == len(after) == 1 and before != after, runs
    assert runs[0]["frames"][0] == 0 and runs[-1]["frames"][1] == len(half_changes(two_shot, out)) - 1


def test_the_cut_is_found_though_the_colours_only_change_places(two_shot):
    from faceswap.convert.stabilize import CutDetector
    cuts = CutDetector()
    shots = [cuts(frame) for _, frame in VideoReader(two_shot)]
    assert shots == [0] * int(PART * FPS) + [1] * int(PART * FPS)


def test_reference_photo_changes_that_person_in_both_shots(swap_model, two_shot, tmp_path, data):
    photo = tmp_path / "d19.png"   # a frame of d19 from after the part the two-shot uses
    subprocess.run([ffmpeg_exe(), "-v", "error", "-ss", "7", "-i", str(data / "video" / "d19.mp4"), "-frames:v", "1",
                    str(photo)], check=True)
    out = tmp_path / "out.mkv"
    convert(two_shot, swap_model, out, ConvertOptions(codec="ffv1", reference=str(photo), watermark="off"),
            progress=False)
    assert_only_d19_changed(two_shot, out)


def test_qc_reports_per_frame_which_tracks_were_changed(swap_model, two_shot, tmp_path):
    from faceswap.qc.run import QcOptions, run_qc
    out = tmp_path / "out.mkv"
    summary = convert(two_shot, swap_model, out, ConvertOptions(codec="ffv1", frames="40:60", watermark="off"),
                      progress=False)
    run_qc(out, two_shot, options=QcOptions(max_frames=2, json=str(tmp_path / "qc.json")))
    tracks = json.loads((tmp_path / "qc.json").read_text())["changed_tracks"]
    assert tracks["source"].endswith(".provenance.json")
    assert tracks["tracks"] == sorted(summary.tracks)
    frames = [(f, o, run["tracks"]) for run in tracks["runs"]
              for f, o in zip(range(run["frames"][0], run["frames"][1] + 1),
                              range(run["output_frames"][0], run["output_frames"][1] + 1))]
    # every output frame once, in order, with the input frame it was made from
    assert [(f, o) for f, o, _ in frames] == [(40 + k, k) for k in range(20)]
    assert all(len(t) == 1 for _, _, t in frames)   # one face changed in each frame
    cut = int(PART * FPS)   # the cut starts a new track for d19
    assert {t[0] for f, _, t in frames if f < cut}.isdisjoint({t[0] for f, _, t in frames if f >= cut})


def test_train_stores_who_each_side_is_and_convert_reads_it_back(swap_model, tmp_path, caplog):
    import shutil

    from faceswap.convert.faces_in import model_identity
    from faceswap.faces.identity import distance
    from faceswap.model.store import load_identity, load_model_config
    sides = load_identity(swap_model)
    assert set(sides) == {"a", "b"} and sides["a"]["faces"] > 10
    assert load_model_config(swap_model)[1]["facesets"]["a"] == sides["a"]["faceset"]
    a, b = (np.asarray(sides[s]["descriptor"]) for s in "ab")
    assert distance(a, b) > 0.6   # d19 and d18 are not the same person
    # a model trained before identity.json: described again from the faceset its config names
    old = tmp_path / "old_model"
    shutil.copytree(swap_model, old)
    (old / "identity.json").unlink()
    with caplog.at_level("WARNING"):
        again = model_identity(old, "a")
    assert "no identity.json" in caplog.text
    assert distance(again, a) < 1e-3
    # ... and without a faceset either: None (convert falls back to reconstruction error)
    config = json.loads((old / "config.json").read_text())
    del config["facesets"]
    (old / "config.json").write_text(json.dumps(config))
    assert model_identity(old, "a") is None


def test_changed_tracks_are_runs_of_frames():
    from faceswap.convert.changed import ChangedTracks
    record = ChangedTracks()
    for frame, tracks in [(10, [1]), (11, [1]), (12, []), (13, [2, 1]), (14, [1, 2]), (20, [1, 2])]:
        record.add(frame, tracks)
    assert record.runs == [{"frames": [10, 11], "output_frames": [0, 1], "tracks": [1]},
                           {"frames": [12, 12], "output_frames": [2, 2], "tracks": []},
                           {"frames": [13, 14], "output_frames": [3, 4], "tracks": [1, 2]},
                           {"frames": [20, 20], "output_frames": [5, 5], "tracks": [1, 2]}]


def test_tracks_of_an_alignments_file_get_new_ids_after_a_cut(tmp_path):
    """Extract's tracker does not know about cuts: convert numbers a file's tracks anew in every
    shot after the first, above every id the file uses."""
    from faceswap.convert.faces_in import FaceProvider
    from faceswap.data.faceset import AlignmentsFile
    file = AlignmentsFile(tmp_path / "clip.alignments.jsonl")
    file.open({"source": "clip.mp4"})
    face = {"landmarks": (np.random.default_rng(0).random((68, 2)) * 100).tolist(), "score": 0.9}
    for i in range(4):
        file.append({"name": f"{i}", "faces": [{**face, "track": 0}, {**face, "track": 5}]})
    file.close()
    provider = FaceProvider(Path("clip.mp4"), ConvertOptions(alignments=str(file.path)), lambda: None, True)
    ids = [[f.track for f in provider(np.zeros((8, 8, 3), np.uint8), i, f"{i}", shot)]
           for i, shot in enumerate([0, 0, 1, 1])]
    assert ids == [[0, 5], [0, 5], [6, 7], [6, 7]]
