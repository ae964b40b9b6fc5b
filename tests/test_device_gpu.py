"""Training and the experiments on a CUDA GPU (skipped elsewhere): real steps with the compiled
Triton kernels, a checkpoint written on the GPU resumed on the CPU, bf16 autocast, and the same
argmax routes on both devices for a trained model."""
import json

import numpy as np
import pytest

torch = pytest.importorskip("torch")

from cramcog import records  # noqa: E402
from cramcog.configs import MODEL_KINDS, named_config  # noqa: E402
from cramcog.train import CHECKPOINT_FILE, evaluate, load_model, make_task, train  # noqa: E402

HAS_CUDA = torch.cuda.is_available()
pytestmark = [pytest.mark.gpu, pytest.mark.skipif(not HAS_CUDA, reason="needs a CUDA GPU")]


def _tiny(**kw):
    return named_config("tiny", **kw)


@pytest.fixture(scope="module")
def cpu_run(tmp_path_factory):
    folder = tmp_path_factory.mktemp("cpu-run")
    train(_tiny(steps=12, eval_every=6), out_dir=folder, progress=False)
    return folder


@pytest.mark.parametrize("kind", MODEL_KINDS)
def test_real_steps_on_cuda(kind, tmp_path):
    rec = train(_tiny(model_kind=kind, device="cuda"), out_dir=tmp_path, progress=False)
    assert rec.attrs["device"] == "cuda:0" and rec.attrs["dtype"] == "float32"
    assert rec.attrs["device_name"] == torch.cuda.get_device_name(0)
    assert np.isfinite(rec.loss.values).all() and np.isfinite(rec.dynamics_mse.values).all()
    total = rec.attention_fraction + rec.semantic_fraction + rec.working_fraction
    np.testing.assert_allclose(total.values, 1.0, atol=1e-6)
    model = load_model(tmp_path, device="cuda")
    assert {p.device.type for p in model.parameters()} == {"cuda"}


def test_small_config_steps_on_cuda_bf16():
    """Training shapes (N=256, d=64): the Triton kernels on sparse and dense routes, in bf16."""
    for autocast in ("off", "bf16"):
        rec = train(named_config("small", steps=3, eval_every=3, eval_batches=1, test_batches=1,
                                 device="cuda", autocast=autocast), progress=False)
        assert np.isfinite(rec.loss.values).all(), autocast
        assert rec.attrs["dtype"].startswith("float32" if autocast == "off" else "bfloat16")


def test_ssm_working_memory_on_cuda_bf16():
    rec = train(_tiny(device="cuda", autocast="bf16", model={"working_memory": "ssm"}),
                progress=False)
    assert np.isfinite(rec.loss.values).all()


def test_checkpoint_written_on_cuda_resumes_on_cpu(tmp_path):
    train(_tiny(device="cuda"), out_dir=tmp_path, progress=False, stop_after=3)
    ckpt = torch.load(tmp_path / CHECKPOINT_FILE, map_location="cpu", weights_only=True)
    assert json.loads(ckpt["config"])["device"] == "cuda"
    rec = train(_tiny(device="cpu"), out_dir=tmp_path, progress=False)
    assert rec.sizes["step"] == 6 and "test_retrieval_accuracy" in rec
    assert rec.attrs["device"] == "cuda:0 -> cpu"
    assert np.isfinite(rec.loss.values).all()
    # and back: the CPU checkpoint resumes on the GPU
    other = tmp_path / "back"
    train(_tiny(device="cpu"), out_dir=other, progress=False, stop_after=3)
    back = train(_tiny(device="cuda"), out_dir=other, progress=False)
    assert back.attrs["device"] == "cpu -> cuda:0"


def test_evaluation_agrees_across_devices(cpu_run):
    """Argmax routes and float32 arithmetic: a trained model evaluates alike on both devices."""
    cfg = named_config("tiny", steps=12)
    task = make_task(cfg)
    on = {d: evaluate(load_model(cpu_run, device=d), task, cfg, "val", 2, 2) for d in ("cpu",
                                                                                       "cuda")}
    np.testing.assert_allclose(on["cuda"]["dynamics_mse"], on["cpu"]["dynamics_mse"], rtol=1e-3)
    np.testing.assert_allclose(on["cuda"]["fractions"], on["cpu"]["fractions"], atol=0.02)
    for kind in ("recurring", "novel"):
        a, b = on["cuda"]["accuracy"][kind], on["cpu"]["accuracy"][kind]
        assert (np.isnan(a) and np.isnan(b)) or abs(a - b) <= 0.1


def test_experiments_on_cuda(cpu_run, tmp_path):
    from cramcog.experiments.scaling import ScalingConfig, scaling_experiment
    from cramcog.experiments.transfer import TransferConfig, transfer_experiment
    grid = ScalingConfig(recurring_rates=(0.03, 0.06), seq_lens=(64, 128), n_sequences=2)
    gpu = scaling_experiment({"cram": cpu_run}, grid, device="cuda")
    cpu = scaling_experiment({"cram": cpu_run}, grid, device="cpu")
    assert gpu.attrs["device"] == "cuda:0"
    np.testing.assert_allclose(gpu.recurring_queries.values, cpu.recurring_queries.values)
    np.testing.assert_allclose(gpu.attention_tokens.values, cpu.attention_tokens.values, atol=1.0)
    cfg = TransferConfig(steps=2, tasks=("gaps_regular",), test_batches=1, test_batch_size=4)
    tr = transfer_experiment({"cram": [cpu_run]}, cfg, device="cuda")
    assert tr.attrs["device"] == "cuda:0" and np.isfinite(tr.dynamics_mse.values).all()


def test_redundancy_srcd_on_cuda(cpu_run, tmp_path):
    from cramcog.cli import main
    for device in ("cpu", "cuda"):
        assert main(["redundancy", "srcd", f"cram={cpu_run}", "--folds", "3", "--sequences",
                     "12", "--device", device, "--out", str(tmp_path / device)]) == 0
    gpu = records.open(tmp_path / "cuda" / "redundancy_srcd.nc")
    cpu = records.open(tmp_path / "cpu" / "redundancy_srcd.nc")
    np.testing.assert_allclose(gpu.executed_fraction_mean.values,
                               cpu.executed_fraction_mean.values, atol=0.02)


def test_cli_train_on_cuda(tmp_path, capsys):
    from cramcog.cli import main
    assert main(["train", "--config", "tiny", "--steps", "3", "--set", "eval_every=3",
                 "--device", "cuda", "--dtype", "bf16", "--out", str(tmp_path),
                 "--no-progress"]) == 0
    assert "ran on cuda:0, bfloat16" in capsys.readouterr().out


def test_ablation_cell_on_cuda(tmp_path):
    from concurrent.futures import ThreadPoolExecutor

    from cramcog.experiments.ablations import AblationGrid, base_config_dict, run_grid
    base = dict(base_config_dict("tiny"), steps=2, eval_every=2, test_batches=0, device="cuda")
    grid = AblationGrid(name="gpu", base=base, variants={"cram": {}}, seeds=(0,))
    with ThreadPoolExecutor(1) as pool:
        ds = run_grid(grid, tmp_path, executor=pool, progress=False)
    assert (ds.status == "ok").all()
    # the default process pool after this process has used CUDA (forked workers could not)
    torch.zeros(1, device="cuda")
    assert torch.cuda.is_initialized()
    grid = AblationGrid(name="gpu2", base=base, variants={"cram": {}}, seeds=(1,))
    ds = run_grid(grid, tmp_path / "pool", max_workers=1, progress=False)
    assert (ds.status == "ok").all(), ds.error.values
