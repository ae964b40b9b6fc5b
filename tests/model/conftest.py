"""Tiny random SRCD-shaped batches for model tests (no task generator needed)."""
import pytest
import torch

from cramcog.configs import CRAMConfig

OBS, KEYS, VALUES = 3, 12, 6


def random_batch(B=2, N=24, seed=0):
    g = torch.Generator().manual_seed(seed)
    kind = torch.randint(0, 3, (B, N), generator=g)
    key = torch.where(kind > 0, torch.randint(1, KEYS + 1, (B, N), generator=g), 0)
    value = torch.where(kind == 1, torch.randint(1, VALUES + 1, (B, N), generator=g), 0)
    target = torch.where(kind == 2, torch.randint(1, VALUES + 1, (B, N), generator=g), -100)
    query_kind = torch.where(kind == 2, torch.randint(1, 3, (B, N), generator=g), 0)
    category = torch.where(kind == 2, query_kind + 1, kind)
    obs = torch.randn(B, N, OBS, generator=g) * (kind == 0)[..., None]
    return {"kind": kind, "obs": obs, "key": key, "value": value, "target": target,
            "query_kind": query_kind, "category": category,
            "dt": torch.rand(B, N, generator=g) * 2, "next_dt": torch.rand(B, N, generator=g),
            "dyn_target": torch.randn(B, N, OBS, generator=g), "dyn_mask": kind == 0}


@pytest.fixture
def batch():
    return random_batch()


@pytest.fixture
def tiny_cfg():
    return CRAMConfig(d_model=16, n_layers=2, n_heads=2, semantic_hidden=16, mlp_ratio=1)


@pytest.fixture
def make_batch():
    return random_batch


@pytest.fixture
def sizes():
    return OBS, KEYS, VALUES
