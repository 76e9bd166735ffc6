"""Landmark masks and the PNG metadata chunk."""

import cv2
import numpy as np
import pytest

from faceswap.data.png_meta import add_metadata, read_metadata, read_metadata_bytes
from faceswap.faces.geometry import MEAN_FACE, face_to_crop, transform_points
from faceswap.faces.masks import MASKS, features_mask, landmark_mask
from faceswap.media.images import encode_png


@pytest.fixture()
def crop_landmarks():
    return transform_points(MEAN_FACE, face_to_crop(256, "face", 1.0))


def test_components_mask_covers_the_face_and_not_the_corners(crop_landmarks):
    mask = landmark_mask(crop_landmarks, (256, 256), "components")
    for i in (30, 33, 51, 8, 36, 45):  # nose, mouth, chin, eye corners
        x, y = np.round(crop_landmarks[i]).astype(int)
        assert mask[min(y, 255) - 1, x] > 0 or i == 8
    assert mask[:10, :10].max() == 0 and mask[-10:, -10:].max() == 0
    assert 0.25 < (mask > 127).mean() < 0.8


def test_extended_mask_reaches_higher_than_components(crop_landmarks):
    comp = landmark_mask(crop_landmarks, (256, 256), "components") > 127
    ext = landmark_mask(crop_landmarks, (256, 256), "extended") > 127
    assert ext.sum() > comp.sum()
    assert np.nonzero(ext.any(axis=1))[0].min() < np.nonzero(comp.any(axis=1))[0].min()
    assert np.all(ext[comp])  # extended contains components


def test_mouth_mask_is_inside_the_lower_face(crop_landmarks):
    mouth = landmark_mask(crop_landmarks, (256, 256), "mouth") > 127
    lower = landmark_mask(crop_landmarks, (256, 256), "lower") > 127
    assert mouth.sum() > 0 and (mouth & ~lower).sum() < 0.05 * mouth.sum()
    eye_row = int(crop_landmarks[36:48, 1].mean())
    assert not mouth[:eye_row].any()


def test_features_mask_covers_brows_eyes_and_lips_not_the_skin(crop_landmarks):
    features = features_mask(crop_landmarks, (256, 256)) > 127
    for i in (19, 24, 37, 44, 48, 54, 62):  # brows' middles, upper lids, mouth corners, inner lip
        x, y = np.round(crop_landmarks[i]).astype(int)
        assert features[y, x], i
    for i in (2, 14, 30, 8):  # cheeks by the jaw, nose tip, chin
        x, y = np.round(crop_landmarks[i]).astype(int)
        assert not features[y, x], i
    skin = landmark_mask(crop_landmarks, (256, 256), "skin") > 127
    assert skin.any() and not (skin & features).any()
    thick = features_mask(crop_landmarks, (256, 256), brow_stroke=1.0) > 127
    assert thick.sum() > features.sum() and np.all(thick[features])


def test_every_registered_mask_draws(crop_landmarks):
    for kind in MASKS:
        assert landmark_mask(crop_landmarks, (64, 64), kind).dtype == np.uint8
    with pytest.raises(ValueError):
        landmark_mask(crop_landmarks, (64, 64), "torso")


def test_png_metadata_round_trip(tmp_path):
    img = np.random.default_rng(0).integers(0, 255, (40, 30, 3), dtype=np.uint8)
    meta = {"frame": 12, "landmarks": [[1.5, 2.25]] * 68, "name": "ünïcode"}
    data = add_metadata(encode_png(img), meta)
    path = tmp_path / "x.png"
    path.write_bytes(data)
    assert read_metadata(path) == meta
    decoded = cv2.cvtColor(cv2.imdecode(np.frombuffer(data, np.uint8), cv2.IMREAD_COLOR), cv2.COLOR_BGR2RGB)
    np.testing.assert_array_equal(decoded, img)  # the chunk does not disturb the pixels


def test_png_without_metadata_reads_as_none():
    assert read_metadata_bytes(encode_png(np.zeros((8, 8, 3), np.uint8))) is None
    assert read_metadata_bytes(b"not a png") is None


def test_png_metadata_that_inflates_past_the_cap_is_refused(tmp_path):
    """A few kB of zlib that expands to megabytes (a decompression bomb) is one error line, naming the file."""
    from faceswap.data.png_meta import MAX_METADATA_BYTES
    from faceswap.errors import FaceswapError
    png = encode_png(np.zeros((8, 8, 3), np.uint8))
    bomb = add_metadata(png, {"pad": "x" * (2 * MAX_METADATA_BYTES)})
    assert len(bomb) < len(png) + 10_000  # small on disk, 2 MiB inflated
    path = tmp_path / "bomb.png"
    path.write_bytes(bomb)
    with pytest.raises(FaceswapError, match="expands past") as err:
        read_metadata(path)
    assert str(path) in str(err.value) and "\n" not in str(err.value)
    # just under the cap still reads: the cap sits where it says
    near = {"pad": "x" * (MAX_METADATA_BYTES - 20)}
    assert read_metadata_bytes(add_metadata(png, near)) == near


def test_damaged_png_metadata_is_one_line(tmp_path):
    from faceswap.errors import FaceswapError
    data = bytearray(add_metadata(encode_png(np.zeros((8, 8, 3), np.uint8)), {"frame": 1, "name": "x" * 200}))
    start = data.index(b"faceswap\x00") + len(b"faceswap\x00") + 4  # flags, language and keyword ends
    data[start + 2:start + 12] = bytes(10)  # zero the zlib stream just past its header
    with pytest.raises(FaceswapError, match="damaged faceswap metadata") as err:
        read_metadata_bytes(bytes(data))
    assert "\n" not in str(err.value)
