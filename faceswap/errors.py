"""The one exception type a user sees as a one-line message, and the words for a full disk."""

import errno

# How every writer says ENOSPC, whether Python or ffmpeg met it.
DISK_FULL = "the disk is full (no space left on device)"


def os_reason(err: OSError) -> str:
    """An OSError as the few words a user needs: DISK_FULL for ENOSPC (and EDQUOT, a full
    quota), else the system's own words."""
    if err.errno in (errno.ENOSPC, errno.EDQUOT):
        return DISK_FULL
    return err.strerror or str(err)


class FaceswapError(Exception):
    """A problem with the user's input or environment, worded for the user.

    The CLI prints ``str(err)`` on one line and exits with ``err.exit_code``;
    anything else that escapes is a bug and keeps its traceback.
    """

    exit_code = 1

    def __init__(self, message: str, exit_code: int | None = None) -> None:
        super().__init__(message)
        if exit_code is not None:
            self.exit_code = exit_code


class NoFaceError(FaceswapError):
    """Input was readable but held no human face (exit code 3, documented)."""

    exit_code = 3
