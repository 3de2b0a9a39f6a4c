"""Applying trained image-to-image generators to user images (no training code needed)."""
