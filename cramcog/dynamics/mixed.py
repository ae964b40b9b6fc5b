"""A binomial nonlinear mixed model: every subject's curve at once, nobody left out.

Subject ``s`` recalls ``k_si`` of ``n_si`` items at delay ``t_si`` with probability
``mu(t_si; p_s)`` (a curve family), and its parameters, on the family's internal scale (log for
positive ones such as ``a``), are the group value plus a subject random effect:

    theta_s = beta + b_s,   b_s ~ N(0, diag(tau^2))   (only on the parameters in ``random``)

``beta`` (the group values: for log-scale parameters the median subject) and ``tau`` (the
between-subject SDs, in log units for log-scale parameters) are estimated by maximising the
marginal likelihood, each subject's random effects integrated out by adaptive Gauss-Hermite
quadrature (AGQ; ``n_nodes`` per random effect, centred at the subject's posterior mode and
scaled by its curvature, as lme4's ``nAGQ`` and gllamm do; with one node it is the Laplace
approximation, which the ceiling below makes unreliable). Intervals of ``beta`` are Wald
intervals from the numerical Hessian of the marginal log-likelihood, with a t reference on
``S - 1`` df (S subjects); intervals of ``tau`` are Wald intervals on ``log tau``, and an SD
estimated at 0 gets the upper limit of its profile likelihood (boundary reference: chi2_1 at
``2 level - 1``).

Why this model. A two-stage estimate (:mod:`cramcog.dynamics.group`) combines per-subject
estimates with standard errors, so it must leave out a subject whose own fit has no roughly normal
estimate: one with a cell at 100% (or 0%), whose binomial maximum sits on the edge of [0, 1]. On
real data that can be most participants, and the best rememberers first. Here a subject is only
data: a 100% cell adds ``n log mu`` to that subject's likelihood like any other cell, and the
integral over the subject's random effects does the rest.

The ceiling. A family such as ``a t^-gamma`` can exceed 1; the model reads the recall probability
as ``min(mu, 1)`` (and ``max(mu, 0)``): a subject whose curve passes 1 recalls everything there.
So a cell at 100% is certain above the ceiling, and a cell with failures is impossible there (its
log-likelihood is continued below ``1e-6`` by a steep quadratic, which keeps the search smooth).
The kink this leaves in the integrand is why quadrature, not the Laplace approximation alone, is
the default: with few nodes per random effect it still integrates a half-flat integrand well.

Computation. Everything is batched numpy: the posterior modes of all subjects are found together
by a damped Newton (Levenberg-Marquardt) iteration; the quadrature evaluates the curve at every
(subject, node) at once; the outer maximisation is L-BFGS-B on ``(beta, log tau)`` with the
analytic gradient of the quadrature sum at fixed nodes (held as subject parameters, see
``_Model.adapt``), the nodes re-adapted between rounds until the estimates stop moving (the
adaptive quadrature's fixed point; a slow, steady creep is summed ahead, as Aitken's method
does). 65 subjects x 8 delays x 2 random effects take well under a second; families with 3 or 4
parameters a few seconds, more where the data favour a limiting form of the family (the fit is
then flagged as not converged, as single-curve fits are).

Validation (benchmarks/bench_mixed.py): on 200 simulated experiments of 40 subjects x 8 delays x
20 trials with half the subjects at 100% somewhere, bias +0.001 in gamma and 95% coverage 0.95;
without random effects the likelihood is statsmodels' binomial GLM with a log link to 1e-9; for
``actr`` (a logistic GLMM) the fixed effects are within 0.2 SE of statsmodels'
``BinomialBayesMixedGLM``.

Examples
--------
>>> import numpy as np
>>> from cramcog.dynamics.families import FAMILIES
>>> rng = np.random.default_rng(0)
>>> t = np.array([1, 2, 4, 8, 16, 32, 64, 128.0])
>>> gamma = rng.normal(0.35, 0.1, 40)                    # 40 subjects, group gamma 0.35
>>> a = 0.9 * np.exp(rng.normal(0, 0.1, 40))
>>> k = rng.binomial(20, np.minimum(a[:, None] * t ** -gamma[:, None], 1))
>>> int((k == 20).any(1).sum())                          # subjects with a 100% cell
16
>>> fit = fit_mixed(FAMILIES["power"], [t] * 40, list(k / 20), [np.full(8, 20)] * 40)
>>> fit.converged, fit.n_subjects
(True, 40)
>>> round(fit.params["gamma"], 2), round(fit.sd["gamma"], 2)  # these 40: mean 0.344, SD 0.079
(0.33, 0.07)
>>> lo, hi = fit.ci["gamma"]
>>> bool(lo < 0.35 < hi)
True
"""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from cramcog.dynamics.families import Family

