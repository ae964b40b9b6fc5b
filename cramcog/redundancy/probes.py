"""Streaming ridge-regression probes: sufficient statistics, exact k-fold CV, held-out scores.

Activations are never held whole: each batch is folded into float64 sufficient statistics per
group (a group is one cross-validation fold, or the held-out part):

    n, sum x, sum y, X^T X, X^T Y, sum y^2 (per output column)

Ridge regression with an intercept only needs these. With the centred matrices
``C = X^T X - n mx mx^T`` and ``Cxy = X^T Y - n mx my^T`` of the training groups,

    W(lam) = (C + lam I)^-1 Cxy,   b = my - mx W,   lam = alpha * trace(C) / D

(``alpha`` is relative to the mean eigenvalue of C, so one grid suits any activation scale).
The squared error of (W, b) on any group follows from that group's statistics alone, so k-fold
cross-validation over the folds is *exact* (the same numbers as refitting on raw activations).

A *target* is a block of output columns scored together: one attention head's context vector, or
one layer's whole attention output. Its R^2 on a group pools its columns:
``R^2 = 1 - sum_j SSE_j / sum_j SST_j`` with SST around that group's own mean.

Examples
--------
>>> import torch
>>> from cramcog.redundancy.probes import RidgeStats, fit_ridge_cv
>>> g = torch.Generator().manual_seed(0)
>>> x = torch.randn(600, 4, generator=g, dtype=torch.float64)
>>> y = x @ torch.randn(4, 3, generator=g, dtype=torch.float64) + 1.0
>>> stats = RidgeStats(4, 3, n_groups=4)
>>> for i in range(4):
...     stats.update(x[i::4], y[i::4], group=i)
>>> fit = fit_ridge_cv(stats, targets=[slice(0, 3)], heldout=3)
>>> round(float(fit.r2_heldout[0]), 6)
1.0
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

DEFAULT_ALPHAS = tuple(float(a) for a in np.logspace(-6, 2, 9))


class RidgeStats:
    """Float64 sufficient statistics of (x, y) pairs, kept separately per group.

    Parameters
    ----------
    d_in, d_out : int
        Widths of x and y.
    n_groups : int
        Number of groups (folds + held-out).

    Notes
    -----
    Memory: ``n_groups * (d_in^2 + d_in*d_out + 2*d_out + d_in + 1) * 8`` bytes, independent of how
    many tokens are streamed.
    """

    def __init__(self, d_in: int, d_out: int, n_groups: int):
        if min(d_in, d_out, n_groups) < 1:
            raise ValueError(f"d_in, d_out and n_groups must be >= 1, got {d_in}, {d_out}, {n_groups}")
        f64 = dict(dtype=torch.float64)
        self.d_in, self.d_out, self.n_groups = d_in, d_out, n_groups
        self.n = torch.zeros(n_groups, **f64)
        self.sx = torch.zeros(n_groups, d_in, **f64)
        self.sy = torch.zeros(n_groups, d_out, **f64)
        self.sxx = torch.zeros(n_groups, d_in, d_in, **f64)
        self.sxy = torch.zeros(n_groups, d_in, d_out, **f64)
        self.syy = torch.zeros(n_groups, d_out, **f64)

    @property
    def nbytes(self) -> int:
        return sum(t.numel() * 8 for t in (self.n, self.sx, self.sy, self.sxx, self.sxy, self.syy))

    def update(self, x: torch.Tensor, y: torch.Tensor, group: int) -> None:
        """Fold a batch into group ``group``. x: (N, d_in), y: (N, d_out)."""
        if x.dim() != 2 or y.dim() != 2 or x.shape[0] != y.shape[0]:
            raise ValueError(f"x and y must be (N, d) with equal N, got {tuple(x.shape)} and "
                             f"{tuple(y.shape)}")
        if x.shape[1] != self.d_in or y.shape[1] != self.d_out:
            raise ValueError(f"widths ({x.shape[1]}, {y.shape[1]}) differ from the statistics' "
                             f"({self.d_in}, {self.d_out})")
        if not 0 <= group < self.n_groups:
            raise ValueError(f"group {group} out of range 0..{self.n_groups - 1}")
        if x.shape[0] == 0:
            return
        x, y = x.detach().to("cpu", torch.float64), y.detach().to("cpu", torch.float64)
        self.n[group] += x.shape[0]
        self.sx[group] += x.sum(0)
        self.sy[group] += y.sum(0)
        self.sxx[group] += x.T @ x
        self.sxy[group] += x.T @ y
        self.syy[group] += (y * y).sum(0)

    def pooled(self, groups) -> tuple:
        """(n, sx, sy, sxx, sxy, syy) summed over ``groups``."""
        idx = torch.as_tensor(list(groups), dtype=torch.long)
        return tuple(t[idx].sum(0) for t in (self.n, self.sx, self.sy, self.sxx, self.sxy, self.syy))


def _centred(n, sx, sy, sxx, sxy):
    mx, my = sx / n, sy / n
    return mx, my, sxx - n * torch.outer(mx, mx), sxy - n * torch.outer(mx, my)


def column_sse(W, b, n, sx, sy, sxx, sxy, syy) -> torch.Tensor:
    """Per-column sum of squared errors of ``y_hat = x W + b`` over a group, from its statistics.

    sum_i (y_ij - x_i w_j - b_j)^2 expanded into moments; shape (d_out,).
    """
    return (syy - 2 * (sxy * W).sum(0) - 2 * b * sy + ((sxx @ W) * W).sum(0)
            + 2 * b * (sx @ W) + n * b * b)


def column_sst(n, sy, syy) -> torch.Tensor:
    """Per-column total sum of squares around the group's own mean; shape (d_out,)."""
    return syy - sy * sy / n


