"""Synthetic training records with per-pattern probes, whose consolidation is known exactly."""
import json

import numpy as np
import pytest

from cramcog import records

CATEGORIES = ["observation", "binding", "recurring_query", "novel_query"]


def probe_run(switch, *, per_pattern=8, n_novel=40, every=50, n_eval=40, warm_eval=4,
              per_step=1.44, seed=0, retrieving=1, consolidation=True, test_rec=0.1,
              slip=0.0):
    """A training record whose pattern p's probes attend (in layer ``retrieving``) until the
    pattern's exposures reach ``switch[p]`` (inf: never), and stop at once after: per-pattern
    steps. Novel probes attend in the retrieving layer only; the other layer attends nowhere.
    Exposures grow by ``per_step`` (a number, or one per pattern) per optimizer step. ``slip``: each
    recurring probe's route is flipped with this probability at each evaluation (seeded)."""
    switch = np.asarray(switch, dtype=float)
    P = switch.size
    steps = every * np.arange(1, n_eval + 1)
    rate = np.broadcast_to(np.asarray(per_step, dtype=float), (P,))         # per pattern
    exposures = np.outer(steps, rate)                                         # (E, P)
    pattern = np.r_[np.repeat(np.arange(P), per_pattern), np.full(n_novel, -1)]
    kind = np.where(pattern >= 0, "recurring", "novel")
    Q, E = pattern.size, steps.size
    att = np.zeros((E, 2, Q), dtype=np.int8)
    rec = pattern >= 0
    att[:, retrieving, rec] = exposures[:, pattern[rec]] < switch[pattern[rec]]
    if slip:
        flip = np.random.default_rng(seed).random((E, int(rec.sum()))) < slip
        att[:, retrieving, rec] ^= flip.astype(np.int8)
    att[:, retrieving, ~rec] = 1
    att[:warm_eval + 1, :, :] = 1      # the warm-up: dense attention everywhere
    correct = np.ones((E, Q), dtype=np.int8)
    warm_step = int(steps[warm_eval])
    eval_att = np.zeros((E, 2, 4))
    eval_att[:, retrieving, 2] = att[:, retrieving, rec].mean(1)
    eval_att[:, retrieving, 3] = 1.0
    eval_att[:warm_eval + 1] = 1.0
    test_att = np.zeros((2, 4))
    test_att[retrieving, 2], test_att[retrieving, 3] = test_rec, 1.0
    routes = np.zeros((2, 4, 3))
    routes[:, :, 0] = 1.0
    cfg = {"name": "synthetic", "model_kind": "cram", "seed": seed,
           "model": {"consolidation": consolidation}, "task": {"seq_len": 256}}
    floor = 4 / 256
    data = {
        "attention_fraction": (("step", "layer"), np.full((E, 2), 0.05)),
        "probe_attended": (("eval_step", "layer", "probe"), att),
        "probe_correct": (("eval_step", "probe"), correct),
        "pattern_exposures": (("eval_step", "pattern"), exposures.astype("int64")),
        "eval_attended_fraction": (("eval_step", "layer", "category"), eval_att),
        "test_attended_fraction": (("layer", "category"), test_att),
        "test_route_fraction": (("layer", "category", "tier"), routes),
        "test_attention_fraction": (("layer",), np.roll([0.0, 0.02], retrieving - 1)),
        "test_retrieval_accuracy": (("query_kind",), np.array([1.0, 1.0, 0.99])),
        "causal_recurring_accuracy_swap": ((), 0.01),
        "causal_recurring_accuracy_zero": ((), 0.02),
        "causal_novel_accuracy_skip": ((), 0.004),
    }
    coords = {"step": ("step", steps), "eval_step": ("eval_step", steps),
              "layer": ("layer", np.array(["L0", "L1"])),
              "category": ("category", np.array(CATEGORIES)),
              "tier": ("tier", np.array(["working", "episodic", "semantic"])),
              "query_kind": ("query_kind", np.array(["overall", "recurring", "novel"])),
              "probe": ("probe", np.arange(Q)), "probe_pattern": ("probe", pattern),
              "probe_kind": ("probe", kind), "pattern": ("pattern", np.arange(P))}
    return records.new_record(data, coords=coords, kind="training", config=cfg, seed=seed,
                              attrs={"attention_floor": floor, "warmup_end_step": warm_step,
                                     "name": "synthetic"})


@pytest.fixture
def make_probe_run():
    return probe_run


def config_of(ds):
    return json.loads(ds.attrs["config_json"])
