"""Serialize an ``nn`` module to a TFLite FlatBuffer through the generated object API.

The writer walks the function once, in op order: graph arguments become the
subgraph inputs, each ``nn`` op is lowered by ``edgecc.backends.tflite.ops``
to one or more builtin operators, constants become tensors with buffers when
first used. Everything is built as ``ModelT``/``SubGraphT``/``TensorT``
objects and packed with ``ModelT.Pack``; no offsets are written by hand.

Layout rules (so that emit is deterministic and write -> read -> write is a
fixed point):

* tensors are created in first-use order; names are the IR value name hints
  (made unique) or ``t<index>``; helper tensors (shapes, permutations,
  paddings) are named after the op's result and shared when identical;
* buffer 0 is the empty sentinel; each constant tensor owns one buffer whose
  data is 16-byte aligned in the file (``AlignedBuilder``);
* one SignatureDef ``serving_default`` names inputs and outputs after the
  argument / result name hints; metadata ``edgecc_version`` and, when the
  module carries ``edgecc.source_sha256``, ``edgecc_source_sha256``.
"""

from __future__ import annotations

from pathlib import Path

import flatbuffers
import numpy as np

from edgecc.backends.tflite.schema import (
    FILE_IDENTIFIER,
    PLACEHOLDER_FOR_GREATER_OP_CODES,
    SCHEMA_VERSION,
    S,
    pack_int4,
    tensor_type_code,
)
from edgecc.ir.core import Module, Value
from edgecc.ir.diagnostics import EdgeccError
from edgecc.ir.types import QuantizedType, TensorType, f16, f32

VARIANTS = ("auto", "float32", "fp16", "int8", "int16x8")
BUFFER_ALIGNMENT = 16
SIGNATURE_KEY = "serving_default"
META_VERSION = "edgecc_version"
META_SOURCE = "edgecc_source_sha256"
SOURCE_ATTR = "edgecc.source_sha256"


class AlignedBuilder(flatbuffers.Builder):
    """A ``flatbuffers.Builder`` that places uint8 numpy vectors (buffer data) on 16 bytes.

    The object API packs ``BufferT.data`` with ``CreateNumpyVector``; the schema asks for
    ``force_align: 16`` but the Python generator ignores it, so the alignment is applied here.
    ``Finish`` then aligns the whole file to the largest alignment used.
    """

    def CreateNumpyVector(self, x):  # noqa: N802 - flatbuffers API name
        if not (isinstance(x, np.ndarray) and x.dtype == np.uint8 and x.ndim == 1):
            return super().CreateNumpyVector(x)
        self.StartVector(1, x.size, BUFFER_ALIGNMENT)
        payload = x.tobytes()
        self.head = self.head - len(payload)
        self.Bytes[self.head:self.head + len(payload)] = payload
        self.vectorNumElems = x.size
        return self.EndVector()


def quant_params(element, override=None):
    """``QuantizationParametersT`` for a quantized element (None for plain ones)."""
    if override is not None:
        scales, axis = override
        q = S.QuantizationParametersT()
        q.scale = [float(s) for s in scales]
        q.zeroPoint = [0] * len(scales)
        q.quantizedDimension = axis
        return q
    if not isinstance(element, QuantizedType):
        return None
    q = S.QuantizationParametersT()
    q.scale = [float(np.float32(s)) for s in element.scales]
    q.zeroPoint = [int(z) for z in element.zero_points]
    q.quantizedDimension = element.axis if element.axis is not None else 0
    return q


def _raw(array: np.ndarray, element) -> np.ndarray:
    """Little-endian bytes of constant data as a uint8 vector."""
    kind = getattr(element, "kind", "")
    if kind in ("i4", "qi4"):
        return np.frombuffer(pack_int4(array), np.uint8).copy()
    a = np.ascontiguousarray(array)
    if a.dtype.byteorder == ">":
        a = a.byteswap().view(a.dtype.newbyteorder("<"))
    return np.frombuffer(a.tobytes(), np.uint8).copy()


