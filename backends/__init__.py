"""Backends: each turns optimised IR into an artifact (tflite, c, numba)."""
