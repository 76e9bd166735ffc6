"""Every default the toolkit uses, in one place, with the reason beside it.

The CLI, the Python API and the docs read these; nothing else hard-codes them.
"""

# --- extract ---------------------------------------------------------------
# 256 px keeps enough detail for the 128 px `standard` model to train from a
# tighter crop of the stored one, while a faceset stays small on disk.
EXTRACT_SIZE = 256
# "head" stores the widest view (forehead and hair included); training and
# convert derive tighter "face" crops from it without going back to the video.
EXTRACT_CENTERING = "head"
# 1.0 = the full extent of the centering; lower values zoom in.
EXTRACT_COVERAGE = 1.0
# Process every frame: tracking needs neighbouring frames, and a user who
# wants fewer crops asks with --every.
EXTRACT_EVERY = 1
# Faces narrower than this many pixels in the frame are too blurry to train on.
EXTRACT_MIN_SIZE = 24
# Full-range detector confidence. Lower finds more profile/small faces but
# also more false positives on animals and posters.
DETECT_CONFIDENCE = 0.5
# In video, the full-range detector runs every Nth frame (and whenever a track
# is lost); in between each face's crop comes from its previous landmarks, as
# MediaPipe itself tracks. New faces therefore appear within N frames.
DETECT_EVERY = 4
# A track survives this many frames without a detection before it is closed.
TRACK_MAX_GAP = 10
# dlib face-descriptor distance under which a face is the reference person
# (dlib's own guidance: same person < 0.6; we are a little stricter).
REFERENCE_THRESHOLD = 0.55
# Contact sheet: how many crops, at what tile size.
PREVIEW_TILES = 48
PREVIEW_TILE_SIZE = 128

# --- detectors ---------------------------------------------------------------
DETECTOR = "mediapipe"
DETECTORS = ("mediapipe", "fan")

CENTERINGS = ("face", "head")
IMAGE_EXTENSIONS = (".png", ".jpg", ".jpeg", ".webp", ".bmp", ".tif", ".tiff")
VIDEO_EXTENSIONS = (".mp4", ".mov", ".mkv", ".avi", ".webm", ".m4v", ".mxf", ".mpg", ".mpeg")