_DELTA = 1e-6            # log x is continued below this by its quadratic Taylor polynomial
_EPS = 0.01              # half-width of the rounded corner of the ceiling at 1 (and floor at 0)
_LOG_TAU_MIN = np.log(1e-4)   # an SD this small is "no between-subject spread"
_LOG_TAU_MAX = np.log(50.0)
DEFAULT_NODES = {0: 1, 1: 15, 2: 9, 3: 5}   # nodes per random effect, by their number
_ROUNDS = 12             # re-adaptations of the quadrature at most
FOLLOW_ABOVE = 0.9       # nodes move with beta where d mode / d beta exceeds this (see adapt)


# ----------------------------------------------------------------------------- the likelihood

def _log_ext(x):
    """log x for x >= _DELTA, continued below by the quadratic Taylor polynomial at _DELTA: a
    finite, smooth and steep penalty for an impossible probability."""
    out = np.log(np.maximum(x, _DELTA))
    low = x < _DELTA
    if low.any():
        u = np.minimum(x - _DELTA, 0.0) / _DELTA
        out = out + np.where(low, u - 0.5 * u * u, 0.0)
    return out


def _dlog_ext(x):
    out = 1.0 / np.maximum(x, _DELTA)
    low = x < _DELTA
    if low.any():
        out = out - np.where(low, np.minimum(x - _DELTA, 0.0) / _DELTA ** 2, 0.0)
    return out


def _log_cap(x):
    """log(min(x, 1)), its corner at 1 rounded off over [1 - _EPS, 1 + _EPS] (the derivative
    falls linearly to 0 there), so that the likelihood is smooth (C1) in the parameters."""
    c = 1.0 / (1.0 - _EPS)
    u = np.clip(x - (1.0 - _EPS), 0.0, 2.0 * _EPS)
    return np.where(x <= 1.0 - _EPS, _log_ext(x),
                    np.log(1.0 - _EPS) + c * u - c / (4.0 * _EPS) * u * u)


def _dlog_cap(x):
    c = 1.0 / (1.0 - _EPS)
    u = np.clip(x - (1.0 - _EPS), 0.0, 2.0 * _EPS)
    return np.where(x <= 1.0 - _EPS, _dlog_ext(x), c - c / (2.0 * _EPS) * u)


def cell_loglik(mu, y, n):
    """Binomial log-likelihood of each cell (without the binomial coefficient), its derivative
    in ``mu`` and a positive curvature weight (the observed information of ``mu``).

    The recall probability is ``min(max(mu, 0), 1)``: above 1 a cell at 100% is certain (its
    log-likelihood is 0 there, the corner at 1 rounded off over 1 +- 0.01), and a cell with
    failures is impossible (a steep penalty); likewise below 0. The weight keeps its value from
    inside [0, 1] (it scales the quadrature, never the likelihood).

    Examples
    --------
    >>> ll, d, w = cell_loglik(np.array([0.5, 1.2]), np.array([0.5, 1.0]), np.array([10., 10.]))
    >>> np.round(ll, 2).tolist(), d.tolist()
    ([-6.93, 0.0], [0.0, 0.0])
    """
    succ = y * n
    fail = n - succ
    one_minus = 1.0 - mu
    # the plain binomial first; the ceiling (floor) only where a cell is at 100% (0%)
    ls, lf = _log_ext(mu), _log_ext(one_minus)
    ds, df = _dlog_ext(mu), _dlog_ext(one_minus)
    top, bottom = y >= 1.0, y <= 0.0
    if top.any():
        ls = np.where(top, _log_cap(mu), ls)
        ds = np.where(top, _dlog_cap(mu), ds)
    if bottom.any():
        lf = np.where(bottom, _log_cap(one_minus), lf)
        df = np.where(bottom, _dlog_cap(one_minus), df)
    ll = succ * ls + fail * lf
    d = succ * ds - fail * df
    w = succ / np.maximum(np.minimum(mu, 1.0), _DELTA) ** 2 \
        + fail / np.maximum(np.minimum(one_minus, 1.0), _DELTA) ** 2
    return ll, d, w


def _pack(t_list, y_list, n_list):
    """Ragged curves -> padded (S, M) arrays; padding cells have n = 0 and a valid t."""
    m = max(len(t) for t in t_list)
    s = len(t_list)
    t, y, n = np.empty((s, m)), np.zeros((s, m)), np.zeros((s, m))
    for i, (ti, yi, ni) in enumerate(zip(t_list, y_list, n_list)):
        ti, yi = np.asarray(ti, float), np.asarray(yi, float)
        ni = np.broadcast_to(np.asarray(ni, float), ti.shape)
        k = ti.size
        t[i, :k], y[i, :k], n[i, :k] = ti, yi, ni
        t[i, k:] = ti[0] if k else 1.0
    return t, y, n


