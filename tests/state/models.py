"""Streaming test models: a causal conv1d stream whose state is the last K-1 input frames, LSTMs."""

from __future__ import annotations

from pathlib import Path

import numpy as np

C, K, F = 3, 3, 4  # channels, kernel taps, filters


def conv_stream_onnx(seed: int = 0):
    """ONNX: y = relu(conv1d(concat(s_in, x))), s_out = concat(s_in, x)[:, :, 1:] (state = last K-1 frames).

    A running accumulator (``acc_out = acc_in + y``, output ``level = acc_out / 2``) is a second state.
    """
    import onnx
    from onnx import TensorProto, helper, numpy_helper

    rng = np.random.default_rng(seed)
    w = rng.normal(0, 0.5, (F, C, K)).astype(np.float32)
    b = rng.normal(0, 0.1, (F,)).astype(np.float32)
    nodes = [
        helper.make_node("Concat", ["s_in", "x"], ["window"], axis=2),
        helper.make_node("Conv", ["window", "w", "b"], ["conv"], name="conv"),
        helper.make_node("Relu", ["conv"], ["y"]),
        helper.make_node("Slice", ["window", "starts", "ends", "axes"], ["s_out"], name="shift"),
        helper.make_node("Add", ["acc_in", "y"], ["acc_out"], name="accumulate"),
        helper.make_node("Mul", ["acc_out", "half"], ["level"], name="level"),
    ]
    inits = [numpy_helper.from_array(w, "w"), numpy_helper.from_array(b, "b"),
             numpy_helper.from_array(np.array([1], np.int64), "starts"),
             numpy_helper.from_array(np.array([K], np.int64), "ends"),
             numpy_helper.from_array(np.array([2], np.int64), "axes"),
             numpy_helper.from_array(np.array(0.5, np.float32), "half")]
    vi = helper.make_tensor_value_info
    graph = helper.make_graph(
        nodes, "conv_stream",
        [vi("x", TensorProto.FLOAT, [1, C, 1]), vi("s_in", TensorProto.FLOAT, [1, C, K - 1]),
         vi("acc_in", TensorProto.FLOAT, [1, F, 1])],
        [vi("y", TensorProto.FLOAT, [1, F, 1]), vi("s_out", TensorProto.FLOAT, [1, C, K - 1]),
         vi("acc_out", TensorProto.FLOAT, [1, F, 1]), vi("level", TensorProto.FLOAT, [1, F, 1])], inits)
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    model.ir_version = 8
    onnx.checker.check_model(model)
    return model


STATE = {"s_in": "s_out", "acc_in": "acc_out"}


def onnxruntime_stream(model, frames: list[np.ndarray]) -> list[list[np.ndarray]]:
    """The oracle: run ``model`` with onnxruntime, feeding each state output back as its input."""
    import onnxruntime as ort

    sess = ort.InferenceSession(model.SerializeToString(), providers=["CPUExecutionProvider"])
    s = np.zeros((1, C, K - 1), np.float32)
    acc = np.zeros((1, F, 1), np.float32)
    outs = []
    for x in frames:
        y, s, acc, level = sess.run(None, {"x": x, "s_in": s, "acc_in": acc})
        outs.append([y, level])
    return outs


def frames(n: int = 12, seed: int = 1) -> list[np.ndarray]:
    rng = np.random.default_rng(seed)
    return [rng.normal(0, 1, (1, C, 1)).astype(np.float32) for _ in range(n)]


def conv_stream_int8(seed: int = 0):
    """The same stream as an int8 ``nn`` module (NHWC, time on W), built directly with quantized types:
    state ``window`` (last K-1 frames, the input's parameters) and ``acc`` (a running int8 sum)."""
    from edgecc.dialects import nn
    from edgecc.dialects.state import ReadOp, WriteOp
    from edgecc.ir import Builder, Func, Module, i8, i32, tensor
    from edgecc.ir.types import quant

    rng = np.random.default_rng(seed)
    qx = quant(i8, 0.05, -3)
    qy = quant(i8, 0.04, -128)
    qacc = quant(i8, 0.25, -20)
    wscales = [float(s) for s in rng.uniform(0.004, 0.01, F)]
    qw = quant(i8, wscales, 0, axis=0, qmin=-127)
    w = rng.integers(-127, 128, (F, 1, K, C)).astype(np.int8)
    bias = rng.integers(-2000, 2000, F).astype(np.int32)
    func = Func("main", [tensor((1, 1, 1, C), qx)], ["x"])
    module = Module(func, name="conv_stream_int8")
    module.add_state("window", tensor((1, 1, K - 1, C), qx), np.full((1, 1, K - 1, C), -3, np.int8))
    module.add_state("acc", tensor((1, 1, 1, F), qacc), np.full((1, 1, 1, F), -20, np.int8))
    b = Builder(func)
    s = b.insert(ReadOp.build(state="window", result_types=[tensor((1, 1, K - 1, C), qx)],
                              result_names=["window"])).result
    acc = b.insert(ReadOp.build(state="acc", result_types=[tensor((1, 1, 1, F), qacc)],
                                result_names=["acc"])).result
    win = b.create(nn.ConcatOp, s, func.arguments[0], axis=2, result_types=[tensor((1, 1, K, C), qx)]).result
    wv = b.constant(w, qw, name="w")
    bv = b.constant(bias, i32, name="b")
    y = b.create(nn.Conv2DOp, win, wv, bv, activation="relu", result_types=[tensor((1, 1, 1, F), qy)]).result
    nxt = b.create(nn.SliceOp, win, begin=(0, 0, 1, 0), end=(1, 1, K, C),
                   result_types=[tensor((1, 1, K - 1, C), qx)]).result
    total = b.create(nn.AddOp, acc, y, result_types=[tensor((1, 1, 1, F), qacc)]).result
    b.insert(WriteOp.build(nxt, state="window"))
    b.insert(WriteOp.build(total, state="acc"))
    b.ret(y, total)
    module.verify()
    return module


