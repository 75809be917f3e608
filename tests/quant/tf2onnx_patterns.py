"""A quantized .tflite re-expressed as the QDQ ONNX graph tf2onnx writes for it (test helper).

tf2onnx needs TensorFlow, which the tests do not install, so this reproduces its node patterns
for the builtins edgecc's test models use: every quantized tensor becomes QuantizeLinear /
DequantizeLinear around float ops; NHWC convolutions and pools are wrapped in Transpose nodes;
int8 weights are initializers with a per-axis ``DequantizeLinear`` (axis 0 after the OHWI -> OIHW
transpose); biases are int32 (int8 models) or int64 (int16x8 models, which the ONNX spec does not
list) initializers with a per-axis ``DequantizeLinear`` whose ``axis`` attribute is left at its
default 1 or set to the NHWC channel axis, both out of range for a 1-D tensor.
"""

from __future__ import annotations

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

from edgecc.backends.tflite.schema import S, builtin_name, opcode_builtin

_ONNX_TYPE = {S.TensorType.INT8: TensorProto.INT8, S.TensorType.UINT8: TensorProto.UINT8,
              S.TensorType.INT16: TensorProto.INT16, S.TensorType.INT32: TensorProto.INT32,
              S.TensorType.INT64: TensorProto.INT64, S.TensorType.FLOAT32: TensorProto.FLOAT}
_NP = {S.TensorType.INT8: np.int8, S.TensorType.UINT8: np.uint8, S.TensorType.INT16: np.int16,
       S.TensorType.INT32: np.int32, S.TensorType.INT64: np.int64, S.TensorType.FLOAT32: np.float32}
_ACT = {S.ActivationFunctionType.NONE: None, S.ActivationFunctionType.RELU: (0.0, None),
        S.ActivationFunctionType.RELU6: (0.0, 6.0)}
NHWC_TO_NCHW, NCHW_TO_NHWC = [0, 3, 1, 2], [0, 2, 3, 1]


