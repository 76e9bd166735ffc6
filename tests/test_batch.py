"""`faceswap batch`: a manifest of real shots converted and qc'd, rerun (skipped), changed (one redone),
gated, and bad manifests refused in one line before anything is written."""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner

from faceswap import api, cli
from faceswap.batch.options import BatchOptions
from faceswap.media.images import read_image
from faceswap.media.video_reader import VideoReader

pytestmark = pytest.mark.slow

VIDEOS = ("d18", "d19", "d12")
STILLS = "d[13]*.jpg"          # d19.jpg, d30.jpg
STILL_NAMES = ("d19-2", "d30")  # d19 is taken by the d19 clip: the still's shot is d19-2


@pytest.fixture
def run_cli(monkeypatch):
    """`faceswap ARGS` in-process -> click Result (stdout and stderr apart), as tests/test_cli.py does."""
    monkeypatch.setattr(cli, "filter_native_stderr", lambda: None)
    monkeypatch.setattr(cli, "setup_logging", lambda level: None)
    return lambda *args: CliRunner().invoke(cli.main, [str(a) for a in args])


def write_manifest(path: Path, text: str) -> Path:
    path.write_text(text, encoding="utf-8")
    return path


def four_shots(data: Path, model: Path, d19_options: str = "{}") -> str:
    """d18, d19 and d12 (12 frames each) and a glob of two stills, qc against the model's B faceset."""
    video = data / "video"
    return f"""
model: {model}
options:
  device: cpu
  frames: "0:12"
qc:
  identity: {model.parent / 'b'}
  identity_every: 4
  identity_samples: 8
shots:
  - input: {video / 'd18.mp4'}
    output: out/d18.mp4
  - input: {video / 'd19.mp4'}
    output: out/{{stem}}.mkv
    options: {d19_options}
  - input: {video / 'd12.mp4'}
    output: out/d12.mp4
  - input: "{data / 'stills' / STILLS}"
    output: "out/stills/{{stem}}"
    options: {{frames: null}}
"""


def report_json(folder: Path) -> dict:
    return json.loads((folder / "batch-report.json").read_text())


def mtimes(folder: Path) -> dict[str, int]:
    return {str(p.relative_to(folder)): p.stat().st_mtime_ns for p in sorted(folder.rglob("*")) if p.is_file()}


@pytest.fixture(scope="module")
def first_run(data, swap_model, tmp_path_factory):
    """The four-shot manifest run once: (manifest, its folder, the BatchResult)."""
    root = tmp_path_factory.mktemp("batch")
    manifest = write_manifest(root / "shots.yaml", four_shots(data, swap_model))
    return manifest, root, api.batch(manifest, BatchOptions(jobs=2), progress=False)


