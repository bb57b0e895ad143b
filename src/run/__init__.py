"""A run's life: its folder and files, checkpoints, failures, and a sweep continued."""