def _gauss_hermite(q: int, nodes: int):
    """Tensor-product Gauss-Hermite grid for weight exp(-|x|^2): (Q, q) nodes, (Q,) log weights."""
    x1, w1 = np.polynomial.hermite.hermgauss(nodes)
    if q == 0:
        return np.zeros((1, 0)), np.zeros(1)
    grids = np.meshgrid(*([x1] * q), indexing="ij")
    x = np.stack([g.ravel() for g in grids], axis=-1)
    lw = np.sum(np.log(np.stack(np.meshgrid(*([w1] * q), indexing="ij"), -1).reshape(-1, q)),
                axis=-1)
    return x, lw


# ----------------------------------------------------------------------------- the model

class _Model:
    """Data, family and the structure of the random effects; the pieces of the marginal
    likelihood. ``phi = (beta of the free parameters, log tau of the random ones)``."""

    def __init__(self, spec: Family, t, y, n, free, random, held_int, n_nodes):
        self.spec = spec
        self.t, self.y, self.n = t, y, n
        self.free, self.random = np.asarray(free, bool), np.asarray(random, bool)
        self.rand_idx = np.flatnonzero(self.random)
        self.free_idx = np.flatnonzero(self.free)
        self.held_int = np.asarray(held_int, float)
        self.q, self.kf = int(self.random.sum()), int(self.free.sum())
        self.x, self.lw = _gauss_hermite(self.q, n_nodes)
        self.n_q = self.x.shape[0]
        s = t.shape[0]
        self.tq = np.repeat(t, self.n_q, axis=0)
        self.yq = np.repeat(y, self.n_q, axis=0)
        self.nq = np.repeat(n, self.n_q, axis=0)
        self.n_subjects = s

    def beta(self, phi):
        out = self.held_int.copy()
        out[self.free_idx] = phi[:self.kf]
        return out

    def tau(self, phi):
        return np.exp(phi[self.kf:])

    def theta(self, beta, b):
        """(..., k) internal parameters for random effects b (..., q)."""
        out = np.broadcast_to(beta, b.shape[:-1] + beta.shape).copy()
        out[..., self.rand_idx] += b
        return out

    def terms(self, theta, t, y, n, jac=True):
        """Per-curve log-likelihood (B,), d ll / d mu (B, m), weights (B, m), d mu / d theta."""
        spec = self.spec
        with np.errstate(all="ignore"):
            p = spec.to_natural(theta)
            mu = spec.mean(t, p)
            ll, d, w = cell_loglik(mu, y, n)
            ll = np.where(np.isfinite(mu), ll, -1e300)   # a curve the family cannot draw
            j = spec.jacobian(t, p) * spec.dnatural(theta)[:, None, :] if jac else None
        return ll.sum(-1), d, w, j

    # -- each subject's posterior mode of b (the centre of its quadrature) ---------------------
    def modes(self, beta, tau, b0, max_iter: int = 100):
        """Posterior modes (S, q) of the random effects and the curvature there (S, q, q)."""
        q, s = self.q, self.n_subjects
        if q == 0:
            return np.zeros((s, 0)), np.zeros((s, 0, 0))
        prec = 1.0 / tau ** 2
        eye = np.eye(q)

        def objective(b):
            ll, _, _, _ = self.terms(self.theta(beta, b), self.t, self.y, self.n, jac=False)
            return -ll + 0.5 * np.sum(b * b * prec, -1)

        def newton_terms(b):
            _, d, w, j = self.terms(self.theta(beta, b), self.t, self.y, self.n)
            jr = j[..., self.rand_idx]
            jr = np.where(np.isfinite(jr), jr, 0.0)
            g = -np.einsum("smq,sm->sq", jr, d) + b * prec
            h = np.einsum("smq,sm,smr->sqr", jr, w, jr) + np.diag(prec)
            return g, h

        b = np.array(b0, float, copy=True)
        h_val = objective(b)
        lam = np.full(s, 1e-3)
        active = np.ones(s, bool)
        for _ in range(max_iter):
            idx = np.flatnonzero(active)
            if idx.size == 0:
                break
            g, h = newton_terms(b)
            g, h = g[idx], h[idx]
            dec = np.einsum("sq,sq->s", g, np.linalg.solve(h, g[..., None])[..., 0])
            done = dec < 1e-14 * (1.0 + np.abs(h_val[idx]))
            diag = np.einsum("sqq->sq", h)
            step = np.linalg.solve(h + lam[idx, None, None] * diag[:, :, None] * eye,
                                   g[..., None])[..., 0]
            cand = b[idx] - step
            full = b.copy()
            full[idx] = cand
            h_new = objective(full)[idx]
            ok = np.isfinite(h_new) & (h_new <= h_val[idx])
            b[idx[ok]] = cand[ok]
            gain = np.where(ok, h_val[idx] - h_new, 0.0)
            h_val[idx[ok]] = h_new[ok]
            lam[idx] = np.where(ok, np.maximum(lam[idx] * 0.2, 1e-12), lam[idx] * 10.0)
            tiny = ok & (gain < 1e-13 * (1.0 + np.abs(h_val[idx])))
            stuck = lam[idx] > 1e12
            active[idx[done | tiny | stuck]] = False
        _, h = newton_terms(b)
        return b, h

    def adapt(self, phi, b0) -> "_Nodes":
        """Quadrature nodes at each subject's posterior mode, scaled by its curvature.

        The nodes are kept as subject parameters (the random components of theta): held
        there while beta moves within a round, they stay with each subject's data, which is
        what its posterior mostly follows. Where the prior dominates instead (an SD so small
        that ``d mode / d beta = H^-1 P`` is nearly 1; H: the curvature at the mode, P: the
        prior precision) they move with beta, to first order. Either way the rounds settle
        fast."""
        beta, tau = self.beta(phi), self.tau(phi)
        mode, h = self.modes(beta, tau, b0)
        s, q = self.n_subjects, self.q
        if q == 0:
            return _Nodes(np.zeros((s, 1, 0)), np.zeros(0), np.zeros((s, 0, 0)),
                          np.zeros((s, 1)), mode)
        cov = np.linalg.inv(h)
        cov = 0.5 * (cov + np.swapaxes(cov, 1, 2))
        try:
            chol = np.linalg.cholesky(cov)
        except np.linalg.LinAlgError:          # never expected: h includes the prior precision
            chol = np.sqrt(np.maximum(np.einsum("sqq->sq", cov), 1e-12))[:, :, None] * np.eye(q)
        b = mode[:, None, :] + np.sqrt(2.0) * np.einsum("sij,nj->sni", chol, self.x)
        logdet = np.sum(np.log(np.einsum("sqq->sq", chol)), -1)
        const = (self.lw + np.sum(self.x ** 2, -1))[None, :] + logdet[:, None] \
            + 0.5 * q * np.log(2.0)
        beta_r = beta[self.rand_idx]
        follow = cov / tau ** 2                            # H^-1 P: d mode / d beta
        # Only where the prior dominates (a small SD: the mode moves with beta): a mode held
        # by the data, or by a 100% cell at the ceiling, stays put, and nodes left in place
        # there make the rounds settle fastest.
        follow = follow * (np.einsum("sqq->sq", follow) > FOLLOW_ABOVE)[:, None, :]
        return _Nodes(b + beta_r, beta_r.copy(), follow, const, mode)

    def _likelihood(self, beta, nodes):
        """Log-likelihood (S, Q) and its gradient in theta (S, Q, k) at the nodes."""
        s, nq = self.n_subjects, self.n_q
        theta = np.broadcast_to(beta, (s, nq, beta.size)).copy()
        theta[..., self.rand_idx] = nodes
        ll, d, _, j = self.terms(theta.reshape(s * nq, -1), self.tq, self.yq, self.nq)
        j = np.where(np.isfinite(j), j, 0.0)
        return ll.reshape(s, nq), np.einsum("bmk,bm->bk", j, d).reshape(s, nq, -1)

    def marginal(self, phi, at: "_Nodes"):
        """Log marginal likelihood per subject (S,), its gradient in phi per subject (S, P) for
        these nodes (moving with beta as ``at.follow`` says), and the posterior weights of the
        nodes (S, Q)."""
        beta, tau = self.beta(phi), self.tau(phi)
        s, nq, q = self.n_subjects, self.n_q, self.q
        beta_r = beta[self.rand_idx]
        if at.still and self.q == self.kf:     # nothing moves the nodes: the data term is fixed
            nodes = at.nodes
            if at.cache is None:
                at.cache = self._likelihood(beta, nodes)
            ll, score = at.cache
        else:
            nodes = at.nodes + np.einsum("sij,j->si", at.follow, beta_r - at.beta_r)[:, None, :]
            ll, score = self._likelihood(beta, nodes)
        z = (nodes - beta_r) / tau if q else np.zeros((s, nq, 0))
        z2 = z * z
        prior = -0.5 * z2.sum(-1) - np.sum(np.log(tau)) - 0.5 * q * np.log(2 * np.pi)
        a = at.const + ll + prior
        top = a.max(1, keepdims=True)
        e = np.exp(a - top)
        tot = e.sum(1, keepdims=True)
        lm = top[:, 0] + np.log(tot[:, 0])
        w = e / tot
        g_theta = np.einsum("sn,snk->sk", w, score)       # fixed-only parameters: the data
        if q:
            data = g_theta[:, self.rand_idx]
            prior_pull = np.einsum("sn,snq->sq", w, z) / tau
            # node = base + F (beta - beta0): d/d beta = F^T data + (I - F)^T prior pull
            g_theta[:, self.rand_idx] = prior_pull + np.einsum(
                "sji,sj->si", at.follow, data - prior_pull)
        g_tau = np.einsum("sn,snq->sq", w, z2 - 1.0)
        return lm, np.concatenate([g_theta[:, self.free_idx], g_tau], axis=1), w, nodes


