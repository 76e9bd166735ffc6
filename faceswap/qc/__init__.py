"""`faceswap qc`: objective quality figures of a converted shot against its footage.

Identity (dlib descriptors), expression and pose kept (68-point error, head
pose), temporal stability (jitter, flicker), coverage and file integrity; a
report folder and thresholds that make a batch pipeline gate shots.
"""

from .run import QcOptions, QcResult, run_qc

__all__ = ["QcOptions", "QcResult", "run_qc"]
