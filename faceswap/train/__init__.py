"""Training: the loop, checkpoints, previews and loss history."""
