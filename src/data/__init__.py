"""The data: MNIST in memory, its batches, labels and pixels, and a user's own images."""
