"""Shared fixtures: the real footage beside the checkout, and facesets made once per session."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

os.environ.setdefault("GLOG_minloglevel", "2")

DATA = Path(__file__).resolve().parents[1].parent / "shared" / "data"


@pytest.fixture(scope="session")
def data() -> Path:
    if not DATA.is_dir():
        pytest.skip(f"real footage not found at {DATA} (it sits beside the checkout in CI)")
    return DATA


@pytest.fixture(scope="session")
def frame_count():
    """Frames of a video, counted by qc's integrity check (every frame decoded); a decode
    error fails the test instead of counting short."""
    from faceswap.qc.integrity import count_frames

    def count(path: Path) -> int:
        frames, decode_error = count_frames(path)
        assert decode_error is None, decode_error
        return frames
    return count


@pytest.fixture(scope="session")
def backend():
    from faceswap.faces.backends import make_backend
    be = make_backend("mediapipe")
    yield be
    be.close()


@pytest.fixture(scope="session")
def d18_frames(data):
    """All frames of d18.mp4, copied out of the reader's ring buffer."""
    from faceswap.media.video_reader import VideoReader
    return [f.copy() for _, f in VideoReader(data / "video" / "d18.mp4")]


@pytest.fixture(scope="session")
def d18_faceset(data, backend, tmp_path_factory):
    """d18.mp4 extracted once with default options: (faceset folder, summary)."""
    from faceswap.extract.options import ExtractOptions
    from faceswap.extract.pipeline import extract_source
    out = tmp_path_factory.mktemp("d18_faceset")
    summary = extract_source(data / "video" / "d18.mp4", out, ExtractOptions(), backend=backend, progress=False)
    return out, summary


@pytest.fixture(scope="session")
def swap_model(data, backend, tmp_path_factory) -> Path:
    """A tiny d19 (A, footage) -> d18 (B, face) model, trained for a few dozen iterations; its
    facesets (every 5th frame) are beside it as a/ and b/. It has no occlusion net (as a model
    trained before the net existed): a few dozen iterations teach the net nothing, and the tests
    that use this model convert other people's footage too (d14), which the net would not know."""
    from faceswap.extract.options import ExtractOptions
    from faceswap.extract.pipeline import extract_source
    from faceswap.model.config import ModelConfig
    from faceswap.train.config import TrainConfig
    from faceswap.train.trainer import Trainer
    root = tmp_path_factory.mktemp("swap_model")
    for side, clip in (("a", "d19.mp4"), ("b", "d18.mp4")):
        extract_source(data / "video" / clip, root / side, ExtractOptions(every=5, size=128), backend=backend,
                       progress=False)
    tiny = ModelConfig(resolution=64, encoder_dims=16, latent_dims=64, decoder_dims=16, occlusion=False)
    train = TrainConfig(batch_size=8, lr=1e-3, iterations=40, save_every=10_000, preview_every=10_000, workers=0)
    Trainer(root / "a", root / "b", root / "model", tiny, train, progress=False).run()
    return root / "model"


@pytest.fixture(scope="session")
def occlusion_model(swap_model, tmp_path_factory) -> Path:
    """A tiny d19 -> d18 model with an occlusion net, on swap_model's facesets, trained long enough
    (OCCLUSION_ITERATIONS) for the net to know d19's face from a hand or a box in front of it."""
    import time

    from faceswap.model.config import ModelConfig
    from faceswap.train.config import TrainConfig
    from faceswap.train.trainer import Trainer
    out = tmp_path_factory.mktemp("occlusion_model") / "model"
    tiny = ModelConfig(resolution=64, encoder_dims=16, latent_dims=64, decoder_dims=16, occlusion=True)
    train = TrainConfig(batch_size=8, lr=1e-3, iterations=OCCLUSION_ITERATIONS, save_every=10_000,
                        preview_every=10_000, workers=0)
    started = time.perf_counter()
    Trainer(swap_model.parent / "a", swap_model.parent / "b", out, tiny, train, progress=False).run()
    print(f"\nocclusion model: {OCCLUSION_ITERATIONS} iterations in {time.perf_counter() - started:.0f} s")
    return out


OCCLUSION_ITERATIONS = 800


@pytest.fixture(scope="session")
def one_piece(data, swap_model, tmp_path_factory) -> Path:
    """d14 frames 0-299 converted with `swap_model` in one piece, lossless (FFV1): what a long
    shot converted in segments (tests/test_segments.py, tests/test_batch.py) must equal."""
    import time

    from faceswap.convert.options import ConvertOptions
    from faceswap.convert.pipeline import Converter
    out = tmp_path_factory.mktemp("one_piece") / "one.mkv"
    started = time.perf_counter()
    summary = Converter(data / "video" / "d14.mp4", swap_model, out, ConvertOptions(codec="ffv1", frames="0:300"),
                        progress=False).run()
    print(f"\none piece: {summary.frames} frames in {time.perf_counter() - started:.1f} s")
    return out
