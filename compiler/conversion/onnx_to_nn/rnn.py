"""LSTM and GRU, unrolled over a static sequence into primitive nn ops.

Per direction: one ``nn.fully_connected`` computes the input projection of
every time step at once (biases folded in), ``nn.split`` cuts it into steps;
each step adds the recurrent projection (``nn.fully_connected`` of the hidden
state), splits the gates and combines them with sigmoid/tanh/mul/add. The
outputs are stacked with ``nn.reshape`` + ``nn.concat``. Supported: forward,
reverse and bidirectional; default activations; no clip; sequence_lens
absent or all equal to the sequence length; layout 0 and 1.
"""

from __future__ import annotations

import numpy as np

from edgecc.conversion.onnx_to_nn.registry import Cx, WeightRef, converter
from edgecc.ir.core import Value
from edgecc.ir.types import FloatType

DIRECTIONS = {"forward": 1, "reverse": 1, "bidirectional": 2}


class _Rnn:
    """Shared plumbing: inputs per direction, time steps, output stacking."""

    def __init__(self, cx: Cx, x: Value, w, r, b, seq_lens, init_h, hidden_size, direction, layout,
                 activations, default_acts, clip, gates: int) -> None:
        self.cx = cx
        if not isinstance(x.type.element, FloatType):
            raise cx.fail(f"needs a float input, got {x.type.element}")
        if direction not in DIRECTIONS:
            raise cx.fail(f"direction '{direction}' is not supported")
        self.dirs = DIRECTIONS[direction]
        self.direction = direction
        if clip is not None:
            raise cx.fail("clip is not supported")
        if activations is not None and [a.lower() for a in activations] != [
                a.lower() for a in default_acts * self.dirs]:
            raise cx.fail(f"activations {list(activations)} are not supported (only the defaults "
                          f"{default_acts})")
        self.layout = layout
        self.x = x
        if layout == 0:
            self.T, self.B, _ = cx.shape(x)
        else:
            self.B, self.T, _ = cx.shape(x)
        self.dt = x.type.element
        self.H = hidden_size or cx.shape(r)[2]
        self.W = cx.weight_ref(w)
        self.R = cx.weight_ref(r)
        if self.W is None or self.R is None:
            raise cx.fail("W and R must be constants")
        bb = cx.value(b)
        if b is not None and bb is None:
            raise cx.fail("B must be a constant")
        self.Bias = bb.astype(np.float64) if bb is not None else np.zeros((self.dirs, 2 * gates * self.H))
        sl = cx.value(seq_lens)
        if seq_lens is not None and (sl is None or np.any(sl != self.T)):
            raise cx.fail("sequence_lens must be absent or all equal to the sequence length")
        self.init_h = init_h

    def dir_weight(self, ref: WeightRef, d: int, rows: slice | None = None) -> WeightRef:
        arr = ref.array[d]
        q = ref.qtype
        if q is not None and q.axis is not None:
            raise self.cx.fail("per-axis quantized recurrent weights are not supported")
        if rows is not None:
            arr = arr[rows]
        return WeightRef(arr, q)

    def initial(self, v: Value | None, d: int) -> Value | None:
        """Direction d's slice [B, H] of an initial state (None when absent or all zeros)."""
        cx = self.cx
        if v is None:
            return None
        a = cx.value(v)
        if a is not None:
            part = a[d] if self.layout == 0 else a[:, d]
            if not np.any(part):
                return None
            return cx.const(part.astype(self.dt.numpy), self.dt)
        shape = cx.shape(v)
        begin, end = [0, 0, 0], list(shape)
        ax = 0 if self.layout == 0 else 1
        begin[ax], end[ax] = d, d + 1
        s = cx.emit("nn.slice", v, begin=begin, end=end) if self.dirs > 1 else v
        return cx.reshape(s, (self.B, self.H))

    def input_steps(self, w: WeightRef, bias: np.ndarray) -> list[Value]:
        """Projection of the whole sequence, split into one [B, G*H] value per time step."""
        cx = self.cx
        proj = cx.emit("nn.fully_connected", self.x, cx.weight(w), cx.const(bias.astype(self.dt.numpy), self.dt))
        ax = 0 if self.layout == 0 else 1
        g = cx.shape(proj)[2]
        pieces = [proj] if self.T == 1 else list(
            cx.emit_op("nn.split", proj, axis=ax, sizes=[1] * self.T).results)
        return [cx.reshape(p, (self.B, g)) for p in pieces]

    def order(self, d: int) -> list[int]:
        rev = self.direction == "reverse" or (self.direction == "bidirectional" and d == 1)
        return list(range(self.T - 1, -1, -1)) if rev else list(range(self.T))

    def gates(self, v: Value, n: int) -> list[Value]:
        return list(self.cx.emit_op("nn.split", v, axis=1, sizes=[self.H] * n).results)

    def stack(self, per_dir: list[dict[int, Value]]) -> Value:
        """Y: [T, D, B, H] (layout 0) or [B, T, D, H] (layout 1)."""
        cx = self.cx
        cols = []
        for d in range(self.dirs):
            if self.layout == 0:
                steps = [cx.reshape(per_dir[d][t], (1, 1, self.B, self.H)) for t in range(self.T)]
            else:
                steps = [cx.reshape(per_dir[d][t], (self.B, 1, 1, self.H)) for t in range(self.T)]
            cols.append(steps[0] if len(steps) == 1 else cx.emit("nn.concat", steps, axis=0 if self.layout == 0 else 1))
        if len(cols) == 1:
            return cols[0]
        return cx.emit("nn.concat", cols, axis=1 if self.layout == 0 else 2)

    def last(self, finals: list[Value]) -> Value:
        """Y_h / Y_c: [D, B, H] (layout 0) or [B, D, H] (layout 1)."""
        cx = self.cx
        shape = (1, self.B, self.H) if self.layout == 0 else (self.B, 1, self.H)
        parts = [cx.reshape(f, shape) for f in finals]
        return parts[0] if len(parts) == 1 else cx.emit("nn.concat", parts, axis=0 if self.layout == 0 else 1)


