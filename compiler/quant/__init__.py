"""Quantization: TFLite-exact fixed-point helpers (``edgecc.quant.math``) and the
quantization passes.

The integer semantics of every quantized ``nn`` op live in the reference
interpreter (``edgecc.interp.quantized``); requantization constants are computed
by ``edgecc.quant.math`` so that the interpreter, the quantize pass and the
backends agree bit for bit. ``docs/quantization-semantics.md`` describes both.
"""
