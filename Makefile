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

.PHONY: install test lint demo bench quality clean

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

clean:
	rm -rf $(VENV) demo bench-out .pytest_cache *.egg-info
