"""ONNX -> ``onnx`` dialect: read, validate, fix shapes, emit one generic op per node.

Stages (each failure is a one-line ``EdgeccError`` naming the file, and the
node where there is one):

1. **read**: the file (or a ``ModelProto``/bytes), its SHA-256, protobuf
   decoding; external data is read only from files inside the model's folder.
2. **opset**: the default-domain opset must be 11 .. ``onnx.defs.onnx_opset_version()``;
   models at opset 7..10 are upgraded to 11 with ``onnx.version_converter``
   (with a warning), anything else is refused.
3. **graph checks**: every node input is a graph input, an initializer or a
   node output; the graph is a DAG (nodes are sorted topologically here, so
   any DAG order is accepted); every op type exists in the ONNX opset.
4. **inputs**: dynamic dims fixed from ``input_shapes``; an unknown leading
   (batch) dim defaults to 1 with a warning; other unknown dims are an error.
5. **shapes** (``edgecc.frontend.shapes``): ONNX shape inference in strict
   mode with data propagation, then completion by folding shape subgraphs,
   so every value has a static shape and element type.
6. **emit**: initializers -> ``builtin.constant`` (resource = sanitized
   initializer name), nodes -> ``onnx.<OpType>`` with the ONNX attributes
   verbatim, located at ``loc(node_name(file))``.
"""

from __future__ import annotations

import hashlib
import re
import warnings
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from edgecc.ir.attrs import DenseElements
from edgecc.ir.builder import Builder
from edgecc.ir.core import Func, Module, Value
from edgecc.ir.diagnostics import EdgeccError, Location
from edgecc.ir.limits import MAX_FILE_BYTES, check_regular_file, check_shape, read_file
from edgecc.ir.spec import create_op
from edgecc.conversion.onnx_to_nn.onnx_types import onnx_element, onnx_type_name, sanitize_symbol
from edgecc.ir.types import TensorType


#: lowest default-domain opset imported as is
MIN_OPSET = 11
#: lowest opset upgraded to MIN_OPSET with onnx.version_converter
MIN_UPGRADE_OPSET = 7
DEFAULT_DOMAINS = ("", "ai.onnx")


class OnnxImportError(EdgeccError):
    """A model could not be imported; the message starts with the model file name."""

    def format(self) -> str:
        return f"error: {self.message}"


def node_display_name(node, index: int) -> str:
    return node.name or f"{node.op_type}_{index}"


# ------------------------------------------------------------------ reading
@dataclass
class Source:
    model: Any  # onnx.ModelProto
    file: str  # display name, used in locations and messages
    sha256: str
    base_dir: Path | None


def _fail(file: str, msg: str) -> OnnxImportError:
    return OnnxImportError(f"{file}: {msg}")


def read_model(path_or_model) -> Source:
    """Read and decode a model (path, bytes or ModelProto), loading checked external data."""
    import onnx
    from google.protobuf.message import DecodeError

    if isinstance(path_or_model, onnx.ModelProto):
        model = path_or_model
        data = model.SerializeToString()
        file = sanitize_symbol(model.graph.name, "model") + ".onnx"
        base = None
    else:
        if isinstance(path_or_model, (bytes, bytearray)):
            data, file, base = bytes(path_or_model), "model.onnx", None
        else:
            path = Path(path_or_model)
            file = path.name
            if not path.exists() and not path.is_symlink():
                raise _fail(file, f"cannot read model: no such file '{path}'")
            try:
                data = read_file(path, "model")
            except EdgeccError as e:
                raise OnnxImportError(e.message) from None
            base = path.resolve().parent
        model = onnx.ModelProto()
        try:
            model.ParseFromString(data)
        except (DecodeError, ValueError, RuntimeError) as e:
            detail = " ".join(str(e).split()) or "protobuf decoding failed"
            raise _fail(file, f"not a valid ONNX model ({detail})") from e
        except Exception as e:  # protobuf implementations raise assorted errors
            raise _fail(file, f"not a valid ONNX model ({type(e).__name__}: {e})") from e
    if not model.HasField("graph") or not model.opset_import or model.ir_version <= 0:
        missing = "graph" if not model.HasField("graph") else (
            "opset_import" if not model.opset_import else "ir_version")
        raise _fail(file, f"not a valid ONNX model (no {missing}; truncated or not an ONNX file?)")
    if len(model.graph.output) == 0:
        raise _fail(file, "not a valid ONNX model (the graph has no outputs; truncated?)")
    sha = hashlib.sha256(data).hexdigest()
    load_external_data(model, base, file)
    return Source(model, file, sha, base)


