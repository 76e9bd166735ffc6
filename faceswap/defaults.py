"""Every default the toolkit uses, in one place, with the reason beside it.

The CLI, the Python API and the docs read these; nothing else hard-codes them.
"""

from pathlib import Path

# The sample footage `make demo`, `make quality` and `make bench` run on: the
# shared data folder beside the checkout.
SAMPLE_DATA = Path(__file__).resolve().parents[1].parent / "shared" / "data"

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
# Crops of each faceset whose mean descriptor train stores in the model folder
# (identity.json), for convert to pick the model's own person: ~25 ms a crop.
MODEL_IDENTITY_SAMPLES = 24
# Contact sheet: how many crops, at what tile size.
PREVIEW_TILES = 48
PREVIEW_TILE_SIZE = 128

# --- convert -----------------------------------------------------------------
# Training convention: A is the footage, B the face put into it.
CONVERT_TO = "b"
# Temporal smoothing of each track's landmarks: sigma of a centred Gaussian
# window, in frames. 2 frames removes detector jitter at 25-30 fps without
# visibly lagging speech; 0 turns smoothing off.
SMOOTH = 2.0
# Detection gaps up to this many frames are bridged by interpolating the
# landmarks on either side, so the swap does not blink off for a missed frame.
BRIDGE_GAP = 8
# Long shots in segments (convert/segments.py): frames a segment writes. 300 (10-12 s) keeps
# the frames a kill loses and a batch worker's share small, against a context read twice
# at each border (about 30 frames at the defaults).
SEGMENT_FRAMES = 300
# Frames a segment reads before its start beyond what the stabiliser needs, so the face
# finder's tracks settle into the ones a one-piece run has there (rounded up to whole
# DETECT_EVERY periods).
SEGMENT_TRACK_WARMUP = 16
# Mask: "both" is the model's predicted mask times a landmark mask (the landmark mask stops the
# predicted one from bleeding into hair or background); "occlusion" is the landmark mask times the
# occlusion net's view of the footage face (what covers it keeps the footage's pixels), and falls
# back to "both" for a model without the net.
MASK = "occlusion"
MASKS = ("predicted", "landmarks", "both", "occlusion")
# The region the occlusion net says is covered is grown by this % of the face width before the blend
# (the occluder's anti-aliased rim, what is left of the net's uncertainty after the guided filter).
# 0.5 against 1 gave the face back 0.2-2 points by convert's matte, with hand, microphone and cup
# still kept whole in every frame and d18's box in 0.98 of them (1.00 at 1), since the cut follows
# the occluder along the optical flow and is checked by colour (docs/occlusion.md, stop 44). A weakly
# trained net (1,383 iterations) keeps a crossing hand whole in 0.05-0.07 fewer of its frames at 0.5
# than at 1: raise it for such a model.
OCCLUSION_GROW = 0.5
# Glasses' frames (faces/glasses.py): "face" swaps them with the face (part of them, where the mask
# reaches); "keep" keeps the footage's frames in front of the swapped face; "remove" fills them from
# around them before the swap. The user's word that the shot's faces wear glasses: nothing is
# detected on "face".
GLASSES = "face"
GLASSES_MODES = ("face", "keep", "remove")
# Detail (convert/reference_detail.py): "reference" enlarges the render of a face shown larger than
# the model draws it with the fine detail of B's own crops kept in the model folder; "off" enlarges
# it as it is (bicubic, in the blend).
DETAIL = "reference"
DETAIL_MODES = ("reference", "off")
# Expression (convert/expression_fit.py): "fit" warps the render so its mouth, eyes and brows land
# on the footage face's landmarks (the model draws B's nearest expression, not always the
# footage's); "off" blends the render as the model drew it.
EXPRESSION = "fit"
EXPRESSION_MODES = ("fit", "off")
LANDMARK_MASK = "extended"
LANDMARK_MASKS = ("components", "extended")
# Mask refinement in % of the face's width: no erosion, a feather wide
# enough to hide the seam at any resolution.
ERODE = 0.0
BLUR = 5.0
# Colour transfer: lct (full RGB covariance) came closest to the footage's cheeks on both measured
# pairs, d14 -> d10 and d19 -> d18 (docs/convert.md, "Colour match"): 2.1 and 1.3 delta-E.
COLOR = "lct"
# Where colour statistics come from: the whole blend mask (face), or the footage face's skin only
# (skin: cheeks, nose, brow ridge; matches skin tone better on d14->d10, 2.1 vs 3.2 delta-E, but the
# smaller region's statistics vary more between frames: flicker 0.31 vs 0.21 levels/frame on d19->d18).
COLOR_SOURCES = ("face", "skin")
COLOR_FROM = "face"
# Edge match (convert/edge_match.py): the swapped face's colour is matched to the footage's along
# the blend's edge, fully within this % of the face width, fading out over as much again. qc seam
# d19 -> d18 14.3 -> 3.6 levels, d14 -> d10 49.5 -> 9.3 (8 %: 8.6 / 21.4; 20 %: 7.6 on d19); per
# frame it raised flicker on d14 (0.41 -> 0.78 levels/frame), which EDGE_STEADY takes back (0.42).
EDGE_MATCH = 12.0
# The edge match's field is averaged over each track's frames within a Gaussian of this many
# frames (sigma; the window reaches 2 sigma either way, within the shot): per frame it follows a
# brow or hair moving across the face's outline (convert/edge_steady.py). 0 = each frame alone.
# d14 -> d10 flicker 0.78 -> 0.42 levels/frame, seam 9.3 -> 9.5 (docs/convert.md).
EDGE_STEADY = 2.0
# Grain (convert/grain.py): the share of the footage's finest band (finer than GRAIN_SIGMA px,
# clipped at GRAIN_CLIP times its robust spread and faded where its local RMS exceeds GRAIN_GATE
# times that spread) laid over the swapped face. Clipped only, it lifted qc sharpness on d19 -> d18
# from 0.228 to 0.298 but let d19's glasses' rims through as a ghost; gated, 0.250 (docs/convert.md).
GRAIN = 1.0
GRAIN_SIGMA = 1.0
GRAIN_CLIP = 2.5
GRAIN_GATE = 1.6
BLEND = "feather"
# Faces per model call: amortises the per-call overhead without holding many frames.
CONVERT_BATCH = 8
# faces per model call at convert, padded to it: results independent of how faces were grouped
INFERENCE_CHUNK = 8
# Shot cut: colour-histogram + grey-thumbnail difference of consecutive frames
# (see convert/stabilize.py); motion within a shot stays under ~0.3, cuts score
# 0.5 and more. Smoothing and gap bridging never cross a cut.
CUT_THRESHOLD = 0.45
# ... or the colour histograms of the frame's quarters differ by this much (mean
# L1 distance, 0-2): a cut that only rearranges the same colours, such as a
# two-shot whose people change sides (1.6); a hand across a face scores 0.45.
CUT_QUARTERS_THRESHOLD = 0.9
# Reenact: the region of the footage's face replaced by the driven one
# (mouth for dubbing), and what happens when the driver is shorter.
REENACT_REGION = "mouth"
REENACT_REGIONS = ("mouth", "lower", "face")
DRIVER_END = "stop"
DRIVER_ENDS = ("stop", "loop", "hold")

