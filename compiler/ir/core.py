"""SSA values, operations, blocks, functions and modules.

The graph is MLIR-shaped but small: a ``Module`` holds one ``Func`` whose
``Block`` is a doubly linked list of ``Operation``s in topological order,
ending with ``func.return``. Every operand edge is recorded as a ``Use`` on
the producing ``Value``, and all mutation helpers keep those use lists
consistent, so rewrites can ask "who uses this?" in O(uses).
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Sequence
from typing import TYPE_CHECKING, Any, ClassVar

from edgecc.ir.attrs import normalize
from edgecc.ir.diagnostics import UNKNOWN, Location, VerifyError
from edgecc.ir.types import FunctionType, TensorType, Type

if TYPE_CHECKING:
    from edgecc.ir.spec import OpSpec

_HINT_BAD = re.compile(r"[^A-Za-z0-9_$.]")


def sanitize_hint(name: str | None) -> str | None:
    """Make an ONNX tensor name usable as ``%name`` (or drop it)."""
    if not name:
        return None
    s = _HINT_BAD.sub("_", name).strip("_") or None
    if s is None or s.isdigit():
        return None
    if s[0].isdigit():
        s = "v" + s
    return s


class Use:
    """One operand slot: ``op.operands[index]`` reads the owning value."""

    __slots__ = ("op", "index")

    def __init__(self, op: Operation, index: int) -> None:
        self.op = op
        self.index = index

    def __repr__(self) -> str:
        return f"Use({self.op.name}#{self.index})"


class Value:
    """An SSA value: produced once, used by any number of operands."""

    __slots__ = ("type", "uses", "_hint")

    def __init__(self, type: Type, name_hint: str | None = None) -> None:
        self.type = type
        self.uses: list[Use] = []
        self._hint = sanitize_hint(name_hint)

    @property
    def name_hint(self) -> str | None:
        return self._hint

    @name_hint.setter
    def name_hint(self, name: str | None) -> None:
        self._hint = sanitize_hint(name)

    @property
    def owner(self) -> Operation | Func | None:
        raise NotImplementedError

    @property
    def users(self) -> list[Operation]:
        """Distinct ops using this value, in use order."""
        seen: dict[int, Operation] = {}
        for u in self.uses:
            seen.setdefault(id(u.op), u.op)
        return list(seen.values())

    @property
    def has_uses(self) -> bool:
        return bool(self.uses)

    def replace_all_uses_with(self, new: Value) -> None:
        if new is self:
            return
        for use in list(self.uses):
            use.op.set_operand(use.index, new)

    def defining_op(self) -> Operation | None:
        return None


class OpResult(Value):
    __slots__ = ("op", "index")

    def __init__(self, type: Type, op: Operation, index: int, name_hint: str | None = None):
        super().__init__(type, name_hint)
        self.op = op
        self.index = index

    @property
    def owner(self) -> Operation:
        return self.op

    def defining_op(self) -> Operation:
        return self.op

    def __repr__(self) -> str:
        return f"<OpResult {self.op.name}#{self.index}: {self.type}>"


class BlockArgument(Value):
    __slots__ = ("func", "index")

    def __init__(self, type: Type, func: Func | None, index: int, name_hint: str | None = None):
        super().__init__(type, name_hint)
        self.func = func
        self.index = index

    @property
    def owner(self) -> Func | None:
        return self.func

    def __repr__(self) -> str:
        return f"<BlockArgument #{self.index}: {self.type}>"


class Operation:
    """An operation. Registered op classes carry a ``spec`` (see ``edgecc.ir.spec``).

    ``name`` is ``dialect.op``; a generic op (e.g. ``onnx.Conv``) sets it per
    instance. ``attrs`` holds attribute values (see ``edgecc.ir.attrs``).
    """

    name: str = "<generic>"
    spec: ClassVar[OpSpec | None] = None

    def __init__(
        self,
        operands: Sequence[Value] = (),
        result_types: Sequence[Type] = (),
        attrs: dict[str, Any] | None = None,
        loc: Location | None = None,
        name: str | None = None,
        result_names: Sequence[str | None] | None = None,
    ) -> None:
        if name is not None:
            self.name = name
        self._operands: list[Value] = []
        self.results: list[OpResult] = []
        self.attrs: dict[str, Any] = {}
        self.loc = loc or UNKNOWN
        #: position in a parsed text file, for diagnostics only (never printed)
        self.text_loc: Location | None = None
        self.parent: Block | None = None
        self._prev: Operation | None = None
        self._next: Operation | None = None
        for v in operands:
            self._append_operand(v)
        hints = list(result_names or [])
        for i, t in enumerate(result_types):
            hint = hints[i] if i < len(hints) else None
            self.results.append(OpResult(t, self, i, hint))
        for k, v in (attrs or {}).items():
            if v is not None:
                self.attrs[k] = normalize(v)

    # -- operands ---------------------------------------------------------
    @property
    def operands(self) -> tuple[Value, ...]:
        return tuple(self._operands)

    def _append_operand(self, v: Value) -> None:
        if not isinstance(v, Value):
            raise TypeError(f"{self.name}: operand must be a Value, got {v!r}")
        self._operands.append(v)
        v.uses.append(Use(self, len(self._operands) - 1))

    def set_operand(self, index: int, new: Value) -> None:
        old = self._operands[index]
        for i, u in enumerate(old.uses):
            if u.op is self and u.index == index:
                del old.uses[i]
                break
        self._operands[index] = new
        new.uses.append(Use(self, index))

    def set_operands(self, values: Sequence[Value]) -> None:
        self.drop_operands()
        for v in values:
            self._append_operand(v)

    def drop_operands(self) -> None:
        for i, v in enumerate(self._operands):
            v.uses[:] = [u for u in v.uses if not (u.op is self and u.index == i)]
        self._operands = []

    # -- results ----------------------------------------------------------
    @property
    def result(self) -> OpResult:
        if len(self.results) != 1:
            raise ValueError(f"{self.name} has {len(self.results)} results, not one")
        return self.results[0]

    @property
    def result_types(self) -> list[Type]:
        return [r.type for r in self.results]

    # -- attributes -------------------------------------------------------
    def attr(self, key: str, default: Any = None) -> Any:
        """Attribute value, falling back to the spec default, then ``default``."""
        if key in self.attrs:
            return self.attrs[key]
        if self.spec is not None and key in self.spec.attrs:
            d = self.spec.attrs[key].default
            if d is not None:
                return d
        return default

    def set_attr(self, key: str, value: Any) -> None:
        if value is None:
            self.attrs.pop(key, None)
        else:
            self.attrs[key] = normalize(value)

    # -- traits / spec ----------------------------------------------------
    def has_trait(self, trait: str) -> bool:
        return self.spec is not None and trait in self.spec.traits

    @property
    def dialect(self) -> str:
        return self.name.split(".", 1)[0]

    # -- position in the block ------------------------------------------
    @property
    def next(self) -> Operation | None:
        return self._next

    @property
    def prev(self) -> Operation | None:
        return self._prev

    def erase(self) -> None:
        """Remove from the block and drop operand uses; results must be unused."""
        for r in self.results:
            if r.uses:
                users = ", ".join(sorted({u.op.name for u in r.uses}))
                raise VerifyError(f"cannot erase {self.name}: result still used by {users}", self.loc)
        self.drop_operands()
        if self.parent is not None:
            self.parent.remove(self)

    def replace_with_values(self, values: Sequence[Value]) -> None:
        """Redirect every use of each result to ``values`` and erase this op."""
        if len(values) != len(self.results):
            raise ValueError(f"{self.name}: {len(values)} replacements for {len(self.results)} results")
        for r, v in zip(self.results, values):
            r.replace_all_uses_with(v)
        self.erase()

    # -- verification hooks (overridden by spec'd ops) --------------------
    def verify(self) -> None:
        """Check operand/result/attribute invariants; raise ``VerifyError``."""
        if self.spec is not None:
            self.spec.verify(self)

    @property
    def location(self) -> Location:
        """The location for diagnostics: ``loc`` completed by the text position when parsed."""
        if self.loc == UNKNOWN:
            return self.text_loc or self.loc
        if self.loc.file is None and self.text_loc is not None:
            return Location(self.loc.name, self.text_loc.file, self.text_loc.line, self.text_loc.col)
        return self.loc

    def error(self, message: str) -> VerifyError:
        """A located error for this op, to ``raise``."""
        return VerifyError(f"'{self.name}' {message}", self.location)

    def parent_func(self) -> Func:
        if self.parent is None or self.parent.func is None:
            raise ValueError(f"{self.name} is not inside a function")
        return self.parent.func

    def clone_detached(self, operands: Sequence[Value] | None = None) -> Operation:
        """A copy (same class, attrs, types, loc) that is not in any block."""
        new = object.__new__(type(self))
        Operation.__init__(
            new,
            operands if operands is not None else self.operands,
            self.result_types,
            None,
            self.loc,
            name=self.name,
            result_names=[r.name_hint for r in self.results],
        )
        new.attrs = dict(self.attrs)  # already canonical: normalizing again dominates module clones
        new.text_loc = self.text_loc
        return new

    def __repr__(self) -> str:
        return f"<{self.name} at {self.loc.describe()}>"


class Block:
    """An ordered list of ops (intrusive doubly linked list)."""

    def __init__(self, func: Func | None = None) -> None:
        self.func = func
        self._first: Operation | None = None
        self._last: Operation | None = None
        self._len = 0

    def __iter__(self) -> Iterator[Operation]:
        """Iterate in order; safe while erasing the current op."""
        op = self._first
        while op is not None:
            nxt = op._next
            yield op
            op = nxt

    def __len__(self) -> int:
        return self._len

    @property
    def first(self) -> Operation | None:
        return self._first

    @property
    def last(self) -> Operation | None:
        return self._last

    def _link(self, op: Operation, prev: Operation | None, nxt: Operation | None) -> None:
        if op.parent is not None:
            raise ValueError(f"{op.name} is already in a block")
        op.parent = self
        op._prev, op._next = prev, nxt
        if prev is None:
            self._first = op
        else:
            prev._next = op
        if nxt is None:
            self._last = op
        else:
            nxt._prev = op
        self._len += 1

    def append(self, op: Operation) -> Operation:
        self._link(op, self._last, None)
        return op

    def insert_before(self, anchor: Operation, op: Operation) -> Operation:
        if anchor.parent is not self:
            raise ValueError("anchor is not in this block")
        self._link(op, anchor._prev, anchor)
        return op

    def insert_after(self, anchor: Operation, op: Operation) -> Operation:
        if anchor.parent is not self:
            raise ValueError("anchor is not in this block")
        self._link(op, anchor, anchor._next)
        return op

    def remove(self, op: Operation) -> None:
        """Unlink ``op`` (operands untouched; see ``Operation.erase``)."""
        if op.parent is not self:
            raise ValueError("op is not in this block")
        if op._prev is None:
            self._first = op._next
        else:
            op._prev._next = op._next
        if op._next is None:
            self._last = op._prev
        else:
            op._next._prev = op._prev
        op.parent = op._prev = op._next = None
        self._len -= 1


class Func:
    """The model graph: typed arguments, a body block ending in ``func.return``."""

    def __init__(self, name: str = "main", arg_types: Sequence[Type] = (),
                 arg_names: Sequence[str | None] = ()) -> None:
        self.name = name
        self.body = Block(self)
        self.arguments: list[BlockArgument] = []
        names = list(arg_names)
        for i, t in enumerate(arg_types):
            self.add_argument(t, names[i] if i < len(names) else None)

    def add_argument(self, type: Type, name: str | None = None) -> BlockArgument:
        arg = BlockArgument(type, self, len(self.arguments), name)
        self.arguments.append(arg)
        return arg

    @property
    def ops(self) -> Iterator[Operation]:
        return iter(self.body)

    @property
    def return_op(self) -> Operation | None:
        last = self.body.last
        return last if last is not None and last.name == "func.return" else None

    @property
    def outputs(self) -> tuple[Value, ...]:
        ret = self.return_op
        return ret.operands if ret is not None else ()

    @property
    def function_type(self) -> FunctionType:
        return FunctionType(tuple(a.type for a in self.arguments), tuple(v.type for v in self.outputs))


class StateDecl:
    """Persistent state: a tensor that keeps its value across invocations of the model.

    ``init`` (a ``DenseElements`` of exactly ``type``) is the value before the first
    invocation and after a reset; ``state.read`` / ``state.write`` ops access it by ``name``.
    """

    __slots__ = ("name", "type", "init")

    def __init__(self, name: str, type: TensorType, init) -> None:
        self.name = name
        self.type = type
        self.init = init

    def __repr__(self) -> str:
        return f"StateDecl(@{self.name}: {self.type})"


class Module:
    """Top level: one function, its persistent ``states`` and module attributes (e.g. source hash)."""

    def __init__(self, func: Func | None = None, name: str | None = None,
                 attrs: dict[str, Any] | None = None) -> None:
        self.func = func if func is not None else Func()
        self.name = name
        self.attrs: dict[str, Any] = {k: normalize(v) for k, v in (attrs or {}).items()}
        #: persistent state declarations by name, in declaration order
        self.states: dict[str, StateDecl] = {}

    def add_state(self, name: str, type: TensorType, init) -> StateDecl:
        """Declare persistent state ``@name`` (``init``: DenseElements or numpy array of ``type``)."""
        from edgecc.ir.attrs import DenseElements

        if name in self.states:
            raise ValueError(f"state @{name} is declared twice")
        if not isinstance(init, DenseElements):
            init = DenseElements.from_numpy(init, type.element)
        decl = self.states[name] = StateDecl(name, type, init)
        return decl

    @property
    def ops(self) -> Iterator[Operation]:
        return iter(self.func.body)

    def walk(self) -> Iterator[Operation]:
        return iter(self.func.body)

    def verify(self) -> None:
        from edgecc.ir.verify import verify_module

        verify_module(self)

    def __str__(self) -> str:
        from edgecc.ir.text.printer import print_module

        return print_module(self)


def clone_module(module: Module) -> tuple[Module, dict[Value, Value]]:
    """A structural copy of ``module`` (constants share their immutable data) and the map
    original value -> copied value."""
    src = module.func
    func = Func(src.name, [a.type for a in src.arguments], [a.name_hint for a in src.arguments])
    vmap: dict[Value, Value] = dict(zip(src.arguments, func.arguments))
    for op in src.body:
        new = op.clone_detached([vmap[v] for v in op.operands])
        func.body.append(new)
        vmap.update(zip(op.results, new.results))
    out = Module(func, module.name, dict(module.attrs))
    for d in module.states.values():
        out.states[d.name] = StateDecl(d.name, d.type, d.init)
    return out, vmap


def tensor_type(value: Value) -> TensorType:
    t = value.type
    if not isinstance(t, TensorType):
        raise TypeError(f"expected a tensor value, got {t}")
    return t
