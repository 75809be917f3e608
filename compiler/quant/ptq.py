"""Post-training quantization of a float ``nn`` graph (the engine behind the ``quantize`` pass).

``quantize_module(module, config, calibration)`` rewrites ``module`` in place:

1. (``config.equalize``) cross-layer equalization of depthwise-separable
   blocks (``edgecc.quant.equalize``);
2. value ranges: one statistics pass of the float interpreter over the
   calibration set (``edgecc.quant.calibrate``) reduced by the chosen method
   (``edgecc.quant.observers``), overridden by ``quant.range`` attributes on
   ops and the module attribute ``quant.input_ranges`` (the only source when no
   data is given: hand-written IR and FileCheck tests);
3. a plan: which ops become integer ops (``QUANTIZABLE`` and the scheme), and
   the quantized type of every activation value. Values that TFLite requires
   to share parameters (the inputs and output of pools, concat, reshape,
   transpose, slice, pad, gather, split, resize, maximum/minimum) are merged
   into one class whose range is the union of its members'; softmax, sigmoid,
   tanh and log_softmax outputs get TFLite's fixed parameters; hard_swish's and
   hard_sigmoid's output ranges are computed from their input ranges;
4. a rewrite in program order: quantized ops get quantized operands (float
   producers get an ``nn.quantize``, values of another type an
   ``nn.requantize``), constant weights become per-channel symmetric quantized
   constants, biases int32 (int64 for int16x8) constants with scale
   ``input_scale * weight_scale[c]``; float ops reading quantized values get an
   ``nn.dequantize``. With ``io="float"`` graph inputs stay float and outputs are
   dequantized; with ``io="int"`` the function's arguments and results carry
   the quantized types (the model interface then holds scales and zero points).

The result ``QuantizeResult`` lists the ops quantized and kept float.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np

from edgecc.ir.attrs import DenseElements
from edgecc.ir.core import Module, Operation, Value
from edgecc.ir.diagnostics import UNKNOWN, EdgeccError
from edgecc.ir.types import FloatType, QuantizedType, TensorType
from edgecc.quant import schemes as S
from edgecc.quant.graph import WEIGHT_AXIS, WEIGHTED, constant_of, is_constant, stored_weights, weight_data
from edgecc.quant.observers import METHODS, Observer, choose_range

#: ops with an integer kernel (TFLite's int8 operator set, as far as nn has it)
QUANTIZABLE = frozenset({
    "nn.conv2d", "nn.depthwise_conv2d", "nn.fully_connected", "nn.matmul",
    "nn.add", "nn.sub", "nn.mul", "nn.maximum", "nn.minimum",
    "nn.relu", "nn.clamp", "nn.leaky_relu", "nn.prelu", "nn.hard_swish", "nn.hard_sigmoid", "nn.sigmoid",
    "nn.tanh",
    "nn.softmax", "nn.log_softmax",
    "nn.avg_pool2d", "nn.max_pool2d", "nn.mean", "nn.reduce_sum", "nn.reduce_max", "nn.reduce_min",
    "nn.reshape", "nn.transpose", "nn.concat", "nn.split", "nn.pad", "nn.slice", "nn.gather", "nn.resize",
    "nn.abs", "nn.neg", "nn.rsqrt", "nn.exp",
})
#: ops whose inputs and outputs share quantization parameters (TFLite's "same scale" restriction)
SAME_SCALE = frozenset({"nn.reshape", "nn.transpose", "nn.slice", "nn.pad", "nn.gather", "nn.split",
                        "nn.max_pool2d", "nn.avg_pool2d", "nn.concat", "nn.resize", "nn.maximum",
                        "nn.minimum", "nn.reduce_max", "nn.reduce_min"})
#: ops whose every operand is an activation to share parameters with the result
_ALL_OPERANDS_SHARE = frozenset({"nn.concat", "nn.maximum", "nn.minimum"})
#: nn.clamp bounds with a TFLite kernel that rescales (RELU; RELU6 in the writer as RELU + MINIMUM
#: when the parameters differ); any other clamp becomes MAXIMUM / MINIMUM, exact without a rescale
RESCALING_CLAMPS = frozenset({(0.0, math.inf), (0.0, 6.0)})


def shares_params(op: Operation) -> bool:
    """Whether ``op``'s result shares its quantization parameters with its (first) input:
    the ``SAME_SCALE`` ops, and ``nn.clamp`` with bounds other than [0, inf) and [0, 6] (TFLM has
    no RELU_N1_TO_1 / RELU_0_TO_1 kernel; with equal parameters the clamp is MAXIMUM / MINIMUM on
    the stored values, without a QUANTIZE)."""
    if op.name in SAME_SCALE:
        return True
    if op.name == "nn.clamp":
        bounds = (float(op.attr("min", -math.inf)), float(op.attr("max", math.inf)))
        return bounds not in RESCALING_CLAMPS
    return False
#: fused activation -> clamp range of the op's result
_ACT = {"none": (-math.inf, math.inf), "relu": (0.0, math.inf), "relu6": (0.0, 6.0),
        "relu_n1_to_1": (-1.0, 1.0)}

#: quantization plumbing, never reported as "kept float"
_PLUMBING = frozenset({"nn.quantize", "nn.dequantize", "nn.requantize", "nn.cast"})

RANGE_ATTR = "quant.range"
INPUT_RANGES_ATTR = "quant.input_ranges"


@dataclass
class QuantizeConfig:
    scheme: str = "int8"
    calibration: str = "minmax"
    percentile: float = 99.99
    per_channel: bool = True
    io: str = "float"
    bias_correction: bool = False
    equalize: bool = False
    #: op -> scheme name, overriding ``scheme`` for that op (mixed precision)
    overrides: dict[Operation, str] = field(default_factory=dict)
    #: quantize only these ops (sensitivity analysis); None: every quantizable op
    only: set[Operation] | None = None
    #: show calibration progress (None: when there are many samples and stderr is a TTY)
    progress: bool | None = None

    def check(self) -> None:
        if self.scheme not in S.SCHEMES:
            raise EdgeccError(f"unknown quantization scheme '{self.scheme}' (expected "
                              f"{', '.join(S.ALL_SCHEMES)})")
        if self.calibration not in METHODS:
            raise EdgeccError(f"unknown calibration method '{self.calibration}' "
                              f"(expected {', '.join(METHODS)})")
        if not 0 < self.percentile <= 100:
            raise EdgeccError(f"percentile must be in (0, 100], got {self.percentile}")
        if self.io not in ("float", "int"):
            raise EdgeccError(f"io must be 'float' or 'int', got '{self.io}'")
        for op, name in self.overrides.items():
            if name not in S.SCHEMES:
                raise EdgeccError(f"unknown scheme '{name}' for {op.name}")


@dataclass
class QuantizeResult:
    quantized: list[Operation] = field(default_factory=list)
    kept_float: list[Operation] = field(default_factory=list)
    inserted: dict[str, int] = field(
        default_factory=lambda: {"quantize": 0, "dequantize": 0, "requantize": 0})
    #: float value (before the rewrite) -> observer, for reports
    stats: dict[Value, Observer] = field(default_factory=dict)
    #: bias corrections applied, op -> correction vector
    bias_corrections: dict[Operation, np.ndarray] = field(default_factory=dict)
    equalized_pairs: int = 0

    def summary(self) -> str:
        kept = sorted({op.name for op in self.kept_float})
        text = f"{len(self.quantized)} ops quantized, {len(self.kept_float)} kept float"
        return text + (f" ({', '.join(kept)})" if kept else "")


# ---------------------------------------------------------------- helpers
class _UnionFind:
    def __init__(self) -> None:
        self.parent: dict[Value, Value] = {}

    def find(self, v: Value) -> Value:
        p = self.parent.get(v, v)
        if p is v:
            return v
        root = self.find(p)
        self.parent[v] = root
        return root

    def union(self, a: Value, b: Value) -> None:
        ra, rb = self.find(a), self.find(b)
        if ra is not rb:
            self.parent[rb] = ra


def is_float_tensor(v: Value) -> bool:
    return isinstance(v.type, TensorType) and isinstance(v.type.element, FloatType)


def is_quantized_type(t) -> bool:
    return isinstance(t, TensorType) and isinstance(t.element, QuantizedType)


def is_quantized(v: Value) -> bool:
    return isinstance(v.type, TensorType) and isinstance(v.type.element, QuantizedType)


def activation_operands(op: Operation) -> list[int]:
    """Indices of the operands that carry activations (or activation-like constants)."""
    if op.name in WEIGHTED:
        return [0]
    if op.name == "nn.gather":
        return [0]
    return list(range(len(op.operands)))


def integer_kernel(op_name: str, bits: int) -> bool:
    """Whether the integer interpreter runs ``op_name`` at ``bits``-bit activations with a TFLite
    kernel's semantics (``edgecc.interp.quantized.STATUS``: "tflm" or "tflite")."""
    try:
        from edgecc.interp.quantized import STATUS
    except ImportError:  # interpreter not available: trust the static list
        return True
    status = STATUS.get(op_name)
    if status is None:
        return False
    return status[0 if bits == 8 else 1] in ("tflm", "tflite")


