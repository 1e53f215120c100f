"""What a checkpoint is, in words: its data set's title and classes, its test −ELBO and the header's summary line."""
from __future__ import annotations

from training import safe_text
from training.checkpoint import Checkpoint
from training.datasets import class_names, dataset_info
from training.errors import UserError


def dataset_title(ck: Checkpoint) -> str:
    """The data set's title; an unknown one as the config wrote it, on one short line (each view escapes it)."""
    try:
        return dataset_info(ck.config.data.get("dataset")).title
    except UserError:
        return safe_text.plain(ck.config.data.get("dataset", "?"))


def checkpoint_classes(ck: Checkpoint) -> list[str]:
    return class_names(ck.config.data)


def negative_test_elbo(final: dict) -> float:
    """The test set's −ELBO = recon + KL (β = 1 whatever β trained the model: metrics' "total" is the β-weighted loss)."""
    test = final.get("test", {}) if isinstance(final, dict) and isinstance(final.get("test"), dict) else {}
    recon, kl = test.get("recon"), test.get("kl")
    return float(recon) + float(kl) if isinstance(recon, (int, float)) and isinstance(kl, (int, float)) else float("nan")


def checkpoint_summary(ck: Checkpoint, n_active: int, finishing: bool = False) -> str:
    """Markdown: what this checkpoint is and how good it is. Every value from its files is escaped (safe_text)."""
    final = ck.metrics.get("final", {})  # checked by the loader (training/metrics_file.py); fields may be absent
    test, iwae = final.get("test", {}), (final.get("iwae") or {}).get("nll")
    t, m = ck.config.train, ck.config.model
    number = safe_text.number
    source = ck.config.imported_from.get("file") or ck.config.imported_from.get("object")
    trained = (f"imported from {safe_text.markdown(source)}" if source is not None
               else f"β {number(t.beta, 3)} · {number(final.get('epochs'), 0)} epochs")
    return (
        f"**{safe_text.markdown(ck.path.name)}** · {safe_text.markdown(dataset_title(ck))} · z_dim {m.z_dim} · "
        f"{trained} · "
        f"test −ELBO **{number(negative_test_elbo(final))}** nats "
        f"(recon {number(test.get('recon'))} + KL {number(test.get('kl'))})"
        + (f" · IWAE {number(iwae)}" if number(iwae) != "?" else "")
        + f" · {n_active} of {m.z_dim} latent dims active"
        + ("" if source is not None else f" · loss {safe_text.markdown(t.reconstruction)} · seed {number(t.seed, 0)}")
        + (f" · loss {safe_text.markdown(t.reconstruction)}" if source is not None and t.reconstruction != "bce" else "")
        + ("" if t.sampling == "rsample" else f" · decoder trained on z by **{safe_text.markdown(t.sampling)}** "
           f"(the lab warns against it: see Lessons)")
        + ("\n\n⏳ Its t-SNE/UMAP maps and per-image scores are still being computed: this page adds them when they are "
           "ready." if finishing else "")
    )
