"""Encoded weights in the C build: which layers store their weights encoded, and the scratch they need.

A layer whose constant weights are sparse or clustered (``sparsify``, ``cluster``) can store them
as a bitmask + nonzeros, as codebooks + packed indices, or both (``edgecc.compress.encode``).
Before the layer's kernel runs, ``edgecc_decode_bitmask`` / ``_lut`` / ``_sparse_lut`` write the
dense weights into the front of the layer's scratch buffer, so every kernel (CMSIS-NN or
portable, any memory mode) reads the same dense array as before: outputs are bit-exact with the
dense build by construction, and the decoded bytes are an ordinary part of the arena plan.

The choice is per layer, on the exact figures: the flash a layer saves is its dense bytes minus
its encoded bytes and decode parameters (``flash_saved``); the RAM it costs is whatever the
re-planned arena grows. ``weights``:

* ``dense``: never encode;
* ``auto`` (default): encode a layer when it saves flash and the re-planned arena stays within
  the RAM budget, or without one within the dense build's arena (decoded weights fill gaps of
  the plan); layers are tried by flash saved, largest first;
* ``encoded``: encode every layer where it saves flash, whatever the arena.

The IR keeps the dense constant (like int4 packing): shapes, the reference interpreter and the
compile-time tables derived from weights (CMSIS-NN kernel sums) do not change.
"""

from __future__ import annotations

import numpy as np

from edgecc.analysis.liveness import align_up, default_scratch
from edgecc.compress.encode import Encoding, best_encoding
from edgecc.ir.core import Module, Operation, Value
from edgecc.ir.diagnostics import EdgeccError
from edgecc.ir.types import QuantizedType

WEIGHTS = ("auto", "dense", "encoded")
#: consumer op attribute: the kind of the encoding of its weight operand (operand 1)
ENCODED_ATTR = "c.decode"
#: consumer op attribute: decoded weight bytes at the front of its scratch buffer (aligned)
DECODE_BYTES_ATTR = "c.decode_bytes"
_DTYPES = {"i8": np.int8, "i4": np.int8, "f32": np.float32}
#: flash of the ``edgecc_lut_params_t`` struct a lut-encoded layer adds (6 x uint32)
LUT_PARAM_BYTES = 24


def flash_saved(enc: Encoding) -> int:
    """Exact constant-data bytes a layer saves stored as ``enc``: dense bytes - encoded array - its
    decode parameters (the bitmask decoder takes its two figures as call arguments)."""
    return enc.dense_bytes - enc.nbytes - (0 if enc.kind == "bitmask" else LUT_PARAM_BYTES)


def _kind(v: Value) -> str:
    e = v.type.element
    return str(e.storage) if isinstance(e, QuantizedType) else str(e)


def weight_operand(op: Operation) -> Value | None:
    """The constant weight operand of a conv / depthwise / dense / matmul op that may be encoded."""
    from edgecc.backends.c.generate import op_macs
    from edgecc.backends.c.packing import PACK_ATTR

    if op.name == "c.band" or len(op.operands) < 2 or not op_macs(op):
        return None
    v = op.operands[1]
    const = v.defining_op()
    if const is None or not const.has_trait("ConstantLike") or PACK_ATTR in const.attrs:
        return None
    if _kind(v) not in _DTYPES or len(v.uses) != 1 or v.type.num_elements == 0:
        return None
    return v


def channel_axis(op: Operation, v: Value) -> int:
    return v.type.rank - 1 if "depthwise" in (getattr(op, "mac_kind", None) or op.name) else 0


def encoding_of(op: Operation) -> Encoding | None:
    """The encoding ``op``'s weight is stored in (None: dense)."""
    kind = op.attrs.get(ENCODED_ATTR)
    if not kind:
        return None
    v = op.operands[1]
    arr = np.asarray(v.defining_op().attr("value").array).astype(_DTYPES[_kind(v)])
    enc = best_encoding(arr, channel_axis(op, v))
    assert enc is not None and enc.kind == kind, (kind, op.name)
    return enc


def c_scratch(op: Operation) -> int:
    """Scratch bytes of a ``c`` op for the planner: decoded weights (aligned) + the kernel's own."""
    return default_scratch(op) + int(op.attrs.get(DECODE_BYTES_ATTR, 0) or 0)


def _candidates(plan, alignment: int) -> list[tuple[int, Operation, Encoding]]:
    out = []
    for pos, op in enumerate(plan.order):
        v = weight_operand(op)
        if v is None:
            continue
        arr = np.asarray(v.defining_op().attr("value").array).astype(_DTYPES[_kind(v)])
        enc = best_encoding(arr, channel_axis(op, v))
        if enc is not None and flash_saved(enc) > 0:
            out.append((flash_saved(enc), pos, op, enc))
    out.sort(key=lambda t: (-t[0], t[1]))
    return [(saved, op, enc) for saved, _, op, enc in out]


def _mark(op: Operation, enc: Encoding | None, alignment: int) -> None:
    if enc is None:
        op.attrs.pop(ENCODED_ATTR, None)
        op.attrs.pop(DECODE_BYTES_ATTR, None)
    else:
        op.attrs[ENCODED_ATTR] = enc.kind
        op.attrs[DECODE_BYTES_ATTR] = align_up(enc.dense_bytes, alignment)


def choose_encodings(lowered: Module, plan, core, weights: str = "auto", ram_budget: int | None = None):
    """Mark the layers of ``lowered`` that store encoded weights; returns the (re-)planned arena.

    ``plan`` is the dense build's plan; see the module docstring for the policy.
    """
    from edgecc.analysis.memory import inplace_rule, plan_memory

    if weights not in WEIGHTS:
        raise EdgeccError(f"weights must be one of {', '.join(WEIGHTS)}, got '{weights}'")
    if weights == "dense":
        return plan
    cands = _candidates(plan, core.alignment)
    if not cands:
        return plan

    def replan():
        return plan_memory(lowered, alignment=core.alignment, rule_for=inplace_rule, scratch_for=c_scratch)

    if weights == "encoded":
        for _, op, enc in cands:
            _mark(op, enc, core.alignment)
        return replan()
    limit = max(plan.arena_size, ram_budget or 0)
    best = plan
    for _, op, enc in cands:
        _mark(op, enc, core.alignment)
        p = replan()
        if p.arena_size <= limit:
            best = p
        else:
            _mark(op, None, core.alignment)
    return best


__all__ = [
    "DECODE_BYTES_ATTR",
    "ENCODED_ATTR",
    "LUT_PARAM_BYTES",
    "WEIGHTS",
    "flash_saved",
    "c_scratch",
    "channel_axis",
    "choose_encodings",
    "encoding_of",
    "weight_operand",
]
