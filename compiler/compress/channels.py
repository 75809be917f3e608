"""Channel groups: which output channels can leave the graph together, and their removal.

Every output channel of a float conv2d / fully_connected with constant
weights is a *slot*. A tag array (the value's shape, one slot id per element,
-1 for "not removable") follows the slots through the graph: unchanged by
elementwise unary ops, spatial ops (pools, pads of H/W, resize, depthwise
convs with multiplier 1, means over H/W), reshapes, transposes and concats
(the same numpy op applied to the tags). Binary elementwise ops (residual
adds, squeeze-excite multiplies) *couple* the slots meeting at each element:
a union-find merges them into one *class*, removed all together. Any other
use (graph outputs, softmax, slices, grouped convs, ...) freezes the slots it
sees. Consumers (conv2d / fully_connected reading tagged values) lose the
matching input channels; a class is removed from every value it appears in.

``analyze(module)`` returns the ``ChannelGraph``; ``remove(module, graph,
removed)`` rewrites the module with those classes gone (new constants, new
ops with re-inferred types) and returns the old -> new op map.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from edgecc.ir.core import Module, Operation, Value
from edgecc.ir.diagnostics import EdgeccError
from edgecc.ir.types import TensorType
from edgecc.rewrite.pattern import constant_array

#: ops whose output channels are slots (float, constant weight and bias)
SOURCES = frozenset({"nn.conv2d", "nn.fully_connected"})
#: ops whose input channels follow the slots of their input (the weight's input axis is sliced)
CONSUMERS = SOURCES
_UNARY = frozenset({"nn.relu", "nn.clamp", "nn.sigmoid", "nn.tanh", "nn.hard_swish", "nn.hard_sigmoid",
                    "nn.leaky_relu", "nn.exp", "nn.log", "nn.sqrt", "nn.rsqrt", "nn.abs", "nn.neg",
                    "nn.erf", "nn.cast"})
_SPATIAL = frozenset({"nn.avg_pool2d", "nn.max_pool2d", "nn.resize"})
_BINARY = frozenset({"nn.add", "nn.sub", "nn.mul", "nn.div", "nn.maximum", "nn.minimum", "nn.prelu"})
_REDUCE = frozenset({"nn.mean", "nn.reduce_sum", "nn.reduce_max", "nn.reduce_min"})


class _UnionFind:
    def __init__(self) -> None:
        self.parent: list[int] = [0]  # slot 0 is FROZEN

    def add(self, n: int) -> np.ndarray:
        start = len(self.parent)
        self.parent.extend(range(start, start + n))
        return np.arange(start, start + n)

    def find(self, a: int) -> int:
        p = self.parent
        while p[a] != a:
            p[a] = p[p[a]]
            a = p[a]
        return a

    def union(self, a: int, b: int) -> None:
        ra, rb = self.find(a), self.find(b)
        if ra != rb:  # the smaller root wins, so FROZEN (0) always stays a root
            self.parent[max(ra, rb)] = min(ra, rb)


FROZEN = 0


@dataclass
class ChannelGraph:
    """Slots, their classes, and where they occur."""

    uf: _UnionFind
    #: source op -> slot id of each output channel
    slots: dict[Operation, np.ndarray] = field(default_factory=dict)
    #: value -> tag array (value shape; 0 = frozen element)
    tags: dict[Value, np.ndarray] = field(default_factory=dict)
    #: consumer op -> slot id of each input channel (last axis of its input; conv: Cin)
    consumed: dict[Operation, np.ndarray] = field(default_factory=dict)

    def cls(self, slot: int) -> int:
        return self.uf.find(int(slot))

    def classes(self) -> dict[int, list[tuple[Operation, int]]]:
        """Removable class -> its (source, output channel) members, in graph order."""
        out: dict[int, list[tuple[Operation, int]]] = {}
        for op, ids in self.slots.items():
            for ch, s in enumerate(ids):
                c = self.cls(s)
                if c != FROZEN:
                    out.setdefault(c, []).append((op, ch))
        return out

    def groups(self) -> list[list[int]]:
        """Classes grouped by coupled sources (a plain layer, or all layers of a residual chain)."""
        classes = self.classes()
        owner: dict[Operation, Operation] = {op: op for op in self.slots}

        def root(op):
            while owner[op] is not op:
                op = owner[op]
            return op

        for members in classes.values():
            first = root(members[0][0])
            for op, _ in members[1:]:
                r = root(op)
                if r is not first:
                    owner[r] = first
        by_root: dict[Operation, list[int]] = {}
        for c, members in classes.items():
            by_root.setdefault(root(members[0][0]), []).append(c)
        order = {op: i for i, op in enumerate(self.slots)}
        return [sorted(cs) for _, cs in sorted(by_root.items(), key=lambda kv: order[kv[0]])]

    def keep_mask(self, tag: np.ndarray, removed: set[int]) -> np.ndarray:
        if not removed:
            return np.ones(tag.shape, bool)
        lut = {s: self.cls(s) not in removed for s in np.unique(tag)}
        return np.vectorize(lut.__getitem__, otypes=[bool])(tag) if tag.size else np.ones(tag.shape, bool)


def _float_tensor(v: Value) -> bool:
    return isinstance(v.type, TensorType) and v.type.is_float


def _is_source(op: Operation) -> bool:
    if op.name not in SOURCES or not _float_tensor(op.results[0]):
        return False
    if op.name == "nn.conv2d" and op.attr("groups", 1) != 1:
        return False
    return constant_array(op.operands[1]) is not None and (
        len(op.operands) < 3 or constant_array(op.operands[2]) is not None)


def _channel_vector(g: ChannelGraph, tag: np.ndarray) -> np.ndarray | None:
    """The tag's slots along the last axis, if they are the same along every other axis."""
    flat = tag.reshape(-1, tag.shape[-1])
    if (flat == flat[:1]).all():
        return flat[0].copy()
    return None


