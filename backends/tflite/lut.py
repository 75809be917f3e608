"""TFLM's weight compression: constant int8 tensors stored as LUT indices, decoded by ``TFLM_DECODE``.

TFLM (not LiteRT) runs a custom operator ``TFLM_DECODE`` whose inputs are pairs (encoded tensor,
ancillary tensor) and whose outputs are the decoded tensors, live only for the next operator. A
LUT-encoded tensor is a UINT8 vector of indices packed MSB first at 1-7 bits each (C order over
the original shape); its ancillary tensor is the 16-byte DECODE common metadata (type 0 = LUT,
version 1; LUT version 1, ``axis << 4 | bits``, the value-table stride) followed by the value
tables: one per channel along axis 0 or the last axis, or one for the whole tensor (axis 15),
each padded with zeros to the stride. One DECODE is placed before each consumer of compressed
tensors. A tensor is compressed only when the whole file shrinks (tried one tensor at a time).
"""

from __future__ import annotations

import copy

import numpy as np
from edgecc.backends.tflite.schema import S
from edgecc.ir.diagnostics import EdgeccError

DECODE_OP = "TFLM_DECODE"
MODES = ("auto", "none", "lut")
PER_TENSOR_AXIS = 15
MAX_BITS = 7
HEADER_BYTES = 16


AUTO_MAX_BITS = 4


def resolve_mode(mode: str, runtime: str) -> str:
    """``auto`` is ``clustered`` for a TFLM file and ``none`` otherwise: LiteRT has no DECODE kernel.

    ``clustered`` encodes only tensors whose tables fit ``AUTO_MAX_BITS``-bit indices (weights the
    ``cluster`` pass or the search made few-valued): each DECODE output occupies TFLM's arena while
    its consumer runs, so a 5-7 bit encoding of ordinary weights would buy a few flash bytes with
    the whole decoded tensor in RAM. ``lut`` takes every tensor that shrinks the file."""
    if mode not in MODES:
        raise EdgeccError(f"unknown tflite compression '{mode}' (expected one of {', '.join(MODES)})")
    if mode == "auto":
        return "clustered" if runtime == "tflm" else "none"
    return mode


def pack_indices(indices: np.ndarray, bits: int) -> bytes:
    """``bits``-wide indices, most significant bit first, zero-padded to a whole byte."""
    shifts = np.arange(bits - 1, -1, -1, dtype=np.uint8)
    flat = indices.reshape(-1).astype(np.uint8)
    return np.packbits(((flat[:, None] >> shifts) & 1).reshape(-1)).tobytes()


def encode(values: np.ndarray, axis: int | None):
    """(packed indices, ancillary bytes, bits) of ``values`` with tables along ``axis``, or None.

    None when some table needs more than 128 entries (TFLM's widest index is 7 bits)."""
    slices = [values] if axis is None else list(np.moveaxis(values, axis, 0))
    tables, indices = [], []
    for s in slices:
        table, idx = np.unique(s, return_inverse=True)
        tables.append(table)
        indices.append(idx.reshape(s.shape))
    stride = max(len(t) for t in tables)
    if stride > 2 ** MAX_BITS:
        return None
    bits = max(1, (stride - 1).bit_length())
    idx = indices[0] if axis is None else np.moveaxis(np.stack(indices), 0, axis)
    header = bytearray(HEADER_BYTES)
    header[1], header[4] = 1, 1  # DECODE metadata version, LUT version; header[0] = 0 is LUT
    header[5] = ((PER_TENSOR_AXIS if axis is None else axis) << 4) | bits
    header[6] = stride
    body = b"".join(np.pad(t, (0, stride - len(t))).astype(values.dtype).tobytes() for t in tables)
    return pack_indices(idx, bits), bytes(header) + body, bits


def _axes(t) -> list[int | None]:
    """The table layouts TFLM decodes for tensor ``t``: its quantized axis (0 or last), else one table."""
    q = t.quantization
    rank = len(t.shape)
    if q is not None and q.scale is not None and len(q.scale) > 1:
        return [q.quantizedDimension] if q.quantizedDimension in (0, rank - 1) else []
    return [None, 0] if rank >= 2 else [None]


