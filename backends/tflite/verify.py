"""Verification harness: run .tflite files in LiteRT, TFLM and Vela and compare outputs.

Used by the tests; the interpreters (``ai_edge_litert``, ``tflite_micro``)
and ``vela`` are test dependencies and are imported lazily here, never by
the compiler itself.

* ``run_litert(model, inputs)``: LiteRT with one thread and the reference
  ("BUILTIN_REF") kernels, so integer results follow the reference code.
* ``run_tflm(model, inputs)``: the TFLM Python interpreter (x86 reference kernels).
* ``tflm_arena_bytes(model)``: the arena TFLM's RecordingMicroAllocator reports
  (``print_allocations``: total / head / tail) after one inference.
* ``run_vela(model)``: Arm's Vela for an Ethos-U config; NPU/CPU operator counts.
* ``random_inputs``, ``compare_float``, ``assert_bit_exact``: helpers for tests.

``model`` is a path or bytes; ``inputs`` is a list in subgraph-input order.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np


def _bytes(model) -> bytes:
    if isinstance(model, (bytes, bytearray, memoryview)):
        return bytes(model)
    return Path(model).read_bytes()


def run_litert(model, inputs, *, reference: bool = True) -> list[np.ndarray]:
    """Outputs of ``model`` in LiteRT (num_threads=1; reference kernels unless told otherwise)."""
    from ai_edge_litert.interpreter import Interpreter, OpResolverType

    kw = {"experimental_op_resolver_type": OpResolverType.BUILTIN_REF} if reference else {}
    it = Interpreter(model_content=_bytes(model), num_threads=1, **kw)
    it.allocate_tensors()
    for d, x in zip(it.get_input_details(), inputs):
        it.set_tensor(d["index"], np.asarray(x, d["dtype"]).reshape(d["shape"]))
    it.invoke()
    return [np.array(it.get_tensor(d["index"])) for d in it.get_output_details()]


def _tflm(model, arena_size: int | None):
    from tflite_micro.python.tflite_micro import runtime

    data = _bytes(model)
    return runtime.Interpreter.from_bytes(data, arena_size=arena_size or max(len(data) * 4, 1 << 20))


def run_tflm(model, inputs, *, arena_size: int | None = None, interpreter=None) -> list[np.ndarray]:
    """Outputs of ``model`` in the TFLM interpreter (pass ``interpreter`` to reuse one)."""
    it = interpreter or _tflm(model, arena_size)
    for i, x in enumerate(inputs):
        d = it.get_input_details(i)
        it.set_input(np.asarray(x, d["dtype"]).reshape(d["shape"]), i)
    it.invoke()
    return [np.array(it.get_output(i)) for i in range(_num_outputs(model))]


def _num_outputs(model) -> int:
    from edgecc.backends.tflite.schema import S

    return S.Model.GetRootAs(_bytes(model), 0).Subgraphs(0).OutputsLength()


def tflm_interpreter(model, arena_size: int | None = None):
    return _tflm(model, arena_size)


def _capture_fd2(fn) -> str:
    """Run ``fn`` and return what it printed on file descriptor 2 (C++ stderr)."""
    sys.stderr.flush()
    saved = os.dup(2)
    with tempfile.TemporaryFile() as tmp:
        os.dup2(tmp.fileno(), 2)
        try:
            fn()
        finally:
            os.dup2(saved, 2)
            os.close(saved)
        tmp.seek(0)
        return tmp.read().decode("utf-8", "replace")


_ALLOC = re.compile(r"Arena allocation (total|head|tail) (\d+) bytes")


def tflm_arena_bytes(model, inputs=None) -> dict[str, int]:
    """TFLM's arena need for ``model``: {"total", "head", "tail"} in bytes (print_allocations)."""
    it = _tflm(model, None)
    if inputs is None:
        inputs = random_inputs(model, 1)[0]
    run_tflm(model, inputs, interpreter=it)
    text = _capture_fd2(it.print_allocations)
    found = {k: int(v) for k, v in _ALLOC.findall(text)}
    if "total" not in found:
        raise RuntimeError(f"could not parse TFLM print_allocations output: {text[:300]!r}")
    return found


def input_details(model) -> list[tuple[tuple[int, ...], np.dtype]]:
    """(shape, dtype) of each subgraph input, from the file."""
    from edgecc.backends.tflite.schema import S, plain_element

    m = S.Model.GetRootAs(_bytes(model), 0)
    sg = m.Subgraphs(0)
    out = []
    for k in range(sg.InputsLength()):
        t = sg.Tensors(sg.Inputs(k))
        shape = tuple(int(d) for d in t.ShapeAsNumpy()) if t.ShapeLength() else ()
        out.append((shape, np.dtype(plain_element(t.Type()).numpy)))
    return out


