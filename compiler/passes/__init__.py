"""Pass infrastructure: ``Pass``, ``PassManager``, pipeline strings and the pass registry."""

from edgecc.ir.diagnostics import PassError
from edgecc.passes.manager import Pass, PassContext, PassManager
from edgecc.passes.pipeline import parse_pipeline
from edgecc.passes.registry import PASSES, available_passes, get_pass, register_pass

__all__ = ["PASSES", "Pass", "PassContext", "PassError", "PassManager", "available_passes", "get_pass",
           "parse_pipeline", "register_pass"]
