"""Where the search's candidate evaluations run: a local process pool, or a dask.distributed cluster.

``open_executor(spec, task)`` gives an object whose ``map(configs)`` evaluates every configuration
with ``evaluate(task, config)`` and returns the candidates in the order of ``configs`` (whatever
order the workers finish in), so the search's choices do not depend on the executor. ``spec``:

* ``None`` / ``local``: a process pool of ``os.cpu_count()`` workers; ``local:N``: N workers
  (``local:1`` works; the pool is started once and each worker parses the model once);
* ``dask://HOST:PORT``: the scheduler of a dask.distributed cluster (optional extra ``dask``);
  the task (model text, calibration and evaluation data) is broadcast to the workers once.

The pool uses ``spawn``: a forked copy of a process that has started numba or BLAS threads can
hang, and a spawned worker only needs ``edgecc`` importable, as a dask worker does.
"""

from __future__ import annotations

import os
from contextlib import contextmanager

from edgecc.ir.diagnostics import EdgeccError

#: the task a pool worker was started with (set by ``_install`` in each worker process)
_INSTALLED: dict = {}


def _install(task) -> None:
    _INSTALLED["task"] = task


def _run_installed(config):
    from edgecc.compress.search import evaluate

    return evaluate(_INSTALLED["task"], config)


def _run_with(config, task):
    from edgecc.compress.search import evaluate

    return evaluate(task, config)


class _Local:
    def __init__(self, workers: int, task):
        import multiprocessing
        from concurrent.futures import ProcessPoolExecutor

        self.pool = ProcessPoolExecutor(max_workers=workers, mp_context=multiprocessing.get_context("spawn"),
                                        initializer=_install, initargs=(task,))

    def map(self, configs: list) -> list:
        return list(self.pool.map(_run_installed, configs))

    def close(self) -> None:
        self.pool.shutdown(wait=True, cancel_futures=True)


class _Dask:
    def __init__(self, spec: str, task):
        address = spec[len("dask://"):]
        try:
            from distributed import Client
        except ImportError:
            raise EdgeccError(f"--executor {spec}: dask.distributed is not installed "
                              "(pip install 'edgecc[dask]')") from None
        try:
            self.client = Client(f"tcp://{address}", timeout=3, set_as_default=False)
        except (OSError, TimeoutError) as e:
            raise EdgeccError(f"--executor {spec}: cannot reach a dask scheduler at {address} "
                              f"({str(e).splitlines()[0] if str(e) else type(e).__name__})") from None
        self.task = self.client.scatter(task, broadcast=True)

    def map(self, configs: list) -> list:
        futures = self.client.map(_run_with, configs, task=self.task, pure=False)
        return self.client.gather(futures)

    def close(self) -> None:
        self.client.close()


def parse_executor(spec: str | None) -> tuple[str, int | str]:
    """``("local", workers)`` or ``("dask", address)``; one-line errors for anything else."""
    if spec is None or spec == "local":
        return "local", max(os.cpu_count() or 1, 1)
    if spec.startswith("local:"):
        n = spec[len("local:"):]
        if not n.isdigit() or int(n) < 1:
            raise EdgeccError(f"--executor {spec}: expected local:N with N >= 1 workers")
        return "local", int(n)
    if spec.startswith("dask://"):
        host, sep, port = spec[len("dask://"):].rpartition(":")
        if not sep or not host or not port.isdigit():
            raise EdgeccError(f"--executor {spec}: expected dask://HOST:PORT")
        return "dask", f"{host}:{port}"
    raise EdgeccError(f"--executor '{spec}': expected local, local:N or dask://HOST:PORT")


@contextmanager
def open_executor(spec: str | None, task):
    kind, arg = parse_executor(spec)
    ex = _Local(int(arg), task) if kind == "local" else _Dask(spec, task)
    try:
        yield ex
    finally:
        ex.close()


__all__ = ["open_executor", "parse_executor"]
