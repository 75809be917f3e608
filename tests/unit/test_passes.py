"""Pass infrastructure: registry, pipeline strings, typed options, PassManager behaviour."""

from __future__ import annotations

import io
from dataclasses import dataclass, field
from importlib.metadata import EntryPoint
from typing import ClassVar, Literal

import pytest

import edgecc
from edgecc.ir.core import Module
from edgecc.ir.diagnostics import PassError
from edgecc.passes import Pass, PassContext, PassManager, get_pass
from edgecc.passes import registry
from edgecc.passes.pipeline import parse_pipeline, split_pipeline

SMALL = """\
module @small {
  func.func @main(%x: tensor<2x3xf32>) -> (tensor<2x3xf32>) {
    %dead = nn.relu(%x) : (tensor<2x3xf32>) -> tensor<2x3xf32>
    %a = nn.neg(%x) : (tensor<2x3xf32>) -> tensor<2x3xf32>
    %b = nn.neg(%x) : (tensor<2x3xf32>) -> tensor<2x3xf32>
    %c = nn.add(%a, %b) : (tensor<2x3xf32>, tensor<2x3xf32>) -> tensor<2x3xf32>
    func.return(%c) : (tensor<2x3xf32>) -> ()
  }
}
"""


def small() -> Module:
    return edgecc.parse_ir(SMALL, "small.mlir")


@dataclass
class Typed(Pass):
    """A pass with one option of each supported type."""

    name: ClassVar[str] = "test-typed"
    flag: bool = field(default=False, metadata={"doc": "a bool"})
    count: int = field(default=3, metadata={"doc": "an int"})
    ratio: float = field(default=0.5, metadata={"doc": "a float"})
    label: str = field(default="x", metadata={"doc": "a string"})
    scheme: Literal["int8", "int16x8"] = field(default="int8", metadata={"doc": "a choice"})
    layers: tuple[str, ...] = field(default=(), metadata={"doc": "a list"})
    per_channel: bool = field(default=True, metadata={"doc": "a two-word option"})

    def run(self, module, ctx) -> bool:
        ctx.stat("runs")
        return False


@dataclass
class BreakIR(Pass):
    """Retypes the first nn op's result to a wrong shape."""

    name: ClassVar[str] = "test-break-ir"

    def run(self, module, ctx) -> bool:
        for op in module.ops:
            if op.name.startswith("nn."):
                r = op.results[0]
                r.type = r.type.with_shape((7,))
                return True
        return False


@dataclass
class Fails(Pass):
    """Raises a located error from inside the pass."""

    name: ClassVar[str] = "test-fails"

    def run(self, module, ctx) -> bool:
        op = next(iter(module.ops))
        raise op.error("cannot handle this op")


@pytest.fixture
def test_passes():
    for cls in (Typed, BreakIR, Fails):
        registry.register_pass(cls)
    yield
    for cls in (Typed, BreakIR, Fails):
        registry.unregister_pass(cls.name)


# ----------------------------------------------------------------- registry
def test_every_registered_pass_imports_with_matching_name():
    for key in registry.PASSES:
        cls = get_pass(key)
        assert issubclass(cls, Pass)
        assert cls.name == key
        assert cls.__doc__ and cls.__doc__.strip(), f"pass {key} needs a docstring"
        for f in cls.options():
            assert f.metadata.get("doc"), f"option {key}.{f.name} needs metadata={{'doc': ...}}"


def test_builtin_passes_registered():
    names = registry.available_passes()
    for name in ("canonicalize", "cse", "dce"):
        assert name in names


def test_plugin_pass_from_entry_point(monkeypatch):
    ep = EntryPoint(name="test-plugin-dce", value="edgecc.transforms.dce:DCE", group="edgecc.passes")
    monkeypatch.setattr(registry, "plugin_entry_points", lambda: {ep.name: ep})
    assert "test-plugin-dce" in registry.available_passes()
    assert get_pass("test-plugin-dce").name == "dce"
    registry._LOADED.pop("test-plugin-dce", None)


