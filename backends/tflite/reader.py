"""Read a .tflite FlatBuffer into an ``nn`` module.

The file is checked (size, ``TFL3`` identifier, every buffer / tensor /
opcode index in range, buffer data inside the file) and unpacked with the
generated object API (``ModelT``). The main subgraph becomes one function:
its inputs the arguments, each operator one or more ``nn`` ops (converters in
``edgecc.backends.tflite.read_ops``), constant tensors ``builtin.constant``
ops created just before their first user. Problems are ``EdgeccError``s of
one line naming the file.

Types: FLOAT32/FLOAT16 -> f32/f16; INT8/INT16/INT4 with scales -> per-tensor
or per-axis (``quantized_dimension``) ``QuantizedType``; INT32/INT64 stay
plain integers (bias scales are implied by input and weight scales); other
types map to plain elements.
"""

from __future__ import annotations

import hashlib
from pathlib import Path

import numpy as np

from edgecc.backends.tflite.schema import (
    FILE_IDENTIFIER,
    S,
    TYPE_NAMES,
    builtin_name,
    opcode_builtin,
    plain_element,
    quantized_element,
    unpack_int4,
)
from edgecc.backends.tflite.writer import META_SOURCE, SOURCE_ATTR
from edgecc.ir.attrs import DenseElements
from edgecc.ir.builder import Builder
from edgecc.ir.core import Func, Module, Value
from edgecc.ir.diagnostics import EdgeccError, Location
from edgecc.ir.types import QuantizedType, TensorType, f32


class TFLiteReadError(EdgeccError):
    """A .tflite file that cannot be read."""


def _load_model(data: bytes, label: str):
    if len(data) < 8:
        raise TFLiteReadError(f"{label}: not a TFLite file (only {len(data)} bytes)")
    ident = bytes(data[4:8])
    if ident != FILE_IDENTIFIER:
        raise TFLiteReadError(f"{label}: wrong file identifier {ident!r} (expected {FILE_IDENTIFIER!r}); "
                              "not a TFLite FlatBuffer")
    root = int.from_bytes(data[0:4], "little")
    if root + 4 > len(data):
        raise TFLiteReadError(f"{label}: truncated or corrupt FlatBuffer (root table at {root} beyond "
                              f"the {len(data)}-byte file)")
    try:
        model = S.ModelT.InitFromObj(S.Model.GetRootAs(data, 0))
    except Exception as e:  # struct.error, IndexError, ValueError from out-of-range reads
        raise TFLiteReadError(f"{label}: truncated or corrupt FlatBuffer ({type(e).__name__}: {e})") from None
    return model


def _check(model, data: bytes, label: str) -> None:
    """Index and range checks the object API does not do."""
    if not model.subgraphs:
        raise TFLiteReadError(f"{label}: the model has no subgraph")
    nbuf = len(model.buffers or [])
    for k, b in enumerate(model.buffers or []):
        off, size = int(getattr(b, "offset", 0) or 0), int(getattr(b, "size", 0) or 0)
        if off > 1 and off + size > len(data):
            raise TFLiteReadError(f"{label}: buffer {k} data [{off}, {off + size}) lies outside the "
                                  f"{len(data)}-byte file (truncated?)")
    nops = len(model.operatorCodes or [])
    sg = model.subgraphs[0]
    ntens = len(sg.tensors or [])
    for i, t in enumerate(sg.tensors or []):
        if not 0 <= int(t.buffer) < max(nbuf, 1):
            raise TFLiteReadError(f"{label}: tensor {i} ('{_name(t)}') refers to buffer {t.buffer}, "
                                  f"but the model has {nbuf} buffers")
        if t.sparsity is not None:
            raise TFLiteReadError(f"{label}: tensor {i} ('{_name(t)}') is sparse, which edgecc does not "
                                  "read")
    ins = [int(i) for i in (sg.inputs if sg.inputs is not None else [])]
    if len(set(ins)) != len(ins):
        raise TFLiteReadError(f"{label}: subgraph inputs {ins} name a tensor more than once")
    if not (sg.outputs is not None and len(sg.outputs)):
        raise TFLiteReadError(f"{label}: the subgraph has no outputs (nothing to compute; truncated?)")
    for which, idxs in (("input", sg.inputs), ("output", sg.outputs)):
        for i in idxs if idxs is not None else []:
            if not 0 <= int(i) < ntens:
                raise TFLiteReadError(f"{label}: subgraph {which} tensor index {i} out of range "
                                      f"({ntens} tensors)")
    for k, op in enumerate(sg.operators or []):
        if not 0 <= int(op.opcodeIndex) < nops:
            raise TFLiteReadError(f"{label}: operator #{k} uses opcode index {op.opcodeIndex}, but the "
                                  f"model has {nops} operator codes")
        for i in list(op.inputs if op.inputs is not None else []) + list(
                op.outputs if op.outputs is not None else []):
            if not -1 <= int(i) < ntens:
                raise TFLiteReadError(f"{label}: operator #{k} refers to tensor {i}, but the subgraph "
                                      f"has {ntens} tensors")
    for k, oc in enumerate(model.operatorCodes or []):
        code = opcode_builtin(oc)
        if code not in _known_codes():
            raise TFLiteReadError(f"{label}: operator code {k} is builtin {code}, unknown to this TFLite "
                                  "schema")


