"""A batched Levenberg-Marquardt optimiser: fits many curves of one family at once, in numpy.

Every curve ``b`` has its own data ``(t[b], y[b], n[b])`` and parameters; all curves advance
together, one vectorised step at a time (einsum for J^T W J, a batched ``np.linalg.solve``), so
1000 bootstrap resamples or 500 subjects cost a few hundred small array operations, not 1000
scipy calls. Curves that have converged drop out of the active set.

Objectives (``obj``; smaller is better; each is minimised by the maximum-likelihood estimate):

- least squares (``n is None``): ``obj = RSS / 2``; Gauss-Newton weights ``w = 1``;
- log-normal (``log=True``, response times): least squares on the log scale,
  ``obj = sum (log y - log mu)^2 / 2``, so ``mu`` is the median of ``y``; weights ``1 / mu^2``;
- binomial (``n`` given, ``y`` proportions): ``obj = deviance / 2``
  ``= sum n [y log(y/mu) + (1-y) log((1-y)/(1-mu))]``; Fisher-scoring weights
  ``w = n / (mu (1 - mu))``. For the power family this is exactly a binomial GLM with a log link
  on ``log t``, so it agrees with statsmodels.

The step solves ``(H + lam * diag(H)) delta = -g`` with ``H = J^T W J`` and
``g = -J^T W (y - mu)`` in the family's internal (transformed) parameters. Parameters listed in
``fixed`` stay put (used by profile likelihood).

Convergence is judged at the end by the optimum, not by how the iterations ended: the Newton
step ``H^-1 g`` that would remain must be tiny in units of the estimates' standard errors
(``g^T H^-1 g`` scaled by the noise variance or the binomial dispersion, below
``decrement_tol``) and gain a tiny part of the objective (``relative_tol``), or what it would
gain must lie below the round-off of the objective itself (exact data, binomial counts of 1e9
trials); the Hessian must be positive
definite and no parameter may sit at its bound. A curve still iterating when ``max_iter`` runs
out is converged if it passes (``note`` says so). A parameter "at its bound" is judged in the
data's units (a time scale far outside the range of t, an amplitude whose curve vanishes
against y), so rescaling t (seconds vs hours) never changes a verdict.

The edge of [0, 1]. The binomial likelihood is defined only for means in [0, 1]. A point
observed at 100% (``y = 1``) gains from a mean up to 1 and is indifferent beyond, so a family
that can exceed 1 (every one but ``actr``) may have its maximum ON the edge: mean exactly 1 at
that point, the other points pulling the curve up (and likewise a mean of 0 at a 0% point for
families that can go below 0, ``+c`` with ``c < 0`` and ``logarithmic``). Such a maximum is
found as the constrained maximum (an active set): for families whose first parameter is an
amplitude (``Family.amplitude_first``: ``mean = a f + g``, ``f > 0``) every trial point is
projected back inside by moving ``a``, a curve whose mean reaches 1 (0) at a 100% (0%) point
is optimised along that edge (``a`` solved from the others, the Gauss-Newton step taken in the
remaining parameters) and released when the likelihood rises inside (the Lagrange multiplier's
sign). Its result is ``converged`` with ``boundary`` naming the point; its covariance is that
of the remaining parameters, carried to ``a`` along the edge. Where the amplitude is held
(a profile of ``a``) another free parameter is the pivot, moved by Newton steps. Beyond the
edge at such a point the mean costs ``1e8 n`` per unit on top of the clipped likelihood, so a
fit never rests there.

Examples
--------
>>> import numpy as np
>>> from cramcog.dynamics.families import FAMILIES
>>> from cramcog.dynamics.optimizer import Problem, levenberg_marquardt
>>> t = np.arange(1.0, 9.0)[None, :]
>>> y = 0.9 * t ** -0.4
>>> fam = FAMILIES["power"]
>>> out = levenberg_marquardt(fam, Problem(t, y), fam.to_internal(fam.start(t, y)))
>>> round(float(fam.to_natural(out.theta)[0, 1]), 6)
0.4
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from cramcog.dynamics.families import Family

_MU_EPS = 1e-12  # binomial means are kept in [eps, 1 - eps] inside logs
_ROUND_OFF = 8 * np.finfo(float).eps  # relative round-off of one term of an objective
_OUTSIDE_COST = 1e8  # objective per trial and unit of a binomial mean outside [0, 1]


@dataclass
class Problem:
    """Data of B curves: ``t`` (B or 1, m), ``y`` (B, m), ``n`` (B, m) or None (least squares).

    For the binomial likelihood ``y`` holds proportions in [0, 1] and ``n`` the trials (0 leaves
    a point out). ``w`` (B, m): least-squares case weights (a cluster bootstrap's multiplicities;
    the binomial folds them into ``n``), None for 1. ``log``: least squares on the log scale
    (a log-normal likelihood for positive, right-skewed ``y`` such as response times; no
    ``n``).
    """

    t: np.ndarray
    y: np.ndarray
    n: np.ndarray | None = None
    w: np.ndarray | None = None
    log: bool = False

    def __post_init__(self):
        self.y = np.atleast_2d(np.asarray(self.y, dtype=float))
        self.t = np.atleast_2d(np.asarray(self.t, dtype=float))
        if self.n is not None:
            self.n = np.broadcast_to(np.asarray(self.n, dtype=float), self.y.shape)
        if self.w is not None:
            if self.n is not None:
                raise ValueError("binomial problems take case weights folded into n, not w")
            self.w = np.broadcast_to(np.asarray(self.w, dtype=float), self.y.shape)
        if self.t.shape[-1] != self.y.shape[-1]:
            raise ValueError(f"t has {self.t.shape[-1]} points per curve but y has "
                             f"{self.y.shape[-1]}")
        if self.t.shape[0] not in (1, self.y.shape[0]):
            raise ValueError(f"t has {self.t.shape[0]} rows, y has {self.y.shape[0]} curves")
        if self.log:
            if self.n is not None:
                raise ValueError("a log-normal problem takes no n (trials)")
            if not (self.y > 0).all():
                raise ValueError("a log-normal likelihood needs y > 0")
        self._ly = np.log(self.y) if self.log else None
        # Saturated part of the binomial deviance, constant per curve.
        if self.n is not None:
            self._sat = self.n * (_xlogx(self.y) + _xlogx(1.0 - self.y))
            self._set_edgy(self.y >= 1.0, self.y <= 0.0)

    def _set_edgy(self, top: np.ndarray, bottom: np.ndarray):
        # points observed at 100% / 0% (see _gn_parts), the curves with one, and whether any
        self._top, self._bottom = top, bottom
        self._edgy = (top | bottom).any(-1)
        self._any_edgy = bool(self._edgy.any())

    @property
    def binomial(self) -> bool:
        return self.n is not None

    @property
    def n_curves(self) -> int:
        return self.y.shape[0]

    def take(self, idx: np.ndarray) -> "Problem":
        """The sub-problem of curves ``idx``."""
        # Built directly (no re-validation, the saturated deviance sliced, not recomputed): the
        # optimiser takes sub-problems every time some curves finish.
        out = object.__new__(Problem)
        out.t = self.t if self.t.shape[0] == 1 else self.t[idx]
        out.y = self.y[idx]
        out.n = None if self.n is None else self.n[idx]
        out.w = None if self.w is None else self.w[idx]
        out.log = self.log
        out._ly = None if self._ly is None else self._ly[idx]
        if self.n is not None:
            out._sat = self._sat[idx]
            out._top, out._bottom, out._edgy = self._top[idx], self._bottom[idx], self._edgy[idx]
            out._any_edgy = self._any_edgy and bool(out._edgy.any())
        return out

    # -- objective pieces ------------------------------------------------------------------
    def objective(self, mu: np.ndarray, idx=slice(None)) -> np.ndarray:
        """obj per curve (B,) for means ``mu`` (B, m) of curves ``idx``."""
        y = self.y[idx]
        if self.log:
            with np.errstate(all="ignore"):
                r2 = (self._ly[idx] - np.log(np.where(mu > 0, mu, np.nan))) ** 2
            obj = 0.5 * (r2 if self.w is None else self.w[idx] * r2).sum(-1)
            return np.where(np.isfinite(obj), obj, np.inf)
        if self.n is None:
            r2 = (y - mu) ** 2
            return 0.5 * (r2 if self.w is None else self.w[idx] * r2).sum(-1)
        m = np.minimum(np.maximum(mu, _MU_EPS), 1.0 - _MU_EPS)
        n = self.n[idx]
        ll = n * (y * np.log(m) + (1.0 - y) * np.log1p(-m))
        # A mean outside (0, 1) is clipped, which costs ~27 n per point: finite, so a start
        # outside the feasible region can still walk back in. At a point observed at 100%
        # (0%) the clipped likelihood would not mind a mean above 1 (below 0): there the mean
        # costs _OUTSIDE_COST n per unit beyond the edge, so that no fit rests out there.
        dev = self._sat[idx] - ll
        if (self._any_edgy if isinstance(idx, slice) else self._edgy[idx].any()) and \
                (mu.max(initial=0.0) > 1.0 or mu.min(initial=0.0) < 0.0):
            dev = dev + _OUTSIDE_COST * n * (np.where(y >= 1.0, np.maximum(mu - 1.0, 0.0), 0.0)
                                             + np.where(y <= 0.0, np.maximum(-mu, 0.0), 0.0))
        return np.where(np.isfinite(mu).all(-1), dev.sum(-1), np.inf)

    def weights(self, mu: np.ndarray, idx=slice(None)) -> np.ndarray:
        if self.log:  # d log mu = d mu / mu
            cw = 1.0 if self.w is None else self.w[idx]
            return cw / (mu * mu)
        if self.n is None:
            return np.ones_like(mu) if self.w is None else self.w[idx] * np.ones_like(mu)
        m = np.minimum(np.maximum(mu, _MU_EPS), 1.0 - _MU_EPS)
        return self.n[idx] / (m * (1.0 - m))

    def residuals(self, mu: np.ndarray, idx=slice(None)) -> np.ndarray:
        """(B, m) residuals r such that ``weights * r`` is the score (``y - mu``; on the log
        scale ``mu log(y / mu)``)."""
        if self.log:
            with np.errstate(all="ignore"):
                return mu * (self._ly[idx] - np.log(mu))
        return self.y[idx] - mu

    def round_off(self, mu: np.ndarray, idx=slice(None)) -> np.ndarray:
        """(B,) how far round-off alone moves the objective at means ``mu``: changes of the
        objective below this are noise (binomial counts of 1e9 trials, exact data)."""
        eps = _ROUND_OFF
        with np.errstate(all="ignore"):
            if self.n is not None:
                m = np.minimum(np.maximum(mu, _MU_EPS), 1.0 - _MU_EPS)
                y, n = self.y[idx], self.n[idx]
                ll = n * (np.abs(y * np.log(m)) + np.abs((1.0 - y) * np.log1p(-m)))
                out = eps * (ll + np.abs(self._sat[idx])).sum(-1)
            else:
                if self.log:
                    y, f = self._ly[idx], np.log(np.where(mu > 0, mu, np.nan))
                else:
                    y, f = self.y[idx], mu
                e = eps * (np.abs(y) + np.abs(f))
                w = 1.0 if self.w is None else self.w[idx]
                out = (w * (np.abs(y - f) + e) * e).sum(-1)
        return np.where(np.isfinite(out), out, 0.0)

    def t_of(self, idx) -> np.ndarray:
        return self.t if self.t.shape[0] == 1 else self.t[idx]


def _solve(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Batched solve of a (B, k, k) x = b (B, k); least squares for any singular system."""
    try:
        return np.linalg.solve(a, b[..., None])[..., 0]
    except np.linalg.LinAlgError:
        return (np.linalg.pinv(a) @ b[..., None])[..., 0]


