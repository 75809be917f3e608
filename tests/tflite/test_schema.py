"""The generated schema module, its packaging, and the lazy import of the backend."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[2]
GENERATED = REPO / "backends/tflite/_generated"


def test_generated_module_is_a_package_with_a_readme():
    assert (GENERATED / "__init__.py").exists()
    readme = (GENERATED / "README.md").read_text(encoding="utf-8")
    assert "flatc" in readme and "--gen-object-api" in readme and "schema.fbs" in readme
    # no path of this machine (the clone's own path: its parent may be /tmp, which the README names)
    assert str(REPO) not in readme and "/home/" not in readme
    from edgecc.backends.tflite._generated import schema_generated as S

    assert S.BuiltinOperator.CONV_2D == 3 and S.TensorType.INT8 == 9
    for cls in ("ModelT", "SubGraphT", "TensorT", "OperatorT", "BufferT", "SignatureDefT"):
        assert hasattr(S, cls)


def test_setup_packages_include_the_generated_schema():
    code = ("import runpy, setuptools, sys\n"
            "seen = {}\n"
            "setuptools.setup = lambda **kw: seen.update(kw)\n"
            "runpy.run_path('setup.py')\n"
            "print('\\n'.join(seen['packages']))\n")
    out = subprocess.run([sys.executable, "-c", code], cwd=REPO, capture_output=True, text=True)
    assert out.returncode == 0, out.stderr
    pkgs = set(out.stdout.split())
    assert {"edgecc.backends.tflite", "edgecc.backends.tflite._generated"} <= pkgs


def test_importing_the_backend_is_lazy():
    code = ("import sys, edgecc.backends.tflite as t\n"
            "assert 'flatbuffers' not in sys.modules, 'flatbuffers imported eagerly'\n"
            "assert callable(t.emit) and callable(t.read_tflite) and callable(t.to_bytes)\n")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert out.returncode == 0, out.stderr


def test_aligned_builder_places_byte_vectors_on_16_bytes():
    from edgecc.backends.tflite.schema import S
    from edgecc.backends.tflite.writer import AlignedBuilder

    m = S.ModelT()
    m.version = 3
    m.buffers = []
    for n in (0, 1, 3, 17, 5):
        b = S.BufferT()
        b.data = np.arange(n, dtype=np.uint8)
        m.buffers.append(b)
    builder = AlignedBuilder(64)
    builder.Finish(m.Pack(builder), file_identifier=b"TFL3")
    data = bytes(builder.Output())
    root = S.Model.GetRootAs(data, 0)
    for i in range(1, root.BuffersLength()):
        b = root.Buffers(i)
        assert b._tab.Vector(b._tab.Offset(4)) % 16 == 0
        assert b.DataAsNumpy().tolist() == list(range(b.DataLength()))


def test_object_api_round_trip_runs_in_tflm(shared_models):
    """Unpack -> Pack of a converter-made file keeps TFLM's results (sanity of the generated code)."""
    from edgecc.backends.tflite import verify as V
    from edgecc.backends.tflite.schema import S
    from edgecc.backends.tflite.writer import AlignedBuilder

    data = (shared_models / "ad01_int8.tflite").read_bytes()
    m = S.ModelT.InitFromObj(S.Model.GetRootAs(data, 0))
    b = AlignedBuilder(1024)
    b.Finish(m.Pack(b), file_identifier=b"TFL3")
    repacked = bytes(b.Output())
    feeds = V.random_inputs(data, 1)[0]
    V.assert_bit_exact(V.run_tflm(repacked, feeds), V.run_tflm(data, feeds))
