"""CMSIS-NN for int16x8 (``_s16`` kernels) and int4 weights (``_s4`` kernels, packed two per byte):
bit-exact with the integer reference when built on the host with CMSIS-NN (EDGECC_CMSIS_NN; those
tests skip without it), the exactness rules of ``lower_cmsis16``, and int4 weight flash."""

from __future__ import annotations

import math
import os
from pathlib import Path

import numpy as np
import pytest

from edgecc.backends.c.generate import build_model
from edgecc.backends.c.lower_cmsis16 import exact_s16, softmax_s16_exact
from edgecc.backends.c.packing import PACK_ATTR, pack_int4, unpack_int4
from edgecc.backends.c.verify import verify

CORES = ("cortex-m4", "cortex-m55")
S16_KERNELS = {"arm_convolve_wrapper_s16", "arm_depthwise_conv_wrapper_s16", "arm_elementwise_add_s16",
               "arm_elementwise_mul_s16", "arm_max_pool_s16", "arm_avgpool_s16", "arm_softmax_s16"}


def cmsis_nn() -> None:
    if not os.environ.get("EDGECC_CMSIS_NN"):
        pytest.skip("EDGECC_CMSIS_NN is not set: the CMSIS-NN build cannot be checked on the host")


# ------------------------------------------------------------------ rules (no compiler needed)
def test_int4_packing_order_and_odd_counts():
    # element 2k in the low nibble, 2k + 1 in the high nibble, flat over the tensor
    assert pack_int4([1, 2, -1, -8]).view(np.uint8).tolist() == [0x21, 0x8F]
    assert pack_int4([7, -2, 3]).view(np.uint8).tolist() == [0xE7, 0x03]  # odd: last high nibble 0
    v = np.random.default_rng(0).integers(-8, 8, 77)
    assert pack_int4(v).size == 39 and np.array_equal(unpack_int4(pack_int4(v), 77), v)
    with pytest.raises(ValueError):
        pack_int4([8])


def test_s16_overflow_rule():
    one = [1 << 30]
    assert exact_s16(np.full((1, 512), 127), [0], one, [0])  # 512 * 127 * 32768 < 2^31
    assert not exact_s16(np.full((1, 520), 127), [0], one, [-20])  # the int32 dot product may wrap
    assert not exact_s16(np.full((1, 8), 127), [0], one, [15])  # arm_nn_requantize_s64 needs shift <= 14
    assert not exact_s16(np.full((1, 8), 127), [0], one, [12])  # int32 intermediate of the requantization
    assert exact_s16(np.full((1, 8), 127), [1 << 40], [1 << 24], [-20])


def test_s16_softmax_rule():
    from edgecc.interp.quantized.elementwise import softmax_int16_luts

    exp_lut, recip_lut = softmax_int16_luts()
    ok = [n for n in range(1, 20) if softmax_s16_exact(n, exp_lut, recip_lut)]
    # one element: CMSIS-NN stores 32768 as -32768; from 9: unsaturated reciprocal index
    assert ok == list(range(2, 9))


# ------------------------------------------------------------------ a small model of every layer
def small_model(ch: int = 5):
    """conv 3x3, depthwise, add, mul, max pool, avg pool, dense, softmax over 7 classes; the avg
    pool result is a second output. 5 channels give odd int4 weight counts."""
    import onnx
    from onnx import TensorProto, helper, numpy_helper

    rng = np.random.default_rng(1)

    def init(name, shape, scale=0.3):
        return numpy_helper.from_array((rng.standard_normal(shape) * scale).astype(np.float32), name)

    nodes = [
        helper.make_node("Conv", ["x", "w1", "b1"], ["c1"], pads=[1, 1, 1, 1], kernel_shape=[3, 3]),
        helper.make_node("Relu", ["c1"], ["r1"]),
        helper.make_node("Conv", ["r1", "w2", "b2"], ["c2"], pads=[1, 1, 1, 1], kernel_shape=[3, 3], group=ch),
        helper.make_node("Add", ["r1", "c2"], ["a"]),
        helper.make_node("Mul", ["a", "c2"], ["m"]),
        helper.make_node("MaxPool", ["m"], ["p1"], kernel_shape=[2, 2], strides=[2, 2]),
        helper.make_node("AveragePool", ["p1"], ["p2"], kernel_shape=[3, 3], pads=[1, 1, 1, 1]),
        helper.make_node("Flatten", ["p2"], ["f"]),
        helper.make_node("Gemm", ["f", "w3", "b3"], ["g"], transB=1),
        helper.make_node("Softmax", ["g"], ["y"], axis=-1),
    ]
    graph = helper.make_graph(
        nodes, "cmsis16", [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 3, 10, 10])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, [1, 7]),
         helper.make_tensor_value_info("p2", TensorProto.FLOAT, [1, 5, 5, 5])],
        [init("w1", (ch, 3, 3, 3)), init("b1", (ch,), 0.1), init("w2", (ch, 1, 3, 3)), init("b2", (ch,), 0.1),
         init("w3", (7, 25 * ch), 0.1), init("b3", (7,), 0.1)])
    return onnx.helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])