def candidates(model) -> dict[int, tuple]:
    """Tensor index -> (encoded, ancillary, bits, axis) for the constant int8 operator inputs of
    subgraph 0 whose encoding stores fewer bytes than their data (the smallest layout)."""
    sg = model.subgraphs[0]
    read = {i for op in sg.operators for i in op.inputs if i >= 0}
    out = {}
    for i in sorted(read - set(sg.outputs)):
        t = sg.tensors[i]
        data = model.buffers[t.buffer].data if t.buffer else None
        if data is None or t.type != S.TensorType.INT8 or not t.shape:
            continue
        values = np.asarray(data, np.uint8).view(np.int8).reshape(t.shape)
        best = None
        for axis in _axes(t):
            enc = encode(values, axis)
            if enc is not None and (best is None or len(enc[0]) + len(enc[1]) < sum(map(len, best[:2]))):
                best = (*enc, axis)
        if best is not None and len(best[0]) + len(best[1]) < values.size:
            out[i] = best
    return out


def apply(model, chosen: dict[int, tuple]):
    """A copy of ``model`` (``ModelT``) with the ``chosen`` tensors LUT-encoded and DECODEs inserted.

    The input model is left as it is (lists and changed objects are copied)."""
    m = copy.copy(model)
    sg = copy.copy(model.subgraphs[0])
    m.subgraphs = [sg] + list(model.subgraphs[1:])
    m.buffers, sg.tensors, sg.operators = list(model.buffers), list(sg.tensors), []
    names = {t.name for t in sg.tensors}
    code = S.OperatorCodeT()
    code.builtinCode = code.deprecatedBuiltinCode = S.BuiltinOperator.CUSTOM
    code.customCode, code.version = DECODE_OP, 1
    m.operatorCodes = list(model.operatorCodes) + [code]
    ancillary: dict[bytes, int] = {}

    def new_tensor(t) -> int:
        base, k = t.name, 1
        while t.name in names:
            k += 1
            t.name = f"{base}_{k}"
        names.add(t.name)
        sg.tensors.append(t)
        return len(sg.tensors) - 1

    def buffer(data: bytes) -> int:
        b = S.BufferT()
        b.data = np.frombuffer(data, np.uint8).copy()
        m.buffers.append(b)
        return len(m.buffers) - 1

    original = {i: model.subgraphs[0].tensors[i] for i in chosen}
    for i, (enc, anc, _, _) in chosen.items():
        t = copy.copy(original[i])
        t.shape, t.type, t.quantization = [len(enc)], S.TensorType.UINT8, None
        m.buffers[t.buffer] = copy.copy(m.buffers[t.buffer])
        m.buffers[t.buffer].data = np.frombuffer(enc, np.uint8).copy()
        sg.tensors[i] = t
    for op in model.subgraphs[0].operators:
        reads = sorted({i for i in op.inputs if i in chosen})
        if reads:
            ins, outs = [], []
            for i in reads:
                anc = chosen[i][1]
                if anc not in ancillary:
                    a = S.TensorT()
                    a.name, a.shape, a.type = f"{original[i].name}_ancillary", [len(anc)], S.TensorType.UINT8
                    a.buffer = buffer(anc)
                    ancillary[anc] = new_tensor(a)
                d = copy.copy(original[i])
                d.name, d.buffer = f"{original[i].name}_decoded", 0
                ins += [i, ancillary[anc]]
                outs.append(new_tensor(d))
            dec = S.OperatorT()
            dec.opcodeIndex, dec.inputs, dec.outputs = len(m.operatorCodes) - 1, ins, outs
            sg.operators.append(dec)
            op = copy.copy(op)
            op.inputs = [outs[reads.index(i)] if i in chosen else i for i in op.inputs]
        sg.operators.append(op)
    return m


def compress(model, pack, max_bits: int = MAX_BITS) -> tuple[bytes, bytes, list[dict]]:
    """(dense bytes, compressed bytes, per-tensor rows): each candidate of at most ``max_bits``-bit
    indices is kept only when the packed file (``pack(model) -> bytes``) shrinks with it, in
    tensor order."""
    dense = pack(model)
    found = candidates(model)
    chosen: dict[int, tuple] = {}
    best = dense
    rows = []
    for i, enc in found.items():
        keep = False
        if enc[2] <= max_bits:
            trial = pack(apply(model, {**chosen, i: enc}))
            keep = len(trial) < len(best)
        if keep:
            chosen[i], best = enc, trial
        t = model.subgraphs[0].tensors[i]
        rows.append({"tensor": t.name, "stored": "lut" if keep else "dense", "bits": enc[2],
                     "tables": 1 if enc[3] is None else t.shape[enc[3]], "dense_bytes": int(np.prod(t.shape)),
                     "encoded_bytes": len(enc[0]), "ancillary_bytes": len(enc[1])})
    return dense, best, rows


