"""Executors of the IR: the numpy reference interpreter (``edgecc.interp.reference``)."""

from edgecc.interp.reference import KERNELS, evaluate_op, initial_state, run

__all__ = ["KERNELS", "evaluate_op", "initial_state", "run"]
