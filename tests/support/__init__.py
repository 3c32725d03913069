"""Test doubles for the boundaries we cannot reach (the Hugging Face Hub), shared by tests and benches."""
