"""What this machine can hold: a run whose draws or imputations would not fit in memory is
refused in one line naming the settings, before it starts (better than a crash, or hours
of swapping, later)."""
from __future__ import annotations

import os

from mlimpute.engine.parallel import split_imputations

from ..errors import SpecError
from ..model.spec import AUTO


def physical_memory() -> int | None:
    """Bytes of memory of this machine (None where the system does not say)."""
    try:
        return os.sysconf("SC_PHYS_PAGES") * os.sysconf("SC_PAGE_SIZE")
    except (AttributeError, ValueError, OSError):
        return None


def check_memory(probe, model, settings) -> None:
    """Refuse a run whose stored draws (every iteration's parameters, and the M sets of
    imputed cells) would not fit in this machine's memory: better a one-line error naming
    the settings now than a crash, or hours of swapping, later."""
    m = settings.pilot_m if settings.m == AUTO else settings.m
    burnin = settings.max_burnin if settings.burnin == AUTO else settings.burnin
    between = 1 if settings.between == AUTO else settings.between
    per_chain = split_imputations(m, settings.chains)
    needed = sum(probe.chain_bytes(burnin + between * k) for k in per_chain)
    needed += 8 * m * model.data.n_missing
    available = physical_memory()
    if available is not None and needed > 0.8 * available:
        # name the settings that make the run this long: the caps of the "auto" ones
        shown = [f"max_burnin = {settings.max_burnin:,} (--max-burnin; burnin = 'auto' may run "
                 "that long)" if settings.burnin == AUTO else f"burnin = {settings.burnin:,}",
                 f"between = {settings.between:,}" if settings.between != AUTO
                 else "between = 'auto'",
                 f"pilot_m = {settings.pilot_m:,} (--pilot-m; the pilot of m = 'auto')"
                 if settings.m == AUTO else f"m = {settings.m:,}"]
        raise SpecError(f"mcmc: {', '.join(shown)} would keep {needed / 2**30:,.1f} GiB "
                        f"of draws, more than this machine's {available / 2**30:,.1f} GiB of "
                        "memory allows; lower them")


def check_room(compiled, m: int, fmi: float) -> None:
    """Refuse an M whose imputed cells would not fit in memory (a high FMI with a
    tight coefficient of variation can ask for thousands), before sampling them."""
    available = physical_memory()
    if available is not None and 8 * m * compiled.data.n_missing > 0.5 * available:
        raise SpecError(f"mcmc: m = 'auto' asks for {m:,} imputations (fraction of missing "
                        f"information up to {fmi:.2f}, se_cv = "
                        f"{compiled.spec.mcmc.se_cv:g}), more than this machine's "
                        "memory holds; raise se_cv or give m")
