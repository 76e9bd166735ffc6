"""Issue 16: the occlusion net, its training samples, and how convert uses its masks (steadied over
time within a shot, grown at the edge, multiplied into the blend mask)."""

from __future__ import annotations

import json
import re

import cv2
import numpy as np
import pytest
import torch

from faceswap.convert.composite import CompositeSettings, composite, crop_mask, crop_taper
from faceswap.convert.occlusion import (
    REACH,
    OcclusionSmoother,
    blend_occlusion,
    colour_refine,
    face_key,
    frame_occlusion,
    net_outline,
)
from faceswap.convert.stabilize import FrameItem
from faceswap.data.dataset import FaceDataset, load_faceset
from faceswap.data.occlusion_samples import occluded_samples
from faceswap.faces.geometry import MEAN_FACE, face_to_crop, transform_points
from faceswap.faces.masks import landmark_mask
from faceswap.faces.types import Face
from faceswap.model.autoencoder import FaceSwapModel
from faceswap.model.config import ModelConfig
from faceswap.model.occlusion import OcclusionNet
from faceswap.model.prior import fits
from faceswap.model.store import load_model_config

TINY = dict(resolution=64, encoder_dims=8, latent_dims=32, decoder_dims=8)


# --- the net and the model ---

def test_net_shapes_and_the_model_keeps_it_apart_from_the_swap():
    net = OcclusionNet()
    x = torch.rand(2, 3, 64, 64)
    assert net(x).shape == (2, 1, 64, 64)
    v = net.visible(x)
    assert float(v.detach().min()) >= 0 and float(v.detach().max()) <= 1
    model = FaceSwapModel(ModelConfig(**TINY))
    names = {name for name, _ in model.named_parameters() if name.startswith("occlusion.")}
    assert names
    swap = {id(p) for p in model.swap_parameters()}
    assert not any(id(p) in swap for p in model.occlusion.parameters())
    assert not hasattr(FaceSwapModel(ModelConfig(**TINY, occlusion=False)), "occlusion")


def test_a_model_saved_before_the_net_loads_without_it(tmp_path):
    cfg = {k: v for k, v in ModelConfig(**TINY).__dict__.items() if k != "occlusion"}
    (tmp_path / "config.json").write_text(json.dumps({"format": "faceswap-model", "model": cfg}))
    loaded, _ = load_model_config(tmp_path)
    assert loaded.occlusion is False
    # and a prior fits a model whether or not either has the net
    assert fits(ModelConfig(**TINY, occlusion=False), ModelConfig(**TINY))


# --- training samples ---

def test_occluded_samples_label_the_face_minus_the_occluder():
    rng = np.random.default_rng(3)
    n, r = 40, 64
    targets = rng.integers(0, 255, (n, r, r, 3), dtype=np.uint8)
    masks = np.zeros((n, r, r), np.uint8)
    masks[:, 8:56, 10:54] = 255
    sources = [rng.integers(0, 255, (80, 80, 3), dtype=np.uint8) for _ in range(n)]
    occluded, visible = occluded_samples(rng, targets, masks, sources, [(20, 20, 60, 60)] * n)
    assert occluded.shape == targets.shape and visible.shape == masks.shape
    changed = (occluded != targets).any(axis=-1)
    clear = ~changed.any(axis=(1, 2))
    assert 0 < clear.sum() < n // 2                 # some left clear (about CLEAR_SHARE), most occluded
    assert np.array_equal(visible[clear], masks[clear])
    on_face = 0
    for k in np.flatnonzero(~clear):
        inside = masks[k] == 255
        # inside the face the label is 255 - alpha: a pixel changes at most by alpha, and one the
        # label calls fully visible does not change; outside the face it stays 0
        alpha = 255 - visible[k].astype(int)
        step = np.abs(occluded[k].astype(int) - targets[k].astype(int)).max(axis=-1)
        assert (step[inside] <= alpha[inside] + 1).all()
        assert not changed[k][inside & (alpha == 0)].any()
        on_face += int((alpha[inside] > 128).sum() > 20)
        assert (visible[k][~inside] == 0).all()
        assert (visible[k] <= masks[k]).all()
    assert on_face > n // 2