def int8_frames(n: int = 12, seed: int = 2) -> list[np.ndarray]:
    rng = np.random.default_rng(seed)
    return [rng.integers(-128, 128, (1, 1, 1, C)).astype(np.int8) for _ in range(n)]


def lstm_tflite(steps: int = 3, n_in: int = 4, n_cell: int = 5, seed: int = 3, cifg: bool = False,
                peephole: bool = False, time_major: bool = False) -> bytes:
    """A float ``UNIDIRECTIONAL_SEQUENCE_LSTM`` .tflite written with the FlatBuffers object API (the
    layout the TFLite converter uses: h and c as variable tensors, inputs 18 and 19)."""
    from edgecc.backends.tflite.schema import S
    from edgecc.backends.tflite.writer import AlignedBuilder

    rng = np.random.default_rng(seed)
    model = S.ModelT()
    model.version = 3
    model.buffers = [S.BufferT()]
    tensors = []

    def tensor(name, shape, data=None, variable=False):
        t = S.TensorT()
        t.name, t.shape, t.type = name, list(shape), S.TensorType.FLOAT32
        t.isVariable = variable
        t.buffer = 0
        if data is not None:
            b = S.BufferT()
            b.data = np.frombuffer(np.asarray(data, "<f4").tobytes(), np.uint8).copy()
            model.buffers.append(b)
            t.buffer = len(model.buffers) - 1
        tensors.append(t)
        return len(tensors) - 1

    xshape = (steps, 1, n_in) if time_major else (1, steps, n_in)
    x = tensor("x", xshape)
    ins = [x]
    for g in "ifco":
        skip = cifg and g == "i"
        ins.append(-1 if skip else tensor(f"w_{g}", (n_cell, n_in), rng.normal(0, 0.5, (n_cell, n_in))))
    for g in "ifco":
        skip = cifg and g == "i"
        ins.append(-1 if skip else tensor(f"r_{g}", (n_cell, n_cell), rng.normal(0, 0.5, (n_cell, n_cell))))
    for g in "ifo":
        use = peephole and not (cifg and g == "i")
        ins.append(tensor(f"p_{g}", (n_cell,), rng.normal(0, 0.3, n_cell)) if use else -1)
    for g in "ifco":
        skip = cifg and g == "i"
        ins.append(-1 if skip else tensor(f"b_{g}", (n_cell,), rng.normal(0, 0.1, n_cell)))
    ins += [-1, -1]  # no projection
    ins.append(tensor("h_state", (1, n_cell), variable=True))
    ins.append(tensor("c_state", (1, n_cell), variable=True))
    ins += [-1, -1, -1, -1]  # no layer norm
    y = tensor("y", (steps, 1, n_cell) if time_major else (1, steps, n_cell))
    oc = S.OperatorCodeT()
    oc.builtinCode = oc.deprecatedBuiltinCode = S.BuiltinOperator.UNIDIRECTIONAL_SEQUENCE_LSTM
    oc.version = 1
    opts = S.UnidirectionalSequenceLSTMOptionsT()
    opts.fusedActivationFunction = S.ActivationFunctionType.TANH
    opts.timeMajor = time_major
    o = S.OperatorT()
    o.opcodeIndex, o.inputs, o.outputs = 0, ins, [y]
    o.builtinOptionsType = S.BuiltinOptions.UnidirectionalSequenceLSTMOptions
    o.builtinOptions = opts
    sg = S.SubGraphT()
    sg.tensors, sg.inputs, sg.outputs, sg.operators, sg.name = tensors, [x], [y], [o], "main"
    model.subgraphs, model.operatorCodes = [sg], [oc]
    builder = AlignedBuilder(1024)
    builder.Finish(model.Pack(builder), file_identifier=b"TFL3")
    return bytes(builder.Output())


