"""Logging set-up shared by the CLI and scripts."""

import io
import logging
import os
import re
import sys
import threading

from tqdm import tqdm

LOGGER_NAME = "faceswap"
LEVELS = ("DEBUG", "INFO", "WARNING", "ERROR")
DEFAULT_LEVEL = "INFO"


def get_logger(name: str) -> logging.Logger:
    """A child of the package logger, so one level setting controls them all."""
    return logging.getLogger(f"{LOGGER_NAME}.{name}" if not name.startswith(LOGGER_NAME) else name)


class _AboveProgressBars(logging.StreamHandler):
    """A stream handler that writes each line through tqdm, which clears the progress bars on the
    terminal, prints the line and draws them again below it: a log line does not land in the
    middle of a bar."""

    def emit(self, record: logging.LogRecord) -> None:
        try:
            tqdm.write(self.format(record), file=self.stream)
            self.flush()
        except RecursionError:
            raise
        except Exception:
            self.handleError(record)


def setup_logging(level: str = DEFAULT_LEVEL) -> None:
    """Configure the package logger once; third-party chatter stays quiet."""
    logger = logging.getLogger(LOGGER_NAME)
    logger.setLevel(level.upper())
    if not logger.handlers:
        handler = _AboveProgressBars()
        handler.setFormatter(logging.Formatter("%(levelname)s: %(message)s"))
        logger.addHandler(handler)
    logger.propagate = False
    # MediaPipe / TFLite / absl write INFO lines to stderr through glog.
    os.environ.setdefault("GLOG_minloglevel", "2")
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")


# Lines that MediaPipe, TFLite and absl write straight to fd 2 at start-up,
# bypassing Python logging: glog/absl records ("W0000 00:00:..."), and banners.
_NATIVE_NOISE = re.compile(rb"^([IWE]\d{4} \d\d:\d\d:\d\d|INFO: Created TensorFlow Lite|"
                           rb"WARNING: All log messages before absl)")


def filter_native_stderr() -> None:
    """Route fd 2 through a filter that drops native libraries' start-up chatter.

    Python's own stderr (tqdm, logging, click) keeps writing to the real
    terminal through a duplicate of the original fd; only what C++ code writes
    to fd 2 passes the filter. Called once by the command-line entry points.
    """
    if getattr(filter_native_stderr, "_done", False):
        return
    filter_native_stderr._done = True
    sys.stderr.flush()
    real = os.dup(2)
    read_end, write_end = os.pipe()
    os.dup2(write_end, 2)
    os.close(write_end)
    sys.stderr = io.TextIOWrapper(os.fdopen(real, "wb", buffering=0), encoding="utf-8",
                                  errors="replace", line_buffering=True, write_through=True)

    def pump() -> None:
        with os.fdopen(read_end, "rb") as pipe:
            for line in pipe:
                if not _NATIVE_NOISE.match(line):
                    os.write(real, line)

    threading.Thread(target=pump, name="stderr-filter", daemon=True).start()