def test_broken_plugin_is_reported(monkeypatch):
    ep = EntryPoint(name="test-broken", value="edgecc.no_such_module:X", group="edgecc.passes")
    monkeypatch.setattr(registry, "plugin_entry_points", lambda: {ep.name: ep})
    with pytest.raises(PassError, match="plugin pass 'test-broken' .* failed to load"):
        get_pass("test-broken")


# --------------------------------------------------------------- pipelines
@pytest.mark.parametrize("text", [
    "canonicalize,cse,dce",
    "canonicalize{max-iterations=3},dce",
    "canonicalize{fold=false disable=[reshape_noop,cast_noop]}",
    "",
])
def test_pipeline_round_trip(text):
    pm = PassManager.parse(text)
    assert pm.pipeline_text() == text
    assert PassManager.parse(pm.pipeline_text()).pipeline_text() == text


def test_pipeline_canonical_form():
    pm = PassManager.parse(" canonicalize { fold = true, max_iterations=4 } , cse ")
    assert pm.pipeline_text() == "canonicalize{max-iterations=4},cse"
    assert [p.name for p in pm.passes] == ["canonicalize", "cse"]


def test_typed_options(test_passes):
    (p,) = parse_pipeline("test-typed{flag=true count=-7 ratio=1e-3 label='a b' scheme=int16x8 "
                          "layers=[conv1,\"fc,2\"] per_channel=false}")
    assert p == Typed(flag=True, count=-7, ratio=1e-3, label="a b", scheme="int16x8",
                      layers=("conv1", "fc,2"), per_channel=False)
    assert isinstance(p.ratio, float) and isinstance(p.count, int)
    text = p.pipeline_text()
    assert text == ('test-typed{flag=true count=-7 ratio=0.001 label="a b" scheme=int16x8 '
                    'layers=[conv1,"fc,2"] per-channel=false}')
    assert parse_pipeline(text) == [p]


def test_option_forms(test_passes):
    (p,) = parse_pipeline("test-typed{flag,layers=\"a, b\",ratio=2}")
    assert p.flag is True and p.layers == ("a", "b") and p.ratio == 2.0
    (p,) = parse_pipeline("test-typed{layers=one}")
    assert p.layers == ("one",)
    (p,) = parse_pipeline("test-typed{layers=[]}")
    assert p.layers == ()
    assert parse_pipeline("test-typed{}") == [Typed()]


def test_split_pipeline_keeps_raw_options():
    (el,) = split_pipeline("quantize{scheme=int8 calibration=minmax}")
    assert el.name == "quantize"
    assert [(k, v.text) for k, v in el.options] == [("scheme", "int8"), ("calibration", "minmax")]


@pytest.mark.parametrize("text, message", [
    ("canonicalise", r"^error: unknown pass 'canonicalise' \(did you mean 'canonicalize'\?\); "
                     r"registered passes: .*canonicalize, cluster, cse, dce"),
    ("cse{x=1}", r"pass 'cse' has no option 'x'; it takes no options"),
    ("test-typed{colour=red}", r"pass 'test-typed' has no option 'colour'; its options are: flag, count, "
                               r"ratio, label, scheme, layers, per-channel"),
    ("test-typed{flag=yes}", r"option 'flag' of pass 'test-typed' expects true or false, got 'yes'"),
    ("test-typed{count=1.5}", r"option 'count' of pass 'test-typed' expects an integer, got '1.5'"),
    ("test-typed{ratio=fast}", r"option 'ratio' of pass 'test-typed' expects a number, got 'fast'"),
    ("test-typed{scheme=int4}", r"expects one of int8, int16x8, got 'int4'"),
    ("test-typed{count=[1,2]}", r"option 'count' of pass 'test-typed' expects an integer, got a list"),
    ("test-typed{count}", r"option 'count' of pass 'test-typed' needs a value"),
    ("test-typed{count=1 count=2}", r"option 'count' of pass 'test-typed' is given twice"),
    ("cse{", r"unbalanced braces: '\{' of pass 'cse' is never closed at column 4"),
    ("cse}", r"unbalanced braces: unexpected '\}' at column 4"),
    ("cse{{}}", r"unbalanced braces: unexpected '\{' at column 5"),
    ("test-typed{layers=[a,b}", r"unbalanced brackets: '\[' is never closed"),
    ("test-typed{label=\"abc}", r"unterminated string"),
    ("cse,,dce", r"expected a pass name, found ',' at column 5"),
    ("cse dce", r"expected ',' between passes, found 'd' at column 5"),
    ("cse,", r"expected a pass name, found the end"),
])
def test_pipeline_errors(test_passes, text, message):
    with pytest.raises(PassError, match=message) as info:
        parse_pipeline(text)
    assert "\n" not in str(info.value)


