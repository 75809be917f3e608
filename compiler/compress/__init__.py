"""Compression passes: pruning, sparsity, clustering, low-rank factorisation and their report."""
