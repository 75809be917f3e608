"""Model compression: structured pruning, low-rank factorisation, sparsity, clustering and their report.

Every method turns a float ``nn`` graph into a smaller float ``nn`` graph (fewer channels, thinner
layers, zeros or few distinct values), so the result quantizes and runs on every backend unchanged;
the C backend stores sparse/clustered weights encoded. Calibration activations come from
``activations``.
"""
