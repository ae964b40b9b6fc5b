"""The binding test (issue 22): site interventions, the batch without bindings, the command."""
import math
import shutil
from types import SimpleNamespace

import numpy as np
import pytest
import torch

from cramcog import records
from cramcog.analysis.causal import (BINDING_SITES, BINDING_VARIABLES, binding_test,
                                     remove_bindings, swap_partners)
from cramcog.configs import CRAMConfig, named_config
from cramcog.model import CRAM
from cramcog.model.cram import Intervention, ModelOutput
from cramcog.model.router import SEMANTIC, WORKING
from cramcog.tasks import SRCD, SRCDConfig

TASK = SRCD(SRCDConfig(seq_len=96, n_patterns=24, bank_size=2, seed=0))


def _cram(seed=0):
    torch.manual_seed(seed)
    cfg = CRAMConfig(d_model=16, n_layers=2, n_heads=2, semantic_hidden=16, mlp_ratio=1)
    return CRAM(cfg, 3, TASK.config.n_keys, TASK.config.n_values).eval()


@pytest.fixture(scope="module")
def tiny_run(tmp_path_factory):
    """A tiny run folder (record.nc + model.pt), a few training steps."""
    from cramcog.train import train
    out = tmp_path_factory.mktemp("binding") / "cram_s0"
    train(named_config("tiny", steps=6), progress=False, out_dir=out)
    return out


# ----------------------------------------------------------------------------- the intervention

def test_an_empty_intervention_changes_nothing():
    model = _cram()
    tb = TASK.sample(3, "test", seed=0).to_torch()
    with torch.no_grad():
        clean = model(tb, sample=False)
        for iv in (Intervention(), Intervention(layer=1), Intervention(site="mlp"),
                   Intervention(layer=0, site="layer")):
            out = model(tb, sample=False, intervention=iv)
            assert torch.equal(out.value_logits, clean.value_logits), iv
            assert torch.equal(out.dyn_pred, clean.dyn_pred), iv
            for a, b in zip(out.layers, clean.layers):
                assert torch.equal(a.route, b.route)


def test_a_bad_site_is_refused():
    with pytest.raises(ValueError, match="unknown"):
        Intervention(site="attention")
    with pytest.raises(ValueError, match="need a site"):
        Intervention(site_mean=torch.ones(1, 2, dtype=torch.bool))


@pytest.mark.parametrize("site", ["working", "mlp", "layer"])
def test_a_site_patch_gives_the_token_its_source_output(site):
    model = _cram(seed=1)
    layer = model.layers[0]
    B, N, d = 2, 10, 16
    x = torch.randn(B, N, d, generator=torch.Generator().manual_seed(0))
    dt = torch.rand(B, N)
    route = torch.full((B, N), WORKING)
    src = torch.full((B, N), -1)
    src[0, 7] = 1 * N + 3                  # token (0, 7) receives the site output of (1, 3)
    with torch.no_grad():
        clean, _ = layer(x, dt, sample=False, route_override=route)
        patched, _ = layer(x, dt, sample=False, route_override=route,
                           intervention=Intervention(site=site, site_source=src))
        wm = layer.working(layer.norm_wm(x), dt)                               # (B, N, d)
        h = x + wm
        mlp = layer.mlp(layer.norm_mlp(h))
    expect = clean.clone()
    if site == "working":     # the MLP then reads the patched stream
        h7 = x[0, 7] + wm[1, 3]
        expect[0, 7] = h7 + layer.mlp(layer.norm_mlp(h7))
    elif site == "mlp":
        expect[0, 7] = h[0, 7] + mlp[1, 3]
    else:                     # all the layer adds: x of its own token, the rest of the source's
        expect[0, 7] = x[0, 7] + (clean[1, 3] - x[1, 3])
    torch.testing.assert_close(patched, expect)
    torch.testing.assert_close(patched[1], clean[1])


def test_mean_ablation_and_the_named_layer():
    model = _cram(seed=2)
    tb = TASK.sample(2, "test", seed=1).to_torch()
    rec = tb["query_kind"] == 1
    with torch.no_grad():
        clean = model(tb, sample=False)
        routes = torch.stack([t.route for t in clean.layers])
        ablated = model(tb, sample=False, route_override=routes,
                        intervention=Intervention(layer=1, site="mlp", site_mean=rec))
    # only the recurring queries change, and their final streams now share the layer-1 MLP mean
    changed = (ablated.value_logits != clean.value_logits).any(-1)
    assert bool(changed[rec].all()) and not bool(changed[~rec].any())
    # layer 1 only: layer 0's routes and familiarity are untouched
    torch.testing.assert_close(ablated.layers[0].q_hat, clean.layers[0].q_hat)


