"""Detection, landmarks, alignment geometry, tracking, masks and identity."""