def _freeze(g: ChannelGraph, tag: np.ndarray | None) -> None:
    if tag is not None:
        for s in np.unique(tag):
            g.uf.union(FROZEN, int(s))


def analyze(module: Module) -> ChannelGraph:
    """Slots, classes and tags of ``module`` (a float nn graph)."""
    g = ChannelGraph(_UnionFind())
    tags = g.tags
    for op in module.ops:
        ins = [tags.get(v) for v in op.operands]
        out = _propagate(g, op, ins)
        if out is not None:
            tags[op.results[0]] = out
    return g


def _propagate(g: ChannelGraph, op: Operation, ins: list) -> np.ndarray | None:
    name = op.name
    if name == "builtin.constant":
        return None
    x = ins[0] if ins else None
    if name in CONSUMERS and _is_source(op):
        if x is not None:
            vec = _channel_vector(g, x)
            if vec is None:
                _freeze(g, x)
            else:
                g.consumed[op] = vec
        shape = op.results[0].type.shape
        ids = g.uf.add(shape[-1])
        g.slots[op] = ids
        return np.broadcast_to(ids, shape).copy()
    if all(t is None for t in ins):
        return None
    shape = op.results[0].type.shape if op.results else ()
    if name in _UNARY and op.results[0].type.shape == op.operands[0].type.shape:
        return x
    if name in _SPATIAL or (name == "nn.depthwise_conv2d" and _depthwise_ok(op)) or (
            name == "nn.pad" and _pad_keeps_channels(op)) or (name in _REDUCE and _reduces_spatial(op)):
        if any(t is not None for t in ins[1:]):
            for t in ins:
                _freeze(g, t)
            return None
        vec = _channel_vector(g, x)
        if vec is None:
            _freeze(g, x)
            return None
        return np.broadcast_to(vec, shape).copy()
    if name in _BINARY:
        return _binary(g, op, ins, shape)
    if name == "nn.concat":
        axis = op.attr("axis") % len(shape)
        parts = [t if t is not None else np.zeros(v.type.shape, np.int64) for t, v in zip(ins, op.operands)]
        return np.concatenate(parts, axis=axis)
    if name == "nn.reshape":
        return x.reshape(shape)
    if name == "nn.transpose":
        return np.transpose(x, op.attr("perm"))
    for t in ins:  # any other use (outputs, softmax, slices, matmul, ...) keeps every channel it sees
        _freeze(g, t)
    return None


def _depthwise_ok(op: Operation) -> bool:
    return (op.attr("depth_multiplier", 1) == 1 and _float_tensor(op.results[0])
            and constant_array(op.operands[1]) is not None
            and (len(op.operands) < 3 or constant_array(op.operands[2]) is not None))


def _pad_keeps_channels(op: Operation) -> bool:
    pads, r = op.attr("pads"), op.operands[0].type.rank
    return r >= 1 and pads[r - 1] == 0 and pads[2 * r - 1] == 0


def _reduces_spatial(op: Operation) -> bool:
    r = op.operands[0].type.rank
    axes = {a % r for a in op.attr("axes")}
    return (r - 1) not in axes and (op.attr("keepdims") or len(axes) == 0 or max(axes) < r - 1)


def _channel_constant(arr: np.ndarray, c: int) -> bool:
    """A constant that varies along the last axis only (sliced with the channels)."""
    return arr.ndim >= 1 and arr.shape[-1] == c and c > 1 and all(d == 1 for d in arr.shape[:-1])


def _binary(g: ChannelGraph, op: Operation, ins: list, shape) -> np.ndarray | None:
    tracked = []
    for t, v in zip(ins, op.operands):
        vshape = v.type.shape
        if t is None:
            arr = constant_array(v)
            if arr is not None and (arr.size == 1 or _channel_constant(arr, shape[-1])):
                continue  # scalar, or per-channel data sliced along with the channels
            if vshape and vshape[-1] == 1:
                continue  # broadcast along the channels: any subset still broadcasts
            tracked.append(None)
            continue
        if len(vshape) < len(shape) or (vshape and vshape[-1] == 1 and shape[-1] > 1):
            _freeze(g, t)  # broadcast across the channel axis (or a rank change): cannot follow
            tracked.append(None)
            continue
        tracked.append(np.broadcast_to(t, shape))
    if any(t is None for t in tracked):  # a non-removable operand fixes every channel it meets
        for t in ins:
            _freeze(g, t)
        return None
    if not tracked:
        return None
    out = tracked[0].copy()
    for t in tracked[1:]:
        pairs = np.unique(np.stack([out.reshape(-1), t.reshape(-1)], axis=1), axis=0)
        for a, b in pairs:
            g.uf.union(int(a), int(b))
    return out


