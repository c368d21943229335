from __future__ import annotations

import io
import json
from pathlib import Path

from typer.testing import CliRunner

from billfold.adapters.cli.statement import app, read_with_progress

runner = CliRunner()

WECHAT = "\n".join(
    [
        "交易时间,公众账号ID,商户号,特约商户号,设备号,微信订单号,商户订单号,用户标识,交易类型,"
        "交易状态,付款银行,货币种类,应结订单金额,代金券金额,微信退款单号,商户退款单号,退款金额,"
        "充值券退款金额,退款类型,退款状态,商品名称,商户数据包,手续费,费率,订单金额,申请退款金额,费率备注",
        "`2024-01-31 10:00:00,`wx2421b1c4370ec43b,`1900000109,`0,`,`4200000001,`FEE-1,`oUser,"
        "`NATIVE,`SUCCESS,`OTHERS,`CNY,`35.00,`0.00,`0,`0,`0.00,`0.00,`,`,`学费,`,`0.21000,"
        "`0.60%,`35.00,`0.00,`",
        "`2024-01-31 11:00:00,`wx2421b1c4370ec43b,`1900000109,`0,`,`4200000002,`FEE-2,`oUser,"
        "`NATIVE,`SUCCESS,`OTHERS,`CNY,`1.00,`0.00,`0,`0,`0.00,`0.00,`,`,`学费,`,`0.00600,"
        "`0.60%,`1.005,`0.00,`",
        "总交易单数,应结订单总金额,退款总金额,充值券退款总金额,手续费总金额,订单总金额,申请退款总金额",
        "`2,`36.00,`0.00,`0.00,`0.21600,`36.00,`0.00",
    ]
)
MT940 = (
    ":20:R1\n:25:ACC\n:28C:1/1\n:60F:C240130CNY0,\n"
    ":61:240131C12,34NTRFORDER-1\n:86:SETTLEMENT\n:62F:C240131CNY12,34\n"
)


def _write(tmp_path: Path, name: str, data: bytes) -> Path:
    path = tmp_path / name
    path.write_bytes(data)
    return path


def test_parse_prints_json_lines(tmp_path: Path) -> None:
    path = _write(tmp_path, "stmt.940", MT940.encode())
    result = runner.invoke(app, ["parse", str(path), "--format", "mt940", "--json"])
    assert result.exit_code == 0, result.stderr
    (row,) = [json.loads(line) for line in result.stdout.splitlines()]
    assert row["amount_fen"] == 1234
    assert row["type"] == "SETTLEMENT"
    assert row["order_no"] == "ORDER-1"
    assert row["occurred_at"] == "2024-01-30T16:00:00Z"
    assert row["source_file"] == str(path)
    assert result.stderr == ""


def test_parse_without_json_prints_a_readable_table(tmp_path: Path) -> None:
    path = _write(tmp_path, "stmt.940", MT940.encode())
    result = runner.invoke(app, ["parse", str(path), "-f", "mt940", "--channel", "icbc"])
    assert result.exit_code == 0
    assert result.stdout.split("\t") == [
        "5",
        "2024-01-30T16:00:00Z",
        "SETTLEMENT",
        "SUCCESS",
        "CREDIT",
        "12.34 CNY",
        "ORDER-1",
        "ORDER-1\n",
    ]


def test_reject_prints_the_error_and_exits_1(tmp_path: Path) -> None:
    path = _write(tmp_path, "wx.csv", WECHAT.encode("gbk"))
    result = runner.invoke(app, ["parse", str(path), "--format", "wechatpay", "--json"])
    assert result.exit_code == 1
    assert result.stderr == f"{path}:3: 订单金额: '1.005' has more than two decimals\n"
    assert len(result.stdout.splitlines()) == 1  # the line before the bad one was streamed


def test_quarantine_prints_good_lines_and_the_errors(tmp_path: Path) -> None:
    path = _write(tmp_path, "wx.csv", WECHAT.encode("utf-8-sig"))
    args = ["parse", str(path), "--format", "wechatpay", "--on-error", "quarantine", "--json"]
    result = runner.invoke(app, args)
    assert result.exit_code == 1
    assert [json.loads(line)["order_no"] for line in result.stdout.splitlines()] == ["FEE-1"]
    assert result.stderr.splitlines() == [
        f"{path}:3: 订单金额: '1.005' has more than two decimals",
        f"{path}: 1 lines, 1 quarantined",
    ]


def test_wrong_encoding_is_reported(tmp_path: Path) -> None:
    path = _write(tmp_path, "wx.csv", WECHAT.encode("gbk"))
    args = ["parse", str(path), "--format", "wechatpay", "--encoding", "utf-8"]
    result = runner.invoke(app, args)
    assert result.exit_code == 1
    assert result.stderr.startswith(f"{path}:1: encoding: not valid UTF-8 (stated)")


