"""cramcog.comparison: the old import paths give its objects; each human curve is fitted once."""
from __future__ import annotations

import warnings
from pathlib import Path

import numpy as np
import pytest

import cramcog
from cramcog import comparison
from cramcog.comparison import fitting

T = np.array([1, 2, 4, 8, 16, 32.0])
Y = np.array([0.82, 0.66, 0.58, 0.46, 0.40, 0.34])


FOREST = {"forest_plot": "forest_plot", "plot_gamma_comparison": "forest_grid",
          "VERDICT_COLORS": "VERDICT_COLORS"}


def test_the_old_modules_re_export_the_same_objects_and_stay_thin():
    import cramcog.compare
    import cramcog.shape
    from cramcog.figures import forest

    for module in (cramcog.compare, cramcog.shape):
        assert module.__all__
        for name in module.__all__:
            # the forest plots moved on to figures (the comparison computes, figures draw)
            home = forest if name in FOREST else comparison
            assert getattr(module, name) is getattr(home, FOREST.get(name, name)), \
                (module.__name__, name)
        assert len(Path(module.__file__).read_text().splitlines()) < 30
    assert cramcog.compare_gamma is comparison.compare_gamma
    assert cramcog.compare_shape is comparison.compare_shape


@pytest.fixture
def counted(monkeypatch):
    """Fits that reach cramcog.dynamics, each giving a warning; nothing kept from before."""
    import cramcog.dynamics as dynamics

    calls = []
    real = dynamics.fit_consolidation_curve

    def counting(t, y, **kwargs):
        calls.append(kwargs["family"])
        warnings.warn("a fit's own warning", UserWarning)
        return real(t, y, **kwargs)

    monkeypatch.setattr(dynamics, "fit_consolidation_curve", counting)
    monkeypatch.setattr(fitting, "_KEPT", {})
    return calls


def test_a_kept_fit_is_fitted_once_and_gives_its_warnings_again(counted):
    settings = dict(ci="wald", level=0.95, seed=0, keep=True)
    with pytest.warns(UserWarning, match="a fit's own warning"):
        first = fitting.fit_one(T, Y, None, "power", **settings)
    with pytest.warns(UserWarning, match="a fit's own warning"):
        again = fitting.fit_one(T, Y.copy(), None, "power", **settings)
    assert again is first and counted == ["power"]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        other_seed = fitting.fit_one(T, Y, None, "power", **dict(settings, seed=1))
        not_kept = fitting.fit_one(T, Y, None, "power", **dict(settings, keep=False))
        assert other_seed is not first and not_kept is not first
        assert counted == ["power"] * 3
        for _ in range(2):   # an error is kept too, and raised again
            with pytest.raises(ValueError, match="at least"):
                fitting.fit_one(T[:2], Y[:2], None, "power", **settings)
    assert counted == ["power"] * 4


def test_compare_gamma_reuses_the_human_fits_of_compare_shape(counted):
    from cramcog.dynamics.toy_consolidation import simulate_consolidation

    toy = [simulate_consolidation(n_episodes=60, seed=s) for s in (0, 1, 2)]
    human = "zbrodoff_1995_alpha_arithmetic"
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        comparison.compare_shape(toy, human, ["exponential", "power"], ci="wald")
        pooled = comparison.seed_pooled_gamma(toy)
        del counted[:]
        table = comparison.compare_gamma(pooled, human=human, ci="wald")
    assert counted == [] and len(table) == 1 and table.verdict.iloc[0] != "no fit"


@pytest.mark.parametrize("name", ["cramcog.comparison", "cramcog.comparison.curves",
                                  "cramcog.comparison.fitting", "cramcog.comparison.shape",
                                  "cramcog.comparison.gamma", "cramcog.comparison.report",
                                  "cramcog.compare", "cramcog.shape"])
def test_docstring_examples(name):
    import doctest
    import importlib

    import matplotlib

    matplotlib.use("Agg")
    result = doctest.testmod(importlib.import_module(name),
                             optionflags=doctest.ELLIPSIS | doctest.NORMALIZE_WHITESPACE)
    assert result.attempted > 0 and result.failed == 0
