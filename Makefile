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

test: install
	$(PY) -m pytest -q

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

# The face prior in weights/prior-quick (weights/README.md), as it was built: every clip and still but
# d10 and d14, the pair it was checked on (docs/train.md); 30 minutes reached PRIOR_ITERATIONS here.
SHARED ?= ../shared/data
PRIOR_WORK ?= prior-work
PRIOR_ITERATIONS ?= 3359
prior: install
	for c in d18 d19 s18 s32 hamilton_stage; do \
	  $(VENV)/bin/faceswap extract $(SHARED)/video/$$c.mp4 -o $(PRIOR_WORK)/$$c --every 2 --no-progress || exit 1; done
	$(VENV)/bin/faceswap extract $(SHARED)/video/d12.mp4 -o $(PRIOR_WORK)/d12 --no-progress
	$(VENV)/bin/faceswap extract $(SHARED)/stills -o $(PRIOR_WORK)/stills --no-progress
	$(PY) -m faceswap.train.prior_build --out weights/prior-quick --iterations $(PRIOR_ITERATIONS) \
	  $(addprefix $(PRIOR_WORK)/,d19 d18 d12 s18 s32 hamilton_stage stills)

clean:
	rm -rf $(VENV) demo bench-out occlusion-out glasses-out .pytest_cache *.egg-info
