"""One number validator (training/numbers.py) for the trainer's flags, the explorer's flags and the app: one seed
range everywhere, the one numpy and torch both take; one sentence for a bad value."""
import numpy as np
import pytest
import torch

from explorer.train_runs import TrainLimits, parse_request
from training.errors import UserError
from training.numbers import MAX_SEED, is_number, number, seed_value, whole_number


@pytest.mark.parametrize("raw", [-1, 2**32, float("inf"), float("nan"), "abc", None, [1]])
def test_seeds_are_whole_numbers_in_range(raw):
    with pytest.raises(UserError, match="The seed must be a whole number from 0 to 4,294,967,295"):
        seed_value(raw)


def test_the_largest_seed_seeds_numpy_scikit_learn_and_torch_and_one_more_does_not():
    from sklearn.utils import check_random_state

    assert seed_value(MAX_SEED) == MAX_SEED and seed_value(str(MAX_SEED)) == MAX_SEED
    check_random_state(MAX_SEED), np.random.default_rng(MAX_SEED), torch.manual_seed(MAX_SEED)  # none of them raises
    with pytest.raises(ValueError):
        check_random_state(MAX_SEED + 1)  # what t-SNE and UMAP seed through


def test_the_train_tab_and_the_trainer_take_the_same_seeds(capsys):
    from training.__main__ import build_parser

    form = dict(dataset="mnist", beta=1, z_dim=4, epochs=1, name="", limits=TrainLimits(), datasets_present=["mnist"], taken=())
    assert parse_request(seed=MAX_SEED, **form).seed == MAX_SEED
    assert build_parser().parse_args(["--seed", str(MAX_SEED)]).seed == MAX_SEED
    with pytest.raises(UserError, match="The seed must be a whole number from 0 to 4,294,967,295, not 4.29497e"):
        parse_request(seed=MAX_SEED + 1, **form)
    with pytest.raises(SystemExit):
        build_parser().parse_args(["--seed", "-1"])
    assert "--seed: The seed must be a whole number from 0 to 4,294,967,295, not -1." in capsys.readouterr().err


@pytest.mark.parametrize("raw, expected", [(3, 3), (3.0, 3), ("12", 12), (" 7 ", 7), ("1e3", 1000)])
def test_a_whole_number_may_come_as_a_float_or_as_text(raw, expected):
    got = whole_number(raw, "Rows", 0, 1000)
    assert got == expected and type(got) is int


@pytest.mark.parametrize("raw, says", [
    (2.5, "Steps must be a whole number from 2 to 16."), (True, "Steps must be a whole number from 2 to 16."),
    ("9" * 400, "Steps must be a whole number from 2 to 16."), (10**400, "Steps must be a whole number from 2 to 16."),
    (17, "Steps must be a whole number from 2 to 16, not 17."),
])
def test_a_bad_number_is_one_sentence_naming_the_range(raw, says):
    with pytest.raises(UserError) as err:
        whole_number(raw, "Steps", 2, 16)
    assert str(err.value) == says


def test_a_number_keeps_its_fraction_and_shows_fractional_bounds_as_written():
    assert number("0.25", "β", 0, 100.0) == 0.25
    with pytest.raises(UserError, match=r"^β must be a number from 0.5 to 100, not 0.25\.$"):
        number(0.25, "β", 0.5, 100.0)


@pytest.mark.parametrize("value, expected", [(1, True), (-2.5, True), (0, True), (True, False), (float("nan"), False),
                                             (float("inf"), False), (10**400, False), ("1", False), (None, False)])
def test_a_json_number_is_finite_and_not_a_bool(value, expected):
    assert is_number(value) is expected
