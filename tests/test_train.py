"""Training loop: record schema, checkpoint/resume equivalence, warm-up switch, CLI."""
import numpy as np
import pytest

from cramcog import records
from cramcog.configs import named_config
from cramcog.train import RECORD_FILE, summarise, train

# the provenance/timing attrs legitimately differ between two runs
_VOLATILE = {"created", "wall_seconds", "git_revision"}


def _tiny(**kw):
    return named_config("tiny", **kw)


def test_record_schema(tmp_path):
    rec = train(_tiny(), out_dir=tmp_path, progress=False)
    for name in ("attention_fraction", "semantic_fraction", "working_fraction",
                 "attention_flops_ratio"):
        assert rec[name].dims == ("step", "layer"), name
    assert rec["loss"].dims == ("step",)
    assert rec["retrieval_accuracy"].dims == ("eval_step", "query_kind")
    assert list(rec.query_kind.values) == ["overall", "recurring", "novel"]
    assert rec["dynamics_mse"].dims == ("eval_step",)
    assert rec["route_fraction"].dims == ("step", "layer", "category", "tier")
    assert rec.attrs["attention_floor"] > 0
    assert list(rec.step.values) == [1, 2, 3, 4, 5, 6] and list(rec.eval_step.values) == [3, 6]
    # router decisions partition the tokens; FLOPs ratio in (0, 1]
    np.testing.assert_allclose(rec.route_fraction.sum("tier").values, 1.0, atol=1e-6)
    assert ((rec.attention_flops_ratio > 0) & (rec.attention_flops_ratio <= 1)).all()
    # executed attention is at least the episodic decisions; on the dense path (FLOPs ratio 1:
    # the warm-up routes ~90% of the tiny batch) every token executed it
    dense = rec.attention_flops_ratio == 1.0
    assert bool(dense.any()) and (rec.attention_fraction.where(dense) == 1.0).sum() == dense.sum()
    assert (rec.attended_fraction.where(dense) == 1.0).sum() == 4 * dense.sum()
    summary = summarise(rec)
    assert 0 <= summary["test_accuracy_novel"] <= 1
    layer = summary["retrieving_layer"]
    assert summary["test_attention_over_floor"] == pytest.approx(
        float(rec.test_attention_fraction[layer]) / rec.attrs["attention_floor"])
    assert summary["test_attention_sum_over_floor"] == pytest.approx(
        float(rec.test_attention_fraction.sum()) / rec.attrs["attention_floor"])
    with pytest.raises(ValueError, match="did not finish"):
        summarise(rec.drop_vars("test_retrieval_accuracy"))
    on_disk = records.open(tmp_path / RECORD_FILE)
    assert on_disk.cram.config["model"]["d_model"] == 16
    assert "test_retrieval_accuracy" in on_disk


def test_interrupted_and_resumed_run_gives_the_same_record(tmp_path):
    whole = train(_tiny(), out_dir=tmp_path / "a", progress=False)
    part = train(_tiny(), out_dir=tmp_path / "b", progress=False, stop_after=4)
    assert part.sizes["step"] == 4 and "test_retrieval_accuracy" not in part
    resumed = train(_tiny(), out_dir=tmp_path / "b", progress=False)
    for name in whole.data_vars:
        np.testing.assert_array_equal(whole[name].values, resumed[name].values, err_msg=name)
    strip = lambda attrs: {k: v for k, v in attrs.items() if k not in _VOLATILE}  # noqa: E731
    assert strip(whole.attrs) == strip(resumed.attrs)


def test_resume_refuses_a_different_config(tmp_path):
    train(_tiny(steps=3), out_dir=tmp_path, progress=False, stop_after=3)
    with pytest.raises(ValueError, match="different config"):
        train(_tiny(steps=4), out_dir=tmp_path, progress=False)


def test_warmup_switches_cost_on_when_novel_accuracy_passes(tmp_path):
    # threshold 0: the first evaluation ends the warm-up, whatever the accuracy
    rec = train(_tiny(warmup_novel_accuracy=0.0), progress=False)
    assert rec.attrs["warmup_end_step"] == 3
    assert list(rec.cost_on.values) == [0, 0, 0, 1, 1, 1]
    never = train(_tiny(warmup_novel_accuracy=1.0), progress=False)
    assert never.attrs["warmup_end_step"] == -1 and int(never.cost_on.sum()) == 0


def test_transformer_baseline_trains(tmp_path):
    rec = train(_tiny(model_kind="transformer"), progress=False)
    assert float(rec.attention_flops_ratio.min()) == 1.0
    assert np.isfinite(rec.dynamics_mse.values).all()


def test_bad_arguments():
    with pytest.raises(ValueError, match="stop_after"):
        train(_tiny(), stop_after=0, progress=False)
    with pytest.raises(TypeError, match="config must be"):
        train(3.5, progress=False)