@dataclass
class _Nodes:
    """Quadrature nodes of one adaptation: subject parameters (S, Q, q) at ``beta_r``, how they
    follow beta (S, q, q), the constant part of their log weights (S, Q) and the modes."""

    nodes: np.ndarray
    beta_r: np.ndarray
    follow: np.ndarray
    const: np.ndarray
    mode: np.ndarray
    cache: tuple | None = None        # the likelihood at the nodes, while they stay put

    @property
    def still(self) -> bool:
        return not self.follow.any()


# ----------------------------------------------------------------------------- the result

@dataclass
class MixedFit:
    """A fitted binomial nonlinear mixed model (see the module docstring).

    Attributes
    ----------
    spec : Family
    params, sd : dict
        Group value (natural scale; the median subject for log-scale parameters) and
        between-subject SD (internal scale: log units for log-scale parameters; 0 without a
        random effect) of every parameter.
    ci, sd_ci : dict
        Wald intervals at ``level`` (t with ``df`` degrees of freedom; ``sd`` on the log scale).
    beta, tau : numpy.ndarray
        Group values and SDs on the internal scale, shape (k,).
    cov : numpy.ndarray
        Covariance of ``phi = (beta of the free parameters, log tau of the random ones)``.
    scores : numpy.ndarray
        (S, P): each subject's contribution to the gradient of the log-likelihood in ``phi`` at
        the estimate (for cluster-robust comparisons of fits on the same subjects).
    modes : numpy.ndarray
        (S, k): each subject's posterior mean of its parameters (internal scale), the
        empirical-Bayes (shrunken) estimates.
    loglik : float
        Marginal log-likelihood (without binomial coefficients).
    converged : bool
    message : str
        Why not converged ("" if it did).
    """

    spec: Family
    beta: np.ndarray
    tau: np.ndarray
    cov: np.ndarray
    scores: np.ndarray
    modes: np.ndarray
    loglik: float
    converged: bool
    message: str
    free: np.ndarray
    random: np.ndarray
    level: float
    n_nodes: int
    n_rounds: int
    df: float
    n_subjects: int
    sd_profile: np.ndarray | None = field(default=None, repr=False)  # (2, k) profile limits

    @property
    def phi_names(self) -> list[str]:
        names = self.spec.param_names
        return [names[j] for j in np.flatnonzero(self.free)] + \
            [f"sd({names[j]})" for j in np.flatnonzero(self.random)]

    def _quantile(self) -> float:
        from scipy import stats
        return float(stats.t.ppf(0.5 + self.level / 2, self.df))

    def se_internal(self) -> np.ndarray:
        """Standard errors (k,) of the group values on the internal scale (0 for held ones)."""
        out = np.zeros(self.spec.n_params)
        var = np.diagonal(self.cov)[:int(self.free.sum())]
        with np.errstate(invalid="ignore"):
            out[self.free] = np.sqrt(np.where(var >= 0, var, np.nan))
        return out

    def interval_internal(self):
        """(low, high), each (k,): Wald intervals of the group values, internal scale."""
        half = self._quantile() * self.se_internal()
        return self.beta - half, self.beta + half

    def sd_interval(self):
        """(low, high), each (k,): intervals of the between-subject SDs: Wald on log tau, or
        profile likelihood where the SD sits at 0 (lower limit 0) or its log is too uncertain
        for a Wald interval."""
        low, high = np.zeros(self.spec.n_params), np.zeros(self.spec.n_params)
        kf = int(self.free.sum())
        z = self._quantile()
        for i, j in enumerate(np.flatnonzero(self.random)):
            if self.sd_profile is not None and np.isfinite(self.sd_profile[0, j]):
                low[j], high[j] = self.sd_profile[:, j]
                continue
            var = self.cov[kf + i, kf + i]
            if not np.isfinite(var) or var <= 0:
                low[j], high[j] = np.nan, np.nan
                continue
            lt, se = np.log(self.tau[j]), np.sqrt(var)
            low[j], high[j] = np.exp(lt - z * se), np.exp(lt + z * se)
        return low, high

    @property
    def params(self) -> dict:
        nat = self.spec.to_natural(self.beta)
        return {p: float(v) for p, v in zip(self.spec.param_names, nat)}

    @property
    def ci(self) -> dict:
        lo, hi = (self.spec.to_natural(v) for v in self.interval_internal())
        return {p: (float(a), float(b)) for p, a, b in zip(self.spec.param_names, lo, hi)}

    @property
    def sd(self) -> dict:
        """Between-subject SDs; 0 where the SD sits at its floor (1e-4)."""
        tau = np.where(np.log(np.maximum(self.tau, 1e-300)) <= _LOG_TAU_MIN + 1e-6, 0.0,
                       self.tau)
        return {p: float(v) for p, v in zip(self.spec.param_names, tau)}

    @property
    def sd_ci(self) -> dict:
        lo, hi = self.sd_interval()
        return {p: (float(a), float(b)) for p, a, b in zip(self.spec.param_names, lo, hi)}


