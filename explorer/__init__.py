"""A Gradio app that loads a checkpoint written by training/ and makes the VAE visible."""
