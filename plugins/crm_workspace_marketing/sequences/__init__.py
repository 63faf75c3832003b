"""Nurture sequences: e-mail automation triggered by events, run step by step by the scheduler."""
