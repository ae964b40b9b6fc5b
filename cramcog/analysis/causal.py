"""The causal test: does the semantic route carry the binding, does attention carry novel ones?

At the end of a run, on held-out sequences:

- recurring queries that take the semantic route in the retrieving layer: their f_sem outputs are
  swapped with those of recurring queries of OTHER patterns in the same batch (in every layer
  where they take the semantic route), and separately zeroed. If f_sem really carries the
  binding, accuracy collapses, and under the swap the model answers the partner's value;
- novel queries: attention is skipped (their route moved to working memory in every layer).
  They can only be answered from the episodic buffer, so accuracy must fall to chance
  (1 / n_values).

A model whose other weights (working memory, MLPs) answer recurring queries by themselves keeps
its accuracy under the swap: the test can fail, which is its point.

torch is imported inside the functions.

Examples
--------
>>> import numpy as np
>>> src = swap_partners(np.array([[3, -1, 5], [5, 3, -1]]))
>>> src.tolist()   # flat index of a query with ANOTHER pattern; -1 where no recurring query
[[2, -1, 0], [4, 3, -1]]
"""
from __future__ import annotations

import numpy as np

# record variable of the causal test -> its column in final_metrics / the consolidation record
CAUSAL_COLUMNS = {
    "causal_recurring_accuracy_clean": "semantic_accuracy_recurring",
    "causal_recurring_accuracy_swap": "swap_accuracy_recurring",
    "causal_recurring_swap_partner_share": "swap_partner_share",
    "causal_recurring_accuracy_zero": "zero_accuracy_recurring",
    "causal_recurring_semantic_queries": "semantic_recurring_queries",
    "causal_novel_accuracy_clean": "causal_accuracy_novel",
    "causal_novel_accuracy_skip": "skip_accuracy_novel",
}
CAUSAL_VARIABLES = (*CAUSAL_COLUMNS, "causal_novel_queries")   # what the training record keeps


def swap_partners(pattern: np.ndarray) -> np.ndarray:
    """For every recurring query (pattern >= 0), the flat index of a query with another pattern.

    Queries are sorted by pattern and each is paired with the query ``m`` places later in that
    order (cyclically), ``m`` being the size of the largest pattern group: a group is contiguous
    and at most ``m`` long, so the partner has another pattern whenever the largest group is at
    most half of the queries. Otherwise (a batch with too few patterns) ValueError.

    Parameters
    ----------
    pattern
        (B, N) int, recurring pattern at recurring queries, -1 elsewhere.

    Returns
    -------
    numpy.ndarray
        (B, N) int64, flat index ``b * N + n`` of the partner, -1 where ``pattern < 0``.
    """
    pattern = np.asarray(pattern)
    flat = pattern.ravel()
    idx = np.flatnonzero(flat >= 0)
    out = np.full(flat.shape, -1, dtype=np.int64)
    if idx.size == 0:
        return out.reshape(pattern.shape)
    order = idx[np.argsort(flat[idx], kind="stable")]
    m = int(np.bincount(flat[idx]).max())
    if 2 * m > idx.size:
        raise ValueError(f"swap_partners: one pattern holds {m} of {idx.size} recurring queries; "
                         "a swap needs the largest pattern to be at most half of them")
    out[order] = np.roll(order, -m)
    return out.reshape(pattern.shape)


def causal_test(model, batches, retrieving: int, n_values: int, autocast_mode: str = "off"
                ) -> dict[str, float]:
    """Accuracy of recurring queries under f_sem swap / zero, of novel queries without attention.

    Parameters
    ----------
    model
        A CRAM model (or a baseline built from its layers).
    batches
        SRCD batches (held-out sequences).
    retrieving
        The retrieving layer (:func:`cramcog.analysis.probes.retrieving_layer`): recurring queries
        routed to semantic memory THERE are the ones tested.
    n_values
        Size of the value vocabulary (chance = 1 / n_values).
    autocast_mode
        The run's autocast (:func:`cramcog.device.autocast`); batches go to the model's device.

    Returns
    -------
    dict
        :data:`CAUSAL_VARIABLES` (counts as float; accuracies NaN where no query qualifies) and
        ``causal_chance``.
    """
    import torch

    from cramcog.device import autocast, model_device
    from cramcog.model.cram import Intervention
    from cramcog.model.router import SEMANTIC

    device = model_device(model)

    def run(tb, intervention=None):
        with autocast(device, autocast_mode):
            return model(tb, sample=False, intervention=intervention)

    was_training = model.training
    model.eval()
    tally = {k: 0.0 for k in ("rec_n", "rec_clean", "rec_swap", "rec_partner", "rec_zero",
                              "nov_n", "nov_clean", "nov_skip")}
    with torch.no_grad():
        for batch in batches:
            tb = batch.to_torch(device)
            qk, target = tb["query_kind"], tb["target"]
            clean = run(tb)
            if not clean.layers:
                raise ValueError("causal_test needs a model with routed layers (CRAM or a "
                                 "baseline built from CRAM layers)")
            pred = clean.value_logits.argmax(-1)
            sem = (qk == 1) & (clean.layers[retrieving].route == SEMANTIC)      # (B, N)
            novel = qk == 2
            n_sem = int(sem.sum())
            tally["rec_n"] += n_sem
            tally["nov_n"] += int(novel.sum())
            tally["nov_clean"] += float((pred[novel] == target[novel]).sum())
            if n_sem:
                tally["rec_clean"] += float((pred[sem] == target[sem]).sum())
                rec_pattern = np.where(batch.query_kind == 1, batch.pattern, -1)
                src = torch.as_tensor(swap_partners(rec_pattern), device=device)
                swapped = run(tb, Intervention(semantic_source=src))
                p_swap = swapped.value_logits.argmax(-1)
                partner_target = target.reshape(-1)[src.clamp(min=0)].reshape(target.shape)
                tally["rec_swap"] += float((p_swap[sem] == target[sem]).sum())
                tally["rec_partner"] += float((p_swap[sem] == partner_target[sem]).sum())
                zeroed = run(tb, Intervention(semantic_zero=qk == 1))
                tally["rec_zero"] += float((zeroed.value_logits.argmax(-1)[sem]
                                            == target[sem]).sum())
            if bool(novel.any()):
                skipped = run(tb, Intervention(skip_attention=novel))
                tally["nov_skip"] += float((skipped.value_logits.argmax(-1)[novel]
                                            == target[novel]).sum())
    if was_training:
        model.train()
    share = lambda k, n: tally[k] / tally[n] if tally[n] else float("nan")  # noqa: E731
    return {"causal_recurring_semantic_queries": tally["rec_n"],
            "causal_recurring_accuracy_clean": share("rec_clean", "rec_n"),
            "causal_recurring_accuracy_swap": share("rec_swap", "rec_n"),
            "causal_recurring_swap_partner_share": share("rec_partner", "rec_n"),
            "causal_recurring_accuracy_zero": share("rec_zero", "rec_n"),
            "causal_novel_queries": tally["nov_n"],
            "causal_novel_accuracy_clean": share("nov_clean", "nov_n"),
            "causal_novel_accuracy_skip": share("nov_skip", "nov_n"),
            "causal_chance": 1.0 / float(n_values)}
