"""Trainer subprocess: fine-tunes one job with transformers + PEFT."""
