"""Ranking families: :class:`FitSet`, several families fitted to the same data, ranked by an
information criterion (AICc, AIC, BIC and their quasi forms; :mod:`cramcog.dynamics.criteria`,
whose names are re-exported here) with Akaike weights.

Examples
--------
>>> import numpy as np
>>> from cramcog.dynamics import fit_consolidation_curve
>>> t = np.array([1, 2, 4, 8, 16, 32.0])
>>> fits = fit_consolidation_curve(t, [0.82, 0.66, 0.58, 0.46, 0.40, 0.34],
...                                family=["power", "exponential"])
>>> fits.criterion, fits.best.family
('aicc', 'power')
"""
from __future__ import annotations

from typing import TYPE_CHECKING, Iterator, Mapping

import numpy as np

# re-exported: importing CRITERION_LABELS and information_criterion from here keeps working
from cramcog.dynamics.criteria import CRITERION_LABELS, information_criterion  # noqa: F401
from cramcog.dynamics.report import fitset_report

if TYPE_CHECKING:
    from cramcog.dynamics.result import FitResult


class FitSet(Mapping):
    """Several families fitted to the same data, ranked by an information criterion.

    Behaves as a read-only dict ``family name -> FitResult``. ``criterion`` is "aicc" (default),
    "aic" or "bic" ("qaicc" etc. for quasi fits); ``best`` is the converged family with the
    lowest value (summed over curves for a batched fit); ``weights`` are the Akaike weights;
    ``skipped`` lists families that ``family="all"`` left out because the data cannot support
    them, with the reason.

    Quasi fits (``overdispersion="quasi"``) are ranked by QAIC(c) with ONE dispersion ``c_hat``
    for every family (Burnham & Anderson 2002, sec. 6.2): that of the converged family with the
    most estimated parameters (the most general model; ties: the smaller deviance), floored at
    1. Each family's intervals use its own dispersion.

    Examples
    --------
    >>> import numpy as np
    >>> from cramcog.dynamics import fit_consolidation_curve
    >>> t = np.arange(1.0, 11.0)
    >>> k = np.array([45, 37, 33, 30, 29, 27, 26, 25, 24, 23])
    >>> fits = fit_consolidation_curve(t, k, n=50, family=["power", "exponential"], ci="wald",
    ...                               y_kind="successes")
    >>> fits.best.family, fits.criterion
    ('power', 'aicc')
    >>> list(fits.table()["family"])
    ['power', 'exponential']
    >>> round(fits.weights["power"], 2)
    0.9
    """

    def __init__(self, fits: dict[str, FitResult], skipped: dict[str, str] | None = None,
                 criterion: str | None = None):
        if not fits:
            raise ValueError("a FitSet needs at least one fit")
        self._fits = dict(fits)
        self.skipped = dict(skipped or {})
        first = next(iter(self._fits.values()))
        base = criterion or first.criterion
        if base not in ("aicc", "aic", "bic"):
            raise ValueError(f"criterion={base!r}; use 'aicc', 'aic' or 'bic'")
        quasi = any(f.quasi_dispersion is not None for f in self._fits.values())
        self.criterion = ("q" if quasi else "") + base
        self.c_hat = self._common_dispersion() if quasi else None

    def _common_dispersion(self) -> np.ndarray:
        """(B,) one dispersion for all families: the most general converged fit's."""
        fits = list(self._fits.values())
        nb = fits[0].estimates.shape[0]
        out = np.ones(nb)
        for b in range(nb):
            ok = [f for f in fits if f.converged_flags[b] and f.quasi_dispersion is not None]
            if ok:
                top = max(ok, key=lambda f: (f.n_params, -f.deviance_values[b]))
                out[b] = top.quasi_dispersion[b]
        return out

    def __getitem__(self, name: str) -> FitResult:
        try:
            return self._fits[name]
        except KeyError:
            raise KeyError(f"{name!r} was not fitted; fitted families: "
                           f"{list(self._fits)}") from None

    def __iter__(self) -> Iterator[str]:
        return iter(self._fits)

    def __len__(self) -> int:
        return len(self._fits)

    # -- ranking ---------------------------------------------------------------------------
    def ic_values(self, name: str) -> np.ndarray:
        """(B,) criterion ``name`` of family ``name``'s fit under this set's criterion."""
        f = self._fits[name]
        return f._ic_values(self.criterion, self.c_hat)

    def _ranked_values(self) -> np.ndarray:
        """(F, B) criterion values; NaN for fits that did not converge."""
        vals = np.stack([self.ic_values(n) for n in self._fits])
        conv = np.stack([f.converged_flags for f in self._fits.values()])
        return np.where(conv, vals, np.nan)

    def _weights(self) -> np.ndarray:
        """(F, B) Akaike weights exp(-delta/2) / sum over converged families (NaN otherwise)."""
        vals = self._ranked_values()
        with np.errstate(invalid="ignore"):
            delta = vals - np.nanmin(np.where(np.isnan(vals), np.inf, vals), axis=0)
            w = np.exp(-0.5 * delta)
            total = np.nansum(w, axis=0)
            return np.where(np.isnan(vals), np.nan, w / np.where(total > 0, total, np.nan))

    @property
    def weights(self) -> dict:
        """Family -> Akaike weight under ``criterion`` (its probability of being the best of
        these families in the Kullback-Leibler sense; NaN for fits that did not converge).
        Floats, or arrays over the batch dims."""
        w = self._weights()
        first = next(iter(self._fits.values()))
        return {n: first._out(w[i]) for i, n in enumerate(self._fits)}

    @property
    def best(self) -> FitResult:
        """The converged fit with the lowest criterion (lowest sum over a batched fit's curves).

        If no family converged on every curve, the lowest-criterion fit is returned anyway; its
        ``converged`` flag says it failed.
        """
        def total(f):
            return float(np.sum(f._ic_values(self.criterion, self.c_hat)))
        ok = [f for f in self._fits.values() if np.all(f.converged)]
        pool = ok or list(self._fits.values())
        return min(pool, key=total)

    def best_with(self, param: str) -> FitResult:
        """The best converged fit among families that have ``param`` (e.g. ``"gamma"``).

        Raises
        ------
        ValueError
            No converged fit has that parameter (the message lists what was fitted).

        Examples
        --------
        >>> import numpy as np
        >>> from cramcog.dynamics import fit_consolidation_curve
        >>> t = np.arange(1.0, 11.0)
        >>> fits = fit_consolidation_curve(t, 0.9 * np.exp(-0.3 * t) + 0.01 * np.sin(t),
        ...                                family=["exponential", "power"], ci="none")
        >>> fits.best.family, fits.best_with("gamma").family
        ('exponential', 'power')
        """
        pool = [f for f in self._fits.values() if param in f.spec.param_names]
        ok = [f for f in pool if np.all(f.converged)]
        if not ok:
            have = [f.family for f in pool]
            raise ValueError(f"no converged fit has a parameter {param!r} (families with it: "
                             f"{have or 'none fitted'}; fitted: {list(self._fits)})")
        return min(ok, key=lambda f: float(np.sum(f._ic_values(self.criterion, self.c_hat))))

    def weak_ranking_note(self, few_points: int = 10, weight: float = 0.9) -> str:
        """A warning text when few points leave the ranking weak, else "".

        Weak: fewer than ``few_points`` points and the best family's Akaike weight below
        ``weight`` (other families keep real support), on any curve.
        """
        first = next(iter(self._fits.values()))
        m = first.n_points
        if m >= few_points or len(self._fits) < 2:
            return ""
        w = self._weights()
        if np.all(np.isnan(w)):
            return ""
        top = np.nanmax(np.where(np.isnan(w), -np.inf, w), axis=0)          # (B,)
        weak = np.isfinite(top) & (top < weight)
        if not weak.any():
            return ""
        b = int(np.flatnonzero(weak)[0])
        names = list(self._fits)
        order = np.argsort(np.where(np.isnan(w[:, b]), -1, w[:, b]))[::-1]
        close = [f"{names[i]} {w[i, b]:.2f}" for i in order[:4] if np.isfinite(w[i, b])]
        where = f" ({int(weak.sum())} of {weak.size} curves; first)" if weak.size > 1 else ""
        return (f"only {m} points: the ranking is weak{where}: Akaike weights "
                f"{', '.join(close)} ({CRITERION_LABELS[self.criterion]}). Several families "
                "describe these points about equally well; do not read the best one as THE "
                "form of the curve: more delays would separate them")

    # -- output ----------------------------------------------------------------------------
    def table(self):
        """A tidy pandas DataFrame ranked by ``criterion`` (within each curve if batched).

        Converged fits come first, ranked; fits that failed follow (also by the criterion).

        Columns: (batch dims,) family, formula, n_params (estimated), loglik, aic, aicc, bic,
        (qaic/qaicc/qbic for quasi fits,) ``delta_<criterion>``, akaike_weight (from the
        criterion), delta_aic, shape_param, shape, shape_low, shape_high, gamma, gamma_low,
        gamma_high, deviance, pearson_chi2, df_resid, dispersion, converged, message. Deltas and
        weights use converged fits only (others get NaN); gamma columns are NaN for families
        without a gamma, shape columns for families without a shape parameter.
        ``table().attrs["criterion"]`` names the criterion.
        """
        import pandas as pd

        crit = self.criterion
        w = self._weights()
        ranked = self._ranked_values()
        rows = []
        for i, (name, f) in enumerate(self._fits.items()):
            nb = f.estimates.shape[0]
            sj = f.spec.param_names.index(f.shape_param) if f.shape_param else None
            gj = f.spec.param_names.index("gamma") if f.has_gamma else None
            ics = {c: f._ic_values(c) for c in ("aic", "aicc", "bic")}
            if crit not in ics:
                ics[crit] = f._ic_values(crit, self.c_hat)
            disp = f.dispersion_values
            index = np.unravel_index(np.arange(nb), f.batch_shape) if f.batch_shape else ()
            for b in range(nb):
                row = {d: f.batch_coords[d][index[j][b]] for j, d in enumerate(f.batch_dims)}
                row.update(family=name, formula=f.formula, n_params=f.n_params,
                           loglik=f.loglik_values[b], **{c: v[b] for c, v in ics.items()},
                           _rank=ranked[i, b], akaike_weight=w[i, b],
                           shape_param=f.shape_param or "",
                           shape=f.estimates[b, sj] if sj is not None else np.nan,
                           shape_low=f.ci_low[b, sj] if sj is not None else np.nan,
                           shape_high=f.ci_high[b, sj] if sj is not None else np.nan,
                           gamma=f.estimates[b, gj] if gj is not None else np.nan,
                           gamma_low=f.ci_low[b, gj] if gj is not None else np.nan,
                           gamma_high=f.ci_high[b, gj] if gj is not None else np.nan,
                           deviance=f.deviance_values[b], pearson_chi2=f.pearson_values[b],
                           df_resid=f.df_resid, dispersion=disp[b],
                           converged=bool(f.converged_flags[b]), message=f.messages[b])
                rows.append(row)
        df = pd.DataFrame(rows)
        keys = list(next(iter(self._fits.values())).batch_dims)

        def delta(col):
            vals = df[col].where(df["converged"])
            best = vals.groupby([df[k] for k in keys]).transform("min") if keys else vals.min()
            return vals - best
        df[f"delta_{crit}"] = delta("_rank")
        if crit != "aic":
            df["delta_aic"] = delta("aic")
        # Converged fits first (a failed fit never outranks a valid one), then by criterion.
        df["_failed"] = ~df["converged"]
        df["_sort"] = df[crit]
        df = df.sort_values(keys + ["_failed", "_sort"], na_position="last", kind="stable")
        ics = ["aic", "aicc", "bic"] + ([crit] if crit not in ("aic", "aicc", "bic") else [])
        deltas = [f"delta_{crit}"] + (["delta_aic"] if crit != "aic" else [])
        cols = (keys + ["family", "formula", "n_params", "loglik"] + ics + deltas
                + ["akaike_weight", "shape_param", "shape", "shape_low", "shape_high", "gamma",
                   "gamma_low", "gamma_high", "deviance", "pearson_chi2", "df_resid",
                   "dispersion", "converged", "message"])
        out = df[cols].reset_index(drop=True)
        out.attrs["criterion"] = crit
        return out

    def report(self, max_rows: int = 20) -> str:
        """The ranking (criterion, deltas, Akaike weights, shape parameters, dispersion),
        notes on a weak ranking, skipped families, then the best fit's :meth:`FitResult.report`.

        Examples
        --------
        >>> import numpy as np
        >>> from cramcog.dynamics import fit_consolidation_curve
        >>> t = np.arange(1.0, 11.0)
        >>> k = np.array([45, 37, 33, 30, 29, 27, 26, 25, 24, 23])
        >>> fits = fit_consolidation_curve(t, k, n=50, family=["power", "exponential"],
        ...                                y_kind="successes")
        >>> print(fits.report())                                     # doctest: +ELLIPSIS
        [[Model comparison]]  ranked by AICc; 10 points, binomial
        ...
        best: power (Akaike weight 0.90)
        ...
        """
        return fitset_report(self, max_rows=max_rows)

    def to_xarray(self):
        """All fits as one record with dims (family, parameter, *batch dims).

        Parameters missing from a family (e.g. ``gamma`` for ``exponential``) are NaN.
        """
        from cramcog.dynamics.export import fits_to_record
        return fits_to_record(list(self._fits.values()), skipped=self.skipped,
                              criterion=self.criterion, c_hat=self.c_hat)

    def plot(self, ax=None, loglog: bool = False, band: bool = True, families=None, **kwargs):
        """Data with every converged family's curve; the best one drawn bold with its band.

        Parameters
        ----------
        ax : matplotlib.axes.Axes, optional
        loglog : bool
        band : bool
            Draw the best family's confidence band.
        families : list of str, optional
            Subset to draw (default: all fitted).
        **kwargs
            ``logx`` (default: log when the delays span more than a decade) and ``residuals``
            (a residual panel below): see :func:`cramcog.dynamics.plotting.plot_fits`.

        Returns
        -------
        matplotlib.axes.Axes
        """
        from cramcog.dynamics.plotting import plot_fits
        names = list(self._fits) if families is None else list(families)
        fits = [self[n] for n in names]
        return plot_fits(fits, ax=ax, loglog=loglog, band=band, highlight=self.best.family,
                         **{"max_curves": 1, **kwargs})

    def __repr__(self) -> str:
        return f"<FitSet {list(self._fits)}; best={self.best.family} by {self.criterion}>"
