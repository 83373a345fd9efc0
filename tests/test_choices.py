"""The page's menus (demo/choices.py): a value outside their choices is a message, not a traceback
in the server's log, and making them writes nothing into the checkout (issue 37). The app-level
check, through gradio_client, is in test_app_limits.py."""

from __future__ import annotations

from pathlib import Path

import gradio as gr
import pytest

from demo import choices


@pytest.mark.parametrize("make", [choices.Dropdown, choices.Radio])
def test_a_value_outside_the_choices_is_a_quiet_message_that_names_the_menu(make):
    menu = make(["gradcam", "rise"], value="gradcam", label="CAM method", render=False)
    assert menu.preprocess("rise") == "rise" and menu.preprocess(None) is None
    with pytest.raises(gr.Error) as e:
        menu.preprocess("x" * 5000)
    assert not e.value.print_exception  # Gradio's own menus print a traceback for each
    text = e.value.message
    assert "is not one of 'CAM method''s choices; give one of: 'gradcam', 'rise'" in text and len(text) < 200
    assert menu.get_block_name() == make.__mro__[1].__name__.lower()  # Gradio's front-end component


def test_an_updated_menu_is_the_same_quiet_kind():
    """Gradio rebuilds an updated component as ``block.__class__(**kwargs)`` for that session."""
    menu = choices.Dropdown(["a"], value="a", label="Model", render=False)
    kwargs = {**menu.constructor_args, "choices": ["b"], "render": False}
    kwargs.pop("value")  # as Gradio does
    again = type(menu)(**kwargs)
    with pytest.raises(gr.Error) as e:
        again.preprocess("a")
    assert not e.value.print_exception and "give one of: 'b'" in e.value.message


def test_making_the_menus_writes_no_stub_file():
    assert not Path(choices.__file__).with_suffix(".pyi").exists()
    import gradio.component_meta

    assert gradio.component_meta.create_or_modify_pyi.__name__ == "create_or_modify_pyi"  # put back
