"""Turn user input (numpy, pandas, xarray) into validated curve arrays for the fitter.

The fitter works on ``B`` curves of ``m`` points each:

- ``t``: (1, m) when all curves share their times (the usual case), else (B, m);
- ``y``: (B, m); proportions in [0, 1] with the binomial likelihood, raw values without it;
- ``n``: (B, m) trials, or None (least squares).

How ``y`` is read (:func:`convert_y`, the ONE place that converts it) is set by ``y_kind``:

==============  ==============================  ==============================================
``y_kind``      ``y`` holds                     fitted as
==============  ==============================  ==============================================
"proportion"    proportions in [0, 1]           binomial with ``n``, least squares without
"successes"     whole counts 0..n (needs ``n``)  binomial on ``y / n``
"percent"       percentages in [0, 100]         ``y / 100``: binomial with ``n``, else LS
"value"         any measurement (no ``n``)      least squares on the raw values
"rt"            response times > 0 (no ``n``)    log-normal: least squares on log y
"auto"          (default) guessed, see below    as the guess; ambiguous input warns or fails
==============  ==============================  ==============================================

"auto" reads proportions when every ``y`` lies in [0, 1]. Without ``n``, values more than
``NOISE_MARGIN`` (0.1) outside [0, 1] are an error naming them (a typo, percentages or a
measurement: pass ``y_kind``) unless all are whole numbers. Values above 1 with ``n`` are read
as successes only if they are all whole numbers, with a warning (percentages look the same: pass
``y_kind`` to say which); fractional values beside values above 1 (one mistyped proportion, or
"2.5 successes") are an error naming them. Whole numbers without ``n`` warn that counts are being
fitted by least squares. Every message names the offending values and the point they are at.

An xarray ``y`` with more dims than the time dim is a batch: every other dim (subject, layer,
seed, ...) indexes curves. They are stacked into B and the fit result un-stacks them again
(``batch_dims``/``batch_coords``). A 2-D numpy ``y`` is read as (curve, point); a pandas
DataFrame ``y`` with several columns as one curve per column.

Examples
--------
>>> import numpy as np
>>> from cramcog.dynamics.data import as_curves
>>> c = as_curves([1, 2, 4], [0.9, 0.7, 0.5])
>>> c.y.shape, c.likelihood
((1, 3), 'least_squares')
"""
from __future__ import annotations

import warnings
from dataclasses import dataclass, field

import numpy as np

# the accepted values of y_kind (see the module docstring), re-exported here
from cramcog.dynamics.kinds import Y_KINDS

#: How far outside [0, 1] ``y_kind="auto"`` without ``n`` still reads ``y`` as noisy proportions
#: (measurement noise around 0 or 1); a mistyped 1.5 or a percentage is further out.
NOISE_MARGIN = 0.1


@dataclass
class CurveData:
    """Validated curves; see the module docstring for shapes."""

    t: np.ndarray
    y: np.ndarray
    n: np.ndarray | None
    batch_dims: tuple[str, ...] = ()
    batch_shape: tuple[int, ...] = ()
    batch_coords: dict = field(default_factory=dict)
    time_name: str = "t"
    y_name: str = "y"
    time_attrs: dict = field(default_factory=dict)
    y_kind: str = "value"     # how y was read: proportion, successes, percent, value or rt
    cluster: np.ndarray | None = None  # (m,) cluster label per point (one curve only), or None

    @property
    def likelihood(self) -> str:
        """"binomial" (``n`` given), "lognormal" (``y_kind="rt"``) or "least_squares"."""
        if self.n is not None:
            return "binomial"
        return "lognormal" if self.y_kind == "rt" else "least_squares"

    @property
    def n_curves(self) -> int:
        return self.y.shape[0]

    @property
    def n_points(self) -> int:
        return self.y.shape[1]


def _is_xr(obj) -> bool:
    return type(obj).__module__.startswith("xarray") and hasattr(obj, "dims")


