"""`python -m faceswap`: the `faceswap` command, also as torchrun starts it (`torchrun ... -m faceswap train`)."""

from .cli import main

if __name__ == "__main__":  # not when a spawned training process imports this module as its parent's main
    main()
