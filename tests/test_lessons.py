"""The lessons' findings come from the numbers, both ways: a sentence that holds when they say so, and says the
warning does not show when they do not."""
import torch

from explorer import lessons
from training.config import ModelConfig
from training.model import VAE


def figures(**changed) -> dict:
    base = {"likelihood": "bce", "elbo": 105.0, "iwae": 97.0, "elbo_bce": 105.5, "kl": 25.0, "kl_per_dim": [],
            "active_units": 20, "z_dim": 32, "input_spread": 0.20, "recon_spread": 0.17, "recon_blur": 0.20,
            "prior_blur": 0.25, "prior_to_nearest": 0.090}
    return {**base, **changed}


def test_a_collapsed_encoder_is_found_and_a_working_one_is_not_called_collapsed():
    collapsed = lessons.finding("normal", figures(), figures(kl=0.02, active_units=0, recon_spread=0.004, elbo_bce=206.0))
    assert "collapsed to the prior" in collapsed and "warning holds" in collapsed and "0 of 32 units" in collapsed
    working = lessons.finding("normal", figures(), figures(kl=22.0, active_units=18, recon_spread=0.16))
    assert "did not collapse" in working and "does not show" in working


def test_the_mean_lesson_says_what_got_worse_or_that_nothing_did():
    sharp_but_bad_samples = lessons.finding("mean", figures(), figures(recon_blur=0.12, prior_to_nearest=0.140))
    assert "not blurrier than the default" in sharp_but_bad_samples and "farther from" in sharp_but_bad_samples
    assert "sampling — broke" in sharp_but_bad_samples
    blurrier = lessons.finding("mean", figures(), figures(recon_blur=0.30, prior_to_nearest=0.080))
    assert "blurrier" in blurrier and "warning holds: blurrier images" in blurrier
    nothing = lessons.finding("mean", figures(), figures(recon_blur=0.10, prior_to_nearest=0.080))
    assert "does not show here" in nothing and "shifts of the mean" not in sharp_but_bad_samples
    hidden = lessons.finding("mean", figures(), figures(kl=0.65, elbo_bce=1404.0, recon_blur=0.09, prior_to_nearest=0.08))
    assert "sampling — broke" in hidden and "shifts of the mean far smaller than σ" in hidden


def test_the_mse_lesson_compares_on_one_scale_and_names_its_own_as_a_density():
    greyer = lessons.finding("mse", figures(), figures(likelihood="mse", elbo=-400.0, recon_blur=0.31, elbo_bce=130.0))
    assert "greyer" in greyer and "130.0" in greyer and "of a density" in greyer and "as close to" in greyer
    assert "crisper" in lessons.finding("mse", figures(), figures(likelihood="mse", recon_blur=0.1))


def test_measure_finds_one_image_for_every_input_when_the_decoder_ignores_z():
    torch.manual_seed(0)
    model = VAE(ModelConfig(z_dim=4, encoder_hidden=4, decoder_hidden=8)).eval()
    images = (torch.rand(60, 28, 28) * 255).to(torch.uint8)
    metrics = {"final": {"test": {"recon": 500.0, "kl": 1.0}, "active_units": 4, "kl_per_dim": [0.25] * 4}}
    alive = lessons.measure(model, "bce", metrics, images)
    for p in model.decoder.net[0][0].parameters():  # no path from z: every code decodes to the same image
        torch.nn.init.zeros_(p)
    dead = lessons.measure(model, "bce", metrics, images)
    assert dead["recon_spread"] < 1e-6 < alive["recon_spread"] and dead["input_spread"] == alive["input_spread"]
    assert 0 <= dead["recon_blur"] <= 1 and alive["elbo"] == 501.0
    table = lessons.figures_table(alive, dead, ("a", "b"))
    assert len(table) == 10 and table[0] == ["test −ELBO, own likelihood (nats)", "501.00", "501.00"]


def test_the_summary_names_a_lesson_s_sampling_and_an_imported_model_s_likelihood(trained_checkpoint):
    from dataclasses import replace

    from explorer import describe
    from training.checkpoint import load_checkpoint

    ck = load_checkpoint(trained_checkpoint)
    assert "trained on z by" not in describe.checkpoint_summary(ck, 2)
    lesson = replace(ck, config=replace(ck.config, train=replace(ck.config.train, sampling="normal")))
    assert "decoder trained on z by **normal**" in describe.checkpoint_summary(lesson, 2)
    imported = replace(ck, config=replace(ck.config, imported_from={"file": "vae.pt"},
                                          train=replace(ck.config.train, reconstruction="mse")))
    assert "imported from vae" in describe.checkpoint_summary(imported, 2) and "loss mse" in describe.checkpoint_summary(imported, 2)


def test_compare_pairs_a_family_member_with_the_family_and_a_lesson_with_the_lessons():
    from explorer.compare import first_selection

    names = ["default", "fashion-mnist", "lesson-default", "lesson-mean", "mnist-beta4"]
    dataset_of = lambda n: "fashion-mnist" if n == "fashion-mnist" else "mnist"  # noqa: E731
    assert first_selection(names, "default", dataset_of) == ["default", "mnist-beta4"]
    assert first_selection(names, "lesson-mean", dataset_of) == ["lesson-mean", "lesson-default"]
    assert first_selection(["default", "lesson-default"], "default", dataset_of) == ["default", "lesson-default"]


def test_a_lesson_is_shown_only_for_checkpoints_trained_as_it_says():
    from dataclasses import replace

    from training.config import RunConfig, TrainConfig

    base = RunConfig(train=TrainConfig(epochs=10), data={"dataset": "mnist"})
    variant = lambda **train: replace(base, train=replace(base.train, **train))  # noqa: E731
    assert lessons.not_as_trained("normal", base, variant(sampling="normal")) is None
    assert lessons.not_as_trained("mse", base, variant(reconstruction="mse")) is None
    assert "lesson-mean was trained with sampling 'normal'" in lessons.not_as_trained("mean", base, variant(sampling="normal"))
    assert "lesson-default was trained with beta 4.0" in lessons.not_as_trained("normal", variant(beta=4.0), variant(sampling="normal"))
    assert "different numbers of epochs" in lessons.not_as_trained("normal", base, variant(sampling="normal", epochs=3))
    other = replace(base, train=replace(base.train, sampling="normal"), data={"dataset": "fashion-mnist"})
    assert "data set" in lessons.not_as_trained("normal", base, other)


def test_compare_says_when_its_picks_measure_nats_of_different_likelihoods():
    from explorer.compare import likelihood_note

    kinds = {"lesson-default": "bce", "lesson-mse": "mse", "default": "bce"}
    assert likelihood_note(["lesson-default", "default"], kinds.get) == ""
    assert "lesson-mse trained with MSE" in likelihood_note(["lesson-default", "lesson-mse"], kinds.get)
