"""`faceswap batch`: many shots from one YAML manifest, each converted (in segments when long) and
checked by qc, on local worker processes or a Ray cluster; resumable at every level (docs/batch.md)."""
