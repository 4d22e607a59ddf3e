"""Inference: the CNN, the normalising flow, their shared training loop and the model directory."""
