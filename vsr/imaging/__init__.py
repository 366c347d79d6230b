"""Imaging primitives: colour conversion, MATLAB-compatible resizing, quality metrics, image files."""