class _Converter:
    def __init__(self, data: bytes, bias_axis) -> None:
        self.m = S.ModelT.InitFromObj(S.Model.GetRootAs(data, 0))
        self.sg = self.m.subgraphs[0]
        self.bias_axis = bias_axis  # None: the default axis 1; else this axis attribute
        self.nodes: list[onnx.NodeProto] = []
        self.inits: list[onnx.TensorProto] = []
        self.count = 0
        self.float_of: dict[int, str] = {}

    # -- helpers
    def fresh(self, base: str) -> str:
        self.count += 1
        return f"{base}_{self.count}"

    def init(self, array, base: str) -> str:
        name = self.fresh(base)
        self.inits.append(numpy_helper.from_array(np.asarray(array), name))
        return name

    def node(self, op: str, inputs, **attrs) -> str:
        out = self.fresh(op.lower())
        self.nodes.append(helper.make_node(op, list(inputs), [out], name=out, **attrs))
        return out

    def tensor(self, i: int):
        return self.sg.tensors[i]

    def data(self, i: int) -> np.ndarray | None:
        t = self.tensor(i)
        buf = self.m.buffers[t.buffer].data if t.buffer else None
        if buf is None or len(buf) == 0:
            return None
        return np.frombuffer(bytes(buf), _NP[t.type]).reshape(t.shape)

    def params(self, i: int, n: int | None = None):
        q = self.tensor(i).quantization
        dt = _NP[self.tensor(i).type]
        scale = np.asarray(q.scale, np.float32)
        zp = np.asarray(q.zeroPoint if q.zeroPoint is not None else np.zeros(len(scale)), dt)
        if n is None and scale.size == 1:
            return self.init(scale.reshape(()), "scale"), self.init(zp.reshape(()), "zero_point")
        return self.init(scale, "scale"), self.init(zp, "zero_point")

    def dq(self, i: int) -> str:
        """The float value of tensor ``i``: DequantizeLinear of its integer tensor."""
        if i in self.float_of:
            return self.float_of[i]
        s, z = self.params(i)
        self.float_of[i] = self.node("DequantizeLinear", [self.int_name(i), s, z])
        return self.float_of[i]

    def int_name(self, i: int) -> str:
        return self.tensor(i).name.decode() if isinstance(self.tensor(i).name, bytes) else self.tensor(i).name

    def weight(self, i: int, perm) -> str:
        w = self.data(i)
        q = self.tensor(i).quantization
        w = np.ascontiguousarray(np.transpose(w, perm)) if perm is not None else w
        s, z = self.params(i, n=len(q.scale))
        axis = {0: 0, 3: 0}[q.quantizedDimension] if len(q.scale) > 1 else None
        kw = {"axis": axis} if axis is not None else {}
        return self.node("DequantizeLinear", [self.init(w, "weight"), s, z], **kw)

    def bias(self, i: int) -> str:
        b = self.data(i)
        s, z = self.params(i, n=b.shape[0])
        kw = {} if self.bias_axis is None else {"axis": self.bias_axis}
        return self.node("DequantizeLinear", [self.init(b, "bias"), s, z], **kw)

    def finish(self, y: str, act, out: int) -> None:
        bounds = _ACT[act] if act is not None else None
        if bounds is not None:
            lo, hi = bounds
            y = self.node("Relu", [y]) if hi is None else self.node(
                "Clip", [y, self.init(np.float32(lo), "min"), self.init(np.float32(hi), "max")])
        s, z = self.params(out)
        name = self.int_name(out)
        self.nodes.append(helper.make_node("QuantizeLinear", [y, s, z], [name], name=f"{name}_quantize"))

    # -- ops
    def convert(self, op) -> None:
        code = builtin_name(opcode_builtin(self.m.operatorCodes[op.opcodeIndex]))
        o = op.builtinOptions
        ins, out = list(op.inputs), op.outputs[0]
        if code in ("CONV_2D", "DEPTHWISE_CONV_2D"):
            x = self.node("Transpose", [self.dq(ins[0])], perm=NHWC_TO_NCHW)
            dw = code == "DEPTHWISE_CONV_2D"
            w_shape = self.tensor(ins[1]).shape
            kh, kw = (w_shape[1], w_shape[2])
            w = self.weight(ins[1], (3, 0, 1, 2) if dw else (0, 3, 1, 2))
            pads = self.pads(ins[0], out, kh, kw, o)
            group = self.tensor(ins[0]).shape[3] if dw else 1
            y = self.node("Conv", [x, w, self.bias(ins[2])], kernel_shape=[kh, kw],
                          strides=[o.strideH, o.strideW], dilations=[o.dilationHFactor, o.dilationWFactor],
                          pads=pads, group=group)
            self.finish(self.node("Transpose", [y], perm=NCHW_TO_NHWC), o.fusedActivationFunction, out)
        elif code == "AVERAGE_POOL_2D":
            x = self.node("Transpose", [self.dq(ins[0])], perm=NHWC_TO_NCHW)
            pads = self.pads(ins[0], out, o.filterHeight, o.filterWidth, o, dilated=False)
            y = self.node("AveragePool", [x], kernel_shape=[o.filterHeight, o.filterWidth],
                          strides=[o.strideH, o.strideW], pads=pads)
            self.finish(self.node("Transpose", [y], perm=NCHW_TO_NHWC), o.fusedActivationFunction, out)
        elif code == "FULLY_CONNECTED":
            k = self.tensor(ins[1]).shape[1]
            x = self.node("Reshape", [self.dq(ins[0]), self.init(np.array([-1, k], np.int64), "shape")])
            bias = [self.bias(ins[2])] if len(ins) > 2 and ins[2] >= 0 else []  # zero biases are dropped
            y = self.node("Gemm", [x, self.weight(ins[1], None), *bias], transB=1)
            if o.keepNumDims:
                shape = np.array(self.tensor(out).shape, np.int64)
                y = self.node("Reshape", [y, self.init(shape, "shape")])
            self.finish(y, o.fusedActivationFunction, out)
        elif code == "ADD":
            self.finish(self.node("Add", [self.dq(ins[0]), self.dq(ins[1])]), o.fusedActivationFunction, out)
        elif code == "MEAN":
            axes = self.data(ins[1]).astype(np.int64).reshape(-1)
            self.finish(self.node("ReduceMean", [self.dq(ins[0]), self.init(axes, "axes")],
                                  keepdims=int(o.keepDims)), None, out)
        elif code == "RESHAPE":
            shape = np.array(self.tensor(out).shape, np.int64)
            self.finish(self.node("Reshape", [self.dq(ins[0]), self.init(shape, "shape")]), None, out)
        elif code == "TRANSPOSE":
            perm = [int(v) for v in self.data(ins[1]).reshape(-1)]
            self.finish(self.node("Transpose", [self.dq(ins[0])], perm=perm), None, out)
        elif code == "PAD":
            p = self.data(ins[1]).astype(np.int64)
            pads = np.concatenate([p[:, 0], p[:, 1]])
            self.finish(self.node("Pad", [self.dq(ins[0]), self.init(pads, "pads")]), None, out)
        elif code == "SOFTMAX":
            self.finish(self.node("Softmax", [self.dq(ins[0])], axis=-1), None, out)
        elif code == "QUANTIZE":
            self.finish(self.node("Identity", [self.dq(ins[0])]), None, out)
        else:
            raise NotImplementedError(f"tf2onnx pattern for {code} is not reproduced here")

    def pads(self, x: int, out: int, kh: int, kw: int, o, dilated: bool = True) -> list[int]:
        if o.padding == S.Padding.VALID:
            return [0, 0, 0, 0]
        (_, h, w, _), (_, oh, ow, _) = self.tensor(x).shape, self.tensor(out).shape
        dh, dw = (o.dilationHFactor, o.dilationWFactor) if dilated else (1, 1)
        ph = max((oh - 1) * o.strideH + (kh - 1) * dh + 1 - h, 0)
        pw = max((ow - 1) * o.strideW + (kw - 1) * dw + 1 - w, 0)
        return [ph // 2, pw // 2, ph - ph // 2, pw - pw // 2]

    def model(self) -> onnx.ModelProto:
        for op in self.sg.operators:
            self.convert(op)

        def info(i):
            t = self.tensor(i)
            shape = [int(d) for d in t.shape]
            return helper.make_tensor_value_info(self.int_name(i), _ONNX_TYPE[t.type], shape)

        graph = helper.make_graph(self.nodes, "tf2onnx", [info(i) for i in self.sg.inputs],
                                  [info(i) for i in self.sg.outputs], self.inits)
        return helper.make_model(graph, opset_imports=[helper.make_opsetid("", 21)], producer_name="tf2onnx",
                                 ir_version=10)


def tflite_to_qdq_onnx(data: bytes, bias_axis: int | None = None) -> onnx.ModelProto:
    """The QDQ ONNX graph tf2onnx writes for the quantized .tflite ``data``."""
    return _Converter(data, bias_axis).model()