def _all_tensors(graph):
    """Every TensorProto in a graph: initializers and tensor attributes, recursively."""
    from onnx import AttributeProto

    yield from graph.initializer
    for node in graph.node:
        for a in node.attribute:
            if a.type == AttributeProto.TENSOR:
                yield a.t
            elif a.type == AttributeProto.TENSORS:
                yield from a.tensors
            elif a.type == AttributeProto.GRAPH:
                yield from _all_tensors(a.g)
            elif a.type == AttributeProto.GRAPHS:
                for g in a.graphs:
                    yield from _all_tensors(g)


def load_external_data(model, base: Path | None, file: str) -> None:
    """Read external tensor data, refusing locations outside the model's folder."""
    from onnx import TensorProto

    for t in _all_tensors(model.graph):
        if t.data_location != TensorProto.EXTERNAL:
            continue
        info = {e.key: e.value for e in t.external_data}
        location = info.get("location", "")
        what = f"external data of tensor '{t.name}'"
        if base is None:
            raise _fail(file, f"{what} is in '{location}', but the model was not given as a path")
        if any(ord(c) < 32 or ord(c) == 127 for c in location):
            raise _fail(file, f"{what}: location {location!r} contains control characters (refused)")
        loc = Path(location)
        if not location or loc.is_absolute() or location.startswith(("/", "\\")) or ".." in loc.parts \
                or re.match(r"^[A-Za-z]:", location):
            raise _fail(file, f"{what}: location '{location}' escapes the model's folder (refused)")
        full = (base / loc).resolve()
        if not full.is_relative_to(base):
            raise _fail(file, f"{what}: location '{location}' escapes the model's folder through a "
                              "symlink (refused)")
        if not full.exists():
            raise _fail(file, f"{what}: file '{location}' not found next to the model")
        try:
            size = check_regular_file(full, what).st_size
        except EdgeccError as e:
            raise _fail(file, f"{what}: {e.message.split(': ', 1)[-1]}") from None
        offset = _external_int(info, "offset", file, what)
        length = _external_int(info, "length", file, what)
        if offset > size or (length is not None and offset + length > size):
            raise _fail(file, f"{what}: '{location}' ({size:,} bytes) is shorter than offset {offset:,}"
                              f" + length {length if length is not None else 0:,}")
        try:
            with open(full, "rb") as fh:
                fh.seek(offset)
                raw = fh.read(length if length is not None else size - offset)
        except OSError as e:
            raise _fail(file, f"{what}: cannot read '{location}': {e.strerror or e}") from None
        if length is not None and len(raw) != length:
            raise _fail(file, f"{what}: '{location}' is shorter than offset {offset} + length {length}")
        t.raw_data = raw
        del t.external_data[:]
        t.data_location = TensorProto.DEFAULT


def _external_int(info: dict, key: str, file: str, what: str) -> int | None:
    """``offset``/``length`` of external data: a decimal integer in [0, MAX_FILE_BYTES], or absent."""
    raw = info.get(key)
    if raw is None or (key == "offset" and raw == ""):
        return 0 if key == "offset" else None
    if not raw.isascii() or not raw.isdigit() or int(raw) > MAX_FILE_BYTES:
        raise _fail(file, f"{what}: {key} {raw!r} is not a byte count between 0 and {MAX_FILE_BYTES:,}")
    return int(raw)


# ------------------------------------------------------------------ opsets
def default_opset(model) -> int | None:
    for o in model.opset_import:
        if o.domain in DEFAULT_DOMAINS:
            return int(o.version)
    return None


def check_opset(src: Source) -> int:
    import onnx
    from onnx import version_converter

    latest = onnx.defs.onnx_opset_version()
    opset = default_opset(src.model)
    if opset is None:
        raise _fail(src.file, "model imports no default ONNX opset (ai.onnx)")
    if MIN_OPSET <= opset <= latest:
        return opset
    if MIN_UPGRADE_OPSET <= opset < MIN_OPSET:
        msg = f"{src.file}: opset {opset} upgraded to {MIN_OPSET} with onnx.version_converter"
        warnings.warn(msg, stacklevel=3)

        try:
            src.model = version_converter.convert_version(src.model, MIN_OPSET)
        except Exception as e:
            detail = " ".join(str(e).split())
            raise _fail(src.file, f"unsupported opset {opset} (supported: {MIN_OPSET} to {latest}); "
                                  f"upgrading it failed: {detail}") from e
        return MIN_OPSET
    raise _fail(src.file, f"unsupported opset {opset} (supported: {MIN_OPSET} to {latest}, and "
                          f"{MIN_UPGRADE_OPSET} to {MIN_OPSET - 1} by upgrade)")


