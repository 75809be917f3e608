"""An ``onnx.backend`` adapter over edgecc: import, optimise, execute.

``ReferenceBackend.prepare(model)`` imports a ``ModelProto`` with edgecc's
frontend (``edgecc.frontend.import_onnx``, which also legalizes to ``nn``),
runs a pass pipeline over it (default ``DEFAULT_PIPELINE``) and returns a
``BackendRep`` whose ``run(inputs)`` executes the module with the reference
interpreter.

Other executors reuse the adapter by giving their own run function::

    NumbaBackend = make_backend("NumbaBackend", run=my_numba_run)
    # or with a compile step done once per prepared model:
    NumbaBackend = make_backend("NumbaBackend", compile=lambda module: compiled_callable)

``run(module, inputs: list[np.ndarray]) -> list[np.ndarray]`` has the
signature of ``edgecc.interp.reference.run``; ``compile(module)`` returns a
callable ``inputs -> outputs``.

Inputs are matched to the function arguments by position (the graph inputs
that are not initializers, in order) or by ONNX input name. When the inputs'
shapes differ from the shapes the model was imported with (dynamic
dimensions), the model is re-imported for those shapes and cached. Outputs
are returned with the element type the ONNX graph declares.

Models older than the frontend's minimum opset are upgraded with
``onnx.version_converter`` first (``UPGRADE_OPSET``).

edgecc compiles static graphs, where shapes, axes, pads and scales are
constants. ONNX test graphs often pass them as graph inputs instead. When a
model does not import as given, ``prepare`` defers, and ``run`` imports it
again with those *parameter inputs* frozen to the values of the call (an
integer input consumed at a non-data slot, or a float input at a known
parameter slot such as Resize scales or Clip bounds; see
``PARAM_SLOTS``); ``rep.frozen_inputs`` names them. Data inputs are never
frozen.

``classify_error(exc)`` tells a clean refusal of the frontend ("unsupported
op X", "unsupported feature") from a genuine failure; the ONNX test-suite
runner skips the former.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
from onnx import ModelProto, NodeProto, helper
from onnx.backend.base import Backend, BackendRep, namedtupledict

from edgecc.ir.core import Module
from edgecc.ir.diagnostics import EdgeccError
from edgecc.ir.types import QuantizedType
from edgecc.passes.registry import DEFAULT_PIPELINE

RunFunction = Callable[[Module, list[np.ndarray]], list[np.ndarray]]
CompileFunction = Callable[[Module], Callable[[list[np.ndarray]], list[np.ndarray]]]


# ------------------------------------------------------------------ errors
@dataclass(frozen=True)
class Refusal:
    """Why edgecc refused a model: ``kind`` is "unsupported-op" or "unsupported-feature"."""

    kind: str
    op_type: str | None
    message: str


_NODE_RE = re.compile(r"\(([A-Za-z0-9_]+), opset \d+\): (.*)$", re.S)


def _refusal_types() -> tuple[type, ...]:
    from edgecc.conversion.onnx_to_nn import LegalizeError
    from edgecc.frontend import OnnxImportError

    return (OnnxImportError, LegalizeError)


def classify_error(exc: BaseException) -> Refusal | None:
    """A ``Refusal`` when ``exc`` is the frontend cleanly refusing the model, else None.

    An op type the frontend has no converter for (or an unknown domain) is
    "unsupported-op"; any other clean import or legalization error (an
    attribute, input, element type, rank, dynamic shape or opset the frontend
    does not handle) is "unsupported-feature". Internal errors, verifier
    failures after import, interpreter errors and crashes are not refusals.
    """
    if not isinstance(exc, _refusal_types()):
        return None
    msg = exc.message
    if "internal error" in msg:
        return None
    m = _NODE_RE.search(msg)
    op_type = m.group(1) if m else None
    detail = m.group(2) if m else msg
    if detail.startswith(("unsupported op", "unknown op", "op '")):
        return Refusal("unsupported-op", op_type, msg)
    return Refusal("unsupported-feature", op_type, msg)


class UnsupportedModel(EdgeccError):
    """Raised by ``prepare`` when the frontend refuses the model (see ``Refusal``)."""

    def __init__(self, refusal: Refusal) -> None:
        super().__init__(refusal.message)
        self.refusal = refusal


# ---------------------------------------------------------------- backend
#: opset that models below the frontend's oldest accepted opset are upgraded to
UPGRADE_OPSET = 11


def default_opset(model: ModelProto) -> int | None:
    for o in model.opset_import:
        if o.domain in ("", "ai.onnx"):
            return int(o.version)
    return None


def upgrade_model(model: ModelProto, opset: int = UPGRADE_OPSET) -> ModelProto:
    """``model`` converted to ``opset`` with ``onnx.version_converter``."""
    from onnx import version_converter

    return version_converter.convert_version(model, opset)


def import_model(model: ModelProto, input_shapes: Mapping[str, tuple] | None, pipeline: str) -> Module:
    """ONNX -> optimised nn module; frontend refusals become ``UnsupportedModel``.

    A model whose opset is older than the frontend accepts is upgraded to
    ``UPGRADE_OPSET`` with ``onnx.version_converter`` and imported again.
    """
    from edgecc.frontend import import_onnx
    from edgecc.passes import PassManager

    shapes = dict(input_shapes) if input_shapes else None
    try:
        module = import_onnx(model, input_shapes=shapes, optimize=False)
    except EdgeccError as e:
        refusal = classify_error(e)
        opset = default_opset(model)
        if refusal is not None and "unsupported opset" in e.message and opset is not None \
                and opset < UPGRADE_OPSET:
            try:
                upgraded = upgrade_model(model)
            except Exception:
                raise UnsupportedModel(refusal) from e
            return import_model(upgraded, input_shapes, pipeline)
        if refusal is not None:
            raise UnsupportedModel(refusal) from e
        raise
    if pipeline:
        PassManager.parse(pipeline).run(module)
    return module


def _graph_inputs(model: ModelProto):
    inits = {t.name for t in model.graph.initializer}
    return [i for i in model.graph.input if i.name not in inits]


def _np_dtype(elem_type: int):
    try:
        return helper.tensor_dtype_to_np_dtype(elem_type)
    except Exception:
        return None


#: ONNX input slots that hold parameters (not data), frozen to constants when a model needs it;
#: integer-typed inputs at any slot >= 1 count as parameters too
PARAM_SLOTS: dict[str, frozenset[int]] = {k: frozenset(v) for k, v in {
    "Resize": (1, 2, 3), "Upsample": (1,), "Clip": (1, 2), "Pad": (1, 2, 3),
    "QuantizeLinear": (1, 2), "DequantizeLinear": (1, 2), "BatchNormalization": (1, 2, 3, 4),
    "InstanceNormalization": (1, 2), "LayerNormalization": (1, 2), "GroupNormalization": (1, 2),
    "Dropout": (1, 2), "LSTM": range(1, 8), "GRU": range(1, 6), "RNN": range(1, 6),
    "ConstantOfShape": (0,), "Range": (0, 1, 2), "Conv": (1, 2), "ConvTranspose": (1, 2),
    "PRelu": (1,),
}.items()}

_INT_TYPES = frozenset({2, 3, 4, 5, 6, 7, 12, 13})  # ONNX uint8 int8 uint16 int16 int32 int64 uint32 uint64


def parameter_inputs(model: ModelProto) -> list[str]:
    """Graph inputs that only feed parameter slots (see ``PARAM_SLOTS``), in input order."""
    inputs = _graph_inputs(model)
    uses: dict[str, list[tuple[str, int]]] = {i.name: [] for i in inputs}
    for node in model.graph.node:
        for slot, name in enumerate(node.input):
            if name in uses:
                uses[name].append((node.op_type, slot))
    outputs = {o.name for o in model.graph.output}
    chosen = []
    for i in inputs:
        is_int = i.type.tensor_type.elem_type in _INT_TYPES
        u = uses[i.name]
        if u and i.name not in outputs and all(
                slot in PARAM_SLOTS.get(op, ()) or (is_int and slot >= 1) for op, slot in u):
            chosen.append(i.name)
    return chosen


def _may_freeze(model: ModelProto, exc: EdgeccError) -> bool:
    """Whether a failed plain import is worth retrying with frozen parameter inputs."""
    if isinstance(exc, UnsupportedModel) and exc.refusal.kind == "unsupported-op":
        return False
    if any(not i.type.HasField("tensor_type") for i in _graph_inputs(model)):
        return False
    return bool(parameter_inputs(model))


def freeze_inputs(model: ModelProto, values: Mapping[str, np.ndarray]) -> ModelProto:
    """A copy of ``model`` where the graph inputs in ``values`` are initializers."""
    from onnx import numpy_helper

    frozen = ModelProto()
    frozen.CopyFrom(model)
    keep = [i for i in frozen.graph.input if i.name not in values]
    del frozen.graph.input[:]
    frozen.graph.input.extend(keep)
    for name, arr in values.items():
        frozen.graph.initializer.append(numpy_helper.from_array(np.asarray(arr), name))
    return frozen


def _to_argument(a: np.ndarray, element) -> np.ndarray:
    """A feed for an argument of ``element`` type (uint8 data re-expressed as int8 - 128)."""
    want = element.numpy
    if a.dtype == want:
        return a
    if a.dtype == np.uint8 and isinstance(element, QuantizedType) and want == np.int8:
        return (a.astype(np.int16) - 128).astype(np.int8)
    if np.can_cast(a.dtype, want, casting="same_kind"):
        return a.astype(want)
    return a


def _from_result(y: np.ndarray, element, dt) -> np.ndarray:
    """An output in the ONNX graph's declared dtype ``dt`` (int8 - 128 back to uint8)."""
    if dt is None or y.dtype == dt:
        return y
    if dt == np.uint8 and isinstance(element, QuantizedType) and y.dtype == np.int8:
        return (y.astype(np.int16) + 128).astype(np.uint8)
    return y.astype(dt)


