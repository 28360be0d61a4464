"""One imputation run: from a data frame and a spec to an :class:`~.result.ImputationResult`.

:func:`.api.impute` compiles the model and runs the chains (here, in worker processes or
on Dask: :mod:`.backends`), :mod:`.pipeline` makes the automatic choices (burn-in, gap,
M), :mod:`.result` holds what came out; progress, signals, memory limits, and the MNAR
sensitivity grid (:mod:`.sensitivity`, a run per delta) live here too.

May import the analysis, model and io layers and the engine.  Must not be imported by
them; the front ends import it.
"""