# ------------------------------------------------------------------ removal
def _rect_shape(mask: np.ndarray) -> tuple[tuple[int, ...], list[np.ndarray]]:
    """(new shape, per-axis keep masks) of an element mask that removes whole slices."""
    axes = []
    for a in range(mask.ndim):
        other = tuple(i for i in range(mask.ndim) if i != a)
        axes.append(mask.any(axis=other) if other else mask.copy())
    outer = np.ones(mask.shape, bool)
    for a, m in enumerate(axes):
        outer &= m.reshape([-1 if i == a else 1 for i in range(mask.ndim)])
    if not np.array_equal(outer, mask):
        raise EdgeccError("prune: the removed channels do not form whole slices of a value")
    return tuple(int(m.sum()) for m in axes), axes


def remove(module: Module, g: ChannelGraph, removed: set[int]) -> dict[Operation, Operation]:
    """Rewrite ``module`` without the channel classes ``removed``; old op -> new op (changed ops only)."""
    from edgecc.dialects.builtin import ConstantOp

    if not removed:
        return {}
    keep = {v: g.keep_mask(t, removed) for v, t in g.tags.items()}
    renamed: dict[Operation, Operation] = {}
    before = {op: [v.type for v in op.operands] for op in module.ops}

    def sliced_const(v: Value, arr: np.ndarray, index) -> Value:
        new = ConstantOp.from_array(np.ascontiguousarray(arr[index]), v.type.element, loc=v.defining_op().loc,
                                    name=v.name_hint)
        module.func.body.insert_before(current, new)
        return new.result

    for current in list(module.ops):
        if current.name in ("builtin.constant", "func.return"):
            continue
        operands = list(current.operands)
        attrs = dict(current.attrs)
        changed = any(a.type != b for a, b in zip(operands, before[current]))
        out_keep = keep.get(current.results[0]) if current.results else None
        out_cut = out_keep is not None and not out_keep.all()
        name = current.name
        if current in g.slots and out_cut:
            ch = out_keep.reshape(-1, out_keep.shape[-1])[0]
            w = constant_array(operands[1])
            operands[1] = sliced_const(operands[1], w, (ch,))
            if len(operands) > 2:
                operands[2] = sliced_const(operands[2], constant_array(operands[2]), (ch,))
            changed = True
        if current in g.consumed:
            vec = g.consumed[current]
            kin = np.array([g.cls(s) not in removed for s in vec])
            if not kin.all():
                w = constant_array(operands[1])
                idx = (slice(None),) * (w.ndim - 1) + (kin,)
                operands[1] = sliced_const(operands[1], w, idx)
                changed = True
        if name == "nn.depthwise_conv2d" and out_cut:
            ch = out_keep.reshape(-1, out_keep.shape[-1])[0]
            w = constant_array(operands[1])
            operands[1] = sliced_const(operands[1], w, (slice(None),) * 3 + (ch,))
            if len(operands) > 2:
                operands[2] = sliced_const(operands[2], constant_array(operands[2]), (ch,))
            changed = True
        if name in _BINARY and out_cut:
            ch = out_keep.reshape(-1, out_keep.shape[-1])[0]
            for i, v in enumerate(operands):
                arr = constant_array(v)
                if arr is not None and _channel_constant(arr, len(ch)):
                    operands[i] = sliced_const(v, arr, (..., ch))
            changed = True
        if name == "nn.reshape" and out_cut:
            attrs["shape"] = _rect_shape(out_keep)[0]
            changed = True
        if not changed:
            continue
        hints = [r.name_hint for r in current.results]
        new = type(current).build(*operands, loc=current.loc, result_names=hints, **attrs)
        if out_keep is not None and new.results[0].type.shape != _rect_shape(out_keep)[0]:
            raise EdgeccError(f"prune: {name} would produce {list(new.results[0].type.shape)}, expected "
                              f"{list(_rect_shape(out_keep)[0])}")
        module.func.body.insert_before(current, new)
        for old_r, new_r in zip(current.results, new.results):
            old_r.replace_all_uses_with(new_r)
        current.erase()
        renamed[current] = new
    _erase_dead_constants(module)
    return renamed


def _erase_dead_constants(module: Module) -> None:
    for op in list(module.ops):
        if op.name == "builtin.constant" and not op.results[0].uses:
            op.erase()


__all__ = ["CONSUMERS", "FROZEN", "SOURCES", "ChannelGraph", "analyze", "remove"]
