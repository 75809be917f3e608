"""Print edgecc's total RAM for the MLPerf Tiny int8 models against TFLM's arena.

Run: ``python benchmarks/ram_vs_tflm.py`` (needs ../shared/models/mlperf_tiny beside the
checkout). The table itself comes from ``edgecc.backends.c.ram_table``.
"""

from edgecc.backends.c.ram_table import main

if __name__ == "__main__":
    main()