def _bind(module: Module, named: dict[str, np.ndarray]) -> list[np.ndarray]:
    """Feeds in argument order: by name hint when every argument has a matching one, else by position."""
    from edgecc.ir.core import sanitize_hint

    args = module.func.arguments
    by_hint = {sanitize_hint(n): a for n, a in named.items()}
    if len(by_hint) == len(named) and all(arg.name_hint in by_hint for arg in args):
        return [by_hint[arg.name_hint] for arg in args]
    if len(args) != len(named):
        raise EdgeccError(f"the imported module takes {len(args)} inputs, the model declares {len(named)}")
    return list(named.values())


class EdgeccBackendRep(BackendRep):
    """A prepared model: ``run(inputs)`` returns the outputs as a namedtuple-dict.

    ``module`` is the module imported at prepare time (None when the model
    only imports with frozen parameter inputs; ``deferred`` then holds the
    error of the plain import).
    """

    def __init__(self, backend: type[EdgeccBackend], model: ModelProto, module: Module | None,
                 pipeline: str, deferred: EdgeccError | None = None) -> None:
        self.backend = backend
        self.model = model
        self.pipeline = pipeline
        self.deferred = deferred
        self.input_names = [i.name for i in _graph_inputs(model)]
        self.output_names = [o.name for o in model.graph.output]
        self.output_dtypes = [_np_dtype(o.type.tensor_type.elem_type) for o in model.graph.output]
        self.param_inputs = parameter_inputs(model) if module is None else []
        #: names of the inputs frozen to constants by the last ``run``
        self.frozen_inputs: list[str] = []
        self._cache: dict[Any, tuple[Module, Callable]] = {}
        self.module = module
        if module is not None:
            self._cache[self._plain_key(tuple(a.type.shape for a in module.func.arguments))] = (
                module, backend.compile_module(module))

    @staticmethod
    def _plain_key(shapes: tuple) -> tuple:
        return ("plain", shapes)

    def _order(self, inputs: Any) -> list[np.ndarray]:
        if isinstance(inputs, Mapping):
            missing = [n for n in self.input_names if n not in inputs]
            if missing:
                raise EdgeccError(f"missing input '{missing[0]}'")
            arrays = [np.asarray(inputs[n]) for n in self.input_names]
        elif isinstance(inputs, np.ndarray):
            arrays = [inputs]
        else:
            arrays = [np.asarray(x) for x in inputs]
        if len(arrays) != len(self.input_names):
            raise EdgeccError(f"expected {len(self.input_names)} inputs, got {len(arrays)}")
        return arrays

    def _entry(self, arrays: list[np.ndarray]) -> tuple[Module, Callable, dict[str, np.ndarray]]:
        """The compiled module for these inputs and the (ONNX name -> array) feeds left for it."""
        shapes = tuple(tuple(a.shape) for a in arrays)
        if self.deferred is None:
            key = self._plain_key(shapes)
            entry = self._cache.get(key)
            if entry is None:  # other shapes than at prepare time: specialise
                module = import_model(self.model, dict(zip(self.input_names, shapes)), self.pipeline)
                entry = self._cache[key] = (module, self.backend.compile_module(module))
            self.frozen_inputs = []
            return entry[0], entry[1], dict(zip(self.input_names, arrays))
        by_name = dict(zip(self.input_names, arrays))
        frozen = {n: by_name[n] for n in self.param_inputs}
        if not frozen:
            raise self.deferred
        rest = [n for n in self.input_names if n not in frozen]
        key = ("frozen", tuple((n, by_name[n].dtype.str, by_name[n].shape, by_name[n].tobytes())
                               for n in self.param_inputs), tuple(by_name[n].shape for n in rest))
        entry = self._cache.get(key)
        if entry is None:
            try:
                frozen_model = freeze_inputs(self.model, frozen)
            except Exception:  # e.g. element types numpy_helper cannot serialise
                raise self.deferred from None
            module = import_model(frozen_model,
                                  {n: by_name[n].shape for n in rest}, self.pipeline)
            entry = self._cache[key] = (module, self.backend.compile_module(module))
        self.frozen_inputs = list(frozen)
        return entry[0], entry[1], {n: by_name[n] for n in rest}

    def run(self, inputs: Any, **kwargs: Any) -> tuple[Any, ...]:
        module, runner, named = self._entry(self._order(inputs))
        arrays = _bind(module, named)
        feeds = [_to_argument(a, arg.type.element) for a, arg in zip(arrays, module.func.arguments)]
        outs = list(runner(feeds))
        final = []
        for y, v, dt in zip(outs, module.func.outputs, self.output_dtypes):
            final.append(_from_result(np.asarray(y), v.type.element, dt))
        return namedtupledict("Outputs", self.output_names)(*final)


