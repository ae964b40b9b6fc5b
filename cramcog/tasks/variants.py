"""Transfer variants of SRCD: unseen dynamics, gap laws and query rates, same recurring bindings.

The paper's transfer claim (issue 4) freezes the semantic memory and router and retrains only the
task head on *unseen SRCD variants*. A variant keeps the task seed, hence the same recurring
bindings (or a chosen share of them, ``recurring_overlap``), and changes what the model has never
seen: the dynamical system, the gap law, or the query rate. Vocabulary sizes and ``obs_dim`` stay,
so a trained model's input layers still fit.

Examples
--------
>>> from cramcog.tasks import SRCDConfig
>>> from cramcog.tasks.variants import transfer_variants, shared_recurring_fraction
>>> base = SRCDConfig(seq_len=512)
>>> variants = transfer_variants(base)
>>> sorted(variants)[1:4]
['gaps_exponential', 'gaps_heavy_tail', 'gaps_regular']
>>> shared_recurring_fraction(base, variants["system_vanderpol"])
1.0
>>> shared_recurring_fraction(base, base.variant(recurring_overlap=0.5))
0.5
"""
from __future__ import annotations

from cramcog.tasks.bindings import recurring_bindings
from cramcog.tasks.srcd import SRCDConfig
from cramcog.tasks.systems import SYSTEMS

BUILTIN_SYSTEMS = ("lorenz", "vanderpol", "oscillators")


def _same_mean_gaps(base: SRCDConfig, law: str, shape: float | None = None) -> dict:
    """Gap-law fields for ``law`` with the same mean gap as ``base`` (fair comparison)."""
    mean = base.mean_gap
    if law == "pareto":
        return {"gap_law": law, "gap_shape": shape, "gap_scale": mean * (shape - 1.0) / shape}
    if law == "lomax":
        return {"gap_law": law, "gap_shape": shape, "gap_scale": mean * (shape - 1.0)}
    return {"gap_law": law, "gap_scale": mean}  # exponential (mean) / fixed (the gap)


def transfer_variants(base: SRCDConfig, recurring_overlap: float | None = None,
                      heavy_tail_shape: float = 1.5) -> dict[str, SRCDConfig]:
    """The standard set of unseen SRCD variants of ``base``.

    Parameters
    ----------
    base : SRCDConfig
        The training task.
    recurring_overlap : float, optional
        Share of the base recurring bindings every variant keeps (default: base's own value).
    heavy_tail_shape : float
        Pareto tail index of the heavy-tailed gap variant (same mean gap as ``base``).

    Returns
    -------
    dict of str to SRCDConfig
        ``system_<name>`` for each other built-in system; ``gaps_exponential`` (Poisson events),
        ``gaps_heavy_tail`` (Pareto with ``heavy_tail_shape``), ``gaps_regular`` (fixed gap), all
        with the base's mean gap; ``query_rate_double`` / ``query_rate_half``; and
        ``bindings_half_new`` (half the recurring bindings replaced, everything else as base).

    Examples
    --------
    >>> v = transfer_variants(SRCDConfig(), recurring_overlap=0.5)
    >>> v["system_oscillators"].recurring_overlap, v["gaps_regular"].gap_law
    (0.5, 'fixed')
    """
    if not isinstance(base, SRCDConfig):
        raise TypeError(f"transfer_variants needs an SRCDConfig, got {type(base).__name__}")
    overlap = base.recurring_overlap if recurring_overlap is None else recurring_overlap
    keep = {"recurring_overlap": overlap}
    out = {f"system_{name}": base.variant(system=name, **keep)
           for name in BUILTIN_SYSTEMS if name != base.system and name in SYSTEMS}
    out["gaps_exponential"] = base.variant(**_same_mean_gaps(base, "exponential"), **keep)
    out["gaps_heavy_tail"] = base.variant(
        **_same_mean_gaps(base, "pareto", heavy_tail_shape), **keep)
    out["gaps_regular"] = base.variant(**_same_mean_gaps(base, "fixed"), **keep)
    out["query_rate_double"] = base.variant(query_rate=min(0.25, 2 * base.query_rate), **keep)
    out["query_rate_half"] = base.variant(query_rate=base.query_rate / 2, **keep)
    out["bindings_half_new"] = base.variant(recurring_overlap=0.5 * overlap)
    return out


def shared_recurring_fraction(a: SRCDConfig, b: SRCDConfig) -> float:
    """Share of ``a``'s recurring (key, value) bindings that are also recurring in ``b``.

    Examples
    --------
    >>> shared_recurring_fraction(SRCDConfig(seed=0), SRCDConfig(seed=1)) < 0.05
    True
    """
    ka, va = recurring_bindings(a.seed, a.n_patterns, a.n_keys, a.n_values, a.recurring_overlap)
    kb, vb = recurring_bindings(b.seed, b.n_patterns, b.n_keys, b.n_values, b.recurring_overlap)
    pairs_b = set(zip(kb.tolist(), vb.tolist()))
    return sum(p in pairs_b for p in zip(ka.tolist(), va.tolist())) / len(ka)
