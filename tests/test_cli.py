"""`faceswap --help` shows the defaults and choices the code uses, read from where they are defined."""

from __future__ import annotations

import subprocess
import sys

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
