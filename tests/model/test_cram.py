"""CRAM model: causality, honest routing, gradients, determinism."""
import pytest
import torch

from cramcog.configs import CRAMConfig, TrainConfig
from cramcog.model import CRAM, EPISODIC, SEMANTIC, WORKING, DenseTransformer, cram_objective
from cramcog.model import episodic as episodic_module

OBS, KEYS, VALUES = 3, 12, 6  # as in conftest.random_batch


def make(cfg, seed=0, kind=CRAM):
    torch.manual_seed(seed)
    return kind(cfg, OBS, KEYS, VALUES)


def _perturb_after(batch, t):
    b = {k: v.clone() for k, v in batch.items()}
    b["obs"][:, t + 1:] += 5.0
    b["key"][:, t + 1:] = (b["key"][:, t + 1:] % KEYS) + 1
    b["dt"][:, t + 1:] *= 3.0
    return b


@pytest.mark.parametrize("wm", ["ct_ode", "ssm"])
def test_causality(batch, tiny_cfg, wm):
    cfg = CRAMConfig(**{**tiny_cfg.__dict__, "working_memory": wm, "episodic_init_bias": 0.0})
    model = make(cfg).eval()
    t = 11
    a = model(batch, sample=False)
    b = model(_perturb_after(batch, t), sample=False)
    assert torch.allclose(a.value_logits[:, :t + 1], b.value_logits[:, :t + 1], atol=1e-5)
    assert torch.allclose(a.dyn_pred[:, :t + 1], b.dyn_pred[:, :t + 1], atol=1e-5)
    assert not torch.allclose(a.dyn_pred[:, t + 1:], b.dyn_pred[:, t + 1:], atol=1e-3)


def test_transformer_causality(batch, tiny_cfg):
    model = make(tiny_cfg, kind=DenseTransformer).eval()
    a, b = model(batch), model(_perturb_after(batch, 9))
    assert torch.allclose(a.value_logits[:, :10], b.value_logits[:, :10], atol=1e-5)


def test_unrouted_tokens_execute_no_attention(batch, tiny_cfg, monkeypatch):
    model = make(tiny_cfg).eval()
    B, N = batch["kind"].shape
    override = torch.full((2, B, N), WORKING)
    override[0, 0, 5] = EPISODIC
    override[0, 1, 17] = EPISODIC
    override[1, :, :] = SEMANTIC
    seen = []
    real = episodic_module._ops.routed_attention

    def spy(q, k, v, batch_idx, pos, **kw):
        seen.append((q.shape[0], batch_idx.tolist(), pos.tolist()))
        return real(q, k, v, batch_idx, pos, **kw)

    monkeypatch.setattr(episodic_module._ops, "routed_attention", spy)
    out = model(batch, route_override=override)
    # layer 0: exactly the two routed queries reach the kernel; layer 1: none at all
    assert seen[0] == (2, [0, 1], [5, 17])
    assert all(m == 0 for m, _, _ in seen[1:])
    l0, l1 = out.layers
    assert l0.attention_flops == pytest.approx(4 * 2 * 8 * (6 + 18))  # 4 H Dh (keys per query)
    assert l1.attention_flops == 0.0 and l1.q.numel() == 0
    assert l0.attention_flops / l0.dense_flops < 0.1


def test_unrouted_outputs_do_not_depend_on_attention_weights(batch, tiny_cfg):
    model = make(tiny_cfg).eval()
    B, N = batch["kind"].shape
    override = torch.full((2, B, N), WORKING)
    override[:, 0, 20] = EPISODIC
    a = model(batch, route_override=override)
    with torch.no_grad():
        for layer in model.layers:
            layer.episodic.q.weight.mul_(3.0)
    b = model(batch, route_override=override)
    # attention only at (0, 20): everything before it, and the whole of sequence 1, is unchanged
    assert torch.allclose(a.value_logits[0, :20], b.value_logits[0, :20])
    assert torch.allclose(a.value_logits[1], b.value_logits[1])
    assert not torch.allclose(a.value_logits[0, 20], b.value_logits[0, 20])


