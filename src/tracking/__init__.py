"""The experiment trackers: what TensorBoard, CSV, MLflow and W&B get of a run."""