def quantized(scheme: str, ch: int = 5, per_channel: bool = True):
    import warnings

    from edgecc.frontend import import_onnx
    from edgecc.passes.manager import PassManager
    from edgecc.quant.ptq import QuantizeConfig, quantize_module

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        module = import_onnx(small_model(ch))
    PassManager.parse("canonicalize").run(module)
    rng = np.random.default_rng(0)
    calib = [[rng.standard_normal(a.type.shape).astype(np.float32) for a in module.func.arguments]
             for _ in range(8)]
    quantize_module(module, QuantizeConfig(scheme=scheme, per_channel=per_channel), calib)
    return module


@pytest.fixture(scope="module")
def small():
    models = {s: quantized(s) for s in ("int8", "int16x8", "int8-w4")}
    models["int8-w4-even"] = quantized("int8-w4", 6)
    models["int16x8-per-tensor"] = quantized("int16x8", 6, per_channel=False)
    models["int8-w4-per-tensor"] = quantized("int8-w4", 6, per_channel=False)
    return models


def packed_counts(cm) -> list[int]:
    return [op.results[0].type.num_elements for op in cm.lowered.func.body
            if op.has_trait("ConstantLike") and op.attrs.get(PACK_ATTR) == "int4"]


def int4_counts(module) -> list[int]:
    return [op.results[0].type.num_elements for op in module.func.body if op.has_trait("ConstantLike")
            and getattr(op.results[0].type.element, "storage", None) is not None
            and op.results[0].type.element.storage.bits == 4]


@pytest.mark.parametrize("core", CORES)
def test_small_int16x8_on_cmsis_nn_s16(small, core, runtime_lib, tmp_path):
    cmsis_nn()
    r = verify(small["int16x8"], target=core, inputs=4, memory="speed", runtime_lib=runtime_lib,
               workdir=tmp_path)
    assert r.passed, [vars(c) for c in r.outputs]
    kernels = set(build_model(small["int16x8"], target=core, memory="speed").report["kernels"])
    assert S16_KERNELS <= kernels, kernels
    assert kernels & {"arm_fully_connected_s16", "arm_convolve_wrapper_s16"}
    assert not any(k.startswith("edgecc_") and k.endswith("_s16") for k in kernels), kernels


@pytest.mark.parametrize("core", CORES)
@pytest.mark.parametrize("model", ["int8-w4", "int8-w4-even"])
def test_small_int8_w4_on_cmsis_nn_s4(small, model, core, runtime_lib, tmp_path):
    cmsis_nn()
    r = verify(small[model], target=core, inputs=4, memory="speed", runtime_lib=runtime_lib, workdir=tmp_path)
    assert r.passed, [vars(c) for c in r.outputs]
    kernels = set(build_model(small[model], target=core, memory="speed").report["kernels"])
    assert "arm_convolve_wrapper_s4" in kernels, kernels
    assert not any(k.startswith(("edgecc_conv", "edgecc_fully")) for k in kernels), kernels
    if core == "cortex-m4":
        assert "arm_depthwise_conv_wrapper_s4" in kernels
    elif model == "int8-w4-even":  # Helium: the generic s4 depthwise, even channel counts only
        assert "arm_depthwise_conv_s4" in kernels
    else:
        assert "edgecc_depthwise_conv2d_s8" in kernels


