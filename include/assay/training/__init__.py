"""Training: a cross-encoder fine-tuned on validated partitions only, tracked in MLflow (issue #5)."""
