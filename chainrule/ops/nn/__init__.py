"""Fused layer-level ops: one graph node per layer call, with a hand-written VJP."""
