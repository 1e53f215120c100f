import pytest

from explorer.deep_links import MAX_QUERY_CHARS, fit_to_checkpoint, parse_view_link

NAMES = ["default", "mnist-beta4", "fashion-mnist"]


def test_a_good_link_opens_its_checkpoint_tab_and_values():
    link = parse_view_link({"checkpoint": "mnist-beta4", "tab": "sliders", "z": "0.5,-1.25,3"}, NAMES)
    assert (link.checkpoint, link.tab, link.z, link.notices) == ("mnist-beta4", "sliders", [0.5, -1.25, 3.0], [])
    assert parse_view_link({"point": "123"}, NAMES).to_dict() == {
        "checkpoint": None, "tab": "map", "z": None, "point": 123, "compare": None, "lesson": None, "step": None,
        "rank": None, "rank_score": None, "rank_class": None, "selections": {}}
    assert parse_view_link({"compare": "default,mnist-beta4"}, NAMES).compare == ["default", "mnist-beta4"]
    lesson = parse_view_link({"lesson": "mean"}, NAMES)
    assert (lesson.lesson, lesson.tab, lesson.notices) == ("mean", "lessons", [])
    assert parse_view_link({"utm_source": "x"}, NAMES).notices == []  # unrelated parameters are ignored


@pytest.mark.parametrize("params, notice", [
    ({"checkpoint": "../../etc/passwd"}, "checkpoint does not exist"),
    ({"checkpoint": "<img src=x onerror=alert(1)>"}, "checkpoint does not exist"),
    ({"tab": "<script>alert(1)</script>"}, "tab is not one of"),
    ({"lesson": "<b>mean</b>"}, "lesson is not one of"),
    ({"z": "1,abc"}, "not a list of numbers"),
    ({"z": "1e309,0"}, "outside −3…3"),
    ({"z": "nan"}, "outside −3…3"),
    ({"z": "1000000"}, "outside −3…3"),
    ({"point": "-1"}, "not a test-image index"),
    ({"point": "99999999999999"}, "not a test-image index"),
    ({"compare": "default"}, "2–4 checkpoints"),
    ({"compare": "default,nope"}, "2–4 checkpoints"),
])
def test_a_bad_parameter_becomes_a_notice_that_never_echoes_it(params, notice):
    link = parse_view_link(params, NAMES)
    assert len(link.notices) == 1 and notice in link.notices[0]
    assert all(v not in link.notices[0] for v in params.values())
    assert link.checkpoint is None and link.z is None and link.point is None and link.compare is None


def test_values_that_do_not_fit_the_checkpoint_are_dropped_with_a_notice():
    link = fit_to_checkpoint(parse_view_link({"z": "0,1", "point": "10000"}, NAMES), z_dim=32, n_points=10_000)
    assert link.z is None and link.point is None
    assert "2 values; this checkpoint has 32" in link.notices[0] and "past the 10,000" in link.notices[1]


def test_an_overlong_query_is_refused_whole():
    link = parse_view_link({"checkpoint": "default"}, NAMES, query_chars=MAX_QUERY_CHARS + 1)
    assert link.checkpoint is None and "longer than" in link.notices[0]


def test_every_tab_a_link_names_is_a_tab_of_the_app():
    from explorer.deep_links import TABS
    from explorer.tabs import TAB_CLASSES

    assert tuple(tab.ID for tab in TAB_CLASSES) == TABS


def test_a_timeline_link_names_a_step_and_opens_the_timeline():
    link = parse_view_link({"step": "40"}, NAMES)
    assert link.step == 40 and link.tab == "timeline" and link.notices == []
    for junk in ("-1", "4e2", "<b>", "9" * 12):
        refused = parse_view_link({"step": junk}, NAMES)
        assert refused.step is None and refused.notices == ["The link's step is not an optimizer step (a whole number)."]


def test_a_selection_in_a_link_is_a_bitset_of_test_images_and_anything_else_a_notice():
    import base64

    from explorer.deep_links import fit_to_checkpoint, selection_from_bits

    bits = bytearray(1250)
    for i in (0, 7, 8, 9_999):
        bits[i >> 3] |= 1 << (i & 7)
    text = base64.urlsafe_b64encode(bytes(bits)).decode().rstrip("=")
    assert selection_from_bits(text) == [0, 7, 8, 9_999]
    link = parse_view_link({"sel": text, "dir_a": text, "dir_b": "<script>"}, NAMES)
    assert link.tab == "map" and link.selections == {"sel": [0, 7, 8, 9_999], "dir_a": [0, 7, 8, 9_999]}
    assert link.notices == ["The link's dir_b is not a selection of test images (base64url bits)."]
    fitted = fit_to_checkpoint(link, 32, 5_000)  # a smaller test set: images past it are refused
    assert fitted.selections == {} and "past the 5,000 test images" in fitted.notices[-1]
    assert selection_from_bits("A" * 20_000) is None