def test_the_dataset_gives_occluded_crops_of_its_own_faces(data, tmp_path_factory, swap_model):
    faces = load_faceset(swap_model.parent / "a", ModelConfig(**TINY))
    ds = FaceDataset(faces, occlusion=True, colour=False)
    raw, _, _ = ds.augment_batch(list(range(5)))
    assert raw.occluded.shape == (3, 64, 64, 3) and raw.visible.shape == (3, 64, 64)
    batch = ds.tensors(raw)
    assert batch["occluded"].shape == (3, 3, 64, 64) and batch["visible"].shape == (3, 1, 64, 64)
    # labels are the target's own landmark mask, less the occluder where one was laid
    face = raw.regions[:3, ..., 0].astype(int)
    assert (raw.visible <= face + 1).all()
    assert (raw.visible < face - 64).any() or (raw.occluded == raw.target[:3]).all()
    assert "occluded" not in FaceDataset(faces).tensors(FaceDataset(faces).augment_batch([0, 1])[0])


# --- convert: steadied over time, grown, multiplied in ---

def _items(masks: list[float | np.ndarray], shots: list[int] | None = None) -> list[tuple[FrameItem, np.ndarray]]:
    face = Face(np.zeros((68, 2), np.float32), 1.0, track=0)
    out = []
    for i, m in enumerate(masks):
        item = FrameItem(i, np.zeros((4, 4, 3), np.uint8), str(i), [face] if m is not None else [],
                         shot=(shots or [0] * len(masks))[i])
        out.append((item, np.full((8, 8), m, np.float32) if np.isscalar(m) else m))
    return out


def _smooth(pairs):
    raw = {item.index: m for item, m in pairs}
    smoother = OcclusionSmoother(lambda item: {face_key(0, 0): raw[item.index]})
    out = []
    for item, _ in pairs:
        out.extend(smoother.push(item))
    out.extend(smoother.flush())
    return out


def test_the_smoother_hands_every_frame_on_in_order_and_waits_only_its_reach():
    pairs = _items([1.0] * 7 + [None] + [1.0] * 2)
    smoother = OcclusionSmoother(lambda item: {0: np.ones((8, 8), np.float32)})
    first = list(smoother.push(pairs[0][0]))
    assert first == []
    seen = []
    for item, _ in pairs[1:]:
        seen.extend(smoother.push(item))
    assert [i.index for i in seen] == list(range(len(pairs) - 2 * REACH))
    seen.extend(smoother.flush())
    assert [i.index for i in seen] == list(range(len(pairs)))
    assert seen[7].extra["occlusion"] == {}      # a frame without faces


def test_a_flickering_pixel_holds_still_and_an_occluder_is_never_let_through():
    rng = np.random.default_rng(0)
    raw = [rng.uniform(0, 1, (8, 8)).astype(np.float32) for _ in range(12)]
    for t, m in enumerate(raw):
        m[0, 0] = t % 2                   # toggles every frame
        m[1, 1] = 1.0                     # always visible
    out = _smooth(_items(raw))
    for t, item in enumerate(out):
        steady = item.extra["occlusion"][0]
        assert (steady <= raw[t] + 1e-6).all()   # never more visible than the frame's own mask
        assert steady[1, 1] == pytest.approx(1.0)
        if 2 <= t <= 9:
            assert steady[0, 0] == 0.0            # covered in a neighbour: held covered, no flicker


def test_the_smoother_never_reaches_across_a_cut():
    out = _smooth(_items([0.0] * 5 + [1.0] * 5, shots=[0] * 5 + [1] * 5))
    assert out[5].extra["occlusion"][0].min() == 1.0   # the new shot's first frame: its own masks only
    assert out[4].extra["occlusion"][0].max() == 0.0


def _fingers(occluder_rgb):
    """Skin with two fingers of `occluder_rgb` crossing its lower half, skin showing between them,
    and the net's coarse view: the fingers and the gap between them one covered block."""
    rng = np.random.default_rng(3)
    guide = np.clip(np.array([200, 150, 130]) + rng.normal(0, 2, (200, 200, 3)), 0, 255).astype(np.uint8)
    guide[100:, 60:80] = occluder_rgb
    guide[100:, 100:120] = occluder_rgb
    visible = np.ones((200, 200), np.float32)
    visible[92:, 52:128] = 0.0
    return guide, visible


