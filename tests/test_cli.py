"""`faceswap --help` shows the defaults and choices the code uses, read from where they are defined."""

from __future__ import annotations

import importlib
import re
import subprocess
import sys

import click
import pytest
from click.testing import CliRunner

from faceswap import cli, defaults
from faceswap.convert.options import ConvertOptions
from faceswap.extract.options import ExtractOptions
from faceswap.model.config import GAN_LOSSES
from faceswap.train.config import PRESETS, TrainConfig


def option_help(text: str, option: str) -> str:
    """The help of one option (its lines up to the next option), whitespace folded."""
    lines = text.splitlines()
    start = next(i for i, line in enumerate(lines) if line.split()[:1] == [option])
    block = [lines[start]] + [line for line in lines[start + 1:]]
    end = next((i for i, line in enumerate(block[1:], 1) if line.lstrip().startswith("-")), len(block))
    return " ".join(" ".join(block[:end]).split())


def helptext(command: str) -> str:
    return CliRunner().invoke(cli.main, [command, "--help"], terminal_width=1000, max_content_width=1000).output


def test_help_shows_the_dataclass_defaults():
    train = helptext("train")
    assert f"[default: {TrainConfig.save_every}]" in option_help(train, "--save-every")
    assert f"[default: {TrainConfig.gan_loss}]" in option_help(train, "--gan-loss")
    assert f"[{'|'.join(GAN_LOSSES)}]" in option_help(train, "--gan-loss")
    assert f"[{'|'.join(PRESETS)}]" in option_help(train, "--preset")
    assert f"[default: {ExtractOptions.size}]" in option_help(helptext("extract"), "--size")
    convert = helptext("convert")
    assert f"[default: {ConvertOptions.smooth}]" in option_help(convert, "--smooth")
    assert f"[default: {defaults.H264_CRF} for H.264" in option_help(convert, "--crf")


# Changed defaults: what --help must then show, option by option.
_CHANGED = """
import sys
from faceswap import defaults
from faceswap.convert.options import ConvertOptions
from faceswap.extract.options import ExtractOptions
from faceswap.train.config import PRESETS, TrainConfig
for cls, name, value in [(TrainConfig, "save_every", 1234), (TrainConfig, "gan_loss", "hinge"),
                         (TrainConfig, "eyes_weight", 7.5), (TrainConfig, "amp", False),
                         (ExtractOptions, "size", 320), (ConvertOptions, "smooth", 3.25),
                         (ConvertOptions, "device", "cpu")]:
    cls.__dataclass_fields__[name].default = value
PRESETS["quick"]["model"]["resolution"] = 96
defaults.H264_CRF, defaults.CONVERT_TO, defaults.QC_IDENTITY_EVERY = 17, "a", 7
from faceswap.cli import main
main.main([sys.argv[1], "--help"], prog_name="faceswap", terminal_width=1000, max_content_width=1000)
"""


@pytest.mark.parametrize("command, option, shown", [
    ("train", "--save-every", "[default: 1234]"),
    ("train", "--gan-loss", "[default: hinge]"),
    ("train", "--eyes-weight", "[default: 7.5]"),
    ("train", "--amp", "[default: off]"),
    ("train", "--resolution", "quick 96,"),
    ("extract", "--size", "[default: 320]"),
    ("convert", "--smooth", "[default: 3.25]"),
    ("convert", "--device", "[default: cpu]"),
    ("convert", "--crf", "[default: 17 for H.264"),
    ("convert", "--to", "[default: a,"),
    ("qc", "--identity-every", "[default: 7]"),
])
def test_help_follows_a_changed_default(changed_help, command, option, shown):
    assert shown in option_help(changed_help[command], option)


@pytest.fixture(scope="module")
def changed_help() -> dict[str, str]:
    out = {}
    for command in ("train", "extract", "convert", "qc"):
        run = subprocess.run([sys.executable, "-c", _CHANGED, command], capture_output=True, text=True)
        assert run.returncode == 0, run.stderr
        out[command] = run.stdout
    return out


