"""Training on any device: device names, the plumbing on the CPU (records, checkpoints, autocast,
the experiments and the CLI passing the device through). The same on a GPU: test_device_gpu.py."""
import doctest
import importlib
import json

import numpy as np
import pytest

torch = pytest.importorskip("torch")

from cramcog import records  # noqa: E402
from cramcog.configs import MODEL_KINDS, TrainConfig, named_config  # noqa: E402
from cramcog.device import check_device_name, resolve_device  # noqa: E402
from cramcog.train import CHECKPOINT_FILE, train  # noqa: E402

HAS_CUDA = torch.cuda.is_available()
_VOLATILE = {"created", "wall_seconds", "git_revision"}


def _tiny(**kw):
    return named_config("tiny", **kw)


@pytest.mark.parametrize("name", ["cramcog.device", "cramcog.configs", "cramcog.train",
                                  "cramcog.experiments.scaling", "cramcog.experiments.transfer"])
def test_docstring_examples(name):
    torch.set_num_threads(1)
    result = doctest.testmod(importlib.import_module(name), optionflags=doctest.ELLIPSIS)
    assert result.failed == 0, f"{result.failed} doctest(s) failed in {name}"


@pytest.mark.parametrize("name", ["auto", "cpu", "cuda", "cuda:0", "cuda:12"])
def test_device_names_accepted(name):
    check_device_name(name)
    assert TrainConfig(device=name).device == name


@pytest.mark.parametrize("name", ["gpu", "CUDA", "cuda:", "cuda:x", "cpu:0", "", None, 0])
def test_bad_device_names_rejected(name):
    with pytest.raises(ValueError, match="TrainConfig.device must be 'auto', 'cpu', 'cuda'"):
        TrainConfig(device=name)


def test_bad_autocast_rejected():
    with pytest.raises(ValueError, match="TrainConfig.autocast must be one of"):
        TrainConfig(autocast="fp16")


def test_resolve_device():
    assert resolve_device("cpu") == torch.device("cpu")
    assert resolve_device("auto").type == ("cuda" if HAS_CUDA else "cpu")
    if HAS_CUDA:
        with pytest.raises(ValueError, match="CUDA device"):
            resolve_device(f"cuda:{torch.cuda.device_count()}")
    else:
        with pytest.raises(ValueError, match="use --device cpu"):
            resolve_device("cuda")


@pytest.mark.skipif(HAS_CUDA, reason="checks the error where CUDA is absent")
def test_asking_for_cuda_without_it_fails_before_any_work(tmp_path):
    with pytest.raises(ValueError, match="'cuda:1' asked for"):
        train(_tiny(device="cuda:1"), out_dir=tmp_path, progress=False)
    assert not (tmp_path / CHECKPOINT_FILE).exists()


@pytest.mark.parametrize("backend", ["torch", "auto"])
def test_tiny_cpu_record_is_the_one_before_devices(backend):
    """Routing noise on the CPU is drawn exactly as before devices existed: these numbers are the
    tiny config's record written by the code before this change (same seed, one thread, the
    plain-torch CT-ODE), reproduced to the printed digits with the torch CT-ODE. The compiled
    CT-ODE loop now used on the CPU ("auto") changes float32 rounding only: the routes are the
    same, the losses within 1e-5 (tested at 1e-4). Over longer runs a rounding difference
    eventually flips a sampled route and the two runs part (small config: after ~110 steps)."""
    from cramcog.kernels import use_backend
    torch.set_num_threads(1)
    with use_backend(backend):
        rec = train(_tiny(), progress=False)
    np.testing.assert_allclose(rec.loss.values, [7.4532365799, 8.4237337112, 6.8438148499,
                                                 7.7259945869, 7.3211841583, 7.3043413162],
                               rtol=1e-9 if backend == "torch" else 1e-4)
    # routes are the random draws: counts out of 2 x 64 tokens, exact (the router's episodic
    # decisions; attention_fraction counts what executed it: every token on the dense path)
    episodic = 1.0 - rec.working_fraction.values - rec.semantic_fraction.values
    assert (rec.attention_fraction.values == 1.0).all()
    np.testing.assert_array_equal(np.round(episodic * 128), [
        [115, 118], [118, 122], [110, 111], [115, 112], [116, 118], [118, 116]])
    assert rec.attrs["device"] == "cpu" and rec.attrs["dtype"] == "float32"
    assert rec.attrs["device_name"]
    # the record names the kernels that computed it (the backends round differently)
    if backend == "torch":
        assert "ct_ode_scan=torch" in rec.attrs["kernel_backends"]
    else:
        from cramcog.kernels import resolve_backend
        expected = resolve_backend("ct_ode_scan", torch.device("cpu"))
        assert f"ct_ode_scan={expected}" in rec.attrs["kernel_backends"]