def test_face_coloured_pixels_between_fingers_go_back_to_the_face_and_an_occluder_of_skin_colour_stays_cut():
    inside = np.ones((200, 200), bool)
    guide, visible = _fingers((90, 60, 40))   # brown fingers on pink skin
    refined = colour_refine(visible, guide, inside, face_width=200.0)
    assert (refined[110:, 84:97] == 1.0).all()                        # the skin between them: face again
    assert (refined[100:, 62:78] == 0.0).all() and (refined[100:, 102:118] == 0.0).all()   # the fingers: cut
    cut = frame_occlusion(visible, guide, face_width=200.0, grow=0.0, inside=inside)
    assert (cut[115:, 86:95] > 0.5).all() and (cut[105:, 64:76] < 0.5).all()
    assert (frame_occlusion(visible, guide, face_width=200.0, grow=0.0)[115:, 86:95] < 0.5).all()   # without: cut
    # outside the landmark mask nothing is asked; fingers of the skin's own colour decide nothing
    assert np.array_equal(colour_refine(visible, guide, np.zeros_like(inside), 200.0), visible)
    guide, visible = _fingers((197, 148, 128))
    assert np.array_equal(colour_refine(visible, guide, inside, face_width=200.0), visible)


def _skin_toned_box(rng, skin):
    """`skin` (200, 200, 3) float RGB with a box of a skin tone (codec noise on it) over its middle,
    and the net's coarse view: the box and a band of 4 px of skin round it covered."""
    guide = skin + rng.normal(0, 1.5, (200, 200, 3))
    guide[80:140, 70:130] = np.array([192, 138, 106]) + rng.normal(0, 1.5, (60, 60, 3))
    visible = np.ones((200, 200), np.float32)
    visible[76:144, 66:134] = 0.0
    return np.clip(guide, 0, 255).astype(np.uint8), visible


def test_a_flat_box_of_the_skins_colour_gives_back_the_shaded_skin_beside_it_but_not_itself():
    # skin lit on one side and in shadow on the other: the box's colour lies between, so it is
    # skin-like to the skin's one Gaussian, yet no skin pixel is near it
    rng = np.random.default_rng(5)
    inside = np.ones((200, 200), bool)
    two_tone = np.zeros((200, 200, 3))
    two_tone[:, :100], two_tone[:, 100:] = (215, 160, 140), (175, 125, 105)
    guide, visible = _skin_toned_box(rng, two_tone)
    refined = colour_refine(visible, guide, inside, face_width=200.0)
    assert (refined[80:140, 70:130] == 0.0).all()                       # the box: still cut
    band = np.zeros((200, 200), bool)
    band[76:144, 66:134] = True
    band[80:140, 70:130] = False
    assert (refined[band] == 1.0).mean() > 0.8                          # the skin beside it: face again
    # a logo printed on the box in the lit skin's tone (0.7 % of it): not the box's one colour, so
    # it would be given back as face; the box is then not told apart and the cut stands
    printed = guide.copy()
    printed[100:105, 95:100] = (215, 160, 140)
    assert np.array_equal(colour_refine(visible, printed, inside, face_width=200.0), visible)
    # the same box on skin as flat as it (no shading): the two cannot be told apart, the cut stands
    guide, visible = _skin_toned_box(rng, np.full((200, 200, 3), (194.0, 140.0, 110.0)))
    assert np.array_equal(colour_refine(visible, guide, inside, face_width=200.0), visible)
    # skin shaded smoothly through the box's colour: a fifth of it lies near the box, too much to tell
    # them apart (APART), and the cut stands
    ramp = np.array([200.0, 150.0, 130.0]) + np.linspace(-35, 35, 200)[None, :, None] * np.array([1.0, 0.8, 0.7])
    guide, visible = _skin_toned_box(rng, np.broadcast_to(ramp, (200, 200, 3)))
    assert np.array_equal(colour_refine(visible, guide, inside, face_width=200.0), visible)
    # an occluder of the skin's own colours and shading (here the skin itself): the cut stands
    shaded = two_tone + rng.normal(0, 1.5, (200, 200, 3))
    assert np.array_equal(colour_refine(visible, np.clip(shaded, 0, 255).astype(np.uint8), inside, 200.0), visible)


