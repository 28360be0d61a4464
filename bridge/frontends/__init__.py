"""The front ends: how users reach mlimpute.

The ``mlimpute`` command (:mod:`.cli` parses, :mod:`.commands` does each command), the
entry points the R package (:mod:`.r_entry`, through reticulate) and the Stata ado
(:mod:`.stata_entry`, through Stata's Python) call, rpy2 users' :mod:`.r`, the demo, and
the installers of the Stata and R front ends (:mod:`.install`, :mod:`.resources`).

May import every other layer.  Nothing imports it (but ``mlimpute.__main__``).
"""
