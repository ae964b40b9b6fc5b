"""The paper's experiments, each a function that reads or writes records (one module each).

``gamma_study``: the power-law gamma of every run's consolidation curve, per fit window, pooled
across seeds and compared with every human data set. Modules import their heavy dependencies
themselves; this package file stays empty so ``import cramcog.experiments`` is light.
"""