def test_dense_path_matches_routed_path(batch, tiny_cfg):
    model = make(tiny_cfg).eval()
    B, N = batch["kind"].shape
    routed = torch.zeros(B, N, dtype=torch.bool)
    routed[:, ::2] = True
    z = torch.randn(B, N, tiny_cfg.d_model)
    epi = model.layers[0].episodic
    sparse = epi(z, routed)
    epi.cfg = CRAMConfig(**{**tiny_cfg.__dict__, "dense_threshold": 0.1})
    dense = epi(z, routed)
    assert torch.allclose(sparse[0], dense[0], atol=1e-5)
    assert dense[3] > sparse[3]          # the dense path is charged its full FLOPs


def test_gradients_reach_router_and_all_tiers(batch, tiny_cfg):
    cfg = CRAMConfig(**{**tiny_cfg.__dict__, "episodic_init_bias": 0.0, "replay_rate": 0.2})
    model = make(cfg).train()
    tcfg = TrainConfig(model=cfg)
    gen = torch.Generator().manual_seed(0)
    out = model(batch, sample=True, generator=gen)
    loss, logs = cram_objective(out, batch, tcfg, cost_on=True, floor=0.01)
    loss.backward()
    layer = model.layers[0]
    for name, param in [("router", layer.router.proj.weight),
                        ("familiarity", layer.router.familiarity[0].weight),
                        ("working W1", layer.working.w_rec), ("working W_tau", layer.working.w_tau),
                        ("episodic q", layer.episodic.q.weight),
                        ("episodic kv", layer.episodic.kv.weight),
                        ("semantic", layer.semantic.w_in.weight)]:
        assert param.grad is not None and param.grad.abs().sum() > 0, name
    assert logs["loss_consolidation"] > 0 and logs["loss_router"] != 0


def test_no_consolidation_model_gets_no_teacher_gradient(batch, tiny_cfg):
    cfg = CRAMConfig(**{**tiny_cfg.__dict__, "consolidation": False})
    model = make(cfg).train()
    override = torch.full((2, *batch["kind"].shape), EPISODIC)   # nobody routed to semantic
    out = model(batch, route_override=override)
    loss, _ = cram_objective(out, batch, TrainConfig(model=cfg), cost_on=False, floor=0.01)
    loss.backward()
    assert all(p.grad is None or p.grad.abs().sum() == 0
               for p in model.layers[0].semantic.parameters())


def test_determinism_with_seed(tiny_cfg, make_batch):
    b = make_batch(seed=3)
    outs = []
    for _ in range(2):
        model = make(tiny_cfg, seed=7).train()
        gen = torch.Generator().manual_seed(11)
        out = model(b, sample=True, generator=gen)
        outs.append((out.value_logits, [t.route for t in out.layers]))
    assert torch.equal(outs[0][0], outs[1][0])
    assert all(torch.equal(r0, r1) for r0, r1 in zip(outs[0][1], outs[1][1]))


def test_router_starts_in_attention_warmup(tiny_cfg, batch):
    model = make(tiny_cfg).train()
    out = model(batch, sample=True, generator=torch.Generator().manual_seed(0))
    frac = torch.stack([(t.route == EPISODIC).float().mean() for t in out.layers]).mean()
    assert frac > 0.75   # episodic_init_bias 3 -> ~91% routed at initialisation