def test_cli_train(tmp_path, capsys):
    from cramcog.cli import main
    rc = main(["train", "--config", "tiny", "--steps", "3", "--out", str(tmp_path),
               "--no-progress", "--set", "eval_every=3"])
    assert rc == 0
    assert (tmp_path / RECORD_FILE).exists()
    assert str(tmp_path) in capsys.readouterr().out


def test_probes_exposures_and_causal_test_are_recorded():
    cfg = _tiny()
    rec = train(cfg, progress=False)
    assert rec.probe_attended.dims == ("eval_step", "layer", "probe")
    assert rec.probe_correct.dims == ("eval_step", "probe")
    kinds = set(rec.probe_kind.values.tolist())
    assert kinds == {"recurring", "novel"}
    rec_pat = rec.probe_pattern.values[rec.probe_kind.values == "recurring"]
    assert np.bincount(rec_pat, minlength=16).min() >= cfg.probe_per_pattern
    # exposures: every training query of a pattern counted once, cumulatively
    from cramcog.train import make_task
    task = make_task(cfg)
    e = rec.pattern_exposures.values
    assert (np.diff(e, axis=0) >= 0).all()
    assert e[-1].sum() == cfg.steps * cfg.batch_size * task.config.n_recurring
    assert e[0].sum() == 3 * cfg.batch_size * task.config.n_recurring   # first eval at step 3
    # the tiny warm-up routes ~90% of tokens: dense path, every probe executed attention
    assert (rec.probe_attended.isel(eval_step=0) == 1).all()
    for name in ("causal_recurring_accuracy_swap", "causal_novel_accuracy_skip",
                 "causal_novel_queries"):
        assert name in rec, name
    assert rec.attrs["causal_chance"] == 1 / task.config.n_values
    assert rec.attrs["causal_retrieving_layer"] in (0, 1)
    none = train(_tiny(probe_per_pattern=0), progress=False)
    assert "probe_attended" not in none and "causal_novel_queries" not in none


def test_mod_like_gets_the_attention_warmup():
    # warm-up never ends: every token attends; ends at once: the fixed 5% capacity applies
    never = train(_tiny(model_kind="mod_like", warmup_novel_accuracy=1.0,
                        model={"consolidation": False}), progress=False)
    assert float(never.attention_fraction.min()) == 1.0 and never.attrs["warmup_end_step"] == -1
    ends = train(_tiny(model_kind="mod_like", warmup_novel_accuracy=0.0,
                       model={"consolidation": False}), progress=False)
    assert ends.attrs["warmup_end_step"] == 3
    att = ends.attention_fraction.values                                     # (step, layer)
    assert (att[:3] == 1.0).all() and (att[3:] < 0.5).all()   # short sequences: k >= 1 early


def test_mod_like_warmup_adds_attention_ungated():
    import torch

    from cramcog.model import build_model
    from cramcog.train import make_task, task_sizes
    cfg = _tiny(model_kind="mod_like", model={"consolidation": False})
    task = make_task(cfg)
    model = build_model("mod_like", cfg.model, **task_sizes(task)).eval()
    batch = task.sample(2, "val", seed=0).to_torch()
    layer = model.layers[0]
    x = model.embed(batch)
    with torch.no_grad():
        h, z, logits, _ = layer.before_attention(x, batch["dt"])
        epi, *_ = layer.episodic(z, torch.ones_like(batch["dt"], dtype=torch.bool))
        layer.attention_warmup = True
        _, trace = layer(x, batch["dt"], sample=False)
        layer.mlp = None            # compare before the channel MLP
        warm_no_mlp, _ = layer(x, batch["dt"], sample=False)
    assert bool(trace.executed.all())
    torch.testing.assert_close(warm_no_mlp, h + epi)          # ungated: weight 1
    layer.attention_warmup = False
    with torch.no_grad():
        _, trace = layer(x, batch["dt"], sample=False)
    assert not bool(trace.executed.all())


def test_a_checkpoint_from_before_the_probes_says_it_cannot_be_resumed(tmp_path):
    import torch

    cfg = named_config("tiny", steps=4)
    train(cfg, out_dir=tmp_path, progress=False, stop_after=2)
    ckpt_path = tmp_path / "checkpoint.pt"
    ckpt = torch.load(ckpt_path, map_location="cpu", weights_only=True)
    del ckpt["history"]["probe_attended"], ckpt["state"]["exposures"]     # an older writer
    del ckpt["sha256"]                                    # (which stored no checksum either)
    torch.save(ckpt, ckpt_path)
    with pytest.raises(ValueError, match="older cramcog") as err:
        train(cfg, out_dir=tmp_path, progress=False)
    assert "probe_attended" in str(err.value) and "exposures" in str(err.value)


def test_a_mod_like_run_whose_warm_up_never_ended_loads_as_it_was_tested(tmp_path):
    from cramcog.train import load_model

    train(named_config("tiny", steps=2, eval_every=2, model_kind="mod_like"), out_dir=tmp_path,
          progress=False)
    assert records.open(tmp_path / RECORD_FILE).attrs["warmup_end_step"] == -1
    assert load_model(tmp_path).attention_warmup            # every token attends, as in its test