def _hard_swish_range(lo: float, hi: float) -> tuple[float, float]:
    def hs(x):
        return x * min(max(x + 3.0, 0.0), 6.0) / 6.0
    vals = [hs(lo), hs(hi)]
    if lo <= -1.5 <= hi:
        vals.append(-0.375)
    return min(vals), max(vals)


def _hard_sigmoid_range(op: Operation, lo: float, hi: float) -> tuple[float, float]:
    a, b = float(op.attr("alpha", 0.2)), float(op.attr("beta", 0.5))
    vals = [min(max(a * v + b, 0.0), 1.0) for v in (lo, hi)]
    return min(vals), max(vals)


def _attr_ranges(module: Module) -> dict[Value, tuple[float, float]]:
    out: dict[Value, tuple[float, float]] = {}
    inputs = module.attrs.get(INPUT_RANGES_ATTR)
    if inputs is not None:
        args = module.func.arguments
        if len(inputs) != len(args) or not all(isinstance(r, tuple) and len(r) == 2 for r in inputs):
            raise EdgeccError(f"module attribute {INPUT_RANGES_ATTR} must list one [min, max] per argument "
                              f"({len(args)})")
        for a, (lo, hi) in zip(args, inputs):
            out[a] = (float(lo), float(hi))
    for op in module.func.body:
        r = op.attrs.get(RANGE_ATTR)
        if r is None:
            continue
        per = [r] if len(r) == 2 and not isinstance(r[0], tuple) else list(r)
        if len(per) != len(op.results) or not all(len(x) == 2 for x in per):
            raise op.error(f"attribute {RANGE_ATTR} must be [min, max] (or one per result)")
        for res, (lo, hi) in zip(op.results, per):
            if not (float(lo) <= float(hi)):
                raise op.error(f"attribute {RANGE_ATTR} has min {lo} > max {hi}")
            out[res] = (float(lo), float(hi))
    return out


