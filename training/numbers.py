"""The one number validator: every number a person types (the trainer's and the explorer's flags, the app's forms and
API calls) and every number read from a JSON file is checked here, with one sentence saying what is allowed."""
from __future__ import annotations

import argparse
import math

from .errors import UserError

# numpy's RandomState takes 0…2**32−1 (scikit-learn's t-SNE and UMAP seed through it; default_rng takes no negative
# seed); torch.manual_seed takes more. A seed outside this range would train, then fail at the t-SNE map.
MAX_SEED = 2**32 - 1


def is_number(value) -> bool:
    """A finite int or float as JSON gives it: not True/False (ints to Python), NaN, ±inf or an int beyond float range."""
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return False
    try:
        return math.isfinite(value)
    except OverflowError:  # json.loads reads a 400-digit literal as an int that no float holds
        return False


def _shown(bound: float) -> str:
    """A range's end as a person reads it: 4,294,967,295 rather than 4.29497e+09, 0.5 as 0.5."""
    return f"{int(bound):,}" if bound == int(bound) else f"{bound:g}"


def number(value, what: str, low: float, high: float, whole: bool = False) -> float | int:
    """A UI, API or form value (a number or its text) as a number in [low, high] (an int when `whole`); anything else
    (NaN, 1e400, text, None, True) is a UserError of one sentence that says what is allowed."""
    allowed = f"{what} must be a {'whole number' if whole else 'number'} from {_shown(low)} to {_shown(high)}"
    try:
        parsed = float(value)  # text too: float() takes " 12 ", "1e3", "nan"
    except (TypeError, ValueError, OverflowError):
        raise UserError(f"{allowed}.") from None
    if isinstance(value, bool) or not math.isfinite(parsed) or (whole and parsed != int(parsed)):
        raise UserError(f"{allowed}.")
    if not low <= parsed <= high:
        raise UserError(f"{allowed}, not {parsed:g}.")
    return int(parsed) if whole else parsed


def whole_number(value, what: str, low: int, high: int) -> int:
    """`number` for counts and indices: a whole number in [low, high]."""
    return number(value, what, low, high, whole=True)


def seed_value(value) -> int:
    """A random seed in the project's one range, 0…MAX_SEED: what the app, its Train tab and the trainer accept."""
    return whole_number(value, "The seed", 0, MAX_SEED)


# ----------------------------------------------------------------------------- argparse types for the two CLIs

def seed_flag(text: str) -> int:
    """--seed: `seed_value`, its sentence as argparse's error."""
    try:
        return seed_value(text)
    except UserError as err:
        raise argparse.ArgumentTypeError(str(err)) from None


def positive_int(text: str) -> int:
    """Counts such as --epochs and --threads: a whole number ≥ 1."""
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be a positive integer, got {text}")
    return value


def positive_float(text: str) -> float:
    """--lr: a finite number > 0."""
    value = float(text)
    if not value > 0 or value != value or value == float("inf"):
        raise argparse.ArgumentTypeError(f"must be a positive number, got {text}")
    return value


def non_negative_float(text: str) -> float:
    """--beta: a finite number ≥ 0."""
    value = float(text)
    if not value >= 0 or value == float("inf"):
        raise argparse.ArgumentTypeError(f"must be a number >= 0, got {text}")
    return value


def port_number(text: str) -> int:
    """--port: 1–65535."""
    value = int(text)
    if not 1 <= value <= 65535:
        raise argparse.ArgumentTypeError(f"must be a port number 1–65535, got {text}")
    return value