def _known_codes():
    from edgecc.backends.tflite.schema import BUILTIN_NAMES

    return BUILTIN_NAMES


def _name(t) -> str:
    n = t.name
    return n.decode("utf-8", "replace") if isinstance(n, bytes) else (n or "")


class Reader:
    """State while converting one subgraph; ``read_ops`` converters use its helpers."""

    def __init__(self, model, data: bytes, label: str, file: str | None) -> None:
        self.model, self.data, self.label, self.file = model, data, label, file
        self.sg = model.subgraphs[0]
        self.tensors = self.sg.tensors or []
        self.values: dict[int, Value] = {}
        self.func: Func | None = None
        self.b: Builder | None = None
        self.op_index = -1
        self.op_code = 0

    # -- errors ---------------------------------------------------------------
    def error(self, message: str) -> TFLiteReadError:
        where = f"operator #{self.op_index} ({builtin_name(self.op_code)})" if self.op_index >= 0 else ""
        return TFLiteReadError(f"{self.label}: {where + ': ' if where else ''}{message}")

    # -- tensors ----------------------------------------------------------------
    def name(self, idx: int) -> str:
        return _name(self.tensors[idx])

    def shape(self, idx: int) -> tuple[int, ...]:
        t = self.tensors[idx]
        shape = tuple(int(d) for d in (t.shape if t.shape is not None else ()))
        if any(d < 0 for d in shape):
            raise self.error(f"tensor '{self.name(idx)}' has a dynamic shape {list(shape)}")
        return shape

    def element(self, idx: int):
        t = self.tensors[idx]
        q = t.quantization
        scales = q.scale if q is not None and q.scale is not None else None
        if scales is not None and len(scales):
            zps = q.zeroPoint if q.zeroPoint is not None else None
            axis = int(q.quantizedDimension or 0)
            e = quantized_element(int(t.type), scales, zps, axis)
            if e is not None:
                return e
        e = plain_element(int(t.type))
        if e is None:
            raise self.error(f"tensor '{self.name(idx)}' has type {TYPE_NAMES.get(int(t.type), t.type)}, "
                             "which edgecc does not support")
        return e

    def ttype(self, idx: int) -> TensorType:
        try:
            return TensorType(self.shape(idx), self.element(idx))
        except ValueError as e:
            raise self.error(f"tensor '{self.name(idx)}': {e}") from None

    def buffer_bytes(self, idx: int) -> bytes | None:
        b = self.model.buffers[int(self.tensors[idx].buffer)] if self.model.buffers else None
        if b is None:
            return None
        off, size = int(getattr(b, "offset", 0) or 0), int(getattr(b, "size", 0) or 0)
        if off > 1:
            return bytes(self.data[off:off + size])
        if b.data is None or len(b.data) == 0:
            return None
        return np.asarray(b.data, np.uint8).tobytes()

    def is_const(self, idx: int) -> bool:
        """Whether tensor ``idx`` holds constant data (stored, or bound to a folded constant)."""
        if idx < 0 or self.tensors[idx].isVariable:
            return False
        bound = self.values.get(idx)
        if bound is not None:
            src = bound.defining_op()
            return src is not None and src.name == "builtin.constant"
        return self.buffer_bytes(idx) is not None

    def array(self, idx: int) -> np.ndarray:
        """The stored data of a constant tensor, shaped (quantized types: the stored integers)."""
        bound = self.values.get(idx)
        src = bound.defining_op() if bound is not None else None
        if src is not None and src.name == "builtin.constant":  # e.g. a folded DEQUANTIZE
            return src.attr("value").array
        raw = self.buffer_bytes(idx)
        if raw is None:
            raise self.error(f"tensor '{self.name(idx)}' must be a constant")
        tt = self.ttype(idx)
        n = tt.num_elements
        if tt.element.kind in ("i4", "qi4"):
            if len(raw) * 2 < n:
                raise self.error(f"constant '{self.name(idx)}' holds {len(raw)} bytes, needs {(n + 1) // 2}")
            return unpack_int4(raw, n).reshape(tt.shape)
        dt = np.dtype(tt.element.numpy).newbyteorder("<")
        if len(raw) != n * dt.itemsize:
            raise self.error(f"constant '{self.name(idx)}' holds {len(raw)} bytes, its type {tt} needs "
                             f"{n * dt.itemsize}")
        return np.frombuffer(raw, dt).astype(tt.element.numpy).reshape(tt.shape)

    def ints(self, idx: int) -> list[int]:
        return [int(v) for v in self.array(idx).reshape(-1)]

    def loc(self, idx: int) -> Location:
        return Location(name=self.name(idx) or None, file=self.file)

    def constant(self, idx: int, array=None, element=None) -> Value:
        """A builtin.constant for tensor ``idx`` (or for ``array`` named after it)."""
        from edgecc.dialects.builtin import ConstantOp

        if array is None:
            array, ttype = self.array(idx), self.ttype(idx)
        else:
            ttype = TensorType(np.shape(array), element or f32)
        op = ConstantOp.build(value=DenseElements(array, ttype), result_types=[ttype], loc=self.loc(idx),
                              result_names=[self.name(idx)])
        return self.b.insert(op).result

    def value(self, idx: int) -> Value | None:
        """The IR value of input tensor ``idx`` (None for -1); constants materialise here."""
        if idx < 0:
            return None
        v = self.values.get(idx)
        if v is None and self.tensors[idx].isVariable:  # persistent state (see read_state.py)
            from edgecc.backends.tflite.read_state import variable_tensor

            return variable_tensor(self, idx)
        if v is None:
            if self.buffer_bytes(idx) is None:
                raise self.error(f"tensor '{self.name(idx)}' is read before any operator produces it")
            v = self.values[idx] = self.constant(idx)
        return v

    def float_weight(self, idx: int) -> Value:
        """A weight operand for a float op: quantized constant weights are dequantized (hybrid)."""
        tt = self.ttype(idx)
        e = tt.element
        if not (isinstance(e, QuantizedType) and self.is_const(idx)):
            return self.value(idx)
        q = self.array(idx).astype(np.float32)
        scales = np.asarray(e.scales, np.float32)
        zps = np.asarray(e.zero_points, np.float32)
        if e.axis is not None:
            shape = [1] * q.ndim
            shape[e.axis] = -1
            scales, zps = scales.reshape(shape), zps.reshape(shape)
        v = self.constant(idx, ((q - zps) * scales).astype(np.float32), f32)
        self.values[idx] = v
        return v

    def bind(self, idx: int, v: Value) -> None:
        self.values[idx] = v


