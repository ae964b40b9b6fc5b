"""Turn user input (numpy, pandas, xarray) into validated curve arrays for the fitter.

The fitter works on ``B`` curves of ``m`` points each:

- ``t``: (1, m) when all curves share their times (the usual case), else (B, m);
- ``y``: (B, m); proportions in [0, 1] with the binomial likelihood, raw values without it;
- ``n``: (B, m) trials, or None (least squares).

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

from dataclasses import dataclass, field

import numpy as np

_Y_KINDS = ("auto", "proportion", "successes")


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

    @property
    def likelihood(self) -> str:
        return "least_squares" if self.n is None else "binomial"

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
    if arr.dtype == object or arr.dtype.kind in "USOMm":
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


def _check_finite(name: str, arr: np.ndarray):
    bad = ~np.isfinite(arr)
    if bad.any():
        idx = np.argwhere(bad)[0].tolist()
        raise ValueError(f"{name} contains {int(bad.sum())} NaN/inf value(s) (first at index "
                         f"{idx}); drop those points or fill them before fitting")


def _from_xarray(t, y, n, dim, data_name):
    """Stack an xarray y (and aligned t, n) into (B, m) arrays; returns CurveData pieces."""
    import xarray as xr

    if isinstance(t, str):
        if t not in y.coords:
            raise ValueError(f"t={t!r} is not a coordinate of y (coords: {list(y.coords)})")
        t = y.coords[t]
    if dim is None:
        if _is_xr(t) and t.ndim == 1 and t.dims[0] in y.dims:
            dim = t.dims[0]
        elif y.ndim == 1:
            dim = y.dims[0]
        else:
            raise ValueError(f"y has dims {y.dims}: pass dim= naming the time dimension (the "
                             "other dims are fitted as separate curves)")
    if dim not in y.dims:
        raise ValueError(f"dim={dim!r} is not a dimension of y (dims: {y.dims})")
    if t is None:
        if dim not in y.coords:
            raise ValueError(f"t is None and y has no coordinate {dim!r}; pass t")
        t = y.coords[dim]
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
    return dict(t=tv, y=yv, n=nv, batch_dims=batch_dims, batch_shape=batch_shape,
                batch_coords=coords, time_name=time_name,
                y_name=str(y.name) if y.name is not None else data_name,
                time_attrs={k: v for k, v in t.attrs.items() if k in ("units", "long_name")})


def as_curves(t, y, n=None, *, dim=None, y_kind: str = "auto", data=None) -> CurveData:
    """Validate and convert input to :class:`CurveData`.

    Parameters
    ----------
    t, y, n
        Times, observations, trials (see :func:`cramcog.dynamics.fit_consolidation_curve`).
        With ``data`` (a DataFrame or Dataset), each may be a column/variable name.
    dim
        With xarray input: the time dimension of ``y``.
    y_kind
        With ``n``: "proportion" (y in [0, 1]), "successes" (counts <= n) or "auto" (successes
        if any y > 1, else proportions).

    Returns
    -------
    CurveData

    Examples
    --------
    >>> c = as_curves([1, 2, 4], [9, 7, 5], n=10)
    >>> c.y.round(2).tolist(), c.likelihood
    ([[0.9, 0.7, 0.5]], 'binomial')
    """
    if y_kind not in _Y_KINDS:
        raise ValueError(f"y_kind={y_kind!r}; use one of {_Y_KINDS}")
    if data is not None:
        def col(v):
            if isinstance(v, str):
                if v not in data:
                    raise ValueError(f"{v!r} is not a column/variable of data (has "
                                     f"{list(data.keys()) if hasattr(data, 'keys') else data})")
                return data[v]
            return v
        t, y, n = col(t), col(y), col(n)
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
        yv = _numeric("y", y)
        tv = _numeric("t", t)
        if yv.ndim == 0 or tv.ndim == 0:
            raise ValueError("t and y must be 1-D arrays of points (y may be 2-D: curve x point)")
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
                      y_name=y_label,
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
            raise ValueError(f"n must be positive numbers of trials; min is {n2.min():g}")
        if not np.allclose(n2, np.round(n2)):
            raise ValueError("n must be whole numbers of trials (the binomial likelihood counts "
                             "successes out of n)")
        n2 = np.round(n2)
        kind = y_kind
        if kind == "auto":
            kind = "successes" if (y2 > 1).any() else "proportion"
        if kind == "successes":
            if (y2 < 0).any():
                raise ValueError(f"successes must be >= 0; min is {y2.min():g}")
            over = y2 > n2 + 1e-9
            if over.any():
                i = np.argwhere(over)[0].tolist()
                raise ValueError(f"successes exceed n at {int(over.sum())} point(s) (first at "
                                 f"index {i}: {y2[tuple(i)]:g} > {n2[tuple(i)]:g}); check that "
                                 "y and n are aligned, or pass proportions")
            y2 = y2 / n2
        elif ((y2 < 0) | (y2 > 1)).any():
            raise ValueError(f"proportions must lie in [0, 1]; y ranges {y2.min():g}..{y2.max():g}"
                             " (pass y_kind='successes' if y holds counts)")
    const = np.ptp(y2, axis=-1) <= 1e-12 * np.maximum(np.abs(y2).max(-1), 1e-300)
    if const.any():
        which = int(np.flatnonzero(const)[0])
        raise ValueError(f"y is constant in {int(const.sum())} curve(s) (first: curve {which}, "
                         f"y = {y2[which, 0]:g}): a constant curve has no decay to fit")
    pieces.update(t=t2, y=y2, n=n2)
    return CurveData(**pieces)