def _xlogx(x):
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(x > 0, x * np.log(np.where(x > 0, x, 1.0)), 0.0)


@dataclass
class LMResult:
    """Output of :func:`levenberg_marquardt` for B curves."""

    theta: np.ndarray       # (B, k) internal parameters
    obj: np.ndarray         # (B,) objective at theta
    converged: np.ndarray   # (B,) bool: passed the final gradient / Hessian / bound checks
    reason: np.ndarray      # (B,) str: why a curve did not converge ("" if it did)
    n_iter: np.ndarray      # (B,) iterations used
    hessian: np.ndarray     # (B, k, k) J^T W J at theta (internal parameters)
    grad: np.ndarray        # (B, k) gradient of obj at theta
    stopped: np.ndarray | None = None  # (B,) bool: left early below ``stop_below``
    lam: np.ndarray | None = None      # (B,) damping at the end (to resume a capped curve)
    capped: np.ndarray | None = None   # (B,) bool: still iterating when max_iter or its
    #                                    budget ran out
    boundary: np.ndarray | None = None  # (B,) int: point held at 0 or 1 (edge maximum), -1
    edge_pivot: np.ndarray | None = None  # (B,) int: parameter that follows the others there
    edge_row: np.ndarray | None = None  # (B, k): d theta_pivot / d theta along that edge
    note: np.ndarray | None = None      # (B,) str: a remark on a converged curve ("" if none)


