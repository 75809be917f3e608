"""``Session``: run a model on the host with the Numba backend, like onnxruntime's InferenceSession.

::

    from edgecc.runtime import Session

    sess = Session("model.onnx")                 # or .tflite, an IR Module, a HostModule
    x = sess.get_inputs()[0]                     # .name .shape .type .quantization
    (y,) = sess.run(None, {x.name: data})        # outputs as numpy arrays

* The model is compiled once per batch size (``compile_module``); kernels come
  from Numba's on-disk cache after the first process.
* Quantized models: float32 feeds are quantized with the input's parameters
  (``auto_quantize=True``, as TFLite QUANTIZE rounds); feeds already in the
  input's storage dtype (int8/int16) pass through unchanged. Outputs keep the
  model's output dtype unless ``dequantize_outputs=True``.
* Batch: a feed whose leading dimension differs from the model's (and whose
  other dimensions match) runs that batch. A batch-1 model from any source is
  batch-folded (``edgecc.frontend.batch``) and compiled once per chunk size (at
  most ``BATCH_CHUNK`` samples per program call, no per-sample loop); a model
  the fold refuses (``batch_fallback`` gives the op and reason) is re-imported
  for the batch if it is an ONNX graph with a dynamic batch, else run once per
  sample, as is a ``HostModule`` source.
* Every mistake (unknown or missing input, wrong shape or dtype, unknown
  output name) is an ``EdgeccError`` naming the input and what was expected.
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from edgecc.ir.diagnostics import EdgeccError
from edgecc.ir.types import QuantizedType, TensorType


@dataclass(frozen=True)
class NodeArg:
    """A graph input or output, like onnxruntime's ``NodeArg``.

    ``type`` is the numpy dtype name of the data the session takes or returns
    (``"float32"``, ``"int8"`` ...); ``quantization`` is ``(scale, zero_point)``
    for a per-tensor quantized tensor (``scales``/``zero_points`` tuples for
    per-axis), else None; ``element`` is the IR element type.
    """

    name: str
    shape: list
    type: str
    element: str
    quantization: tuple[float, int] | None = None
    scales: tuple[float, ...] = ()
    zero_points: tuple[int, ...] = ()
    axis: int | None = None

    def quantize(self, x: np.ndarray) -> np.ndarray:
        """Float data -> this tensor's stored integers (TFLite QUANTIZE rounding)."""
        if not self.scales:
            raise EdgeccError(f"'{self.name}' is not quantized")
        return _quantize(np.asarray(x, np.float32), self)

    def dequantize(self, q: np.ndarray) -> np.ndarray:
        """Stored integers -> float32: ``(q - zero_point) * scale``."""
        if not self.scales:
            raise EdgeccError(f"'{self.name}' is not quantized")
        scale, zp = _axis_params(self, np.ndim(q))
        return ((np.asarray(q, np.int64) - zp).astype(np.float32) * scale).astype(np.float32)


def _node_arg(name: str, t: TensorType) -> NodeArg:
    e = t.element
    if isinstance(e, QuantizedType):
        qp = (e.scales[0], e.zero_points[0]) if e.axis is None else None
        return NodeArg(name, list(t.shape), e.numpy.name, str(e), qp, e.scales, e.zero_points, e.axis)
    return NodeArg(name, list(t.shape), e.numpy.name, str(e))


def _axis_params(arg: NodeArg, ndim: int):
    scale = np.asarray(arg.scales, np.float32)
    zp = np.asarray(arg.zero_points, np.int64)
    if arg.axis is None:
        return scale[0], zp[0]
    shape = [1] * ndim
    shape[arg.axis % ndim] = len(arg.scales)
    return scale.reshape(shape), zp.reshape(shape)


def _quantize(x: np.ndarray, arg: NodeArg) -> np.ndarray:
    from edgecc.ir.types import IntegerType

    dt = np.dtype(arg.type)
    bits = dt.itemsize * 8
    storage = IntegerType(bits)
    scale, zp = _axis_params(arg, x.ndim)
    try:
        from edgecc.quant.math import quantize_values
    except ImportError:  # pragma: no cover - quantization support not installed
        q = np.rint(x / scale) + zp
        return np.clip(q, storage.min, storage.max).astype(dt)
    return quantize_values(x, scale, zp, storage.min, storage.max).astype(dt)


