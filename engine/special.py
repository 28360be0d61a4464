"""scipy.special, imported when first used.

Importing scipy.special costs 60-80 ms, a good part of a short command's wait, and most
runs never call it: only latent responses (truncated normals, starting thresholds), the
cluster-covariance prior and the probit model of interest do.  ``special.ndtri`` and the
like work as on the module; the first call of a name imports scipy.special and keeps the
function as an attribute, so later calls cost a plain attribute lookup.
"""
from __future__ import annotations


class _LazySpecial:
    def __getattr__(self, name: str):
        from scipy import special as module
        value = getattr(module, name)
        setattr(self, name, value)
        return value


special = _LazySpecial()