# --- numbers out of range: one line naming the option and its range, before any work -------------------

@pytest.fixture
def run_cli(monkeypatch):
    """`faceswap ARGS` in-process -> click Result (stdout and stderr apart). The native-stderr filter and
    the log handler the entry point installs would outlive CliRunner's streams: left out here."""
    monkeypatch.setattr(cli, "filter_native_stderr", lambda: None)
    monkeypatch.setattr(cli, "setup_logging", lambda level: None)
    return lambda *args: CliRunner().invoke(cli.main, [str(a) for a in args])


def one_line_error(result) -> str:
    lines = result.stderr.strip().splitlines()
    assert result.exit_code != 0 and len(lines) == 1 and lines[0].startswith("error: "), \
        (result.exit_code, result.stderr, result.stdout)
    return lines[0]


D18_FRAMES = 216   # frames of d18.mp4 (counted by decoding every one, conftest's frame_count)


@pytest.mark.parametrize("case, args, line", [
    ("iterations", ["--iterations", "-5"], "error: --iterations must be 1 or more (got -5)"),
    ("minutes", ["--minutes", "-1"], "error: --minutes must be more than 0 (got -1)"),
    ("lr", ["--lr", "0", "--iterations", "2"], "error: --lr must be more than 0 and at most 1 (got 0)"),
    ("coverage", ["--coverage", "3", "--iterations", "2"], "error: --coverage must be in 0.1-2 (got 3)"),
])
def test_train_refuses_a_number_out_of_range_before_making_the_model(run_cli, d18_faceset, tmp_path, case, args,
                                                                      line):
    faceset, _ = d18_faceset
    model = tmp_path / "model"
    result = run_cli("train", faceset, faceset, "-m", model, "--workers", "0", "--no-progress", *args)
    assert one_line_error(result) == line
    assert not model.exists() and result.stdout == ""


@pytest.mark.parametrize("args, line", [
    (["--min-size", "-3"], "error: --min-size must be 0 or more (got -3)"),
    (["--confidence", "1.5"], "error: --confidence must be in 0-1 (got 1.5)"),
    (["--size", "8"], "error: --size must be in 16-2048 (got 8)"),
])
def test_extract_refuses_a_number_out_of_range_before_making_the_faceset(run_cli, data, tmp_path, args, line):
    out = tmp_path / "faceset"
    result = run_cli("extract", data / "video" / "d18.mp4", "-o", out, "--every", "50", "--no-progress", *args)
    assert one_line_error(result) == line
    assert not out.exists() and result.stdout == ""


@pytest.mark.parametrize("args, line", [
    (["--crf", "99"], "error: --crf must be in 0-51 (got 99)"),
    (["--erode", "60"], "error: --erode must be in -50 to 50 (got 60)"),
    (["--preview", "-1"], "error: --preview must be 0 or more (got -1)"),
    (["--preview", "99999"], f"error: --preview 99999 is past the end of d18.mp4 ({D18_FRAMES} frames, "
                             f"0-{D18_FRAMES - 1})"),
    (["--frames", "300:"], f"error: --frames 300: starts past the end of d18.mp4 ({D18_FRAMES} frames, "
                           f"0-{D18_FRAMES - 1})"),
    (["--frames", "170:500"], f"error: --frames 170:500 ends past the end of d18.mp4 ({D18_FRAMES} frames, "
                              f"0-{D18_FRAMES - 1}; END is excluded, so {D18_FRAMES} at most, or 170: for the rest)"),
])
def test_convert_refuses_a_number_out_of_range_or_past_the_end(run_cli, data, tmp_path, frame_count, args, line):
    assert frame_count(data / "video" / "d18.mp4") == D18_FRAMES
    out = tmp_path / "out.mp4"
    # the checks come before the model loads: a folder without one shows they do
    result = run_cli("convert", data / "video" / "d18.mp4", "-m", tmp_path / "no-model", "-o", out, "--no-progress",
                     *args)
    assert one_line_error(result) == line
    assert list(tmp_path.iterdir()) == [] and result.stdout == ""


