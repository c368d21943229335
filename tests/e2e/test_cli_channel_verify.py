from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.x509.oid import NameOID
from typer.testing import CliRunner, Result

from billfold.adapters.cli.channel import app
from billfold.channels.alipay_rsa2 import signed_notification_form
from billfold.testing.wechatpay_v3 import sign_notification

API_V3_KEY = "billfold-apiv3-key-0123456789abc"
SERIAL = "5157F09EFDC096DE15EBE81A47057A7232F1B8E1"
SIGNED_AT = datetime(2024, 1, 5, 2, 0, tzinfo=UTC)
NOW = "2024-01-05T10:01:00+08:00"

TRANSACTION = {
    "appid": "wxd678efh567hg6787",
    "mchid": "1230000109",
    "out_trade_no": "B20240105000001",
    "transaction_id": "4200002024010512345678901234",
    "trade_state": "SUCCESS",
    "trade_state_desc": "支付成功",
    "success_time": "2024-01-05T10:00:00+08:00",
    "payer": {"openid": "oUpF8uMuAJO_M2pxb1Q9zNjWeS6o"},
    "amount": {"total": 1234, "payer_total": 1234, "currency": "CNY"},
}

ALIPAY_PARAMS = {
    "notify_time": "2024-01-05 10:00:05",
    "notify_type": "trade_status_sync",
    "notify_id": "ac05099524730693a8b330c5ecf72da9786",
    "app_id": "2021000000000001",
    "out_trade_no": "B20240105000001",
    "trade_no": "2024010522001412345678901234",
    "seller_id": "2088101106499364",
    "trade_status": "TRADE_SUCCESS",
    "total_amount": "12.34",
    "subject": "2024秋季学费",
}

runner = CliRunner()


@pytest.fixture(scope="session")
def platform_key() -> rsa.RSAPrivateKey:
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


def _public_pem(key: rsa.RSAPrivateKey) -> bytes:
    return key.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )


def _certificate_pem(key: rsa.RSAPrivateKey) -> bytes:
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "Tenpay.com Root CA")])
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(int(SERIAL, 16))
        .not_valid_before(SIGNED_AT - timedelta(days=1))
        .not_valid_after(SIGNED_AT + timedelta(days=365))
        .sign(key, hashes.SHA256())
    )
    return cert.public_bytes(serialization.Encoding.PEM)


@pytest.fixture
def wechat_files(tmp_path: Path, platform_key: rsa.RSAPrivateKey) -> dict[str, Path]:
    headers, body = sign_notification(
        TRANSACTION,
        private_key=platform_key,
        serial=SERIAL,
        api_v3_key=API_V3_KEY,
        timestamp=SIGNED_AT,
        nonce="5K8264ILTKCH16CQ2502SI8ZNMTM67VS",
        notification_id="EV-2018022511223320873",
    )
    files = {
        "headers": tmp_path / "headers.json",
        "body": tmp_path / "body.json",
        "pem": tmp_path / "platform.pem",
        "cert": tmp_path / "platform_cert.pem",
    }
    files["headers"].write_text(json.dumps(headers), encoding="utf-8")
    files["body"].write_bytes(body)
    files["pem"].write_bytes(_public_pem(platform_key))
    files["cert"].write_bytes(_certificate_pem(platform_key))
    return files


def _wechat(files: dict[str, Path], *extra: str, pem: str = "pem") -> Result:
    args = [
        "verify",
        "wechatpay",
        "--headers",
        str(files["headers"]),
        "--body",
        str(files["body"]),
        "--platform-key",
        f"{SERIAL}={files[pem]}",
        "--api-v3-key",
        API_V3_KEY,
        *extra,
    ]
    return runner.invoke(app, args)


def test_wechatpay_prints_the_decrypted_notification(wechat_files: dict[str, Path]) -> None:
    result = _wechat(wechat_files, "--now", NOW)

    assert result.exit_code == 0, result.stderr
    printed = json.loads(result.stdout)
    assert printed["id"] == "EV-2018022511223320873"
    assert printed["event_type"] == "TRANSACTION.SUCCESS"
    assert printed["resource"] == TRANSACTION
    assert '"trade_state_desc": "支付成功"' in result.stdout  # not \u-escaped
    assert '\n  "id"' in result.stdout  # indented by two


def test_wechatpay_accepts_a_platform_certificate_file(wechat_files: dict[str, Path]) -> None:
    result = _wechat(wechat_files, "--now", NOW, pem="cert")

    assert result.exit_code == 0, result.stderr
    assert json.loads(result.stdout)["resource"]["out_trade_no"] == "B20240105000001"


def test_wechatpay_rejects_a_tampered_body(wechat_files: dict[str, Path]) -> None:
    body = wechat_files["body"]
    body.write_bytes(body.read_bytes().replace(b"TRANSACTION.SUCCESS", b"REFUND.SUCCESS"))

    result = _wechat(wechat_files, "--now", NOW)

    assert result.exit_code == 1
    assert result.stdout == ""
    assert (
        result.stderr == f"rejected: signature does not match the body for platform key {SERIAL}\n"
    )


def test_wechatpay_checks_freshness_against_the_real_clock_without_now(
    wechat_files: dict[str, Path],
) -> None:
    result = _wechat(wechat_files)

    assert result.exit_code == 1
    assert result.stderr.startswith("rejected: Wechatpay-Timestamp 1704420000 is outside ±5 min")


def test_wechatpay_rejects_a_wrong_api_v3_key(wechat_files: dict[str, Path]) -> None:
    result = _wechat(wechat_files, "--now", NOW, "--api-v3-key", "another-apiv3-key-0123456789abcd")

    assert result.exit_code == 1
    assert result.stderr == (
        "rejected: resource decryption failed (wrong APIv3 key or tampered ciphertext)\n"
    )