def _start(spec: Family, t, y, n, free, held_int):
    """Group values from the pooled curve (successes and trials summed at each delay)."""
    tt, yy, nn = t.ravel(), y.ravel(), n.ravel()
    keep = nn > 0
    ut = np.unique(tt[keep])
    ks = np.array([np.sum((yy * nn)[keep & (tt == u)]) for u in ut])
    ns = np.array([np.sum(nn[keep & (tt == u)]) for u in ut])
    p0 = spec.start(ut[None, :], (ks / ns)[None, :])[0]
    theta = spec.to_internal(p0)
    theta = np.where(np.isfinite(theta), theta, 0.0)
    return np.where(free, theta, held_int)


def fit_mixed(spec: Family, t, y, n, *, fixed: dict | None = None, random=None,
              level: float = 0.95, n_nodes: int | None = None, start=None,
              start_sd=None) -> MixedFit:
    """Fit a binomial nonlinear mixed model: a curve per subject, random effects by subject.

    Parameters
    ----------
    spec : Family
        The curve family.
    t, y, n : list of array_like
        One entry per subject: delays, proportions recalled (in [0, 1]) and trials. Subjects
        may have different delays and any number of points (even one).
    fixed : dict, optional
        Parameters held at a value for everyone (as ``fit_consolidation_curve``'s ``fixed``).
    random : list of str, optional
        Parameters with a subject random effect (default: every free parameter); the others
        are the same for every subject.
    level : float
        Confidence level of the intervals.
    n_nodes : int, optional
        Quadrature nodes per random effect (default 15, 9, 5, 3 for 1, 2, 3, 4+ random effects;
        1 is the Laplace approximation).
    start, start_sd : array_like, optional
        Starting group values (natural scale, shape (k,)) and SDs (internal scale); default:
        a fit-free start from the pooled curve and SDs of 0.2.

    Returns
    -------
    MixedFit

    Raises
    ------
    ValueError
        Fewer than 2 subjects, bad ``random`` / ``fixed`` names, y outside [0, 1], negative n.

    Examples
    --------
    See the module docstring.
    """
    names = spec.param_names
    fixed = dict(fixed or {})
    unknown = [p for p in list(fixed) + list(random or []) if p not in names]
    if unknown:
        raise ValueError(f"{spec.name} has no parameter(s) {unknown}; its parameters are "
                         f"{list(names)}")
    if len(t) != len(y) or len(t) != len(n):
        raise ValueError(f"need t, y and n for every subject; got {len(t)}, {len(y)}, {len(n)}")
    if len(t) < 2:
        raise ValueError(f"a mixed model needs at least 2 subjects, got {len(t)}")
    free = np.array([p not in fixed for p in names])
    random = [p for p in names if p not in fixed] if random is None else list(random)
    held_random = [p for p in random if p in fixed]
    if held_random:
        raise ValueError(f"{held_random} are held fixed (fixed=/chance=) and cannot also have a "
                         "random effect")
    rand = np.array([p in random for p in names])
    tt, yy, nn = _pack(t, y, n)
    if not (np.isfinite(tt).all() and np.isfinite(yy).all() and np.isfinite(nn).all()):
        raise ValueError("t, y and n must be finite")
    if (yy < 0).any() or (yy > 1).any() or (nn < 0).any():
        raise ValueError("y must be proportions in [0, 1] and n trials >= 0")
    held_int = spec.to_internal(np.array([fixed.get(p, 1.0) for p in names], float))
    q = int(rand.sum())
    nodes_per = int(n_nodes) if n_nodes is not None else DEFAULT_NODES.get(q, 3)
    if nodes_per < 1:
        raise ValueError(f"n_nodes must be >= 1, got {n_nodes}")
    model = _Model(spec, tt, yy, nn, free, rand, held_int, nodes_per)
    beta0 = _start(spec, tt, yy, nn, free, held_int) if start is None else np.where(
        free, spec.to_internal(np.asarray(start, float)), held_int)
    sd0 = np.full(spec.n_params, 0.2) if start_sd is None else np.asarray(start_sd, float)
    sd0 = np.clip(np.where(np.isfinite(sd0) & (sd0 > 0), sd0, 0.2), 0.02, 5.0)
    phi = np.concatenate([beta0[free], np.log(sd0[rand])])
    bounds = [(None, None)] * model.kf + [(_LOG_TAU_MIN, _LOG_TAU_MAX)] * q
    phi, mode, rounds, settled = _optimise(model, phi, bounds, np.zeros((model.n_subjects, q)))
    message = "" if settled else f"the quadrature did not settle in {_ROUNDS} re-adaptations"
    at = model.adapt(phi, mode)
    mode = at.mode
    lm, scores, w, nodes = model.marginal(phi, at)
    hess = _hessian(model, phi, at)
    p = phi.size
    at_floor = np.zeros(p, bool)
    at_floor[model.kf:] = phi[model.kf:] <= _LOG_TAU_MIN + 1e-6
    cov = np.full((p, p), np.nan)
    keep = ~at_floor
    if keep.any():
        sub = hess[np.ix_(keep, keep)]
        try:
            eig = np.linalg.eigvalsh(sub)
            if eig.min() > 1e-10 * max(1.0, eig.max()):
                cov[np.ix_(keep, keep)] = np.linalg.inv(sub)
            elif not message:
                message = ("Hessian of the marginal likelihood not positive definite: the "
                           "group values are not identifiable from these data")
        except np.linalg.LinAlgError:
            message = message or "Hessian of the marginal likelihood is singular"
    grad = -scores.sum(0)
    if not message and np.isfinite(cov[np.ix_(keep, keep)]).all():
        gs = grad[keep]
        if gs.size and gs @ (cov[np.ix_(keep, keep)] @ gs) > 1e-4:
            message = "the marginal likelihood's gradient is not zero at the estimate"
    if not np.isfinite(lm).all() and not message:
        message = "non-finite marginal likelihood"
    # An SD at its floor (no between-subject spread found), or one too uncertain for a Wald
    # interval on its log (SE of log tau above 0.5): its interval by profile likelihood.
    sd_profile = np.full((2, spec.n_params), np.nan)
    with np.errstate(invalid="ignore"):
        vague = np.sqrt(np.diagonal(cov)) > 0.5
    for i in range(model.kf, p) if not message else []:
        if at_floor[i] or vague[i]:
            sd_profile[:, model.rand_idx[i - model.kf]] = _profile_sd(
                model, phi, bounds, i, float(lm.sum()), level, mode, bool(at_floor[i]))
    beta, tau = model.beta(phi), np.zeros(spec.n_params)
    tau[rand] = model.tau(phi)
    post = np.einsum("sn,snq->sq", w, nodes) - beta[rand]
    modes = model.theta(beta, post) if q else np.broadcast_to(beta, (model.n_subjects,
                                                                     beta.size)).copy()
    return MixedFit(spec=spec, beta=beta, tau=tau, cov=cov, scores=scores, modes=modes,
                    loglik=float(lm.sum()), converged=message == "", message=message,
                    free=free, random=rand, level=float(level), n_nodes=nodes_per,
                    n_rounds=rounds, df=float(model.n_subjects - 1),
                    n_subjects=int(model.n_subjects), sd_profile=sd_profile)