class Writer:
    """Builds one ``ModelT``; ``ops.LOWER`` functions call the ``t``/``aux``/``temp``/``op`` API."""

    def __init__(self, module: Module, variant: str, compression: str = "none") -> None:
        self.module = module
        self.variant = variant
        self.compression = compression
        #: after ``build``: file bytes dense / written and one row per LUT candidate (``lut.compress``)
        self.report: dict = {}
        self.tensors: list = []
        self.buffers: list = [S.BufferT()]
        self.operators: list = []
        self.opcodes: dict[tuple[int, int], int] = {}
        self.opcode_list: list = []
        self.value_tensors: dict[tuple, int] = {}
        self.aux_tensors: dict[tuple, int] = {}
        self.names: set[str] = set()
        self.value_names: dict[int, str] = {}
        self.used: set[str] = set()
        self.fp16 = variant == "fp16"

    # -- names ------------------------------------------------------------
    def unique(self, base: str) -> str:
        name, k = base, 1
        while name in self.names:
            k += 1
            name = f"{base}_{k}"
        self.names.add(name)
        return name

    def name_of(self, v: Value) -> str:
        """The (unique, reserved) tensor name of an IR value: its hint or ``t<k>``."""
        name = self.value_names.get(id(v))
        if name is None:
            name = self.value_names[id(v)] = self.unique(v.name_hint or f"t{len(self.value_names)}")
        return name

    # -- tensors ------------------------------------------------------------
    def _new_tensor(self, ttype: TensorType, name: str, data: np.ndarray | None = None,
                    quant=None, plain: bool = False, reserved: bool = False) -> int:
        t = S.TensorT()
        t.shape = [int(d) for d in ttype.shape]
        t.type = tensor_type_code(ttype.element)
        t.name = name if reserved and name not in self.used else self.unique(name)
        self.used.add(t.name)
        t.quantization = quant if quant is not None or plain else quant_params(ttype.element)
        if data is not None:
            b = S.BufferT()
            b.data = _raw(data, ttype.element)
            self.buffers.append(b)
            t.buffer = len(self.buffers) - 1
        else:
            t.buffer = 0
        self.tensors.append(t)
        return len(self.tensors) - 1

    def t(self, v: Value, quant_override=None) -> int:
        """The tensor of an IR value (constants are materialised on first use)."""
        key = (id(v), None if quant_override is None else tuple(quant_override[0]))
        idx = self.value_tensors.get(key)
        if idx is not None:
            return idx
        array = constant_data(v)
        if array is None:
            if quant_override is not None:
                return self.t(v)
            raise EdgeccError(f"internal: value {self.name_of(v)} used before its producer")
        q = quant_params(v.type.element, quant_override)
        if self.fp16 and v.type.element == f32 and quant_override is None:
            idx = self._fp16_constant(TensorType(v.type.shape, f32), self.name_of(v), array,
                                      reserved=True)
        else:
            idx = self._new_tensor(v.type, self.name_of(v), array, quant=q, reserved=True)
        self.value_tensors[key] = idx
        return idx

    def _fp16_constant(self, ttype: TensorType, name: str, array: np.ndarray, reserved: bool) -> int:
        """fp16 variant: a FLOAT16 buffer and a DEQUANTIZE producing the float32 tensor ``name``."""
        half = self._new_tensor(ttype.with_element(f16), f"{name}_fp16", array.astype(np.float16))
        out = self._new_tensor(ttype, name, reserved=reserved)
        self.op(S.BuiltinOperator.DEQUANTIZE, [half], [out], version=3)
        return out

    def out(self, v: Value) -> int:
        """Create the tensor for an op result."""
        key = (id(v), None)
        if key in self.value_tensors:
            raise EdgeccError(f"internal: tensor for {self.name_of(v)} created twice")
        idx = self._new_tensor(v.type, self.name_of(v), reserved=True)
        self.value_tensors[key] = idx
        return idx

    def bind(self, v: Value, idx: int) -> None:
        self.value_tensors[(id(v), None)] = idx

    def reserve(self, base: str) -> str:
        """Reserve a unique name for an intermediate tensor (create it later with ``temp``)."""
        return self.unique(base)

    def temp(self, ttype: TensorType, name: str) -> int:
        """An intermediate tensor introduced by a lowering, named by ``reserve``.

        A composite lowering must create tensors in the order the single-op lowering of its
        read-back parts would: each part's helper constants first, then its result.
        """
        return self._new_tensor(ttype, name, reserved=True)

    def aux(self, array, name: str, element=None, quant=None) -> int:
        """A helper constant (shape, permutation, paddings, zero bias); identical ones are shared."""
        from edgecc.ir.types import element_from_numpy

        arr = np.asarray(array)
        elem = element if element is not None else element_from_numpy(arr.dtype)
        arr = arr.astype(elem.numpy)
        if quant is None:
            quant = quant_params(elem)
        qkey = None if quant is None else (tuple(quant.scale), quant.quantizedDimension)
        key = (str(elem), arr.shape, arr.tobytes(), qkey)
        idx = self.aux_tensors.get(key)
        if idx is None:
            if self.fp16 and elem == f32:
                idx = self._fp16_constant(TensorType(arr.shape, f32), self.unique(name), arr,
                                          reserved=True)
            else:
                idx = self._new_tensor(TensorType(arr.shape, elem), name, arr, quant=quant,
                                       plain=quant is None)
            self.aux_tensors[key] = idx
        return idx

    # -- operators ----------------------------------------------------------
    def op(self, code: int, inputs, outputs, options=None, version: int = 1) -> None:
        key = (code, version)
        index = self.opcodes.get(key)
        if index is None:
            oc = S.OperatorCodeT()
            oc.builtinCode = code
            oc.deprecatedBuiltinCode = min(code, PLACEHOLDER_FOR_GREATER_OP_CODES)
            oc.version = version
            self.opcode_list.append(oc)
            index = self.opcodes[key] = len(self.opcode_list) - 1
        o = S.OperatorT()
        o.opcodeIndex = index
        o.inputs = [int(i) for i in inputs]
        o.outputs = [int(i) for i in outputs]
        if options is not None:
            o.builtinOptionsType, o.builtinOptions = options
        self.operators.append(o)

    # -- whole model ----------------------------------------------------------
    def build(self) -> bytes:
        from edgecc import __version__
        from edgecc.backends.tflite.ops import LOWER, check_variant, unsupported

        func = self.module.func
        check_variant(self.module, self.variant)
        inputs = []
        for i, a in enumerate(func.arguments):
            self.value_names[id(a)] = self.unique(a.name_hint or f"input_{i}")
            idx = self._new_tensor(a.type, self.value_names[id(a)], reserved=True)
            self.value_tensors[(id(a), None)] = idx
            inputs.append(idx)
        from edgecc.backends.tflite import state

        resources = bool(self.module.states) and bool(state.resource_states(self))
        if resources:  # persistent state: resource variables (see tflite/state.py)
            state.begin(self)
        for op in func.ops:
            if op.name in ("builtin.constant", "func.return"):
                continue
            fn = LOWER.get(op.name)
            if fn is None:
                raise unsupported(op, "has no TFLite builtin equivalent")
            fn(self, op)
        outputs = [self.t(v) for v in func.outputs]
        sg = S.SubGraphT()
        sg.tensors, sg.inputs, sg.outputs = self.tensors, inputs, outputs
        sg.operators, sg.name = self.operators, func.name
        model = S.ModelT()
        model.version = SCHEMA_VERSION
        model.description = f"edgecc {__version__}"
        model.subgraphs = [sg] + ([state.init_subgraph(self)] if resources else [])
        model.operatorCodes = self.opcode_list
        model.signatureDefs = [self._signature(func, inputs, outputs)]
        model.metadata = self._metadata(__version__)
        model.buffers = self.buffers
        if self.compression not in ("lut", "clustered"):
            data = pack_model(model)
            self.report = {"compression": self.compression, "bytes": [len(data), len(data)], "tensors": []}
            return data
        from edgecc.backends.tflite.lut import AUTO_MAX_BITS, MAX_BITS, compress

        bits = AUTO_MAX_BITS if self.compression == "clustered" else MAX_BITS
        dense, data, rows = compress(model, pack_model, bits)
        self.report = {"compression": self.compression, "bytes": [len(dense), len(data)], "tensors": rows}
        return data

    def _signature(self, func, inputs, outputs):
        sig = S.SignatureDefT()
        sig.signatureKey = SIGNATURE_KEY
        sig.subgraphIndex = 0

        def tmap(name, idx):
            m = S.TensorMapT()
            m.name, m.tensorIndex = name, idx
            return m

        # tensor names: the argument / result name hints (``input_<i>`` / ``t<k>`` without one)
        sig.inputs = [tmap(self.tensors[idx].name, idx) for idx in inputs]
        sig.outputs = [tmap(self.tensors[idx].name, idx) for idx in outputs]
        return sig

    def _metadata(self, version: str):
        entries = [(META_VERSION, version)]
        src = self.module.attrs.get(SOURCE_ATTR)
        if isinstance(src, str):
            entries.append((META_SOURCE, src))
        out = []
        for name, text in entries:
            b = S.BufferT()
            b.data = np.frombuffer(text.encode(), np.uint8).copy()
            self.buffers.append(b)
            m = S.MetadataT()
            m.name, m.buffer = name, len(self.buffers) - 1
            out.append(m)
        return out


