"""Least-squares reconstruction of a layer after its input channels changed (no fine-tuning).

A consumer ``y = W p + b`` (``p``: its input patch, ``activations.patches``)
lost input channels, and its inputs now come from the already-pruned layers
before it. Its new weights minimise, over calibration rows,

    || P' [W' b']^T - Y ||^2 + lam || [W' b'] - [W0 b0] ||^2

with ``Y = P W^T + b`` the original layer's pre-activation output (its kept
channels), ``P'`` the pruned model's patches and ``[W0 b0]`` the simply sliced
weights. The normal equations are solved in float64; ``lam = ridge *
trace(P'^T P') / D`` pulls poorly observed directions back to the sliced
weights instead of letting a few samples fit noise.
"""

from __future__ import annotations

import numpy as np


def refit(rows: np.ndarray, target: np.ndarray, w0: np.ndarray, b0: np.ndarray,
          ridge: float = 1e-3) -> tuple[np.ndarray, np.ndarray]:
    """New ``(W [N, D], b [N])`` from ``rows [R, D]``, ``target [R, N]`` and the starting ``w0, b0``."""
    a = np.concatenate([rows, np.ones((rows.shape[0], 1))], axis=1)
    theta0 = np.concatenate([w0.astype(np.float64), b0.astype(np.float64)[:, None]], axis=1).T
    gram = a.T @ a
    lam = ridge * max(float(np.trace(gram)) / gram.shape[0], 1e-12)
    lhs = gram + lam * np.eye(gram.shape[0])
    theta = np.linalg.solve(lhs, a.T @ target + lam * theta0)
    return theta[:-1].T, theta[-1]


__all__ = ["refit"]