def strip_range_attrs(module: Module) -> None:
    module.attrs.pop(INPUT_RANGES_ATTR, None)
    for op in module.func.body:
        op.attrs.pop(RANGE_ATTR, None)


def has_qdq(module: Module) -> bool:
    """Whether activations are already quantized (QDQ ``nn.quantize`` ops or integer inputs).

    Weight-only quantization (``nn.dequantize`` of constants: hybrid models,
    ``dynamic-int8``) does not count: such a graph is still calibrated."""
    if any(is_quantized(a) for a in module.func.arguments):
        return True
    return any(op.name in ("nn.quantize", "nn.requantize") for op in module.func.body)


# ------------------------------------------------------------------ planner
class _Planner:
    def __init__(self, module: Module, config: QuantizeConfig, stats: dict[Value, Observer],
                 attr_ranges: dict[Value, tuple[float, float]]) -> None:
        self.module = module
        self.cfg = config
        self.scheme = S.SCHEMES[config.scheme]
        self.stats = stats
        self.attr_ranges = attr_ranges
        self.uf = _UnionFind()
        self.op_scheme: dict[Operation, S.Scheme] = {}
        self.value_scheme: dict[Value, S.Scheme] = {}
        self.fixed: dict[Value, QuantizedType] = {}
        self._range_cache: dict[tuple[Value, str], tuple[float, float] | None] = {}
        self.kept_float: list[Operation] = []
        self.reasons: dict[Operation, str] = {}

    # ---- ranges
    def raw_range(self, v: Value, scheme: S.Scheme) -> tuple[float, float] | None:
        key = (v, scheme.name)
        if key in self._range_cache:
            return self._range_cache[key]
        r = self._compute_range(v, scheme)
        self._range_cache[key] = r
        return r

    def _compute_range(self, v: Value, scheme: S.Scheme) -> tuple[float, float] | None:
        if v in self.attr_ranges:
            return self.attr_ranges[v]
        data = constant_of(v)
        if data is not None:
            d = np.asarray(data, dtype=np.float64)
            return (float(d.min()), float(d.max())) if d.size else (0.0, 0.0)
        op = v.defining_op()
        fixed = S.fixed_output_type(op.name, scheme) if op is not None else None
        if fixed is not None and op.name in QUANTIZABLE:
            s, z = fixed.scales[0], fixed.zero_points[0]
            return (fixed.qmin - z) * s, (fixed.qmax - z) * s
        if op is not None and op.name == "nn.hard_swish":
            r = self.raw_range(op.operands[0], scheme)
            return _hard_swish_range(*r) if r is not None else None
        if op is not None and op.name == "nn.hard_sigmoid":
            r = self.raw_range(op.operands[0], scheme)
            return _hard_sigmoid_range(op, *r) if r is not None else None
        obs = self.stats.get(v)
        if obs is not None and obs.seen:
            r = choose_range(obs, self.cfg.calibration, percentile=self.cfg.percentile,
                             levels=scheme.levels, symmetric=scheme.symmetric_activations)
        elif op is not None and shares_params(op):
            # data movement keeps the range; concat/maximum/minimum stay within their inputs' union
            idx = activation_operands(op) if op.name in _ALL_OPERANDS_SHARE else [0]
            parts = [self.raw_range(op.operands[i], scheme) for i in idx]
            if any(p is None for p in parts):
                return None
            r = (min(p[0] for p in parts), max(p[1] for p in parts))
        else:
            return None
        if r is not None and op is not None:
            lo, hi = _ACT.get(op.attr("activation", "none") or "none", _ACT["none"])
            r = (max(r[0], lo), min(r[1], hi))
            if r[0] > r[1]:
                r = (lo if math.isfinite(lo) else r[1], lo if math.isfinite(lo) else r[1])
        return r

    # ---- which ops
    def decide(self) -> None:
        only = self.cfg.only
        for op in self.module.func.body:
            if op.name in ("builtin.constant", "func.return", "state.read", "state.write"):
                continue
            reason = self._why_not(op)
            if reason is None and only is not None and op not in only:
                reason = "not selected"
            if reason is None:
                self.op_scheme[op] = S.SCHEMES[self.cfg.overrides.get(op, self.cfg.scheme)]
            else:
                if reason != "not selected" and op.name not in _PLUMBING and \
                        any(is_float_tensor(r) for r in op.results):
                    self.kept_float.append(op)
                self.reasons[op] = reason

    def _why_not(self, op: Operation) -> str | None:
        if op.name not in QUANTIZABLE:
            return "no integer kernel"
        if not op.results or not all(is_float_tensor(r) for r in op.results):
            return "not a float op"
        scheme = S.SCHEMES[self.cfg.overrides.get(op, self.cfg.scheme)]
        if not integer_kernel(op.name, scheme.activation.bits):
            return f"no {scheme.activation.bits}-bit TFLite kernel"
        if op.name == "nn.hard_sigmoid" and not float(op.attr("alpha", 0.2)) > 0.0:
            return "alpha <= 0 has no integer form"
        if op.name in WEIGHTED:
            if weight_data(op.operands[1]) is None:
                return "weights are not constant"
            if len(op.operands) > 2 and weight_data(op.operands[2]) is None:
                return "bias is not constant"
        for i in activation_operands(op):
            v = op.operands[i]
            if not isinstance(v.type, TensorType):
                return "non-tensor operand"
            if is_quantized(v) or is_constant(v):
                continue
            if not is_float_tensor(v):
                return f"operand {i} is {v.type.element}"
            if self.raw_range(v, scheme) is None:
                return f"no range for operand {i}"
        if S.fixed_output_type(op.name, scheme) is None:
            for r in op.results:
                if self.raw_range(r, scheme) is None:
                    return "no range for its result"
        return None

    # ---- classes
    def build_classes(self) -> None:
        for op, scheme in self.op_scheme.items():
            for r in op.results:
                self.value_scheme[r] = scheme
                fixed = S.fixed_output_type(op.name, scheme)
                if fixed is not None:
                    self.fixed[r] = fixed
        self.class_fixed: dict[Value, QuantizedType] = dict(self.fixed)
        for op, scheme in self.op_scheme.items():
            if not shares_params(op):
                continue
            idx = activation_operands(op) if op.name in _ALL_OPERANDS_SHARE else [0]
            for i in idx:
                v = op.operands[i]
                if self.scheme_of(v) is not scheme:
                    continue
                for r in op.results:
                    self._union(v, r, op.name not in _ALL_OPERANDS_SHARE)

    def union_states(self) -> None:
        """A persistent state is one tensor: its reads and the value written share one type."""
        by_state: dict[str, list[Value]] = {}
        for op in self.module.func.body:
            if op.name == "state.read":
                by_state.setdefault(op.attrs["state"], []).append(op.results[0])
            elif op.name == "state.write":
                by_state.setdefault(op.attrs["state"], []).append(op.operands[0])
        for vs in by_state.values():
            vs = [v for v in vs if is_float_tensor(v)]
            for v in vs[1:]:
                self._union(vs[0], v, True)

    def scheme_of(self, v: Value) -> S.Scheme:
        s = self.value_scheme.get(v)
        if s is not None:
            return s
        if is_constant(v):
            users = [u.op for u in v.uses if u.op in self.op_scheme]
            return self.op_scheme[users[0]] if users else self.scheme
        return self.scheme

    def _union(self, a: Value, b: Value, single: bool) -> None:
        ra, rb = self.uf.find(a), self.uf.find(b)
        if ra is rb:
            return
        fa, fb = self.class_fixed.get(ra), self.class_fixed.get(rb)
        if fa is not None or fb is not None:
            # a fixed output type (softmax, tanh ...) passes through single-input data movement
            # and pools, but never widens to a concat/maximum/minimum class: a requantize joins it
            if not single or (fa is not None and fb is not None):
                return
        self.uf.union(ra, rb)
        if fa is None and fb is not None:
            self.class_fixed[ra] = fb

    def assign_types(self) -> dict[Value, QuantizedType]:
        members: dict[Value, list[Value]] = {}
        values: list[Value] = list(self.module.func.arguments)
        for op in self.module.func.body:
            values.extend(op.results)
            values.extend(v for v in op.operands if is_constant(v))
        seen: set[Value] = set()
        for v in values:
            if v in seen or not is_float_tensor(v):
                continue
            seen.add(v)
            members.setdefault(self.uf.find(v), []).append(v)
        planned: dict[Value, QuantizedType] = {}
        for root, vs in members.items():
            fixed = next((self.fixed[v] for v in vs if v in self.fixed), None)
            if fixed is not None:
                t = fixed
            else:
                scheme = self.scheme_of(root)
                lo, hi, known = 0.0, 0.0, False
                for v in vs:
                    r = self.raw_range(v, scheme)
                    if r is None:
                        continue
                    known = True
                    lo, hi = min(lo, r[0]), max(hi, r[1])
                if not known:
                    continue
                t = S.activation_type(lo, hi, scheme)
            for v in vs:
                planned[v] = t
        return planned