def test_convert_preview_of_the_last_frame_is_in_range(data, tmp_path):
    from faceswap.convert.frame_range import check_frame_range
    from faceswap.convert.options import ConvertOptions
    check_frame_range(data / "video" / "d18.mp4", ConvertOptions(preview=D18_FRAMES - 1, frames=f"0:{D18_FRAMES}"))


def test_qc_refuses_a_number_out_of_range(run_cli, data, tmp_path):
    d18 = data / "video" / "d18.mp4"
    result = run_cli("qc", d18, "-i", d18, "--max-frames", "2", "--unchanged-level", "-1", "--report", tmp_path / "r")
    assert one_line_error(result) == "error: --unchanged-level must be in 0-255 (got -1)"
    assert not (tmp_path / "r").exists()


def test_qc_says_which_of_its_two_videos_it_cannot_read(run_cli, data, tmp_path):
    d18 = data / "video" / "d18.mp4"
    text = tmp_path / "notes.mp4"
    text.write_text("not a video")
    assert one_line_error(run_cli("qc", text, "-i", d18)).startswith(f"error: the output: cannot read video {text}")
    assert one_line_error(run_cli("qc", d18, "-i", text)).startswith(
        f"error: the original (-i): cannot read video {text}")
    assert one_line_error(run_cli("qc", d18, "-i", tmp_path / "gone.mp4")) == \
        f"error: the original (-i): no such file or folder: {tmp_path / 'gone.mp4'}"


def test_the_api_refuses_with_the_cli_s_line(run_cli, d18_faceset, data, tmp_path):
    from faceswap import api
    from faceswap.errors import FaceswapError
    faceset, _ = d18_faceset
    with pytest.raises(FaceswapError) as err:
        api.train(faceset, faceset, tmp_path / "model", overrides={"iterations": -5, "workers": 0}, progress=False)
    assert f"error: {err.value}" == one_line_error(
        run_cli("train", faceset, faceset, "-m", tmp_path / "model", "--iterations", "-5"))
    assert not (tmp_path / "model").exists()
    d18 = data / "video" / "d18.mp4"
    with pytest.raises(FaceswapError) as err:
        api.convert(d18, tmp_path / "no-model", tmp_path / "out.mp4", ConvertOptions(preview=99999))
    assert f"error: {err.value}" == one_line_error(
        run_cli("convert", d18, "-m", tmp_path / "no-model", "-o", tmp_path / "out.mp4", "--preview", "99999"))


# the options records behind each command's options, by module and name (qc's record has a light module now)
_RECORDS = {"extract": ["extract.options.ExtractOptions"], "convert": ["convert.options.ConvertOptions"],
            "qc": ["qc.options.QcOptions"], "train": ["model.config.ModelConfig", "train.config.TrainConfig"],
            "batch": ["batch.options.BatchOptions"]}


def _record(path: str) -> type:
    module, _, name = path.rpartition(".")
    return getattr(importlib.import_module(f"faceswap.{module}"), name)


def _records(command: str) -> list[type]:
    return [_record(path) for path in _RECORDS[command]]


@pytest.mark.parametrize("command", list(_RECORDS))
def test_every_numeric_option_has_a_declared_range_that_help_shows(command):
    from faceswap.ranges import range_of
    text = helptext(command)
    numeric = [p for p in cli.main.commands[command].params
               if isinstance(p.type, (click.types.IntParamType, click.types.FloatParamType))]
    assert numeric
    for param in numeric:
        rng = next(range_of(cls, param.name) for cls in _records(command) if param.name in cls.__dataclass_fields__)
        assert rng is not None, param.name
        assert f"Must be {rng}" in option_help(text, param.opts[-1]), param.name


