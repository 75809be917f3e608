"""Module-level transformations (each a ``Pass`` registered in ``edgecc.passes.registry``)."""
