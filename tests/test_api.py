"""The API's run policy: how a run ended, the exit code for it, SIGTERM, training settings."""

from __future__ import annotations

import os
import signal
import time

import pytest

from faceswap import api
from faceswap.errors import FaceswapError, NoFaceError
from faceswap.extract.pipeline import ExtractSummary
from faceswap.train.config import TrainConfig, preset


def summary(**kw) -> ExtractSummary:
    return ExtractSummary(source="/footage/shot.mp4", **kw)


@pytest.mark.parametrize("summaries, status, code", [
    ([summary(frames=40, frames_with_faces=30, faces=30)], "done", 0),
    ([summary(frames=40)], "no_face", 3),
    ([summary(frames=40), summary(frames=5, faces=2, frames_with_faces=2)], "done", 0),
    # a second run over a finished shot reads nothing new: not "no face"
    ([summary(frames=0, resumed=40)], "done", 0),
    ([summary(frames=12, interrupted=True)], "interrupted", 130),
    ([summary(frames=0)], "done", 0),  # nothing read (an empty --every range) is not "no face" either
])
def test_extract_status_and_exit_code(summaries, status, code):
    result = api.ExtractResult(summaries)
    assert result.status == status and api.exit_code(result) == code
    assert (result.problem is not None) == (status == "no_face")


def test_no_face_result_maps_to_the_no_face_exit_code(data, tmp_path):
    result = api.extract(data / "negatives", tmp_path / "out", progress=False)
    assert result.status == "no_face"
    assert api.exit_code(result) == NoFaceError.exit_code == 3
    assert result.problem == "no face found in negatives"


def test_train_and_qc_statuses():
    from faceswap.qc.run import QcResult
    from faceswap.train.trainer import TrainSummary
    for stopped_by, code in (("iterations", 0), ("minutes", 0), ("interrupt", 130), ("terminated", 130)):
        assert api.exit_code(TrainSummary("m", 0, 5, 1.0, 1.0, stopped_by=stopped_by)) == code
    assert api.exit_code(QcResult({})) == 0
    assert api.exit_code(QcResult({}, failures=["jitter 0.2 > 0.1"])) == 4


def test_sigterm_acts_as_ctrl_c_inside_the_block_only():
    before = signal.getsignal(signal.SIGTERM)
    with pytest.raises(KeyboardInterrupt):
        with api.terminate_as_interrupt():
            os.kill(os.getpid(), signal.SIGTERM)
            time.sleep(5)  # the handler interrupts this
    assert signal.getsignal(signal.SIGTERM) == before


def test_training_settings_split_between_model_and_training(tmp_path):
    model, train = api.training_configs(tmp_path, "standard", {"batch_size": 4, "resolution": 256, "lr": None})
    assert model.resolution == 256 and model.latent_dims == preset("standard")[0].latent_dims
    assert train.batch_size == 4 and train.lr == preset("standard")[1].lr
    assert isinstance(train, TrainConfig)
    with pytest.raises(FaceswapError, match="unknown training settings: colour"):
        api.training_configs(tmp_path, "quick", {"colour": 1})
    (tmp_path / "config.json").write_text("{}")
    model, train = api.training_configs(tmp_path, "film", {"seed": 3})
    assert model is None and train.seed == 3  # an existing folder keeps its own model config


def test_processing_speed_is_not_called_fps():
    """The summaries' frames per second of wall time is a speed, not the footage's frame rate: its name and
    its JSON key say so (qc's summary too, beside its integrity check of the footage's real `fps`)."""
    from faceswap.convert.pipeline import ConvertSummary
    extract = summary(frames=60, seconds=4.0)
    convert = ConvertSummary("in.mp4", "out.mp4", frames=30, seconds=2.0)
    for s in (extract, convert):
        assert s.speed_fps == 15.0 and s.to_dict()["speed_fps"] == 15.0
        assert "fps" not in s.to_dict() and not hasattr(s, "fps")