# --- qc ----------------------------------------------------------------------
# The dlib descriptor costs 10-100 ms a face on one core, detection ~15 ms, so
# identity is measured on every 5th frame (both videos) while landmarks, pose,
# jitter and flicker use every frame: identity changes slowly, jitter does not.
QC_IDENTITY_EVERY = 5
# Faces of --identity used for the wanted identity's mean descriptor: past ~30
# the mean stops moving (dlib's own clustering uses a handful per person).
QC_IDENTITY_SAMPLES = 32
# dlib's same-person threshold on the descriptor distance (drawn on the plot).
QC_SAME_PERSON = 0.6
# A face region whose mean absolute difference from the input is under this
# many 8-bit levels counts as not swapped: H.264 at CRF 18 moves an untouched
# face by ~0.3-1 level, a swap by tens.
QC_UNCHANGED_LEVEL = 1.5
# Integrity tolerances: a rate printed to 4 digits (29.97 for 30000/1001) is
# still the same rate; durations may differ by an AAC frame or two (23 ms
# each) and container rounding, never by a video frame's worth at 30 fps x 3.
QC_FPS_TOLERANCE = 0.01
QC_DURATION_TOLERANCE = 0.1
QC_AUDIO_TOLERANCE = 0.1
# Each output frame is shown within half an input frame (of its median
# interval) of its input frame's time: nearer than any other input frame.
QC_TIMESTAMP_TOLERANCE = 0.5
# Worst frames kept per measure for the contact sheet, and its tile side:
# 4 x 7 measures of 2 x 160 px tiles fit one screen.
QC_WORST_FRAMES = 4
QC_TILE = 160