def read_tflite(path_or_bytes, *, name: str | None = None) -> Module:
    """Read a .tflite file (path or bytes) into a verified ``nn`` module."""
    from edgecc.backends.tflite.read_ops import convert_operator

    if isinstance(path_or_bytes, (bytes, bytearray, memoryview)):
        data, label, file = bytes(path_or_bytes), "<tflite bytes>", None
    else:
        p = Path(path_or_bytes)
        from edgecc.ir.limits import read_file

        try:
            data = read_file(p, "model")
        except EdgeccError as e:
            raise TFLiteReadError(e.message) from None
        label, file = str(p), p.name
        name = name or p.stem
    model = _load_model(data, label)
    _check(model, data, label)
    from edgecc.backends.tflite.lut import decode_model

    decode_model(model, label)  # TFLM LUT-compressed weights read as the dense constants they encode
    r = Reader(model, data, label, file)
    sg = r.sg
    ins = [int(i) for i in (sg.inputs if sg.inputs is not None else [])]
    func = Func("main", [r.ttype(i) for i in ins], [r.name(i) or f"input_{k}" for k, i in enumerate(ins)])
    r.func, r.b = func, Builder(func)
    for i, a in zip(ins, func.arguments):
        r.bind(i, a)
    for k, op in enumerate(sg.operators or []):
        r.op_index, r.op_code = k, opcode_builtin(model.operatorCodes[op.opcodeIndex])
        convert_operator(r, op, model.operatorCodes[op.opcodeIndex])
    r.op_index = -1
    outs = []
    for i in (sg.outputs if sg.outputs is not None else []):
        v = r.values.get(int(i))
        if v is None:
            v = r.value(int(i))
        outs.append(v)
    r.b.ret(*outs)
    attrs = _module_attrs(model, data, file)
    module = Module(func, name=name or "tflite", attrs=attrs)
    from edgecc.backends.tflite.read_state import declare_states

    declare_states(r, module)
    try:
        module.verify()
    except EdgeccError as e:
        raise TFLiteReadError(f"{label}: the converted graph does not verify: {e.format()}") from None
    return module


def _module_attrs(model, data: bytes, file: str | None) -> dict:
    """Module attributes: the source hash from edgecc's metadata; for a file that edgecc did not
    write, the hash of the file itself (it is the source model)."""
    from edgecc.backends.tflite.writer import META_VERSION

    attrs, meta = {}, {}
    for m in model.metadata or []:
        if 0 <= int(m.buffer) < len(model.buffers or []):
            raw = model.buffers[int(m.buffer)].data
            meta[_name(m)] = np.asarray(raw if raw is not None else [], np.uint8).tobytes()
    if META_SOURCE in meta:
        attrs[SOURCE_ATTR] = meta[META_SOURCE].decode("utf-8", "replace")
    elif META_VERSION not in meta:
        attrs[SOURCE_ATTR] = hashlib.sha256(data).hexdigest()
    if file is not None:
        attrs["edgecc.source"] = file
    return attrs


__all__ = ["Reader", "TFLiteReadError", "read_tflite"]