def decode_model(model, label: str) -> None:
    """Undo the ``TFLM_DECODE`` operators of subgraph 0 of ``model`` (``ModelT``, checked indices) in
    place: each decoded tensor gets its values as a constant buffer and the encoded tensor's name.

    So the reader reads LUT-compressed files as the dense model they encode. Malformed metadata is
    a one-line ``TFLiteReadError``."""
    from edgecc.backends.tflite.reader import TFLiteReadError

    sg = model.subgraphs[0]
    kept = []
    for k, op in enumerate(sg.operators or []):
        code = model.operatorCodes[op.opcodeIndex]
        name = code.customCode.decode() if isinstance(code.customCode, bytes) else code.customCode
        if max(int(code.builtinCode or 0), int(code.deprecatedBuiltinCode or 0)) != S.BuiltinOperator.CUSTOM \
                or name != DECODE_OP:
            kept.append(op)
            continue
        ins, outs = list(op.inputs), list(op.outputs)
        if len(ins) != 2 * len(outs):
            raise TFLiteReadError(f"{label}: operator #{k} {DECODE_OP}: {len(ins)} inputs for "
                                  f"{len(outs)} outputs")
        for j, o in enumerate(outs):
            enc, anc, out = sg.tensors[ins[2 * j]], sg.tensors[ins[2 * j + 1]], sg.tensors[o]
            data = [bytes(np.asarray(model.buffers[t.buffer].data if t.buffer else [], np.uint8))
                    for t in (enc, anc)]
            values = _decode_lut(data[0], data[1], out, f"{label}: operator #{k} {DECODE_OP} output {j}")
            b = S.BufferT()
            b.data = np.frombuffer(values.tobytes(), np.uint8).copy()
            model.buffers.append(b)
            out.buffer, out.name = len(model.buffers) - 1, enc.name
    sg.operators = kept


def _decode_lut(enc: bytes, anc: bytes, out, where: str) -> np.ndarray:
    from edgecc.backends.tflite.reader import TFLiteReadError

    if out.type != S.TensorType.INT8 or len(anc) < HEADER_BYTES or anc[0] != 0 or anc[1] != 1 or anc[4] != 1:
        raise TFLiteReadError(f"{where}: not an int8 LUT (version 1) decode; edgecc reads no other")
    axis, bits, stride = anc[5] >> 4, anc[5] & 7, anc[6]
    shape = [int(d) for d in out.shape]
    n = int(np.prod(shape))
    channels = 1 if axis == PER_TENSOR_AXIS else (shape[axis] if axis < len(shape) else 0)
    if not bits or not channels or len(anc) < HEADER_BYTES + channels * stride or len(enc) * 8 < n * bits:
        raise TFLiteReadError(f"{where}: LUT metadata does not fit the tensor {shape}")
    raw = np.unpackbits(np.frombuffer(enc, np.uint8))[: n * bits].reshape(n, bits)
    idx = (raw.astype(np.int64) << np.arange(bits - 1, -1, -1)).sum(1)
    if idx.size and idx.max() >= stride:
        raise TFLiteReadError(f"{where}: an index beyond the {stride}-entry value table")
    tables = np.frombuffer(anc[HEADER_BYTES:HEADER_BYTES + channels * stride], np.int8)
    tables = tables.reshape(channels, stride)
    if axis == PER_TENSOR_AXIS:
        return tables[0][idx].reshape(shape)
    return tables[np.indices(shape)[axis].reshape(-1), idx].reshape(shape)  # each element's channel


def report_markdown(report: dict) -> str:
    """The .tflite section of report.md: file bytes and how each int8 constant is stored."""
    before, after = report["bytes"]
    lines = [f"## .tflite ({report['compression']} compression)", "",
             f"File: {before:,} B dense -> {after:,} B written ({before - after:,} B saved).", ""]
    if report["tensors"]:
        lines += ["| tensor | stored | index bits | tables | dense B | indices B | tables+header B |",
                  "|---|---|---:|---:|---:|---:|---:|"]
        lines += [f"| {r['tensor']} | {r['stored']} | {r['bits']} | {r['tables']} | {r['dense_bytes']:,} "
                  f"| {r['encoded_bytes']:,} | {r['ancillary_bytes']:,} |" for r in report["tensors"]]
    return "\n".join(lines) + "\n"


__all__ = [
    "DECODE_OP",
    "MODES",
    "apply",
    "candidates",
    "compress",
    "decode_model",
    "encode",
    "pack_indices",
    "report_markdown",
    "resolve_mode",
]
