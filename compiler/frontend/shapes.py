"""Static shapes for every value of an ONNX graph.

1. ``onnx.shape_inference.infer_shapes(strict_mode=True, data_prop=True)`` on
   a lightweight copy of the graph (inputs fixed, stale value_info and output
   shapes dropped, large initializers turned into typed inputs).
2. Completion: a walk in topological order that folds constant subgraphs with
   ``edgecc.conversion.onnx_to_nn.fold`` (``Shape``, ``Gather``, ``Concat``,
   ``ConstantOfShape`` ...) and re-infers the nodes whose outputs are still not
   static with ``infer_node_outputs``, feeding it the folded constants.

The result maps every tensor name to ``(onnx element code, static shape)``.
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING, Any

import numpy as np

from edgecc.conversion.onnx_to_nn.fold import FOLDERS, TYPE_ONLY, FoldError, evaluate
from edgecc.ir.limits import MAX_DIM, MAX_TENSOR_BYTES, LimitError, check_shape

if TYPE_CHECKING:
    from edgecc.frontend.onnx_import import _Importer

#: initializers up to this many elements stay initializers during inference (shape data)
SMALL_INIT = 4096
#: folded constants are kept (and fed to inference) up to this many elements
FOLD_LIMIT = 1 << 16

Static = tuple[int, tuple[int, ...]]


def _static(tp) -> Static | None:
    """(elem, shape) of a TypeProto if fully static, else None."""
    if not tp.HasField("tensor_type"):
        return None
    tt = tp.tensor_type
    if tt.elem_type == 0 or not tt.HasField("shape"):
        return None
    dims = []
    for d in tt.shape.dim:
        if not d.HasField("dim_value"):
            return None
        dims.append(int(d.dim_value))
    return int(tt.elem_type), tuple(dims)


def _int64_bias_stand_ins(node, init_dims: dict, stand_ins: dict) -> None:
    """tf2onnx writes ``DequantizeLinear`` of int64 initializers (the biases of int16x8 models),
    which ONNX's type constraints do not list; legalization handles them like int32 biases. For
    inference only, such inputs are replaced by int32 stand-ins of the same shape."""
    from onnx import TensorProto

    if node.op_type != "DequantizeLinear" or init_dims.get(node.input[0], (0,))[0] != TensorProto.INT64:
        return
    for k in (0, 2):
        if k < len(node.input) and init_dims.get(node.input[k], (0,))[0] == TensorProto.INT64:
            stand = f"{node.input[k]}#as_int32"
            stand_ins[stand] = init_dims[node.input[k]][1]
            node.input[k] = stand


def _one_line(e: Exception) -> str:
    return " ".join(str(e).split())


def complete_shapes(imp: _Importer, fixed: dict[str, Static]) -> tuple[dict[str, Static], dict[str, np.ndarray]]:
    import onnx
    from onnx import helper, numpy_helper, shape_inference

    g = imp.graph
    nodes = list(g.node)
    display = {}
    from edgecc.frontend.onnx_import import node_display_name

    # --- 1. whole-graph inference on a light copy --------------------------------
    names_used: set[str] = set()
    infer_nodes = []
    init_dims = {t.name: (int(t.data_type), list(t.dims)) for t in g.initializer}
    stand_ins: dict[str, list[int]] = {}
    for i in imp.order:  # topological order: inference walks the nodes in sequence
        n = nodes[i]
        c = onnx.NodeProto()
        c.CopyFrom(n)
        _int64_bias_stand_ins(c, init_dims, stand_ins)
        name = node_display_name(n, i)
        if name in names_used:
            name = f"{name}#{i}"
        names_used.add(name)
        c.name = name
        display[name] = i
        infer_nodes.append(c)
    ginputs = []
    for inp in imp.inputs:
        code, shape = fixed[inp.name]
        ginputs.append(helper.make_tensor_value_info(inp.name, code, shape))
    for name, dims in stand_ins.items():
        ginputs.append(helper.make_tensor_value_info(name, onnx.TensorProto.INT32, dims))
    inits = []
    consts: dict[str, np.ndarray] = {}
    types: dict[str, Static] = {}
    for name, (code, shape) in fixed.items():
        types[name] = (code, shape)
    for t in g.initializer:
        n_el = int(np.prod(t.dims, dtype=np.int64)) if len(t.dims) else 1
        types[t.name] = (int(t.data_type), tuple(int(d) for d in t.dims))
        if n_el <= SMALL_INIT:
            inits.append(t)
            try:
                consts[t.name] = numpy_helper.to_array(t)
            except Exception:
                pass
        else:
            ginputs.append(helper.make_tensor_value_info(t.name, t.data_type, list(t.dims)))
    outputs = []
    for o in g.output:
        code = o.type.tensor_type.elem_type if o.type.HasField("tensor_type") else 0
        outputs.append(helper.make_tensor_value_info(o.name, code, None) if code else onnx.ValueInfoProto(
            name=o.name))
    graph = helper.make_graph(infer_nodes, g.name or "g", ginputs, outputs, inits)
    m = helper.make_model(graph, opset_imports=list(imp.model.opset_import),
                          ir_version=max(imp.model.ir_version, 7))
    _refuse_huge_outputs(imp, nodes, consts, types)
    inferred: dict[str, Static] = {}
    try:
        res = shape_inference.infer_shapes(m, check_type=True, strict_mode=True, data_prop=True)
    except Exception as e:
        raise _inference_error(imp, e, display, nodes) from None
    for vi in list(res.graph.value_info) + list(res.graph.output):
        s = _static(vi.type)
        if s is not None:
            inferred[vi.name] = s

    # --- 2. completion walk ---------------------------------------------------
    opset_imports = list(imp.model.opset_import)
    for idx in imp.order:
        node = nodes[idx]
        outs = [o for o in node.output if o]
        known = {o: inferred[o] for o in outs if o in inferred}
        ins = list(node.input)
        if len(known) < len(outs):
            try:
                schema = onnx.defs.get_schema(node.op_type, imp.opset, node.domain or "")
                in_types = {x: helper.make_tensor_type_proto(*types[x]) for x in ins if x and x in types}
                in_data = {x: numpy_helper.from_array(np.asarray(consts[x]), x) for x in ins
                           if x and x in consts and np.asarray(consts[x]).size <= FOLD_LIMIT}
                got = shape_inference.infer_node_outputs(schema, node, in_types, in_data,
                                                         opset_imports=opset_imports,
                                                         ir_version=max(imp.model.ir_version, 7))
            except Exception as e:
                raise imp.node_error(node, idx, f"shape inference failed: {_one_line(e)}") from None
            for o in outs:
                if o not in known and o in got:
                    s = _static(got[o])
                    if s is not None:
                        known[o] = s
        # fold constant subgraphs (small results only)
        if node.op_type in FOLDERS and all(o in known for o in outs) and \
                all(np.prod(known[o][1], dtype=np.int64) <= FOLD_LIMIT for o in outs):
            present = [x for x in ins if x]
            type_only = node.op_type in TYPE_ONLY
            if type_only or all(x in consts for x in present):
                arrays = [consts.get(x) if x else None for x in ins]
                shp = [types[x][1] if x and x in types else None for x in ins]
                attrs = _node_attrs(node, imp)
                try:
                    vals = evaluate(node.op_type, arrays, attrs, imp.opset, len(node.output), shp)
                    for o, v in zip(node.output, vals):
                        if o:
                            consts[o] = v
                except FoldError:
                    pass
        for o in outs:
            if o in consts and o not in known:
                known[o] = (types_code(consts[o]), tuple(consts[o].shape))
            if o not in known:
                raise imp.node_error(node, idx, f"cannot infer a static shape for tensor '{o}': it "
                                                "depends on values computed at run time (if an input "
                                                "dimension is dynamic, fix it with input_shapes / "
                                                "--input-shape)")
            code, shape = known[o]
            try:
                check_shape(shape, _bits(code))
            except LimitError as e:
                raise imp.node_error(node, idx, f"output '{o}': {e.message}") from None
            if any(d == 0 for d in shape) and o not in consts:
                raise imp.node_error(node, idx, f"tensor '{o}' has a zero-sized dimension "
                                                f"({'x'.join(map(str, shape))})")
            types[o] = known[o]
    for o in g.output:
        if o.name not in types:
            raise imp.node_error(nodes[0], 0, f"graph output '{o.name}' has no static type")
    return types, consts


def _bits(code: int) -> int:
    from onnx import helper

    try:
        return np.dtype(helper.tensor_dtype_to_np_dtype(code)).itemsize * 8
    except Exception:  # string, unknown codes: count one byte per element
        return 8


def _refuse_huge_outputs(imp, nodes, consts, types) -> None:
    """Refuse, before ONNX inference sees them, nodes whose constant inputs ask for a huge output.

    ONNX's shape inference and edgecc's folding both materialise Tile, Expand,
    ConstantOfShape and Range results; 2^40 elements would hang or exhaust memory.
    """
    def const(k, node):
        name = node.input[k] if len(node.input) > k else ""
        return np.asarray(consts[name]) if name in consts else None

    for idx in imp.order:
        node = nodes[idx]
        op = node.op_type
        count = None
        if op in ("Tile", "Expand", "ConstantOfShape"):
            arg = const(0 if op == "ConstantOfShape" else 1, node)
            if arg is None or arg.dtype.kind not in "iu":
                continue
            values = [int(v) for v in arg.reshape(-1)]
            if any(v < 0 for v in values):
                raise imp.node_error(node, idx, f"negative {'repeats' if op == 'Tile' else 'shape'} "
                                                f"{values}")
            count = 1
            for v in values:
                count *= v
            base = types.get(node.input[0]) if op == "Tile" and node.input else None
            if base is not None:
                for d in base[1]:
                    count *= max(int(d), 1)
            if any(v > MAX_DIM for v in values):
                count = None
                raise imp.node_error(node, idx, f"{'repeats' if op == 'Tile' else 'shape'} {values} "
                                                f"exceed the dimension limit {MAX_DIM} (set EDGECC_MAX_DIM "
                                                "to raise it)")
        elif op == "Range":
            start, limit, delta = (const(k, node) for k in range(3))
            if start is None or limit is None or delta is None:
                continue
            s, lim, d = (float(np.asarray(a).reshape(-1)[0]) for a in (start, limit, delta))
            if d == 0 or not all(np.isfinite((s, lim, d))):
                raise imp.node_error(node, idx, f"Range({s}, {lim}, {d}) has no finite length")
            count = max(int(np.ceil((lim - s) / d)), 0)
        if count is None:
            continue
        src = node.input[0] if node.input and op != "ConstantOfShape" else ""
        nbytes = count * (_bits(types[src][0]) // 8 if src in types else 4)
        if nbytes > MAX_TENSOR_BYTES:
            raise imp.node_error(node, idx, f"output of {count:,} elements ({nbytes:,} bytes) is over "
                                            f"the limit of {MAX_TENSOR_BYTES:,} bytes (set "
                                            "EDGECC_MAX_TENSOR_BYTES to raise it)")


def types_code(arr: np.ndarray) -> int:
    from onnx import helper

    return int(helper.np_dtype_to_tensor_dtype(np.asarray(arr).dtype))


def _node_attrs(node, imp) -> dict[str, Any]:
    from edgecc.frontend.onnx_import import convert_attribute

    out = {}
    for a in node.attribute:
        v = convert_attribute(a, imp.file, node.name)
        if v is not None:
            out[a.name] = v
    return out


_NODE_RE = re.compile(r"node name: ([^)]*)\)|node name ([^.\s]+)")


def _inference_error(imp, e: Exception, display: dict[str, int], nodes):
    text = _one_line(e)
    m = _NODE_RE.search(text)
    name = (m.group(1) or m.group(2)).strip() if m else None
    # drop the bracketed prefixes and the "(op_type:X, node name: Y)" part, which we print ourselves
    msg = re.sub(r"\(op_type:[^)]*\):?\s*", "", text)
    msg = re.sub(r"\[[A-Za-z]+Error\]\s*", "", msg).strip()
    if name is not None and name in display:
        i = display[name]
        return imp.node_error(nodes[i], i, f"shape/type inference failed: {msg}")
    from edgecc.frontend.onnx_import import _fail

    return _fail(imp.file, f"shape/type inference failed: {msg}")
