"""Several independent chains, optionally in separate processes.

Chain k gets its own generator from ``SeedSequence(seed).spawn(K)[k]``, runs its own
burn-in and keeps M_k of the M imputations (M split as evenly as possible, the first
chains taking the remainder).  :class:`ChainSet` advances the chains step by step (a
burn-in that is extended until the chains converge, imputations added later);
:func:`run_chains` runs them in one go.  Which process runs which chain does not matter: the
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
import sysconfig

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


class _NewChain:
    """A chain not started yet: what its sampler is built from, built where it first runs
    (in the worker, so the parent neither builds every chain's state nor sends it)."""

    def __init__(self, data: ModelData, seed, jomo_compatible: bool):
        self.data, self.seed, self.jomo_compatible = data, seed, jomo_compatible

    def build(self) -> GibbsSampler:
        return GibbsSampler(self.data, np.random.default_rng(self.seed), self.jomo_compatible)


def _advance(sampler: GibbsSampler | _NewChain, warm: int, between: int, m: int, final: bool,
             progress: ProgressCallback | None = None):
    """One chain's share of a step of the run: `warm` burn-in iterations, then `m`
    imputations `between` apart.  Returns the sampler to go on with, or its result when
    the run is `final` (so that a worker does not send the whole state back)."""
    if isinstance(sampler, _NewChain):
        sampler = sampler.build()
    sampler.advance(warm, between, m, progress)
    return sampler.result() if final else sampler


def _advance_remote(setup, *args):
    """:func:`_advance` on an executor we do not own: its per-process setup runs in the task."""
    if setup is not None:
        setup()
    return _advance(*args)


class ChainSet:
    """Independent chains advanced together, step by step, in this process, in local
    worker processes or on an executor.

    Each chain's sampler travels to a worker and back with its state (generator
    included), so a run can stop between steps to look at the draws (``burnin =
    "auto"``) and go on, and its output does not depend on where each step ran.  Use as
    a context manager (it owns the worker pool)::

        with ChainSet(data, seed, chains=2) as chains:
            chains.advance(warm=1000)
            chains.advance(between=500, per_chain=[10, 10], final=True)
        results = chains.results
    """

    def __init__(self, data: ModelData, seed: int, chains: int = 1, workers: int | None = None,
                 jomo_compatible: bool = False, progress: ProgressCallback | None = None,
                 worker_setup=None, executor=None):
        self.samplers: list = [_NewChain(data, s, jomo_compatible) for s in chain_seeds(seed, chains)]
        self.results: list[SamplerResult] | None = None
        self.progress = progress
        self.total = 0             # iterations planned over all chains (for the progress bar)
        self.done = 0
        self.kept = 0
        self._workers = min(chains, workers or os.cpu_count() or 1)
        self._executor = executor
        self._setup = worker_setup
        self._pool = None
        self._stack = contextlib.ExitStack()

    def __enter__(self) -> "ChainSet":
        if self._executor is None and self._workers > 1:
            self._pool = self._stack.enter_context(worker_pool(self._workers, self._setup))
        return self

    def __exit__(self, *exc) -> bool:
        self._stack.close()
        return False

    @property
    def chains(self) -> list:
        """Every chain's parameter draws so far (:class:`Chain`; after an advance)."""
        if self.results is not None:
            return [r.chain for r in self.results]
        return [s.chain for s in self.samplers]

    def advance(self, warm: int = 0, between: int = 1, per_chain: list[int] | None = None,
                final: bool = False) -> None:
        """Every chain runs `warm` burn-in iterations, then keeps ``per_chain[k]``
        imputations `between` apart; ``final`` ends the run (``results`` is then set)."""
        if self.results is not None:
            raise ValueError("the run has ended")
        per_chain = per_chain or [0] * len(self.samplers)
        totals = [warm + between * m for m in per_chain]
        self.total = max(self.total, self.done + sum(totals))
        jobs = [(sampler, warm, between, m, final) for sampler, m in zip(self.samplers, per_chain)]
        if self._pool is None and self._executor is None:
            out = []
            for k, job in enumerate(jobs):
                out.append(_advance(*job, progress=self._local_progress()))
                self.done += totals[k]
                self.kept += per_chain[k]
        else:
            if self._executor is not None:
                futures = [self._executor.submit(_advance_remote, self._setup, *job) for job in jobs]
            else:
                futures = [_AsyncFuture(self._pool.apply_async(_advance, job)) for job in jobs]
            out = _collect(futures, totals, per_chain, self)
        if final:
            self.results = out
        else:
            self.samplers = out

    def _local_progress(self):
        if self.progress is None:
            return None
        start, kept = self.done, self.kept
        return lambda done, _, imputations: self.progress(start + done, self.total, kept + imputations)


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
    with ChainSet(data, seed, chains, workers, jomo_compatible, progress, worker_setup,
                  executor) as chain_set:
        chain_set.advance(burnin, between, split_imputations(m, chains), final=True)
    return chain_set.results


def put_python_library_first() -> None:
    """Make worker processes load this interpreter's own libpython.

    An R that embeds Python (reticulate) or is embedded by it (rpy2) sets
    ``LD_LIBRARY_PATH`` to its library folders, which on Debian hold the system Python's
    libpython; a worker started from a shared-library Python built elsewhere (pyenv,
    conda) would load that one and die on an undefined symbol.  This Python's library
    folder is put first; the running process is unaffected (the loader reads the variable
    at start-up).  The variable is read at the C level, where R set it, not from
    ``os.environ``, which does not see such changes."""
    if not sys.platform.startswith("linux") or not sysconfig.get_config_var("Py_ENABLE_SHARED"):
        return
    libdir = sysconfig.get_config_var("LIBDIR")
    if not libdir or not os.path.isdir(libdir):
        return
    import ctypes
    getenv = ctypes.CDLL(None).getenv
    getenv.restype = ctypes.c_char_p
    current = (getenv(b"LD_LIBRARY_PATH") or b"").decode(errors="surrogateescape")
    if current.split(":")[0] != libdir:
        os.environ["LD_LIBRARY_PATH"] = libdir + (":" + current if current else "")


@contextlib.contextmanager
def worker_pool(workers: int, setup=None):
    """A ``multiprocessing.Pool`` whose workers are terminated when the block ends, however
    it ends: on success once their results are in, on an error or an interrupt at once,
    so that no worker is left computing (see the module docstring for their signals)."""
    put_python_library_first()
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


def _collect(futures, totals, per_chain, chain_set: ChainSet) -> list:
    """Results in chain order, reporting progress chain by chain.  If waiting stops early,
    the futures not yet finished are cancelled (where the executor allows it)."""
    results = []
    try:
        for k, future in enumerate(futures):
            results.append(future.result())
            chain_set.done += totals[k]
            chain_set.kept += per_chain[k]
            if chain_set.progress is not None:
                chain_set.progress(chain_set.done, chain_set.total, chain_set.kept)
    except BaseException:
        for future in futures:
            future.cancel()
        raise
    return results
