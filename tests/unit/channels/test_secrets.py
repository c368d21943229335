from __future__ import annotations

from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from billfold.channels.secrets import DictSecrets, EnvSecrets, private_key, secret, secret_map
from billfold.errors import ConfigurationError

WHERE = "wechatpay settings of biller s1"


def test_a_secret_named_by_an_environment_variable_is_read_from_the_environment() -> None:
    secrets = EnvSecrets({"S1_V3": "billfold-apiv3-key-0123456789abc"})
    value = secret(secrets, {"api_v3_key_env": "S1_V3"}, "api_v3_key", where=WHERE)
    assert value == b"billfold-apiv3-key-0123456789abc"


def test_a_secret_named_by_a_file_is_read_relative_to_the_base_directory(tmp_path: Path) -> None:
    (tmp_path / "keys").mkdir()
    (tmp_path / "keys" / "apiclient_key.pem").write_bytes(b"-----BEGIN PRIVATE KEY-----\n")
    secrets = EnvSecrets({}, base_dir=tmp_path)
    settings = {"private_key_file": "keys/apiclient_key.pem"}
    assert secret(secrets, settings, "private_key", where=WHERE).startswith(b"-----BEGIN")
    absolute = {"private_key_file": str(tmp_path / "keys" / "apiclient_key.pem")}
    assert secret(EnvSecrets({}), absolute, "private_key", where=WHERE).startswith(b"-----BEGIN")


def test_dict_secrets_answer_by_variable_name_or_path() -> None:
    secrets = DictSecrets({"S1_V3": "k" * 32, "/etc/billfold/s1.pem": b"PEM"})
    assert secret(secrets, {"api_v3_key_env": "S1_V3"}, "api_v3_key", where=WHERE) == b"k" * 32
    settings = {"private_key_file": "/etc/billfold/s1.pem"}
    assert secret(secrets, settings, "private_key", where=WHERE) == b"PEM"


@given(st.text(alphabet=st.characters(codec="utf-8", exclude_characters="\0")))
def test_any_secret_text_round_trips_through_the_environment(value: str) -> None:
    settings = {"token_env": "TOKEN"}
    if value:
        assert (
            secret(EnvSecrets({"TOKEN": value}), settings, "token", where=WHERE) == value.encode()
        )
    else:  # an empty variable is an unset one
        with pytest.raises(ConfigurationError, match="which is not set"):
            secret(EnvSecrets({"TOKEN": value}), settings, "token", where=WHERE)


def test_a_secret_with_no_setting_names_both_ways_to_set_it() -> None:
    with pytest.raises(ConfigurationError) as excinfo:
        secret(DictSecrets({}), {}, "api_v3_key", where=WHERE)
    assert excinfo.value.message == f"{WHERE}: set api_v3_key_env or api_v3_key_file"


def test_a_secret_set_both_ways_is_refused() -> None:
    settings = {"api_v3_key_env": "S1_V3", "api_v3_key_file": "/k"}
    with pytest.raises(ConfigurationError) as excinfo:
        secret(DictSecrets({"S1_V3": "x"}), settings, "api_v3_key", where=WHERE)
    assert excinfo.value.message == f"{WHERE}: set only one of api_v3_key_env and api_v3_key_file"


def test_an_unset_variable_is_named_and_the_message_holds_no_secret() -> None:
    with pytest.raises(ConfigurationError) as excinfo:
        secret(
            EnvSecrets({"OTHER": "s3cret"}), {"api_v3_key_env": "S1_V3"}, "api_v3_key", where=WHERE
        )
    assert excinfo.value.message == (
        f"{WHERE}: api_v3_key_env names environment variable 'S1_V3', which is not set"
    )


def test_an_unreadable_file_is_named(tmp_path: Path) -> None:
    missing = str(tmp_path / "nope.pem")
    with pytest.raises(ConfigurationError) as excinfo:
        secret(EnvSecrets({}), {"private_key_file": missing}, "private_key", where=WHERE)
    assert excinfo.value.message == (
        f"{WHERE}: private_key_file names file {missing!r}, which cannot be read"
    )


def test_a_reference_that_is_not_text_is_refused() -> None:
    with pytest.raises(ConfigurationError) as excinfo:
        secret(DictSecrets({}), {"private_key_file": 42}, "private_key", where=WHERE)
    assert excinfo.value.message == f"{WHERE}: private_key_file must name a variable or a file"


def test_labelled_secrets_merge_variables_and_files() -> None:
    secrets = DictSecrets({"S1_PUB_A": "A", "/keys/b.pem": "B"})
    settings = {
        "platform_keys_env": {"PUB_KEY_ID_A": "S1_PUB_A"},
        "platform_keys_file": {"5157F09E": "/keys/b.pem"},
    }
    assert secret_map(secrets, settings, "platform_keys", where=WHERE) == {
        "PUB_KEY_ID_A": b"A",
        "5157F09E": b"B",
    }


def test_labelled_secrets_name_the_label_that_is_missing() -> None:
    settings = {"platform_keys_file": {"PUB_KEY_ID_A": "/keys/a.pem"}}
    with pytest.raises(ConfigurationError) as excinfo:
        secret_map(DictSecrets({}), settings, "platform_keys", where=WHERE)
    assert excinfo.value.message == (
        f"{WHERE}: platform_keys_file['PUB_KEY_ID_A'] names file '/keys/a.pem', "
        "which cannot be read"
    )


@pytest.mark.parametrize(
    ("settings", "message"),
    [
        ({}, "set platform_keys_env or platform_keys_file"),
        ({"platform_keys_file": "/keys/a.pem"}, "platform_keys_file must map labels to references"),
        ({"platform_keys_env": {}}, "platform_keys_env must map labels to references"),
        (
            {"platform_keys_env": {"A": "S1_A"}, "platform_keys_file": {"A": "/a.pem"}},
            "platform_keys 'A' is set twice",
        ),
    ],
)
def test_badly_shaped_labelled_secrets_are_refused(
    settings: dict[str, object], message: str
) -> None:
    secrets = DictSecrets({"S1_A": "a", "/a.pem": "a"})
    with pytest.raises(ConfigurationError) as excinfo:
        secret_map(secrets, settings, "platform_keys", where=WHERE)
    assert excinfo.value.message == f"{WHERE}: {message}"


def test_a_private_key_is_parsed_once_per_content() -> None:
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import rsa

    key = rsa.generate_private_key(public_exponent=65537, key_size=1024)
    pem = key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )
    assert private_key(pem) is private_key(bytes(pem))
    assert private_key(pem).private_numbers() == key.private_numbers()
    with pytest.raises(ConfigurationError, match="not a PEM or base64 RSA private key"):
        private_key(b"-----BEGIN PRIVATE KEY-----\nnonsense\n-----END PRIVATE KEY-----\n")
