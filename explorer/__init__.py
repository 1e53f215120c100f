"""A Gradio app that loads a checkpoint written by training/ and makes the VAE visible."""


def explore(vae, *args, **kwargs):
    """Open the explorer on a model trained in a notebook (explorer/notebook.py); nothing is imported before the call."""
    from .notebook import explore as open_explorer

    return open_explorer(vae, *args, **kwargs)
