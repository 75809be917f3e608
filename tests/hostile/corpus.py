"""The hostile-input corpus: generated files and argument lists that must fail cleanly.

Each ``Case`` writes its input into a temporary folder and names the tools
it goes through (``inspect``, the main compile, ``run``). Model cases are
small ONNX graphs with one impossible property each, bad files, bad
external data, malformed .tflite flatbuffers, malformed IR text and bad
calibration data; CLI cases are hostile arguments to a valid model.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

TOOLS = ("inspect", "compile", "run")


@dataclass
class Case:
    id: str
    #: writes the input into the folder and returns the model path
    make: Callable[[Path], Path]
    tools: tuple[str, ...] = TOOLS
    #: extra arguments of the main compile (``{tmp}`` is the folder)
    compile_args: tuple[str, ...] = ()
    #: a custom argument list (CLI cases); ``{tmp}``/``{out}``/``{model}`` are substituted
    argv: tuple[str, ...] | None = None
    #: texts the error line must contain (the file name is added for model cases)
    names: tuple[str, ...] = ()
    #: exit 0 is acceptable too (the input is odd but well-defined)
    accept_ok: bool = False
    skip: str | None = None
    #: the error line must name the model file (not for hostile-argument cases)
    name_model: bool = True
    extra: dict = field(default_factory=dict)


# ------------------------------------------------------------------ ONNX helpers
def _onnx():
    import onnx
    from onnx import helper

    return onnx, helper


def graph_model(nodes, inputs, outputs, inits=(), opset=17):
    onnx, helper = _onnx()
    g = helper.make_graph(nodes, "g", inputs, outputs, list(inits))
    m = helper.make_model(g, opset_imports=[helper.make_opsetid("", opset)])
    m.ir_version = 8
    return m


def vi(name, shape, elem=1):
    _, helper = _onnx()
    return helper.make_tensor_value_info(name, elem, shape)


def init(name, array):
    from onnx import numpy_helper

    return numpy_helper.from_array(np.asarray(array), name)


def node(op, ins, outs, name=None, **attrs):
    _, helper = _onnx()
    return helper.make_node(op, ins, outs, name=name or f"{op.lower()}_node", **attrs)


def relu_model(shape=(1, 3, 4, 4)):
    return graph_model([node("Relu", ["x"], ["y"], "relu")], [vi("x", list(shape))], [vi("y", None)])


def conv_model(x_shape=(1, 3, 4, 4), w_shape=(4, 3, 3, 3), **attrs):
    w = np.ones(w_shape, np.float32) if all(d < 1 << 16 for d in w_shape) and np.prod(w_shape) < 1 << 20 \
        else np.ones((1,), np.float32)
    return graph_model([node("Conv", ["x", "w"], ["y"], "conv", **attrs)], [vi("x", list(x_shape))],
                       [vi("y", None)], [init("w", w)])


def save_model(m, name="model.onnx"):
    def make(tmp: Path) -> Path:
        p = tmp / name
        p.write_bytes(m().SerializeToString() if callable(m) else m.SerializeToString())
        return p
    return make


def raw_bytes(data: bytes, name="model.onnx"):
    def make(tmp: Path) -> Path:
        p = tmp / name
        p.write_bytes(data)
        return p
    return make


# ------------------------------------------------------------------ file cases
def _fifo(name):
    def make(tmp: Path) -> Path:
        p = tmp / name
        os.mkfifo(p)
        return p
    return make


def _symlink(name, target):
    def make(tmp: Path) -> Path:
        p = tmp / name
        p.symlink_to(target if target != "LOOP" else p)
        return p
    return make


def _dir(name):
    def make(tmp: Path) -> Path:
        p = tmp / name
        p.mkdir()
        return p
    return make


def file_cases() -> list[Case]:
    valid = relu_model().SerializeToString()
    rng = np.random.default_rng(14)
    cases = [Case("empty.onnx", raw_bytes(b"")),
             Case("nul.onnx", raw_bytes(b"\x00" * 64)),
             Case("text.onnx", raw_bytes(b"ir_version: 8\n")),
             Case("ff.onnx", raw_bytes(b"\xff" * 100))]
    for i, cut in enumerate((1, 5, 17, len(valid) // 3, len(valid) // 2, len(valid) - 1)):
        cases.append(Case(f"truncated-{i}.onnx", raw_bytes(valid[:cut])))
    for i in range(6):
        cases.append(Case(f"garbage-{i}.onnx", raw_bytes(rng.integers(0, 256, 50 + 97 * i, np.uint8).tobytes())))
    for ext in ("onnx", "tflite", "mlir"):
        cases.append(Case(f"fifo.{ext}", _fifo(f"fifo.{ext}")))
        cases.append(Case(f"devzero.{ext}", _symlink(f"devzero.{ext}", "/dev/zero")))
        cases.append(Case(f"loop.{ext}", _symlink(f"loop.{ext}", "LOOP")))
        cases.append(Case(f"dir.{ext}", _dir(f"dir.{ext}")))
        cases.append(Case(f"dangling.{ext}", _symlink(f"dangling.{ext}", "nowhere/at/all")))
    cases.append(Case("devnull.onnx", _symlink("devnull.onnx", "/dev/null")))
    cases.append(Case("proc.onnx", _symlink("proc.onnx", "/proc/self/status")))
    cases.append(Case("unknown.pt", raw_bytes(valid, "model.pt")))
    cases.append(Case("onnx-named-tflite", raw_bytes(valid, "model.tflite")))
    return cases


# ------------------------------------------------------------------ impossible shapes
def shape_cases() -> list[Case]:
    big = 1 << 40
    c = [
        Case("conv-kernel-larger", save_model(lambda: conv_model((1, 3, 4, 4), (4, 3, 7, 7))), names=("conv",)),
        Case("conv-stride-0", save_model(lambda: conv_model(strides=[0, 0])), names=("conv",)),
        Case("conv-dilation-0", save_model(lambda: conv_model(dilations=[0, 0])), names=("conv",)),
        Case("conv-group-0", save_model(lambda: conv_model(group=0)), names=("conv",)),
        Case("conv-group-5", save_model(lambda: conv_model(group=5)), names=("conv",)),
        Case("conv-negative-pads", save_model(lambda: conv_model(pads=[-9, -9, -9, -9])), names=("conv",)),
        Case("conv-huge-pads", save_model(lambda: conv_model(pads=[1 << 40] * 4)), names=("conv",)),
        Case("conv-kernel-shape-lies", save_model(lambda: conv_model(kernel_shape=[5, 5])), names=("conv",)),
        Case("conv-1d-weights", save_model(lambda: conv_model(w_shape=(4, 3))), names=("conv",)),
        Case("pool-kernel-larger", save_model(lambda: graph_model(
            [node("MaxPool", ["x"], ["y"], "pool", kernel_shape=[9, 9])], [vi("x", [1, 3, 4, 4])],
            [vi("y", None)])), names=("pool",)),
        Case("pool-kernel-0", save_model(lambda: graph_model(
            [node("MaxPool", ["x"], ["y"], "pool", kernel_shape=[0, 0])], [vi("x", [1, 3, 4, 4])],
            [vi("y", None)])), names=("pool",)),
        Case("pool-stride-0", save_model(lambda: graph_model(
            [node("AveragePool", ["x"], ["y"], "pool", kernel_shape=[2, 2], strides=[0, 0])],
            [vi("x", [1, 3, 4, 4])], [vi("y", None)])), names=("pool",)),
        Case("pad-crops-all", save_model(lambda: graph_model(
            [node("Pad", ["x", "p"], ["y"], "pad")], [vi("x", [1, 3, 4, 4])], [vi("y", None)],
            [init("p", np.array([0, 0, -3, -3, 0, 0, -3, -3], np.int64))])), names=("pad",)),
        Case("pad-huge", save_model(lambda: graph_model(
            [node("Pad", ["x", "p"], ["y"], "pad")], [vi("x", [1, 3, 4, 4])], [vi("y", None)],
            [init("p", np.array([0, 0, big, big, 0, 0, big, big], np.int64))])), names=("pad",)),
        Case("dim-2^63", save_model(lambda: relu_model((1, 3, (1 << 63) - 1, 4)))),
        Case("dim-2^62", save_model(lambda: relu_model((1, 3, 1 << 62, 4)))),
        Case("dim-negative", save_model(lambda: relu_model((1, 3, -4, 4)))),
        Case("dims-1e6x1e6", save_model(lambda: relu_model((1, 1, 10**6, 10**6)))),
        Case("dims-many", save_model(lambda: relu_model((2,) * 64))),
        Case("rank-0-conv", save_model(lambda: conv_model((), (4, 3, 3, 3))), names=("conv",)),
        Case("expand-tib", save_model(lambda: graph_model(
            [node("Expand", ["x", "s"], ["y"], "expand")], [vi("x", [1, 1])], [vi("y", None)],
            [init("s", np.array([1 << 20, 1 << 20], np.int64))])), names=("expand",)),
        Case("expand-const-tib", save_model(lambda: graph_model(
            [node("Expand", ["c", "s"], ["e"], "expand"), node("Add", ["x", "e"], ["y"], "add")],
            [vi("x", [1, 1])], [vi("y", None)],
            [init("c", np.ones((1, 1), np.float32)), init("s", np.array([1 << 20, 1 << 20], np.int64))])),
            names=("expand",)),
        Case("tile-tib", save_model(lambda: graph_model(
            [node("Tile", ["c", "r"], ["t"], "tile"), node("Add", ["x", "t"], ["y"], "add")],
            [vi("x", [1, 1])], [vi("y", None)],
            [init("c", np.ones((2, 2), np.float32)), init("r", np.array([1 << 19, 1 << 19], np.int64))])),
            names=("tile",)),
        Case("tile-hang", save_model(lambda: graph_model(
            [node("Tile", ["c", "r"], ["t"], "tile"), node("Add", ["x", "t"], ["y"], "add")],
            [vi("x", [1])], [vi("y", None)],
            [init("c", np.ones((1,), np.float32)), init("r", np.array([3 << 28], np.int64))])),
            names=("tile",)),
        Case("tile-input-tib", save_model(lambda: graph_model(
            [node("Tile", ["x", "r"], ["y"], "tile")], [vi("x", [1, 1])], [vi("y", None)],
            [init("r", np.array([1 << 20, 1 << 20], np.int64))])), names=("tile",)),
        Case("constantofshape-tib", save_model(lambda: graph_model(
            [node("ConstantOfShape", ["s"], ["c"], "cos"), node("Add", ["x", "c"], ["y"], "add")],
            [vi("x", [1, 1])], [vi("y", None)], [init("s", np.array([1 << 20, 1 << 20], np.int64))])),
            names=("cos",)),
        Case("constantofshape-negative", save_model(lambda: graph_model(
            [node("ConstantOfShape", ["s"], ["c"], "cos"), node("Add", ["x", "c"], ["y"], "add")],
            [vi("x", [1, 1])], [vi("y", None)], [init("s", np.array([-1, 5], np.int64))])),
            names=("cos",)),
        Case("reshape-tib", save_model(lambda: graph_model(
            [node("Reshape", ["x", "s"], ["y"], "reshape")], [vi("x", [1, 48])], [vi("y", None)],
            [init("s", np.array([1 << 30, 1 << 30], np.int64))])), names=("reshape",)),
        Case("reshape-two-minus-one", save_model(lambda: graph_model(
            [node("Reshape", ["x", "s"], ["y"], "reshape")], [vi("x", [1, 48])], [vi("y", None)],
            [init("s", np.array([-1, -1], np.int64))])), names=("reshape",)),
        Case("resize-1e9", save_model(lambda: graph_model(
            [node("Resize", ["x", "", "sc"], ["y"], "resize")], [vi("x", [1, 3, 4, 4])], [vi("y", None)],
            [init("sc", np.array([1, 1, 1e9, 1e9], np.float32))])), names=("resize",)),
        Case("matmul-mismatch", save_model(lambda: graph_model(
            [node("MatMul", ["x", "w"], ["y"], "mm")], [vi("x", [1, 5])], [vi("y", None)],
            [init("w", np.ones((7, 3), np.float32))])), names=("mm",)),
        Case("gemm-huge", save_model(lambda: graph_model(
            [node("Gemm", ["x", "w"], ["y"], "gemm", transB=1)], [vi("x", [1, 1 << 40])], [vi("y", None)],
            [init("w", np.ones((1, 1), np.float32))])), names=("gemm",)),
        Case("concat-axis-99", save_model(lambda: graph_model(
            [node("Concat", ["x", "x"], ["y"], "cat", axis=99)], [vi("x", [1, 3])], [vi("y", None)])),
            names=("cat",)),
        Case("transpose-bad-perm", save_model(lambda: graph_model(
            [node("Transpose", ["x"], ["y"], "tr", perm=[0, 0, 5])], [vi("x", [1, 3, 4])], [vi("y", None)])),
            names=("tr",)),
        Case("softmax-axis-10", save_model(lambda: graph_model(
            [node("Softmax", ["x"], ["y"], "sm", axis=10)], [vi("x", [1, 3])], [vi("y", None)])),
            names=("sm",)),
        Case("flatten-axis-9", save_model(lambda: graph_model(
            [node("Flatten", ["x"], ["y"], "fl", axis=9)], [vi("x", [1, 3])], [vi("y", None)])),
            names=("fl",)),
        Case("gather-out-of-range", save_model(lambda: graph_model(
            [node("Gather", ["x", "i"], ["y"], "ga", axis=1)], [vi("x", [1, 3])], [vi("y", None)],
            [init("i", np.array([1 << 40], np.int64))])), names=("ga",)),
        Case("slice-huge-step", save_model(lambda: graph_model(
            [node("Slice", ["x", "s", "e", "a", "st"], ["y"], "sl")], [vi("x", [1, 8])], [vi("y", None)],
            [init("s", np.array([0], np.int64)), init("e", np.array([8], np.int64)),
             init("a", np.array([1], np.int64)), init("st", np.array([0], np.int64))])), names=("sl",)),
        Case("split-too-many", save_model(lambda: graph_model(
            [node("Split", ["x", "sp"], ["a", "b"], "split", axis=1)], [vi("x", [1, 4])],
            [vi("a", None), vi("b", None)], [init("sp", np.array([3, 3], np.int64))])), names=("split",)),
        Case("inputs-duplicate", save_model(lambda: graph_model(
            [node("Add", ["x", "x"], ["y"], "add")], [vi("x", [1, 4]), vi("x", [1, 4])], [vi("y", None)])),
            names=("'x'",)),
        Case("inputs-duplicate-shapes", save_model(lambda: graph_model(
            [node("Add", ["x", "x"], ["y"], "add")], [vi("x", [1, 4]), vi("x", [2, 4])], [vi("y", None)])),
            names=("'x'",)),
        Case("init-shape-lies", save_model(lambda: _lying_initializer())),
        Case("init-dims-huge", save_model(lambda: _huge_initializer())),
        Case("depth-to-space-0", save_model(lambda: graph_model(
            [node("DepthToSpace", ["x"], ["y"], "d2s", blocksize=0)], [vi("x", [1, 4, 2, 2])],
            [vi("y", None)])), names=("d2s",)),
        Case("lrn-size-0", save_model(lambda: graph_model(
            [node("LRN", ["x"], ["y"], "lrn", size=0)], [vi("x", [1, 4, 2, 2])], [vi("y", None)])),
            names=("lrn",)),
        Case("topk-huge", save_model(lambda: graph_model(
            [node("TopK", ["x", "k"], ["y", "i"], "topk")], [vi("x", [1, 4])], [vi("y", None), vi("i", None)],
            [init("k", np.array([1 << 40], np.int64))])), names=("topk",)),
        Case("range-huge", save_model(lambda: graph_model(
            [node("Range", ["a", "b", "d"], ["r"], "range"), node("Add", ["x", "r"], ["y"], "add")],
            [vi("x", [1])], [vi("y", None)],
            [init("a", np.array(0, np.float32)), init("b", np.array(1e15, np.float32)),
             init("d", np.array(1, np.float32))])), names=("range",)),
    ]
    return c


def _huge_initializer():
    from onnx import TensorProto

    t = TensorProto(name="w", data_type=TensorProto.FLOAT, dims=[1 << 20, 1 << 20, 3, 3],
                    raw_data=b"\0" * 16)
    return graph_model([node("Conv", ["x", "w"], ["y"], "conv")], [vi("x", [1, 3, 4, 4])], [vi("y", None)], [t])


def _lying_initializer():
    from onnx import TensorProto, helper

    t = TensorProto(name="w", data_type=TensorProto.FLOAT, dims=[4, 3, 3, 3],
                    raw_data=np.ones(5, np.float32).tobytes())
    return graph_model([node("Conv", ["x", "w"], ["y"], "conv")], [vi("x", [1, 3, 4, 4])], [vi("y", None)], [t])


# ------------------------------------------------------------------ external data
def _external(offset=None, length=None, location="w.bin", data_size=108):
    from onnx import TensorProto, helper

    def make(tmp: Path) -> Path:
        (tmp / "w.bin").write_bytes(np.ones(data_size // 4, np.float32).tobytes())
        t = TensorProto(name="w", data_type=TensorProto.FLOAT, dims=[4, 3, 3, 3])
        t.data_location = TensorProto.EXTERNAL
        for k, v in (("location", location), ("offset", offset), ("length", length)):
            if v is not None:
                e = t.external_data.add()
                e.key, e.value = k, str(v)
        m = graph_model([node("Conv", ["x", "w"], ["y"], "conv")], [vi("x", [1, 3, 4, 4])],
                        [vi("y", None)], [t])
        p = tmp / "model.onnx"
        p.write_bytes(m.SerializeToString())
        return p
    return make


def external_cases() -> list[Case]:
    c = []
    for key in ("offset", "length"):
        for v in ("-1", "abc", str(1 << 70), "1e15", str(10**15), " 12", "0x10", "", "1.5"):
            c.append(Case(f"external-{key}-{v or 'empty'}", _external(**{key: v}), names=("'w'",)))
    for loc in ("w.bin\x00../../etc/passwd", "", ".", "sub/", "w.bin/", "\n", "../w.bin", "/etc/passwd",
                "C:w.bin", "nosuch.bin"):
        c.append(Case(f"external-location-{loc!r}", _external(location=loc), names=("'w'",)))
    c.append(Case("external-short", _external(data_size=8), names=("'w'",)))
    c.append(Case("external-devzero", _external_devzero(), names=("'w'",)))
    return c


def _external_devzero():
    inner = _external(location="z.bin")

    def make(tmp: Path) -> Path:
        p = inner(tmp)
        (tmp / "z.bin").symlink_to("/dev/zero")
        return p
    return make


# ------------------------------------------------------------------ .tflite
def _tflite_base():
    from edgecc.backends.tflite import to_bytes
    from edgecc.frontend import import_onnx

    m = conv_model((1, 3, 8, 8), (4, 3, 3, 3), pads=[1, 1, 1, 1])
    return to_bytes(import_onnx(m))


def _tflite_mutant(edit: Callable):
    """A .tflite written by edgecc, unpacked with the object API, edited, repacked."""
    def make(tmp: Path) -> Path:
        import flatbuffers

        from edgecc.backends.tflite._generated import schema_generated as s

        model = s.ModelT.InitFromObj(s.Model.GetRootAs(bytearray(_tflite_base()), 0))
        edit(model, s)
        b = flatbuffers.Builder(1024)
        b.Finish(model.Pack(b), file_identifier=b"TFL3")
        p = tmp / "model.tflite"
        p.write_bytes(bytes(b.Output()))
        return p
    return make


def _conv_op(model, s):
    sg = model.subgraphs[0]
    for op in sg.operators:
        if model.operatorCodes[op.opcodeIndex].builtinCode == s.BuiltinOperator.CONV_2D:
            return sg, op
    raise AssertionError("no conv")


def _set(fn):
    def edit(model, s):
        fn(model, s, *_conv_op(model, s))
    return edit


def tflite_cases() -> list[Case]:
    def no_options(m, s, sg, op):
        op.builtinOptions, op.builtinOptionsType = None, 0

    def stride(v):
        def f(m, s, sg, op):
            op.builtinOptions.strideW = op.builtinOptions.strideH = v
        return f

    def dilation(v):
        def f(m, s, sg, op):
            op.builtinOptions.dilationWFactor = op.builtinOptions.dilationHFactor = v
        return f

    def zero_point(v):
        def f(m, s, sg, op):
            q = s.QuantizationParametersT()
            q.scale, q.zeroPoint = [0.5], [v]
            sg.tensors[op.inputs[0]].quantization = q
            sg.tensors[op.inputs[0]].type = s.TensorType.INT8
            for i in list(op.inputs[1:]) + list(op.outputs):
                qq = s.QuantizationParametersT()
                qq.scale, qq.zeroPoint = [0.5], [0]
                sg.tensors[i].quantization = qq
                sg.tensors[i].type = s.TensorType.INT8 if i != op.inputs[2] else s.TensorType.INT32
        return f

    def scale(v):
        def f(m, s, sg, op):
            zero_point(0)(m, s, sg, op)
            sg.tensors[op.inputs[0]].quantization.scale = [v]
        return f

    def tensor_shape(shape):
        def f(m, s, sg, op):
            sg.tensors[op.inputs[0]].shape = shape
        return f

    def input_index(i):
        def f(m, s, sg, op):
            op.inputs = [i] + list(op.inputs[1:])
        return f

    def opcode(i):
        def f(m, s, sg, op):
            op.opcodeIndex = i
        return f

    def buffer(i):
        def f(m, s, sg, op):
            sg.tensors[op.inputs[1]].buffer = i
        return f

    def short_weights(m, s, sg, op):
        m.buffers[sg.tensors[op.inputs[1]].buffer].data = [0, 0, 0, 0]

    def no_subgraphs(m, s):
        m.subgraphs = []

    def two_subgraph_inputs(m, s):
        m.subgraphs[0].inputs = [0, 0, 0]

    def graph_output_out_of_range(m, s):
        m.subgraphs[0].outputs = [999]

    def no_outputs(m, s):
        m.subgraphs[0].outputs = []

    def cycle(m, s, sg, op):
        op.inputs = [op.outputs[0]] + list(op.inputs[1:])

    def padding(v):
        def f(m, s, sg, op):
            op.builtinOptions.padding = v
        return f

    def activation(v):
        def f(m, s, sg, op):
            op.builtinOptions.fusedActivationFunction = v
        return f

    def wrong_options_type(m, s, sg, op):
        op.builtinOptionsType = s.BuiltinOptions.AddOptions
        op.builtinOptions = s.AddOptionsT()

    def tensor_type(v):
        def f(m, s, sg, op):
            sg.tensors[op.inputs[0]].type = v
        return f

    edits = {
        "conv-no-options": _set(no_options), "stride-0": _set(stride(0)), "stride-negative": _set(stride(-2)),
        "stride-huge": _set(stride(1 << 30)), "dilation-0": _set(dilation(0)),
        "zero-point-1000": _set(zero_point(1000)), "zero-point-neg-1000": _set(zero_point(-1000)),
        "scale-0": _set(scale(0.0)), "scale-nan": _set(scale(float("nan"))),
        "scale-negative": _set(scale(-1.0)), "scale-inf": _set(scale(float("inf"))),
        "shape-negative": _set(tensor_shape([1, -8, 8, 3])), "shape-huge": _set(tensor_shape([1, 1 << 30, 1 << 30, 3])),
        "shape-1e6x1e6": _set(tensor_shape([1, 10**6, 10**6, 3])), "shape-rank-1": _set(tensor_shape([3])),
        "input-index-999": _set(input_index(999)), "input-index-negative": _set(input_index(-5)),
        "opcode-999": _set(opcode(999)), "buffer-999": _set(buffer(999)), "weights-short": _set(short_weights),
        "no-subgraphs": no_subgraphs, "graph-inputs-repeated": two_subgraph_inputs,
        "graph-output-999": graph_output_out_of_range, "no-outputs": no_outputs, "op-cycle": _set(cycle),
        "padding-7": _set(padding(7)), "activation-99": _set(activation(99)),
        "wrong-options-type": _set(wrong_options_type), "tensor-type-99": _set(tensor_type(99)),
        "tensor-type-string": _set(tensor_type(5)),
    }
    cases = [Case(f"tflite-{k}", _tflite_mutant(v)) for k, v in edits.items()]
    cases.append(Case("tflite-garbage", raw_bytes(b"\x18\x00\x00\x00TFL3" + b"\xff" * 200, "model.tflite")))
    cases.append(Case("tflite-truncated", lambda tmp: _truncated_tflite(tmp)))
    return cases


def _truncated_tflite(tmp: Path) -> Path:
    data = _tflite_base()
    p = tmp / "model.tflite"
    p.write_bytes(data[: len(data) // 2])
    return p


# ------------------------------------------------------------------ IR text
RELU_IR = """module {
  func.func @main(%x: tensor<1x3x4x4xf32>) -> (tensor<1x3x4x4xf32>) {
    %y = nn.relu(%x) : (tensor<1x3x4x4xf32>) -> tensor<1x3x4x4xf32>
    func.return %y : tensor<1x3x4x4xf32>
  }
}
"""


def ir_text(text: str | bytes, name="model.mlir"):
    return raw_bytes(text.encode() if isinstance(text, str) else text, name)


def ir_cases() -> list[Case]:
    t = RELU_IR
    splat = t.replace("%y = nn.relu(%x)", "%c = builtin.constant() {value = dense<1.0> : tensor<1000000x1000000xf32>}"
                      " : () -> tensor<1000000x1000000xf32>\n    %y = nn.relu(%x)")
    cases = [
        Case("ir-non-utf8", ir_text(t.encode().replace(b"relu", b"rel\xff\xfe"))),
        Case("ir-latin1", ir_text("// caf\xe9\n".encode("latin-1") + t.encode())),
        Case("ir-nul", ir_text(t.replace("relu", "re\x00lu"))),
        Case("ir-deep-brackets", ir_text(t.replace(" : (tensor", " {a = " + "[" * 5000 + "]" * 5000 + "} : (tensor", 1))),
        Case("ir-deep-parens", ir_text("(" * 5000 + ")" * 5000)),
        Case("ir-deep-types", ir_text(t.replace("tensor<1x3x4x4xf32>) {", "tensor<" * 5000 + "f32" + ">" * 5000 + ") {"))),
        Case("ir-splat-1e6x1e6", ir_text(splat)),
        Case("ir-dim-huge", ir_text(t.replace("1x3x4x4", "1x3x99999999999999999999999x4"))),
        Case("ir-dim-1e6", ir_text(t.replace("1x3x4x4", "1x1x1000000x1000000"))),
        Case("ir-dim-zero-padded", ir_text(t.replace("1x3x4x4", "1x3x0x4"))),
        Case("ir-truncated", ir_text(t[: len(t) // 2])),
        Case("ir-empty", ir_text("")),
        Case("ir-unknown-op", ir_text(t.replace("nn.relu", "nn.frobnicate"))),
        Case("ir-undefined-value", ir_text(t.replace("nn.relu(%x)", "nn.relu(%z)"))),
        Case("ir-type-mismatch", ir_text(t.replace("-> tensor<1x3x4x4xf32>\n", "-> tensor<1x3x4x5xf32>\n", 1))),
        Case("ir-huge-int-attr", ir_text(t.replace("nn.relu(%x)", "nn.relu(%x) {n = " + "9" * 5000 + "}"))),
        Case("ir-long-line", ir_text("// " + "x" * 2_000_000 + "\n" + t)),
        Case("ir-dense-short", ir_text(t.replace("%y = nn.relu(%x)", "%c = builtin.constant() {value = dense<[1.0, 2.0]> : tensor<3xf32>} : () -> tensor<3xf32>\n    %y = nn.relu(%x)"))),
        Case("ir-blob-lies", ir_text(t.replace("%y = nn.relu(%x)", "%c = builtin.constant() {value = dense_resource<b> : tensor<1000000000xf32>} : () -> tensor<1000000000xf32>\n    %y = nn.relu(%x)") + '{-#\n  dialect_resources: {\n    builtin: {\n      b: "0x0400000000"\n    }\n  }\n#-}\n')),
        Case("ir-no-func", ir_text("module {\n}\n")),
        Case("ir-zero-point-1000", ir_text(t.replace("xf32>", "x!quant.uniform<i8:f32, 0.5:1000>>"))),
        Case("ir-zero-point-u8-neg", ir_text(t.replace("xf32>", "x!quant.uniform<u8:f32, 0.5:-1>>"))),
    ]
    return cases


# ------------------------------------------------------------------ calibration data
def calib_cases() -> list[Case]:
    def calib(write):
        def make(tmp: Path) -> Path:
            model = tmp / "model.onnx"
            model.write_bytes(relu_model().SerializeToString())
            write(tmp / "calib")
            return model
        return make

    def npz(**arrays):
        def w(p: Path):
            np.savez(p.with_suffix(".npz"), **arrays)
        return w

    def raw(data: bytes, name="calib.npz"):
        def w(p: Path):
            (p.parent / name).write_bytes(data)
        return w

    def npy_dir(**arrays):
        def w(p: Path):
            p.mkdir()
            for k, v in arrays.items():
                np.save(p / f"{k}.npy", v)
        return w

    def huge_header(p: Path):
        header = "{'descr': '<f4', 'fortran_order': False, 'shape': (1000000, 1000000, 3, 4, 4), }"
        header = header.ljust(118) + "\n"
        p.mkdir()
        (p / "x.npy").write_bytes(b"\x93NUMPY\x01\x00" + len(header).to_bytes(2, "little") + header.encode())

    x = np.ones((2, 1, 3, 4, 4), np.float32)
    spec = {
        "calib-only-array-any-name": (npz(nope=x), "calib.npz"),
        "calib-wrong-shape": (npz(x=np.ones((2, 5), np.float32)), "calib.npz"),
        "calib-nan": (npz(x=np.full((2, 1, 3, 4, 4), np.nan, np.float32)), "calib.npz"),
        "calib-inf": (npz(x=np.full((2, 1, 3, 4, 4), np.inf, np.float32)), "calib.npz"),
        "calib-empty-npz": (npz(), "calib.npz"),
        "calib-zero-samples": (npz(x=np.ones((0, 1, 3, 4, 4), np.float32)), "calib.npz"),
        "calib-strings": (npz(x=np.array(["a", "b"])), "calib.npz"),
        "calib-complex": (npz(x=np.ones((2, 1, 3, 4, 4), np.complex64)), "calib.npz"),
        "calib-garbage": (raw(b"PK\x03\x04garbage"), "calib.npz"),
        "calib-not-zip": (raw(b"hello"), "calib.npz"),
        "calib-pickle": (raw(b"\x93NUMPY\x01\x00v\x00{'descr': '|O', 'fortran_order': False, 'shape': (1,), }"
                             + b" " * 50 + b"\n" + b"\x80\x04K\x01.", "p.npy"), "p.npy"),
        "calib-empty-dir": (lambda p: p.mkdir(), "calib"),
        "calib-dir-wrong-name": (npy_dir(y=x), "calib"),
        "calib-dir-huge-header": (huge_header, "calib"),
        "calib-dir-truncated": (lambda p: (p.mkdir(), (p / "x.npy").write_bytes(b"\x93NUMPY")), "calib"),
    }
    return [Case(k, calib(w), tools=("compile",), compile_args=("--calib", "{tmp}/" + name, "--quantize", "int8"),
                 names=(name,), accept_ok=k == "calib-only-array-any-name") for k, (w, name) in spec.items()]


# ------------------------------------------------------------------ hostile CLI arguments
def cli_cases() -> list[Case]:
    ok = save_model(lambda: relu_model())

    def with_file(rel, content=b"x", mode=None):
        def make(tmp: Path) -> Path:
            p = tmp / rel
            p.parent.mkdir(parents=True, exist_ok=True)
            p.write_bytes(content)
            if mode is not None:
                p.chmod(mode)
            return ok(tmp)
        return make

    def out_setup(fn):
        def make(tmp: Path) -> Path:
            fn(tmp)
            return ok(tmp)
        return make

    root = os.geteuid() == 0
    ro = "running as root: permissions do not apply" if root else None
    c = [
        Case("out-readonly", out_setup(lambda t: ((t / "out").mkdir(), (t / "out" / "keep").write_text("k"),
                                                  (t / "out").chmod(0o500))), tools=("compile",), skip=ro),
        Case("out-parent-readonly", out_setup(lambda t: ((t / "ro").mkdir(), (t / "ro").chmod(0o500))),
             tools=("compile",), argv=("{model}", "-o", "{tmp}/ro/out"), skip=ro),
        Case("out-in-proc", ok, tools=("compile",), argv=("{model}", "-o", "/proc/self/edgecc-out")),
        Case("out-in-sys", ok, tools=("compile",), argv=("{model}", "-o", "/sys/edgecc-out")),
        Case("out-is-file", out_setup(lambda t: (t / "out").write_text("file")), tools=("compile",)),
        Case("out-under-file", out_setup(lambda t: (t / "f").write_text("file")), tools=("compile",),
             argv=("{model}", "-o", "{tmp}/f/out")),
        Case("out-symlink-loop", out_setup(lambda t: (t / "out").symlink_to(t / "out")), tools=("compile",)),
        Case("out-dangling-symlink", out_setup(lambda t: (t / "out").symlink_to(t / "nowhere" / "x")),
             tools=("compile",)),
        Case("out-has-file-named-edgecc", out_setup(lambda t: ((t / "out").mkdir(), (t / "out" / "edgecc").write_text("mine"))),
             tools=("compile",), accept_ok=False),
        Case("out-empty-name", ok, tools=("compile",), argv=("{model}", "-o", ""), accept_ok=True),
        Case("prefix-5000", ok, tools=("compile",), compile_args=("--prefix", "p" * 5000)),
        Case("prefix-unicode", ok, tools=("compile",), compile_args=("--prefix", "modèle")),
        Case("prefix-keyword", ok, tools=("compile",), compile_args=("--prefix", "int")),
        Case("prefix-41", ok, tools=("compile",), compile_args=("--prefix", "p" * 41)),
        Case("prefix-newline", ok, tools=("compile",), compile_args=("--prefix", "a\nb")),
        Case("prefix-dollar", ok, tools=("compile",), compile_args=("--prefix", "$(rm)")),
        Case("depfile-under-file", out_setup(lambda t: (t / "f").write_text("file")), tools=("compile",),
             compile_args=("--depfile", "{tmp}/f/model.d")),
        Case("depfile-is-dir", out_setup(lambda t: (t / "d").mkdir()), tools=("compile",),
             compile_args=("--depfile", "{tmp}/d")),
        Case("depfile-in-proc", ok, tools=("compile",), compile_args=("--depfile", "/proc/self/x.d")),
        Case("input-shape-huge", ok, tools=("compile",), compile_args=("--input-shape", f"x=1x3x{1 << 62}x4")),
        Case("input-shape-1e6", ok, tools=("compile",), compile_args=("--input-shape", "x=1x3x1000000x1000000")),
        Case("input-shape-negative", ok, tools=("compile",), compile_args=("--input-shape", "x=1x-3x4x4")),
        Case("input-shape-rank", ok, tools=("compile",), compile_args=("--input-shape", "x=1x3")),
        Case("input-shape-unknown", ok, tools=("compile",), compile_args=("--input-shape", "nope=1x3x4x4")),
        Case("passes-garbage", ok, tools=("compile",), compile_args=("-p", "canonicalize{{{")),
        Case("passes-unknown-option", ok, tools=("compile",), compile_args=("-p", "cse{x=1}")),
        Case("emit-empty", ok, tools=("compile",), compile_args=("--emit", ",")),
        Case("board-empty", ok, tools=("compile",), compile_args=("--board", "")),
        Case("target-long", ok, tools=("compile",), compile_args=("-t", "x" * 5000)),
        Case("target-empty", ok, tools=("compile",), compile_args=("-t", "")),
        Case("target-blank", ok, tools=("compile",), compile_args=("-t", " ")),
        Case("bench-target-empty", ok, tools=("compile",), argv=("bench", "{model}", "-t", "")),
        Case("verify-target-empty", ok, tools=("compile",), argv=("verify", "{model}", "-t", "")),
        Case("run-output-missing-folder", ok, tools=("run",), argv=("run", "{model}", "--input", "{tmp}/x.npy",
                                                                    "--output", "{tmp}/missing/y.npy")),
        Case("run-output-under-file", out_setup(lambda t: (t / "f").write_text("x")), tools=("run",),
             argv=("run", "{model}", "--input", "{tmp}/x.npy", "--output", "{tmp}/f/y.npy")),
        Case("run-output-is-dir", out_setup(lambda t: (t / "d.npy").mkdir()), tools=("run",),
             argv=("run", "{model}", "--input", "{tmp}/x.npy", "--output", "{tmp}/d.npy")),
        Case("run-output-bad-suffix", ok, tools=("run",),
             argv=("run", "{model}", "--input", "{tmp}/x.npy", "--output", "{tmp}/y.txt"), accept_ok=True),
        Case("run-input-wrong-shape", out_setup(lambda t: np.save(t / "w.npy", np.ones((7,), np.float32))),
             tools=("run",), argv=("run", "{model}", "--input", "{tmp}/w.npy")),
        Case("run-input-huge-header", out_setup(lambda t: calib_huge_npy(t / "h.npy")), tools=("run",),
             argv=("run", "{model}", "--input", "{tmp}/h.npy")),
        Case("run-input-pickle", out_setup(lambda t: np.save(t / "o.npy", np.array([object()]), allow_pickle=True)),
             tools=("run",), argv=("run", "{model}", "--input", "{tmp}/o.npy")),
        Case("run-input-fifo", out_setup(lambda t: os.mkfifo(t / "p.npy")), tools=("run",),
             argv=("run", "{model}", "--input", "{tmp}/p.npy")),
        Case("run-input-strings", out_setup(lambda t: np.save(t / "s.npy", np.array(["a"] * 48).reshape(1, 3, 4, 4))),
             tools=("run",), argv=("run", "{model}", "--input", "{tmp}/s.npy")),
        Case("inspect-json-dir", ok, tools=("inspect",), argv=("inspect", "{model}", "--input-shape", "x=0x3x4x4")),
    ]
    for case in c:
        case.name_model = False
    return c


def calib_huge_npy(p: Path) -> None:
    header = "{'descr': '<f4', 'fortran_order': False, 'shape': (1000000, 1000000, 3, 4), }".ljust(118) + "\n"
    p.write_bytes(b"\x93NUMPY\x01\x00" + len(header).to_bytes(2, "little") + header.encode())


def all_cases() -> list[Case]:
    return file_cases() + shape_cases() + external_cases() + tflite_cases() + ir_cases() + calib_cases() \
        + cli_cases()