def test_where_an_occluder_made_the_mesh_guess_the_jaw_the_mask_reaches_out_to_the_face_the_net_sees():
    # the true face, and the mesh's guess with a box over the mouth: its jaw pulled in by 12 %
    settings = CompositeSettings(mask="occlusion", color="none")
    taper = crop_taper(128)
    true = transform_points(MEAN_FACE, face_to_crop(128, "face", 0.9))
    guess = true.copy()
    centre = true[27:36].mean(axis=0)
    guess[:17] = centre + (true[:17] - centre) * 0.88
    mask = crop_mask(None, [guess], 128, settings)
    face = landmark_mask(true, (128, 128), "extended") > 127
    visible = face.astype(np.float32)
    visible[70:100, 45:83] = 0.0                                        # the box, which the net calls covered
    rng = np.random.default_rng(3)
    crop = np.where(face[..., None], (200, 150, 128), (120, 124, 126)) + rng.normal(0, 2, (128, 128, 3))
    crop = np.clip(crop, 0, 255).astype(np.uint8)
    out = net_outline(mask, visible, guess, taper, crop)
    eyes = int(np.ceil(guess[36:48, 1].mean()))
    lost = face & (mask < 0.5) & (visible > 0.5) & (taper > 0.99)
    lost[:eyes] = False
    assert lost.sum() > 150                                            # the guess lost a band of the jaw
    assert (out[lost] >= 0.5).mean() > 0.9                             # the net's view gives it back
    # and the landmark mask's own soft rim there too: no faint line where the guessed jaw was
    rim = face & (mask > 0.05) & (mask < 0.95) & (visible > 0.99) & (taper > 0.99)
    rim[:eyes] = False
    assert rim.sum() > 20 and (out[rim] >= 0.95).all()
    assert np.array_equal(out[:eyes], mask[:eyes])                     # not above the eyes (hair)
    assert (out[~face] == mask[~face]).all()                            # nor where the net sees no face
    assert (out <= np.maximum(mask, taper) + 1e-6).all()                # nor past the crop's taper
    # face the net sees beyond OUTLINE_REACH of the mask: not taken, though skin-coloured
    far, far_crop = visible.copy(), crop.copy()
    far[110:, :] = 1.0
    far_crop[110:, :] = (200, 150, 128)
    far_out = net_outline(mask, far, guess, taper, far_crop)
    ring = cv2.dilate((mask > 0.5).astype(np.uint8), np.ones((21, 21), np.uint8)) == 0
    assert (far[ring & (taper > 0.5)] == 1.0).sum() > 100 and np.array_equal(far_out[ring], mask[ring])
    # nor face the net sees where the crop is not of the skin's colour
    dark = crop.copy()
    dark[face & (mask < 1.0)] = (60, 40, 35)                           # a dark bar the net took for face
    assert np.array_equal(net_outline(mask, visible, guess, taper, dark), mask)
    # a face the net calls uncovered keeps the landmarks' outline; one just over OUTLINE_FROM covered
    # gets part of the way (a ramp, so the jaw line does not jump as an occluder comes in)
    assert net_outline(mask, face.astype(np.float32), guess, taper, crop) is mask
    inside = mask > 0.5
    slight = face.astype(np.float32)
    slight[90:100, 55:55 + int(0.015 * inside.sum() / 10)] = 0.0       # about 1.5 % of the mask
    share = np.mean(slight[inside] < 0.5)
    assert 0.012 < share < 0.018
    part = net_outline(mask, slight, guess, taper, crop)
    assert 0.2 < part[lost].mean() < 0.8 * out[lost].mean()


