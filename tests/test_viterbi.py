"""The watermark's list Viterbi decoder (faceswap/media/viterbi.py) against the encoder it inverts
(scikit-commpy's terminated K=7 rate-1/2 code, as the watermark uses it)."""

from __future__ import annotations

import numpy as np
import pytest
from commpy.channelcoding.convcode import conv_encode, viterbi_decode

from faceswap.media import watermark
from faceswap.media.viterbi import list_viterbi


def _noisy(rng: np.random.Generator, sigma: float) -> tuple[np.ndarray, np.ndarray]:
    bits = rng.integers(0, 2, watermark.MESSAGE_BITS)
    code = conv_encode(bits, watermark._trellis(), "term").astype(np.float64) * 2 - 1
    return bits, code + rng.normal(0, sigma, code.shape)


def test_a_clean_word_comes_back_first_and_the_list_is_ordered_and_distinct():
    next_state, outputs = watermark.decoder_tables()
    rng = np.random.default_rng(3)
    bits, soft = _noisy(rng, 0.0)
    found = list_viterbi(soft, next_state, outputs, 16)
    assert len(found) == 16
    assert np.array_equal(found[0][:watermark.MESSAGE_BITS], bits)
    assert (found[0][watermark.MESSAGE_BITS:] == 0).all()           # the zero tail: ends in state 0
    assert len({f.tobytes() for f in found}) == 16                    # 16 different messages
    def metric(path):   # the correlation of each path's encoding with the soft bits
        return float(np.dot(conv_encode(path[:watermark.MESSAGE_BITS], watermark._trellis(), "term") * 2 - 1, soft))

    metrics = [metric(f) for f in found]
    assert metrics == sorted(metrics, reverse=True)


def test_it_decodes_more_noisy_words_than_commpy_and_its_list_more_still():
    """300 random messages with Gaussian noise at sigma 0.9 (a raw code-bit error rate of about
    13 %, beyond the code's comfort): maximum likelihood ending in state 0 recovers more than
    scikit-commpy's viterbi_decode, and a 16-long list checked against the truth (the CRC's
    job in the reader) more than that."""
    next_state, outputs = watermark.decoder_tables()
    rng = np.random.default_rng(7)
    counts = {"commpy": 0, "ml": 0, "list": 0}
    for _ in range(300):
        bits, soft = _noisy(rng, 0.9)
        # a copy: viterbi_decode writes its padding over the last soft bits of the array it is given
        theirs = viterbi_decode(soft.copy(), watermark._trellis(), tb_depth=watermark.MESSAGE_BITS + watermark._MEMORY,
                                decoding_type="unquantized")[:watermark.MESSAGE_BITS]
        counts["commpy"] += np.array_equal(theirs, bits)
        found = list_viterbi(soft, next_state, outputs, 16)
        counts["ml"] += np.array_equal(found[0][:watermark.MESSAGE_BITS], bits)
        counts["list"] += any(np.array_equal(f[:watermark.MESSAGE_BITS], bits) for f in found)
    assert counts["commpy"] <= counts["ml"] < counts["list"], counts
    assert counts["list"] >= counts["commpy"] + 15, counts


def test_random_words_never_pass_the_reader_and_bad_lengths_are_refused():
    rng = np.random.default_rng(11)
    assert all(watermark._decode(rng.standard_normal(watermark.CODE_BITS)) is None for _ in range(200))
    next_state, outputs = watermark.decoder_tables()
    with pytest.raises(ValueError, match="whole number"):
        list_viterbi(np.zeros(watermark.CODE_BITS + 1), next_state, outputs, 4)
