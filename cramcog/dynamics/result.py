"""Fit results: one family (:class:`FitResult`) or several ranked by AIC (:class:`FitSet`).

A result holds B curves (B = 1 for a plain 1-D fit). For one curve every statistic is a Python
float (``fit.params["gamma"]``) and every interval a pair of floats. When the input had batch
dims (an xarray ``y`` with e.g. a ``subject`` dim, or a 2-D array), each statistic is a numpy
array shaped like those dims (``fit.batch_dims`` names them, ``fit.batch_coords`` holds their
coordinates) and ``to_xarray()`` keeps them as dims of the record.

Examples
--------
>>> import numpy as np
>>> from cramcog.dynamics import fit_consolidation_curve
>>> t = np.array([1, 2, 4, 8, 16, 32.0])
>>> fit = fit_consolidation_curve(t, 0.9 * t ** -0.4 + [0.01, -0.01, 0.0, 0.01, -0.01, 0.0])
>>> round(fit.params["gamma"], 2), fit.converged
(0.4, True)
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Iterator, Mapping

import numpy as np

from cramcog.dynamics.data import CurveData
from cramcog.dynamics.families import Family
from cramcog.dynamics.intervals import BootstrapResult, wald_quantile


def _scalar_or_array(values: np.ndarray, batch_shape: tuple[int, ...]):
    """(B,) -> float when there is no batch, else an array shaped batch_shape."""
    if not batch_shape:
        v = values.reshape(-1)[0]
        return v.item() if isinstance(v, np.generic) else v
    return values.reshape(batch_shape)


@dataclass
class FitResult:
    """One family fitted to B curves. Build it with ``fit_consolidation_curve``.

    Attributes
    ----------
    family : str
        The family's name (``spec`` is the :class:`Family` itself).
    likelihood : str
        "binomial" (counts ``n`` given) or "least_squares".
    ci_method : str
        "profile", "bootstrap", "wald" or "none".
    level : float
        Confidence level of ``ci`` (and the default band level).

    Examples
    --------
    >>> import numpy as np
    >>> from cramcog.dynamics import fit_consolidation_curve
    >>> t = np.arange(1.0, 11.0)
    >>> k = np.array([45, 37, 33, 30, 29, 27, 26, 25, 24, 23])
    >>> fit = fit_consolidation_curve(t, k, n=50, family="power", y_kind="successes")
    >>> lo, hi = fit.ci["gamma"]
    >>> lo < fit.params["gamma"] < hi
    True
    """

    spec: Family
    curves: CurveData
    estimates: np.ndarray        # (B, k) natural parameters
    cov: np.ndarray              # (B, k, k) covariance of the natural parameters (Wald)
    ci_low: np.ndarray           # (B, k)
    ci_high: np.ndarray          # (B, k)
    converged_flags: np.ndarray  # (B,) bool
    messages: np.ndarray         # (B,) str
    loglik_values: np.ndarray    # (B,)
    ci_method: str
    level: float
    seed: int
    config: dict = field(default_factory=dict)
    boot: BootstrapResult | None = None

    # -- basic facts ---------------------------------------------------------------------------
    @property
    def family(self) -> str:
        return self.spec.name

    @property
    def formula(self) -> str:
        return self.spec.formula

    @property
    def likelihood(self) -> str:
        return self.curves.likelihood

    @property
    def n_points(self) -> int:
        return self.curves.n_points

    @property
    def n_params(self) -> int:
        """Number of curve parameters k (least-squares AIC/BIC add one for the noise variance)."""
        return self.spec.n_params

    @property
    def batch_dims(self) -> tuple[str, ...]:
        return self.curves.batch_dims

    @property
    def batch_shape(self) -> tuple[int, ...]:
        return self.curves.batch_shape

    @property
    def batch_coords(self) -> dict:
        return self.curves.batch_coords

    def _out(self, values):
        return _scalar_or_array(np.asarray(values), self.batch_shape)

    # -- estimates -------------------------------------------------------------------------
    @property
    def params(self) -> dict:
        """Parameter name -> estimate (float, or array over the batch dims)."""
        return {p: self._out(self.estimates[:, j]) for j, p in enumerate(self.spec.param_names)}

    @property
    def se(self) -> dict:
        """Parameter name -> Wald standard error (from the Fisher information / J^T J)."""
        sd = np.sqrt(np.maximum(np.diagonal(self.cov, axis1=1, axis2=2), 0.0))
        sd = np.where(np.isfinite(np.diagonal(self.cov, axis1=1, axis2=2)), sd, np.nan)
        return {p: self._out(sd[:, j]) for j, p in enumerate(self.spec.param_names)}

    @property
    def ci(self) -> dict:
        """Parameter name -> (low, high) at ``level`` by ``ci_method`` (NaN when not computed)."""
        return {p: (self._out(self.ci_low[:, j]), self._out(self.ci_high[:, j]))
                for j, p in enumerate(self.spec.param_names)}

    @property
    def converged(self):
        """True if the fit passed every convergence check (array over batch dims if batched)."""
        return self._out(self.converged_flags.astype(bool))

    @property
    def message(self):
        """'converged' or why not (and notes on the intervals); array over batch dims if any."""
        return self._out(self.messages)

    @property
    def loglik(self):
        return self._out(self.loglik_values)

    @property
    def _k_aic(self) -> int:
        return self.n_params + (1 if self.likelihood == "least_squares" else 0)

    @property
    def aic(self):
        """AIC = 2 k - 2 loglik (least squares counts the profiled noise variance in k)."""
        return self._out(2 * self._k_aic - 2 * self.loglik_values)

    @property
    def bic(self):
        """BIC = k ln(m) - 2 loglik with m the number of data points (not trials)."""
        return self._out(self._k_aic * np.log(self.n_points) - 2 * self.loglik_values)

    @property
    def t(self) -> np.ndarray:
        t = self.curves.t
        return t[0] if t.shape[0] == 1 else t.reshape(self.batch_shape + (-1,))

    @property
    def y(self) -> np.ndarray:
        """The fitted responses (proportions for the binomial likelihood)."""
        y = self.curves.y
        return y[0] if not self.batch_shape else y.reshape(self.batch_shape + (-1,))

    @property
    def n(self) -> np.ndarray | None:
        n = self.curves.n
        if n is None:
            return None
        return n[0] if not self.batch_shape else n.reshape(self.batch_shape + (-1,))

    # -- predictions -----------------------------------------------------------------------
    def _t_new(self, t_new) -> np.ndarray:
        tn = np.asarray(t_new, dtype=float).reshape(-1)
        if not np.isfinite(tn).all():
            raise ValueError("t_new contains NaN/inf")
        if self.spec.needs_positive_t and (tn <= 0).any():
            raise ValueError(f"family {self.family!r} needs t > 0; t_new has values <= 0")
        if (tn < 0).any():
            raise ValueError("t_new has negative times")
        return tn

    def _shape_out(self, arr: np.ndarray, scalar_input: bool) -> np.ndarray:
        out = arr[0] if not self.batch_shape else arr.reshape(self.batch_shape + (-1,))
        return out[..., 0] if scalar_input else out

    def predict(self, t_new) -> np.ndarray:
        """The fitted mean curve at ``t_new``.

        Parameters
        ----------
        t_new : array_like
            Times (1-D or scalar).

        Returns
        -------
        numpy.ndarray
            Shape ``(len(t_new),)``, or ``batch_shape + (len(t_new),)`` for a batched fit.

        Examples
        --------
        >>> import numpy as np
        >>> from cramcog.dynamics import fit_consolidation_curve
        >>> t = np.array([1, 2, 4, 8.0])
        >>> fit = fit_consolidation_curve(t, [1.0, 0.5, 0.26, 0.124], family="exponential")
        >>> fit.predict([1, 2]).shape
        (2,)
        """
        scalar = np.ndim(t_new) == 0
        tn = self._t_new(t_new)
        with np.errstate(all="ignore"):
            mu = self.spec.mean(tn[None, :], self.estimates)
        return self._shape_out(mu, scalar)

    def predict_band(self, t_new, level: float | None = None) -> tuple[np.ndarray, np.ndarray]:
        """A pointwise confidence band for the mean curve at ``t_new``.

        From the bootstrap replicates (percentiles) when ``ci_method == "bootstrap"``, else by
        the delta method on the Wald covariance (normal quantile for binomial fits, Student t
        with m - k df for least squares). Binomial bands are clipped to [0, 1].

        Parameters
        ----------
        t_new : array_like
            Times.
        level : float, optional
            Confidence level; defaults to the fit's ``level``.

        Returns
        -------
        (low, high) : tuple of numpy.ndarray
            Each shaped like ``predict(t_new)``.

        Examples
        --------
        >>> import numpy as np
        >>> from cramcog.dynamics import fit_consolidation_curve
        >>> t = np.array([1, 2, 4, 8, 16.0])
        >>> fit = fit_consolidation_curve(t, [0.9, 0.7, 0.55, 0.47, 0.37], ci="wald")
        >>> lo, hi = fit.predict_band([3.0])
        >>> bool(lo[0] < fit.predict([3.0])[0] < hi[0])
        True
        """
        level = self.level if level is None else level
        if not 0 < level < 1:
            raise ValueError(f"level must be in (0, 1), got {level}")
        scalar = np.ndim(t_new) == 0
        tn = self._t_new(t_new)
        nb = self.estimates.shape[0]
        if self.boot is not None:
            r, _, k = self.boot.draws.shape
            with np.errstate(all="ignore"):
                mu = self.spec.mean(tn[None, :], self.boot.draws.reshape(r * nb, k))
            mu = np.where(self.boot.ok.reshape(-1)[:, None], mu, np.nan).reshape(r, nb, -1)
            alpha = (1 - level) / 2
            import warnings
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", RuntimeWarning)
                low, high = np.nanquantile(mu, [alpha, 1 - alpha], axis=0)
        else:
            with np.errstate(all="ignore"):
                mu = self.spec.mean(tn[None, :], self.estimates)                   # (B, q)
                jac = self.spec.jacobian(tn[None, :], self.estimates)              # (B, q, k)
            var = np.einsum("bqk,bkl,bql->bq", jac, self.cov, jac)
            q = wald_quantile(self.likelihood, level, self.n_points, self.n_params)
            sd = np.sqrt(np.maximum(var, 0.0))
            low, high = mu - q * sd, mu + q * sd
        if self.likelihood == "binomial":
            low, high = np.clip(low, 0, 1), np.clip(high, 0, 1)
        return self._shape_out(low, scalar), self._shape_out(high, scalar)

    # -- output ----------------------------------------------------------------------------
    def to_xarray(self):
        """This fit as a record (``kind="fit"``) with dims (family, parameter, *batch dims).

        Variables: ``estimate``, ``ci_low``, ``ci_high``, ``se`` (family, parameter, ...);
        ``loglik``, ``aic``, ``bic``, ``converged`` (0/1), ``message`` (family, ...);
        ``formula`` (family); the data ``data_t``, ``data_y`` (and ``data_n``) over ``point``.

        Examples
        --------
        >>> import numpy as np
        >>> from cramcog.dynamics import fit_consolidation_curve
        >>> t = np.array([1, 2, 4, 8, 16.0])
        >>> ds = fit_consolidation_curve(t, [0.9, 0.7, 0.55, 0.47, 0.37]).to_xarray()
        >>> ds["estimate"].dims
        ('family', 'parameter')
        """
        from cramcog.dynamics.export import fits_to_record
        return fits_to_record([self])

    def plot(self, ax=None, loglog: bool = False, band: bool = True, max_curves: int = 12):
        """Data, fitted curve and confidence band on one matplotlib Axes (seaborn style).

        Parameters
        ----------
        ax : matplotlib.axes.Axes, optional
            Axes to draw on (a new figure if None).
        loglog : bool
            Log-log axes (a power law is a straight line there).
        band : bool
            Draw the ``predict_band`` confidence band.
        max_curves : int
            For a batched fit, draw at most this many curves.

        Returns
        -------
        matplotlib.axes.Axes

        Examples
        --------
        >>> import matplotlib; matplotlib.use("Agg")
        >>> import numpy as np
        >>> from cramcog.dynamics import fit_consolidation_curve
        >>> t = np.array([1, 2, 4, 8, 16.0])
        >>> ax = fit_consolidation_curve(t, [0.9, 0.7, 0.55, 0.47, 0.37]).plot(loglog=True)
        >>> ax.get_xscale()
        'log'
        """
        from cramcog.dynamics.plotting import plot_fits
        return plot_fits([self], ax=ax, loglog=loglog, band=band, max_curves=max_curves)

    def sel(self, **coords) -> "FitResult":
        """One curve of a batched fit, as an ordinary single-curve FitResult.

        Parameters
        ----------
        **coords
            One value per batch dim, e.g. ``sel(layer="L1")`` or ``sel(subject=3, seed=0)``
            (values of ``batch_coords``).

        Returns
        -------
        FitResult
            Floats instead of arrays; usable wherever a single fit is (e.g. ``compare_gamma``).

        Examples
        --------
        >>> import numpy as np
        >>> from cramcog.dynamics import fit_consolidation_curve
        >>> t = np.array([1, 2, 4, 8, 16.0])
        >>> fit = fit_consolidation_curve(t, np.stack([t ** -0.3, t ** -0.6]), ci="none")
        >>> round(fit.sel(curve=1).params["gamma"], 6)
        0.6
        """
        if not self.batch_shape:
            raise ValueError("sel() picks a curve of a batched fit; this fit has one curve")
        missing = [d for d in self.batch_dims if d not in coords]
        extra = [d for d in coords if d not in self.batch_dims]
        if missing or extra:
            raise ValueError(f"sel() needs exactly one value per batch dim {self.batch_dims}; "
                             f"missing {missing}, unknown {extra}")
        index = []
        for d in self.batch_dims:
            values = np.asarray(self.batch_coords[d])
            hits = np.flatnonzero(values == coords[d])
            if hits.size != 1:
                raise ValueError(f"{d}={coords[d]!r} is not one of {values.tolist()}")
            index.append(int(hits[0]))
        b = int(np.ravel_multi_index(tuple(index), self.batch_shape))
        return self._curve(b)

    def _curve(self, b: int) -> "FitResult":
        from dataclasses import replace

        from cramcog.dynamics.data import CurveData
        c = self.curves
        one = CurveData(t=c.t[:1] if c.t.shape[0] == 1 else c.t[b:b + 1], y=c.y[b:b + 1],
                        n=None if c.n is None else c.n[b:b + 1], time_name=c.time_name,
                        y_name=c.y_name, time_attrs=dict(c.time_attrs))
        boot = None
        if self.boot is not None:
            boot = BootstrapResult(draws=self.boot.draws[:, b:b + 1], ok=self.boot.ok[:, b:b + 1],
                                   low=self.boot.low[b:b + 1], high=self.boot.high[b:b + 1])
        sl = slice(b, b + 1)
        return replace(self, curves=one, estimates=self.estimates[sl], cov=self.cov[sl],
                       ci_low=self.ci_low[sl], ci_high=self.ci_high[sl],
                       converged_flags=self.converged_flags[sl], messages=self.messages[sl],
                       loglik_values=self.loglik_values[sl], boot=boot)

    def summary(self) -> str:
        """A short text summary (one line per parameter)."""
        lines = [f"{self.family}: {self.formula}  [{self.likelihood}, {self.n_points} points, "
                 f"{self.ci_method} {self.level:.0%} CI]"]
        if self.batch_shape:
            lines.append(f"  {int(np.prod(self.batch_shape))} curves over {self.batch_dims}; "
                         f"{int(self.converged_flags.sum())} converged")
            return "\n".join(lines)
        for j, p in enumerate(self.spec.param_names):
            lines.append(f"  {p:>6} = {self.estimates[0, j]:.4g}  "
                         f"[{self.ci_low[0, j]:.4g}, {self.ci_high[0, j]:.4g}]")
        lines.append(f"  AIC {self.aic:.3f}  BIC {self.bic:.3f}  {self.message}")
        return "\n".join(lines)

    def __repr__(self) -> str:
        return f"<FitResult {self.summary()}>"


class FitSet(Mapping):
    """Several families fitted to the same data, ranked by AIC.

    Behaves as a read-only dict ``family name -> FitResult``. ``best`` is the converged family
    with the lowest AIC (summed over curves for a batched fit); ``skipped`` lists families that
    ``family="all"`` left out because the data cannot support them, with the reason.

    Examples
    --------
    >>> import numpy as np
    >>> from cramcog.dynamics import fit_consolidation_curve
    >>> t = np.arange(1.0, 11.0)
    >>> k = np.array([45, 37, 33, 30, 29, 27, 26, 25, 24, 23])
    >>> fits = fit_consolidation_curve(t, k, n=50, family=["power", "exponential"], ci="wald",
    ...                               y_kind="successes")
    >>> fits.best.family
    'power'
    >>> list(fits.table()["family"])
    ['power', 'exponential']
    """

    def __init__(self, fits: dict[str, FitResult], skipped: dict[str, str] | None = None):
        if not fits:
            raise ValueError("a FitSet needs at least one fit")
        self._fits = dict(fits)
        self.skipped = dict(skipped or {})

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

    @property
    def best(self) -> FitResult:
        """The converged fit with the lowest AIC (lowest summed AIC for a batched fit).

        If no family converged on every curve, the lowest-AIC fit is returned anyway; its
        ``converged`` flag says it failed.
        """
        def total_aic(f):
            return float(np.sum(np.atleast_1d(f.aic)))
        ok = [f for f in self._fits.values() if np.all(f.converged)]
        pool = ok or list(self._fits.values())
        return min(pool, key=total_aic)

    def table(self):
        """A tidy pandas DataFrame ranked by AIC (within each curve for a batched fit).

        Converged fits come first, ranked by AIC; fits that failed follow (also by AIC).

        Columns: (batch dims,) family, formula, n_params, loglik, aic, delta_aic,
        akaike_weight, bic, gamma, gamma_low, gamma_high, converged, message. ``delta_aic``
        and Akaike weights use converged fits only (others get NaN); gamma columns are NaN for
        families without a power-law exponent.
        """
        import pandas as pd

        rows = []
        for name, f in self._fits.items():
            nb = f.estimates.shape[0]
            has_g = "gamma" in f.spec.param_names
            j = f.spec.param_names.index("gamma") if has_g else None
            aic = 2 * f._k_aic - 2 * f.loglik_values
            bic = f._k_aic * np.log(f.n_points) - 2 * f.loglik_values
            index = np.unravel_index(np.arange(nb), f.batch_shape) if f.batch_shape else ()
            for b in range(nb):
                row = {d: f.batch_coords[d][index[i][b]] for i, d in enumerate(f.batch_dims)}
                row.update(family=name, formula=f.formula, n_params=f.n_params,
                           loglik=f.loglik_values[b], aic=aic[b], bic=bic[b],
                           gamma=f.estimates[b, j] if has_g else np.nan,
                           gamma_low=f.ci_low[b, j] if has_g else np.nan,
                           gamma_high=f.ci_high[b, j] if has_g else np.nan,
                           converged=bool(f.converged_flags[b]), message=f.messages[b])
                rows.append(row)
        df = pd.DataFrame(rows)
        keys = list(next(iter(self._fits.values())).batch_dims)
        conv_aic = df["aic"].where(df["converged"])
        if keys:
            best = conv_aic.groupby([df[k] for k in keys]).transform("min")
        else:
            best = conv_aic.min()
        df["delta_aic"] = conv_aic - best
        w = np.exp(-0.5 * df["delta_aic"])
        norm = w.groupby([df[k] for k in keys]).transform("sum") if keys else w.sum()
        df["akaike_weight"] = w / norm
        # Converged fits first (a failed fit never outranks a valid one), then by AIC.
        df["_failed"] = ~df["converged"]
        df = df.sort_values(keys + ["_failed", "aic"], na_position="last", kind="stable")
        cols = keys + ["family", "formula", "n_params", "loglik", "aic", "delta_aic",
                       "akaike_weight", "bic", "gamma", "gamma_low", "gamma_high", "converged",
                       "message"]
        return df[cols].reset_index(drop=True)

    def to_xarray(self):
        """All fits as one record with dims (family, parameter, *batch dims).

        Parameters missing from a family (e.g. ``gamma`` for ``exponential``) are NaN.
        """
        from cramcog.dynamics.export import fits_to_record
        return fits_to_record(list(self._fits.values()), skipped=self.skipped)

    def plot(self, ax=None, loglog: bool = False, band: bool = True, families=None):
        """Data with every converged family's curve; the best one drawn bold with its band.

        Parameters
        ----------
        ax : matplotlib.axes.Axes, optional
        loglog : bool
        band : bool
            Draw the best family's confidence band.
        families : list of str, optional
            Subset to draw (default: all fitted).

        Returns
        -------
        matplotlib.axes.Axes
        """
        from cramcog.dynamics.plotting import plot_fits
        names = list(self._fits) if families is None else list(families)
        fits = [self[n] for n in names]
        return plot_fits(fits, ax=ax, loglog=loglog, band=band, highlight=self.best.family,
                         max_curves=1)

    def __repr__(self) -> str:
        return f"<FitSet {list(self._fits)}; best={self.best.family}>"
