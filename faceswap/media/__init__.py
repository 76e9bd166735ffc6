"""Reading and writing footage: ffmpeg pipes for video, OpenCV for stills."""
