"""Executed-FLOP accounting (cramcog.model.compute) against torch's FlopCounterMode.

FlopCounterMode counts matrix products (2 FLOPs per multiply-add), as compute.py does. On the CPU
it does not see the attention cores (SDPA's CPU kernel and the routed reference's gather
arithmetic); those are counted by cramcog.kernels.attention_flops / dense_causal_flops (tested in
tests/kernels/test_kernel_flops.py), so the comparison is: counter == ours - attention cores.
"""
import pytest
import torch
from torch.utils.flop_counter import FlopCounterMode

from cramcog.configs import CRAMConfig, TrainConfig
from cramcog.kernels import dense_causal_flops, use_backend
from cramcog.model import DenseTransformer, build_model, cram_objective
from cramcog.model.compute import (COMPONENTS, executed_flops, tier_costs,
                                   transformer_flops_per_token)
from cramcog.model.router import EPISODIC, SEMANTIC, WORKING

B, N, P, V = 2, 12, 3, 6


def make_batch():
    g = torch.Generator().manual_seed(0)
    return {"kind": torch.zeros(B, N, dtype=torch.long), "obs": torch.randn(B, N, P, generator=g),
            "key": torch.zeros(B, N, dtype=torch.long),
            "value": torch.zeros(B, N, dtype=torch.long), "dt": torch.rand(B, N, generator=g)}


def sampled_forward(cfg):
    """A sampled (training) forward pass of a fresh CRAM on a batch with training targets."""
    torch.manual_seed(0)
    model = build_model("cram", cfg, obs_dim=P, n_keys=10, n_values=V)
    batch = make_batch()
    batch.update(target=torch.zeros(B, N, dtype=torch.long), dyn_target=torch.zeros(B, N, P),
                 dyn_mask=torch.ones(B, N), category=torch.zeros(B, N, dtype=torch.long),
                 query_kind=torch.zeros(B, N, dtype=torch.long))
    return model(batch, sample=True, generator=torch.Generator().manual_seed(3)), batch


def counted(model, routes, **kwargs):
    with use_backend("torch"), torch.no_grad(), FlopCounterMode(display=False) as counter:
        out = model(make_batch(), sample=False, route_override=routes, **kwargs)
    return counter.get_total_flops(), out


@pytest.mark.parametrize("working_memory,groups", [("ct_ode", 1), ("ct_ode", 2), ("ssm", 1)])
@pytest.mark.parametrize("routes", ["working", "semantic", "mixed", "episodic_dense"])
def test_cram_forward_flops_match_flop_counter(working_memory, groups, routes):
    torch.manual_seed(0)
    cfg = CRAMConfig(d_model=16, n_heads=2, n_layers=2, semantic_hidden=24, semantic_rank=4,
                     working_memory=working_memory, wm_groups=groups)
    model = build_model("cram", cfg, obs_dim=P, n_keys=10, n_values=V).eval()
    tiers = {"working": WORKING, "semantic": SEMANTIC, "episodic_dense": EPISODIC}
    if routes == "mixed":
        override = torch.randint(0, 3, (2, B, N), generator=torch.Generator().manual_seed(1))
    else:
        override = torch.full((2, B, N), tiers[routes])
    total, out = counted(model, override)
    ours = executed_flops(cfg, out.layers, B * N, P, V)
    assert set(ours) == set(COMPONENTS)
    cores = sum(t.attention_flops for t in out.layers)
    assert total == pytest.approx(sum(ours.values()) - cores, rel=1e-12)
    if routes == "semantic":
        assert ours["semantic"] > 0 and cores == 0
    if routes == "working":
        assert ours["semantic"] == 0


def test_transformer_flops_match_flop_counter():
    torch.manual_seed(0)
    cfg = CRAMConfig(d_model=16, n_heads=2, n_layers=2)
    model = DenseTransformer(cfg, P, 10, V)
    with torch.no_grad(), FlopCounterMode(display=False) as counter:
        model(make_batch())
    per_token = transformer_flops_per_token(cfg, N, P, V)
    cores = cfg.n_layers * B * dense_causal_flops(N, None, cfg.n_heads, cfg.head_dim)
    assert counter.get_total_flops() == pytest.approx(sum(per_token.values()) * B * N - cores)


def test_tier_costs_order_and_growth_with_length():
    cfg = CRAMConfig(d_model=64, n_heads=2, semantic_hidden=128, semantic_rank=16)
    short, long = tier_costs(cfg, 256), tier_costs(cfg, 2048)
    assert short["working"] == 0 < short["semantic"] < short["episodic"]
    # attention's share of a layer grows with the context: a wide f_sem cannot pay at short N
    wide = CRAMConfig(d_model=64, n_heads=2, semantic_hidden=1024, semantic_rank=16)
    assert tier_costs(wide, 256)["semantic"] > tier_costs(wide, 256)["episodic"]
    per_position = tier_costs(cfg, 256, positions=torch.arange(256).numpy())["episodic"]
    assert per_position[0] < short["episodic"] < per_position[-1]
    assert long["episodic"] > short["episodic"]


