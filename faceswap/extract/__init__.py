"""The extract stage: footage in, aligned faceset out."""
