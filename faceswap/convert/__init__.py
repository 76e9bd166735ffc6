"""Convert: swap or reenact the faces of footage with a trained model and write the result."""
