"""fold-constants: evaluate ops whose operands are all constants.

Every op (other than ``builtin.constant`` and ``func.return``) whose operands
are all produced by ``builtin.constant`` is executed with the reference
interpreter and replaced by one constant per result, keeping the result
name hints and the op's location. Ops are visited in program order, so a
chain of constant ops folds in one run. Constants left without uses are
erased afterwards.

Ops the interpreter cannot execute (no kernel, quantized operands) and ops
whose results would hold more than ``max_elements`` elements are left alone.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import ClassVar

from edgecc.ir.core import Module, Operation
from edgecc.ir.types import TensorType
from edgecc.passes.manager import Pass, PassContext

#: never folded: constants are already folded; a dequantize of a quantized constant is how QDQ
#: models carry their quantized weights to the quantization pass, so it must survive import
_SKIP = frozenset({"builtin.constant", "func.return", "nn.dequantize"})
_IMPURE = frozenset({"Terminator", "SideEffect", "MemoryEffect"})


def _is_constant(v) -> bool:
    op = v.defining_op()
    return op is not None and op.name == "builtin.constant"


def foldable(op: Operation, max_elements: int) -> bool:
    """Whether fold-constants would evaluate ``op``."""
    from edgecc.interp.reference import supports

    if op.name in _SKIP or not op.operands or not op.results:
        return False
    if op.spec is not None and op.spec.traits & _IMPURE:
        return False
    if not all(_is_constant(v) for v in op.operands):
        return False
    total = 0
    for r in op.results:
        if not isinstance(r.type, TensorType):
            return False
        total += r.type.num_elements
    if total > max_elements:
        return False
    return supports(op)


@dataclass
class FoldConstants(Pass):
    """Evaluate ops with all-constant operands and replace them by constants."""

    name: ClassVar[str] = "fold-constants"
    max_elements: int = field(default=1 << 22, metadata={
        "doc": "do not fold an op whose results hold more elements than this"})

    def run(self, module: Module, ctx: PassContext) -> bool:
        from edgecc.dialects.builtin import ConstantOp
        from edgecc.interp.reference import evaluate_op

        changed = False
        block = module.func.body
        for op in block:  # safe while erasing the current op
            if not foldable(op, self.max_elements):
                continue
            inputs = [v.defining_op().attr("value").array for v in op.operands]
            outputs = evaluate_op(op, inputs)
            new_values = []
            for r, arr in zip(op.results, outputs):
                const = ConstantOp.from_array(arr, r.type.element, loc=op.loc, name=r.name_hint)
                block.insert_before(op, const)
                new_values.append(const.result)
            op.replace_with_values(new_values)
            ctx.stat("ops-folded")
            changed = True
        for op in list(block):
            if op.name == "builtin.constant" and not any(r.uses for r in op.results):
                op.erase()
                ctx.stat("constants-erased")
                changed = True
        return changed


__all__ = ["FoldConstants", "foldable"]
