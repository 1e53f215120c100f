"""Checkpoints on the Hugging Face Hub: push a folder with a generated model card, open one by `hf://OWNER/NAME[@REV]`.

Uses `huggingface_hub` with the user's own login (`hf auth login` or $HF_TOKEN; we never store a token) and its
standard cache, so a checkpoint opened once also opens offline (HF_HUB_OFFLINE=1). $HF_ENDPOINT points it elsewhere
(the tests use a local server that speaks the few endpoints involved).
"""
from __future__ import annotations

import re
from pathlib import Path

from .checkpoint import ATLAS, CONFIG, METRICS, SAMPLES, WEIGHTS, Checkpoint, load_checkpoint
from .datasets import dataset_info
from .errors import UserError
from .ood import OOD_FILE
from .safe_text import json_code_block, number
from .timeline import TIMELINE_DECODERS, TIMELINE_JSON, TIMELINE_TENSORS

HUB_PREFIX = "hf://"
# What a published checkpoint holds: everything the explorer loads, no optimizer state.
PUBLISHED_FILES = (WEIGHTS, CONFIG, METRICS, ATLAS, SAMPLES, "encoder.onnx", "decoder.onnx", TIMELINE_JSON, TIMELINE_TENSORS,
                   TIMELINE_DECODERS, OOD_FILE)  # those a folder has: one trained before timelines or scores has fewer
# OWNER/NAME as the Hub spells repo ids (letters, digits, '-', '_', '.'; no '..' or leading/trailing separators),
# then an optional @REVISION (a branch, tag or commit: no spaces, no '..').
_REPO_ID = r"[A-Za-z0-9](?:[A-Za-z0-9._-]{0,94}[A-Za-z0-9])?/[A-Za-z0-9](?:[A-Za-z0-9._-]{0,94}[A-Za-z0-9])?"
_SPEC = re.compile(rf"^hf://(?P<repo>{_REPO_ID})(?:@(?P<revision>[A-Za-z0-9][A-Za-z0-9._/-]{{0,199}}))?$")


def is_hub_spec(text: str) -> bool:
    return isinstance(text, str) and text.startswith(HUB_PREFIX)


def parse_hub_spec(text: str) -> tuple[str, str | None]:
    """`hf://OWNER/NAME[@REVISION]` → (repo id, revision or None); anything else is refused with the expected form."""
    match = _SPEC.match(text or "")
    if not match or ".." in text:
        raise UserError(f"{text[:120]!r} is not a Hub checkpoint: write hf://OWNER/NAME or hf://OWNER/NAME@REVISION.")
    return match["repo"], match["revision"]


def model_card(ck: Checkpoint, repo_id: str) -> str:
    """README.md for the repo: YAML metadata (license, library, tags, data set, model-index metrics) and a short text."""
    from huggingface_hub import EvalResult, ModelCard, ModelCardData

    final = ck.metrics.get("final", {})  # checked by the loader (training/metrics_file.py); fields may be absent
    test, iwae = final.get("test", {}), final.get("iwae") or {}
    data = dataset_info(ck.config.data.get("dataset"))
    hub_dataset = {"mnist": "ylecun/mnist", "fashion-mnist": "zalando-datasets/fashion_mnist", "kmnist": "tanganke/kmnist"}[data.key]
    m, t = ck.config.model, ck.config.train
    results = []
    neg_elbo = test["recon"] + test["kl"] if "recon" in test and "kl" in test else None
    likelihood = {"bce": "BCE", "mse": "MSE: a Gaussian of variance ½ per pixel, nats of a density"}.get(t.reconstruction, t.reconstruction)
    metric_values = [("neg-elbo", "test −ELBO (recon + KL), nats", neg_elbo),
                     ("reconstruction", f"test reconstruction ({likelihood}), nats", test.get("recon")),
                     ("kl", "test KL(q(z|x) ‖ N(0, I)), nats", test.get("kl"))]
    metric_values.append(("neg-log-likelihood", "test −log p(x), IWAE k=1000, first 1,000 images", iwae.get("nll")))
    metric_values.append(("active-units", "active latent units (Cov_x E[z_d] > 0.01)", final.get("active_units")))
    for metric_type, metric_name, value in metric_values:
        if number(value) != "?":
            results.append(EvalResult(task_type="image-to-image", task_name="Variational autoencoding", dataset_type=hub_dataset,
                                      dataset_name=data.title, dataset_split="test", metric_type=metric_type,
                                      metric_name=metric_name, metric_value=round(float(value), 4)))
    card_data = ModelCardData(
        license="mit", library_name="pytorch", datasets=[hub_dataset], model_name=repo_id.split("/")[-1],
        tags=["vae", "variational-autoencoder", "vae-explorer", data.key, "safetensors", "onnx"], eval_results=results,
    )
    body = f"""
# {repo_id.split("/")[-1]}: a convolutional VAE on {data.title}

A variational autoencoder trained with [vae-explorer](https://github.com/) on the {data.title} training set:
z_dim {m.z_dim}, β {t.beta}, {number(final.get("epochs"), 0)} epochs, batch {t.batch_size}, Adam lr {t.lr}, seed {t.seed}.

| test metric (nats per image) | value |
|---|---:|
| −ELBO = reconstruction + KL | {number(neg_elbo)} |
| reconstruction ({likelihood}) | {number(test.get("recon"))} |
| KL | {number(test.get("kl"))} |
| −log p(x), IWAE k=1000 (first 1,000 test images) | {number(iwae.get("nll"))} |
| active units | {number(final.get("active_units"), 0)} of {m.z_dim} |

![Test images (top) and their reconstructions (bottom)](samples.png)

## Open it in the explorer

```bash
python -m explorer --checkpoint hf://{repo_id}
```

The files: `model.safetensors` (weights), `config.json` (architecture, training settings, data set), `metrics.json`
(per-epoch history and final test metrics), `atlas.safetensors` (the encoded test set and its 2-D maps),
`encoder.onnx` / `decoder.onnx` (the same model for onnxruntime; the explorer runs them in the browser).
Everything is safetensors, JSON or ONNX: nothing is unpickled.

## Config

{json_code_block({k: v for k, v in ck.config.to_dict().items() if k != "argv"})}
"""
    return str(ModelCard(f"---\n{card_data.to_yaml()}\n---\n{body}"))