def test_wechatpay_unknown_serial_is_rejected(wechat_files: dict[str, Path]) -> None:
    args = ["--now", NOW, "--platform-key", f"PUB_KEY_ID_0001={wechat_files['pem']}"]
    headers = json.loads(wechat_files["headers"].read_text(encoding="utf-8"))
    headers["Wechatpay-Serial"] = "PUB_KEY_ID_0002"
    wechat_files["headers"].write_text(json.dumps(headers), encoding="utf-8")

    result = _wechat(wechat_files, *args)

    assert result.exit_code == 1
    assert result.stderr.startswith("rejected: unknown Wechatpay-Serial 'PUB_KEY_ID_0002'")


def test_wechatpay_unreadable_body_is_a_usage_error(
    wechat_files: dict[str, Path], tmp_path: Path
) -> None:
    wechat_files["body"] = tmp_path / "missing.json"

    result = _wechat(wechat_files, "--now", NOW)

    assert result.exit_code == 2
    assert result.stderr.startswith(f"error: cannot read body file '{tmp_path / 'missing.json'}'")


def test_wechatpay_headers_that_are_not_json_are_a_usage_error(
    wechat_files: dict[str, Path],
) -> None:
    wechat_files["headers"].write_text("Wechatpay-Nonce: abc", encoding="utf-8")

    result = _wechat(wechat_files, "--now", NOW)

    assert result.exit_code == 2
    assert result.stderr.startswith(f"error: headers file '{wechat_files['headers']}' is not JSON")


def test_wechatpay_platform_key_without_a_serial_is_a_usage_error(
    wechat_files: dict[str, Path],
) -> None:
    result = _wechat(wechat_files, "--platform-key", str(wechat_files["pem"]))

    assert result.exit_code == 2
    assert result.stderr == (
        f"error: --platform-key '{wechat_files['pem']}' must look like SERIAL=PEM_FILE\n"
    )


def test_wechatpay_a_pem_file_without_a_key_is_a_usage_error(
    wechat_files: dict[str, Path],
) -> None:
    wechat_files["pem"].write_text("hello", encoding="utf-8")

    result = _wechat(wechat_files, "--now", NOW)

    assert result.exit_code == 2
    assert result.stderr.startswith(
        f"error: platform key file '{wechat_files['pem']}': not a PEM public key"
    )


def test_wechatpay_an_api_v3_key_of_the_wrong_length_is_a_usage_error(
    wechat_files: dict[str, Path],
) -> None:
    result = _wechat(wechat_files, "--now", NOW, "--api-v3-key", "short")

    assert result.exit_code == 2
    assert result.stderr == "error: the WeChat Pay APIv3 key must be 32 bytes, got 5\n"


def test_wechatpay_now_without_an_offset_is_a_usage_error(wechat_files: dict[str, Path]) -> None:
    result = _wechat(wechat_files, "--now", "2024-01-05T10:01:00")

    assert result.exit_code == 2
    assert result.stderr == (
        "error: --now '2024-01-05T10:01:00' needs a UTC offset, e.g. 2024-01-05T10:00:00+08:00\n"
    )


def test_verify_help_says_no_nonce_replay_check_is_made() -> None:
    result = runner.invoke(app, ["verify", "--help"])

    assert result.exit_code == 0
    assert "No nonce replay check" in result.stdout


# --- alipay -------------------------------------------------------------------------------


@pytest.fixture
def alipay_files(tmp_path: Path, platform_key: rsa.RSAPrivateKey) -> dict[str, Path]:
    files = {"form": tmp_path / "notify.txt", "pem": tmp_path / "alipay_public.pem"}
    files["form"].write_bytes(signed_notification_form(ALIPAY_PARAMS, platform_key))
    files["pem"].write_bytes(_public_pem(platform_key))
    return files


def _alipay(files: dict[str, Path]) -> Result:
    args = [
        "verify",
        "alipay",
        "--body",
        str(files["form"]),
        "--alipay-public-key",
        str(files["pem"]),
    ]
    return runner.invoke(app, args)


def test_alipay_prints_the_verified_parameters(alipay_files: dict[str, Path]) -> None:
    result = _alipay(alipay_files)

    assert result.exit_code == 0, result.stderr
    printed = json.loads(result.stdout)
    assert {k: printed[k] for k in ALIPAY_PARAMS} == ALIPAY_PARAMS
    assert printed["sign_type"] == "RSA2"
    assert '"subject": "2024秋季学费"' in result.stdout


def test_alipay_rejects_a_tampered_amount(alipay_files: dict[str, Path]) -> None:
    form = alipay_files["form"]
    form.write_bytes(form.read_bytes().replace(b"total_amount=12.34", b"total_amount=0.01"))

    result = _alipay(alipay_files)

    assert result.exit_code == 1
    assert result.stderr == (
        "rejected: signature does not match the parameters for the configured Alipay public key\n"
    )


def test_alipay_rejects_a_form_with_a_duplicated_parameter(alipay_files: dict[str, Path]) -> None:
    form = alipay_files["form"]
    form.write_bytes(form.read_bytes() + b"&total_amount=0.01")

    result = _alipay(alipay_files)

    assert result.exit_code == 1
    assert result.stderr == "rejected: parameter 'total_amount': appears more than once\n"


def test_alipay_unreadable_key_file_is_a_usage_error(
    alipay_files: dict[str, Path], tmp_path: Path
) -> None:
    alipay_files["pem"] = tmp_path / "nowhere.pem"

    result = _alipay(alipay_files)

    assert result.exit_code == 2
    assert result.stderr.startswith(
        f"error: cannot read Alipay public key file '{tmp_path / 'nowhere.pem'}'"
    )