# ------------------------------------------------------------ pass manager
def test_runs_passes_in_order_and_reports_change():
    m = small()
    assert PassManager.parse("dce,cse").run(m) is True
    names = [op.name for op in m.ops]
    assert names == ["nn.neg", "nn.add", "func.return"]
    assert PassManager.parse("dce,cse").run(m) is False


def test_pass_instances_and_names_are_accepted():
    pm = PassManager(["dce", get_pass("cse")()])
    assert pm.pipeline_text() == "dce,cse"


def test_verify_each_catches_broken_pass(test_passes):
    pm = PassManager.parse("dce,test-break-ir,cse")
    with pytest.raises(PassError) as info:
        pm.run(small())
    e = info.value
    assert "IR does not verify after pass 'test-break-ir' (pass 2 of 3 in the pipeline)" in e.message
    assert "result shape 7 does not match inferred shape 2x3" in e.message
    assert e.loc is not None and e.loc.describe() == "small.mlir:4:5"
    assert str(e).startswith("small.mlir:4:5: error: ")


def test_verify_each_can_be_disabled(test_passes):
    assert PassManager.parse("test-break-ir", verify_each=False).run(small()) is True


def test_invalid_input_is_reported_before_the_first_pass(test_passes):
    m = small()
    BreakIR().run(m, PassContext())
    with pytest.raises(PassError, match="the input to the pipeline does not verify"):
        PassManager.parse("dce").run(m)


def test_located_error_inside_a_pass_names_the_pass(test_passes):
    with pytest.raises(PassError) as info:
        PassManager.parse("cse,test-fails").run(small())
    message = str(info.value)
    assert "pass 'test-fails' (pass 2 of 2 in the pipeline) failed: 'nn.relu' cannot handle" in message
    assert info.value.loc.describe() == "small.mlir:3:5"


def test_print_ir_after():
    out = io.StringIO()
    PassManager.parse("dce,cse", print_ir_after=("cse",), out=out).run(small())
    text = out.getvalue()
    assert text.count("// -----// IR after") == 1
    assert text.startswith("// -----// IR after cse //----- //\nmodule @small {\n")
    assert "%dead" not in text and "nn.add(%a, %a)" in text


def test_print_ir_after_all_and_before():
    out = io.StringIO()
    PassManager.parse("dce,cse", print_ir_after_all=True, print_ir_before=("dce",), out=out).run(small())
    headers = [line for line in out.getvalue().splitlines() if line.startswith("// -----//")]
    assert headers == ["// -----// IR before dce //----- //", "// -----// IR after dce //----- //",
                       "// -----// IR after cse //----- //"]


def test_print_ir_after_change_skips_unchanged():
    out = io.StringIO()
    PassManager.parse("cse,dce,dce", print_ir_after_change=True, out=out).run(small())
    headers = [line for line in out.getvalue().splitlines() if line.startswith("// -----//")]
    assert headers == ["// -----// IR after cse //----- //", "// -----// IR after dce //----- //"]


def test_timing_report():
    out = io.StringIO()
    pm = PassManager.parse("dce,cse", timing=True, out=out)
    pm.run(small())
    text = out.getvalue()
    assert text.startswith("// ----- Pass execution timing report ----- //\n")
    rows = [line.split()[-1] for line in text.splitlines()[3:]]
    assert rows == ["dce", "cse", "(verify)", "total"]
    assert [label for label, _ in pm.timings if label != "(verify)"] == ["dce", "cse"]
    assert all(seconds >= 0 for _, seconds in pm.timings)


