import structlog
from hypothesis import given, settings
from hypothesis import strategies as st

from billfold import masking
from billfold.masking import (
    is_id_number,
    mask_account,
    mask_id_number,
    mask_name,
    mask_phone,
    scrub_text,
)
from billfold.testing import capture_logs


def test_personal_data_is_masked_for_display() -> None:
    assert mask_phone("13812345678") == "138****5678"
    assert mask_id_number("110101199003071234") == "110101********1234"
    assert mask_name("张三丰") == "张**"
    assert mask_account("6222 0212 3456 7890") == "************7890"
    assert mask_phone(None) == ""


def test_logs_mask_personal_data_and_never_show_secrets() -> None:
    with capture_logs() as logs:
        structlog.get_logger().info(
            "paid",
            phone="13812345678",
            payer_name="李小红",
            api_v3_key="k" * 32,
            webhook_secret="s3cr3t",
            note="guardian 13912345678, id 11010119900307123X",
        )
    event = logs[0]
    assert event["phone"] == "138****5678"
    assert event["payer_name"] == "李**"
    assert event["api_v3_key"] == "[redacted]"
    assert event["webhook_secret"] == "[redacted]"
    assert event["note"] == "guardian 139****5678, id 110101********123X"


# -- free text, nested values, exceptions ------------------------------------------------------

ORDER_NO = "BF202609011234569680CB3D4F"  # 14 digits of time + 4 hex digits: an 18-digit run
VALID_ID = "11010519491231002X"  # a resident ID number with a valid check digit


def test_an_order_number_whose_digits_run_to_eighteen_is_not_masked_as_an_id_number() -> None:
    with capture_logs() as logs:
        structlog.get_logger().info(
            f"paid {ORDER_NO}", note=f"order {ORDER_NO}; refund RF{ORDER_NO[2:]}"
        )
    assert logs[0]["event"] == f"paid {ORDER_NO}"
    assert logs[0]["note"] == f"order {ORDER_NO}; refund RF{ORDER_NO[2:]}"


def test_an_id_number_glued_to_letters_is_still_masked_when_its_check_digit_is_valid() -> None:
    assert scrub_text(f"ID{VALID_ID}") == "ID110105********002X"
    assert scrub_text(f"id {VALID_ID}.") == "id 110105********002X."


def test_card_numbers_are_masked_when_luhn_valid_and_other_long_numbers_are_not() -> None:
    assert scrub_text("card 4111111111111111 paid") == "card ************1111 paid"
    assert scrub_text("txn 4111111111111112 paid") == "txn 4111111111111112 paid"
    assert (
        scrub_text("wechat 4200001234202609011234567890") == "wechat 4200001234202609011234567890"
    )


def test_api_key_secrets_and_private_keys_are_removed_from_free_text() -> None:
    text = "Bearer bf_0a1b2c3d4e5f_abcdefghijklmnopqrstuvwxyz0123456789 refused"
    assert scrub_text(text) == "Bearer bf_0a1b2c3d4e5f_[redacted] refused"
    pem = "key=-----BEGIN PRIVATE KEY-----\nMIIEvQIBADAN\n-----END PRIVATE KEY----- done"
    assert scrub_text(pem) == "key=[redacted private key] done"


def test_nested_values_are_masked_by_their_keys_and_scrubbed_at_any_depth() -> None:
    with capture_logs() as logs:
        structlog.get_logger().info(
            "import",
            row={"payer_name": "王小明", "phone": "13912345678", "extra": {"mch_key": "k" * 32}},
            lines=[f"bad id {VALID_ID}", {"mobile": "13700001111"}],
        )
    event = logs[0]
    assert event["row"] == {
        "payer_name": "王**",
        "phone": "139****5678",
        "extra": {"mch_key": "[redacted]"},
    }
    assert event["lines"] == ["bad id 110105********002X", {"mobile": "137****1111"}]


def test_an_exception_is_logged_as_type_message_and_traceback_all_masked() -> None:
    try:
        raise ValueError(f"duplicate key (id_number)=({VALID_ID}), phone 13812345678")
    except ValueError:
        with capture_logs() as logs:
            structlog.get_logger().exception("insert failed")
    error = logs[0]["exception"]
    assert "exc_info" not in logs[0]
    assert error["type"] == "ValueError"
    assert error["message"] == "duplicate key (id_number)=(110105********002X), phone 138****5678"
    assert "Traceback (most recent call last)" in error["traceback"]
    assert VALID_ID not in error["traceback"] and "13812345678" not in error["traceback"]
    assert "110105********002X" in error["traceback"]


def test_the_id_number_check_digit_and_birth_date_are_checked() -> None:
    assert is_id_number(VALID_ID)
    assert not is_id_number("110105194912310021")  # wrong check digit
    assert not is_id_number("202609011234569680")  # an order number's digits


# text made of the pieces the patterns look for: digit runs of every length (full-width too),
# whole ID, card and phone numbers, the API key prefix, PEM headers, letters and separators
_PIECES = st.sampled_from(
    ["0", "1", "3", "8", "9", "X", "x", "a", "Z", " ", "-", "_", "bf_", "0a1b2c", "k" * 16,
     "０", "１", "３", "号", "订单", VALID_ID, "4111111111111111", "13812345678",
     "-----BEGIN RSA PRIVATE KEY-----", "-----END RSA PRIVATE KEY-----"]
)  # fmt: skip


@settings(max_examples=400, deadline=None)
@given(st.lists(_PIECES, max_size=40).map("".join))
def test_the_quick_look_never_lets_through_what_the_patterns_would_mask(text: str) -> None:
    """scrub_text skips the substitutions only where none of them would change the text."""
    assert scrub_text(text) == masking._scrub(text)


def test_the_quick_look_lets_every_kind_through_to_the_patterns() -> None:
    for sensitive in (
        "call 13812345678",
        "id 11010119900307123X",
        "card 4111111111111111",
        "key bf_0a1b2c_" + "k" * 20,
        "-----BEGIN PRIVATE KEY-----\nabc\n-----END PRIVATE KEY-----",
    ):
        assert scrub_text(sensitive) != sensitive, sensitive
