"""The batch container shared by SRCD and MQAR: numpy arrays, one event per position.

Fields (B = batch, N = seq_len, P = obs_dim):

===========  =============  ==================================================================
field        dtype (shape)  meaning
===========  =============  ==================================================================
kind         int64 (B,N)    0 observation, 1 binding (key and value shown), 2 query (key shown)
obs          float32 (B,N,P) observation of the dynamical system at kind 0 (0 elsewhere)
key          int64 (B,N)    key id 1..n_keys at binding/query events, 0 elsewhere
value        int64 (B,N)    value id 1..n_values at binding events, 0 elsewhere
target       int64 (B,N)    value id to answer at query events, -100 elsewhere (CE ignore)
query_kind   int64 (B,N)    0 not a query, 1 recurring query, 2 novel query
time         float32 (B,N)  absolute event time (time[:, 0] = 0)
dt           float32 (B,N)  gap since the previous event (dt[:, 0] = 0)
dyn_target   float32 (B,N,P) next observation after an observation event (0 elsewhere)
dyn_mask     bool (B,N)     where dyn_target is defined (observation with a later observation)
category     int64 (B,N)    0 observation, 1 binding, 2 recurring query, 3 novel query
next_dt      float32 (B,N)  time from this event to the next observation event (0 if none): the
                            horizon of dyn_target, known in advance (the observation schedule)
pattern      int64 (B,N)    recurring pattern index at recurring bindings/queries, -1 elsewhere
pair_pos     int64 (B,N)    at a query: the position of its binding; -1 elsewhere
binding_kind int64 (B,N)    at a binding: 1 recurring, 2 novel; 0 elsewhere
===========  =============  ==================================================================

Examples
--------
>>> from cramcog.tasks import SRCD, SRCDConfig
>>> batch = SRCD(SRCDConfig(seq_len=128, bank_size=4, seed=0)).sample(2, "train", seed=0)
>>> batch.kind.shape, batch.obs.dtype.name, sorted(batch.to_numpy())[:3]
((2, 128), 'float32', ['binding_kind', 'category', 'dt'])
"""
from __future__ import annotations

from dataclasses import dataclass, fields
from typing import Any

import numpy as np

IGNORE_INDEX = -100  # torch.nn.functional.cross_entropy's default ignore_index

KIND_OBSERVATION, KIND_BINDING, KIND_QUERY = 0, 1, 2
QUERY_NONE, QUERY_RECURRING, QUERY_NOVEL = 0, 1, 2
CATEGORY_NAMES = ("observation", "binding", "recurring_query", "novel_query")


@dataclass
class SRCDBatch:
    """One batch of event sequences (see the module table for every field).

    ``config`` is the task config that produced it; ``attention_floor`` the expected fraction of
    tokens that are novel queries (the paper's floor on useful attention).
    """

    kind: np.ndarray
    obs: np.ndarray
    key: np.ndarray
    value: np.ndarray
    target: np.ndarray
    query_kind: np.ndarray
    time: np.ndarray
    dt: np.ndarray
    dyn_target: np.ndarray
    dyn_mask: np.ndarray
    category: np.ndarray
    next_dt: np.ndarray
    pattern: np.ndarray
    pair_pos: np.ndarray
    binding_kind: np.ndarray
    config: Any = None
    attention_floor: float = 0.0

    @property
    def batch_size(self) -> int:
        return int(self.kind.shape[0])

    @property
    def seq_len(self) -> int:
        return int(self.kind.shape[1])

    def to_numpy(self) -> dict[str, np.ndarray]:
        """The array fields as a dict (name -> numpy array)."""
        return {f.name: getattr(self, f.name) for f in fields(self)
                if isinstance(getattr(self, f.name), np.ndarray)}

    def to_torch(self, device="cpu") -> dict:
        """The array fields as torch tensors (same names, dtypes int64/float32/bool) on ``device``.

        Examples
        --------
        >>> from cramcog.tasks import SRCD, SRCDConfig
        >>> t = SRCD(SRCDConfig(seq_len=64, bank_size=2)).sample(2, "val", seed=1).to_torch()
        >>> t["obs"].dtype, tuple(t["target"].shape)
        (torch.float32, (2, 64))
        """
        import torch  # lazy: cramcog.tasks itself must not import torch

        return {name: torch.from_numpy(np.ascontiguousarray(a)).to(device)
                for name, a in self.to_numpy().items()}

    def to_xarray(self):
        """The batch as an :class:`xarray.Dataset` (dims ``sequence``, ``event``, ``obs_dim``),
        for exploring in a notebook; the config is in the ``config_json`` attr.

        Examples
        --------
        >>> from cramcog.tasks import SRCD, SRCDConfig
        >>> ds = SRCD(SRCDConfig(seq_len=64, bank_size=2)).sample(2, seed=0).to_xarray()
        >>> ds["obs"].dims, ds.attrs["attention_floor"]
        (('sequence', 'event', 'obs_dim'), 0.015625)
        """
        import xarray as xr

        dims2, dims3 = ("sequence", "event"), ("sequence", "event", "obs_dim")
        data = {name: (dims3 if a.ndim == 3 else dims2, a) for name, a in self.to_numpy().items()}
        ds = xr.Dataset(data, coords={"sequence": np.arange(self.batch_size),
                                      "event": np.arange(self.seq_len)})
        ds["dyn_mask"] = ds["dyn_mask"].astype(np.int8)  # netCDF has no bool
        ds.attrs["attention_floor"] = float(self.attention_floor)
        ds.attrs["category_names"] = list(CATEGORY_NAMES)
        to_json = getattr(self.config, "to_json", None)
        ds.attrs["config_json"] = to_json() if to_json else "{}"
        return ds

    def __getitem__(self, rows) -> "SRCDBatch":
        """A sub-batch (rows selected by index, slice or mask), same config."""
        arrays = {k: v[rows] for k, v in self.to_numpy().items()}
        if arrays["kind"].ndim == 1:  # keep the batch dimension for an integer index
            arrays = {k: v[None] for k, v in arrays.items()}
        return SRCDBatch(**arrays, config=self.config, attention_floor=self.attention_floor)
