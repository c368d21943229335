import structlog

from billfold.masking import mask_account, mask_id_number, mask_name, mask_phone
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