# --- train and convert: where the model runs ------------------------------------
# "auto" takes CUDA, then Apple's MPS, then the CPU (model/store.py pick_device).
DEVICE = "auto"
DEVICES = ("auto", "cpu", "cuda", "mps")
# Learning rate schedule (train/schedule.py): held, then lowered linearly over the last LR_DECAY
# share of a run's --minutes or --iterations to LR_FLOOR times itself. Off by default: at 0.3 it
# helped d19/d18 (identity 0.400 -> 0.388, pose 2.55 -> 2.20 deg) and hurt d14/d10 (0.486 -> 0.515,
# retrieval 0.83 -> 0.61), one run each (docs/train.md, "Learning-rate decay").
LR_DECAY = 0.0
LR_FLOOR = 0.1
# Loss weight multipliers on the eye and mouth regions of a training crop: a
# viewer looks there first, and they are small parts of the crop, so at equal
# weight the loss lets them stay soft.
EYES_WEIGHT = 3.0
MOUTH_WEIGHT = 2.0
# How often train draws a face whose bare skin extract found mostly covered (data/covered.py),
# against 1 for the rest: seen now and then, not learnt as the face.
COVERED_WEIGHT = 0.1
# The repository's weights/ folder (not weights/ under the current directory,
# which would load whatever file happens to sit where the user runs).
WEIGHTS_DIR = Path(__file__).resolve().parents[1] / "weights"
# The face prior a new model starts from (`train --init auto`, the default): the quick
# preset's df model trained on the sample footage's faces, built into weights/ by `make prior`
# (6 MB, kept out of git; weights/README.md); missing, a new model starts from random weights.
# Measured after 30 minutes' training on both pairs (docs/train.md): expression, pose, seam and flicker better, identity better
# on a pair it never saw and 0.025 worse on one it had. `--init none` starts from scratch.
PRIOR_DIR = WEIGHTS_DIR / "prior-quick"
INIT = "auto"
# What of the prior a new model takes: "all" (encoder, bottleneck and the decoder, copied to both
# sides) or "encoder" (encoder and bottleneck; each side's decoder starts from random weights).
INIT_PARTS = ("all", "encoder")
INIT_PART = "all"

# --- detectors ---------------------------------------------------------------
DETECTOR = "mediapipe"
DETECTORS = ("mediapipe", "fan")
# Set to 1 to let the fan detector load TorchScript weights (code, not data); `faceswap --allow-torchscript`.
ALLOW_TORCHSCRIPT_ENV = "FACESWAP_ALLOW_TORCHSCRIPT"

# .exr/.dpx/.cin/.hdr (and 16-bit .png/.tif) are read as plates, at their own bit depth (media/plates.py)
IMAGE_EXTENSIONS = (".png", ".jpg", ".jpeg", ".webp", ".bmp", ".tif", ".tiff", ".exr", ".dpx", ".cin", ".hdr")
VIDEO_EXTENSIONS = (".mp4", ".mov", ".mkv", ".avi", ".webm", ".m4v", ".mxf", ".mpg", ".mpeg")

# --- ranges shared by options of several commands (faceswap/ranges.py) ----------
# Detector confidences are probabilities.
CONFIDENCE_RANGE = (0.0, 1.0)
# Share of the centering's extent a crop shows: under 0.1 it is a patch of skin, past 2.0
# mostly background.
COVERAGE_RANGE = (0.1, 2.0)
# x264 and x265 take CRF 0 (lossless) to 51 at 8 bits per sample.
CRF_RANGE = (0, 51)
# Seeds reach numpy's and torch's generators; both take 32-bit unsigned seeds everywhere.
SEED_RANGE = (0, 2**32 - 1)

# --- convert output -------------------------------------------------------------
# Codec picked from OUTPUT's suffix when none is given. .mov is what VFX
# reviews and compositors ingest, so it gets ProRes; .mkv gets H.264 rather
# than FFV1 because a user who did not ask for lossless rarely wants files
# ten times larger; a path with no suffix is a folder of PNG frames.
OUTPUT_CODEC_BY_SUFFIX = {".mp4": "h264", ".m4v": "h264", ".mov": "prores", ".mkv": "h264", "": "png"}
OUTPUT_CODECS = ("h264", "h265", "prores", "prores4444", "ffv1", "png")
# CRF 18 is x264's "visually lossless" point for a deliverable that may be
# graded again; x265 reaches the same quality at a higher number.
H264_CRF = 18
H265_CRF = 20
# x264's own default: "fast" saves ~25 % CPU for ~2-5 % more bits, but the
# encoder is a small share of convert's time. x265's medium is several times
# slower than x264's on real footage, so it gets "fast".
H264_PRESET = "medium"
H265_PRESET = "fast"
# The speed presets x264 and x265 share (ffmpeg -preset), fastest first.
ENCODER_PRESETS = ("ultrafast", "superfast", "veryfast", "faster", "fast", "medium", "slow", "slower", "veryslow",
                   "placebo")
