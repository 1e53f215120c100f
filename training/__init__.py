"""Train the MNIST VAE and write checkpoint folders that the explorer loads."""
