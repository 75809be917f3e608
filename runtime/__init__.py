"""Runtime side: host execution (Session, kernels) and C support kernels shipped with generated code."""
