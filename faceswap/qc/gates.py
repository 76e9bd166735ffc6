"""Thresholds on the summary's headline figures that decide whether a shot passes.

`--fail-under METRIC=VALUE` fails the shot when the figure is below VALUE,
`--fail-over METRIC=VALUE` when it is above; either may name any metric. A
gated metric that could not be measured (no face in the sampled frames)
fails too: a gate never passes on missing evidence.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from ..errors import FaceswapError

# name -> (path in the summary, what it is, which way is better)
METRICS: dict[str, tuple[tuple[str, ...], str, str]] = {
    "identity_distance": (("identity", "output_to_wanted", "mean"),
                          "mean descriptor distance of the output face to the wanted identity", "lower"),
    "identity_cosine": (("identity", "output_to_wanted_cosine", "mean"),
                        "mean cosine distance of the output face to the wanted identity", "lower"),
    "identity_gain": (("identity", "gain"),
                      "how much closer to the wanted identity the output is than the input was", "higher"),
    "retrieval": (("identity", "retrieval"),
                  "share of sampled frames closer to the wanted identity than to the original", "higher"),
    "landmark_error": (("expression", "landmark_error", "mean"),
                       "mean 68-point error output vs original, in inter-ocular distances", "lower"),
    "expression_error": (("expression", "expression_error", "mean"),
                         "mean difference of mouth opening, mouth corners and eye openness output vs original, "
                         "inter-ocular distances (either person's build apart)", "lower"),
    "pose_error": (("expression", "pose_error_deg", "mean"),
                   "mean of the largest yaw/pitch/roll difference per frame, degrees", "lower"),
    "jitter": (("temporal", "jitter", "mean"),
               "mean landmark motion beyond the original's, inter-ocular distances per frame", "lower"),
    "flicker": (("temporal", "flicker", "mean"),
                "mean face-colour change beyond the original's, 8-bit levels per frame", "lower"),
    "sharpness": (("appearance", "sharpness", "mean"),
                  "mean inner-face detail of the output against the footage's (1 = as sharp)", "higher"),
    "seam": (("appearance", "seam", "mean"),
             "mean colour step across the blend edge beyond the footage's own, 8-bit levels", "lower"),
    "occlusion": (("appearance", "occlusion", "p95"),
                  "95th percentile over frames of the share of not-face pixels around the face (hair, "
                  "background, glasses, hands) the output changed", "lower"),
    "swapped": (("coverage", "swapped_share"), "share of frames with an input face whose face changed", "higher"),
    "unswapped_frames": (("coverage", "unswapped_frames"), "frames with an input face left unchanged", "lower"),
    "no_face_frames": (("coverage", "output_no_face_frames"),
                       "frames with an input face where the output has none", "lower"),
}


@dataclass(frozen=True)
class Gate:
    metric: str
    op: str  # "under": fail when value < threshold; "over": fail when value > threshold
    threshold: float

    def __str__(self) -> str:
        return f"--fail-{self.op} {self.metric}={self.threshold:g}"


def parse_gates(spec: Mapping[str, float] | Iterable[str] | None, op: str) -> list[Gate]:
    """Gates from {"jitter": 0.05} or ["jitter=0.05", ...]; a one-line error for a bad one."""
    if not spec:
        return []
    items = spec.items() if isinstance(spec, Mapping) else (_split(text, op) for text in spec)
    gates = []
    for name, value in items:
        if name not in METRICS:
            raise FaceswapError(f"--fail-{op}: unknown metric {name!r}; choose from {', '.join(METRICS)}")
        try:
            gates.append(Gate(name, op, float(value)))
        except (TypeError, ValueError):
            raise FaceswapError(f"--fail-{op} {name}: {value!r} is not a number") from None
    return gates


def _split(text: str, op: str) -> tuple[str, str]:
    name, sep, value = str(text).partition("=")
    if not sep or not name.strip() or not value.strip():
        raise FaceswapError(f"--fail-{op} takes METRIC=VALUE (e.g. jitter=0.05), not {text!r}")
    return name.strip(), value.strip()


def metric_value(summary: Mapping[str, Any], name: str) -> float | None:
    node: Any = summary
    for key in METRICS[name][0]:
        if not isinstance(node, Mapping) or node.get(key) is None:
            return None
        node = node[key]
    return float(node)


def evaluate(summary: Mapping[str, Any], gates: Iterable[Gate]) -> list[dict[str, Any]]:
    """Each gate with the measured value and whether it passed."""
    results = []
    for gate in gates:
        value = metric_value(summary, gate.metric)
        if value is None:
            ok = False
        elif gate.op == "under":
            ok = value >= gate.threshold
        else:
            ok = value <= gate.threshold
        results.append({"gate": str(gate), "metric": gate.metric, "op": gate.op, "threshold": gate.threshold,
                        "value": value, "ok": ok})
    return results