def test_a_semantic_mean_ablation_only_touches_semantic_route_tokens():
    model = _cram(seed=3)
    tb = TASK.sample(2, "test", seed=2).to_torch()
    rec = tb["query_kind"] == 1
    sem = torch.zeros_like(rec)
    sem[0] = rec[0]                                        # row 0's recurring queries: f_sem
    route = torch.where(sem, SEMANTIC, WORKING).expand(2, *sem.shape)
    with torch.no_grad():
        clean = model(tb, sample=False, route_override=route)
        out = model(tb, sample=False, route_override=route,
                    intervention=Intervention(layer=0, site="semantic", site_mean=rec))
    changed = (out.value_logits != clean.value_logits).any(-1)
    assert bool(changed[sem].all()) and not bool(changed[rec & ~sem].any())


# ----------------------------------------------------------------------------- no context

def test_remove_bindings_turns_each_binding_into_an_observation():
    b = TASK.sample(3, "test", seed=4)
    before = {k: v.copy() for k, v in b.to_numpy().items()}
    nb = remove_bindings(b)
    for k, v in before.items():                            # the input is left alone
        assert np.array_equal(getattr(b, k), v), k
    gone = b.kind == 1
    assert gone.sum() == 3 * TASK.config.n_queries
    assert not (nb.kind == 1).any() and (nb.kind[gone] == 0).all()
    for name in ("key", "value", "binding_kind", "category"):
        assert (getattr(nb, name)[gone] == 0).all(), name
    assert (nb.pattern[gone] == -1).all() and (nb.pair_pos == -1).all()
    keep = ~gone                                           # the other events are as they were
    for name in ("kind", "key", "value", "obs", "time", "dt", "target", "query_kind"):
        assert np.array_equal(getattr(nb, name)[keep], getattr(b, name)[keep]), name
    # the new observation repeats the previous observation (the next one at the start)
    for r, n in zip(*np.nonzero(gone)):
        earlier = np.flatnonzero(b.kind[r, :n] == 0)
        j = earlier[-1] if earlier.size else np.flatnonzero(b.kind[r, n:] == 0)[0] + n
        assert np.array_equal(nb.obs[r, n], b.obs[r, j])
    # next_dt: the time to the next observation, counting the new ones
    for r in range(3):
        obs_at = np.flatnonzero(nb.kind[r] == 0)
        for n in (0, 10, 50):
            later = obs_at[obs_at > n]
            expect = nb.time[r, later[0]] - nb.time[r, n] if later.size else 0.0
            assert nb.next_dt[r, n] == pytest.approx(expect, abs=1e-5)
    # the query keys are still there, their bindings nowhere
    assert np.array_equal(nb.key[b.kind == 2], b.key[b.kind == 2])


# ----------------------------------------------------------------------------- binding_test

# what one binding_test returns: every variable but the every-layer repeats of binding_test_run
ONE_EDIT = {k for k in BINDING_VARIABLES if not k.startswith("every_layer_")}

class _Carrier(torch.nn.Module):
    """Answers every recurring query from ONE site of layer 0 (``site``), which is part of what
    the layer adds (site "layer"): patched, it answers what the source carries (the source's
    value); mean-ablated, it answers 0. Site "skip": no layer carries it (the embedding read out
    directly), no edit changes the answer. Novel queries are answered only while their binding is
    in the sequence (attention)."""

    def __init__(self, site, semantic_rows=()):
        super().__init__()
        self.site = site
        self.semantic_rows = semantic_rows
        self.layers = torch.nn.ModuleList([torch.nn.Module()])
        self.layers[0].mlp = torch.nn.Identity()

    def forward(self, batch, sample=False, route_override=None, intervention=None):
        qk, target = batch["query_kind"], batch["target"].clamp(min=0)
        B, N = qk.shape
        rec = qk == 1
        route = torch.full((B, N), WORKING)
        for r in self.semantic_rows:
            route[r] = torch.where(rec[r], SEMANTIC, WORKING)
        if route_override is not None:
            assert torch.equal(route_override[0], route)   # routes are held
        pred = torch.where((qk == 2) & (batch["pair_pos"] < 0), 0, target)
        iv = intervention
        if iv is not None and self.site != "skip" and iv.site in (self.site, "layer"):
            on = route == SEMANTIC if self.site == "semantic" else rec       # where it carries
            if iv.site_source is not None:
                src = iv.site_source
                moved = target.reshape(-1)[src.clamp(min=0)].reshape(B, N)
                pred = torch.where(on & (src >= 0), moved, pred)
            if iv.site_mean is not None:
                pred = torch.where(on & iv.site_mean, 0, pred)
        logits = torch.nn.functional.one_hot(pred, TASK.config.n_values + 1).float()
        return ModelOutput(logits, torch.zeros(B, N, 3), [SimpleNamespace(route=route)])


