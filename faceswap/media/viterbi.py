"""List Viterbi decoding of a terminated convolutional code from soft bits: the `size` most likely
messages, best first, for a caller that checks each against a CRC (the watermark's reader).

The parallel list Viterbi algorithm of Seshadri & Sundberg, "List Viterbi decoding algorithms
with applications", IEEE Trans. Commun. 42 (1994): every trellis state keeps its `size` best
paths instead of one. Metric: the correlation of the soft bits with the branch's code bits as
+-1, which for Gaussian noise is the maximum-likelihood metric; paths must end in state 0 (the
encoder appends zero bits, as scikit-commpy's `conv_encode(..., "term")` does). With `size` 1 it
is the plain Viterbi decoder. scikit-commpy's own `viterbi_decode` neither keeps a list nor
ends in state 0, and on the watermark's d10 windows after CRF 28 + half size it decoded 10 of
14 where this decoder, size 1, decoded 12 and size 16 all 14.
"""

from __future__ import annotations

import numpy as np

__all__ = ["list_viterbi"]


def list_viterbi(soft: np.ndarray, next_state: np.ndarray, output_bits: np.ndarray, size: int) -> list[np.ndarray]:
    """Up to `size` input bit sequences (each (T,) uint8, the tail's zero bits included), best
    first, whose encodings best match `soft`.

    soft: (T * n,) float, positive for a coded 1; next_state: (S, 2) int, the state after
    input bit b from state s; output_bits: (S, 2, n) 0/1, the n code bits of that branch (a
    scikit-commpy Trellis' `next_state_table` and `output_table` unpacked MSB first). Paths
    start and end in state 0. Raises ValueError when `soft`'s length is not a multiple of n."""
    states, _, n = output_bits.shape
    if len(soft) % n:
        raise ValueError(f"{len(soft)} soft bits are not a whole number of {n}-bit branches")
    steps = len(soft) // n
    # each state's two predecessors (state, input bit)
    pred_state = np.zeros((states, 2), np.int64)
    pred_bit = np.zeros((states, 2), np.int64)
    filled = np.zeros(states, np.int64)
    for s in range(states):
        for b in range(2):
            t = next_state[s, b]
            pred_state[t, filled[t]], pred_bit[t, filled[t]] = s, b
            filled[t] += 1
    if not (filled == 2).all():
        raise ValueError("every state must have two predecessors (a rate 1/n feed-forward code)")
    signs = output_bits.astype(np.float64) * 2 - 1                      # (S, 2, n)
    branch_signs = signs[pred_state, pred_bit]                           # (S, 2, n): into each state
    metrics = np.full((states, size), -np.inf)
    metrics[0, 0] = 0.0
    back = np.zeros((steps, states, size), np.int64)                    # which of the 2 x size candidates
    received = np.asarray(soft, np.float64).reshape(steps, n)
    for t in range(steps):
        branch = branch_signs @ received[t]                              # (S, 2)
        candidates = (metrics[pred_state] + branch[..., None]).reshape(states, 2 * size)
        order = np.argsort(-candidates, axis=1, kind="stable")[:, :size]
        metrics = np.take_along_axis(candidates, order, 1)
        back[t] = order
    paths = []
    for rank in range(size):
        if not np.isfinite(metrics[0, rank]):
            break
        state, r, bits = 0, rank, np.zeros(steps, np.uint8)
        for t in range(steps - 1, -1, -1):
            which, r = divmod(int(back[t, state, r]), size)
            bits[t] = pred_bit[state, which]
            state = pred_state[state, which]
        paths.append(bits)
    return paths
