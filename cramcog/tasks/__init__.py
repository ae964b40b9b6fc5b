"""Synthetic tasks: SRCD (the CRAM paper's benchmark), its transfer variants, and MQAR.

Pure numpy: importing ``cramcog.tasks`` never imports torch (``SRCDBatch.to_torch`` does, lazily).

Examples
--------
>>> from cramcog.tasks import SRCD, SRCDConfig
>>> task = SRCD(SRCDConfig(seq_len=256, bank_size=4, seed=0))
>>> batch = task.sample(2, split="train", seed=0)
>>> batch.obs.shape
(2, 256, 3)
"""
from cramcog.tasks.batch import CATEGORY_NAMES, IGNORE_INDEX, SRCDBatch
from cramcog.tasks.mqar import MQAR, MQARConfig
from cramcog.tasks.srcd import SRCD, SRCDConfig
from cramcog.tasks.systems import SYSTEMS, DynamicalSystem, register_system
from cramcog.tasks.variants import shared_recurring_fraction, transfer_variants

__all__ = ["SRCD", "SRCDConfig", "SRCDBatch", "CATEGORY_NAMES", "IGNORE_INDEX", "SYSTEMS",
           "DynamicalSystem", "register_system", "MQAR", "MQARConfig", "transfer_variants",
           "shared_recurring_fraction"]