def gauss_newton_terms(family: Family, prob: Problem, theta: np.ndarray, idx=slice(None)):
    """mu (B, m), g (B, k), H (B, k, k) at internal parameters ``theta`` for curves ``idx``.

    Examples
    --------
    >>> from cramcog.dynamics.families import FAMILIES
    >>> fam = FAMILIES["power"]
    >>> t = np.array([[1.0, 2.0, 4.0]])
    >>> mu, g, h = gauss_newton_terms(fam, Problem(t, t ** -0.5), np.array([[0.0, 0.5]]))
    >>> np.allclose(g, 0), h.shape
    (True, (1, 2, 2))
    """
    with np.errstate(all="ignore"):
        return _gauss_newton(family, prob, theta, idx)


def _gauss_newton(family: Family, prob: Problem, theta: np.ndarray, idx=slice(None)):
    return _gn_sums(*_gn_parts(family, prob, theta, idx))


def _gn_parts(family: Family, prob: Problem, theta: np.ndarray, idx=slice(None),
              observed: bool = False):
    # (observed applies at 100% points, and at 0% points unless the family is nonnegative)
    """mu (B, m), Jacobian in internal parameters (B, m, k), weights and residuals (B, m).

    ``observed``: at binomial points observed at 0% or 100% use the observed information
    (``n / mu^2``, ``n / (1 - mu)^2``) instead of the expected one (``n / (mu (1 - mu))``),
    with the residual rescaled so that ``w r`` is still the score. The expected weight grows
    without bound as the mean nears 0 or 1 there, which would make the steps towards an edge
    maximum shrink geometrically and never reach it."""
    p = family.to_natural(theta)
    t = prob.t_of(idx)
    mu = family.mean(t, p)                                            # (B, m)
    dnat = np.where(family.log_scaled, p, 1.0)                        # d p / d theta
    jac = family.jacobian(t, p) * dnat[:, None, :]                    # (B, m, k)
    w = prob.weights(mu, idx)                                         # (B, m)
    r = prob.residuals(mu, idx)
    if observed and prob.binomial and \
            (prob._any_edgy if isinstance(idx, slice) else prob._edgy[idx].any()):
        top, bottom = prob._top[idx], prob._bottom[idx]
        if family.nonnegative:
            bottom = np.zeros_like(bottom)
        m = np.minimum(np.maximum(mu, _MU_EPS), 1.0 - _MU_EPS)
        n = prob.n[idx]
        w = np.where(top, n / (m * m), np.where(bottom, n / (1 - m) ** 2, w))
        r = np.where(top, m, np.where(bottom, m - 1.0, r))
        # Beyond the edge there (where the clipped likelihood is flat): a heavily weighted
        # residual pulling the mean back to it, the Gauss-Newton form of the outside cost.
        if mu.max(initial=0.0) > 1.0 or mu.min(initial=0.0) < 0.0:
            out = (top & (mu > 1.0)) | (bottom & (mu < 0.0))
            w = np.where(out, _OUTSIDE_COST * n, w)
            r = np.where(out, np.where(top, 1.0, 0.0) - mu, r)
    return mu, jac, w, r


def _gn_sums(mu, jac, w, r):
    jt = jac.transpose(0, 2, 1)                                       # (B, k, m)
    g = -np.matmul(jt, (w * r)[..., None])[..., 0]                    # (B, k)
    h = np.matmul(jt * w[:, None, :], jac)                            # (B, k, k)
    return mu, g, h


# ----------------------------------------------------------------------------- the edge of [0, 1]

