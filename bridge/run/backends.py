"""Where the chains run: this machine (processes) or a Dask cluster.

``scheduler`` is None (local processes, see ``--workers``), a ``dask://host:port``
address (a ``dask.distributed`` scheduler; ``tcp://`` and ``tls://`` addresses are
accepted too) or a ``dask.distributed.Client`` the caller already holds.  The chains -
``mcmc.chains`` of them, each with its own seed spawned from ``mcmc.seed`` - become Dask
tasks; the result is identical to the local backend's for the same seed, because each
chain's random stream depends only on its index.  Dask is an optional dependency
(``pip install "mlimpute[dask]"``).
"""
from __future__ import annotations

import contextlib
from typing import Iterator

from ..errors import MlimputeError


@contextlib.contextmanager
def executor_for(scheduler) -> Iterator[object | None]:
    """A concurrent.futures-style executor for `scheduler` (None: run locally)."""
    if scheduler is None:
        yield None
        return
    try:
        from distributed import Client
    except ImportError:
        raise MlimputeError("a Dask scheduler needs dask.distributed: "
                            "pip install 'mlimpute[dask]'") from None
    if isinstance(scheduler, Client):
        yield scheduler.get_executor(pure=False)
        return
    if not isinstance(scheduler, str):
        raise MlimputeError(f"scheduler must be 'dask://host:port' or a dask.distributed.Client, "
                            f"got {type(scheduler).__name__}")
    address = _address(scheduler)
    try:
        client = Client(address, timeout="10s", set_as_default=False)
    except (OSError, TimeoutError) as exc:
        raise MlimputeError(f"cannot reach the Dask scheduler at {scheduler}: "
                            f"{str(exc).splitlines()[0] if str(exc) else type(exc).__name__}") from None
    with client:
        yield client.get_executor(pure=False)


def _address(scheduler: str) -> str:
    if scheduler.startswith("dask://"):
        return "tcp://" + scheduler[len("dask://"):]
    if scheduler.startswith(("tcp://", "tls://")):
        return scheduler
    raise MlimputeError(f"scheduler '{scheduler}': expected dask://host:port")