def pack_model(model) -> bytes:
    """The file bytes of a ``ModelT`` (buffers 16-byte aligned)."""
    builder = AlignedBuilder(1024)
    builder.Finish(model.Pack(builder), file_identifier=FILE_IDENTIFIER)
    return bytes(builder.Output())


def constant_data(v: Value) -> np.ndarray | None:
    """The data of a constant value: a ``builtin.constant``, or ``nn.dequantize`` of one.

    Dequantizing a constant is folded here (``(q - zero_point) * scale`` in float32, as the
    reader does): the file then holds float weights, which every interpreter runs (TFLM has
    no per-channel or fp16 DEQUANTIZE) and which read back to the same constant.
    """
    src = v.defining_op()
    if src is None:
        return None
    if src.name == "builtin.constant":
        return src.attr("value").array
    if src.name == "nn.dequantize":
        q = constant_data(src.operands[0])
        e = src.operands[0].type.element
        if q is None or not isinstance(e, QuantizedType):
            return None
        scales, zps = np.asarray(e.scales, np.float32), np.asarray(e.zero_points, np.float32)
        if e.axis is not None:
            shape = [1] * q.ndim
            shape[e.axis] = -1
            scales, zps = scales.reshape(shape), zps.reshape(shape)
        return ((q.astype(np.float32) - zps) * scales).astype(v.type.element.numpy)
    return None


