"""Fine-tune jobs as the tools see them: launch plans, status summaries, the loss plot."""

from byom.jobs.plot import loss_curve_png

__all__ = ["loss_curve_png"]