def _is_pandas(obj) -> bool:
    return type(obj).__module__.startswith("pandas")


def _numeric(name: str, value) -> np.ndarray:
    """value as a float array, with a TypeError for non-numeric input."""
    if value is None:
        raise TypeError(f"{name} is None; pass an array of numbers")
    if _is_pandas(value):
        value = value.to_numpy()
    elif _is_xr(value):
        value = value.values
    arr = np.asarray(value)
    # Dates and time spans cast to float as nanoseconds (since 1970 for dates): never fit that.
    if arr.dtype.kind == "M" or (arr.dtype == object and arr.size
                                 and hasattr(arr.flat[0], "tz_localize")):
        raise TypeError(f"{name} holds dates/times; pass the time since learning instead: "
                        "subtract the study time (dates - start gives time spans, read as "
                        "seconds) or give numbers")
    if arr.dtype.kind == "m":
        if name != "t":
            raise TypeError(f"{name} holds time spans; only t may")
        return arr / np.timedelta64(1, "s")          # seconds; as_curves records the unit
    if arr.dtype.kind == "b" and name == "n":
        raise TypeError("n is boolean (True/False), not a number of trials: pass the number "
                        "of trials per point")
    if arr.dtype == object or arr.dtype.kind in "USO":
        try:
            arr = arr.astype(float)
        except (TypeError, ValueError):
            raise TypeError(f"{name} must be numeric; got values of type {arr.dtype} (convert "
                            "strings/dates to numbers first)") from None
    if arr.dtype.kind == "b":
        arr = arr.astype(float)
    if arr.dtype.kind not in "iuf":
        raise TypeError(f"{name} must be real numbers, got dtype {arr.dtype}")
    return arr.astype(float)


def _is_timespan(value) -> bool:
    """Time spans (numpy timedelta64, pandas Timedelta): :func:`_numeric` reads them as
    seconds."""
    values = getattr(value, "values", value)
    return np.asarray(values).dtype.kind == "m"


def _aligned(t, other, name: str):
    """A pandas Series ``other`` put in the order of the Series ``t``'s index: numpy would pair
    them by position and silently pair the wrong points."""
    if not (_is_pandas(t) and _is_pandas(other) and hasattr(t, "index")
            and hasattr(other, "index") and not hasattr(other, "columns")):
        return other
    if t.index.equals(other.index):
        return other
    if (t.index.is_unique and other.index.is_unique and len(t) == len(other)
            and set(t.index) == set(other.index)):
        return other.reindex(t.index)
    raise ValueError(f"t and {name} are pandas Series whose indexes differ (t: "
                     f"{list(t.index[:5])}..., {name}: {list(other.index[:5])}...): points are "
                     f"paired by index label; align them, or pass arrays (.to_numpy()) to pair "
                     f"them by position")


def _check_finite(name: str, arr: np.ndarray):
    bad = ~np.isfinite(arr)
    if bad.any():
        idx = np.argwhere(bad)[0].tolist()
        raise ValueError(f"{name} contains {int(bad.sum())} NaN/inf value(s) (first at index "
                         f"{idx}); drop those points or fill them before fitting")


def _points(mask: np.ndarray, y: np.ndarray, t: np.ndarray | None, limit: int = 5) -> str:
    """'1.5 (curve 0, point 3, t=8), ...' for the True entries of ``mask`` (B, m)."""
    idx = np.argwhere(mask)
    multi = y.shape[0] > 1
    parts = []
    for b, j in idx[:limit]:
        where = (f"curve {b}, " if multi else "") + f"point {j}"
        if t is not None:
            tt = t[0 if t.shape[0] == 1 else b, j]
            where += f", t={tt:g}"
        parts.append(f"{y[b, j]:g} ({where})")
    more = f" and {len(idx) - limit} more" if len(idx) > limit else ""
    return ", ".join(parts) + more


def _whole(y: np.ndarray) -> np.ndarray:
    return np.abs(y - np.round(y)) <= 1e-9 * np.maximum(1.0, np.abs(y))


