"""From the plugin's mark events to instruction counts per run and per layer.

The plugin (``data/insn_count.c``) only records "mark m entered at counter c", in
execution order; the pairing lives here, where it can check the structure: every
``<prefix>_run()`` is one run-begin ... run-end pair, and inside it the layers' begin/end
pairs follow one another without nesting. A region's count is the counter at its end
mark minus the counter at its begin mark: the region's code plus a few instructions of
the marks themselves (the call, the mark function's body).
"""

from __future__ import annotations

from dataclasses import dataclass, field

from edgecc.ir.diagnostics import EdgeccError

#: mark symbols in the order the plugin gets their addresses (event "mark" = index here)
MARKS = ("edgecc_profile_begin", "edgecc_profile_end", "edgecc_emu_run_begin", "edgecc_emu_run_end")
LAYER_BEGIN, LAYER_END, RUN_BEGIN, RUN_END = range(4)


@dataclass
class Counts:
    total: int  # the whole program, reset to exit (start-up and semihosting I/O included)
    runs: list[int] = field(default_factory=list)  # per model run (sample)
    layers: list[list[int]] = field(default_factory=list)  # per run, per layer


def parse(text: str) -> Counts:
    total = None
    events: list[tuple[int, int]] = []
    for line in text.splitlines():
        parts = line.split()
        if parts[:1] == ["total"]:
            total = int(parts[1])
        elif parts[:1] == ["event"]:
            events.append((int(parts[1]), int(parts[2])))
        elif parts[:1] == ["error"]:
            raise EdgeccError(f"the instruction-count plugin failed: {' '.join(parts[1:])}")
    if total is None:
        raise EdgeccError("the instruction-count plugin wrote no total (did QEMU load it?)")
    counts = Counts(total)
    run_start = layer_start = None
    layers: list[int] = []
    for mark, value in events:
        if mark == RUN_BEGIN and run_start is None:
            run_start, layers = value, []
        elif mark == RUN_END and run_start is not None and layer_start is None:
            counts.runs.append(value - run_start)
            counts.layers.append(layers)
            run_start = None
        elif mark == LAYER_BEGIN and run_start is not None and layer_start is None:
            layer_start = value
        elif mark == LAYER_END and layer_start is not None:
            layers.append(value - layer_start)
            layer_start = None
        else:
            raise EdgeccError(f"unbalanced profile marks ({MARKS[mark]} at instruction {value}): "
                              "markers must not nest")
    if run_start is not None:
        raise EdgeccError("the program ended inside a model run (no edgecc_emu_run_end)")
    return counts


__all__ = ["Counts", "MARKS", "parse"]