def test_auto_means_cuda_when_present():
    rec = train(_tiny(device="auto", steps=1, eval_every=1, test_batches=0), progress=False)
    assert rec.attrs["device"] == ("cuda:0" if HAS_CUDA else "cpu")
    assert json.loads(rec.attrs["config_json"])["device"] == "auto"   # what was asked


@pytest.mark.parametrize("kind", MODEL_KINDS)
@pytest.mark.parametrize("memory", ["ct_ode", "ssm"])
def test_bf16_autocast_trains_every_model(kind, memory):
    cfg = _tiny(model_kind=kind, steps=2, eval_every=2, model={"working_memory": memory},
                autocast="bf16")
    rec = train(cfg, progress=False)
    assert rec.attrs["dtype"].startswith("bfloat16 autocast")
    assert np.isfinite(rec.loss.values).all() and np.isfinite(rec.dynamics_mse.values).all()
    plain = train(_tiny(model_kind=kind, steps=2, eval_every=2,
                        model={"working_memory": memory}), progress=False)
    # autocast really changed the arithmetic (same seed, same routes drawn), by a little
    assert not np.array_equal(rec.loss.values, plain.loss.values)
    np.testing.assert_allclose(rec.loss.values[0], plain.loss.values[0], rtol=0.05)


def test_checkpoint_resumes_under_another_device_setting(tmp_path, monkeypatch):
    """The device is not part of a run's identity: a checkpoint written under one device setting
    resumes under another, loaded with map_location onto the device of the resumed run."""
    whole = train(_tiny(), progress=False)
    train(_tiny(device="cpu"), out_dir=tmp_path, progress=False, stop_after=3)
    ckpt_path = tmp_path / CHECKPOINT_FILE
    ckpt = torch.load(ckpt_path, weights_only=True)
    # pretend the first part ran on a GPU, and was written before TrainConfig had these fields
    old = json.loads(ckpt["config"])
    del old["device"], old["autocast"]
    ckpt["config"] = json.dumps(old, sort_keys=True)
    ckpt["state"]["devices"] = ["cuda:0"]
    del ckpt["sha256"]                  # an older writer stored no checksum
    torch.save(ckpt, ckpt_path)
    seen = {}
    real_load = torch.load

    def spy(*args, **kwargs):
        seen.update(kwargs)
        return real_load(*args, **kwargs)

    monkeypatch.setattr(torch, "load", spy)
    resumed = train(_tiny(device="auto"), out_dir=tmp_path, progress=False)
    assert seen["map_location"] == "cpu"    # a GPU checkpoint loads on any machine
    assert seen["weights_only"] is True     # and is never unpickled
    for name in whole.data_vars:
        np.testing.assert_array_equal(whole[name].values, resumed[name].values, err_msg=name)
    here = str(resolve_device("auto"))
    assert resumed.attrs["device"] == ("cuda:0" if here == "cuda:0" else f"cuda:0 -> {here}")
    # still refused: a config that trains another run
    with pytest.raises(ValueError, match="different config"):
        train(_tiny(device="cpu", autocast="bf16"), out_dir=tmp_path, progress=False)


def test_load_model_on_a_device(tmp_path):
    from cramcog.train import load_model
    train(_tiny(steps=2, eval_every=2), out_dir=tmp_path, progress=False)
    model = load_model(tmp_path, device="cpu")
    assert not model.training
    assert {p.device.type for p in model.parameters()} == {"cpu"}
    if not HAS_CUDA:
        with pytest.raises(ValueError, match="asked for"):
            load_model(tmp_path, device="cuda")


def test_cli_train_device_and_dtype(tmp_path, capsys):
    from cramcog.cli import main
    rc = main(["train", "--config", "tiny", "--steps", "2", "--out", str(tmp_path),
               "--no-progress", "--set", "eval_every=2", "--device", "cpu", "--dtype", "bf16"])
    assert rc == 0
    rec = records.open(tmp_path / "record.nc")
    assert rec.attrs["device"] == "cpu" and rec.attrs["dtype"].startswith("bfloat16")
    assert rec.cram.config["device"] == "cpu" and rec.cram.config["autocast"] == "bf16"
    assert "ran on cpu, bfloat16" in capsys.readouterr().out
    assert main(["train", "--config", "tiny", "--device", "gpu", "--out", str(tmp_path / "x"),
                 "--no-progress"]) == 2
    assert "TrainConfig.device must be" in capsys.readouterr().err