def convert_y(y, n=None, y_kind: str = "auto", t=None, *, stacklevel: int = 2):
    """Read ``y`` as proportions, counts of successes, percentages or raw values: the one place.

    Parameters
    ----------
    y : array_like
        (B, m) or (m,) observations.
    n : array_like, optional
        Trials per point, broadcastable to ``y``; None for least squares.
    y_kind : {"auto", "proportion", "successes", "percent", "value", "rt"}
        What ``y`` holds (see the module docstring); "auto" guesses and says so.
    t : array_like, optional
        Times, only to name offending points in messages.
    stacklevel : int
        Of the warnings, so they point at the user's call.

    Returns
    -------
    (y, kind) : (numpy.ndarray, str)
        ``y`` as proportions (binomial or "proportion"/"percent") or raw values ("value"), and
        the kind it was read as.

    Raises
    ------
    ValueError
        Values impossible for the kind (named, with their points), counts without ``n``,
        ``n`` with ``y_kind="value"``.

    Examples
    --------
    >>> convert_y([80, 60, 40], y_kind="percent")[0].tolist()
    [[0.8, 0.6, 0.4]]
    >>> convert_y([8, 6, 4], n=10, y_kind="successes")
    (array([[0.8, 0.6, 0.4]]), 'successes')
    >>> convert_y([0.8, 1.5, 0.4], n=10)
    Traceback (most recent call last):
    ...
    ValueError: y mixes values above 1 (1.5 (point 1)) with fractional values (0.8 (point 0), ...
    """
    if y_kind not in Y_KINDS:
        raise ValueError(f"y_kind={y_kind!r}; use one of {Y_KINDS}")
    y = np.atleast_2d(np.asarray(y, dtype=float))
    tt = None if t is None else np.atleast_2d(np.asarray(t, dtype=float))
    if n is not None:
        n = np.broadcast_to(np.asarray(n, dtype=float), y.shape)
    kind = y_kind
    if kind == "rt":
        if n is not None:
            raise ValueError("y_kind='rt' means response times fitted with a log-normal "
                             "likelihood, but n (trials) was given: drop n (average the RTs of "
                             "a block, or pass each trial as a point)")
        bad = ~(y > 0)
        if bad.any():
            raise ValueError(f"response times must be > 0 (the log-normal likelihood takes "
                             f"log y); got {_points(bad, y, tt)}")
        return y, "rt"
    if kind == "value":
        if n is not None:
            raise ValueError("y_kind='value' means a measurement fitted by least squares, but n "
                             "(trials) was given: drop n, or say what y counts with "
                             "y_kind='successes', 'proportion' or 'percent'")
        return y, "value"
    if kind == "auto":
        above = y > 1
        if n is None:
            # Proportions and whole counts (warned below) are read as before. Least squares
            # fits noisy proportions, which may stray a little outside [0, 1] (NOISE_MARGIN);
            # anything further out is a typo, percentages or a measurement, which auto mode
            # cannot tell apart: say which values and ask for y_kind rather than fit blindly.
            outside = (y < -NOISE_MARGIN) | (y > 1 + NOISE_MARGIN)
            if outside.any() and not ((y >= 0).all() and _whole(y).all()):
                if ((y >= 0) & (y <= 100)).all():
                    hint = ("A mistyped proportion? Fix it. Percentages (0-100)? Pass "
                            "y_kind='percent'. A measurement? Pass y_kind='value'")
                else:
                    hint = ("neither proportions in [0, 1] nor percentages in [0, 100]: a "
                            "measurement? Pass y_kind='value'. Otherwise fix the data")
                raise ValueError(f"y has values outside [0, 1]: {_points(outside, y, tt)}, and "
                                 f"no n (y_kind='auto' cannot tell what y holds). {hint}")
            if above.any() and (y >= 0).all() and _whole(y).all():
                percent = (" Percentages (0-100)? Pass y_kind='percent'." if (y <= 100).all()
                           else "")
                warnings.warn(
                    f"y holds whole numbers up to {y.max():g}, like counts of successes, but n "
                    "(trials per point) was not given: fitted by least squares on the raw "
                    f"values.{percent} Pass n for the binomial likelihood (with "
                    "y_kind='successes'), or y_kind='value' if y is a measurement",
                    UserWarning, stacklevel=stacklevel)
            return y, "value"
        if not above.any() and (y >= 0).all():
            if np.isin(y, (0.0, 1.0)).all() and (n > 1).any():
                warnings.warn(
                    "y holds only 0s and 1s with n > 1: read as proportions (0% or 100% of n "
                    "trials). If they are counts of successes, pass y_kind='successes'",
                    UserWarning, stacklevel=stacklevel)
            kind = "proportion"
        elif (y < 0).any():
            raise ValueError(f"y has negative values: {_points(y < 0, y, tt)}; proportions, "
                             "percentages and counts of successes are all >= 0")
        elif (~_whole(y) & ~above).any():
            raise ValueError(
                f"y mixes values above 1 ({_points(above, y, tt)}) with fractional values "
                f"({_points(~_whole(y) & ~above, y, tt)}): neither proportions in [0, 1] nor "
                "whole counts of successes. A mistyped proportion? Fix it. Percentages (0-100)? "
                "Pass y_kind='percent'. Say what y holds with y_kind='proportion', 'successes' "
                "or 'percent'")
        elif not _whole(y).all():
            raise ValueError(
                f"y has values above 1, like counts of successes, but some are fractional: "
                f"{_points(~_whole(y), y, tt)}; counts must be whole numbers. Percentages "
                "(0-100)? Pass y_kind='percent'")
        else:
            over_n = y > n + 1e-9
            if over_n.any():
                raise ValueError(
                    f"y has values above 1, so auto mode would read counts of successes, but "
                    f"some exceed n: {_points(over_n, y, tt)} > n. Percentages (0-100)? Pass "
                    "y_kind='percent'. Otherwise check that y and n are aligned")
            warnings.warn(
                f"y read as counts of successes out of n (y_kind='auto': values above 1 such as "
                f"{_points(above, y, tt, limit=2)}). Percentages look the same: pass "
                "y_kind='successes' to confirm (and silence this) or y_kind='percent'",
                UserWarning, stacklevel=stacklevel)
            kind = "successes"
    if kind == "successes":
        if n is None:
            raise ValueError("y_kind='successes' needs n, the number of trials per point (counts "
                             "without trials cannot be turned into proportions): pass n")
        bad = (y < 0) | ~_whole(y)
        if bad.any():
            raise ValueError(f"counts of successes must be whole numbers >= 0; got "
                             f"{_points(bad, y, tt)}. Proportions? Pass y_kind='proportion'. "
                             "Percentages? y_kind='percent'")
        over = y > n + 1e-9
        if over.any():
            raise ValueError(f"successes exceed n at {int(over.sum())} point(s): "
                             f"{_points(over, y, tt)} > n ({_points(over, n, tt)}); check that "
                             "y and n are aligned, or pass y_kind='percent' for percentages")
        return y / n, "successes"
    if kind == "percent":
        bad = (y < 0) | (y > 100)
        if bad.any():
            raise ValueError(f"percentages must lie in [0, 100]; got {_points(bad, y, tt)}")
        if (y <= 1).all():
            warnings.warn(f"y_kind='percent' but every y is <= 1 (max {y.max():g}): these look "
                          "like proportions; pass y_kind='proportion' if they are",
                          UserWarning, stacklevel=stacklevel)
        return y / 100.0, "percent"
    bad = (y < 0) | (y > 1)                                            # "proportion"
    if bad.any():
        raise ValueError(f"proportions must lie in [0, 1]; got {_points(bad, y, tt)}. A typo? "
                         "Fix it. Percentages (0-100)? Pass y_kind='percent'. Counts of "
                         "successes out of n? y_kind='successes'")
    return y, "proportion"


