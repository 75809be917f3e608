"""Numba kernels of the host backend (float32 and integer), NHWC.

Importing this package imports numba; ``edgecc.runtime`` itself does not.
Modules: ``conv`` (convolutions, dense, matmul, pools, lrn), ``elementwise``
(broadcasting binary ops, activations, softmax, cast, quantize/dequantize),
``movement`` (copies, pad/slice/gather tables, reductions, resize), ``quantized`` (integer
kernels), ``stats`` (calibration histograms, used by ``edgecc.quant.observers``).
"""