@pytest.fixture(scope="module")
def tiny_run(tmp_path_factory):
    folder = tmp_path_factory.mktemp("run")
    train(_tiny(), out_dir=folder, progress=False)
    return folder


def test_experiments_take_a_device(tiny_run, tmp_path, capsys):
    from cramcog.cli import main
    from cramcog.experiments.scaling import ScalingConfig, scaling_experiment
    from cramcog.experiments.transfer import TransferConfig, transfer_experiment

    grid = ScalingConfig(recurring_rates=(0.03,), seq_lens=(64,), n_sequences=2)
    ds = scaling_experiment({"cram": tiny_run}, grid, device="cpu")
    assert ds.attrs["device"] == "cpu"
    auto = scaling_experiment({"cram": tiny_run}, grid)
    assert auto.attrs["device"] == str(resolve_device("auto"))
    cfg = TransferConfig(steps=1, tasks=("gaps_regular",), test_batches=1, test_batch_size=2)
    tr = transfer_experiment({"cram": [tiny_run]}, cfg, device="cpu")
    assert tr.attrs["device"] == "cpu" and np.isfinite(tr.attention_fraction.values).all()
    if not HAS_CUDA:
        with pytest.raises(ValueError, match="asked for"):
            scaling_experiment({"cram": tiny_run}, grid, device="cuda")
        with pytest.raises(ValueError, match="asked for"):
            transfer_experiment({"cram": [tiny_run]}, cfg, device="cuda")
    assert main(["experiment", "scaling", f"cram={tiny_run}", "--rates", "0.03", "--seq-lens",
                 "64", "--sequences", "2", "--device", "cpu", "--out",
                 str(tmp_path / "s.nc")]) == 0
    assert records.open(tmp_path / "s.nc").attrs["device"] == "cpu"
    assert main(["experiment", "scaling", f"cram={tiny_run}", "--device", "tpu", "--out",
                 str(tmp_path / "t.nc")]) == 2
    assert "device must be" in capsys.readouterr().err


def test_redundancy_srcd_takes_a_device(tiny_run, tmp_path):
    from cramcog.cli import main
    assert main(["redundancy", "srcd", f"cram={tiny_run}", "--folds", "3", "--sequences", "12",
                 "--device", "cpu", "--out", str(tmp_path)]) == 0
    assert records.open(tmp_path / "redundancy_srcd.nc").executed_fraction_mean.size == 2


def test_ablation_cells_keep_across_devices_and_new_fields(tmp_path):
    from concurrent.futures import ThreadPoolExecutor

    from cramcog.experiments.ablations import (AblationGrid, _canonical_json, base_config_dict,
                                               cell_path, run_grid)

    tiny = base_config_dict("tiny")
    assert _canonical_json(dict(tiny, device="cuda:1")) == _canonical_json(tiny)
    assert _canonical_json(dict(tiny, autocast="bf16")) != _canonical_json(tiny)
    base = dict(tiny, steps=2, eval_every=2, test_batches=0)
    grid = AblationGrid(name="dev", base=base, variants={"cram": {}}, seeds=(0,))
    with ThreadPoolExecutor(1) as pool:
        run_grid(grid, tmp_path, executor=pool, progress=False)
    # the finished cell as a record written before TrainConfig had device/autocast fields
    path = cell_path(tmp_path, "cram", 0)
    ds = records.open(path).load()
    old = json.loads(ds.attrs["ablation_config_json"])
    del old["device"], old["autocast"]
    ds.attrs["ablation_config_json"] = json.dumps(old)
    records.save(ds, path)
    on_gpu = AblationGrid(name="dev", base=dict(base, device="cuda"), variants={"cram": {}},
                          seeds=(0,))
    with ThreadPoolExecutor(1) as pool:
        res = run_grid(on_gpu, tmp_path, executor=pool, progress=False, return_result=True)
    assert res.skipped == [("cram", 0)] and not res.ran


def test_cli_ablate_device_flag(tmp_path):
    import argparse

    from cramcog.commands.ablate import build_grid
    args = argparse.Namespace(grid="replay_rate", base="tiny", overrides=[], seeds=[0],
                              variants=None, device="cpu", dtype="bf16")
    cells = build_grid(args).cells()
    assert {c.config["device"] for c in cells} == {"cpu"}
    assert {c.config["autocast"] for c in cells} == {"bf16"}