# ------------------------------------------------------------------ attributes
def convert_attribute(a, file: str, where: str) -> Any:
    """An ONNX AttributeProto as an IR attribute value."""
    from onnx import AttributeProto, numpy_helper

    t = a.type
    if t == AttributeProto.INT:
        return int(a.i)
    if t == AttributeProto.FLOAT:
        return float(a.f)
    if t == AttributeProto.STRING:
        return a.s.decode("utf-8", errors="replace")
    if t == AttributeProto.INTS:
        return tuple(int(v) for v in a.ints)
    if t == AttributeProto.FLOATS:
        return tuple(float(v) for v in a.floats)
    if t == AttributeProto.STRINGS:
        return tuple(s.decode("utf-8", errors="replace") for s in a.strings)
    if t == AttributeProto.TENSOR:
        elem = onnx_element(a.t.data_type)
        if elem is None:
            raise _fail(file, f"{where}: attribute '{a.name}' holds a tensor of unsupported element type "
                              f"{onnx_type_name(a.t.data_type)}")
        arr = numpy_helper.to_array(a.t)
        return DenseElements(arr, TensorType(arr.shape, elem))
    if t in (AttributeProto.GRAPH, AttributeProto.GRAPHS):
        return "<subgraph>"
    return None  # sparse tensors, type protos...: dropped (their ops are unsupported anyway)


# ------------------------------------------------------------------ importer
def load_onnx(path_or_model, input_shapes: Mapping[str, tuple] | None = None) -> Module:
    """Import an ONNX model into a ``Module`` of ``onnx.*`` ops with static shapes.

    ``input_shapes`` fixes the shapes of graph inputs by name (dynamic dims,
    or a different batch); an unknown leading dim otherwise defaults to 1
    with a warning.
    """
    src = read_model(path_or_model)
    opset = check_opset(src)
    return _Importer(src, opset, dict(input_shapes or {})).run()