def test_generic_csv_with_a_mapping_file(tmp_path: Path) -> None:
    mapping = {"channel_txn_id": "id", "amount": "金额", "occurred_at": "时间"}
    mapping_path = _write(tmp_path, "map.json", json.dumps(mapping).encode())
    path = _write(tmp_path, "b.csv", "id,金额,时间\nX1,9.99,2024-01-31 08:00:00\n".encode("gbk"))
    args = ["parse", str(path), "-f", "generic-csv", "--mapping", str(mapping_path), "--json"]
    result = runner.invoke(app, args)
    assert result.exit_code == 0, result.stderr
    assert json.loads(result.stdout)["amount_fen"] == 999


def test_bad_mapping_file_is_reported(tmp_path: Path) -> None:
    mapping_path = _write(tmp_path, "map.json", b"{not json")
    path = _write(tmp_path, "b.csv", b"id\n")
    args = ["parse", str(path), "-f", "generic-csv", "--mapping", str(mapping_path)]
    result = runner.invoke(app, args)
    assert result.exit_code == 1
    assert result.stderr.startswith(f"{mapping_path}: mapping: cannot read JSON:")


def test_mapping_with_a_missing_required_column_is_reported(tmp_path: Path) -> None:
    mapping_path = _write(tmp_path, "map.json", b'{"amount": "a", "occurred_at": "t"}')
    path = _write(tmp_path, "b.csv", b"a,t\n")
    args = ["parse", str(path), "-f", "generic-csv", "--mapping", str(mapping_path)]
    result = runner.invoke(app, args)
    assert result.exit_code == 1
    assert result.stderr == f"{path}: mapping: columns.channel_txn_id is required\n"


def test_unknown_format_is_a_usage_error(tmp_path: Path) -> None:
    path = _write(tmp_path, "x", b"")
    result = runner.invoke(app, ["parse", str(path), "--format", "ofx"])
    assert result.exit_code == 2


def test_progress_reader_reports_every_byte() -> None:
    seen: list[int] = []
    data = b"x" * 200_000
    chunks = list(read_with_progress(io.BytesIO(data), seen.append))
    assert b"".join(chunks) == data
    assert sum(seen) == len(data)
    assert len(seen) > 1


def test_presets_lists_the_bank_mappings_with_chinese_titles() -> None:
    result = runner.invoke(app, ["presets"])
    assert result.exit_code == 0, result.stderr
    assert "icbc\t中国工商银行 企业网银 账户历史明细" in result.stdout.splitlines()
    shown = runner.invoke(app, ["presets", "--show", "cmb"])
    assert json.loads(shown.stdout)["columns"]["occurred_at"] == ["交易日", "交易时间"]


def test_parse_with_a_preset_reads_a_bank_export(tmp_path: Path) -> None:
    text = (
        "招商银行交易明细\n"
        "交易日,交易时间,借方金额,贷方金额,余额,摘要,流水号,业务参考号,收/付方名称\n"
        '20240301,08:30:05,,"1,880.00",1880.00,代收学费,CMB001,TUITION-7,张三\n'
    )
    path = _write(tmp_path, "cmb.csv", text.encode("gbk"))
    result = runner.invoke(
        app, ["parse", str(path), "-f", "generic-csv", "--preset", "cmb", "--json"]
    )
    assert result.exit_code == 0, result.stderr
    line = json.loads(result.stdout)
    assert (line["amount_fen"], line["direction"], line["order_no"]) == (
        188000,
        "CREDIT",
        "TUITION-7",
    )


def test_parse_refuses_an_unknown_preset_or_a_preset_with_another_format(tmp_path: Path) -> None:
    path = _write(tmp_path, "x.csv", b"a\n")
    unknown = runner.invoke(app, ["parse", str(path), "-f", "generic-csv", "--preset", "hsbc"])
    assert unknown.exit_code == 2
    assert unknown.stderr == "preset: unknown preset 'hsbc'; known: abc, ccb, cmb, icbc\n"
    wrong = runner.invoke(app, ["parse", str(path), "-f", "mt940", "--preset", "cmb"])
    assert wrong.exit_code == 2
    assert "--preset goes with --format generic-csv" in wrong.stderr


def test_parse_marks_a_line_read_despite_a_deviation(tmp_path: Path) -> None:
    text = "ABNANL2A\n940\n" + MT940.replace("C12,34NTRFORDER-1", "C12,34NTRF")
    path = _write(tmp_path, "abn.940", text.encode())
    result = runner.invoke(app, ["parse", str(path), "-f", "mt940"])
    assert result.exit_code == 0, result.stderr
    assert result.stdout.rstrip("\n").endswith(
        "\t! no customer reference (the spec asks for NONREF)"
    )
    as_json = runner.invoke(app, ["parse", str(path), "-f", "mt940", "--json"])
    assert json.loads(as_json.stdout)["deviations"] == [
        "no customer reference (the spec asks for NONREF)"
    ]