def _edge_terms(family, prob, theta, tg, code):
    """mu, g, H as :func:`_gauss_newton`, for curves held at an edge point taken along the
    edge (the pivot follows the others: zero gradient, unit Hessian entry), and the edge codes
    after releasing the curves whose likelihood rises inside. A released point is left out
    of this one step (its clipped weight would freeze it at the edge)."""
    k = theta.shape[1]
    mu, jac, w, r = _gn_parts(family, prob, theta, observed=True)
    if not (code >= 0).any():                      # nothing held: the plain terms
        return (*_gn_sums(mu, jac, w, r), code)
    was = code.copy()
    jac, w, r, release, _ = _edge_reduce(jac, w, r, prob.n, mu, code, tg)
    code = np.where(release, -1, code)
    if release.any():
        rel = np.flatnonzero(release)
        w, r = w.copy(), r.copy()
        w[rel, was[rel] // k] = 0.0
        r[rel, was[rel] // k] = 0.0
    mu, g, h = _gn_sums(mu, jac, w, r)
    on = np.flatnonzero(code >= 0)
    if on.size:
        h[on, code[on] % k, code[on] % k] = 1.0
    return mu, g, h, code


def _edge_targets(family: Family, prob: Problem, fixed: np.ndarray) -> np.ndarray | None:
    """(B, m) the value a point may be held at (1 at a 100% point, 0 at a 0% one; NaN for
    other points), or None where no curve can use it (least squares, a family bounded to
    (0, 1), nothing free, no such point)."""
    if not _has_edges(family, prob) or family.bounded01:
        return None
    zero = 0.0 if not family.nonnegative else np.nan
    tg = np.where(prob.n > 0, np.where(prob.y >= 1.0, 1.0, np.where(prob.y <= 0.0, zero,
                                                                        np.nan)), np.nan)
    tg[fixed.all(-1)] = np.nan
    return tg if np.isfinite(tg).any() else None


def _has_edges(family: Family, prob: Problem) -> bool:
    """Does any curve have a point the fit may have to hold at 1 (a 100% point) or at 0 (a 0%
    point, for a family that can go below 0)?"""
    return prob.binomial and (bool(prob._top.any()) or (not family.nonnegative
                                                        and bool(prob._bottom.any())))


def _split_amplitude(family: Family, t: np.ndarray, p: np.ndarray):
    """mean = p0 f + g: (f, g), each (B, m), for an amplitude_first family."""
    p0, p1 = p.copy(), p.copy()
    p0[:, 0], p1[:, 0] = 0.0, 1.0
    g = family.mean(t, p0)
    return family.mean(t, p1) - g, g


def _project_edges(family: Family, t: np.ndarray, theta: np.ndarray, fixed: np.ndarray,
                   tg: np.ndarray, code: np.ndarray):
    """Bring each curve's mean into [0, 1] at its 100% / 0% points by moving one parameter
    (the pivot); a curve on an edge (``code`` >= 0) stays on it. The pivot is the amplitude
    when it is free (``amplitude_first``: solved exactly), else the free parameter that moves
    the worst point most (a few Newton steps). Returns (theta, code), ``code = point * k +
    pivot`` of the point now held at 0 or 1, -1 for none (or where no pivot keeps every such
    point inside)."""
    b, k = theta.shape
    theta, code = theta.copy(), code.copy()
    amp = ~fixed[:, 0] if family.amplitude_first else np.zeros(b, bool)
    if amp.any():                                     # exact: a along the line p0 f + g
        ra = np.flatnonzero(amp)
        ta = t if t.shape[0] == 1 else t[ra]
        p = family.to_natural(theta[ra])
        f, g = _split_amplitude(family, ta, p)
        tga = tg[ra]
        ok = np.isfinite(tga) & (f > 1e-300) & np.isfinite(g)
        cap = np.where(ok & (tga == 1.0), (1.0 - g) / np.where(ok, f, 1.0), np.inf)
        flo = np.where(ok & (tga == 0.0), -g / np.where(ok, f, 1.0), -np.inf)
        j_hi, j_lo = np.argmin(cap, -1), np.argmax(flo, -1)
        ii = np.arange(ra.size)
        hi, lo = cap[ii, j_hi], flo[ii, j_lo]
        usable = (lo <= hi) & ~(family.log_scaled[0] & ~(hi > 0))
        ca = code[ra]
        side = np.where(ca >= 0, tga[ii, np.maximum(ca, 0) // k], np.nan)
        a = np.where(side == 1.0, hi, np.where(side == 0.0, lo, np.clip(p[:, 0], lo, hi)))
        a = np.where(usable & np.isfinite(a), a, p[:, 0])
        code[ra] = np.where(usable & (a == hi), j_hi * k,
                            np.where(usable & (a == lo), j_lo * k, -1))
        theta[ra, 0] = np.log(a) if family.log_scaled[0] else a
    rest = np.flatnonzero(~amp)
    if rest.size:                                     # Newton on the pivot
        tr = t if t.shape[0] == 1 else t[rest]
        th, cr, tgr, fxr = theta[rest], code[rest], tg[rest], fixed[rest]
        mu = family.mean(tr, family.to_natural(th))
        excess = np.where(tgr == 1.0, mu - 1.0, np.where(tgr == 0.0, -mu, -np.inf))
        excess = np.where(np.isfinite(tgr), excess, -np.inf)
        worst = np.argmax(excess, -1)
        ii = np.arange(rest.size)
        go = (cr >= 0) | (excess[ii, worst] > 0)
        j = np.where(cr >= 0, cr // k, worst)
        piv = np.where(cr >= 0, cr % k, -1)
        for _ in range(4):
            sel = np.flatnonzero(go)
            if sel.size == 0:
                break
            p = family.to_natural(th[sel])
            tj = tr if tr.shape[0] == 1 else tr[sel]
            jac = family.jacobian(tj, p) * np.where(family.log_scaled, p, 1.0)[:, None, :]
            jj = jac[np.arange(sel.size), j[sel]]                     # (S, k)
            new = piv[sel] < 0
            if new.any():
                mov = np.where(fxr[sel[new]], 0.0, np.abs(jj[new]))
                piv[sel[new]] = np.where(mov.max(-1) > 0, np.argmax(mov, -1), -1)
                go[sel[new][mov.max(-1) <= 0]] = False      # nothing free moves this point
            d = np.where(piv[sel] >= 0, jj[np.arange(sel.size), np.maximum(piv[sel], 0)], 0.0)
            mj = family.mean(tj, p)[np.arange(sel.size), j[sel]]
            with np.errstate(all="ignore"):
                upd = np.where(d != 0, (mj - tgr[sel, j[sel]]) / d, 0.0)
            th[sel, np.maximum(piv[sel], 0)] -= np.where(piv[sel] >= 0, upd, 0.0)
        mu = family.mean(tr, family.to_natural(th))
        hit = go & (piv >= 0) & (np.abs(mu[ii, j] - tgr[ii, j]) <= 1e-10)
        cr = np.where(hit, j * k + np.maximum(piv, 0), -1)
        theta[rest] = np.where(go[:, None] & hit[:, None], th, theta[rest])
        code[rest] = cr
    return theta, code


def _edge_reduce(jac, w, r, n, mu, code, tg):
    """For curves held at an edge point (``code`` >= 0): the Jacobian along the edge (the
    pivot a function of the others, so its column is 0 and the point drops out), and whether
    the likelihood would rise by leaving the edge (release: the multiplier's sign).

    Returns (jac, w, r, release (B,), edge_row (B, k): d theta_pivot / d theta).
    """
    k = jac.shape[2]
    rows = np.flatnonzero(code >= 0)
    edge_row = np.zeros(jac.shape[::2])
    release = np.zeros(code.shape, bool)
    if rows.size == 0:
        return jac, w, r, release, edge_row
    j, piv = code[rows] // k, code[rows] % k
    ii = np.arange(rows.size)
    jj = jac[rows, j]                                                 # (R, k) d mu_j / d theta
    side = tg[rows, j]
    # d obj / d theta_pivot with point j's exact term (its clipped weight x zero residual is
    # 0/0): -n y / mu at a 100% point, +n (1 - y) / (1 - mu) at a 0% point.
    wr = (w[rows] * r[rows]) * jac[rows, :, piv]
    wr[ii, j] = 0.0
    nj, mj = n[rows, j], mu[rows, j]
    own = np.where(side == 1.0, -nj / np.maximum(mj, 1e-300),
                   nj / np.maximum(1.0 - mj, 1e-300)) * jj[ii, piv]
    sg = np.sign(jj[ii, piv]) * (-wr.sum(-1) + own)     # along the pivot's outward direction
    # Held at 1 (0): moving outward would help and is blocked; otherwise let go.
    release[rows] = np.where(side == 1.0, sg > 0, sg < 0) | (jj[ii, piv] == 0)
    keep = ~release[rows]
    if keep.any():
        rk, jk, pk = rows[keep], j[keep], piv[keep]
        ratio = jj[keep] / jj[keep, pk][:, None]                     # (K, k)
        jac = jac.copy()
        jac[rk] = jac[rk] - jac[rk, :, pk][:, :, None] * ratio[:, None, :]
        w, r = w.copy(), r.copy()
        w[rk, jk] = 0.0
        r[rk, jk] = 0.0
        edge_row[rk] = -ratio
        edge_row[rk, pk] = 0.0
    return jac, w, r, release, edge_row


def levenberg_marquardt(family: Family, prob: Problem, theta0: np.ndarray, *,
                        fixed: np.ndarray | None = None, max_iter: int = 200,
                        ftol: float = 1e-12, decrement_tol: float = 1e-6,
                        relative_tol: float = 1e-6,
                        max_abs_theta: float = 25.0, stop_below: np.ndarray | None = None,
                        floor: np.ndarray | None = None, stop_above: np.ndarray | None = None,
                        lam0: np.ndarray | None = None,
                        budget: np.ndarray | None = None, check_capped: bool = True) -> LMResult:
    """Minimise the objective of B curves at once.

    Parameters
    ----------
    family
        The curve family.
    prob
        The B curves' data.
    theta0
        (B, k) internal starting parameters.
    fixed
        (B, k) bool, parameters held at their starting value (profile likelihood); None = none.
    max_iter
        Iteration cap of this call.
    ftol
        Stop a curve when an accepted step lowers ``obj`` by less than ``ftol * (obj + scale)``.
    decrement_tol, relative_tol
        Final check: the squared Newton step still to go, in units of the estimates' standard
        errors (the Newton decrement ``g^T H^-1 g`` over the noise variance or the binomial
        dispersion), must be below ``decrement_tol`` (a step under 1e-3 standard errors), and
        the decrement below ``relative_tol`` times the objective (what the step would still
        gain is a tiny part of it: a fit drifting along a flat valley towards a limiting form
        fails this however large its standard errors), unless the gain lies below the
        objective's round-off. It is checked whether or not the iterations ran out.
    max_abs_theta
        Final check: a log-scaled parameter more than this many log units outside the data's
        range (a time scale beyond the range of t, an amplitude whose curve vanishes against
        y) sits at its bound, and the fit is flagged as not converged.
    stop_below, floor
        (B,) objective levels, or None. A curve whose objective has dropped below
        ``stop_below`` stops early (``stopped``) once, at the rate of its last step, the
        iterations it has left could not take it below ``floor``: profile likelihood only needs
        to know that a trial value lies inside the interval, unless it reveals a better optimum
        than the estimate (objective ``floor``). Stopped curves are not converged.
    stop_above
        (B,) objective levels, or None: a curve above its level stops early (``stopped``) once,
        at the rate of its last step, the iterations it has left could not take it below it
        (profile likelihood: a trial value clearly outside the interval).
    lam0, budget
        (B,) starting damping (default 1e-3) and iterations each curve may still use (default
        ``max_iter``): with ``max_iter`` smaller than the budgets, a caller can run curves a
        slice of iterations at a time and resume the ``capped`` ones from ``theta`` and ``lam``.
    check_capped
        False: skip the final checks of capped curves (reason "paused"), for callers that will
        resume them.

    Returns
    -------
    LMResult

    Examples
    --------
    See the module docstring.
    """
    theta = np.array(theta0, dtype=float, copy=True)
    nb, k = theta.shape
    fixed = np.zeros((nb, k), bool) if fixed is None else np.broadcast_to(fixed, (nb, k))
    # Scale for absolute tolerances: the objective an all-zero model would have (never 0
    # because constant curves are rejected upstream), so exact-fit data still terminates.
    if prob.binomial:
        scale = np.full(nb, 1e-8)
    else:
        scale = 1e-20 * (prob.y ** 2).sum(-1) + 1e-300
    lam = np.full(nb, 1e-3) if lam0 is None else np.array(lam0, dtype=float, copy=True)
    budget = np.full(nb, max_iter) if budget is None else np.asarray(budget)
    n_iter = np.zeros(nb, int)
    eye = np.eye(k)
    stalled = np.zeros(nb, bool)
    stopped = np.zeros(nb, bool)
    early = stop_below is not None or stop_above is not None
    edges = _has_edges(family, prob)
    tg = _edge_targets(family, prob, fixed)       # (B, m) 100% / 0% points, or None
    apt = np.full(nb, -1)                          # the point each curve is held at (edge)
    with np.errstate(all="ignore"):
        mu0 = family.mean(prob.t, family.to_natural(theta))
        if tg is not None:                         # start inside [0, 1] at those points
            er = np.flatnonzero(((tg == 1.0) & (mu0 > 1.0)).any(-1)
                                | ((tg == 0.0) & (mu0 < 0.0)).any(-1))
            if er.size:
                theta[er], apt[er] = _project_edges(family, prob.t_of(er), theta[er],
                                                    fixed[er], tg[er], apt[er])
                mu0[er] = family.mean(prob.t_of(er), family.to_natural(theta[er]))
        obj = prob.objective(mu0)
        obj = np.where(np.isfinite(obj), obj, np.inf)
        done = ~np.isfinite(obj) | (budget <= 0)  # infeasible start: give up, flagged below

        # Work on a compacted copy of the unfinished curves; compact again only when some
        # finish, so per-iteration gathers of the data are avoided.
        act = np.flatnonzero(~done)                  # global indices of the working set
        sub = prob.take(act)
        th, ob, lm, sc, bu = theta[act], obj[act], lam[act], scale[act], budget[act]
        # Round-off of the objective: a binomial one scales with the counts and barely moves
        # with the fit (computed once); a least-squares one shrinks with the residuals.
        nz = sub.round_off(mu0[act]) if prob.binomial else None
        sb = np.broadcast_to(np.inf if stop_below is None else stop_below, (nb,))[act]
        fl = np.broadcast_to(-np.inf if floor is None else floor, (nb,))[act]
        sa = np.broadcast_to(np.inf if stop_above is None else stop_above, (nb,))[act]
        if tg is not None:
            tgw, ap, fxw = tg[act], apt[act], fixed[act]

        def held_terms(fx):
            # Held parameters: zero gradient, identity rows/columns in the Hessian.
            return (fx, fx[:, :, None] | fx[:, None, :], fx[:, :, None] * eye) if fx.any() \
                else None
        held = held_terms(fixed[act])
        for it in range(1, max_iter + 1):
            if act.size == 0:
                break
            if tg is None:
                mu, g, h = _gn_sums(*_gn_parts(family, sub, th, observed=edges))
            else:                                    # a release counts once its step is taken
                ap_held = ap
                mu, g, h, ap = _edge_terms(family, sub, th, tgw, ap)
            noise = nz if nz is not None else sub.round_off(mu)   # changes below: round-off
            bad = ~np.isfinite(g.sum(-1) + h.sum((-1, -2)))
            if held is not None:
                g = np.where(held[0], 0.0, g)
                h = np.where(held[1], 0.0, h) + held[2]
            if bad.any():
                g = np.where(bad[:, None], 0.0, g)
                h = np.where(bad[:, None, None], eye, h)
            d = np.diagonal(h, axis1=1, axis2=2)
            dscale = np.maximum(d, 1e-12 * d.max(-1, keepdims=True) + 1e-300)
            step = _solve(h + (lm[:, None] * dscale)[:, :, None] * eye, g)        # (A, k)
            cand = th - step
            mu_c = family.mean(sub.t, family.to_natural(cand))
            if tg is not None:
                # project the curves held on an edge and those that crossed one
                ap_c = ap.copy()
                if mu_c.max(initial=0.0) > 1.0 or mu_c.min(initial=0.0) < 0.0:
                    need = np.flatnonzero((ap >= 0) | ((tgw == 1.0) & (mu_c > 1.0)).any(-1)
                                          | ((tgw == 0.0) & (mu_c < 0.0)).any(-1))
                else:
                    need = np.flatnonzero(ap >= 0)
                if need.size:
                    cand[need], ap_c[need] = _project_edges(
                        family, sub.t_of(need), cand[need], fxw[need], tgw[need], ap[need])
                    mu_c[need] = family.mean(sub.t_of(need), family.to_natural(cand[need]))
            obj_c = sub.objective(mu_c)
            obj_c = np.where(np.isfinite(obj_c), obj_c, np.inf)
            accept = (obj_c <= ob) & ~bad
            if tg is not None:
                ap = np.where(accept, ap_c, ap_held)
            # |change| tiny: an accepted step that barely helps, or a rejected one that only
            # lost to round-off (we sit at the optimum), both end the curve's iterations.
            finished = (np.abs(ob - obj_c) <= np.maximum(ftol * (ob + sc), noise)) | bad
            th = np.where(accept[:, None], cand, th)
            ob_prev = ob
            ob = np.where(accept, obj_c, ob)
            lm = np.where(accept, np.maximum(lm * 0.3, 1e-12), lm * 8.0)
            stuck = lm > 1e12                        # stalled: no step helps any more
            finished |= stuck
            if early:
                # below the target, and the iterations left at this step's rate cannot reach
                # the floor: nothing more to learn from this curve
                # ... or above its level, and at this rate it cannot get below it in time
                reach = (ob_prev - ob) * (bu - it)
                leave = accept & (((ob < sb) & (ob - fl > reach)) | ((ob > sa) & (ob - sa > reach)))
                stopped[act[leave & ~finished]] = True
                finished |= leave
            finished |= bu <= it                     # this curve's budget is spent
            if finished.any():
                stalled[act[stuck]] = True
                theta[act], obj[act], lam[act] = th, ob, lm
                n_iter[act[finished]] = it
                keep = np.flatnonzero(~finished)
                if tg is not None:
                    apt[act[finished]] = ap[finished]
                act, sub = act[keep], sub.take(keep)
                th, ob, lm, sc, bu = th[keep], ob[keep], lm[keep], sc[keep], bu[keep]
                nz = None if nz is None else nz[keep]
                sb, fl, sa = sb[keep], fl[keep], sa[keep]
                if held is not None:
                    held = held_terms(held[0][keep])
                if tg is not None:
                    tgw, ap, fxw = tgw[keep], ap[keep], fxw[keep]
    theta[act], obj[act], lam[act] = th, ob, lm
    if tg is not None:
        apt[act] = ap
    n_iter[act] = max_iter
    capped = np.zeros(nb, bool)
    capped[act] = True
    ran_out = capped | ((n_iter >= budget) & ~stopped)    # iterations spent, not stopped

    edge_row = np.zeros((nb, k))
    note = np.full(nb, "", dtype=object)
    if check_capped or not capped.any():
        chk = np.arange(nb)
        converged, reason, h, g = (np.zeros(nb, bool), np.full(nb, "", dtype=object),
                                   np.zeros((nb, k, k)), np.zeros((nb, k)))
    else:
        # Paused curves (capped, to be resumed) are left unchecked: not converged, no Hessian.
        chk = np.flatnonzero(~capped)
        converged, reason = np.zeros(nb, bool), np.full(nb, "paused", dtype=object)
        h, g = np.full((nb, k, k), np.nan), np.full((nb, k), np.nan)
    if chk.size:
        sub = prob if chk.size == nb else prob.take(chk)
        (converged[chk], reason[chk], h[chk], g[chk], edge_row[chk],
         apt[chk], note[chk]) = _final_checks(family, sub, theta[chk], obj[chk], fixed[chk],
                                              stalled[chk], decrement_tol, relative_tol,
                                              max_abs_theta,
                                              None if tg is None else tg[chk], apt[chk],
                                              ran_out[chk])
    return LMResult(theta=theta, obj=obj, converged=converged, reason=reason, n_iter=n_iter,
                    hessian=h, grad=g, stopped=stopped, lam=lam, capped=capped,
                    boundary=np.where(apt >= 0, apt // k, -1),
                    edge_pivot=np.where(apt >= 0, apt % k, -1), edge_row=edge_row, note=note)


def _final_checks(family, prob, theta, obj, fixed, stalled, decrement_tol, relative_tol,
                  max_abs_theta,
                  tg=None, apt=None, ran_out=None):
    """Convergence checks of B curves: (converged, reason, Hessian, gradient, edge_row,
    boundary, note)."""
    nb, k = theta.shape
    eye = np.eye(k)
    apt = np.full(nb, -1) if apt is None else apt.copy()
    ran_out = np.zeros(nb, bool) if ran_out is None else ran_out
    edge_row = np.zeros((nb, k))
    # Final checks, on every curve: gradient (Newton decrement), Hessian, bounds, feasibility.
    with np.errstate(all="ignore"):
        mu, jac, w, r = _gn_parts(family, prob, theta)
        noise = prob.round_off(mu)
        wrong_side = np.zeros(nb, bool)
        if tg is not None and (apt >= 0).any():
            # On an edge: the checks below are those of the other parameters along it.
            jac, w, r, wrong_side, edge_row = _edge_reduce(jac, w, r, prob.n, mu, apt, tg)
        mu, g, h = _gn_sums(mu, jac, w, r)
    on = (apt >= 0) & ~wrong_side
    apt = np.where(on, apt, -1)
    fixed = fixed.copy()
    fixed[on, apt[on] % k] = True             # the pivot follows the edge
    held_pt = np.zeros(mu.shape, bool)
    held_pt[np.flatnonzero(on), apt[on] // k] = True
    free = ~fixed
    g = np.where(free, g, 0.0)
    h = np.where(free[:, :, None] & free[:, None, :], h, 0.0) + fixed[:, :, None] * eye
    reason = np.full(nb, "", dtype=object)
    finite = np.isfinite(theta).all(-1) & np.isfinite(obj) & np.isfinite(h).all((-1, -2))
    reason[~finite] = "non-finite parameters or likelihood"
    # A parameter at its bound also makes the Hessian singular: report the bound first. It is
    # judged in the data's units, so that no verdict depends on the unit of t or y.
    with np.errstate(all="ignore"):
        z = _scale_free_log(family, prob, theta, mu)
    for j, name in enumerate(family.param_names):
        hit = finite & family.log_scaled[j] & free[:, j] & (np.abs(z[:, j]) > max_abs_theta)
        reason[hit & (reason == "")] = (
            f"parameter {name} ran to its bound (0 or infinity"
            + (", far outside the range of t" if family.time_dims[j] else "")
            + "): the data favour a limiting form of this family")
    if prob.binomial:
        # Is the binomial maximum on the edge of [0, 1], where the (clipped) likelihood is not
        # the real one? Yes if a mean leaves [0, 1], or sits at 0 / 1 where the data do not
        # (log-likelihood -inf), or presses against 1 (no family but a bounded one, actr, can
        # sit within 1e-9 of 1 at an interior optimum). A mean near 0 where y = 0 is an
        # ordinary decaying tail, not an edge.
        # The point a curve is held at (an edge maximum, checked above) is not one of these.
        y = prob.y
        edge = finite & (((mu < 0) | (mu > 1) | ((mu <= 1e-9) & (y > 0))
                          | ((mu >= 1 - 1e-9) & ((y < 1) | (not family.bounded01))))
                         & ~held_pt).any(-1)
        reason[wrong_side & (reason == "")] = (
            "stopped at 0 or 1 at a data point although the likelihood rises inside [0, 1]")
        reason[edge & (reason == "")] = (
            "fitted probability reached 0 or 1 at a data point: this family's binomial maximum "
            "lies on the edge of [0, 1] (e.g. a point at 0% or 100%, or an asymptote below 0); "
            "drop such points, fit without n, or use a family bounded to [0, 1] such as actr"
            + (" (or do not hold the amplitude fixed: a free one lets the fit rest on the edge)"
               if family.amplitude_first else ""))
    hs = np.where(finite[:, None, None], h, eye)
    dg = np.sqrt(np.maximum(np.diagonal(hs, axis1=1, axis2=2), 1e-300))
    corr = hs / dg[:, :, None] / dg[:, None, :]                      # scale-free Hessian
    eig_min = np.linalg.eigvalsh(corr)[:, 0]
    not_pd = finite & (eig_min <= 1e-10)
    reason[not_pd & (reason == "")] = ("Hessian not positive definite: parameters not "
                                       "identifiable from these data")
    # Newton decrement g^T H^-1 g, computed in the scale-free (unit-diagonal) frame so that
    # badly scaled parameters cannot make the solve singular. It is the squared length of the
    # Newton step still to go in units of the estimates' standard errors once divided by the
    # noise variance (least squares: 2 obj / (m - k)) or the binomial dispersion (at least 1).
    gs = np.where(finite[:, None], g, 0.0) / dg
    corr_reg = corr + np.where(not_pd, 1.0, 0.0)[:, None, None] * eye
    dec = np.einsum("bk,bk->b", gs, _solve(corr_reg, gs))
    df = np.maximum(prob.y.shape[1] - free.sum(-1), 1)
    spread = 2.0 * np.maximum(obj, 0.0) / df
    spread = np.maximum(spread, 1.0) if prob.binomial else spread
    with np.errstate(all="ignore"):
        steps = np.sqrt(np.maximum(dec, 0.0) / spread)                 # standard errors
    # At the optimum: the step is a tiny fraction of a standard error and what it would still
    # gain a tiny fraction of the objective (a fit drifting towards a limiting form along a
    # flat valley can have a huge standard error, but would still gain much of what is left),
    # or the gain is below the objective's own round-off (exact data, counts of 1e9 trials).
    at_optimum = (((dec <= decrement_tol * spread) & (dec <= relative_tol * np.abs(obj)))
                  | (0.5 * dec <= noise))
    high_grad = finite & ~not_pd & ~at_optimum
    size = np.array([f"{v:.2g}" if np.isfinite(v) else "an unknown number of" for v in steps],
                    dtype=object)
    for b in np.flatnonzero(high_grad & (reason == "")):
        step = f"the Newton step still to go is {size[b]} standard errors"
        if stalled[b]:
            reason[b] = (f"optimiser stalled with the gradient not zero ({step}): no step "
                         "improves the fit (a flat or rough likelihood)")
        elif ran_out[b]:
            reason[b] = (f"iteration cap reached with the gradient not zero ({step}): the fit "
                         "may be drifting towards a limiting form of this family (e.g. a "
                         "shift or rate running to 0 or infinity)")
        else:
            reason[b] = (f"stopped with the gradient not zero ({step}): the likelihood barely "
                         "changes along it, as when the fit drifts towards a limiting form of "
                         "this family (e.g. a shift or rate running to 0 or infinity)")
    converged = reason == ""
    note = np.full(nb, "", dtype=object)
    for b in np.flatnonzero(converged & ran_out):
        note[b] = (f"the iteration cap was reached at the optimum (Newton step still to go "
                   f"{size[b]} standard errors, Hessian positive definite)")
    return converged, reason, h, g, edge_row, apt, note


def _scale_free_log(family: Family, prob: Problem, theta: np.ndarray,
                    mu: np.ndarray) -> np.ndarray:
    """(B, k) log-scaled parameters measured in the data's units, for the bound check: a time
    scale (``time_dims`` != 0: ``s``, ``t50``, ``1 / b``) by how far (in log units) it lies
    outside the range of positive t, an amplitude (``amplitude_first``) by the log of its
    curve's size over that of y; other parameters as they are. Rescaling t or y leaves it
    unchanged."""
    nb, k = theta.shape
    z = theta.copy()
    t = np.broadcast_to(prob.t, prob.y.shape)
    tpos = np.where(t > 0, t, np.nan)
    lo = np.log(np.where(np.isfinite(tpos).any(-1), np.nanmin(np.where(np.isfinite(tpos), tpos,
                                                                         np.inf), -1), 1.0))
    hi = np.log(np.where(np.isfinite(tpos).any(-1), np.nanmax(np.where(np.isfinite(tpos), tpos,
                                                                         -np.inf), -1), 1.0))
    for j in range(k):
        if not family.log_scaled[j]:
            continue
        u = family.time_dims[j]
        if u:
            x = theta[:, j] / u                       # log of the time scale p**(1/u)
            z[:, j] = np.where(x < lo, x - lo, np.where(x > hi, x - hi, 0.0))
        elif j == 0 and family.amplitude_first:
            p = family.to_natural(theta)
            f, g = _split_amplitude(family, prob.t, p)
            size = np.abs(p[:, :1] * f).max(-1)
            ref = np.abs(prob.y).max(-1)
            z[:, j] = np.log(size / np.where(ref > 0, ref, 1.0))
    return np.where(np.isfinite(z), z, np.where(np.isnan(z), 0.0, np.sign(z) * np.inf))