@converter("LSTM", 11, doc="unrolled: fully_connected, split, sigmoid, tanh, mul, add, concat (single layer, "
                           "forward/reverse/bidirectional, default activations, peepholes)")
def lstm(cx: Cx, x, w, r, b=None, sequence_lens=None, initial_h=None, initial_c=None, p=None, *,
         activation_alpha=None, activation_beta=None, activations=None, clip=None, direction="forward",
         hidden_size=None, input_forget=0, layout=0):
    if input_forget:
        raise cx.fail("input_forget=1 is not supported")
    rn = _Rnn(cx, x, w, r, b, sequence_lens, initial_h, hidden_size, direction, layout, activations,
              ["Sigmoid", "Tanh", "Tanh"], clip, 4)
    H = rn.H
    peep = cx.value(p)
    if p is not None and peep is None:
        raise cx.fail("P (peepholes) must be a constant")
    ys, hs, cs = [], [], []
    for d in range(rn.dirs):
        bias = rn.Bias[d][:4 * H] + rn.Bias[d][4 * H:]
        xs = rn.input_steps(rn.dir_weight(rn.W, d), bias)
        rw = cx.weight(rn.dir_weight(rn.R, d))
        h = rn.initial(initial_h, d)
        c = rn.initial(initial_c, d)
        pv = None
        if peep is not None and np.any(peep[d]):
            pv = [cx.const(peep[d][k * H:(k + 1) * H].astype(rn.dt.numpy), rn.dt) for k in range(3)]
        out: dict[int, Value] = {}
        for t in rn.order(d):
            g = xs[t]
            if h is not None:
                g = cx.binary("add", g, cx.emit("nn.fully_connected", h, rw))
            gi, go, gf, gc = rn.gates(g, 4)
            if pv is not None and c is not None:
                gi = cx.binary("add", gi, cx.binary("mul", pv[0], c))
                gf = cx.binary("add", gf, cx.binary("mul", pv[2], c))
            i = cx.unary("sigmoid", gi)
            cand = cx.unary("tanh", gc)
            new_c = cx.binary("mul", i, cand)
            if c is not None:
                f = cx.unary("sigmoid", gf)
                new_c = cx.binary("add", cx.binary("mul", f, c), new_c)
            if pv is not None:
                go = cx.binary("add", go, cx.binary("mul", pv[1], new_c))
            o = cx.unary("sigmoid", go)
            h = cx.binary("mul", o, cx.unary("tanh", new_c))
            c = new_c
            out[t] = h
        ys.append(out)
        hs.append(h)
        cs.append(c)
    results = [rn.stack(ys) if cx.used(0) else None, rn.last(hs) if cx.used(1) else None,
               rn.last(cs) if cx.used(2) else None]
    return results