def _time_of(t, y, dim, candidates, which_dims: str):
    """The time coordinate and the time dim of an xarray ``y``: ``t`` a coordinate name, a
    DataArray, an array or None (``y``'s coordinate along ``dim``); ``dim`` None: ``t``'s own dim,
    else the only one of ``candidates`` (the dims that can be time). ``which_dims`` ends the
    error asking for ``dim=`` (what the other dims mean to the caller)."""
    if isinstance(t, str):
        if t not in y.coords:
            raise ValueError(f"t={t!r} is not a coordinate of y (coords: {list(y.coords)})")
        t = y.coords[t]
    if dim is None:
        if _is_xr(t) and t.ndim == 1 and t.dims[0] in candidates:
            dim = t.dims[0]
        elif len(candidates) == 1:
            dim = candidates[0]
        else:
            raise ValueError(f"y has dims {y.dims}: pass dim= naming the time dimension "
                             f"({which_dims})")
    if dim not in candidates:
        raise ValueError(f"dim={dim!r} is not a dimension of y that can be the time dim (those "
                         f"are {list(candidates)}; y has dims {y.dims})")
    if t is None:
        if dim not in y.coords:
            raise ValueError(f"t is None and y has no coordinate {dim!r}; pass t")
        t = y.coords[dim]
    return t, dim


