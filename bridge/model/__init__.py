"""The model definition: the :class:`~.spec.Spec` and everything that builds, checks,
proposes, translates or prints it.

:mod:`.spec` (the data model), :mod:`.propose` (REALCOM's default model), :mod:`.compile`
(spec + data -> the engine's arrays), :mod:`.encoding` (response types and categories),
:mod:`.groups` (the units of a classification), :mod:`.formula` (lme4 notation),
:mod:`.substantive` (the model of interest), :mod:`.delta` (MNAR shifts),
:mod:`.translate` (jomo, mitml and mice calls), :mod:`.equations` (the model printed) and
:mod:`.simulate` (data from the model, for tests and benchmarks).

May import io and the engine.  Must not import analysis, run or frontends.
"""