def random_inputs(model, n: int, seed: int = 0) -> list[list[np.ndarray]]:
    """``n`` input sets: floats ~ N(0, 1), integers uniform over their range (int8: full range)."""
    rng = np.random.default_rng(seed)
    sets = []
    for _ in range(n):
        feeds = []
        for shape, dt in input_details(model):
            if dt.kind == "f":
                feeds.append(rng.standard_normal(shape).astype(dt))
            elif dt == np.bool_:
                feeds.append(rng.random(shape) > 0.5)
            else:
                info = np.iinfo(dt)
                lo, hi = max(info.min, -32768), min(info.max, 32767)
                feeds.append(rng.integers(lo, hi + 1, shape).astype(dt))
        sets.append(feeds)
    return sets


def compare_float(got, want, *, rtol: float = 1e-5, atol: float | None = None) -> float:
    """Assert ``|got - want| <= atol + rtol * |want|`` elementwise for lists of arrays.

    ``atol`` defaults to ``rtol * max|want|`` (relative to the output's scale, so values
    near zero are not judged by their own tiny magnitude). Returns the largest
    ``max|got - want| / max|want|`` over the outputs.
    """
    assert len(got) == len(want), f"{len(got)} outputs, expected {len(want)}"
    worst = 0.0
    for k, (g, w) in enumerate(zip(got, want)):
        g, w = np.asarray(g, np.float64), np.asarray(w, np.float64)
        assert g.shape == w.shape, f"output {k}: shape {g.shape} != {w.shape}"
        scale = float(np.max(np.abs(w), initial=0.0))
        tol = (atol if atol is not None else rtol * scale) + rtol * np.abs(w)
        diff = np.abs(g - w)
        worst = max(worst, float(diff.max(initial=0.0)) / max(scale, 1e-30))
        bad = diff > tol
        assert not bad.any(), (f"output {k}: {int(bad.sum())} elements off by up to "
                               f"{float(diff.max()):.3g} (scale {scale:.3g}, rtol {rtol})")
    return worst


def assert_bit_exact(got, want) -> None:
    assert len(got) == len(want), f"{len(got)} outputs, expected {len(want)}"
    for k, (g, w) in enumerate(zip(got, want)):
        g, w = np.asarray(g), np.asarray(w)
        assert g.shape == w.shape, f"output {k}: shape {g.shape} != {w.shape}"
        diff = np.abs(g.astype(np.int64) - w.astype(np.int64))
        assert not diff.any(), (f"output {k}: {int((diff > 0).sum())} of {diff.size} elements differ "
                                f"(max {int(diff.max())})")


_VELA = re.compile(r"(CPU|NPU) operators = (\d+)")


def run_vela(model, accelerator: str = "ethos-u55-128", timeout: float = 300) -> dict:
    """Compile ``model`` with Vela; returns {"npu_ops", "cpu_ops", "summary", "output", "tflite_ops",
    "output_ops"}: Vela's NPU/CPU operator counts (after its own lowering), its summary text, the
    optimised .tflite, and the operator names before and after (NPU parts become 'ethos-u').

    Raises RuntimeError with Vela's output when it rejects the model.
    """
    exe = Path(sys.executable).with_name("vela")
    cmd = [str(exe) if exe.exists() else "vela"]
    with tempfile.TemporaryDirectory() as tmp:
        src = Path(tmp) / "model.tflite"
        src.write_bytes(_bytes(model))
        proc = subprocess.run(cmd + [str(src), "--accelerator-config", accelerator, "--output-dir",
                                     str(Path(tmp) / "out")], capture_output=True, text=True,
                              timeout=timeout)
        text = proc.stdout + proc.stderr
        if proc.returncode != 0:
            raise RuntimeError(f"vela failed ({proc.returncode}):\n{text[-2000:]}")
        counts = {k: int(v) for k, v in _VELA.findall(text)}
        out = Path(tmp) / "out" / "model_vela.tflite"
        result = out.read_bytes() if out.exists() else None
        return {"npu_ops": counts.get("NPU", 0), "cpu_ops": counts.get("CPU", 0), "summary": text,
                "output": result, "tflite_ops": _op_names(src.read_bytes()),
                "output_ops": _op_names(result) if result is not None else []}


def _op_names(data: bytes) -> list[str]:
    """Operator names of a .tflite, in order (custom ops by their custom code, e.g. 'ethos-u')."""
    from edgecc.backends.tflite.schema import S, builtin_name, opcode_builtin

    m = S.ModelT.InitFromObj(S.Model.GetRootAs(data, 0))
    names = []
    for op in m.subgraphs[0].operators or []:
        oc = m.operatorCodes[op.opcodeIndex]
        code = opcode_builtin(oc)
        if code == S.BuiltinOperator.CUSTOM:
            c = oc.customCode
            names.append(c.decode() if isinstance(c, bytes) else str(c))
        else:
            names.append(builtin_name(code))
    return names


__all__ = ["assert_bit_exact", "compare_float", "input_details", "random_inputs", "run_litert", "run_tflm",
           "run_vela", "tflm_arena_bytes", "tflm_interpreter"]
