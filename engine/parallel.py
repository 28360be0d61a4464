"""Several independent chains, optionally in separate processes.

Chain k gets its own generator from ``SeedSequence(seed).spawn(K)[k]``, runs its own
burn-in and keeps M_k of the M imputations (M split as evenly as possible, the first
chains taking the remainder).  Which process runs which chain does not matter: the
output is identical for any number of workers.  With one chain the seed is used
directly, as in :func:`run_sampler`.

The chains run in this process, in a local process pool, or on any
``concurrent.futures``-style executor passed in (``submit(fn, *args)`` returning
futures with ``result()``) - which is how the bridge distributes them with Dask
(``dask.distributed.Client.get_executor()``) without the engine knowing about Dask.

Stopping: if the caller stops waiting (an error in one chain, Ctrl-C, or a SIGTERM that
the caller turned into an exception), the local worker processes are terminated at once
rather than left computing; workers ignore Ctrl-C (the parent handles it), die on SIGTERM,
and on Linux also die when the parent process dies, even by SIGKILL.
"""
from __future__ import annotations

import contextlib
import multiprocessing
import os
import signal
import sys

import numpy as np

from .model import ModelData
from .sampler import GibbsSampler, ProgressCallback, SamplerResult


def split_imputations(m: int, chains: int) -> list[int]:
    """How many of the m imputations each chain keeps."""
    if chains < 1 or chains > m:
        raise ValueError(f"need 1 <= chains <= m, got {chains} chains for m = {m}")
    return [m // chains + (k < m % chains) for k in range(chains)]


def chain_seeds(seed: int, chains: int) -> list:
    if chains == 1:
        return [seed]
    return np.random.SeedSequence(seed).spawn(chains)


def _run_one(data: ModelData, seed, burnin: int, between: int, m: int, jomo_compatible: bool,
             progress: ProgressCallback | None = None) -> SamplerResult:
    sampler = GibbsSampler(data, np.random.default_rng(seed), jomo_compatible)
    return sampler.run(burnin, between, m, progress=progress)


def _run_one_remote(setup, data: ModelData, seed, burnin: int, between: int, m: int,
                    jomo_compatible: bool) -> SamplerResult:
    """A chain on an executor we do not own: its per-process setup runs in the task."""
    if setup is not None:
        setup()
    return _run_one(data, seed, burnin, between, m, jomo_compatible)


def run_chains(data: ModelData, burnin: int, between: int, m: int, seed: int, chains: int = 1,
               workers: int | None = None, jomo_compatible: bool = False,
               progress: ProgressCallback | None = None,
               worker_setup=None, executor=None) -> list[SamplerResult]:
    """Run `chains` independent chains; returns their results in chain order.

    ``progress(done, total, imputations)`` counts iterations over all chains when they run
    in this process, and whole chains when they run in worker processes.
    ``worker_setup`` is called once in each worker process before it samples (e.g. to
    limit the BLAS thread pool).  ``executor``, if given, runs the chains instead of a
    local pool (`workers` is then ignored).
    """
    per_chain = split_imputations(m, chains)
    seeds = chain_seeds(seed, chains)
    totals = [burnin + between * mk for mk in per_chain]
    grand_total = sum(totals)
    workers = min(chains, workers or os.cpu_count() or 1)
    results: list[SamplerResult] = []
    if workers <= 1 and executor is None:
        offset, kept = 0, 0
        for k in range(chains):
            def local(done, total, imputations, offset=offset, kept=kept):
                if progress is not None:
                    progress(offset + done, grand_total, kept + imputations)
            results.append(_run_one(data, seeds[k], burnin, between, per_chain[k],
                                    jomo_compatible, local))
            offset += totals[k]
            kept += per_chain[k]
        return results
    if executor is not None:
        futures = [executor.submit(_run_one_remote, worker_setup, data, seeds[k], burnin,
                                   between, per_chain[k], jomo_compatible) for k in range(chains)]
        return _collect(futures, totals, per_chain, grand_total, progress)
    with worker_pool(workers, worker_setup) as pool:
        futures = [_AsyncFuture(pool.apply_async(_run_one, (data, seeds[k], burnin, between,
                                                            per_chain[k], jomo_compatible)))
                   for k in range(chains)]
        return _collect(futures, totals, per_chain, grand_total, progress)


@contextlib.contextmanager
def worker_pool(workers: int, setup=None):
    """A ``multiprocessing.Pool`` whose workers are terminated when the block ends, however
    it ends: on success once their results are in, on an error or an interrupt at once,
    so that no worker is left computing (see the module docstring for their signals)."""
    pool = multiprocessing.get_context().Pool(workers, initializer=_worker_init,
                                              initargs=(setup,))
    try:
        yield pool
        pool.close()
    finally:
        pool.terminate()
        pool.join()


def process_map(fn, items, workers: int, setup=None, progress=None) -> list:
    """``[fn(item) for item in items]`` in up to `workers` processes (in this one when
    `workers` is 1), in order; ``progress(done, total)`` after each item."""
    results = []
    if workers <= 1:
        for item in items:
            results.append(fn(item))
            if progress is not None:
                progress(len(results), len(items))
        return results
    with worker_pool(min(workers, len(items)) or 1, setup) as pool:
        for result in pool.imap(fn, items, chunksize=1):
            results.append(result)
            if progress is not None:
                progress(len(results), len(items))
    return results


class _AsyncFuture:
    """multiprocessing's AsyncResult seen as a future (``result()``), for :func:`_collect`."""

    def __init__(self, async_result):
        self._async = async_result

    def result(self):
        return self._async.get()

    def cancel(self) -> bool:
        """Nothing to cancel one by one: the pool itself is terminated (worker_pool)."""
        return False


def _worker_init(setup) -> None:
    """Signals of a worker process: Ctrl-C is the parent's to handle, SIGTERM ends the
    worker, and (Linux) the worker gets SIGTERM when its parent dies."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, signal.SIG_DFL)
    if sys.platform.startswith("linux"):
        with contextlib.suppress(Exception):
            import ctypes
            pr_set_pdeathsig = 1
            ctypes.CDLL(None, use_errno=True).prctl(pr_set_pdeathsig, int(signal.SIGTERM))
    if setup is not None:
        setup()


def _collect(futures, totals, per_chain, grand_total, progress) -> list[SamplerResult]:
    """Results in chain order, reporting progress chain by chain.  If waiting stops early,
    the futures not yet finished are cancelled (where the executor allows it)."""
    results, done, kept = [], 0, 0
    try:
        for k, future in enumerate(futures):
            results.append(future.result())
            done += totals[k]
            kept += per_chain[k]
            if progress is not None:
                progress(done, grand_total, kept)
    except BaseException:
        for future in futures:
            future.cancel()
        raise
    return results