@pytest.mark.parametrize("path", [p for paths in _RECORDS.values() for p in paths])
def test_each_record_refuses_a_value_just_outside_each_declared_range(path):
    """What a batch manifest or a script gets from the record itself, field by field."""
    cls = _record(path)
    from faceswap.errors import FaceswapError
    from faceswap.ranges import option_name, range_of
    ranged = [f for f in cls.__dataclass_fields__ if range_of(cls, f) is not None]
    assert ranged
    for name in ranged:
        rng = range_of(cls, name)
        outside = ([rng.low if rng.low_open else rng.low - 1] if rng.low is not None else []) + \
                  ([rng.high + 1] if rng.high is not None else [])
        for value in outside:
            record = cls()
            setattr(record, name, value)
            with pytest.raises(FaceswapError, match=f"^{re.escape(f'{option_name(name)} must be {rng} (got ')}"):
                record.validate()
        for value in (rng.low, rng.high):   # the bounds themselves, where they are included
            if value is not None and not (value == rng.low and rng.low_open):
                record = cls()
                setattr(record, name, type(cls.__dataclass_fields__[name].default or value)(value))
                try:
                    record.validate()
                except FaceswapError as err:
                    assert not str(err).startswith(option_name(name) + " must be "), err


# --- usage errors and help -------------------------------------------------------------------------------

@pytest.mark.parametrize("args, says", [
    (["extract", "--bogus", "x"], "No such option '--bogus'"),
    (["extract"], "Missing argument 'INPUT...'"),
    (["bogus"], "No such command 'bogus'"),
    (["convert", "in.mp4", "-m", "m", "-o", "o.mp4", "--preset", "quick"], "Invalid value for '--preset'"),
    (["train", "a", "b", "-m", "m", "--iterations", "many"], "Invalid value for '--iterations'"),
])
def test_usage_errors_are_one_line_with_the_help_hint_and_exit_2(run_cli, args, says):
    result = run_cli(*args)
    line = one_line_error(result)
    assert result.exit_code == 2 and says in line and "--help" in line, line


def test_a_verify_usage_error_exits_1_as_its_exit_2_means_no_label(run_cli):
    result = run_cli("verify", "--max-windows", "many", "x.mp4")
    line = one_line_error(result)
    assert result.exit_code == 1 and "Invalid value for '--max-windows'" in line, line
    assert run_cli("verify").exit_code == 1          # no FILE


def test_every_option_shows_its_default():
    for command in ([], ["extract"], ["train"], ["convert"], ["qc"], ["batch"]):
        text = CliRunner().invoke(cli.main, [*command, "--help"], terminal_width=1000, max_content_width=1000).output
        group = cli.main.commands[command[0]] if command else cli.main
        for param in group.params:
            if isinstance(param, click.Option) and not param.required and param.name not in ("help", "version"):
                assert "[default: " in option_help(text, param.opts[0]), (command, param.name)


def test_each_preset_option_says_what_it_selects():
    train, convert = option_help(helptext("train"), "--preset"), option_help(helptext("convert"), "--preset")
    assert "model's size" in train and "encoder" not in train.split("(Not")[0]
    assert "encoder's speed" in convert and "x264" in convert
    assert "Not convert's --preset" in train and "Not train's --preset" in convert


def test_a_preview_into_a_missing_folder_is_refused_before_any_work(run_cli, data, tmp_path):
    """--preview writes its PNGs beside the output: a missing folder is one line at the start (it
    was a FileNotFoundError traceback after the frames were rendered)."""
    out = tmp_path / "missing" / "out.mp4"
    result = run_cli("convert", data / "video" / "d18.mp4", "-m", tmp_path / "no-model", "-o", out, "--preview", "10")
    assert result.exit_code == 1
    assert one_line_error(result) == f"error: cannot write the preview of {out}: folder {out.parent} does not exist"

