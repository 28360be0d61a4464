"""What is computed on completed data: fits of the model of interest (:mod:`.fit`, mixed
models by REML in :mod:`.mixed`), Rubin's rules and the multi-parameter tests (:mod:`.pool`),
variance components (:mod:`.variance_components`), chain diagnostics (:mod:`.diagnose`),
the HTML report, and the check of a stacked file before it is pooled
(:mod:`.imputed_file`).

May import the model and io layers.  Must not import run or frontends.
"""
