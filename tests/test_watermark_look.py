"""The blind look at the watermark (faceswap/watermark_look.py): where its crop lands, and how ratings are scored."""

import json

import numpy as np
import pytest

from faceswap import watermark_look


def test_the_crop_lands_on_the_flat_part_of_the_frame():
    """A 1080p frame of busy texture with a flat grey patch at its right: the crop is on the patch
    (to within the watermark's squares of 36 px, which decide)."""
    rng = np.random.default_rng(0)
    frame = rng.integers(0, 256, (1080, 1920, 3), dtype=np.uint8)
    frame[200:800, 1300:1900] = 128
    x, y, w, h = watermark_look.flattest_crop(frame)
    assert (w, h) == (480, 360)
    flat = np.zeros((1080, 1920), bool)
    flat[200:800, 1300:1900] = True
    assert flat[y:y + h, x:x + w].mean() > 0.95


def test_ratings_are_read_from_a_reviewers_lines():
    text = "Ratings:\nimg01: 2 — lavender blotches on the wall\n**img02.png** - 0 — clean\nimg03: 1 — maybe\n"
    assert watermark_look.parse_ratings(text) == {"img01": 2, "img02": 0, "img03": 1}
    with pytest.raises(ValueError, match="img04"):
        watermark_look.parse_ratings("img04: 5")


def _key(n: int) -> dict:
    return {f"img{i:02d}": {"clip": "d18", "kind": "marked" if i % 2 else "unmarked", "view": "full", "frame": 50}
            for i in range(1, 2 * n + 1)}


def test_a_mark_seen_on_its_own_scores_a_small_p_and_an_unseen_one_does_not():
    key = _key(8)
    seen = {name: 2 if v["kind"] == "marked" else 0 for name, v in key.items()}
    unseen = {name: i % 4 in (0, 1) for i, name in enumerate(key)}   # maybes, as many on either kind
    rows = {r["view"]: r for r in watermark_look.score(key, seen)}
    assert rows["all"]["marked_seen"] == 8 and rows["all"]["unmarked_seen"] == 0
    assert rows["all"]["p_one_sided"] < 0.001
    rows = {r["view"]: r for r in watermark_look.score(key, {k: int(v) for k, v in unseen.items()})}
    assert rows["all"]["marked_maybe_or_seen"] == rows["all"]["unmarked_maybe_or_seen"]
    assert rows["all"]["p_one_sided"] > 0.5
    with pytest.raises(ValueError, match="img16"):
        watermark_look.score(key, {k: 0 for k in list(key)[:-1]})


def test_score_command_prints_the_table(tmp_path, capsys):
    key = _key(4)
    (tmp_path / "look.key.json").write_text(json.dumps(key))
    (tmp_path / "ratings.txt").write_text("\n".join(f"{k}: {2 if v['kind'] == 'marked' else 0}" for k, v in key.items()))
    assert watermark_look.main(["score", str(tmp_path / "look.key.json"), str(tmp_path / "ratings.txt")]) == 0
    out = capsys.readouterr().out
    assert "4 of 4" in out and "0 of 4" in out
    (tmp_path / "ratings.txt").write_text("img01: 0")
    assert watermark_look.main(["score", str(tmp_path / "look.key.json"), str(tmp_path / "ratings.txt")]) == 1