class _Importer:
    def __init__(self, src: Source, opset: int, input_shapes: dict[str, tuple]) -> None:
        self.src = src
        self.file = src.file
        self.model = src.model
        self.graph = src.model.graph
        self.opset = opset
        self.input_shapes = input_shapes

    # -- errors ------------------------------------------------------------
    def node_error(self, node, index: int, msg: str) -> OnnxImportError:
        return _fail(self.file, f"node '{node_display_name(node, index)}' ({node.op_type}, opset "
                                f"{self.opset}): {msg}")

    def input_error(self, name: str, msg: str) -> OnnxImportError:
        """An error about graph input ``name``, located at the first node reading it."""
        for i, n in enumerate(self.graph.node):
            if name in n.input:
                return self.node_error(n, i, f"input '{name}' {msg}")
        return _fail(self.file, f"input '{name}' {msg}")

    # -- stages ------------------------------------------------------------
    def run(self) -> Module:
        from edgecc.frontend import shapes

        g = self.graph
        self.init_names = {t.name for t in g.initializer}
        self.inputs = [i for i in g.input if i.name not in self.init_names]
        self.order = self.check_graph()
        self.check_ops()
        for t in g.initializer:  # declared sizes, before any of them is decoded
            try:
                check_shape(tuple(int(d) for d in t.dims), 8)
            except EdgeccError as e:
                raise _fail(self.file, f"initializer '{t.name}': {e.message}") from None
        fixed = self.fix_input_shapes()
        self.types, self.consts = shapes.complete_shapes(self, fixed)
        return self.emit(fixed)

    def check_graph(self) -> list[int]:
        """Check producers and acyclicity; return node indices in topological order."""
        g = self.graph
        nodes = list(g.node)
        seen: set[str] = set()
        for i in g.input:  # (ONNX requires unique names; a repeated one would silently alias)
            if i.name in seen:
                raise _fail(self.file, f"graph input '{i.name}' is declared more than once")
            seen.add(i.name)
        available = set(self.init_names) | {i.name for i in self.inputs}
        producer: dict[str, int] = {}
        for i, n in enumerate(nodes):
            for o in n.output:
                if not o:
                    continue
                if o in producer or o in available:
                    raise self.node_error(n, i, f"tensor '{o}' is defined more than once")
                producer[o] = i
        for i, n in enumerate(nodes):
            for name in n.input:
                if name and name not in available and name not in producer:
                    raise self.node_error(n, i, f"missing initializer or producer for '{name}'")
        for o in g.output:
            if o.name not in available and o.name not in producer:
                raise _fail(self.file, f"graph output '{o.name}' has no producer")
        # Kahn's algorithm, stable with respect to the file's node order
        deps = [{producer[x] for x in n.input if x in producer} for n in nodes]
        users: dict[int, list[int]] = {i: [] for i in range(len(nodes))}
        for i, d in enumerate(deps):
            for j in d:
                users[j].append(i)
        indeg = [len(d) for d in deps]
        import heapq

        ready = [i for i, d in enumerate(indeg) if d == 0]
        heapq.heapify(ready)
        order: list[int] = []
        while ready:
            i = heapq.heappop(ready)
            order.append(i)
            for u in users[i]:
                indeg[u] -= 1
                if indeg[u] == 0:
                    heapq.heappush(ready, u)
        if len(order) != len(nodes):
            stuck = min(i for i in range(len(nodes)) if indeg[i] > 0)
            cyc = self._cycle_from(stuck, deps, indeg)
            names = " -> ".join(f"'{node_display_name(nodes[i], i)}'" for i in cyc)
            raise self.node_error(nodes[cyc[0]], cyc[0], f"the graph has a cycle ({names})")
        return order

    @staticmethod
    def _cycle_from(start: int, deps, indeg) -> list[int]:
        """Follow unresolved dependencies from ``start`` until a node repeats."""
        path: list[int] = []
        seen: dict[int, int] = {}
        cur = start
        while cur not in seen:
            seen[cur] = len(path)
            path.append(cur)
            cur = min(d for d in deps[cur] if indeg[d] > 0)
        cyc = path[seen[cur]:]
        return cyc + [cyc[0]]

    def check_ops(self) -> None:
        import onnx

        for i, n in enumerate(self.graph.node):
            if n.domain not in DEFAULT_DOMAINS:
                raise self.node_error(n, i, f"unsupported op (domain '{n.domain}'); supported: "
                                            f"{self._supported_text()}")
            if not onnx.defs.has(n.op_type):
                raise self.node_error(n, i, f"unknown op: '{n.op_type}' is not an ONNX operator; "
                                            f"supported: {self._supported_text()}")
            try:
                onnx.defs.get_schema(n.op_type, self.opset)
            except Exception:
                raise self.node_error(n, i, f"op '{n.op_type}' does not exist in opset {self.opset}; "
                                            f"supported: {self._supported_text()}") from None

    @staticmethod
    def _supported_text() -> str:
        from edgecc.conversion.onnx_to_nn import SUPPORTED_OPS

        return ", ".join(SUPPORTED_OPS)

    def fix_input_shapes(self) -> dict[str, tuple[int, tuple[int, ...]]]:
        """Static (element code, shape) of every graph input."""
        fixed: dict[str, tuple[int, tuple[int, ...]]] = {}
        names = [i.name for i in self.inputs]
        for key in self.input_shapes:
            if key not in names:
                raise _fail(self.file, f"input_shapes names '{key}', which is not a graph input "
                                       f"(inputs: {', '.join(names) or 'none'})")
        for inp in self.inputs:
            tt = inp.type.tensor_type if inp.type.HasField("tensor_type") else None
            if tt is None:
                raise self.input_error(inp.name, "is not a tensor")
            given = self.input_shapes.get(inp.name)
            if not tt.HasField("shape"):
                if given is None:
                    raise self.input_error(inp.name, "has no shape; give it with input_shapes / "
                                                     "--input-shape")
                dims: list[int | None] = [None] * len(given)
            else:
                dims = [d.dim_value if d.HasField("dim_value") else None for d in tt.shape.dim]
            if given is not None:
                given = tuple(int(d) for d in given)
                if len(given) != len(dims):
                    raise _fail(self.file, f"input_shapes gives '{inp.name}' rank {len(given)}, but the "
                                           f"model declares rank {len(dims)}")
                for k, (d, gv) in enumerate(zip(dims, given)):
                    if d is not None and d != gv:
                        raise _fail(self.file, f"input_shapes gives '{inp.name}' dim {k} = {gv}, but the "
                                               f"model fixes it to {d}")
                dims = list(given)
            for k, d in enumerate(dims):
                if d is None:
                    if k == 0:
                        msg = (f"{self.file}: input '{inp.name}' has a dynamic batch dimension; "
                               f"using 1 (change it with --input-shape {inp.name}=N{'x...' if len(dims) > 1 else ''};"
                               " in Python, input_shapes=)")
                        warnings.warn(msg, stacklevel=4)

                        dims[0] = 1
                    else:
                        raise self.input_error(inp.name, f"has a dynamic dimension {k}; give its shape "
                                                         "with input_shapes / --input-shape")
            if any(d <= 0 for d in dims):
                raise self.input_error(inp.name, f"has a zero-sized dimension ({'x'.join(map(str, dims))})")
            try:
                check_shape(tuple(dims), 8)
            except EdgeccError as e:
                raise self.input_error(inp.name, f"is too large: {e.message}") from None
            fixed[inp.name] = (int(tt.elem_type), tuple(int(d) for d in dims))
        return fixed

    # -- emission ------------------------------------------------------------
    def ir_type(self, name: str, node=None, index: int = 0) -> TensorType:
        code, shape = self.types[name]
        elem = onnx_element(code)
        if elem is None:
            msg = f"tensor '{name}' has unsupported element type {onnx_type_name(code)}"
            if node is not None:
                raise self.node_error(node, index, msg)
            raise _fail(self.file, msg)
        try:
            return TensorType(shape, elem)
        except EdgeccError as e:
            if node is not None:
                raise self.node_error(node, index, f"tensor '{name}': {e.message}") from None
            raise self.input_error(name, f"({e.message})") from None

    def emit(self, fixed) -> Module:
        from onnx import numpy_helper

        from edgecc.dialects.builtin import ConstantOp

        g = self.graph
        func = Func("main")
        values: dict[str, Value] = {}
        for inp in self.inputs:
            code, shape = fixed[inp.name]
            elem = onnx_element(code)
            if elem is None:
                raise self.input_error(inp.name, f"has unsupported element type {onnx_type_name(code)}")
            values[inp.name] = func.add_argument(TensorType(shape, elem), inp.name)
        b = Builder(func)

        used = {x for n in g.node for x in n.input} | {o.name for o in g.output}
        for t in g.initializer:
            if t.name not in used or t.name in values:
                continue
            elem = onnx_element(t.data_type)
            if elem is None:
                raise _fail(self.file, f"initializer '{t.name}' has unsupported element type "
                                       f"{onnx_type_name(t.data_type)}")
            try:
                arr = numpy_helper.to_array(t)
            except Exception as e:
                raise _fail(self.file, f"initializer '{t.name}' cannot be read: "
                                       f"{' '.join(str(e).split())}") from e
            dense = DenseElements(arr, TensorType(arr.shape, elem), resource=sanitize_symbol(t.name, "w"))
            op = ConstantOp.from_array(dense, loc=Location(name=t.name, file=self.file), name=t.name)
            values[t.name] = b.insert(op).result

        nodes = list(g.node)
        for idx in self.order:
            node = nodes[idx]
            where = f"node '{node_display_name(node, idx)}' ({node.op_type}, opset {self.opset})"
            attrs: dict[str, Any] = {}
            for a in node.attribute:
                v = convert_attribute(a, self.file, where)
                if v is not None:
                    attrs[a.name] = v
            operands: list[Value] = []
            absent: list[int] = []
            ins = list(node.input)
            while ins and not ins[-1]:
                ins.pop()
            for k, name in enumerate(ins):
                if not name:
                    absent.append(k)
                else:
                    operands.append(values[name])
            if absent:
                attrs["onnx.absent_inputs"] = tuple(absent)
            outs = list(node.output)
            while outs and not outs[-1]:
                outs.pop()
            result_types, result_names, absent_out = [], [], []
            for k, name in enumerate(outs):
                if not name:
                    absent_out.append(k)
                    continue
                result_types.append(self.ir_type(name, node, idx))
                result_names.append(name)
            if absent_out:
                attrs["onnx.absent_results"] = tuple(absent_out)
            if node.domain not in DEFAULT_DOMAINS:
                attrs["onnx.domain"] = node.domain
            loc = Location(name=node_display_name(node, idx), file=self.file)
            op = create_op(f"onnx.{node.op_type}", operands, result_types, attrs, loc, result_names)
            b.insert(op)
            for name, r in zip(result_names, op.results):
                values[name] = r
        b.ret(*[values[o.name] for o in g.output])
        name = sanitize_symbol(g.name, "model")
        attrs = {"edgecc.source": self.file, "edgecc.source_sha256": self.src.sha256,
                 "onnx.opset": self.opset}
        return Module(func, name=name, attrs=attrs)


__all__ = ["OnnxImportError", "Source", "load_onnx", "onnx_element", "read_model", "sanitize_symbol"]
