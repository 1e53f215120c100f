"""metrics.json as read from a checkpoint folder: untrusted JSON checked field by field before anything uses it.

Fields are optional (older checkpoints lack some), but a field that is present has the type and size the code
expects; the first one that does not is named in the error.
"""
from __future__ import annotations

from .errors import UserError
from .numbers import is_number

MAX_HISTORY = 100_000  # = config.MAX_EPOCHS


def check_metrics(raw, z_dim: int, where: str) -> dict:
    """Return `raw` if it is a metrics object this code can use; raise UserError naming `where` and the field."""
    def fail(field: str, expected: str):
        raise UserError(f"{where}: '{field}' must be {expected}; the file is damaged or was not written by this project.")

    if not isinstance(raw, dict):
        fail("(top level)", "a JSON object")
    history = raw.get("history", [])
    if not isinstance(history, list) or len(history) > MAX_HISTORY or not all(isinstance(h, dict) for h in history):
        fail("history", f"a list of at most {MAX_HISTORY:,} objects")
    final = raw.get("final", {})
    if not isinstance(final, dict):
        fail("final", "an object")
    test = final.get("test", {})
    if not isinstance(test, dict) or not all(is_number(test[k]) for k in ("total", "recon", "kl") if k in test):
        fail("final.test", "an object of finite numbers (total, recon, kl)")
    for key in ("kl_per_dim", "mean_variance_per_dim"):
        if key in final and (not isinstance(final[key], list) or len(final[key]) != z_dim
                             or not all(is_number(v) and v >= 0 for v in final[key])):
            fail(f"final.{key}", f"a list of {z_dim} finite numbers ≥ 0")
    if "active_per_dim" in final and (not isinstance(final["active_per_dim"], list) or len(final["active_per_dim"]) != z_dim
                                      or not all(isinstance(v, bool) for v in final["active_per_dim"])):
        fail("final.active_per_dim", f"a list of {z_dim} booleans")
    for key, low, high in (("epochs", 0, MAX_HISTORY), ("active_units", 0, z_dim)):
        if key in final and not (isinstance(final[key], int) and not isinstance(final[key], bool) and low <= final[key] <= high):
            fail(f"final.{key}", f"an integer {low}–{high}")
    if "train_seconds" in final and not (is_number(final["train_seconds"]) and final["train_seconds"] >= 0):
        fail("final.train_seconds", "a finite number ≥ 0")
    iwae = final.get("iwae")
    if iwae is not None and not (isinstance(iwae, dict) and is_number(iwae.get("nll"))):
        fail("final.iwae", "an object with a finite 'nll'")
    return raw
