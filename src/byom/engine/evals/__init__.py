"""The engine's evaluations (``/v1/evaluation``): held-out loss of a model on a validation file (``loss``)."""