_KERAS_LSTM = r'''
import os, sys
os.environ["TF_USE_LEGACY_KERAS"] = "1"
os.environ["TF_CPP_MIN_LOG_LEVEL"] = "3"
import numpy as np
import tensorflow as tf
steps, n_in, units = int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4])
tf.keras.utils.set_random_seed(0)
inp = tf.keras.Input(shape=(steps, n_in), batch_size=1)
out = tf.keras.layers.Dense(4)(tf.keras.layers.LSTM(units)(inp))
model = tf.keras.Model(inp, out)
rng = np.random.default_rng(0)
for w in model.weights:
    w.assign(rng.normal(0, 0.4, w.shape).astype(np.float32))
conv = tf.lite.TFLiteConverter.from_keras_model(model)
conv.optimizations = [tf.lite.Optimize.DEFAULT]
conv.representative_dataset = lambda: ([rng.normal(0, 1, (1, steps, n_in)).astype(np.float32)]
                                       for _ in range(32))
conv.target_spec.supported_ops = [tf.lite.OpsSet.TFLITE_BUILTINS_INT8]
conv.inference_input_type = conv.inference_output_type = tf.int8
open(sys.argv[1], "wb").write(conv.convert())
'''


def keras_lstm_int8(tmp_dir, steps: int = 8, n_in: int = 10, units: int = 24) -> bytes:
    """A streaming keyword-spotting model as users make it: Keras 2 (``tf_keras``) LSTM + Dense,
    converted by ``tf.lite.TFLiteConverter`` to full int8 with a representative dataset (the fused
    ``UNIDIRECTIONAL_SEQUENCE_LSTM``; Keras 3 would give a WHILE loop). Run in a subprocess: TF stays
    out of the test process, and a converter crash cannot take pytest down."""
    import subprocess
    import sys

    path = Path(tmp_dir) / "kws_lstm_int8.tflite"
    proc = subprocess.run([sys.executable, "-c", _KERAS_LSTM, str(path), str(steps), str(n_in), str(units)],
                          capture_output=True, text=True, timeout=600)
    if proc.returncode != 0:
        raise RuntimeError(f"TFLite conversion failed ({proc.returncode}): {proc.stderr[-2000:]}")
    return path.read_bytes()


def lstm_module(wide: bool = False, time_major: bool = False, steps: int = 5, batch: int = 1, n_in: int = 6,
                n_cell: int = 8, cell_power: int = -11, seed: int = 4):
    """An integer ``nn.lstm`` module built directly (the converter makes no int16x8 LSTM): int8x8_16, or
    int16x8 with ``wide`` (qi16 input/h, i64 biases), h and c as zero-initialised states. Weights are
    drawn so that gates and the cell state span their ranges (saturating some steps)."""
    from edgecc.dialects.nn_lstm import LstmOp
    from edgecc.dialects.state import ReadOp, WriteOp
    from edgecc.ir import Builder, Func, Module, i8, i16, i32, i64, tensor
    from edgecc.ir.types import quant

    rng = np.random.default_rng(seed)
    act = i16 if wide else i8
    qx = quant(act, 1.0 / 8192, 0) if wide else quant(act, 0.03, 5)
    qh = quant(act, 1.0 / 32768, 0) if wide else quant(act, 1.0 / 128, -2)
    qc = quant(i16, 2.0 ** cell_power, 0)
    seq = (steps, batch) if time_major else (batch, steps)
    func = Func("main", [tensor((*seq, n_in), qx)], ["x"])
    module = Module(func, name="lstm_int16x8" if wide else "lstm_int8")
    hz = 0 if wide else -2
    module.add_state("h", tensor((batch, n_cell), qh), np.full((batch, n_cell), hz, act.numpy))
    module.add_state("c", tensor((batch, n_cell), qc), np.zeros((batch, n_cell), np.int16))
    b = Builder(func)
    h, c = (b.insert(ReadOp.build(state=n, result_types=[tensor((batch, n_cell), q)], result_names=[n])).result
            for n, q in (("h", qh), ("c", qc)))
    ws = []
    for k, cols in enumerate([n_in] * 4 + [n_cell] * 4):
        qw = quant(i8, float(rng.uniform(0.004, 0.02)), 0, qmin=-127)
        ws.append(b.constant(rng.integers(-127, 128, (n_cell, cols)).astype(np.int8), qw, name=f"w{k}"))
    bias_t = i64 if wide else i32
    bs = [b.constant(rng.integers(-40000, 40000, n_cell).astype(bias_t.numpy), bias_t, name=f"b{k}")
          for k in range(4)]
    lstm = b.create(LstmOp, func.arguments[0], *ws, *bs, h, c, time_major=time_major, cell_clip=3.0,
                    result_types=[tensor((*seq, n_cell), qh), h.type, c.type])
    b.insert(WriteOp.build(lstm.results[1], state="h"))
    b.insert(WriteOp.build(lstm.results[2], state="c"))
    b.ret(lstm.results[0])
    module.verify()
    return module


def lstm_inputs(module, n: int = 12, seed: int = 5) -> list[np.ndarray]:
    t = module.func.arguments[0].type
    info = np.iinfo(t.element.numpy)
    rng = np.random.default_rng(seed)
    return [rng.integers(info.min, info.max + 1, t.shape).astype(t.element.numpy) for _ in range(n)]
