"""Theorem-1 scaling and transfer experiments on tiny trained runs (seconds)."""
from __future__ import annotations

import numpy as np
import pytest

pytest.importorskip("torch")

from cramcog import records
from cramcog.cli import main as cli_main
from cramcog.configs import named_config
from cramcog.experiments.scaling import (ScalingConfig, cell_task, proportionality,
                                        proportionality_by_seed, scaling_experiment)
from cramcog.experiments.transfer import TransferConfig, freeze_for_transfer, transfer_experiment
from cramcog.figures.experiments import scaling_frame, transfer_frame
from cramcog.train import load_model, train


@pytest.fixture(scope="module")
def tiny_runs(tmp_path_factory):
    root = tmp_path_factory.mktemp("runs")
    out = {}
    for name, cons in (("cram", True), ("no_consolidation", False)):
        for seed in (0, 1):
            folder = root / f"{name}-{seed}"
            train(named_config("tiny", seed=seed, model={"consolidation": cons}),
                  out_dir=folder, progress=False)
            out[(name, seed)] = folder
    return out


def test_cell_task_keeps_the_novel_rate():
    from cramcog.tasks import SRCDConfig
    for f in (0.005, 0.05):
        for n in (128, 1024):
            cfg = SRCDConfig(**cell_task({"n_patterns": 16}, f, n, 0.015))
            assert cfg.n_novel == pytest.approx(0.015 * n, abs=1)
            assert cfg.n_recurring == pytest.approx(f * n, abs=1)


def test_scaling_counts_match_the_routes(tiny_runs):
    runs = {"cram": [tiny_runs[("cram", 0)], tiny_runs[("cram", 1)]],
            "no_consolidation": tiny_runs[("no_consolidation", 0)]}
    cfg = ScalingConfig(recurring_rates=(0.03, 0.06), seq_lens=(64, 128), n_sequences=2)
    ds = scaling_experiment(runs, cfg)
    records.validate(ds)
    assert ds.attention_tokens.dims == ("router", "seed", "frequency", "seq_len")
    assert ds.seed.values.tolist() == [0, 1]
    # a router without a run of some seed has NaN there, not a copy of another seed
    assert np.isnan(ds.attention_tokens.sel(router="no_consolidation", seed=1)).all()
    assert np.isfinite(ds.attention_tokens.sel(router="cram")).all()
    full, ds = ds, ds.sel(seed=0)
    # recurring queries per sequence follow f x n; attended ones never exceed them
    fn = ds.frequency * ds.seq_len
    np.testing.assert_allclose(ds.recurring_queries.sel(router="cram"), fn, atol=1.0)
    assert bool((ds.attention_tokens <= ds.recurring_queries + 1e-9).all())
    assert bool((ds.layer_attention_tokens >= ds.attention_tokens - 1e-9).all())
    # same seed, same record values
    again = scaling_experiment(runs, cfg)
    np.testing.assert_array_equal(again.attention_tokens.values, full.attention_tokens.values)
    points, slopes = scaling_frame(ds)
    assert set(slopes.router) == {"cram", "no_consolidation"}
    beta = proportionality(ds)
    assert set(beta) == {"cram", "no_consolidation"}
    assert all(0 <= b <= 1.5 for b, _ in beta.values())
    by_seed = proportionality_by_seed(ds).set_index("router").beta
    assert by_seed["cram"] == pytest.approx(beta["cram"][0])   # one seed: pooled = per seed
    assert (slopes.beta_min <= slopes.beta + 1e-12).all()


def test_scaling_rejects_bad_input(tmp_path):
    with pytest.raises(ValueError, match="recurring_rates"):
        ScalingConfig(recurring_rates=(0.9,))
    with pytest.raises(FileNotFoundError, match="model.pt"):
        scaling_experiment({"cram": tmp_path}, ScalingConfig(n_sequences=1))


def test_scaling_refuses_two_runs_of_one_seed(tiny_runs):
    run = tiny_runs[("cram", 0)]
    with pytest.raises(ValueError, match="training seed 0"):
        scaling_experiment({"cram": [run, run]}, ScalingConfig(n_sequences=1))


def test_freeze_for_transfer_leaves_only_the_head(tiny_runs):
    model = load_model(tiny_runs[("cram", 0)])
    params = freeze_for_transfer(model, "body")
    names = {n for n, p in model.named_parameters() if p.requires_grad}
    assert names and not any(".semantic." in n or ".router." in n for n in names)
    freeze_for_transfer(model, "head")
    names = {n for n, p in model.named_parameters() if p.requires_grad}
    assert names and all(n.startswith("heads.") for n in names)
    assert len(params) > len(names)


def test_transfer_record_and_reduction(tiny_runs, tmp_path):
    runs = {"cram": [tiny_runs[("cram", 0)], tiny_runs[("cram", 1)]],
            "no_consolidation": [tiny_runs[("no_consolidation", 0)],
                                 tiny_runs[("no_consolidation", 1)]]}
    cfg = TransferConfig(steps=2, batch_size=2, test_batches=1, test_batch_size=2,
                         tasks=("gaps_regular", "system_vanderpol"),
                         bindings=("same", "disjoint"))
    ds = transfer_experiment(runs, cfg)
    records.validate(ds)
    assert ds.attention_fraction.dims == ("variant", "seed", "task", "bindings")
    assert list(ds.seed.values) == [0, 1]
    att = ds.attention_fraction.values
    assert np.isfinite(att).all() and ((att >= 0) & (att <= 1)).all()
    for name in ("recurring_attended", "novel_attended"):
        v = ds[name].values
        assert np.isfinite(v).all() and ((v >= 0) & (v <= 1)).all()
    df = transfer_frame(ds)
    assert set(df.task) == {"gaps_regular", "system_vanderpol"}
    assert set(df.bindings) == {"same", "disjoint"}
    ref = df[df.variant == "no_consolidation"]
    np.testing.assert_allclose(ref.reduction, 0.0)
    # the record's reduction is the frame's (one definition)
    cram = df[df.variant == "cram"].set_index(["seed", "task", "bindings"]).reduction
    rec = ds.attention_reduction.sel(variant="cram").to_series()
    np.testing.assert_allclose(rec.reorder_levels(cram.index.names).loc[cram.index], cram)
    with pytest.raises(ValueError, match="unknown transfer tasks"):
        transfer_experiment(runs, TransferConfig(steps=1, tasks=("nope",)))
    with pytest.raises(ValueError, match="bindings"):
        TransferConfig(bindings=("new",))


def test_disjoint_bindings_share_no_recurring_pair():
    from cramcog.tasks import SRCDConfig
    from cramcog.tasks.variants import shared_recurring_fraction, transfer_variants
    base = SRCDConfig(seq_len=256, n_patterns=100)
    for task in transfer_variants(base).values():
        assert shared_recurring_fraction(base, task.variant(recurring_overlap=0.0)) == 0.0


def test_experiment_cli_writes_records(tiny_runs, tmp_path, capsys):
    out = tmp_path / "scaling.nc"
    code = cli_main(["experiment", "scaling", f"cram={tiny_runs[('cram', 0)]}",
                     "--rates", "0.03", "0.06", "--seq-lens", "64", "--sequences", "1",
                     "--out", str(out)])
    assert code in (0, None)
    assert records.open(out).cram.kind == "scaling"
    assert "beta" in capsys.readouterr().out
    assert cli_main(["experiment", "scaling", "cram", "--out", str(out)]) != 0
    assert "expected NAME=DIR" in capsys.readouterr().err
