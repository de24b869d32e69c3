"""One thin class per library, bagging, stacking and ensemble selection (no torch conversion here)."""

from pel_torch.learners.registry import LEARNERS, PAPER_LAYER, make_learner

__all__ = ["LEARNERS", "PAPER_LAYER", "make_learner"]