# ------------------------------------------------------------------ rewrite
class _Rewriter:
    def __init__(self, module: Module, planner: _Planner, result: QuantizeResult) -> None:
        self.module = module
        self.p = planner
        self.cfg = planner.cfg
        self.planned = planner.assign_types()
        self.result = result
        self.q_cache: dict[tuple[Value, QuantizedType], Value] = {}
        self.dq_cache: dict[Value, Value] = {}
        #: (float source, type, integers) -> the quantized constant already made from them
        self.const_cache: dict[tuple, Value] = {}
        self.old_constants: set[Operation] = set()

    # -- insertion helpers
    def _insert_before(self, anchor: Operation, cls, *operands, result_types, name=None) -> Value:
        src = operands[0].defining_op()  # the value's producer names the conversion best
        loc = src.loc if src is not None and src.loc != UNKNOWN else anchor.loc
        op = cls.build(*operands, result_types=result_types, loc=loc, result_names=[name])
        anchor.parent.insert_before(anchor, op)
        return op.result

    def quantized(self, v: Value, want: QuantizedType, anchor: Operation) -> Value:
        """``v`` as a value of element ``want`` (inserting quantize/requantize before ``anchor``)."""
        from edgecc.dialects import nn

        if is_quantized(v) and v.type.element == want:
            return v
        key = (v, want)
        hit = self.q_cache.get(key)
        if hit is not None:
            return hit
        t = TensorType(v.type.shape, want)
        hint = (v.name_hint + "_q") if v.name_hint else None
        if is_quantized(v):
            out = self._insert_before(anchor, nn.RequantizeOp, v, result_types=[t], name=hint)
            self.result.inserted["requantize"] += 1
        else:
            data = constant_of(v)
            if data is not None:
                out = self._constant_before(anchor, S.quantize_array(data, want), t, v)
            else:
                out = self._insert_before(anchor, nn.QuantizeOp, v, result_types=[t], name=hint)
                self.result.inserted["quantize"] += 1
        self.q_cache[key] = out
        return out

    def dequantized(self, v: Value, anchor: Operation) -> Value:
        from edgecc.dialects import nn

        hit = self.dq_cache.get(v)
        if hit is not None:
            return hit
        e = v.type.element
        hint = (v.name_hint + "_dq") if v.name_hint else None
        out = self._insert_before(anchor, nn.DequantizeOp, v,
                                  result_types=[TensorType(v.type.shape, e.expressed)], name=hint)
        self.result.inserted["dequantize"] += 1
        self.dq_cache[v] = out
        return out

    def _constant_before(self, anchor: Operation, data: np.ndarray, t: TensorType, like: Value) -> Value:
        """A constant of ``data`` quantized from ``like``, shared by every op that quantizes it the same
        way: a weight used by many ops (the recurrent weights of an unrolled GRU/LSTM, one per time
        step) stays one array in flash instead of one copy per use."""
        from edgecc.dialects.builtin import ConstantOp

        key = (like, t, data.dtype.str, data.tobytes())
        hit = self.const_cache.get(key)
        if hit is not None:
            return hit
        src = like.defining_op()
        if src is not None and src.name in ("builtin.constant", "nn.dequantize"):
            self.old_constants.add(src)
        name = like.name_hint
        if src is not None and src.name == "nn.dequantize":
            name = src.operands[0].name_hint or name
        dense = DenseElements(data, t)
        op = ConstantOp.from_array(dense, loc=src.loc if src is not None else anchor.loc, name=name)
        anchor.parent.insert_before(anchor, op)
        self.const_cache[key] = op.result
        return op.result

    def wanted_input(self, v: Value, scheme: S.Scheme) -> QuantizedType:
        """The type an activation operand is given for an op quantized with ``scheme``."""
        if is_quantized(v) and v.type.element.storage == scheme.activation and not v.type.element.per_axis:
            return v.type.element
        t = self.planned.get(v)
        if t is not None and t.storage == scheme.activation:
            return t
        r = self.p.raw_range(v, scheme)
        if r is None:
            if is_quantized(v):
                e = v.type.element
                lo, hi = (e.qmin - e.zero_points[0]) * e.scales[0], (e.qmax - e.zero_points[0]) * e.scales[0]
                return S.activation_type(lo, hi, scheme)
            raise EdgeccError(f"no range known for an input of a quantized op ({v.type})")
        return S.activation_type(r[0], r[1], scheme)

    # -- the walk
    def run(self) -> None:
        func = self.module.func
        if self.cfg.io == "int":
            for a in func.arguments:
                if not is_float_tensor(a):
                    continue
                t = self.planned.get(a)
                if t is None:
                    r = self.p.raw_range(a, self.p.scheme)
                    if r is None:
                        raise EdgeccError(f"no range known for input '{a.name_hint}' "
                                          f"(give calibration data or {INPUT_RANGES_ATTR})")
                    t = S.activation_type(r[0], r[1], self.p.scheme)
                a.type = TensorType(a.type.shape, t)
        for op in list(func.body):
            if op.name == "func.return":
                self._return(op)
            elif op.name in ("state.read", "state.write"):
                self._state_op(op)
            elif op in self.p.op_scheme:
                self._quantize_op(op, self.p.op_scheme[op])
                self.result.quantized.append(op)
            elif op.name != "builtin.constant":
                for i, v in enumerate(op.operands):
                    if is_quantized(v) and not self._accepts_quantized(op, i):
                        op.set_operand(i, self.dequantized(v, op))
        for c in self.old_constants:
            if c.parent is not None and not any(r.uses for r in c.results):
                inner = c.operands[0].defining_op() if c.operands else None
                c.erase()
                if inner is not None and inner.parent is not None and not inner.result.uses:
                    inner.erase()

    def _state_op(self, op: Operation) -> None:
        """Retype a state (declaration, reads) to its planned type; quantize the value written."""
        decl = self.module.states[op.attrs["state"]]
        v = op.results[0] if op.name == "state.read" else op.operands[0]
        if isinstance(decl.type.element, FloatType):
            t = self.planned.get(v)
            if t is None:
                return
            qt = TensorType(decl.type.shape, t)
            decl.init = DenseElements(S.quantize_array(decl.init.array, t), qt)
            decl.type = qt
        if not is_quantized_type(decl.type):
            return
        if op.name == "state.read":
            op.results[0].type = decl.type
        else:
            op.set_operand(0, self.quantized(v, decl.type.element, op))

    @staticmethod
    def _accepts_quantized(op: Operation, i: int) -> bool:
        """Ops left as they are that already take quantized operands (QDQ leftovers)."""
        return op.name in ("nn.dequantize", "nn.requantize")

    def _return(self, op: Operation) -> None:
        for i, v in enumerate(op.operands):
            if self.cfg.io == "float":
                if is_quantized(v):
                    op.set_operand(i, self.dequantized(v, op))
            elif is_float_tensor(v):
                t = self.planned.get(v)
                if t is None:
                    r = self.p.raw_range(v, self.p.scheme)
                    if r is None:
                        raise EdgeccError("no range known for a model output; "
                                          "cannot make it an integer output")
                    t = S.activation_type(r[0], r[1], self.p.scheme)
                op.set_operand(i, self.quantized(v, t, op))

    def _quantize_op(self, op: Operation, scheme: S.Scheme) -> None:
        outs = [self.planned.get(r) for r in op.results]
        for r, t in zip(op.results, outs):
            if t is None:
                raise op.error("has no range for its result; give calibration data or a "
                               "quant.range attribute")
        if shares_params(op):
            idx = activation_operands(op) if op.name in _ALL_OPERANDS_SHARE else [0]
            for i in idx:
                op.set_operand(i, self.quantized(op.operands[i], outs[0], op))
        else:
            for i in activation_operands(op):
                v = op.operands[i]
                if is_constant(v) and not is_quantized(v):
                    want = self.planned.get(v) or self.wanted_input(v, scheme)
                    if want.storage != scheme.activation:
                        want = self.wanted_input(v, scheme)
                else:
                    want = self.wanted_input(v, scheme)
                op.set_operand(i, self.quantized(v, want, op))
        if op.name in WEIGHTED:
            self._weights(op, scheme)
        for r, t in zip(op.results, outs):
            r.type = TensorType(r.type.shape, t)

    def _weights(self, op: Operation, scheme: S.Scheme) -> None:
        x_scale = op.operands[0].type.element.scale
        w_val = op.operands[1]
        w = np.asarray(weight_data(w_val), dtype=np.float64)
        axis = WEIGHT_AXIS[op.name] if self.cfg.per_channel else None
        qmax = scheme.weight_qmax
        scales = S.weight_scales(w, axis, qmax)
        kept = self._kept_weights(w_val, axis, scheme)
        if kept is not None:  # already quantized (hybrid model): keep its scales and integers
            scales = np.asarray(kept[1].scales, dtype=np.float64)
        b_val = op.operands[2] if len(op.operands) > 2 else None
        b = None if b_val is None else np.asarray(weight_data(b_val), dtype=np.float64)
        if b is not None:
            need = S.bias_safe_scales(b, x_scale, scales if axis is not None else np.full(len(b), scales[0]),
                                      scheme.bias)
            if axis is None:
                scales = np.array([max(scales[0], float(need.max()))])
            else:
                scales = need
        if kept is not None and np.array_equal(scales, np.asarray(kept[1].scales, dtype=np.float64)):
            qw, wtype = np.asarray(kept[0], dtype=np.int64), kept[1]
        else:
            qw = S.quantize_weights(w, scales, axis, scheme.weight_qmin, scheme.weight_qmax)
            wtype = S.weight_type(scales, axis, scheme)
        if self.cfg.bias_correction:
            corr = self._bias_correction(op, w, qw, scales, axis)
            if corr is not None:
                b = (b if b is not None else np.zeros(len(corr))) - corr
                self.result.bias_corrections[op] = corr
        wq = self._constant_before(op, qw.astype(wtype.storage.numpy), TensorType(w.shape, wtype), w_val)
        op.set_operand(1, wq)
        if b is not None:
            per_c = scales if axis is not None else np.full(len(b), scales[0])
            qb = S.quantize_bias(b, x_scale, per_c, scheme.bias)
            bt = TensorType((len(b),), scheme.bias)
            like = b_val if b_val is not None else w_val
            bq = self._constant_before(op, qb, bt, like)
            if b_val is None:
                bq.defining_op().results[0].name_hint = (w_val.name_hint or "w") + "_bias"
                op.set_operands(list(op.operands) + [bq])
            else:
                op.set_operand(2, bq)

    @staticmethod
    def _kept_weights(w_val: Value, axis: int | None, scheme: S.Scheme):
        """The stored weights of ``dequantize(const)`` when they already fit the scheme."""
        got = stored_weights(w_val)
        if got is None:
            return None
        data, e = got
        if e.storage != scheme.weight or any(e.zero_points) or e.axis != axis:
            return None
        if data.size and (int(np.min(data)) < scheme.weight_qmin or int(np.max(data)) > scheme.weight_qmax):
            return None
        if axis is None and len(e.scales) != 1:
            return None
        return data, S.weight_type(np.asarray(e.scales), axis, scheme)

    def _bias_correction(self, op: Operation, w: np.ndarray, qw: np.ndarray, scales: np.ndarray,
                         axis: int | None) -> np.ndarray | None:
        x = self.p.origin_input.get(op)
        obs = self.p.stats.get(x) if x is not None else None
        mean = obs.channel_mean if obs is not None else None
        if mean is None:
            return None
        if axis is None:
            deq = qw * scales[0]
        else:
            shape = [1] * w.ndim
            shape[axis] = -1
            deq = qw * scales.reshape(shape)
        delta = deq - w
        return expected_output_shift(op, delta, mean)


