"""Fit results: one family (:class:`FitResult`); several ranked by AICc are a :class:`FitSet`
(:mod:`cramcog.dynamics.ranking`, which builds on this module).

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

import numpy as np

from cramcog.dynamics.criteria import information_criterion
from cramcog.dynamics.data import CurveData
from cramcog.dynamics.families import Family
from cramcog.dynamics.intervals import BootstrapResult, wald_quantile
from cramcog.dynamics.report import fit_report

def _gof_p(likelihood: str, pearson: np.ndarray, df: int) -> np.ndarray:
    """Pearson chi2 lack-of-fit p-value (binomial; NaN for least squares or df <= 0)."""
    from scipy import stats
    if likelihood != "binomial" or df <= 0:
        return np.full(np.shape(pearson), np.nan)
    return stats.chi2.sf(pearson, df)



class MissingParameterError(KeyError):
    """A parameter the family does not have (e.g. ``gamma`` of an exponential); a KeyError, so
    ``except KeyError`` still catches it, with a message saying what to do instead."""

    def __str__(self) -> str:  # KeyError would print the message quoted, as a key
        return str(self.args[0]) if self.args else ""


class Params(dict):
    """Parameter name -> value, for one family; a missing name raises a clear
    :class:`MissingParameterError` (``get`` returns None, as for any dict)."""

    def __init__(self, values: dict, spec: Family):
        super().__init__(values)
        self._spec = spec

    def __missing__(self, key):
        spec = self._spec
        shape = (f"its scale-free shape parameter is {spec.shape_param!r}" if spec.shape_param
                 else "it has no scale-free shape parameter")
        hint = ""
        if key == "gamma":
            from cramcog.dynamics.families import FAMILIES
            with_gamma = [n for n, f in FAMILIES.items() if f.has_gamma]
            hint = (f" Only power-law families have a gamma ({', '.join(with_gamma)}): check "
                    "fit.has_gamma or use fit.params.get('gamma'); of a FitSet, "
                    "fits.best_with('gamma') is the best family that has one.")
        raise MissingParameterError(
            f"family {spec.name!r} ({spec.formula}) has no parameter {key!r}; its parameters "
            f"are {spec.param_names} and {shape}.{hint}")


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
        "binomial" (counts ``n`` given), "least_squares", or "lognormal" (``y_kind="rt"``:
        least squares on log y; the fitted curve is the median of y).
    ci_method : str
        "profile", "bootstrap", "wald" or "none".
    level : float
        Confidence level of ``ci`` (and the default band level).
    fixed : dict
        Parameters held at a value (not estimated), name -> value.
    criterion : str
        The information criterion asked for ("aicc", "aic", "bic"); ``criterion_name`` is the
        one used ("qaicc" etc. for quasi fits) and ``ic`` its value.

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
    fixed: dict = field(default_factory=dict)      # name -> value held fixed
    deviance_values: np.ndarray | None = None      # (B,) binomial deviance, or RSS
    pearson_values: np.ndarray | None = None       # (B,) Pearson chi2 (LS: RSS)
    criterion: str = "aicc"                        # aicc, aic or bic
    quasi_dispersion: np.ndarray | None = None     # (B,) c-hat of a quasi fit, else None
    edge_points: np.ndarray | None = None          # (B,) point held at 0 or 1, -1 if none

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
        """Number of estimated curve parameters k: held (``fixed``) ones are not counted; the
        least-squares criteria add one for the noise variance."""
        return self.spec.n_params - len(self.fixed)

    @property
    def has_gamma(self) -> bool:
        """True if this family has a power-law exponent ``gamma``."""
        return self.spec.has_gamma

    @property
    def shape_param(self) -> str | None:
        """Name of the family's dimensionless shape parameter ("gamma", "k", "slope") or None."""
        return self.spec.shape_param

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
    def params(self) -> Params:
        """Parameter name -> estimate (float, or array over the batch dims).

        A name the family lacks raises :class:`MissingParameterError` (a KeyError) saying
        which parameters it has; ``params.get(name)`` gives None instead.
        """
        return Params({p: self._out(self.estimates[:, j])
                       for j, p in enumerate(self.spec.param_names)}, self.spec)

    @property
    def se(self) -> Params:
        """Parameter name -> Wald standard error (from the Fisher information / J^T J; scaled
        by the dispersion for quasi fits; 0 for held parameters)."""
        sd = np.sqrt(np.maximum(np.diagonal(self.cov, axis1=1, axis2=2), 0.0))
        sd = np.where(np.isfinite(np.diagonal(self.cov, axis1=1, axis2=2)), sd, np.nan)
        return Params({p: self._out(sd[:, j]) for j, p in enumerate(self.spec.param_names)},
                      self.spec)

    @property
    def ci(self) -> Params:
        """Parameter name -> (low, high) at ``level`` by ``ci_method`` (NaN when not computed;
        ``(value, value)`` for held parameters)."""
        return Params({p: (self._out(self.ci_low[:, j]), self._out(self.ci_high[:, j]))
                       for j, p in enumerate(self.spec.param_names)}, self.spec)

    @property
    def converged(self):
        """True if the fit passed every convergence check (array over batch dims if batched)."""
        return self._out(self.converged_flags.astype(bool))

    @property
    def on_edge(self):
        """True where the binomial maximum lies on the edge of [0, 1]: the fitted probability
        is exactly 1 (0) at a point observed at 100% (0%), see ``message``."""
        e = self.edge_points
        return self._out(np.zeros(self.estimates.shape[0], bool) if e is None else e >= 0)

    @property
    def message(self):
        """'converged' or why not (and notes on the intervals); array over batch dims if any."""
        return self._out(self.messages)

    @property
    def loglik(self):
        return self._out(self.loglik_values)

    @property
    def _k_aic(self) -> int:
        return self.n_params + (0 if self.likelihood == "binomial" else 1)  # + the variance

    def _ic_values(self, name: str, c_hat=None) -> np.ndarray:
        if name.startswith("q") and c_hat is None:
            c_hat = self.quasi_dispersion
        return information_criterion(name, self.loglik_values, self._k_aic, self.n_points,
                                     c_hat)

    @property
    def aic(self):
        """AIC = 2 k - 2 loglik (least squares counts the profiled noise variance in k)."""
        return self._out(self._ic_values("aic"))

    @property
    def aicc(self):
        """AICc = AIC + 2 k (k + 1) / (m - k - 1), m data points (Hurvich & Tsai 1989)."""
        return self._out(self._ic_values("aicc"))

    @property
    def bic(self):
        """BIC = k ln(m) - 2 loglik with m the number of data points (not trials)."""
        return self._out(self._ic_values("bic"))

    @property
    def criterion_name(self) -> str:
        """The criterion this fit is ranked by: ``criterion``, "q"-prefixed for quasi fits."""
        return ("q" if self.quasi_dispersion is not None else "") + self.criterion

    @property
    def ic(self):
        """Value of ``criterion_name`` (QAIC(c) of a quasi fit uses its own dispersion; a
        FitSet ranks with one dispersion for all families)."""
        return self._out(self._ic_values(self.criterion_name))

    # -- goodness of fit -------------------------------------------------------------------
    @property
    def df_resid(self) -> int:
        """Residual degrees of freedom m - k (k estimated curve parameters)."""
        return self.n_points - self.n_params

    @property
    def deviance(self):
        """Binomial deviance (2 x (saturated - fitted log-likelihood)); least squares: RSS."""
        return self._out(self.deviance_values)

    @property
    def pearson_chi2(self):
        """Pearson chi2 = sum n (y - mu)^2 / (mu (1 - mu)) (binomial); least squares: RSS."""
        return self._out(self.pearson_values)

    @property
    def dispersion_values(self) -> np.ndarray:
        """(B,) Pearson chi2 / (m - k): about 1 for binomial counts the model describes;
        larger means overdispersion or lack of fit. Least squares: the residual variance."""
        df = self.df_resid
        if df <= 0:
            return np.full(self.pearson_values.shape, np.nan)
        return self.pearson_values / df

    @property
    def dispersion(self):
        """Pearson dispersion (see ``dispersion_values``), per curve."""
        return self._out(self.dispersion_values)

    @property
    def gof_p_values(self) -> np.ndarray:
        """(B,) p-value of the Pearson chi2 lack-of-fit test (binomial only, else NaN)."""
        return _gof_p(self.likelihood, self.pearson_values, self.df_resid)

    @property
    def gof_p(self):
        """p-value of the Pearson chi2 lack-of-fit test (binomial only, else NaN)."""
        return self._out(self.gof_p_values)

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
        >>> t = np.array([1, 2, 4, 8, 16.0])
        >>> fit = fit_consolidation_curve(t, [1.0, 0.5, 0.26, 0.124, 0.02], family="exponential")
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
            like = "quasi" if self.quasi_dispersion is not None else self.likelihood
            q = wald_quantile(like, level, self.n_points, self.n_params)
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

    def plot(self, ax=None, loglog: bool = False, band: bool = True, max_curves: int = 12,
             **kwargs):
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
            For a batched fit, draw at most this many curves (the title says how many there
            are).
        **kwargs
            ``logx``, ``residuals`` (single curve) or ``page`` (batched): see
            :func:`cramcog.dynamics.plotting.plot_fits` and ``plot_panels``.

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
        if "page" in kwargs and ax is None and self.estimates.shape[0] > 1:
            from cramcog.dynamics.plotting import plot_panels
            return plot_panels([self], loglog=loglog, band=band, max_panels=max_curves,
                               **kwargs)
        return plot_fits([self], ax=ax, loglog=loglog, band=band, max_curves=max_curves,
                         **kwargs)

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
        qd = self.quasi_dispersion
        return replace(self, curves=one, estimates=self.estimates[sl], cov=self.cov[sl],
                       ci_low=self.ci_low[sl], ci_high=self.ci_high[sl],
                       converged_flags=self.converged_flags[sl], messages=self.messages[sl],
                       loglik_values=self.loglik_values[sl], boot=boot,
                       deviance_values=self.deviance_values[sl],
                       pearson_values=self.pearson_values[sl],
                       quasi_dispersion=None if qd is None else qd[sl],
                       edge_points=None if self.edge_points is None else self.edge_points[sl])

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

    def report(self, max_curves: int = 20) -> str:
        """A readable report in the spirit of lmfit's ``fit_report``: the model, data and
        likelihood, convergence, goodness of fit (deviance, Pearson dispersion, lack-of-fit p),
        information criteria, every parameter with its standard error and interval (held ones
        marked), and the correlations of the estimates.

        Parameters
        ----------
        max_curves : int
            For a batched fit, the number of curves listed.

        Returns
        -------
        str

        Examples
        --------
        >>> import numpy as np
        >>> from cramcog.dynamics import fit_consolidation_curve
        >>> t = np.array([1, 2, 4, 8, 16, 32.0])
        >>> fit = fit_consolidation_curve(t, [41, 33, 29, 23, 20, 17], n=50, y_kind="successes")
        >>> print(fit.report())                                      # doctest: +ELLIPSIS
        [[Fit]] power: a * t**(-gamma)
            likelihood  binomial (y read as successes), 6 points, 2 estimated parameters
            converged   True
        [[Goodness of fit]]
            deviance    ...  (4 df)
        ...
        [[Parameters]]  profile 95% intervals
            a       = ...
            gamma   = 0.2586 ...  shape parameter
        ...
        """
        return fit_report(self, max_curves=max_curves)

    def __repr__(self) -> str:
        return f"<FitResult {self.summary()}>"