@pytest.mark.parametrize("core", CORES)
@pytest.mark.parametrize("model", ["int16x8-per-tensor", "int8-w4-per-tensor"])
def test_small_per_tensor_dense_layers(small, model, core, runtime_lib, tmp_path):
    """Per-tensor weights: CMSIS-NN's own s16/s4 dense kernels (per-channel ones run as 1x1 convolutions)."""
    cmsis_nn()
    r = verify(small[model], target=core, inputs=3, memory="speed", runtime_lib=runtime_lib, workdir=tmp_path)
    assert r.passed, [vars(c) for c in r.outputs]
    kernels = build_model(small[model], target=core, memory="speed").report["kernels"]
    assert kernels["arm_fully_connected_s16" if model.startswith("int16") else "arm_fully_connected_s4"] == 1


def conv_model(ch: int, oc: int, k=(3, 3), stride=1, dil=1, group=1, hw=(9, 7)):
    """One Conv node ("same"-style padding for odd kernels)."""
    import onnx
    from onnx import TensorProto, helper, numpy_helper

    rng = np.random.default_rng(ch * 7 + oc * 3 + dil + 11 * stride)
    pads = [dil * (k[0] // 2), dil * (k[1] // 2)] * 2
    node = helper.make_node("Conv", ["x", "w", "b"], ["y"], pads=pads, kernel_shape=list(k), group=group,
                            dilations=[dil, dil], strides=[stride, stride])
    graph = helper.make_graph(
        [node], "conv", [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, ch, *hw])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, None)],
        [numpy_helper.from_array((rng.standard_normal((oc, ch // group, *k)) * 0.3).astype(np.float32), "w"),
         numpy_helper.from_array((rng.standard_normal(oc) * 0.1).astype(np.float32), "b")])
    return onnx.helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])


def quantized_onnx(model, scheme: str):
    import warnings

    from edgecc.frontend import import_onnx
    from edgecc.quant.ptq import QuantizeConfig, quantize_module

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        module = import_onnx(model)
    rng = np.random.default_rng(0)
    quantize_module(module, QuantizeConfig(scheme=scheme),
                    [[rng.standard_normal(a.type.shape).astype(np.float32) for a in module.func.arguments]
                     for _ in range(4)])
    return module


@pytest.mark.parametrize("ch, mult, dil", [(3, 1, 1), (3, 1, 2), (3, 2, 1), (4, 1, 2), (4, 2, 1), (6, 2, 2)])
def test_int4_depthwise_geometries(ch, mult, dil, runtime_lib, tmp_path):
    """CMSIS-NN's generic s4 depthwise (multiplier > 1, dilation, Helium) is wrong for odd channel
    counts: those stay portable, the rest run on CMSIS-NN, all bit-exact."""
    cmsis_nn()
    module = quantized_onnx(conv_model(ch, ch * mult, dil=dil, group=ch), "int8-w4")
    for core in CORES:
        r = verify(module, target=core, inputs=3, memory="speed", runtime_lib=runtime_lib, workdir=tmp_path / core)
        assert r.passed, (core, [vars(c) for c in r.outputs])
        kernels = build_model(module, target=core, memory="speed").report["kernels"]
        generic = core == "cortex-m55" or mult != 1 or dil != 1
        assert any(k.startswith("arm_depthwise_conv") for k in kernels) == (not (generic and ch % 2)), kernels


CONV_GEOMETRIES = {  # the CMSIS-NN wrappers' kernel choices: 1x1 (fast, strided), 1xN, im2col (odd/even)
    "1x1": dict(ch=8, oc=6, k=(1, 1)), "1x1-stride2": dict(ch=4, oc=5, k=(1, 1), stride=2),
    "1xN": dict(ch=4, oc=6, k=(1, 3), hw=(1, 9)), "3x3-odd": dict(ch=3, oc=5),
    "3x3-even": dict(ch=4, oc=4, stride=2), "dilated": dict(ch=4, oc=3, dil=2),
    "dw-mult2": dict(ch=4, oc=8, group=4), "dw-dilated": dict(ch=6, oc=6, group=6, dil=2)}


@pytest.mark.parametrize("scheme", ["int16x8", "int8-w4"])
@pytest.mark.parametrize("geometry", sorted(CONV_GEOMETRIES))
def test_conv_geometries_on_cmsis_nn(scheme, geometry, runtime_lib, tmp_path):
    cmsis_nn()
    module = quantized_onnx(conv_model(**CONV_GEOMETRIES[geometry]), scheme)
    for core in CORES:
        r = verify(module, target=core, inputs=3, memory="speed", runtime_lib=runtime_lib, workdir=tmp_path / core)
        assert r.passed, (core, [vars(c) for c in r.outputs])
        kernels = build_model(module, target=core, memory="speed").report["kernels"]
        assert any(k.startswith("arm_") for k in kernels), kernels


def test_small_int4_weight_flash_is_half(small):
    int4 = int4_counts(small["int8-w4"])
    assert len(int4) == 3 and any(n % 2 for n in int4)  # conv 135, depthwise 45, dense 875 weights
    w8 = build_model(small["int8"], target="cortex-m4", memory="speed")
    w4 = build_model(small["int8-w4"], target="cortex-m4", memory="speed")  # m55: the odd depthwise is portable
    assert sorted(packed_counts(w4)) == sorted(int4)
    saved = sum(n - math.ceil(n / 2) for n in int4)
    assert w4.report["weights_bytes"] == w8.report["weights_bytes"] - saved


def test_portable_kernels_keep_one_byte_int4(small):
    m = build_model(small["int8-w4"], target="generic")
    assert packed_counts(m) == []


# ------------------------------------------------------------------ the bundled example
@pytest.fixture(scope="module")
def example():
    import edgecc.examples as ex
    from edgecc.backends.c.verify_cli import _load

    calib = Path(ex.__file__).parent / "kws_calib.npz"
    return {q: _load(Path(ex.path()), q, calib, "int", ())[0] for q in ("int8", "int16x8", "int8-w4")}


@pytest.mark.parametrize("core", CORES)
@pytest.mark.parametrize("scheme", ["int16x8", "int8-w4"])
def test_example_on_cmsis_nn(example, scheme, core, runtime_lib, tmp_path):
    cmsis_nn()
    r = verify(example[scheme], target=core, inputs=4, memory="speed", runtime_lib=runtime_lib,
               workdir=tmp_path)
    assert r.passed, [vars(c) for c in r.outputs]
    kernels = build_model(example[scheme], target=core, memory="speed").report["kernels"]
    if scheme == "int16x8":
        assert kernels["arm_convolve_wrapper_s16"] == 6 and kernels["arm_depthwise_conv_wrapper_s16"] == 4
        assert kernels["edgecc_softmax_s16"] == 1  # 12 classes: not provably exact in CMSIS-NN
    else:
        dw = "arm_depthwise_conv_s4" if core == "cortex-m55" else "arm_depthwise_conv_wrapper_s4"
        assert kernels["arm_convolve_wrapper_s4"] == 6 and kernels[dw] == 4


def test_example_int4_weight_flash_is_half(example):
    w8 = build_model(example["int8"], target="cortex-m55", memory="speed").report
    w4m = build_model(example["int8-w4"], target="cortex-m55", memory="speed")
    int4 = int4_counts(example["int8-w4"])
    assert sorted(packed_counts(w4m)) == sorted(int4) and len(int4) == 10
    assert w4m.report["weights_bytes"] == w8["weights_bytes"] - sum(n - math.ceil(n / 2) for n in int4)


@pytest.mark.parametrize("model", ["int16x8", "int8-w4-even"])
def test_small_models_under_sanitizers(small, model, tmp_path):
    """The planned scratch is enough for CMSIS-NN's C build (AddressSanitizer)."""
    cmsis_nn()
    r = verify(small[model], target="cortex-m55", inputs=2, memory="speed", sanitize=True, workdir=tmp_path)
    assert r.passed