class _Payload:
    """What a crafted checkpoint could hold: unpickling it would create a file."""

    def __init__(self, path):
        self.path = str(path)

    def __reduce__(self):
        return (open, (self.path, "w"))


def test_a_crafted_checkpoint_is_refused_without_running_its_code(tmp_path):
    import torch

    cfg = named_config("tiny", steps=4)
    train(cfg, out_dir=tmp_path, progress=False, stop_after=2)
    ckpt_path = tmp_path / "checkpoint.pt"
    ckpt = torch.load(ckpt_path, map_location="cpu", weights_only=True)   # safe to read
    assert isinstance(ckpt["state"]["exposures"], torch.Tensor)           # numpy saved as tensors
    ckpt["history"]["payload"] = _Payload(tmp_path / "PWNED")
    torch.save(ckpt, ckpt_path)
    with pytest.raises(ValueError, match="NOT unpickled"):
        train(cfg, out_dir=tmp_path, progress=False)
    assert not (tmp_path / "PWNED").exists()


def test_a_damaged_checkpoint_is_refused_clearly(tmp_path):
    cfg = named_config("tiny", steps=4)
    train(cfg, out_dir=tmp_path, progress=False, stop_after=2)
    (tmp_path / "checkpoint.pt").write_bytes(b"not a checkpoint")
    with pytest.raises(ValueError, match="no-resume"):
        train(cfg, out_dir=tmp_path, progress=False)


def test_the_cli_says_in_one_line_when_the_out_folder_cannot_be_made(tmp_path, capsys):
    from cramcog.cli import main

    blocker = tmp_path / "afile"
    blocker.write_text("x")
    for out in (blocker, blocker / "sub"):
        assert main(["train", "--config", "tiny", "--steps", "2", "--no-progress",
                     "--out", str(out)]) == 2
        err = capsys.readouterr().err
        assert err.count("\n") == 1 and "choose another --out" in err and "Traceback" not in err


def test_a_second_run_into_a_held_folder_is_refused_and_a_stale_lock_taken_over(tmp_path):
    import socket
    import subprocess

    from cramcog.train import LOCK_FILE

    cfg = named_config("tiny", steps=2, eval_every=2)
    lock = tmp_path / LOCK_FILE
    alive = subprocess.Popen(["sleep", "30"])
    try:
        lock.write_text(f"{alive.pid} {socket.gethostname()}")
        with pytest.raises(ValueError, match=f"another cramcog run \\(pid {alive.pid}\\)"):
            train(cfg, out_dir=tmp_path, progress=False)
        assert not (tmp_path / RECORD_FILE).exists()            # nothing of it was written
    finally:
        alive.kill()
        alive.wait()
    lock.write_text(f"{alive.pid} {socket.gethostname()}")      # its holder died: stale
    train(cfg, out_dir=tmp_path, progress=False)
    assert (tmp_path / RECORD_FILE).exists() and not lock.exists()   # released at the end
    lock.write_text("123 elsewhere.example")                     # another host: said, not taken
    with pytest.raises(ValueError, match="host elsewhere.example"):
        train(cfg, out_dir=tmp_path, progress=False)


def test_a_killed_runs_temp_files_are_cleaned_at_the_next_start(tmp_path):
    cfg = named_config("tiny", steps=2, eval_every=2)
    orphans = [tmp_path / ".record.nc.x1y2.tmp", tmp_path / ".checkpoint.pt.q9.tmp"]
    for orphan in orphans:
        orphan.write_bytes(b"half a file")
    (tmp_path / "notes.tmp").write_text("not ours")
    train(cfg, out_dir=tmp_path, progress=False)
    assert not any(o.exists() for o in orphans) and (tmp_path / "notes.tmp").exists()


def test_a_changed_checkpoint_or_model_is_refused_by_its_checksum(tmp_path):
    import torch

    from cramcog.train import load_model

    cfg = named_config("tiny", steps=4, eval_every=2)
    train(cfg, out_dir=tmp_path / "a", progress=False, stop_after=2)
    ckpt_path = tmp_path / "a" / "checkpoint.pt"
    ckpt = torch.load(ckpt_path, weights_only=True)
    name = next(iter(ckpt["model"]))
    ckpt["model"][name].view(-1)[0] += 1e-3          # one weight changed, the digest kept
    torch.save(ckpt, ckpt_path)
    with pytest.raises(ValueError, match="does not match the checksum"):
        train(cfg, out_dir=tmp_path / "a", progress=False)

    train(cfg, out_dir=tmp_path / "b", progress=False)
    load_model(tmp_path / "b")                        # as written: loads
    model_path = tmp_path / "b" / "model.pt"
    saved = torch.load(model_path, weights_only=True)
    saved["model"][name].view(-1)[0] += 1e-3
    torch.save(saved, model_path)
    with pytest.raises(ValueError, match="model.pt does not match"):
        load_model(tmp_path / "b")
    torch.save(saved["model"], model_path)            # a bare state dict (older cramcog): loads
    load_model(tmp_path / "b")