#: samples per batched program call: bounds the arena (batch x the model's activations)
BATCH_CHUNK = 64


class Session:
    """Compile and run a model on the host (see the module docstring).

    ``model``: path to a ``.onnx``, ``.tflite`` or IR text (``.mlir``) file, an
    IR ``Module`` (``nn`` dialect, static shapes) or a compiled ``HostModule``.
    ``input_shapes`` (ONNX only) fixes dynamic dimensions at import.
    ``accumulate`` ("auto", "float32" or "float64") is the dot-product accumulator (see
    ``edgecc.backends.numba.compile_module``). ``state`` (ONNX only) turns input -> output pairs
    into persistent state; a stateful model keeps its state across ``run`` calls until ``reset()``.
    """

    def __init__(self, model: Any, *, dequantize_outputs: bool = False, auto_quantize: bool = True,
                 input_shapes: Mapping[str, Sequence[int]] | None = None, accumulate: str = "auto",
                 state: Mapping[str, str] | None = None) -> None:
        from edgecc.backends.numba import HostModule

        self.dequantize_outputs = dequantize_outputs
        self.auto_quantize = auto_quantize
        self.accumulate = accumulate
        self._onnx = None
        self._input_shapes = dict(input_shapes) if input_shapes else None
        self._state_pairs = dict(state) if state else None
        self._hosts: dict[tuple, HostModule | None] = {}
        #: why a batch feed runs once per sample (None: batches run as one program, or none ran yet)
        self.batch_fallback: str | None = None
        self.module = None
        #: persistent state: (names read as trailing inputs, names written as trailing outputs)
        self._reads: list[str] = []
        self._writes: list[str] = []
        self._state: dict[str, np.ndarray] = {}
        if isinstance(model, HostModule):
            host = model
        else:
            self.module = self._load(model)
            host = self._compile_stateful(self.module)
        self._host = host
        nin = len(host.inputs) - len(self._reads)
        nout = len(host.outputs) - len(self._writes)
        self._hosts[tuple(s.shape for s in host.inputs)] = host
        onnx_in, onnx_out = self._onnx_names(host, nin, nout)
        self._inputs = [_node_arg(n, s.type) for n, s in zip(onnx_in, host.inputs[:nin])]
        self._outputs = [_node_arg(n, s.type) for n, s in zip(onnx_out, host.outputs[:nout])]
        # aliases: the IR names (sanitized ONNX names) are accepted too
        self._in_index = {}
        for k, (a, s) in enumerate(zip(self._inputs, host.inputs)):
            self._in_index[a.name] = k
            self._in_index.setdefault(s.name, k)
        self._out_index = {}
        for k, (a, s) in enumerate(zip(self._outputs, host.outputs)):
            self._out_index[a.name] = k
            self._out_index.setdefault(s.name, k)

    # -- loading --------------------------------------------------------------
    def _load(self, model):
        from edgecc.ir.core import Module

        if isinstance(model, Module):
            return model
        if isinstance(model, (str, os.PathLike)):
            path = Path(model)
            if not path.exists():
                raise EdgeccError(f"{path}: no such file")
            suffix = path.suffix.lower()
            if suffix == ".onnx":
                from edgecc.frontend import import_onnx

                self._onnx = path
                return import_onnx(path, input_shapes=self._input_shapes, state=self._state_pairs)
            if suffix == ".tflite":
                try:
                    from edgecc.backends.tflite import read_tflite
                except ImportError as e:  # pragma: no cover
                    raise EdgeccError(f"{path}: reading .tflite files is not available ({e})") from None
                return read_tflite(path)
            if suffix in (".mlir", ".edgeir", ".ir"):
                from edgecc.ir.text.parser import parse_module

                from edgecc.ir.limits import read_text

                module = parse_module(read_text(path, "IR text"), str(path))
                module.verify()
                return module
            raise EdgeccError(f"{path}: unknown model format '{suffix}' (expected .onnx, .tflite or .mlir)")
        raise EdgeccError("Session takes a model path, an IR Module or a HostModule, not "
                          f"{type(model).__name__}")

    def _compile(self, module):
        from edgecc.backends.numba import compile_module

        return compile_module(module, accumulate=self.accumulate)

    def _compile_stateful(self, module):
        """A stateful module runs with its states as trailing inputs and outputs the session keeps."""
        if not module.states:
            return self._compile(module)
        from edgecc.frontend.state import externalize_state
        from edgecc.interp.reference import initial_state

        self._init_state = initial_state(module)
        plain, self._reads, self._writes = externalize_state(module)
        self.reset()
        return self._compile(plain)

    def reset(self) -> None:
        """Restore every persistent state to its initial value (the next ``run`` starts a new stream)."""
        if self._reads or self._writes:
            self._state = {k: v.copy() for k, v in self._init_state.items()}

    @property
    def state(self) -> dict[str, np.ndarray]:
        """The current persistent state (copies), by state name; empty for a stateless model."""
        return {k: v.copy() for k, v in self._state.items()}

    def _onnx_names(self, host, nin: int, nout: int) -> tuple[list[str], list[str]]:
        ins = [s.name for s in host.inputs[:nin]]
        outs = [s.name for s in host.outputs[:nout]]
        if self._onnx is None:
            return ins, outs
        try:
            import onnx

            g = onnx.load(str(self._onnx), load_external_data=False).graph
            inits = {t.name for t in g.initializer}
            gi = [i.name for i in g.input if i.name not in inits]
            go = [o.name for o in g.output]
        except Exception:  # noqa: BLE001 - the names are a convenience
            return ins, outs
        return (gi if len(gi) == len(ins) else ins), (go if len(go) == len(outs) else outs)

    # -- introspection ----------------------------------------------------------
    def get_inputs(self) -> list[NodeArg]:
        return list(self._inputs)

    def get_outputs(self) -> list[NodeArg]:
        """The outputs as ``run`` returns them: float32 for quantized ones with ``dequantize_outputs``."""
        if not self.dequantize_outputs:
            return list(self._outputs)
        import dataclasses

        return [dataclasses.replace(o, type="float32") if o.scales else o for o in self._outputs]

    @property
    def host_module(self):
        """The compiled ``HostModule`` for the model's own input shapes."""
        return self._host

    @property
    def compile_seconds(self) -> float:
        return self._host.compile_seconds

    # -- running ----------------------------------------------------------------
    def run(self, output_names: Sequence[str] | None, feeds: Mapping[str, Any]) -> list[np.ndarray]:
        """Run the model; returns the requested outputs (all when ``output_names`` is None) in order."""
        if not isinstance(feeds, Mapping):
            raise EdgeccError("feeds must be a dict {input name: array}")
        picks = self._output_picks(output_names)
        arrays = self._bind(feeds)
        batch = self._batch(arrays)
        if self._reads or self._writes:
            if batch is not None:
                raise EdgeccError("a model with persistent state runs one sample per call (its state "
                                  f"is per stream); feed batch {self._inputs[0].shape[0]}")
            outs = self._host.run(arrays + [self._state[n] for n in self._reads])
            n = len(self._outputs)
            for name, y in zip(self._writes, outs[n:]):
                self._state[name] = np.array(y, copy=True)
        elif batch is None:
            outs = self._host.run(arrays)
        else:
            outs = self._run_batch(arrays, batch)
        return [self._finish(outs[k], self._outputs[k]) for k in picks]

    def _output_picks(self, names) -> list[int]:
        if names is None:
            return list(range(len(self._outputs)))
        if isinstance(names, str):
            names = [names]
        picks = []
        for n in names:
            if n not in self._out_index:
                names = ", ".join(o.name for o in self._outputs)
                raise EdgeccError(f"unknown output '{n}' (outputs: {names})")
            picks.append(self._out_index[n])
        return picks

    def _bind(self, feeds: Mapping[str, Any]) -> list[np.ndarray]:
        given: dict[int, Any] = {}
        for name, value in feeds.items():
            k = self._in_index.get(name)
            if k is None:
                names = ", ".join(i.name for i in self._inputs)
                raise EdgeccError(f"unknown input '{name}' (inputs: {names})")
            if k in given:
                raise EdgeccError(f"input '{self._inputs[k].name}' is fed twice")
            given[k] = value
        missing = [self._inputs[k].name for k in range(len(self._inputs)) if k not in given]
        if missing:
            raise EdgeccError(f"missing input '{missing[0]}'")
        return [self._convert(self._inputs[k], given[k]) for k in range(len(self._inputs))]

    def _convert(self, arg: NodeArg, value: Any) -> np.ndarray:
        a = np.asarray(value)
        want = np.dtype(arg.type)
        if a.ndim != len(arg.shape):
            raise EdgeccError(f"input '{arg.name}' has rank {a.ndim} (shape {list(a.shape)}), expected shape "
                              f"{arg.shape}")
        if tuple(a.shape[1:]) != tuple(arg.shape[1:]):
            raise EdgeccError(f"input '{arg.name}' has shape {list(a.shape)}, expected {arg.shape}")
        if a.dtype == want:
            return np.asarray(a, order="C")  # (ascontiguousarray turns a 0-d array into shape [1])
        if arg.scales and a.dtype.kind == "f":
            if not self.auto_quantize:
                raise EdgeccError(f"input '{arg.name}' is quantized ({arg.element}): feed {want} data, or "
                                  f"create the Session with auto_quantize=True to quantize float input")
            return _quantize(a.astype(np.float32), arg)
        hint = f" (convert with .astype(np.{want.name}))" if a.dtype.kind == want.kind or (
            a.dtype.kind in "iu" and want.kind in "iu") else ""
        raise EdgeccError(f"input '{arg.name}' has dtype {a.dtype}, expected {want.name}{hint}")

    def _batch(self, arrays: list[np.ndarray]) -> int | None:
        """The feed batch size when it differs from the model's, else None."""
        sizes = {a.shape[0] if a.ndim else None for a in arrays}
        model = {tuple(i.shape)[0] if i.shape else None for i in self._inputs}
        if sizes == model:
            return None
        if len(sizes) != 1 or None in sizes:
            raise EdgeccError("inputs disagree on the batch size: "
                              + ", ".join(f"{i.name} {list(a.shape)}" for i, a in zip(self._inputs, arrays)))
        return sizes.pop()

    def _run_batch(self, arrays: list[np.ndarray], batch: int) -> list[np.ndarray]:
        if batch == 0:
            raise EdgeccError("batch size 0")
        model_batch = self._inputs[0].shape[0] if self._inputs and self._inputs[0].shape else 1
        if model_batch != 1:
            host = self._onnx_batch(arrays)
            if host is None:
                raise EdgeccError(f"the model has batch {model_batch}; feed batch {model_batch} or any batch "
                                  f"for a batch-1 model")
            return host.run(arrays)
        chunks = []
        for start in range(0, batch, BATCH_CHUNK):
            part = [a[start:start + BATCH_CHUNK] for a in arrays]
            host = self._batched(part)
            if host is None:  # no batch fold: once per sample (``batch_fallback`` says why)
                per_sample = [self._host.run([a[i:i + 1] for a in part]) for i in range(len(part[0]))]
                chunks.append([np.concatenate([s[k] for s in per_sample]) for k in range(len(self._outputs))])
            else:
                chunks.append(host.run(part))
        if len(chunks) == 1:
            return chunks[0]
        return [np.concatenate([c[k] for c in chunks]) for k in range(len(self._outputs))]

    def _batched(self, arrays: list[np.ndarray]):
        """The host program for this batch size: the batch-folded module (or the ONNX graph re-imported
        for it), compiled once per size; None when neither exists."""
        key = tuple(a.shape for a in arrays)
        if key in self._hosts:
            return self._hosts[key]
        host = None
        if self.module is not None and self.batch_fallback is None:
            from edgecc.frontend.batch import BatchFoldError, batch_module

            try:
                host = self._compile(batch_module(self.module, len(arrays[0])))
            except BatchFoldError as e:
                self.batch_fallback = e.message
        if host is None:
            host = self._onnx_batch(arrays)
        self._hosts[key] = host
        return host

    def _onnx_batch(self, arrays: list[np.ndarray]):
        """The ONNX graph re-imported with the feed's batch (None if it fixes its batch)."""
        if self._onnx is None:
            return None
        from edgecc.frontend import import_onnx

        shapes = {s.name: a.shape for s, a in zip(self._inputs, arrays)}
        try:
            module = import_onnx(self._onnx, input_shapes=shapes)
        except EdgeccError:
            return None
        return self._compile(module)

    def _finish(self, y: np.ndarray, arg: NodeArg) -> np.ndarray:
        if self.dequantize_outputs and arg.scales:
            return arg.dequantize(y)
        return y


__all__ = ["NodeArg", "Session"]