def test_the_cut_snaps_to_the_footage_edges_grows_and_multiplies_into_the_blend():
    # the footage: a bright square (the occluder) on skin; the net's view: the square, coarse and 3 px off
    guide = np.full((120, 120, 3), 100, np.uint8)
    guide[40:80, 40:80] = 200
    coarse = np.ones((120, 120), np.float32)
    coarse[37:77, 37:77] = 0.0
    coarse = cv2.GaussianBlur(coarse, (0, 0), 3)
    truth = np.ones((120, 120), np.float32)
    truth[40:80, 40:80] = 0.0
    cut = frame_occlusion(coarse, guide, face_width=200.0, grow=0.0)
    assert cut.shape == (120, 120) and cut.dtype == np.float32
    flat = frame_occlusion(coarse, np.full_like(guide, 100), face_width=200.0, grow=0.0)  # no edges to snap to
    # the footage's edge pulls the cut onto the occluder: half the error of the same cut without it
    assert np.abs(cut - truth).mean() < 0.5 * np.abs(flat - truth).mean()
    assert (cut[:30] == 1).all() and (cut[90:] == 1).all()  # the face away from it untouched
    grown = frame_occlusion(coarse, guide, face_width=200.0, grow=2.0)   # 4 px
    assert (grown <= cut + 1e-6).all() and (grown < 0.5).sum() > (cut < 0.5).sum() + 4 * 4 * 30
    # in crop space, the firm factor for colour statistics
    visible = np.ones((64, 64), np.float32)
    visible[20:40, 20:40] = 0.0
    factor = blend_occlusion(visible, 128)
    assert factor.shape == (128, 128) and (factor[41:79, 41:79] == 0).all() and factor[10, 10] == 1.0

    # composite: the cut goes into the alpha after the feather; outside it the result is the plain blend's
    settings = CompositeSettings(mask="occlusion", color="none")
    face = transform_points(MEAN_FACE, face_to_crop(128, "face", 0.9))  # a face as the model's crop holds it
    frame = np.full((200, 200, 3), 100, np.uint8)
    frame[36 + 40:36 + 80, 36 + 40:36 + 80] = 200                         # the occluder, in the footage
    matrix = np.array([[1.0, 0, -36], [0, 1.0, -36]])                   # frame -> crop: the crop at (36, 36)
    crop = frame[36:164, 36:164].copy()
    rgb = np.full((128, 128, 3), 0.9, np.float32)
    mask = crop_mask(None, [face], 128, settings)
    plain, cut = frame.copy(), frame.copy()
    composite(plain, matrix, crop, rgb, mask, 100.0, settings)
    seen = cv2.resize(visible, (128, 128), interpolation=cv2.INTER_NEAREST)
    composite(cut, matrix, crop, rgb, mask, 100.0, settings, occlusion=seen)
    covered = np.zeros((200, 200), bool)
    covered[36 + 40:36 + 80, 36 + 40:36 + 80] = True
    assert (plain[covered] != 200).all()           # the plain blend paints over the square
    assert (cut[covered] == 200).all()             # the cut keeps the footage there
    far = np.zeros((200, 200), bool)
    far[36:164, 36:164] = cv2.erode(seen, np.ones((15, 15), np.uint8)) == 1.0
    assert np.array_equal(cut[far], plain[far])    # and is the plain blend away from what covers the face


# --- end to end: an occluder on real footage stays in front ---

def test_convert_keeps_what_covers_the_face(tmp_path, data, occlusion_model, backend, monkeypatch):
    """d19 with a hand and the issue's box crossing the face (exact mattes): with --mask occlusion
    far more of the occluder keeps the footage's pixels than with the landmark mask, and the rest of
    the face is still swapped; convert reaches the blend mask out to the face the net sees there."""
    from faceswap.api import convert
    from faceswap.convert import occlusion
    from faceswap.convert.options import ConvertOptions
    from faceswap.occlusion_bench import make_clips, measure

    raised = []   # per call of net_outline from convert: did it raise the landmark mask anywhere?
    reach_out = occlusion.net_outline

    def counted(mask, *args):
        out = reach_out(mask, *args)
        raised.append(bool((out > mask).any()))
        return out

    monkeypatch.setattr(occlusion, "net_outline", counted)

    kinds = ("hand", "box")
    clips = make_clips(data / "video" / "d19.mp4", tmp_path / "clips", seconds=1.5, kinds=kinds, backend=backend)
    out = {}
    for mask in ("landmarks", "occlusion"):
        for kind, path in clips.items():
            out[kind, mask] = tmp_path / f"{kind}.{mask}.mkv"
            convert(path, occlusion_model, out[kind, mask],
                    ConvertOptions(mask=mask, codec="ffv1", audio="none", watermark="off"), progress=False)
    for kind in kinds:
        mattes = np.load(tmp_path / "clips" / f"{kind}.matte.npy")
        fig = {mask: measure(clips[kind], out[kind, mask], clips["clean"], out["clean", mask], mattes)[0]
               for mask in ("landmarks", "occlusion")}
        print(kind, fig)
        assert fig["landmarks"]["overlap_frames"] >= 10
        assert fig["landmarks"]["kept_mean"] < 0.3                      # today: painted over
        assert fig["occlusion"]["kept_mean"] >= fig["landmarks"]["kept_mean"] + 0.4
        assert fig["occlusion"]["occluder_change"] < fig["landmarks"]["occluder_change"] / 2
        assert fig["occlusion"]["swapped_mean"] >= 0.8                  # the rest of the face: still swapped
    assert sum(raised) >= 3                                             # the outline, where the mesh guessed