class EdgeccBackend(Backend):
    """Base adapter: subclass (or use ``make_backend``) and set ``run_function`` or override
    ``compile_module``; ``pipeline`` is the pass pipeline run after import."""

    pipeline: str = DEFAULT_PIPELINE
    run_function: RunFunction | None = None

    @classmethod
    def compile_module(cls, module: Module) -> Callable[[list[np.ndarray]], list[np.ndarray]]:
        """Turn a prepared module into ``inputs -> outputs`` (default: call ``run_function``)."""
        run = cls.run_function
        if run is None:
            raise NotImplementedError(f"{cls.__name__} has neither run_function nor compile_module")
        return lambda inputs: run(module, inputs)

    @classmethod
    def is_compatible(cls, model: ModelProto, device: str = "CPU", **kwargs: Any) -> bool:
        return cls.supports_device(device)

    @classmethod
    def prepare(cls, model: ModelProto, device: str = "CPU", **kwargs: Any) -> EdgeccBackendRep:
        """Import and optimise ``model``.

        kwargs: ``pipeline`` (pass pipeline), ``input_shapes`` (name -> shape for
        dynamic inputs), ``freeze_inputs`` (default True: allow freezing parameter
        inputs at run time when the plain import fails).
        """
        if not cls.supports_device(device):
            raise EdgeccError(f"{cls.__name__} runs on CPU only, not '{device}'")
        pipeline = kwargs.get("pipeline", cls.pipeline)
        try:
            module = import_model(model, kwargs.get("input_shapes"), pipeline)
        except EdgeccError as e:
            if not kwargs.get("freeze_inputs", True) or not _may_freeze(model, e):
                raise
            return EdgeccBackendRep(cls, model, None, pipeline, deferred=e)
        return EdgeccBackendRep(cls, model, module, pipeline)

    @classmethod
    def run_model(cls, model: ModelProto, inputs: Any, device: str = "CPU", **kwargs: Any):
        return cls.prepare(model, device, **kwargs).run(inputs)

    @classmethod
    def run_node(cls, node: NodeProto, inputs: Any, device: str = "CPU",
                 outputs_info: Sequence[tuple[Any, tuple[int, ...]]] | None = None, **kwargs: Any):
        """Run one node on ``inputs`` (arrays for the node's non-empty inputs, in order)."""
        arrays = [np.asarray(x) for x in (inputs.values() if isinstance(inputs, Mapping) else inputs)]
        names = [n for n in node.input if n]
        graph_inputs = [helper.make_tensor_value_info(n, helper.np_dtype_to_tensor_dtype(a.dtype), a.shape)
                        for n, a in zip(names, arrays)]
        outputs = []
        for k, name in enumerate(node.output):
            if outputs_info is not None and k < len(outputs_info):
                dt, shape = outputs_info[k]
                outputs.append(helper.make_tensor_value_info(
                    name, helper.np_dtype_to_tensor_dtype(np.dtype(dt)), shape))
            else:
                outputs.append(helper.make_empty_tensor_value_info(name))
        graph = helper.make_graph([node], f"{node.op_type}_node", graph_inputs, outputs)
        opset = int(kwargs.pop("opset_version", 0) or 0)
        opsets = [helper.make_opsetid("", opset)] if opset else None
        model = helper.make_model(graph, opset_imports=opsets) if opsets else helper.make_model(graph)
        return cls.prepare(model, device, **kwargs).run(arrays)

    @classmethod
    def supports_device(cls, device: str) -> bool:
        return device.split(":", 1)[0].upper() == "CPU"