def test_every_shot_is_converted_checked_and_reported(first_run, frame_count):
    manifest, root, result = first_run
    names = [r.shot for r in result.results]
    assert names == [*VIDEOS, *STILL_NAMES]
    assert {r.shot: r.status for r in result.results} == dict.fromkeys(names, "done"), \
        [(r.shot, r.error, r.qc_failures) for r in result.results]
    assert result.status == "done" and api.exit_code(result) == 0
    for r in result.results:
        if r.shot in VIDEOS:
            assert r.frames == 12 and frame_count(Path(r.output)) == 12
            assert r.swapped > 0 and r.speed_fps > 0
            # qc ran on the shot, against B's faceset: every figure of the table is there
            assert {"retrieval", "identity_distance", "landmark_error", "jitter", "seam"} <= set(r.qc), r.qc
            assert (root / "shots-report" / r.shot / "summary.json").is_file()
        else:
            assert r.frames == 1 and (Path(r.output) / f"{r.shot.split('-')[0]}.png").is_file()
            assert r.qc == {} and "still" in r.qc_note
    report = root / "shots-report"
    data = report_json(report)
    assert [s["shot"] for s in data["shots"]] == names and data["exit_code"] == 0
    assert data["counts"] == {"done": 5, "skipped": 0, "failed": 0, "gated": 0}
    rows = (report / "batch-report.csv").read_text().splitlines()
    header = rows[0].split(",")
    assert header[:5] == ["shot", "status", "frames", "swapped", "fps"] and "qc_retrieval" in header
    d18 = dict(zip(header, rows[1].split(",")))
    assert d18["shot"] == "d18" and d18["status"] == "done" and float(d18["qc_landmark_error"]) > 0
    # the contact sheet: one labelled output frame per shot, 4 to a row
    sheet = read_image(report / "contact_sheet.png")
    assert sheet.shape[0] == 2 * (320 * 3 // 4 + 44) and sheet.shape[1] == 4 * 320
    first_tile = sheet[:240, :320].astype(np.float64)
    assert first_tile.std() > 10   # a picture, not the empty background


def test_a_rerun_skips_every_shot_without_writing_them(first_run, run_cli):
    manifest, root, first = first_run
    before = mtimes(root / "out")
    result = run_cli("batch", manifest, "--no-progress")
    assert result.exit_code == 0, result.stderr
    data = report_json(root / "shots-report")
    assert {s["shot"]: s["status"] for s in data["shots"]} == dict.fromkeys([*VIDEOS, *STILL_NAMES], "skipped")
    assert mtimes(root / "out") == before
    # a skipped shot keeps its frames and its figures from the earlier run
    earlier = {r.shot: r for r in first.results}
    for s in data["shots"]:
        assert s["frames"] == earlier[s["shot"]].frames and s["qc"] == earlier[s["shot"]].qc
    assert "5 shots: 5 skipped" in result.stdout


def test_changing_one_shot_s_option_redoes_that_shot_only(first_run, data, swap_model, run_cli):
    manifest, root, _ = first_run
    before = mtimes(root / "out")
    write_manifest(manifest, four_shots(data, swap_model, d19_options="{color: rct}"))
    check = run_cli("batch", manifest, "--check")
    assert check.exit_code == 0, check.stderr
    states = {line.split()[0]: line.split()[1] for line in check.stdout.splitlines()[1:]}
    assert states == {"d18": "done", "d19": "stale", "d12": "done", "d19-2": "done", "d30": "done"}
    result = api.batch(manifest, BatchOptions(), progress=False)
    statuses = {r.shot: r.status for r in result.results}
    assert statuses == {"d18": "skipped", "d19": "done", "d12": "skipped", "d19-2": "skipped", "d30": "skipped"}
    after = mtimes(root / "out")
    changed = {name for name in before if before[name] != after.get(name)}
    assert changed == {"d19.mkv", "d19.mkv.provenance.json"}, changed
    sidecar = json.loads((root / "out" / "d19.mkv.provenance.json").read_text())
    assert sidecar["settings"]["color"] == "rct"


def test_a_failed_gate_marks_the_shot_gated_and_exits_4(first_run, data, swap_model, run_cli, tmp_path):
    """The d18 output is done, so only qc runs again, with the new gate: no conversion."""
    _, root, _ = first_run
    text = f"""
model: {swap_model}
options: {{device: cpu, frames: "0:12"}}
qc:
  identity: {swap_model.parent / 'b'}
  identity_every: 4
  identity_samples: 8
  fail_over: {{landmark_error: 0.000001}}
shots:
  - {{input: {data / 'video' / 'd18.mp4'}, output: {root / 'out' / 'd18.mp4'}}}
"""
    manifest = write_manifest(tmp_path / "gate.yaml", text)
    before = (root / "out" / "d18.mp4").stat().st_mtime_ns
    result = run_cli("batch", manifest, "--no-progress")
    assert result.exit_code == 4, (result.stdout, result.stderr)
    shot = report_json(tmp_path / "gate-report")["shots"][0]
    assert shot["status"] == "gated" and "landmark_error" in shot["qc_failures"][0]
    assert shot["qc"]["landmark_error"] > 0.000001
    assert (root / "out" / "d18.mp4").stat().st_mtime_ns == before   # kept, not converted again
    assert "1 of 1 shots failed qc: d18" in result.stderr


def test_an_output_faceswap_did_not_write_is_never_replaced(data, swap_model, run_cli, tmp_path):
    theirs = tmp_path / "out" / "d18.mp4"
    theirs.parent.mkdir()
    theirs.write_bytes(b"someone else's render")
    manifest = write_manifest(tmp_path / "m.yaml", f"""
model: {swap_model}
options: {{device: cpu, frames: "0:5"}}
shots:
  - {{input: {data / 'video' / 'd18.mp4'}, output: out/d18.mp4}}
""")
    check = run_cli("batch", manifest, "--check")
    assert check.exit_code == 1 and "foreign" in check.stdout
    result = run_cli("batch", manifest, "--no-progress")
    assert result.exit_code == 1
    assert theirs.read_bytes() == b"someone else's render"
    shot = report_json(tmp_path / "m-report")["shots"][0]
    assert shot["status"] == "failed" and "did not write it" in shot["error"] and shot["attempts"] == 0


def test_sigterm_keeps_the_finished_shots_and_reports_them(data, swap_model, tmp_path):
    """SIGTERM (a farm's stop) while the second shot converts: exit 130, the first shot's output and
    its line in the report kept, nothing of the second left behind."""
    manifest = write_manifest(tmp_path / "m.yaml", f"""
model: {swap_model}
options: {{device: cpu}}
shots:
  - {{input: {data / 'video' / 'd18.mp4'}, output: out/d18.mp4, options: {{frames: "0:4"}}}}
  - {{input: {data / 'video' / 'd14.mp4'}, output: out/d14.mp4}}
""")
    proc = subprocess.Popen([sys.executable, "-m", "faceswap.cli", "batch", str(manifest), "--no-progress"],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    deadline = time.time() + 120
    out = tmp_path / "out"
    # d14 is long: its segments are written in out/d14.mp4.segments/, kept for a rerun
    while not (list(out.glob(".d14*")) or (out / "d14.mp4.segments").exists()) and time.time() < deadline \
            and proc.poll() is None:
        time.sleep(0.2)
    time.sleep(1.0)  # some frames of d14 in
    proc.send_signal(signal.SIGTERM)
    _, err = proc.communicate(timeout=120)
    assert proc.returncode == 130, err
    assert sorted(p.name for p in out.iterdir() if p.name != "d14.mp4.segments") == \
        ["d18.mp4", "d18.mp4.provenance.json"]
    shots = report_json(tmp_path / "m-report")
    assert shots["interrupted"] and [(s["shot"], s["status"]) for s in shots["shots"]] == [("d18", "done")]
    assert shots["exit_code"] == 130


# --- long shots in segments, killed and rerun; the same manifest on a local Ray instance -------------------

LONG = """
model: {model}
options: {{codec: ffv1}}
shots:
  # the settings of conftest's one_piece, so both carry the same watermark (the job's output id)
  - {{input: {video}/d14.mp4, output: {out}/d14.mkv, options: {{frames: "0:300"}}}}
  - {{input: {video}/d18.mp4, output: {out}/d18.mkv, options: {{frames: "0:12"}}}}
"""


def psnr(a: np.ndarray, b: np.ndarray) -> float:
    mse = float(np.mean((a.astype(np.float64) - b.astype(np.float64)) ** 2))
    return float("inf") if mse == 0 else 10 * np.log10(255.0 ** 2 / mse)


def min_psnr(a: Path, b: Path) -> float:
    values = [psnr(x.copy(), y) for (_, x), (_, y) in zip(VideoReader(a), VideoReader(b), strict=True)]
    return min(values)


def children(pid: int) -> list[int]:
    """Processes whose parent is `pid` (Linux /proc)."""
    found = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(fields[1]) == pid:
            found.append(int(stat.parent.name))
    return found


def alive(pid: int) -> bool:
    """Running (a zombie waiting for a reaper counts as gone)."""
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] != "Z"
    except OSError:
        return False


@pytest.fixture(scope="module")
def killed_and_rerun(data, swap_model, tmp_path_factory):
    """`faceswap batch --segment-frames 100 --jobs 2` on d14 (300 frames) and d18, killed with SIGKILL once
    a segment is finished, then run again: (folder, records finished before the kill, BatchResult)."""
    root = tmp_path_factory.mktemp("long")
    manifest = write_manifest(root / "long.yaml", LONG.format(model=swap_model, video=data / "video", out="out"))
    work = root / "out" / "d14.mkv.segments"
    proc = subprocess.Popen([sys.executable, "-m", "faceswap.cli", "batch", str(manifest), "--segment-frames", "100",
                             "--jobs", "2", "--no-progress"], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    deadline = time.time() + 300
    while not list(work.glob("[0-9]*.json")):
        assert proc.poll() is None, proc.stderr.read().decode(errors="replace")[-2000:]
        assert time.time() < deadline, "no segment finished in time"
        time.sleep(0.05)
    workers = children(proc.pid)
    assert workers, "no worker processes under --jobs 2"
    proc.kill()   # SIGKILL: the runner only; its workers must not go on as orphans
    proc.wait(timeout=30)
    proc.stderr.close()
    deadline = time.time() + 30
    while any(alive(pid) for pid in workers) and time.time() < deadline:
        time.sleep(0.2)
    assert not any(alive(pid) for pid in workers), "workers left running after the runner was killed"
    assert not (root / "out" / "d14.mkv").exists()
    finished = {p.name: p.stat().st_mtime_ns for p in work.glob("[0-9]*.mkv")}
    assert 1 <= len(finished) < 3
    result = api.batch(manifest, BatchOptions(jobs=2, segment_frames=100), progress=False)
    return root, finished, result


def test_a_killed_long_shot_reruns_its_missing_segments_and_equals_one_piece(killed_and_rerun, one_piece,
                                                                              frame_count):
    from faceswap.provenance import read_sidecar, record_job_key
    from faceswap.qc.integrity import audio_seconds
    root, finished, result = killed_and_rerun
    rows = {r.shot: r for r in result.results}
    assert result.status == "done" and rows["d14"].status == "done" and rows["d14"].segments == 3, rows
    out = root / "out" / "d14.mkv"
    assert frame_count(out) == frame_count(one_piece) == rows["d14"].frames == 300
    assert abs(audio_seconds(out) - audio_seconds(one_piece)) <= 1 / 30
    assert min_psnr(out, one_piece) >= 60.0
    # the joined shot's record names the shot's job, so the next run skips it
    assert record_job_key(read_sidecar(out)) == result.manifest.shots[0].key()
    assert not (root / "out" / "d14.mkv.segments").exists()


def test_the_same_manifest_on_a_local_ray_instance_gives_the_same_outputs(killed_and_rerun, data, swap_model,
                                                                          monkeypatch, frame_count):
    pytest.importorskip("ray")   # dev installs ray (setup.cfg): CI runs this
    from faceswap.provenance import read_sidecar, record_job_key
    monkeypatch.delenv("RAY_ADDRESS", raising=False)
    root, _, local = killed_and_rerun
    manifest = write_manifest(root / "ray.yaml", LONG.format(model=swap_model, video=data / "video", out="ray"))
    result = api.batch(manifest, BatchOptions(jobs=2, cluster="ray", segment_frames=100), progress=False)
    assert [(r.shot, r.status, r.frames, r.segments) for r in result.results] == \
        [(r.shot, r.status, r.frames, r.segments) for r in local.results]
    for name in ("d14.mkv", "d18.mkv"):
        ours, theirs = root / "ray" / name, root / "out" / name
        assert frame_count(ours) == frame_count(theirs)
        # FFV1 is lossless and each side ran torch on one thread (a 1-CPU Ray task; 2 local workers on 2
        # cores): the frames are bit-identical. On more cores the local workers use more threads and
        # their sums round differently (docs/batch.md: PSNR >= 60 dB then).
        if (os.cpu_count() or 1) <= 2:
            assert all(np.array_equal(a, b) for (_, a), (_, b) in zip(VideoReader(ours), VideoReader(theirs),
                                                                       strict=True))
        assert min_psnr(ours, theirs) >= 60.0
        assert record_job_key(read_sidecar(ours)) == record_job_key(read_sidecar(theirs))


# --- bad manifests: one line naming the shot and key, exit 1, nothing written -------------------------------

BAD = {
    "unknown top key": ("shot:\n", "m.yaml: unknown key 'shot' (did you mean 'shots'?)"),
    "unknown shot key": ("    ouput: x.mp4\n", "shot 1 (D18): unknown shot key 'ouput' (did you mean 'output'?)"),
    "unknown option": ("    options: {colour: rct}\n", "options: unknown option 'colour' (did you mean 'color'?)"),
    "wrong type": ("    options: {crf: high}\n", "shot d18: options.crf: input should be a valid integer (got 'high')"),
    "out of range": ("    options: {crf: 99}\n", "shot d18: --crf must be in 0-51 (got 99)"),
    "managed option": ("    options: {overwrite: true}\n", "'overwrite' is not a manifest option"),
    "missing input": ("  - {input: nowhere.mp4, output: b.mp4}\n", "shot 2 (nowhere.mp4): input"),
    "empty glob": ("  - {input: 'plates/*.mov', output: 'b/{stem}.mp4'}\n", "matches no file"),
    "missing model": ("    model: models/none\n", "shot d18: model folder"),
    "same output": ("  - {input: D19, output: out/d18.mp4}\n", "output OUT is also shot d18's output"),
    "output is input": ("  - {input: D19, output: D19}\n", "shot d19: output D19 is its input"),
    "missing identity": ("qc: {identity: facesets/none}\n", "qc: identity:"),
    "unknown qc key": ("qc: {fail_undr: {retrieval: 0.5}}\n", "qc: unknown qc key 'fail_undr'"),
    "malformed gate": ("qc: {fail_under: {retrieval: high}}\n", "qc.fail_under"),
    "unknown metric": ("qc: {fail_under: {likeness: 0.5}}\n", "qc: --fail-under: unknown metric 'likeness'"),
    "driver missing": ("    options: {mode: reenact, driver: none.mp4}\n", "shot d18: options.driver:"),
    "frames past the end": ("    options: {frames: '0:999'}\n", "shot d18: --frames 0:999 ends past the end"),
    "codec the output cannot hold": ("    options: {codec: png}\n", "shot d18: png writes a folder of frames"),
    "not yaml": ("  - [unclosed\n", "m.yaml: not valid YAML at line"),
}


def bad_manifest(root: Path, data: Path, model: Path, case: str) -> Path:
    extra, _ = BAD[case]
    d18, d19 = data / "video" / "d18.mp4", data / "video" / "d19.mp4"
    shot = f"  - input: {d18}\n    output: out/d18.mp4\n"
    if case in ("unknown shot key", "unknown option", "wrong type", "out of range", "managed option",
                "missing model", "driver missing", "frames past the end", "codec the output cannot hold"):
        shot += extra
        extra = ""
    text = f"model: {model}\n" + (extra if extra.startswith(("qc", "shot:")) else "") + "shots:\n" + shot
    if extra and not extra.startswith(("qc", "shot:")):
        text += extra.replace("D19", str(d19))
    return write_manifest(root / "m.yaml", text)


@pytest.fixture(scope="module")
def wrong_resolution_model(swap_model, tmp_path_factory) -> Path:
    """A copy of the test model whose config.json says another resolution than its weights have."""
    copy = tmp_path_factory.mktemp("edited") / "model"
    shutil.copytree(swap_model, copy)
    config = json.loads((copy / "config.json").read_text())
    config["model"]["resolution"] = 128
    (copy / "config.json").write_text(json.dumps(config))
    return copy


@pytest.mark.parametrize("case", [*BAD, "wrong resolution"])
def test_a_bad_manifest_is_one_line_before_anything_is_written(case, data, swap_model, wrong_resolution_model,
                                                              run_cli, tmp_path):
    if case == "wrong resolution":
        manifest = bad_manifest(tmp_path, data, swap_model, "missing model")
        manifest.write_text(manifest.read_text().replace("models/none", str(wrong_resolution_model)))
        says = "shot d18: model " + str(wrong_resolution_model) + ": its weights do not fit its config.json (df, 128 px)"
    else:
        manifest = bad_manifest(tmp_path, data, swap_model, case)
        says = BAD[case][1].replace("D18", str(data / "video" / "d18.mp4")).replace(
            # the manifest names shots' files by their real path (../shared may be a link)
            "D19", str((data / "video" / "d19.mp4").resolve())).replace("OUT", str(tmp_path / "out" / "d18.mp4"))
    for args in (["--check"], ["--no-progress"]):
        result = run_cli("batch", manifest, *args)
        lines = result.stderr.strip().splitlines()
        assert result.exit_code == 1 and len(lines) == 1 and lines[0].startswith("error: "), \
            (case, result.exit_code, result.stderr, result.stdout)
        assert says in lines[0], lines[0]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["m.yaml"]   # no report folder, no output


def test_batch_help_explains_every_option_with_its_default(run_cli):
    text = run_cli("batch", "--help").stdout
    for option in ("--jobs", "--cluster", "--check", "--segment-frames", "--retries", "--report", "--progress"):
        assert option in text
    assert text.count("[default: ") >= 7, text
    assert "Must be 1 or more." in text
