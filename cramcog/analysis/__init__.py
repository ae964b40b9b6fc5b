"""What a run MEANS: per-layer and per-pattern metrics, consolidation curves, phase detection and
the causal tests. Figures and experiments import this package, never the other way round.
"""