def expected_output_shift(op: Operation, delta_w: np.ndarray, mean_in: np.ndarray) -> np.ndarray:
    """E[delta_w * x] per output channel given the per-channel input mean (padding ignored)."""
    if op.name == "nn.fully_connected":
        return delta_w @ mean_in
    if op.name == "nn.depthwise_conv2d":
        m = op.attr("depth_multiplier", 1)
        per_c = delta_w.sum(axis=(0, 1, 2))
        return per_c * np.repeat(mean_in, m)
    cout, _, _, cin_g = delta_w.shape
    groups = op.attr("groups", 1)
    per = delta_w.sum(axis=(1, 2))  # [cout, cin_g]
    out = np.empty(cout)
    cpg = cout // groups
    for c in range(cout):
        g = c // cpg
        out[c] = per[c] @ mean_in[g * cin_g:(g + 1) * cin_g]
    return out


# ------------------------------------------------------------------ driver
def quantize_module(module: Module, config: QuantizeConfig | None = None, calibration=None, *,
                    stats: dict[Value, Observer] | None = None, log=None) -> QuantizeResult:
    """Quantize ``module`` in place (see the module docstring).

    ``calibration``: any source ``edgecc.quant.calibrate.load_calibration``
    accepts (None: ranges from ``quant.range`` attributes only). ``stats``:
    observers from an earlier ``collect_statistics`` on this very module
    (skips calibration; used by sensitivity analysis).
    """
    config = config or QuantizeConfig()
    config.check()
    result = QuantizeResult()
    if config.equalize:
        from edgecc.quant.equalize import equalize_module

        result.equalized_pairs = equalize_module(module)
    attr_ranges = _attr_ranges(module)
    origin_input = {op: op.operands[0] for op in module.func.body if op.name in WEIGHTED}
    if stats is None:
        stats = {}
        if calibration is not None:
            from edgecc.quant.calibrate import collect_statistics, load_calibration

            samples = load_calibration(calibration, module)
            stats = collect_statistics(module, samples, channel_values=origin_input.values(),
                                       progress=config.progress)
        elif not attr_ranges:
            raise EdgeccError("quantize needs calibration data: pass calib=FILE.npz|DIR, put samples in "
                              "the pass context option 'calibration', or annotate ranges with quant.range "
                              "attributes")
    result.stats = stats
    planner = _Planner(module, config, stats, attr_ranges)
    planner.origin_input = origin_input
    planner.decide()
    planner.build_classes()
    planner.union_states()
    result.kept_float = list(planner.kept_float)
    _Rewriter(module, planner, result).run()
    strip_range_attrs(module)
    if log is not None:
        for op in planner.kept_float:
            log(f"kept float: {op.name} at {op.loc.describe()} ({planner.reasons.get(op)})")
    return result


__all__ = ["QUANTIZABLE", "RESCALING_CLAMPS", "SAME_SCALE", "QuantizeConfig", "QuantizeResult",
           "expected_output_shift", "has_qdq", "quantize_module", "shares_params"]