def test_training_down_weights_what_the_net_calls_covered(swap_model, tmp_path, monkeypatch):
    from faceswap.model.occlusion import COVERED_LOSS_SHARE, TRUSTED_FROM, covered_weight
    from faceswap.train.config import TrainConfig
    from faceswap.train.trainer import Trainer

    face = torch.tensor([[[[1.0, 1.0, 0.0, 0.5]]]])
    visible = torch.tensor([[[[1.0, 0.0, 0.0, 0.0]]]])
    assert torch.allclose(covered_weight(face, visible), torch.tensor([[[[1.0, COVERED_LOSS_SHARE, 1.0, 0.55]]]]))

    trainer = Trainer(swap_model.parent / "a", swap_model.parent / "b", tmp_path / "m", ModelConfig(**TINY),
                      TrainConfig(batch_size=4, iterations=1, workers=0), progress=False)
    batch = trainer._to_device(next(trainer.loaders()[0]))
    with torch.no_grad():
        out = trainer.model(batch["input"], "a")

    def loss(iteration: int, covered_half: bool) -> float:
        trainer.iteration = iteration

        def visible(x):
            v = torch.ones(x.shape[0], 1, *x.shape[2:])
            if covered_half:
                v[..., : x.shape[-1] // 2] = 0.0   # the left half of every face "covered"
            return v
        monkeypatch.setattr(trainer.model.occlusion, "visible", visible)
        with torch.no_grad():
            return trainer._side_loss(batch, "a", out)[1]["loss_a"]

    assert loss(TRUSTED_FROM - 1, True) == loss(TRUSTED_FROM - 1, False)   # the net is not trusted yet
    assert loss(TRUSTED_FROM, False) == loss(TRUSTED_FROM - 1, False)      # nothing covered: as before
    assert loss(TRUSTED_FROM, True) != pytest.approx(loss(TRUSTED_FROM, False), rel=1e-3)


def test_segments_with_occlusion_masks_equal_one_piece(tmp_path, data, occlusion_model):
    """The masks' look-ahead (REACH frames each way) is read past each segment's end: a segmented
    run writes the frames a one-piece run does."""
    from faceswap.convert.options import ConvertOptions
    from faceswap.convert.pipeline import Converter
    from faceswap.convert.segments import convert_in_segments
    from faceswap.media.video_reader import VideoReader

    src = data / "video" / "d19.mp4"
    options = dict(codec="ffv1", frames="0:75", audio="none")
    whole = tmp_path / "whole.mkv"
    Converter(src, occlusion_model, whole, ConvertOptions(**options), progress=False).run()
    seg = tmp_path / "seg.mkv"
    summary = convert_in_segments(src, occlusion_model, seg, ConvertOptions(**options), 25, progress=False)
    assert len(summary.segments) == 3
    pairs = list(zip((f.copy() for _, f in VideoReader(whole)), (f.copy() for _, f in VideoReader(seg))))
    assert len(pairs) == 75
    bad = [(i, int(np.abs(a.astype(int) - b).max()), int((a != b).any(axis=2).sum())) for i, (a, b) in enumerate(pairs) if not np.array_equal(a, b)]
    assert not bad, bad


def test_a_face_the_net_does_not_know_is_said(tmp_path, data, occlusion_model, caplog):
    """d14 is neither of the model's people: its net calls most of the face covered, and convert says so."""
    from faceswap.convert.options import ConvertOptions
    from faceswap.convert.pipeline import Converter

    with caplog.at_level("WARNING"):
        summary = Converter(data / "video" / "d14.mp4", occlusion_model, tmp_path / "d14.mkv",
                            ConvertOptions(codec="ffv1", frames="0:20", audio="none"), progress=False).run()
    assert summary.mostly_covered > summary.faces / 2
    assert "occlusion net called more than half of the face covered" in caplog.text
    caplog.clear()
    with caplog.at_level("WARNING"):
        summary = Converter(data / "video" / "d19.mp4", occlusion_model, tmp_path / "d19.mkv",
                            ConvertOptions(codec="ffv1", frames="0:20", audio="none"), progress=False).run()
    assert summary.mostly_covered == 0 and "occlusion net" not in caplog.text


def test_the_steadied_mask_follows_a_moving_occluder_instead_of_widening_along_its_path():
    """A square crossing a still face 3 px a frame: the raw masks are exact. Compared where they lie,
    the time erosion cuts the square's path from the frames either side too (6 px more across);
    moved along the optical flow between the crops, the cut stays on the square."""
    from faceswap.convert.occlusion import CropView

    rng = np.random.default_rng(1)
    face = cv2.GaussianBlur(rng.integers(60, 200, (64, 64)).astype(np.uint8), (0, 0), 1.5)
    frames, views, bare = [], {}, {}
    for t in range(9):
        grey, visible = face.copy(), np.ones((64, 64), np.float32)
        x = 10 + 3 * t
        grey[20:40, x:x + 16] = 240 - 10 * (np.arange(16) % 3)   # a lit box with a little texture
        visible[20:40, x:x + 16] = 0.0
        frames.append(FrameItem(t, np.zeros((4, 4, 3), np.uint8), str(t), [Face(np.zeros((68, 2), np.float32), 1.0, track=0)]))
        views[t], bare[t] = CropView(visible, grey), visible

    def steadied(raw):
        smoother = OcclusionSmoother(lambda item: {0: raw[item.index]})
        out = [o for item in frames for o in smoother.push(item)] + list(smoother.flush())
        return out[4].extra["occlusion"][0]

    truth = bare[4] < 0.5
    moved, still = steadied(views) < 0.5, steadied(bare) < 0.5
    assert moved[truth].mean() == 1.0 and still[truth].mean() == 1.0   # the occluder itself kept either way
    assert still.sum() >= truth.sum() + 2 * 20 * 3                     # widened by its motion both sides
    assert moved.sum() <= truth.sum() + 20 * 2                         # at most a pixel's rim along it


def test_a_hand_over_the_mouth_is_painted_out_to_find_the_face_and_segments_still_equal_one_piece(
        tmp_path, data, occlusion_model, backend, caplog):
    """With --mask occlusion, faces the net sees partly covered are found again with the occluder
    painted out (convert/occluded_landmarks.py): on d19 with the test hand some are, and a run in
    segments still writes what a run in one piece does."""
    from faceswap.convert.options import ConvertOptions
    from faceswap.convert.pipeline import Converter
    from faceswap.convert.segments import convert_in_segments
    from faceswap.media.video_reader import VideoReader
    from faceswap.occlusion_bench import make_clips

    clips = make_clips(data / "video" / "d19.mp4", tmp_path / "clips", seconds=1.5, kinds=("hand",), backend=backend)
    options = dict(codec="ffv1", audio="none", watermark="off")
    whole = tmp_path / "whole.mkv"
    with caplog.at_level("INFO"):
        Converter(clips["hand"], occlusion_model, whole, ConvertOptions(**options), progress=False).run()
    found = re.search(r"(\d+) faces with something in front of them found again", caplog.text)
    assert found and int(found[1]) >= 3, caplog.text[-2000:]
    seg = tmp_path / "seg.mkv"
    summary = convert_in_segments(clips["hand"], occlusion_model, seg, ConvertOptions(**options), 15, progress=False)
    assert len(summary.segments) >= 2
    pairs = list(zip((f.copy() for _, f in VideoReader(whole)), (f.copy() for _, f in VideoReader(seg))))
    bad = [i for i, (a, b) in enumerate(pairs) if not np.array_equal(a, b)]
    assert len(pairs) == summary.frames and not bad, bad