def test_no_output_unless_asked():
    out = io.StringIO()
    PassManager.parse("dce,cse", out=out).run(small())
    assert out.getvalue() == ""


def test_statistics_and_context(test_passes):
    out = io.StringIO()
    pm = PassManager.parse("test-typed,dce", statistics=True, out=out)
    pm.run(small())
    assert pm.ctx.stats["test-typed.runs"] == 1
    assert pm.ctx.stats["dce.ops-erased"] == 1
    assert "test-typed.runs" in out.getvalue()
    assert pm.ctx.target is None


def test_ir_dump_dir(tmp_path):
    PassManager.parse("dce,cse", ir_dump_dir=tmp_path / "ir").run(small())
    files = sorted(p.name for p in (tmp_path / "ir").iterdir())
    assert files == ["00-input.mlir", "01-dce.mlir", "02-cse.mlir"]
    dumped = edgecc.parse_ir((tmp_path / "ir" / "02-cse.mlir").read_text())
    assert [op.name for op in dumped.ops] == ["nn.neg", "nn.add", "func.return"]


def test_log_goes_to_out_when_verbose():
    @dataclass
    class Chatty(Pass):
        """Logs one line."""

        name: ClassVar[str] = "chatty"

        def run(self, module, ctx) -> bool:
            ctx.log("hello")
            return False

    out = io.StringIO()
    PassManager([Chatty()], out=out).run(small())
    assert out.getvalue() == ""
    PassManager([Chatty()], out=out, verbose=True).run(small())
    assert out.getvalue() == "[chatty] hello\n"


def test_print_ir_after_accepts_comma_lists():
    out = io.StringIO()
    PassManager.parse("dce,cse", print_ir_after=("dce,cse",), out=out).run(small())
    assert out.getvalue().count("// -----// IR after") == 2


def test_unexpected_exception_names_the_pass():
    @dataclass
    class Buggy(Pass):
        """Has a bug."""

        name: ClassVar[str] = "buggy"

        def run(self, module, ctx) -> bool:
            return {}["missing"]

    with pytest.raises(KeyError) as info:
        PassManager(["dce", Buggy()]).run(small())
    assert "while running pass 'buggy' (pass 2 of 2 in the pipeline)" in info.value.__notes__


# ------------------------------------------------------------ canonicalize
FOLDABLE = """\
module @foldable {
  func.func @main(%x: tensor<2xf32>) -> (tensor<2xf32>) {
    %c = builtin.constant() {value = dense<[1.0, 2.0]> : tensor<2xf32>} : () -> tensor<2xf32>
    %n = nn.neg(%c) : (tensor<2xf32>) -> tensor<2xf32>
    %r = nn.reshape(%x) {shape = [2]} : (tensor<2xf32>) -> tensor<2xf32>
    %y = nn.add(%r, %n) : (tensor<2xf32>, tensor<2xf32>) -> tensor<2xf32>
    func.return(%y) : (tensor<2xf32>) -> ()
  }
}
"""


def test_canonicalize_options():
    m = edgecc.parse_ir(FOLDABLE)
    pm = PassManager.parse("canonicalize{fold=false disable=[reshape_noop]}")
    assert pm.run(m) is False
    assert [op.name for op in m.ops] == ["builtin.constant", "nn.neg", "nn.reshape", "nn.add", "func.return"]
    pm = PassManager.parse("canonicalize")
    assert pm.run(m) is True
    assert [op.name for op in m.ops] == ["builtin.constant", "nn.add", "func.return"]
    assert pm.ctx.stats["canonicalize.fold(nn.neg)"] == 1
    assert pm.ctx.stats["canonicalize.reshape_noop"] == 1


def test_canonicalize_unknown_pattern():
    with pytest.raises(PassError, match=r"canonicalize has no pattern nope; patterns: reshape_noop, "):
        PassManager.parse("canonicalize{disable=[nope]}").run(small())


def test_canonicalize_patterns_are_documented():
    from edgecc.transforms.canonicalize import PATTERNS

    assert len(PATTERNS) >= 12
    for p in PATTERNS:
        assert p.doc, f"pattern {p.name} needs a docstring"
        assert p.root.startswith("nn.")