def _expected_pairs(batches):
    n = 0
    for b in batches:
        pattern = np.where(b.query_kind == 1, b.pattern, -1)
        src = swap_partners(pattern).ravel()
        rec = np.flatnonzero(pattern.ravel() >= 0)
        n += int((b.target.ravel()[src[rec]] != b.target.ravel()[rec]).sum())
    return n


@pytest.mark.parametrize("site", ["working", "mlp", "layer"])
def test_binding_test_finds_the_site_that_carries_the_binding(site):
    batches = [TASK.sample(6, "test", seed=s) for s in range(2)]
    res = binding_test(_Carrier(site), batches, retrieving=0, n_values=TASK.config.n_values)
    assert set(res) == ONE_EDIT
    n_rec = sum(int((b.query_kind == 1).sum()) for b in batches)
    n_nov = sum(int((b.query_kind == 2).sum()) for b in batches)
    assert res["binding_recurring_queries"] == n_rec and res["binding_novel_queries"] == n_nov
    assert res["binding_clean_accuracy_recurring"] == 1.0
    pairs = _expected_pairs(batches)
    for s in ("working", "mlp", "layer"):
        assert res[f"interchange_{s}_queries"] == pairs
        assert res[f"mean_ablation_{s}_queries"] == n_rec
        carried = s in (site, "layer")
        assert res[f"interchange_{s}_partner_share"] == (1.0 if carried else 0.0)
        assert res[f"interchange_{s}_accuracy_recurring"] == (0.0 if carried else 1.0)
        assert res[f"mean_ablation_{s}_accuracy_recurring"] == (0.0 if carried else 1.0)
    # no recurring query takes the semantic route: that site covers nothing
    assert res["interchange_semantic_queries"] == 0 == res["mean_ablation_semantic_queries"]
    assert math.isnan(res["interchange_semantic_partner_share"])
    assert math.isnan(res["mean_ablation_semantic_accuracy_recurring"])
    # without bindings: recurring queries answered from weights, novel ones lost
    assert res["no_context_accuracy_recurring"] == 1.0
    assert res["no_context_accuracy_novel"] == 0.0
    assert res["no_context_ablated_accuracy_recurring"] == 0.0
    assert res["binding_chance"] == pytest.approx(1 / TASK.config.n_values)


def test_every_layer_at_once_leaves_only_the_path_that_skips_the_layers():
    batches = [TASK.sample(6, "test", seed=3)]
    # a layer carries the binding: editing every layer removes it
    res = binding_test(_Carrier("layer"), batches, retrieving=None, n_values=TASK.config.n_values)
    assert res["binding_layer"] == -1 and res["mean_ablation_layer_accuracy_recurring"] == 0.0
    # no layer carries it (the query's embedding read out directly): nothing removes it
    res = binding_test(_Carrier("skip"), batches, retrieving=None, n_values=TASK.config.n_values)
    assert res["mean_ablation_layer_accuracy_recurring"] == 1.0
    # only the sites asked for, and no interchange when told
    res = binding_test(_Carrier("layer"), batches, retrieving=None,
                       n_values=TASK.config.n_values, sites=("layer",), interchange=False)
    assert math.isnan(res["interchange_layer_partner_share"])
    assert res["interchange_layer_queries"] == 0 == res["mean_ablation_working_queries"]
    assert res["mean_ablation_layer_accuracy_recurring"] == 0.0
    with pytest.raises(ValueError, match="unknown sites"):
        binding_test(_Carrier("layer"), batches, retrieving=None, n_values=256, sites=("x",))


def test_the_semantic_site_covers_semantic_route_queries_only():
    batches = [TASK.sample(6, "test", seed=5)]
    res = binding_test(_Carrier("semantic", semantic_rows=(0, 1, 2)), batches, retrieving=0,
                       n_values=TASK.config.n_values)
    b = batches[0]
    sem_rec = int((b.query_kind[:3] == 1).sum())
    assert res["mean_ablation_semantic_queries"] == sem_rec
    assert res["mean_ablation_semantic_accuracy_recurring"] == 0.0
    assert 0 < res["interchange_semantic_queries"] <= sem_rec
    assert res["interchange_semantic_partner_share"] == 1.0
    assert res["interchange_working_partner_share"] == 0.0


