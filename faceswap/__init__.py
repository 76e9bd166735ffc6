"""faceswap: face swap and reenactment for film and TV footage."""

__version__ = "0.1.0"
