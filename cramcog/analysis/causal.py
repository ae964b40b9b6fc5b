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

The binding test (:func:`binding_test`, issue 22) asks where the binding (recurring key ->
value) lives for EVERY recurring test query, whatever its route, site by site in the retrieving
layer (:data:`cramcog.model.cram.SITES`: f_sem, working memory, the MLP, the whole layer's
contribution to the residual stream), with the routes held at the clean run's:

- interchange (activation patching): pattern j's site output patched into pattern i's query;
  the share of answers equal to j's value and to i's own;
- mean ablation: the site output of recurring queries replaced by its mean over the batch's
  recurring queries (zeros would be out of distribution);
- no context: every binding event turned into an observation (:func:`remove_bindings`), so
  attention has nothing to find. Recurring queries still answered then are answered from
  weights (consolidated); novel ones must fall to chance. Also with the layer mean-ablated.

:func:`cramcog.experiments.binding.binding_test_run` runs it on a finished run folder
(``record.nc`` + ``model.pt``).

torch is imported inside the functions.

Examples
--------
>>> import numpy as np
>>> src = swap_partners(np.array([[3, -1, 5], [5, 3, -1]]))
>>> src.tolist()   # flat index of a query with ANOTHER pattern; -1 where no recurring query
[[2, -1, 0], [4, 3, -1]]
"""
from __future__ import annotations

from typing import Sequence

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

# the binding test's sites, in a CRAM layer (cramcog.model.cram.SITES)
BINDING_SITES = ("semantic", "working", "mlp", "layer")
_SITE_TEXT = {"semantic": "f_sem output (semantic-route queries only)",
              "working": "working-memory output",
              "mlp": "MLP output",
              "layer": "whole layer contribution to the residual stream (working memory, "
                       "attention / f_sem, MLP)"}
# binding_test's results -> (units, long_name), the record attrs of each variable
BINDING_VARIABLES = {
    "binding_layer": ("1", "layer the binding test edits (the retrieving layer)"),
    "binding_recurring_queries": ("queries", "recurring test queries (binding test)"),
    "binding_novel_queries": ("queries", "novel test queries (binding test)"),
    "binding_clean_accuracy_recurring": ("1", "accuracy of the recurring test queries, no edit"),
    "binding_chance": ("1", "chance accuracy, 1 / n_values"),
}
for _site in BINDING_SITES:
    _where = f"{_SITE_TEXT[_site]} in the retrieving layer"
    BINDING_VARIABLES.update({
        f"interchange_{_site}_partner_share": (
            "1", f"share of recurring queries answering the partner pattern's value when the "
                 f"partner's {_where} is patched in"),
        f"interchange_{_site}_accuracy_recurring": (
            "1", f"share answering their own value under that patch of the {_where}"),
        f"interchange_{_site}_queries": (
            "queries", f"recurring queries of the interchange of the {_where} (partner with "
                       "another value)"),
        f"mean_ablation_{_site}_accuracy_recurring": (
            "1", f"recurring accuracy with the {_where} replaced by its mean over the batch's "
                 "recurring queries"),
        f"mean_ablation_{_site}_queries": (
            "queries", f"recurring queries of the mean ablation of the {_where}"),
    })
BINDING_VARIABLES.update({
    "no_context_accuracy_recurring": ("1", "recurring accuracy with every binding event removed "
                                           "from the sequence (turned into an observation)"),
    "no_context_ablated_accuracy_recurring": (
        "1", "the same with the retrieving layer's contribution mean-ablated at the recurring "
             "queries"),
    "no_context_accuracy_novel": ("1", "novel accuracy with every binding event removed (chance "
                                       "expected)"),
})
# the whole-layer edits repeated in EVERY layer at once: what is left answering is the path that
# skips every layer (the query's embedding read out by the heads)
# (mean ablations only: an interchange in every layer at once would patch in outputs its
# partner computed from an already patched stream, so it would not measure the partner's binding)
EVERY_LAYER = ("mean_ablation_layer_accuracy_recurring", "no_context_ablated_accuracy_recurring")
BINDING_VARIABLES.update({
    f"every_layer_{name}": (BINDING_VARIABLES[name][0], BINDING_VARIABLES[name][1].replace(
        "the retrieving layer", "every layer at once").replace(
        "in the retrieving layer", "in every layer at once")) for name in EVERY_LAYER})


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


def _clean_pass(run, batch, device, what: str):
    """A batch on ``device``, its query kinds and targets (B, N), and its unedited forward pass
    (ValueError for a model without routed layers: there is nothing to edit)."""
    tb = batch.to_torch(device)
    clean = run(tb)
    if not clean.layers:
        raise ValueError(f"{what} needs a model with routed layers (CRAM or a baseline built "
                         "from CRAM layers)")
    return tb, tb["query_kind"], tb["target"], clean


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
            tb, qk, target, clean = _clean_pass(run, batch, device, "causal_test")
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


def remove_bindings(batch):
    """The batch with every binding event turned into an observation: no key, no value.

    The event keeps its time; its observation is the previous observation's (the next one's at
    the start of a sequence), and ``next_dt`` (a model input: time to the next observation) is
    recomputed with the new observations, so the sequence looks like one drawn without the
    binding. Queries keep their targets; their ``pair_pos`` becomes -1. The dynamics targets are
    left as they were (not measured here).

    Parameters
    ----------
    batch
        An :class:`cramcog.tasks.batch.SRCDBatch`.

    Returns
    -------
    SRCDBatch
        A copy; ``batch`` is not changed.

    Examples
    --------
    >>> from cramcog.tasks import SRCD, SRCDConfig
    >>> b = SRCD(SRCDConfig(seq_len=64, bank_size=2)).sample(2, "test", seed=0)
    >>> nb = remove_bindings(b)
    >>> int((b.kind == 1).sum()), int((nb.kind == 1).sum()), int((nb.pair_pos >= 0).sum())
    (6, 0, 0)
    >>> bool((nb.target == b.target).all())
    True
    """
    import dataclasses

    from cramcog.tasks.batch import KIND_BINDING, KIND_OBSERVATION

    arrays = {k: v.copy() for k, v in batch.to_numpy().items()}
    kind, time = arrays["kind"], arrays["time"]
    B, N = kind.shape
    was_obs = kind == KIND_OBSERVATION                                      # (B, N)
    gone = kind == KIND_BINDING                                             # (B, N)
    pos = np.arange(N)
    # nearest observation before each position (else after it): its observation is copied
    prev = np.maximum.accumulate(np.where(was_obs, pos, -1), axis=1)        # (B, N)
    nxt = np.minimum.accumulate(np.where(was_obs, pos, N)[:, ::-1], axis=1)[:, ::-1]
    src = np.where(prev >= 0, prev, nxt)
    rows = np.arange(B)[:, None]
    has = src < N
    obs = arrays["obs"]
    copied = np.where(has[..., None], obs[rows, np.minimum(src, N - 1)], 0.0)  # (B, N, P)
    obs[gone] = copied[gone]
    kind[gone] = KIND_OBSERVATION
    for name in ("key", "value", "binding_kind", "category"):
        arrays[name][gone] = 0
    arrays["pattern"][gone] = -1
    pair = arrays["pair_pos"]
    pair[pair >= 0] = -1                     # every binding is gone
    # time to the next observation event (0 if none), with the new observations
    is_obs = kind == KIND_OBSERVATION
    after = np.minimum.accumulate(np.where(is_obs, pos, N)[:, ::-1], axis=1)[:, ::-1]
    following = np.concatenate([after[:, 1:], np.full((B, 1), N)], axis=1)  # (B, N) j > i
    ok = following < N
    arrays["next_dt"] = np.where(ok, time[rows, np.minimum(following, N - 1)] - time,
                                 0.0).astype(np.float32)
    return dataclasses.replace(batch, **arrays)


def binding_test(model, batches, retrieving: int | None, n_values: int,
                 autocast_mode: str = "off", sites: Sequence[str] | None = None,
                 interchange: bool = True) -> dict[str, float]:
    """Where does the binding of a recurring query live? Interchange, mean ablation, no context.

    For every recurring query of the batches, in the retrieving layer only, at each site of
    :data:`BINDING_SITES` (module docstring), with every layer's routes held at those of the
    unedited run (an edit measures what the site carries, not a changed route):

    - interchange: the site output of the query's partner (:func:`swap_partners`: another
      pattern of the same batch) patched into the query. ``interchange_<site>_partner_share``
      and ``interchange_<site>_accuracy_recurring`` are the shares answering the partner's
      value and the query's own, over queries whose partner has another value;
    - mean ablation: the site output of the recurring queries replaced by its mean over them
      (per batch): ``mean_ablation_<site>_accuracy_recurring``;
    - no context (:func:`remove_bindings`): accuracy of recurring and novel queries, and of
      recurring ones with the layer's contribution mean-ablated as well.

    The semantic site only covers queries on the semantic route in the retrieving layer (f_sem
    runs nowhere else); ``*_queries`` count the queries each test covered.

    Parameters
    ----------
    model
        A CRAM model (or a baseline built from its layers).
    batches
        SRCD batches (held-out sequences; :func:`cramcog.train.heldout_batches`).
    retrieving
        The retrieving layer, where the sites are edited; None edits every layer at once
        (``binding_layer`` -1), which leaves only the path that skips the layers.
    n_values
        Size of the value vocabulary (chance = 1 / n_values).
    autocast_mode
        The run's autocast (:func:`cramcog.device.autocast`); batches go to the model's device.
    sites
        The sites to test (default :data:`BINDING_SITES`); the others get NaN and 0 queries.
    interchange
        False skips the interchange (NaN): with ``retrieving=None`` it is not meaningful.

    Returns
    -------
    dict
        :data:`BINDING_VARIABLES` as floats: counts, and accuracies / shares (NaN where no query
        qualifies). A batch whose largest pattern holds more than half of its recurring queries
        has no partners and is left out of the interchange.

    Examples
    --------
    >>> import torch
    >>> from cramcog.configs import CRAMConfig
    >>> from cramcog.model import CRAM
    >>> from cramcog.tasks import SRCD, SRCDConfig
    >>> task = SRCD(SRCDConfig(seq_len=64, n_patterns=16, bank_size=2))
    >>> _ = torch.manual_seed(0)
    >>> model = CRAM(CRAMConfig(d_model=16, n_heads=2, semantic_hidden=8), 3,
    ...              task.config.n_keys, task.config.n_values)
    >>> res = binding_test(model, [task.sample(4, "test", seed=0)], retrieving=0, n_values=256)
    >>> res["binding_recurring_queries"], res["interchange_mlp_queries"] <= 8
    (8.0, True)
    >>> 0 <= res["interchange_layer_partner_share"] <= 1
    True
    """
    import torch

    from cramcog.device import autocast, model_device
    from cramcog.model.cram import Intervention
    from cramcog.model.router import SEMANTIC

    device = model_device(model)
    layers = getattr(model, "layers", None)
    if layers is None or not (retrieving is None or 0 <= retrieving < len(layers)):
        raise ValueError(f"binding_test needs a model with routed layers and a retrieving layer "
                         f"among them (or None: every layer), got retrieving={retrieving}")
    edited = list(range(len(layers))) if retrieving is None else [retrieving]
    # a site the layer does not have is not tested (NaN, 0 queries)
    unknown = sorted(set(sites or ()) - set(BINDING_SITES))
    if unknown:
        raise ValueError(f"binding_test: unknown sites {unknown}; choose from {BINDING_SITES}")
    sites = [s for s in (sites or BINDING_SITES) if s != "mlp" or all(
        layers[i].mlp is not None for i in edited)]

    def run(tb, intervention=None, routes=None):
        with autocast(device, autocast_mode):
            return model(tb, sample=False, route_override=routes, intervention=intervention)

    keys = ["rec", "rec_clean", "nov", "nc_rec", "nc_abl", "nc_nov"] + [
        f"{k}_{s}" for s in BINDING_SITES for k in ("ic_n", "ic_partner", "ic_own", "ma_n", "ma")]
    tally = {k: 0.0 for k in keys}
    was_training = model.training
    model.eval()
    with torch.no_grad():
        for batch in batches:
            tb, qk, target, clean = _clean_pass(run, batch, device, "binding_test")
            routes = torch.stack([t.route for t in clean.layers])                # (L, B, N)
            rec, novel = qk == 1, qk == 2                                        # (B, N)
            tally["rec"] += int(rec.sum())
            tally["nov"] += int(novel.sum())
            tally["rec_clean"] += float((clean.value_logits.argmax(-1)[rec] == target[rec]).sum())
            on_sem = rec & (routes[edited] == SEMANTIC).any(0)
            covered = {s: on_sem if s == "semantic" else rec for s in sites}

            # interchange: the partner's site output patched in
            try:
                src = swap_partners(np.where(batch.query_kind == 1, batch.pattern, -1)) \
                    if interchange else None
            except ValueError:          # too few patterns in this batch to pair them
                src = None
            if src is not None:
                src = torch.as_tensor(src, device=device)                        # (B, N)
                partner = target.reshape(-1)[src.clamp(min=0)].reshape(target.shape)
                differ = rec & (src >= 0) & (partner != target)  # a same-value partner says nothing
                for s in sites:
                    sel = covered[s] & differ
                    if not bool(sel.any()):
                        continue
                    iv = Intervention(layer=retrieving, site=s,
                                      site_source=torch.where(sel, src, -1))
                    pred = run(tb, iv, routes).value_logits.argmax(-1)
                    tally[f"ic_n_{s}"] += int(sel.sum())
                    tally[f"ic_partner_{s}"] += float((pred[sel] == partner[sel]).sum())
                    tally[f"ic_own_{s}"] += float((pred[sel] == target[sel]).sum())

            # mean ablation over the batch's recurring queries the site covers
            for s in sites:
                sel = covered[s]
                if not bool(sel.any()):
                    continue
                pred = run(tb, Intervention(layer=retrieving, site=s, site_mean=sel),
                           routes).value_logits.argmax(-1)
                tally[f"ma_n_{s}"] += int(sel.sum())
                tally[f"ma_{s}"] += float((pred[sel] == target[sel]).sum())

            # no context: the bindings are gone, so attention cannot find them
            nb = remove_bindings(batch).to_torch(device)
            bare = run(nb)
            pred = bare.value_logits.argmax(-1)
            tally["nc_rec"] += float((pred[rec] == target[rec]).sum())
            tally["nc_nov"] += float((pred[novel] == target[novel]).sum())
            if bool(rec.any()):
                nroutes = torch.stack([t.route for t in bare.layers])            # (L, B, N)
                pred = run(nb, Intervention(layer=retrieving, site="layer", site_mean=rec),
                           nroutes).value_logits.argmax(-1)
                tally["nc_abl"] += float((pred[rec] == target[rec]).sum())
    if was_training:
        model.train()

    share = lambda k, n: tally[k] / tally[n] if tally[n] else float("nan")  # noqa: E731
    out = {"binding_layer": float(-1 if retrieving is None else retrieving),
           "binding_recurring_queries": tally["rec"],
           "binding_novel_queries": tally["nov"],
           "binding_clean_accuracy_recurring": share("rec_clean", "rec"),
           "binding_chance": 1.0 / float(n_values)}
    for s in BINDING_SITES:
        out[f"interchange_{s}_partner_share"] = share(f"ic_partner_{s}", f"ic_n_{s}")
        out[f"interchange_{s}_accuracy_recurring"] = share(f"ic_own_{s}", f"ic_n_{s}")
        out[f"interchange_{s}_queries"] = tally[f"ic_n_{s}"]
        out[f"mean_ablation_{s}_accuracy_recurring"] = share(f"ma_{s}", f"ma_n_{s}")
        out[f"mean_ablation_{s}_queries"] = tally[f"ma_n_{s}"]
    out["no_context_accuracy_recurring"] = share("nc_rec", "rec")
    out["no_context_ablated_accuracy_recurring"] = share("nc_abl", "rec")
    out["no_context_accuracy_novel"] = share("nc_nov", "nov")
    return {k: float(out[k]) for k in BINDING_VARIABLES if k in out}