def _from_xarray(t, y, n, dim, data_name):
    """Stack an xarray y (and aligned t, n) into (B, m) arrays; returns CurveData pieces."""
    import xarray as xr

    t, dim = _time_of(t, y, dim, list(y.dims), "the other dims are fitted as separate curves")
    if not _is_xr(t):
        t_arr = _numeric("t", t)
        if t_arr.ndim != 1 or t_arr.size != y.sizes[dim]:
            raise ValueError(f"t has shape {t_arr.shape} but y has {y.sizes[dim]} points along "
                             f"{dim!r}; pass one time per point")
        t = xr.DataArray(t_arr, dims=(dim,))
    elif dim not in t.dims:
        raise ValueError(f"t has dims {t.dims}, none of them is the time dim {dim!r}")
    batch_dims = tuple(d for d in y.dims if d != dim)
    extra = [d for d in t.dims if d not in y.dims]
    if extra:
        raise ValueError(f"t has dims {extra} that y lacks; t may only vary along y's dims")
    order = batch_dims + (dim,)
    y_t = y.transpose(*order)
    batch_shape = tuple(y_t.shape[:-1])
    m = y_t.shape[-1]
    yv = _numeric("y", y_t).reshape(-1, m)
    if t.ndim == 1:
        tv = _numeric("t", t).reshape(1, m)
    else:
        tv = _numeric("t", t.broadcast_like(y_t).transpose(*order)).reshape(-1, m)
    nv = None
    if n is not None:
        if _is_xr(n):
            nv = _numeric("n", n.broadcast_like(y_t).transpose(*order)).reshape(-1, m)
        else:
            nn = _numeric("n", n)
            if nn.ndim == 1 and nn.size == m:
                nv = np.broadcast_to(nn, yv.shape).copy()
            else:
                try:
                    nv = np.broadcast_to(nn, y_t.shape).reshape(-1, m).copy()
                except ValueError:
                    raise ValueError(f"n has shape {nn.shape}, which does not match y's shape "
                                     f"{y_t.shape} (dims {order})") from None
    coords = {}
    for d in batch_dims:
        coords[d] = np.asarray(y.coords[d].values) if d in y.coords else np.arange(y.sizes[d])
    time_name = str(t.name) if t.name is not None else str(dim)
    time_attrs = {k: v for k, v in t.attrs.items() if k in ("units", "long_name")}
    if _is_timespan(t):
        time_attrs["units"] = "s"
    return dict(t=tv, y=yv, n=nv, batch_dims=batch_dims, batch_shape=batch_shape,
                batch_coords=coords, time_name=time_name,
                y_name=str(y.name) if y.name is not None else data_name,
                time_attrs=time_attrs)


