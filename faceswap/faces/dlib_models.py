"""Paths of the dlib model files that the face-recognition-models wheel ships.

Found through the import system rather than by importing the package, whose
__init__ needs pkg_resources (gone from recent setuptools).
"""

from __future__ import annotations

import importlib.util
from pathlib import Path

from ..errors import FaceswapError


def dlib_model(name: str) -> str:
    spec = importlib.util.find_spec("face_recognition_models")
    if spec is None or not spec.submodule_search_locations:
        raise FaceswapError("face-recognition-models is not installed: pip install face-recognition-models==0.3.0")
    path = Path(list(spec.submodule_search_locations)[0]) / "models" / name
    if not path.is_file():
        raise FaceswapError(f"face-recognition-models is incomplete: {path} is missing")
    return str(path)


def import_dlib():
    try:
        import dlib
    except ImportError as err:
        raise FaceswapError("dlib is not installed: pip install dlib-bin") from err
    return dlib
