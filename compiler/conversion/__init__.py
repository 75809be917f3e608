"""Dialect conversions: ``onnx_to_nn`` lowers imported ONNX ops to the ``nn`` dialect."""