def test_binding_test_on_a_trained_cram(tiny_run):
    from cramcog.experiments.binding import binding_test_run
    from cramcog.configs import TrainConfig
    from cramcog.train import heldout_batches, load_model, make_task

    res = binding_test_run(tiny_run)
    assert set(res) == set(BINDING_VARIABLES)        # its own layer's edits and every layer's
    rec = res["binding_recurring_queries"]
    assert rec > 0
    for s in BINDING_SITES:
        assert res[f"interchange_{s}_queries"] <= rec
        assert res[f"mean_ablation_{s}_queries"] <= rec
        for k in (f"interchange_{s}_partner_share", f"interchange_{s}_accuracy_recurring",
                  f"mean_ablation_{s}_accuracy_recurring"):
            assert math.isnan(res[k]) or 0 <= res[k] <= 1, k
    for s in ("working", "mlp", "layer"):
        assert res[f"mean_ablation_{s}_queries"] == rec
    for k in ("no_context_accuracy_recurring", "no_context_ablated_accuracy_recurring",
              "no_context_accuracy_novel"):
        assert 0 <= res[k] <= 1
    # deterministic, and the patch does reach the logits
    assert binding_test_run(tiny_run) == pytest.approx(res, nan_ok=True)
    other = 1 - int(res["binding_layer"])                      # another layer on request
    assert binding_test_run(tiny_run, layer=other)["binding_layer"] == other
    cfg = TrainConfig.from_dict(records.open(tiny_run / "record.nc").cram.config)
    model = load_model(tiny_run)
    batch = heldout_batches(make_task(cfg), cfg)[0]
    tb = batch.to_torch()
    src = torch.as_tensor(swap_partners(np.where(batch.query_kind == 1, batch.pattern, -1)))
    with torch.no_grad():
        clean = model(tb, sample=False)
        patched = model(tb, sample=False, intervention=Intervention(
            layer=int(res["binding_layer"]), site="layer", site_source=src))
    rec_mask = tb["query_kind"] == 1
    assert not torch.allclose(patched.value_logits[rec_mask], clean.value_logits[rec_mask])


def test_binding_test_refuses_a_model_without_that_layer():
    with pytest.raises(ValueError, match="retrieving layer"):
        binding_test(_cram(), [TASK.sample(2, "test", seed=0)], retrieving=5, n_values=256)


# ----------------------------------------------------------------------------- the command

def test_consolidation_binding_adds_the_variables(tiny_run, tmp_path):
    from cramcog.cli import main

    # the same run as a bare record file (another seed), without a model: NaN
    bare = records.open(tiny_run / "record.nc")
    bare.attrs["seed"] = 7
    records.save(bare, tmp_path / "bare.nc")
    out = tmp_path / "c.nc"
    assert main(["consolidation", str(tiny_run), str(tmp_path / "bare.nc"), "--out", str(out),
                 "--no-fit", "--binding"]) == 0
    ds = records.open(out)
    for name, (units, _) in BINDING_VARIABLES.items():
        assert ds[name].dims == ("variant", "seed"), name
        assert ds[name].attrs["units"] == units and ds[name].attrs["long_name"]
    seed = int(records.open(tiny_run / "record.nc").attrs["seed"])
    with_model = ds.sel(variant="cram", seed=seed)
    assert float(with_model["binding_recurring_queries"]) > 0
    assert 0 <= float(with_model["no_context_accuracy_novel"]) <= 1
    assert np.isnan(ds.sel(variant="cram", seed=7)["binding_recurring_queries"].values)
    assert "--binding" in ds.attrs["command"] and "binding_test" in ds.attrs
    # without --binding the record has none of them
    assert main(["consolidation", str(tiny_run), "--out", str(tmp_path / "d.nc"),
                 "--no-fit"]) == 0
    assert "interchange_layer_partner_share" not in records.open(tmp_path / "d.nc")


def test_consolidation_binding_leaves_a_transformer_out(tiny_run, tmp_path):
    from cramcog.cli import main
    from cramcog.train import train

    dense = tmp_path / "transformer_s0"
    train(named_config("tiny", steps=4, model_kind="transformer"), progress=False, out_dir=dense)
    out = tmp_path / "c.nc"
    assert main(["consolidation", str(tiny_run), str(dense), "--out", str(out), "--no-fit",
                 "--binding"]) == 0
    ds = records.open(out)
    assert np.isnan(float(ds.sel(variant="transformer")["binding_recurring_queries"].max()))
    assert float(ds.sel(variant="cram")["binding_recurring_queries"].max()) > 0


def test_consolidation_binding_needs_the_model_of_a_run_folder(tiny_run, tmp_path, capsys):
    from cramcog.cli import main

    folder = tmp_path / "unfinished"
    folder.mkdir()
    shutil.copy(tiny_run / "record.nc", folder / "record.nc")
    assert main(["consolidation", str(folder), "--out", str(tmp_path / "c.nc"), "--no-fit",
                 "--binding"]) == 2
    err = capsys.readouterr().err
    assert "has no model.pt" in err and str(folder) in err
    assert not (tmp_path / "c.nc").exists()