@dataclass
class RidgeFit:
    """A fitted probe: ``y_hat = x @ W + b``, one penalty per target.

    Attributes
    ----------
    W : Tensor (d_in, d_out), float64
    b : Tensor (d_out,), float64
    alpha : ndarray (n_targets,)
        Chosen relative penalty per target.
    r2_cv : ndarray (n_targets,)
        Cross-validated R^2 at the chosen penalty (pooled over folds).
    r2_heldout : ndarray (n_targets,)
        R^2 on the held-out group.
    targets : list of slice
    mean_y : Tensor (d_out,), float64
        Training mean of y: the intercept-only baseline predictor.
    """

    W: torch.Tensor
    b: torch.Tensor
    alpha: np.ndarray
    r2_cv: np.ndarray
    r2_heldout: np.ndarray
    targets: list
    mean_y: torch.Tensor = None

    def predict(self, x: torch.Tensor) -> torch.Tensor:
        """y_hat for x (N, d_in) -> (N, d_out), float64."""
        return x.to(torch.float64) @ self.W + self.b


def _solve_all(C, Cxy, alphas):
    """W for each alpha: list of (D, K). One eigendecomposition serves the whole grid."""
    D = C.shape[0]
    evals, V = torch.linalg.eigh(C)
    evals = evals.clamp_min(0.0)
    scale = max(float(torch.trace(C)) / D, 1e-300)
    A = V.T @ Cxy                                    # (D, K)
    return [V @ (A / (evals + a * scale)[:, None]) for a in alphas]


def fit_ridge_cv(stats: RidgeStats, targets: list, heldout: int,
                 alphas=DEFAULT_ALPHAS) -> RidgeFit:
    """Choose each target's penalty by exact k-fold CV over the non-held-out groups, refit on all
    of them, and score on the held-out group.

    Parameters
    ----------
    stats : RidgeStats
    targets : list of slice
        Column blocks of y scored (and penalised) together.
    heldout : int
        The held-out group; every other group is a CV fold.
    alphas : sequence of float
        Relative penalties tried (lam = alpha * trace(C)/D).

    Raises
    ------
    ValueError
        Fewer than two folds, or a fold / the held-out group saw fewer than 2 tokens.
    """
    folds = [g for g in range(stats.n_groups) if g != heldout]
    if len(folds) < 2:
        raise ValueError("cross-validation needs at least two folds besides the held-out group")
    for g in folds + [heldout]:
        if float(stats.n[g]) < 2:
            raise ValueError(f"group {g} has {int(stats.n[g])} tokens; every fold and the held-out "
                             "part need data: use more text or fewer folds")
    alphas = [float(a) for a in alphas]
    if not alphas or min(alphas) <= 0:
        raise ValueError(f"alphas must be positive, got {alphas}")
    n_t = len(targets)
    cv_sse = np.zeros((len(alphas), n_t))
    cv_sst = np.zeros(n_t)

    def per_target(col_values):
        return np.array([float(col_values[t].sum()) for t in targets])

    for f in folds:
        n, sx, sy, sxx, sxy, syy = stats.pooled([g for g in folds if g != f])
        mx, my, C, Cxy = _centred(n, sx, sy, sxx, sxy)
        ev = (stats.n[f], stats.sx[f], stats.sy[f], stats.sxx[f], stats.sxy[f], stats.syy[f])
        for i, W in enumerate(_solve_all(C, Cxy, alphas)):
            cv_sse[i] += per_target(column_sse(W, my - mx @ W, *ev))
        cv_sst += per_target(column_sst(ev[0], ev[2], ev[5]))
    best = cv_sse.argmin(0)                           # (n_targets,)

    n, sx, sy, sxx, sxy, syy = stats.pooled(folds)
    mx, my, C, Cxy = _centred(n, sx, sy, sxx, sxy)
    W = torch.zeros(stats.d_in, stats.d_out, dtype=torch.float64)
    chosen = sorted(set(best.tolist()))
    for i, Wa in zip(chosen, _solve_all(C, Cxy, [alphas[i] for i in chosen])):
        for t, target in enumerate(targets):
            if best[t] == i:
                W[:, target] = Wa[:, target]
    b = my - mx @ W
    ho = (stats.n[heldout], stats.sx[heldout], stats.sy[heldout], stats.sxx[heldout],
          stats.sxy[heldout], stats.syy[heldout])
    sse_ho = per_target(column_sse(W, b, *ho))
    sst_ho = per_target(column_sst(ho[0], ho[2], ho[5]))
    with np.errstate(divide="ignore", invalid="ignore"):
        r2_cv = 1.0 - cv_sse[best, np.arange(n_t)] / cv_sst
        r2_ho = 1.0 - sse_ho / sst_ho
    return RidgeFit(W=W, b=b, alpha=np.array([alphas[i] for i in best]), r2_cv=r2_cv,
                    r2_heldout=r2_ho, targets=list(targets), mean_y=my)


def relative_errors(fit: RidgeFit, x: torch.Tensor, y: torch.Tensor,
                    baseline: bool = False) -> torch.Tensor:
    """Per operation and target: ||y_hat - y|| / ||y|| (Euclidean, over the target's columns).

    With ``baseline=True`` the prediction is the training mean of y (intercept only), the
    reference for how much of the "predictable" share a constant retrieval already explains.

    Returns
    -------
    Tensor (N, n_targets), float64. A zero-norm y gives inf unless y_hat is zero too (then 0).
    """
    y = y.to(torch.float64)
    err = (fit.mean_y if baseline else fit.predict(x)) - y
    cols = []
    for t in fit.targets:
        num = err[:, t].norm(dim=1)
        den = y[:, t].norm(dim=1)
        cols.append(torch.where(num == 0, torch.zeros_like(num), num / den))
    return torch.stack(cols, 1)