def test_exploration_and_replay_only_in_training(tiny_cfg, make_batch):
    b = make_batch(B=4, N=64, seed=1)
    cfg = CRAMConfig(**{**tiny_cfg.__dict__, "explore_rate": 0.999, "replay_rate": 0.0})
    model = make(cfg)
    out = model(b, sample=True, generator=torch.Generator().manual_seed(0))
    counts = torch.bincount(out.layers[0].route.flatten(), minlength=3).float() / (4 * 64)
    assert (counts > 0.2).all()                       # uniform exploration reaches every tier
    cfg = CRAMConfig(**{**tiny_cfg.__dict__, "explore_rate": 0.0, "replay_rate": 0.5,
                        "episodic_init_bias": -20.0})
    model = make(cfg)
    out = model(b, sample=True, generator=torch.Generator().manual_seed(0))
    trace = out.layers[0]
    assert 0.3 < float(trace.replay.float().mean()) < 0.7
    assert bool((trace.route[trace.replay] == EPISODIC).all())
    evals = model(b, sample=False)
    assert not bool(evals.layers[0].replay.any())
    assert not bool((evals.layers[0].route == EPISODIC).any())   # argmax, bias -20


def test_probes_send_attention_routed_tokens_to_semantic_in_training_only(tiny_cfg, make_batch):
    b = make_batch(B=4, N=64, seed=2)
    gen = lambda: torch.Generator().manual_seed(3)  # noqa: E731
    base = {**tiny_cfg.__dict__, "replay_rate": 0.0, "explore_rate": 0.0}
    plain = make(CRAMConfig(**base))(b, sample=True, generator=gen()).layers[0]
    model = make(CRAMConfig(**{**base, "probe_rate": 0.5}))
    probed = model(b, sample=True, generator=gen()).layers[0]
    # same routing noise: probes only move attention-routed tokens, and only to semantic
    moved = plain.route != probed.route
    assert bool((plain.route[moved] == EPISODIC).all())
    assert bool((probed.route[moved] == SEMANTIC).all())
    share = float(moved.sum()) / float((plain.route == EPISODIC).sum())
    assert 0.35 < share < 0.65
    # the probed tokens carry the semantic tier's log-probability (their REINFORCE term): at
    # initialisation (episodic bias 3) semantic is unlikely, episodic likely
    assert bool((probed.logp[moved] < -2.0).all()) and bool((plain.logp[moved] > -1.0).all())
    evals = model(b, sample=False)
    assert not bool((evals.layers[0].route == SEMANTIC).any())    # argmax: bias 3 on episodic


def test_probe_familiarity_target_learns_from_probed_tokens_only(tiny_cfg, make_batch):
    import torch.nn.functional as F
    b = make_batch(B=4, N=48, seed=4)
    cfg = CRAMConfig(**{**tiny_cfg.__dict__, "replay_rate": 0.0, "probe_rate": 0.3})
    model = make(cfg).train()
    tcfg = TrainConfig(model=cfg, familiarity_target="probe")
    out = model(b, sample=True, generator=torch.Generator().manual_seed(1))
    assert all(bool(t.probe.any()) for t in out.layers)
    _, logs = cram_objective(out, b, tcfg, cost_on=True, floor=0.01)
    # expected: BCE of q_hat at the probed tokens toward exp(-their task loss), mean over layers
    from cramcog.model import task_losses
    parts = task_losses(out.value_logits, out.dyn_pred, b)
    token_loss = (parts["ce_token"] + tcfg.dynamics_weight * parts["mse_token"]).detach()
    want = sum(float(F.binary_cross_entropy(t.q_hat[t.probe].detach(), torch.exp(-token_loss[t.probe])))
               for t in out.layers) / len(out.layers)
    assert logs["loss_familiarity"] == pytest.approx(want, rel=1e-5)
    # without probes there is nothing to learn from: no familiarity loss
    plain = CRAMConfig(**{**cfg.__dict__, "probe_rate": 0.0})
    out = make(plain).train()(b, sample=True, generator=torch.Generator().manual_seed(1))
    _, logs = cram_objective(out, b, TrainConfig(model=cfg, familiarity_target="probe"),
                             cost_on=True, floor=0.01)
    assert logs["loss_familiarity"] == 0.0


def test_probe_familiarity_target_needs_probes():
    with pytest.raises(ValueError, match="probe_rate"):
        TrainConfig(familiarity_target="probe")
    with pytest.raises(ValueError, match="familiarity_target"):
        TrainConfig(familiarity_target="loss")
