# Everything a fresh machine needs: `make demo` and `make test` install first.
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
# The sample footage; empty: ../shared/data beside the checkout (for the demo, or
# clips made from scikit-image's photos when that folder is absent).
DATA ?=
DATA_ARG := $(if $(DATA),--data $(DATA),)
# torch first and pinned: an unpinned torch lets pip fetch the multi-GB CUDA build.
TORCH ?= torch==2.13.0
OPENCV ?= opencv-contrib-python==4.11.0.86

.PHONY: install test lint demo bench quality occlusion glasses prior clean

install: $(VENV)/.installed

$(VENV)/.installed: setup.cfg pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q $(TORCH)
	$(PY) -m pip install -q -e '.[dev]'
	# mediapipe, albumentations and face-alignment each bring an OpenCV build that
	# writes cv2/; the contrib build is a superset of the others, so it goes last.
	$(PY) -m pip install -q --force-reinstall --no-deps $(OPENCV)
	$(PY) -c "import cv2, mediapipe, torch, albumentations; print('installed: cv2', cv2.__version__, '| torch', torch.__version__)"
	touch $@

# --durations: the slowest tests at the end of every run (CI's log included), to keep the suite short
test: install
	$(PY) -m pytest -q --durations=25

lint: install
	$(VENV)/bin/ruff check faceswap tests

demo: install
	$(PY) -m faceswap.demo $(DATA_ARG) --out demo

bench: install
	$(PY) -m faceswap.bench $(DATA_ARG)

quality: install
	$(PY) -m faceswap.quality $(DATA_ARG) --out quality --minutes 30

# Issue 16's measurement: occluders drawn into d18, d19 and d14, converted with each --mask (docs/occlusion.md).
# OCCLUSION_MODELS: PAIR=MODEL_DIR,... to reuse models (e.g. d19:d18=m1,d14:d10=m2); else trained for 5 minutes each.
OCCLUSION_MODELS ?=
occlusion: install
	$(PY) -m faceswap.occlusion_bench $(DATA_ARG) --out occlusion-out $(if $(OCCLUSION_MODELS),--models $(OCCLUSION_MODELS),)

# Issue 16's glasses: synthetic glasses on d18 and d14, and d19's and d12's own, converted with each --glasses
# (docs/occlusion.md). GLASSES_MODEL: a d19:d18 model to reuse; else one is trained for 5 minutes.
GLASSES_MODEL ?=
glasses: install
	$(PY) -m faceswap.glasses_bench $(DATA_ARG) --out glasses-out $(if $(GLASSES_MODEL),--model $(GLASSES_MODEL),)

# The face prior in weights/prior-quick (weights/README.md, docs/train.md; kept out of git), built: the faces of every clip and still of the sample footage, PRIOR_ITERATIONS iterations (6000: 25
# minutes on a 2-core CPU). The check of what it gives on a pair it never saw used a prior without that
# pair: make prior PRIOR_SETS="d18 d19 d12 s18 s32 hamilton_stage stills" PRIOR_ITERATIONS=3359 PRIOR_OUT=DIR
SHARED ?= ../shared/data
PRIOR_WORK ?= prior-work
PRIOR_SETS ?= d10 d14 d18 d19 d12 s18 s32 hamilton_stage stills
PRIOR_ITERATIONS ?= 6000
PRIOR_OUT ?= weights/prior-quick
prior: install
	for c in $(PRIOR_SETS); do case $$c in \
	  stills) $(VENV)/bin/faceswap extract $(SHARED)/stills -o $(PRIOR_WORK)/stills --no-progress ;; \
	  d12) $(VENV)/bin/faceswap extract $(SHARED)/video/d12.mp4 -o $(PRIOR_WORK)/d12 --no-progress ;; \
	  *) $(VENV)/bin/faceswap extract $(SHARED)/video/$$c.mp4 -o $(PRIOR_WORK)/$$c --every 2 --no-progress ;; \
	  esac || exit 1; done
	$(PY) -m faceswap.train.prior_build --out $(PRIOR_OUT) --iterations $(PRIOR_ITERATIONS) \
	  $(addprefix $(PRIOR_WORK)/,$(PRIOR_SETS))

clean:
	rm -rf $(VENV) demo bench-out occlusion-out glasses-out .pytest_cache *.egg-info