def push_checkpoint(folder: str | Path, repo_id: str, private: bool = False, endpoint: str | None = None,
                    token: str | None = None) -> str:
    """Validate a checkpoint folder, then upload its published files and a model card as one commit; returns its URL."""
    from huggingface_hub import CommitOperationAdd, HfApi
    from huggingface_hub.errors import HfHubHTTPError

    parse_hub_spec(HUB_PREFIX + repo_id)  # the same rule for the repo id as for opening one
    ck = load_checkpoint(folder)
    folder = Path(folder)
    operations = [CommitOperationAdd(path_in_repo=name, path_or_fileobj=str(folder / name))
                  for name in PUBLISHED_FILES if (folder / name).is_file()]
    operations.append(CommitOperationAdd(path_in_repo="README.md", path_or_fileobj=model_card(ck, repo_id).encode()))
    api = HfApi(endpoint=endpoint, token=token)
    try:
        api.create_repo(repo_id, private=private, exist_ok=True)
        info = api.create_commit(repo_id, operations, commit_message=f"Upload checkpoint {folder.name} with vae-explorer")
    except HfHubHTTPError as err:
        raise UserError(f"The Hub refused the upload to {repo_id} ({_first_line(err)}): log in with `hf auth login` "
                        "(a token with write access) and check the repo id.") from None
    except OSError as err:  # no network, DNS, refused connection
        raise UserError(f"Could not reach the Hub to upload {repo_id} ({_first_line(err)}).") from None
    return info.commit_url


def download_checkpoint(spec: str, cache_dir: str | Path | None = None, endpoint: str | None = None) -> Path:
    """`hf://OWNER/NAME[@REV]` → the local snapshot folder in the Hub cache (downloaded once, then offline-capable)."""
    from huggingface_hub import snapshot_download
    from huggingface_hub.errors import (
        GatedRepoError, HfHubHTTPError, LocalEntryNotFoundError, RepositoryNotFoundError, RevisionNotFoundError,
    )

    repo_id, revision = parse_hub_spec(spec)
    try:
        path = snapshot_download(repo_id, revision=revision, allow_patterns=list(PUBLISHED_FILES), cache_dir=cache_dir,
                                 endpoint=endpoint)
    except RevisionNotFoundError:
        raise UserError(f"{spec}: the repo {repo_id} has no revision {revision!r}.") from None
    except (RepositoryNotFoundError, GatedRepoError):
        raise UserError(f"{spec}: no such model repo, or it is private and you are not logged in (`hf auth login`).") from None
    except LocalEntryNotFoundError:
        raise UserError(f"{spec} is not in the local Hub cache and the Hub cannot be reached (offline?): open it once "
                        "while online.") from None
    except (HfHubHTTPError, OSError) as err:
        raise UserError(f"{spec}: the download failed ({_first_line(err)}).") from None
    return Path(path)


def _first_line(err: Exception) -> str:
    return (str(err).strip().splitlines() or [type(err).__name__])[0][:200]
