"""Film plates: image sequences by pattern, EXR/DPX/16-bit images kept at their own depth, the
face taken through OpenColorIO and back, and everything outside it bit-identical to the input.

The plates are made here from d18.mp4's frames: a half-float ACEScg EXR sequence numbered
1001-1216 (the whole clip), a 10-bit DPX sequence and a folder of 16-bit PNGs.
"""

from __future__ import annotations

import json
import logging
import re
from pathlib import Path

import cv2
import numpy as np
import OpenImageIO as oiio
import pytest
from click.testing import CliRunner

from faceswap import cli, defaults
from faceswap.convert.options import ConvertOptions
from faceswap.convert.pipeline import convert
from faceswap.errors import FaceswapError
from faceswap.extract.options import ExtractOptions
from faceswap.extract.pipeline import extract_source
from faceswap.media.colour import ColourOptions, PlateColour, check_colour
from faceswap.media.plates import Plate, read_plate, write_plate
from faceswap.media.sequence import find_sequence, is_sequence_spec, output_pattern, sequence_stem
from faceswap.provenance import read_sidecar

FIRST = 1001


def _timecode(frame: int, fps: int = 30) -> tuple[int, int]:
    """SMPTE 12M BCD time (the first of EXR's two timecode words) of 01:00:10:00 + frame."""
    total = (3600 + 10) * fps + frame
    ff, ss = total % fps, total // fps
    digits = (ss // 3600, ss // 60 % 60, ss % 60, ff)
    bcd = 0
    for value in digits:
        bcd = (bcd << 8) | ((value // 10) << 4) | (value % 10)
    return bcd, 0


def _acescg(frame: np.ndarray) -> np.ndarray:
    rgb = np.ascontiguousarray(frame.astype(np.float32) / 255.0)
    from faceswap.media.colour import _processor
    _processor(defaults.OCIO_CONFIG, defaults.WORKING_SPACE, "ACEScg").applyRGB(rgb)
    return rgb


def _write(path: Path, pixels: np.ndarray, fmt: str, **attrs) -> None:
    spec = oiio.ImageSpec(pixels.shape[1], pixels.shape[0], pixels.shape[2], fmt)
    for name, value in attrs.items():
        if name == "timecode":
            spec.attribute("smpte:TimeCode", oiio.TypeDesc("timecode"), value)
        else:
            spec.attribute(name, value)
    out = oiio.ImageOutput.create(str(path))
    assert out.open(str(path), spec) and out.write_image(np.ascontiguousarray(pixels)), oiio.geterror()
    out.close()


@pytest.fixture(scope="module")
def exr_plate(d18_frames, tmp_path_factory) -> Path:
    """d18 as sh010_plate.1001-1216.exr: half float, ACEScg, RGBA (alpha 1), zip, a timecode per frame."""
    folder = tmp_path_factory.mktemp("exr_plate")
    for i, frame in enumerate(d18_frames):
        rgba = np.dstack([_acescg(frame), np.ones(frame.shape[:2], np.float32)]).astype(np.float16)
        _write(folder / f"sh010_plate.{FIRST + i}.exr", rgba, "half", compression="zip", timecode=_timecode(i))
    return folder / "sh010_plate.####.exr"


def _face_box(landmarks: np.ndarray, shape: tuple[int, ...], margin: float = 0.6) -> tuple[slice, slice]:
    """The face's landmark box grown by `margin` of its width on every side (the blend's reach)."""
    x0, y0 = landmarks.min(0)
    x1, y1 = landmarks.max(0)
    grow = margin * (x1 - x0)
    ys = slice(max(int(y0 - grow), 0), min(int(y1 + grow) + 1, shape[0]))
    xs = slice(max(int(x0 - grow), 0), min(int(x1 + grow) + 1, shape[1]))
    return ys, xs


def _outside(a: np.ndarray, box: tuple[slice, slice]) -> np.ndarray:
    keep = np.ones(a.shape[:2], bool)
    keep[box] = False
    return a[keep]


# --- sequence patterns -----------------------------------------------------------------------

def test_sequence_patterns_find_the_plate_frames_whatever_the_notation(tmp_path):
    for frame in (1001, 1002, 1003, 1005):
        (tmp_path / f"sh010_plate.{frame:04d}.exr").write_bytes(b"")
    (tmp_path / "sh010_plate.1001.dpx").write_bytes(b"")
    (tmp_path / "other.0001.exr").write_bytes(b"")
    for spec in ("sh010_plate.####.exr", "sh010_plate.#.exr", "sh010_plate.%04d.exr", "sh010_plate.@@@@.exr",
                 "sh010_plate.$F4.exr"):
        seq = find_sequence(tmp_path / spec)
        assert seq.frames == (1001, 1002, 1003, 1005), spec
        assert seq.path(1005) == tmp_path / "sh010_plate.1005.exr" and seq.name(1005) == "1005"
        assert seq.missing() == [1004]
    assert find_sequence(tmp_path / "sh010_plate.1002-1005#.exr").frames == (1002, 1003, 1005)
    assert sequence_stem(tmp_path / "sh010_plate.####.exr") == "sh010_plate"
    assert is_sequence_spec("a/b.%04d.exr") and is_sequence_spec("b.1001-1240#.exr") and not is_sequence_spec("b.exr")
    with pytest.raises(FaceswapError, match="no files of the sequence nothing.####.exr"):
        find_sequence(tmp_path / "nothing.####.exr")
    with pytest.raises(FaceswapError, match="none of the frames 2000-2010"):
        find_sequence(tmp_path / "sh010_plate.2000-2010#.exr")
    seq = find_sequence(tmp_path / "sh010_plate.####.exr")
    out = tmp_path / "out"
    out.mkdir()
    assert output_pattern(out / "comp.%05d.exr", seq).path(1001) == out / "comp.01001.exr"
    assert output_pattern(out / "comp.#.exr", seq).path(1001) == out / "comp.1001.exr"   # a lone # keeps the pad
    assert output_pattern(out, seq).path(1001) == out / "sh010_plate.1001.exr"          # a folder keeps the names


# --- plates read and written at their own depth ------------------------------------------------

@pytest.mark.parametrize("suffix, fmt, bits", [(".exr", "half", 16), (".exr", "float", 32), (".dpx", "uint16", 10),
                                               (".tif", "uint16", 16), (".png", "uint16", 16)])
def test_a_plate_round_trips_bit_exact_with_its_header(tmp_path, suffix, fmt, bits):
    rng = np.random.default_rng(1)
    if fmt in ("half", "float"):
        pixels = (rng.random((24, 40, 3)) * 4 - 0.5).astype(np.float16 if fmt == "half" else np.float32)
    else:
        codes = rng.integers(0, 1 << bits, (24, 40, 3))
        pixels = (codes * 65535 // ((1 << bits) - 1)).astype(np.uint16)  # as OpenImageIO scales 10-bit up
    attrs = {"oiio:BitsPerSample": bits} if bits == 10 else {}
    if suffix == ".exr":
        attrs["timecode"] = _timecode(7)
    _write(tmp_path / f"in{suffix}", pixels, fmt, **attrs)
    plate = read_plate(tmp_path / f"in{suffix}")
    assert plate.format == fmt and plate.bits == bits and plate.pixels.shape == (24, 40, 3)
    write_plate(tmp_path / f"out{suffix}", plate, {"faceswap:synthetic": "1"})
    again = read_plate(tmp_path / f"out{suffix}")
    assert again.format == fmt and again.bits == bits
    assert np.array_equal(again.pixels.view(np.uint8), plate.pixels.view(np.uint8))  # bitwise, NaN-safe
    if suffix == ".exr":
        assert again.attribute("smpte:TimeCode") == _timecode(7)
        assert again.attribute("faceswap:synthetic") == "1"


def test_half_rgb_beside_a_float_depth_channel_is_written_back_with_each_channels_type(tmp_path):
    spec = oiio.ImageSpec(40, 24, 4, "float")
    spec.channelnames = ("R", "G", "B", "Z")
    spec.channelformats = (oiio.TypeDesc("half"),) * 3 + (oiio.TypeDesc("float"),)
    data = np.random.default_rng(2).random((24, 40, 4)).astype(np.float32) * 100
    out = oiio.ImageOutput.create(str(tmp_path / "in.exr"))
    assert out.open(str(tmp_path / "in.exr"), spec) and out.write_image(data)
    out.close()
    plate = read_plate(tmp_path / "in.exr")
    assert plate.channel_formats == ("half", "half", "half", "float") and plate.bits == 16
    write_plate(tmp_path / "out.exr", plate)
    back = oiio.ImageInput.open(str(tmp_path / "out.exr"))
    assert [str(t) for t in back.spec().channelformats] == ["half", "half", "half", "float"]
    back.close()
    again = read_plate(tmp_path / "out.exr")
    assert np.array_equal(again.pixels, plate.pixels) and np.array_equal(again.extra, plate.extra)
    assert not np.array_equal(again.extra, again.extra.astype(np.float16))    # the depth kept at float


def test_a_plate_with_fewer_than_three_channels_or_damaged_is_one_line(tmp_path):
    _write(tmp_path / "grey.exr", np.zeros((8, 8, 1), np.float16), "half")
    with pytest.raises(FaceswapError, match=r"^grey.exr has 1 channel\(s\): plates must be RGB$"):
        read_plate(tmp_path / "grey.exr")
    (tmp_path / "bad.exr").write_bytes(b"not an exr")
    with pytest.raises(FaceswapError, match=r"^cannot read bad.exr: "):
        read_plate(tmp_path / "bad.exr")


def test_extract_refuses_a_grey_sequence_before_making_the_faceset(run_cli, tmp_path):
    for frame in (1, 2):
        _write(tmp_path / f"grey.{frame:04d}.exr", np.zeros((8, 8, 1), np.float16), "half")
    result = run_cli("extract", tmp_path / "grey.####.exr", "-o", tmp_path / "faceset", "--no-progress")
    assert result.exit_code == 1 and result.stderr == "error: grey.0001.exr has 1 channel(s): plates must be RGB\n"
    assert not (tmp_path / "faceset").exists()


# --- colour management -----------------------------------------------------------------------

def test_the_working_space_round_trip_of_a_scene_linear_plate(d18_frames):
    frame = d18_frames[0][:64, :64]
    plate = Plate(_acescg(frame).astype(np.float16), None, ("R", "G", "B"), "half", 16)
    colour = PlateColour()
    shown = colour.to_working(plate)
    assert shown.dtype == np.uint8
    assert np.abs(shown.astype(int) - frame.astype(int)).max() <= 1   # half float costs at most a level
    back = colour.to_plate(shown.astype(np.float32) / 255.0, plate)
    # 8-bit steps of the working space, seen in scene-linear values of 0-1
    assert np.abs(back - plate.pixels.astype(np.float32)).max() < 0.01
    sixteen = Plate((frame.astype(np.uint16) * 257), None, ("R", "G", "B"), "uint16", 16)
    assert np.array_equal(colour.to_working(sixteen), frame)            # integer: no transform, rescaled
    assert np.allclose(colour.to_plate(frame.astype(np.float32) / 255.0, sixteen), frame * 257.0, atol=0.05)


def test_unknown_colour_spaces_and_configs_are_refused_in_one_line():
    with pytest.raises(FaceswapError, match=r"--input-space 'ACES cg' is not a colour space of ocio://.*"
                                            r"did you mean 'ACEScg'"):
        check_colour(ColourOptions(input_space="ACES cg"))
    with pytest.raises(FaceswapError, match=r"did you mean 'sRGB - Display'"):
        check_colour(ColourOptions(working_space="sRGB"))
    with pytest.raises(FaceswapError, match=r"^cannot load the OCIO config /nowhere.ocio"):
        check_colour(ColourOptions(ocio="/nowhere.ocio"))
    check_colour(ColourOptions(input_space="ACES2065-1"))


# --- extract and convert on plates -------------------------------------------------------------

@pytest.fixture(scope="module")
def exr_faceset(exr_plate, backend, tmp_path_factory):
    out = tmp_path_factory.mktemp("exr_faceset")
    summary = extract_source(exr_plate, out, ExtractOptions(every=1), backend=backend, progress=False)
    return out, summary


@pytest.mark.slow
def test_extract_reads_an_exr_sequence_and_keys_alignments_on_plate_frame_numbers(exr_faceset, d18_frames):
    out, summary = exr_faceset
    assert summary.frames == len(d18_frames) == 216
    assert summary.frames_with_faces >= 0.95 * summary.frames
    lines = (out / "sh010_plate.alignments.jsonl").read_text().splitlines()
    header, records = json.loads(lines[0]), [json.loads(x) for x in lines[1:]]
    assert header["kind"] == "sequence" and header["working_space"] == defaults.WORKING_SPACE
    assert {r["frame"] for r in records} == set(range(FIRST, FIRST + 216))
    assert all(r["name"] == str(r["frame"]) for r in records)
    assert (out / "sh010_plate_1001_0.png").is_file() and (out / "sh010_plate_1216_0.png").is_file()


@pytest.mark.slow
def test_an_exr_plate_converts_to_half_float_with_frame_numbers_and_everything_outside_the_face_kept(
        exr_plate, exr_faceset, swap_model, tmp_path):
    faceset, _ = exr_faceset
    out = tmp_path / "comp"
    out.mkdir()
    options = ConvertOptions(all_faces=True, alignments=str(faceset))
    summary = convert(exr_plate, swap_model, out / "sh010_comp.####.exr", options, progress=False)
    assert summary.frames == 216 and summary.swapped >= 0.95 * 216
    written = sorted(out.glob("sh010_comp.*.exr"))
    assert [p.name for p in written] == [f"sh010_comp.{FIRST + i}.exr" for i in range(216)]
    assert [p.name for p in out.iterdir() if p.name.startswith(".")] == []   # no partial left behind
    records = {json.loads(x)["frame"]: json.loads(x) for x in
               (faceset / "sh010_plate.alignments.jsonl").read_text().splitlines()[1:]}
    changed = []
    for frame in (FIRST, FIRST + 60, FIRST + 215):
        before, after = read_plate(exr_plate.parent / f"sh010_plate.{frame}.exr"), read_plate(out / f"sh010_comp.{frame}.exr")
        assert after.format == "half" and after.channel_names == ("R", "G", "B", "A")
        assert np.array_equal(after.extra, before.extra)                      # alpha untouched
        assert after.attribute("smpte:TimeCode") == _timecode(frame - FIRST)  # each frame's own timecode
        assert after.attribute("faceswap:synthetic") == "1"
        box = _face_box(np.asarray(records[frame]["faces"][0]["landmarks"]), before.pixels.shape)
        assert np.array_equal(_outside(after.pixels, box).view(np.uint16), _outside(before.pixels, box).view(np.uint16))
        # within the landmarks' own box (the face itself, not the blend's reach around it): the
        # watermark moves flat skin by 2 levels only, so what changes there is the swap
        inner = _face_box(np.asarray(records[frame]["faces"][0]["landmarks"]), before.pixels.shape, margin=0.0)
        diff = np.abs(after.pixels.astype(np.float32) - before.pixels.astype(np.float32))[inner]
        changed.append(float((diff.max(axis=2) > 0.01).mean()))
    assert min(changed) > 0.5, changed    # the face was replaced, not a few pixels nudged
    record = read_sidecar(out / "sh010_comp.####.exr")
    assert record["output"]["method"] == "sequence-contents" and record["output"]["files"] == 216
    assert record["timecode"] == "01:00:10:00"          # the first plate's, read from its header
    assert record["plate_space"] == "ACEScg"             # the default for float plates, resolved
    assert (out / "sh010_comp.provenance.json").is_file()


@pytest.mark.slow
def test_a_lossy_dwaa_plate_is_written_zip_so_the_background_stays_bit_exact(d18_frames, swap_model, tmp_path,
                                                                              caplog):
    folder = tmp_path / "dwaa"
    folder.mkdir()
    for i, frame in enumerate(d18_frames[:3]):
        _write(folder / f"sh020.{FIRST + i}.exr", _acescg(frame).astype(np.float16), "half", compression="dwaa:45")
    plate = read_plate(folder / f"sh020.{FIRST}.exr")
    assert plate.attribute("compression").startswith("dwaa")
    with caplog.at_level(logging.INFO, logger="faceswap"):
        convert(folder / "sh020.####.exr", swap_model, tmp_path / "out", ConvertOptions(all_faces=True),
                progress=False)
    assert [r.getMessage() for r in caplog.records if "lossy" in r.getMessage()] == [
        "the plates are dwaa compressed, which is lossy: the output is written zip compressed so nothing outside "
        "the face changes"]
    for i in range(3):
        before, after = read_plate(folder / f"sh020.{FIRST + i}.exr"), read_plate(tmp_path / "out" / f"sh020.{FIRST + i}.exr")
        assert after.attribute("compression") == "zip"
        same = (after.pixels.view(np.uint16) == before.pixels.view(np.uint16)).all(axis=2).mean()
        assert 0.75 < same < 1.0, same      # re-encoded as DWAA, nearly every pixel would move


@pytest.mark.slow
def test_frames_take_plate_numbers_and_a_second_run_needs_overwrite(exr_plate, swap_model, tmp_path):
    options = ConvertOptions(all_faces=True, frames="1100:1110")
    convert(exr_plate, swap_model, tmp_path, options, progress=False)   # a folder: the plate's own names
    assert sorted(p.name for p in tmp_path.glob("*.exr")) == [f"sh010_plate.{f}.exr" for f in range(1100, 1110)]
    with pytest.raises(FaceswapError, match=r"10 frames of sh010_plate.####.exr exist in .*: pass --overwrite"):
        convert(exr_plate, swap_model, tmp_path, options, progress=False)
    # the next range beside them: the record of the first run is kept in the sidecar
    convert(exr_plate, swap_model, tmp_path, ConvertOptions(all_faces=True, frames="1110:1112"), progress=False)
    record = read_sidecar(tmp_path / "sh010_plate.####.exr")
    assert record["settings"]["frames"] == "1110:1112" and record["output"]["files"] == 12
    assert [r["settings"]["frames"] for r in record["earlier_runs"]] == ["1100:1110"]
    with pytest.raises(FaceswapError, match="would overwrite the input plate"):
        convert(exr_plate, swap_model, exr_plate.parent, ConvertOptions(all_faces=True, frames="1100:1101",
                                                                      overwrite=True), progress=False)
    # a pattern in a folder not made yet: made, as a folder output is
    convert(exr_plate, swap_model, tmp_path / "v002" / "comp.#.exr", ConvertOptions(frames="1100:1102"),
            progress=False)
    assert sorted(p.name for p in (tmp_path / "v002").iterdir()) == ["comp.1100.exr", "comp.1101.exr",
                                                                     "comp.provenance.json"]


def _dpx_sequence(frames: list[np.ndarray], folder: Path) -> Path:
    folder.mkdir()
    for i, frame in enumerate(frames):
        codes = frame.astype(np.uint32) * 4 + 1                       # 10-bit codes, not 8-bit ones shifted
        _write(folder / f"plate_{FIRST + i:07d}.dpx", (codes * 65535 // 1023).astype(np.uint16), "uint16", **{"oiio:BitsPerSample": 10})
    return folder / "plate_%07d.dpx"


@pytest.mark.slow
def test_a_10_bit_dpx_sequence_and_a_16_bit_png_folder_keep_their_depth(d18_frames, swap_model, backend, tmp_path):
    dpx = _dpx_sequence(d18_frames[:12], tmp_path / "dpx")
    pngs = tmp_path / "png16"
    pngs.mkdir()
    for i, frame in enumerate(d18_frames[:12]):
        cv2.imwrite(str(pngs / f"still_{i:02d}.png"), (frame.astype(np.uint16) * 257 + 100)[..., ::-1])
    options = ConvertOptions(all_faces=True)
    convert(dpx, swap_model, tmp_path / "dpx_out", options, progress=False)
    convert(pngs, swap_model, tmp_path / "png_out", options, progress=False)
    for src, dst in ((dpx.parent / "plate_0001005.dpx", tmp_path / "dpx_out" / "plate_0001005.dpx"),
                     (pngs / "still_04.png", tmp_path / "png_out" / "still_04.png")):
        before, after = read_plate(src), read_plate(dst)
        assert (after.format, after.bits) == (before.format, before.bits) and after.bits in (10, 16)
        moved = np.any(after.pixels != before.pixels, axis=2)
        assert 0.02 < moved.mean() < 0.5                                  # the face changed
        # and nothing beyond the blend's reach around the face found in the 8-bit frame
        box = _face_box(backend.detect(d18_frames[4])[0].landmarks, before.pixels.shape)
        assert np.array_equal(_outside(after.pixels, box), _outside(before.pixels, box))
    assert cv2.imread(str(tmp_path / "png_out" / "still_04.png"), cv2.IMREAD_UNCHANGED).dtype == np.uint16


@pytest.fixture
def run_cli(monkeypatch):
    monkeypatch.setattr(cli, "filter_native_stderr", lambda: None)
    monkeypatch.setattr(cli, "setup_logging", lambda level: None)
    return lambda *args: CliRunner().invoke(cli.main, [str(a) for a in args])


def test_a_sequence_to_a_video_file_or_a_bad_colour_space_is_refused_before_work(run_cli, exr_plate, tmp_path):
    result = run_cli("convert", exr_plate, "-m", tmp_path / "no-model", "-o", tmp_path / "out.mp4", "--no-progress")
    assert result.exit_code == 1
    assert re.fullmatch(r"error: sh010_plate.####.exr is an image sequence: write it as one, to a pattern such as "
                        r"out.####.exr or to a folder, not to out.mp4\n", result.stderr)
    result = run_cli("convert", exr_plate, "-m", tmp_path / "no-model", "-o", tmp_path, "--input-space", "LogC",
                     "--no-progress")
    assert result.exit_code == 1 and result.stderr.startswith("error: --input-space 'LogC' is not a colour space")
    result = run_cli("convert", exr_plate, "-m", tmp_path / "no-model", "-o", tmp_path, "--frames", "2000:2010",
                     "--no-progress")
    assert result.stderr == ("error: --frames 2000:2010 starts past the end of sh010_plate.####.exr "
                             "(216 frames, 1001-1216)\n")
    result = run_cli("convert", exr_plate, "-m", tmp_path / "no-model", "-o", tmp_path / "comp.####.dpx",
                     "--no-progress")
    assert result.stderr == "error: the output keeps the plates' file type: write comp.####.exr, not comp.####.dpx\n"
    result = run_cli("convert", exr_plate, "-m", tmp_path / "no-model", "-o", tmp_path / "a" / "b" / "c.####.exr",
                     "--no-progress")
    assert result.stderr == f"error: cannot write {tmp_path / 'a' / 'b' / 'c.####.exr'}: folder {tmp_path / 'a'} " \
                            "does not exist\n"
    assert list(tmp_path.iterdir()) == []


@pytest.mark.slow
def test_batch_converts_a_plate_shot_checks_it_with_qc_and_skips_it_on_a_rerun(exr_plate, swap_model, run_cli,
                                                                               tmp_path):
    manifest = tmp_path / "shots.yaml"
    manifest.write_text(f"""
model: {swap_model}
options: {{device: cpu, all_faces: true, frames: "1001:1013"}}
qc: {{identity: {swap_model.parent / 'b'}, identity_every: 4, identity_samples: 4}}
shots:
  - input: "{exr_plate}"
    output: "comp/{{stem}}_comp.####.exr"
""", encoding="utf-8")
    (tmp_path / "comp").mkdir()
    result = run_cli("batch", manifest, "--no-progress")
    assert result.exit_code == 0, result.stderr
    shot = json.loads((tmp_path / "shots-report" / "batch-report.json").read_text())["shots"][0]
    assert shot["shot"] == "sh010_plate" and shot["status"] == "done" and shot["frames"] == 12
    assert shot["qc_note"] is None and shot["qc"]["swapped"] > 0.9, shot
    assert not [f for f in shot["qc_failures"] if f.startswith("integrity")], shot  # frame numbers, size, depth
    assert sorted(p.name for p in (tmp_path / "comp").glob("*.exr")) == [
        f"sh010_plate_comp.{f}.exr" for f in range(1001, 1013)]
    before = {p.name: p.stat().st_mtime_ns for p in (tmp_path / "comp").iterdir()}
    result = run_cli("batch", manifest, "--no-progress")
    assert result.exit_code == 0, result.stderr
    again = json.loads((tmp_path / "shots-report" / "batch-report.json").read_text())["shots"][0]
    assert again["status"] == "skipped"
    assert {p.name: p.stat().st_mtime_ns for p in (tmp_path / "comp").iterdir()} == before


def test_train_refuses_facesets_from_two_working_spaces_unless_forced(swap_model, run_cli, tmp_path):
    import shutil

    other = tmp_path / "b_rec1886"
    shutil.copytree(swap_model.parent / "b", other)
    for path in other.glob("*.alignments.jsonl"):
        lines = path.read_text().splitlines()
        header = json.loads(lines[0])
        assert header.get("working_space", defaults.WORKING_SPACE) == defaults.WORKING_SPACE
        header["working_space"] = "Rec.1886 Rec.709 - Display"
        path.write_text("\n".join([json.dumps(header), *lines[1:]]) + "\n")
    model = tmp_path / "model"
    result = run_cli("train", swap_model.parent / "a", other, "-m", model, "--iterations", "1", "--no-progress")
    assert result.exit_code == 1
    assert result.stderr == ("error: the facesets were extracted in different working spaces (A: sRGB - Display; "
                             "B: Rec.1886 Rec.709 - Display): extract again with one --working-space, or pass "
                             "--force to train on them as they are\n")
    assert not model.exists()
    result = run_cli("train", swap_model.parent / "a", other, "-m", model, "--iterations", "1", "--force",
                     "--no-progress", "--preset", "quick")
    assert result.exit_code == 0, result.stderr


@pytest.mark.slow
def test_exr_patches_merged_over_the_plate_give_the_converted_plate_within_half_float_precision(
        exr_plate, swap_model, tmp_path):
    from faceswap.media.writers import load_patches, recomposite_plate

    # watermark off: the two runs' settings differ (codec), so would their marks' output ids
    options = ConvertOptions(all_faces=True, frames="1001:1006", watermark="off")
    convert(exr_plate, swap_model, tmp_path / "plates", options, progress=False)
    convert(exr_plate, swap_model, tmp_path / "patches", ConvertOptions(**{**options.to_dict(), "codec": "patch"}),
            progress=False)
    index = load_patches(tmp_path / "patches")
    assert sorted(index.frames) == list(range(1001, 1006))
    for frame in range(1001, 1006):
        entry = index.frames[frame][0]
        assert entry["file"] == f"{frame:06d}_0.exr" and entry["alpha"] == "premultiplied"
        layer = read_plate(tmp_path / "patches" / entry["file"])
        assert layer.format == "half" and layer.channel_names == ("R", "G", "B", "A")
        header = oiio.ImageInput.open(str(tmp_path / "patches" / entry["file"]))
        spec = header.spec()
        header.close()
        assert (spec.x, spec.y, spec.full_width, spec.full_height) == (entry["x"], entry["y"], *index.frame_size)
        plate = read_plate(exr_plate.parent / f"sh010_plate.{frame}.exr")
        merged = recomposite_plate(index, frame, plate).astype(np.float16)
        converted = read_plate(tmp_path / "plates" / f"sh010_plate.{frame}.exr").pixels
        # bound: both results rounded to half (1 ulp each) plus the plate behind times one
        # half-float step of the stored alpha below 1 (2**-11)
        bound = 2 * np.spacing(np.abs(converted)).astype(np.float32) + plate.pixels.astype(np.float32) * 2.0 ** -11
        error = np.abs(merged.astype(np.float32) - converted.astype(np.float32))
        assert (error <= bound).all(), (error.max(), (error / bound).max())
        assert not np.array_equal(converted, plate.pixels)     # the face is there to merge
