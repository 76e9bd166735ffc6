"""Logging set-up shared by the CLI and scripts."""

import logging
import os

LOGGER_NAME = "faceswap"


def get_logger(name: str) -> logging.Logger:
    """A child of the package logger, so one level setting controls them all."""
    return logging.getLogger(f"{LOGGER_NAME}.{name}" if not name.startswith(LOGGER_NAME) else name)


def setup_logging(level: str = "INFO") -> None:
    """Configure the package logger once; third-party chatter stays quiet."""
    logger = logging.getLogger(LOGGER_NAME)
    logger.setLevel(level.upper())
    if not logger.handlers:
        handler = logging.StreamHandler()
        handler.setFormatter(logging.Formatter("%(levelname)s: %(message)s"))
        logger.addHandler(handler)
    logger.propagate = False
    # MediaPipe / TFLite / absl write INFO lines to stderr through glog.
    os.environ.setdefault("GLOG_minloglevel", "2")
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
