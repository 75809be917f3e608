"""Pattern rewriting: ``PatternSet`` of function patterns, the ``Rewriter`` and the greedy driver."""

from edgecc.rewrite.driver import GreedyDriver, Rewriter, apply_greedily, is_trivially_dead
from edgecc.rewrite.pattern import Pattern, PatternSet, constant_array, is_splat, producer

__all__ = ["GreedyDriver", "Pattern", "PatternSet", "Rewriter", "apply_greedily", "constant_array",
           "is_splat", "is_trivially_dead", "producer"]