def test_compute_cost_charges_the_routes_taken():
    """The router's REINFORCE reward falls by lambda x tier cost: with a constant task loss, a
    batch whose tokens take f_sem gets a larger router loss gradient away from it than a free run."""
    cfg = CRAMConfig(d_model=16, n_heads=2, n_layers=1, semantic_hidden=24, familiarity_lift="attention")
    out, batch = sampled_forward(cfg)
    def router_loss(compute_cost, cost_on):
        tcfg = TrainConfig(model=cfg, attention_cost=0.0, compute_cost=compute_cost)
        return cram_objective(out, batch, tcfg, cost_on=cost_on, floor=0.01)[1]

    free, paid, warm = router_loss(0.0, True), router_loss(1.0, True), router_loss(1.0, False)
    assert paid["loss_router"] != free["loss_router"]
    assert warm["loss_router"] == free["loss_router"]      # no cost during the warm-up


def test_familiarity_lift_against_attention_leaves_working_vs_semantic_alone():
    from cramcog.model.router import Router
    z = torch.randn(3, 5, 16)
    logits = {}
    for lift in ("semantic", "attention"):
        torch.manual_seed(0)
        router = Router(CRAMConfig(d_model=16, n_heads=2, familiarity_lift=lift,
                                   router_q_gain=10.0, q_threshold=0.01))
        with torch.no_grad():
            router.familiarity[-1].bias.fill_(10.0)            # q_hat ~ 1: the full lift
        logits[lift] = router(z)[0]
    a, s = logits["attention"], logits["semantic"]
    assert torch.allclose(a[..., SEMANTIC] - a[..., WORKING], torch.zeros(3, 5), atol=1e-6)
    assert (s[..., SEMANTIC] - s[..., WORKING] > 9).all()
    assert (a[..., EPISODIC] < s[..., EPISODIC] - 9).all()


def test_training_record_holds_executed_flops_and_the_run_total():
    from cramcog.configs import named_config
    from cramcog.train import train
    rec = train(named_config("tiny", steps=3, eval_every=3), progress=False)
    per_step = rec.executed_flops_per_token.sum("component")
    dense = float(rec.transformer_flops_per_token.sum())
    assert rec.executed_flops_per_token.dims == ("step", "component")
    assert rec.attrs["run_flops_ratio"] == pytest.approx(float(per_step.mean()) / dense)
    assert rec.attrs["run_executed_flops"] / rec.attrs["run_transformer_flops"] == \
        pytest.approx(rec.attrs["run_flops_ratio"])
    # in the warm-up (dense path) every token attends: CRAM's attention equals the Transformer's
    assert float(rec.executed_flops_per_token.sel(component="attention")[0]) == \
        pytest.approx(float(rec.transformer_flops_per_token.sel(component="attention")))


def test_cost_table_columns_are_the_tier_costs():
    from cramcog.model.objective import compute_cost_table
    cfg = CRAMConfig(d_model=16, n_heads=2, semantic_hidden=24)
    table = compute_cost_table(cfg, 10, "cpu")                                  # (N, 3)
    costs = tier_costs(cfg, 10, positions=torch.arange(10).numpy())
    assert table.shape == (10, 3)
    assert torch.all(table[:, WORKING] == 0)
    torch.testing.assert_close(table[:, EPISODIC], torch.tensor(costs["episodic"],
                                                                 dtype=torch.float32))
    assert torch.all(table[:, EPISODIC].diff() > 0)            # later queries see more keys
    torch.testing.assert_close(table[:, SEMANTIC], torch.full((10,), costs["semantic"]))


def test_a_charged_route_loses_probability_and_a_free_one_gains():
    """Same task loss everywhere: the REINFORCE gradient pushes the log-probability of the route
    that pays down and of the free route up (a sign error or swapped columns fail here)."""
    from types import SimpleNamespace

    from cramcog.model.objective import router_loss
    route = torch.tensor([[WORKING, SEMANTIC, WORKING, SEMANTIC]])
    logp = torch.zeros(1, 4, requires_grad=True)
    trace = SimpleNamespace(route=route, logp=logp, replay=torch.zeros(1, 4, dtype=torch.bool))
    cost = torch.where(route == SEMANTIC, 0.5, 0.0)
    router_loss(trace, torch.zeros(1, 4), torch.zeros(1, 4, dtype=torch.long), cost).backward()
    assert (logp.grad[route == SEMANTIC] > 0).all()    # descent lowers the paying route's logp
    assert (logp.grad[route == WORKING] < 0).all()


def test_router_loss_can_wait_for_the_end_of_the_warm_up():
    cfg = CRAMConfig(d_model=16, n_heads=2, n_layers=1, semantic_hidden=24)
    out, batch = sampled_forward(cfg)
    held = TrainConfig(model=cfg, router_loss_in_warmup=False)
    assert cram_objective(out, batch, held, cost_on=False, floor=0.01)[1]["loss_router"] == 0
    assert cram_objective(out, batch, held, cost_on=True, floor=0.01)[1]["loss_router"] != 0
    assert cram_objective(out, batch, TrainConfig(model=cfg), cost_on=False,
                          floor=0.01)[1]["loss_router"] != 0
