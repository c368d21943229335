import pytest

from billfold.text import first_control_character


@pytest.mark.parametrize(
    ("text", "found"),
    [
        ("a\x00b", "U+0000"),
        ("line\n", "U+000A"),
        ("\x7f", "U+007F"),
        ("\x85", "U+0085"),
        ("x\ud800", "U+D800"),
        ("\t", "U+0009"),
    ],
)
def test_control_characters_and_lone_surrogates_are_found(text: str, found: str) -> None:
    assert first_control_character(text) == found


@pytest.mark.parametrize("text", ["", "张小明", "T-1 (2026秋)", "１２.３４", "emoji 🙂", "\u200b"])
def test_printable_text_of_any_script_is_clean(text: str) -> None:
    assert first_control_character(text) is None