def _hessian(model: _Model, phi, at: _Nodes) -> np.ndarray:
    """Hessian of -loglik in phi by central differences of the analytic gradient."""
    p = phi.size
    hess = np.zeros((p, p))
    for i in range(p):
        h = 1e-5 * max(1.0, abs(phi[i]))
        up, dn = phi.copy(), phi.copy()
        up[i] += h
        dn[i] -= h
        hess[i] = -(model.marginal(up, at)[1].sum(0) - model.marginal(dn, at)[1].sum(0)) / (2 * h)
    return 0.5 * (hess + hess.T)


def _inverse(hess: np.ndarray) -> np.ndarray:
    """The inverse of a positive definite matrix; NaN where it is not."""
    try:
        eig = np.linalg.eigvalsh(hess)
        if eig.min() > 1e-10 * max(1.0, eig.max()):
            return np.linalg.inv(hess)
    except np.linalg.LinAlgError:
        pass
    return np.full(hess.shape, np.nan)


def _optimise(model: _Model, phi, bounds, mode, max_rounds: int = _ROUNDS):
    """Maximise the marginal likelihood: L-BFGS-B at fixed nodes, the nodes re-adapted
    between rounds until the estimates stop moving (by less than 1e-5, or than 0.5% of their
    standard error). Where the rounds creep along one direction (a geometric series: parameters
    the data tie together), the series is summed ahead (Aitken). Returns (phi, modes, rounds,
    settled)."""
    from scipy import optimize

    lower = np.array([-np.inf if lo is None else lo for lo, _ in bounds])
    upper = np.array([np.inf if hi is None else hi for _, hi in bounds])
    last = None
    for rounds in range(1, max_rounds + 1):
        at = model.adapt(phi, mode)
        mode = at.mode

        def objective(x):
            lm, g, _, _ = model.marginal(x, at)
            val = -lm.sum()
            grad = -g.sum(0)
            if not np.isfinite(val) or not np.isfinite(grad).all():
                return 1e300, np.zeros_like(x)
            return val, grad

        res = optimize.minimize(objective, phi, jac=True, method="L-BFGS-B", bounds=bounds,
                                options={"maxiter": 500, "ftol": 1e-13, "gtol": 1e-7})
        step = res.x - phi
        phi = res.x
        if not phi.size:
            return phi, mode, rounds, True
        if np.max(np.abs(step)) < 1e-5:
            return phi, mode, rounds, True
        if np.max(np.abs(step)) < 0.05:          # close: is the step small against the SEs?
            with np.errstate(all="ignore"):
                se = np.sqrt(np.diagonal(_inverse(_hessian(model, phi, at))))
            if np.all(np.abs(step) < 0.005 * se):
                return phi, mode, rounds, True
        if last is not None:
            ratio = np.linalg.norm(step) / np.linalg.norm(last)
            cos = step @ last / (np.linalg.norm(step) * np.linalg.norm(last))
            if cos > 0.95 and 0 < ratio < 0.95:
                phi = np.clip(phi + step * ratio / (1 - ratio), lower, upper)
                step = None               # start a new series from the extrapolated point
        last = step
    return phi, mode, max_rounds, False


