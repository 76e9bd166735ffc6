"""Facesets on disk: crops with their own metadata, and alignments files."""
