"""Model compression: structured pruning, low-rank factorisation (and, on other branches, sparsity).

Every method here turns a float ``nn`` graph into a smaller float ``nn`` graph
(fewer channels, thinner layers), so the result quantizes and runs on every
backend unchanged. Calibration activations come from ``activations``.
"""
