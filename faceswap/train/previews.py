"""Preview grids: what the model makes of a few fixed faces of each identity."""

from __future__ import annotations

import cv2
import numpy as np
import torch

HEADERS = ("original", "rebuilt", "swapped", "swap mask")


def _to_uint8(t: torch.Tensor) -> np.ndarray:
    """(N,C,H,W) in [0,1] -> (N,H,W,3) uint8."""
    arr = t.detach().float().clamp(0, 1).cpu().numpy().transpose(0, 2, 3, 1)
    if arr.shape[-1] == 1:
        arr = np.repeat(arr, 3, axis=-1)
    return (arr * 255 + 0.5).astype(np.uint8)


@torch.inference_mode()
def preview_grid(model: torch.nn.Module, faces_a: torch.Tensor, faces_b: torch.Tensor, title: str = "") -> np.ndarray:
    """Rows of A faces (A, A->A, A->B, mask) then B faces (B, B->B, B->A, mask), as one RGB image."""
    was_training = model.training
    model.eval()
    device = next(model.parameters()).device
    rows = []
    for faces, own, other in ((faces_a, "a", "b"), (faces_b, "b", "a")):
        x = faces.to(device).contiguous(memory_format=torch.channels_last)
        rebuilt, _ = model(x, own)
        swapped, mask = model(x, other)
        cols = [x, rebuilt, swapped, mask if mask is not None else torch.ones_like(x[:, :1])]
        tiles = [_to_uint8(c) for c in cols]
        rows.extend(np.concatenate([t[i] for t in tiles], axis=1) for i in range(len(faces)))
    model.train(was_training)
    grid = np.concatenate(rows, axis=0)
    size = faces_a.shape[-1]
    header = np.full((40 if title else 24, grid.shape[1], 3), 255, np.uint8)
    for i, text in enumerate(HEADERS):
        cv2.putText(header, text, (i * size + 4, 16), cv2.FONT_HERSHEY_SIMPLEX, 0.35, (0, 0, 0), 1, cv2.LINE_AA)
    if title:  # a line of its own: narrow 64 px columns leave no room beside the headers
        cv2.putText(header, title, (4, 33), cv2.FONT_HERSHEY_SIMPLEX, 0.35, (90, 90, 90), 1, cv2.LINE_AA)
    return np.concatenate([header, grid], axis=0)