@converter("GRU", 11, doc="unrolled: fully_connected, split, sigmoid, tanh, mul, add, sub, concat (single "
                          "layer, forward/reverse/bidirectional, default activations, linear_before_reset)")
def gru(cx: Cx, x, w, r, b=None, sequence_lens=None, initial_h=None, *, activation_alpha=None,
        activation_beta=None, activations=None, clip=None, direction="forward", hidden_size=None,
        layout=0, linear_before_reset=0):
    rn = _Rnn(cx, x, w, r, b, sequence_lens, initial_h, hidden_size, direction, layout, activations,
              ["Sigmoid", "Tanh"], clip, 3)
    H = rn.H
    ys, hs = [], []
    for d in range(rn.dirs):
        wb, rb = rn.Bias[d][:3 * H], rn.Bias[d][3 * H:]
        if linear_before_reset:
            xbias = wb + np.concatenate([rb[:2 * H], np.zeros(H)])
        else:
            xbias = wb + rb
        xs = rn.input_steps(rn.dir_weight(rn.W, d), xbias)
        if linear_before_reset:
            r_all = cx.weight(rn.dir_weight(rn.R, d))
            r_bias = cx.const(np.concatenate([np.zeros(2 * H), rb[2 * H:]]).astype(rn.dt.numpy), rn.dt)
            rbh = cx.const(rb[2 * H:].astype(rn.dt.numpy), rn.dt)
        else:
            r_zr = cx.weight(rn.dir_weight(rn.R, d, slice(0, 2 * H)))
            r_h = cx.weight(rn.dir_weight(rn.R, d, slice(2 * H, 3 * H)))
        h = rn.initial(initial_h, d)
        out: dict[int, Value] = {}
        for t in rn.order(d):
            xz, xr, xh = rn.gates(xs[t], 3)
            if h is None:
                z = cx.unary("sigmoid", xz)
                if linear_before_reset:
                    rr = cx.unary("sigmoid", xr)
                    cand = cx.unary("tanh", cx.binary("add", xh, cx.binary("mul", rr, rbh)))
                else:
                    cand = cx.unary("tanh", xh)
                new_h = cx.binary("sub", cand, cx.binary("mul", z, cand))
            else:
                if linear_before_reset:
                    hz, hr, hh = rn.gates(cx.emit("nn.fully_connected", h, r_all, r_bias), 3)
                    z = cx.unary("sigmoid", cx.binary("add", xz, hz))
                    rr = cx.unary("sigmoid", cx.binary("add", xr, hr))
                    cand = cx.unary("tanh", cx.binary("add", xh, cx.binary("mul", rr, hh)))
                else:
                    hz, hr = rn.gates(cx.emit("nn.fully_connected", h, r_zr), 2)
                    z = cx.unary("sigmoid", cx.binary("add", xz, hz))
                    rr = cx.unary("sigmoid", cx.binary("add", xr, hr))
                    hh = cx.emit("nn.fully_connected", cx.binary("mul", rr, h), r_h)
                    cand = cx.unary("tanh", cx.binary("add", xh, hh))
                new_h = cx.binary("add", cand, cx.binary("mul", z, cx.binary("sub", h, cand)))
            h = new_h
            out[t] = h
        ys.append(out)
        hs.append(h)
    return [rn.stack(ys) if cx.used(0) else None, rn.last(hs) if cx.used(1) else None]