# Audio that the container cannot take as it is gets AAC at a rate high enough
# to be transparent, since it may be a second generation of a lossy track.
AUDIO_BITRATE = "256k"
# zlib level 1: PNG frames are intermediates for a compositor; level 3+ makes
# encoding 2-4x slower for 5-15 % smaller files.
PNG_COMPRESSION = 1
# Frames queued between the caller and the encoder thread: absorbs jitter in
# per-frame compute while a 4K queue stays under 200 MB.
WRITER_QUEUE = 8
# Frame rates this close (relative) to N*1000/1001 are NTSC rates: `ffmpeg -i`
# prints rates to 4 significant digits (23.98 for 24000/1001), and the nearest
# integer rate is 1e-3 away, so 3e-4 tells them apart.
NTSC_TOLERANCE = 3e-4
# Variable frame rate: footage whose frame times stray more than this share of
# a frame from a constant-rate grid is written with each frame's own time.
# Phones' 1/600 s clocks jitter by 0.05 of a frame at 30 fps; a dropped or cut
# frame moves the rest by a whole one. Under half a frame, so a constant-rate
# output always meets qc's timestamps check.
VFR_TOLERANCE = 0.25
# Provenance: a folder input larger than this is identified by its file names
# and sizes instead of its contents: sha256 runs at ~1.7 GB/s on one core
# here, slower from disk, so 2 GiB costs a second or two per input.
PROVENANCE_HASH_FOLDER_LIMIT = 2 * 1024**3

# --- batch ---------------------------------------------------------------------------
# Shots run at once: 1 (in this process) until the user asks for workers; each worker holds
# a model and a shot's frames, so N jobs use about N times the memory of one convert.
BATCH_JOBS = 1
# A failed shot is tried once more: a worker killed for memory or a full scratch disk is often
# gone on the second try, and a shot that fails twice is reported, not retried all night.
BATCH_RETRIES = 1
# The report folder beside the manifest when --report is not given: <manifest stem>-report/.
BATCH_REPORT_SUFFIX = "-report"
# The contact sheet's tiles: one output frame per shot, scaled to this width, 4 to a row.
BATCH_SHEET_TILE = 320
BATCH_SHEET_COLUMNS = 4

# --tonemap: what HLG/PQ video may be tone mapped to (only when asked: HDR is kept by default)
TONEMAPS = ("bt709",)
# The invisible watermark (media/watermark.py): auto = the whole frame of outputs made from video,
# the swapped faces only of outputs made from images and plates (whose other pixels are a
# compositing contract); frame / face force one; off is recorded in the sidecar and the tags.
WATERMARKS = ("auto", "frame", "face", "off")
WATERMARK = "auto"
# verify reads the watermark over windows of this many seconds (frames of images and plates
# counted at VERIFY_IMAGE_FPS)
VERIFY_WINDOW_SECONDS = 1.0
VERIFY_IMAGE_FPS = 24.0

# --- plates and colour management (media/colour.py) ----------------------------------
# OpenColorIO's built-in ACES studio config (in the opencolorio wheel: nothing downloaded).
OCIO_CONFIG = "ocio://studio-config-latest"
# The display-referred space the model sees faces in: the faces it trained on came from
# Rec.709/sRGB video, so a scene-linear plate is shown to it as an sRGB display would.
WORKING_SPACE = "sRGB - Display"
# The space a float plate (EXR, HDR) is read as when --input-space is not given: the ACES
# working space VFX facilities render and deliver plates in. Integer plates (DPX, TIFF, PNG)
# are taken as already in the working space unless --input-space names theirs (e.g. ADX10,
# ACEScct for log DPX).
FLOAT_PLATE_SPACE = "ACEScg"
# The plate number of a video's first frame when it is written as an image sequence: 1001,
# the first frame of a shot in most facilities (room for handles before it).
VIDEO_PLATE_START = 1001