def _profile_sd(model: _Model, phi_hat, bounds, i: int, loglik: float, level: float, mode,
                at_floor: bool) -> tuple[float, float]:
    """Profile-likelihood interval of the SD ``exp(phi[i])``: where the profile log-likelihood
    has fallen by half the chi2_1 quantile at ``level`` (at ``2 level - 1`` for an SD at its
    floor, the boundary's one-sided reference; its lower limit is then 0, as it is wherever
    the profile never falls that far below the estimate)."""
    from scipy import optimize, stats

    target = 0.5 * float(stats.chi2.ppf(2 * level - 1 if at_floor else level, 1))

    def drop(log_sd):
        phi = phi_hat.copy()
        phi[i] = log_sd
        bd = list(bounds)
        bd[i] = (log_sd, log_sd)
        phi, modes, _, _ = _optimise(model, phi, bd, mode, max_rounds=2)
        return loglik - float(model.marginal(phi, model.adapt(phi, modes))[0].sum()) - target

    def walk(start, step):
        """Bracket the crossing: from ``start`` (inside) in steps until the profile falls."""
        inside = start
        out = start + step
        while drop(out) < 0:
            inside, out = out, out + step
            if not _LOG_TAU_MIN <= out <= _LOG_TAU_MAX:
                return None
        return float(np.exp(optimize.brentq(drop, min(inside, out), max(inside, out),
                                            xtol=0.05)))

    centre = np.log(1e-3) if at_floor else float(phi_hat[i])
    high = walk(centre, 1.0)
    high = float("nan") if high is None else high
    if at_floor or drop(_LOG_TAU_MIN) < 0:
        return 0.0, high
    low = walk(centre, -1.0)
    return (0.0 if low is None else low), high