RUNTIMES = ("any", "tflm")


def to_bytes(module: Module, *, variant: str = "auto", runtime: str = "any", compression: str = "auto",
             report: dict | None = None) -> bytes:
    """Serialize ``module`` (an ``nn`` graph, NHWC) to TFLite FlatBuffer bytes.

    ``runtime="tflm"`` also refuses operators TFLM has no kernel for (``limits.check_tflm``).
    ``compression``: ``lut`` stores int8 constants as TFLM LUT indices + DECODE where the file
    shrinks (only TFLM runs such a file), ``none`` dense, ``auto`` lut for ``runtime="tflm"``.
    ``report``, when given, receives the writer's compression report (``Writer.report``).
    """
    from edgecc.backends.tflite.lut import resolve_mode

    mode = resolve_mode(compression, runtime)
    if variant not in VARIANTS:
        raise EdgeccError(f"unknown tflite variant '{variant}' (expected one of {', '.join(VARIANTS)})")
    if runtime not in RUNTIMES:
        raise EdgeccError(f"unknown tflite runtime '{runtime}' (expected one of {', '.join(RUNTIMES)})")
    module.verify()
    _check_ranges(module)
    from edgecc.backends.tflite.limits import check_tflm, legalize

    writer = Writer(legalize(module), variant, mode)
    data = writer.build()
    if report is not None:
        report.update(writer.report)
    if runtime == "tflm":
        check_tflm(data)
    return data


def _check_ranges(module: Module) -> None:
    """Shapes and option fields are flatbuffer ``int``; the whole file must stay under 2 GiB."""
    from edgecc.ir.ranges import TFLITE_BOUNDS, check_module, check_sizes, source_of

    check_module(module, TFLITE_BOUNDS)
    data = sum(r.type.nbytes for op in module.func.ops if op.has_trait("ConstantLike") for r in op.results)
    check_sizes(source_of(module), TFLITE_BOUNDS, {"the constant data (buffers)": (data, "")})


def emit(module: Module, path, *, variant: str = "auto", runtime: str = "any", compression: str = "auto",
         report: dict | None = None) -> bytes:
    """Write ``module`` as a .tflite file at ``path``; returns the bytes written (see ``to_bytes``)."""
    data = to_bytes(module, variant=variant, runtime=runtime, compression=compression, report=report)
    Path(path).write_bytes(data)
    return data


__all__ = ["VARIANTS", "AlignedBuilder", "Writer", "constant_data", "emit", "pack_model", "to_bytes"]