def make_backend(name: str, *, run: RunFunction | None = None, compile: CompileFunction | None = None,
                 pipeline: str = DEFAULT_PIPELINE) -> type[EdgeccBackend]:
    """A backend class executing prepared modules with ``run`` or ``compile`` (exactly one)."""
    if (run is None) == (compile is None):
        raise ValueError("make_backend needs exactly one of run= and compile=")
    ns: dict[str, Any] = {"pipeline": pipeline, "__doc__": f"edgecc ONNX backend executing with {name}."}
    if run is not None:
        ns["run_function"] = staticmethod(run)
    else:
        ns["compile_module"] = classmethod(lambda cls, module: compile(module))
    return type(name, (EdgeccBackend,), ns)


def _reference_run(module: Module, inputs: list[np.ndarray]) -> list[np.ndarray]:
    from edgecc.interp.reference import run

    return run(module, inputs)


#: the reference-interpreter backend
ReferenceBackend = make_backend("ReferenceBackend", run=_reference_run)
ReferenceBackendRep = EdgeccBackendRep

prepare = ReferenceBackend.prepare
run_model = ReferenceBackend.run_model
run_node = ReferenceBackend.run_node
supports_device = ReferenceBackend.supports_device

__all__ = ["DEFAULT_PIPELINE", "EdgeccBackend", "EdgeccBackendRep", "ReferenceBackend", "ReferenceBackendRep",
           "PARAM_SLOTS", "Refusal", "UnsupportedModel", "classify_error", "freeze_inputs", "import_model",
           "make_backend", "parameter_inputs", "prepare", "upgrade_model",
           "run_model", "run_node", "supports_device"]