def as_curves(t, y, n=None, *, dim=None, y_kind: str = "auto", data=None, cluster=None,
              stacklevel: int = 2) -> CurveData:
    """Validate and convert input to :class:`CurveData`.

    Parameters
    ----------
    t, y, n
        Times, observations, trials (see :func:`cramcog.dynamics.fit_consolidation_curve`).
        With ``data`` (a DataFrame or Dataset), each may be a column/variable name.
    dim
        With xarray input: the time dimension of ``y``.
    y_kind
        What ``y`` holds: "auto", "proportion", "successes", "percent", "value" or "rt" (see
        :func:`convert_y`).
    cluster
        One label per point (subject, session) of a single curve: the fit pools them and a
        cluster bootstrap resamples clusters. Without it, repeated times warn (pooling).
    stacklevel
        Of the warnings.

    Returns
    -------
    CurveData

    Examples
    --------
    >>> c = as_curves([1, 2, 4], [9, 7, 5], n=10, y_kind="successes")
    >>> c.y.round(2).tolist(), c.likelihood, c.y_kind
    ([[0.9, 0.7, 0.5]], 'binomial', 'successes')
    """
    if y_kind not in Y_KINDS:
        raise ValueError(f"y_kind={y_kind!r}; use one of {Y_KINDS}")
    if data is not None:
        def col(v):
            if isinstance(v, str):
                if v not in data:
                    raise ValueError(f"{v!r} is not a column/variable of data (has "
                                     f"{list(data.keys()) if hasattr(data, 'keys') else data})")
                return data[v]
            return v
        t, y, n, cluster = col(t), col(y), col(n), col(cluster)
    y_label = "y"
    if _is_pandas(y) and getattr(y, "name", None) is not None:
        y_label = str(y.name)
    if _is_pandas(y) and hasattr(y, "columns"):  # DataFrame
        if y.shape[1] == 1:
            y = y.iloc[:, 0]
        else:
            import xarray as xr
            y = xr.DataArray(y.to_numpy(), dims=("point", "curve"),
                             coords={"curve": np.asarray(y.columns).astype(str)})
            dim = "point"
    if _is_xr(y):
        if hasattr(y, "data_vars"):
            raise TypeError("y is an xarray Dataset; pass one variable (a DataArray), e.g. "
                            "ds['recall'], or the variable's name with data=ds")
        pieces = _from_xarray(t, y, n, dim, y_label)
    else:
        if isinstance(t, str):
            raise ValueError(f"t={t!r} is a name: pass data=DataFrame (or an xarray y) to look "
                             "it up")
        y, n = _aligned(t, y, "y"), _aligned(t, n, "n")
        yv = _numeric("y", y)
        tv = _numeric("t", t)
        if yv.ndim == 0 or tv.ndim == 0:
            raise ValueError("t and y must be 1-D arrays of points (y may be 2-D: curve x point)")
        if yv.size == 0 or tv.size == 0:
            raise ValueError("no points: t and y are empty; pass one time and one observation "
                             "per point")
        if yv.ndim > 2 or tv.ndim > 2:
            raise ValueError(f"y has {yv.ndim} dims and t {tv.ndim}; use xarray with named "
                             "dims for more than (curve, point)")
        if tv.shape[-1] != yv.shape[-1]:
            raise ValueError(f"t has {tv.shape[-1]} points but y has {yv.shape[-1]}; pass one "
                             "time per observation")
        batch = yv.ndim == 2
        y2 = yv.reshape(-1, yv.shape[-1])
        t2 = tv.reshape(-1, tv.shape[-1])
        if t2.shape[0] not in (1, y2.shape[0]):
            raise ValueError(f"t has {t2.shape[0]} rows but y has {y2.shape[0]} curves")
        nv = None
        if n is not None:
            nn = _numeric("n", n)
            try:
                nv = np.broadcast_to(nn, y2.shape).copy()
            except ValueError:
                raise ValueError(f"n has shape {nn.shape} but y has shape {yv.shape}; pass one "
                                 "n per point (or a single n)") from None
        pieces = dict(t=t2, y=y2, n=nv, batch_dims=("curve",) if batch else (),
                      batch_shape=(y2.shape[0],) if batch else (),
                      batch_coords={"curve": np.arange(y2.shape[0])} if batch else {},
                      y_name=y_label, time_attrs={"units": "s"} if _is_timespan(t) else {},
                      time_name=str(getattr(t, "name", None) or "t") if _is_pandas(t) else "t")
    t2, y2, n2 = pieces["t"], pieces["y"], pieces["n"]
    _check_finite("t", t2)
    _check_finite("y", y2)
    if t2.shape[-1] < 2:
        raise ValueError(f"need at least 2 points per curve, got {t2.shape[-1]}")
    if (t2 < 0).any():
        raise ValueError(f"t has negative values (min {t2.min():g}); t is the time since "
                         "learning and must be >= 0")
    if t2.shape[0] > 1 and (t2 == t2[:1]).all():
        t2 = t2[:1]
    if n2 is not None:
        _check_finite("n", n2)
        if (n2 <= 0).any():
            raise ValueError(f"n must be positive numbers of trials; got "
                             f"{_points(n2 <= 0, n2, t2)}")
        if not _whole(n2).all():
            raise ValueError(f"n must be whole numbers of trials (the binomial likelihood counts "
                             f"successes out of n); got {_points(~_whole(n2), n2, t2)}")
        n2 = np.round(n2)
    y2, kind = convert_y(y2, n2, y_kind, t2, stacklevel=stacklevel + 1)
    if cluster is not None:
        cl = np.asarray(cluster.to_numpy() if _is_pandas(cluster) else
                        getattr(cluster, "values", cluster))
        if y2.shape[0] != 1 or cl.ndim != 1 or cl.size != y2.shape[1]:
            raise ValueError(f"cluster must give one label per point of ONE curve ({y2.shape[1]} "
                             f"points); got shape {cl.shape} for {y2.shape[0]} curve(s)")
        if np.unique(cl).size < 2:
            raise ValueError("cluster has a single value: a cluster bootstrap needs at least 2 "
                             "clusters (subjects, sessions, items)")
        pieces["cluster"] = cl
    else:
        _warn_pooled(t2, stacklevel + 1)
    const = np.ptp(y2, axis=-1) <= 1e-12 * np.maximum(np.abs(y2).max(-1), 1e-300)
    if const.any():
        which = int(np.flatnonzero(const)[0])
        raise ValueError(f"y is constant in {int(const.sum())} curve(s) (first: curve {which}, "
                         f"y = {y2[which, 0]:g}): a constant curve has no decay to fit")
    pieces.update(t=t2, y=y2, n=n2, y_kind=kind)
    return CurveData(**pieces)


def _warn_pooled(t: np.ndarray, stacklevel: int):
    """Warn when a curve repeats times: rows from several subjects pooled into one curve?"""
    for row in t:
        values, counts = np.unique(row, return_counts=True)
        if (counts > 1).any():
            rep = ", ".join(f"t={v:g} x{c}" for v, c in zip(values[counts > 1][:3],
                                                           counts[counts > 1][:3]))
            warnings.warn(
                f"t repeats values ({rep}{', ...' if (counts > 1).sum() > 3 else ''}): those rows "
                "are fitted as points of ONE pooled curve whose trials are treated as "
                "independent. If they come from several subjects or sessions, fit each one "
                "(an xarray dim or a 2-D y: one curve per row) or pass cluster= (the subject "
                "per row) for cluster-bootstrap intervals of the pooled curve",
                UserWarning, stacklevel=stacklevel)
            return
