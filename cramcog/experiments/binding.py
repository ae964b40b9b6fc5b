"""The binding test on a finished training run (``record.nc`` + ``model.pt``).

:func:`cramcog.analysis.causal.binding_test` asks where a model keeps the recurring bindings
(interchange, mean ablation, bindings removed from the context); this module loads a run, its
task and its own held-out test batches and runs it there. It sits above ``cramcog.train`` (it
loads runs), so ``cramcog.analysis`` never imports training code.
"""
from __future__ import annotations

from cramcog.analysis.causal import EVERY_LAYER, binding_test


def binding_test_run(run_dir, device: str = "cpu", layer: int | None = None
                     ) -> dict[str, float]:
    """:func:`binding_test` of a finished run folder, on the run's own held-out test batches.

    The config comes from ``record.nc``, the weights from ``model.pt`` (loaded with
    ``weights_only=True``: a file from elsewhere never runs code), the batches from the run's
    seed (:func:`cramcog.train.heldout_batches`: those of its final test and causal test), the
    edited layer is the run's retrieving layer
    (:func:`cramcog.analysis.metrics.run_retrieving_layer`) and the autocast is the run's.

    Parameters
    ----------
    run_dir
        A run folder with ``record.nc`` and ``model.pt``.
    device
        Where the model runs: "cpu" (default), "auto", "cuda" or "cuda:N".
    layer
        The layer to edit instead of the retrieving one (e.g. to look for the binding in a
        later layer's MLP); ``binding_layer`` in the results says which.

    Returns
    -------
    dict
        :data:`BINDING_VARIABLES`.

    Raises
    ------
    FileNotFoundError
        The folder has no ``record.nc`` or no ``model.pt`` (an unfinished run).

    Examples
    --------
    >>> binding_test_run("runs/final20/cram_s1")["interchange_layer_partner_share"] # doctest: +SKIP
    """
    from pathlib import Path

    from cramcog import records
    from cramcog.analysis.metrics import run_retrieving_layer
    from cramcog.configs import TrainConfig
    from cramcog.train import RECORD_FILE, heldout_batches, load_model, make_task

    run_dir = Path(run_dir)
    for name in (RECORD_FILE, "model.pt"):
        if not (run_dir / name).is_file():
            raise FileNotFoundError(
                f"{run_dir} has no {name}: the binding test needs a finished run folder "
                f"({RECORD_FILE} + model.pt, written at the end of training)")
    record = records.open(run_dir / RECORD_FILE)
    cfg = TrainConfig.from_dict(record.cram.config)
    if not cfg.test_batches:
        raise ValueError(f"{run_dir}: the run has test_batches = 0, so no held-out test batches")
    task = make_task(cfg)
    model = load_model(run_dir, device)
    layer = run_retrieving_layer(record) if layer is None else int(layer)
    batches = heldout_batches(task, cfg)
    out = binding_test(model, batches, layer, task.config.n_values, cfg.autocast)
    every = binding_test(model, batches, None, task.config.n_values, cfg.autocast,
                         sites=("layer",), interchange=False)
    out.update({f"every_layer_{name}": every[name] for name in EVERY_LAYER})
    return out


__all__ = ["binding_test_run"]
