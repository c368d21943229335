from billfold.merchants.biller import LookupCheck


def test_no_check_passes_everyone() -> None:
    assert LookupCheck.NONE.passes(None, "")
    assert LookupCheck.NONE.passes("张小明", "anything")


def test_the_last_character_or_the_whole_name_passes_and_nothing_else() -> None:
    check = LookupCheck.NAME_LAST_CHAR
    assert check.passes("张小明", "明") and check.passes("张小明", " 张 小明 ")
    assert not check.passes("张小明", "小") and not check.passes("张小明", "小明")
    assert not check.passes("张小明", "")


def test_the_whole_name_is_needed_when_the_biller_asks_for_it() -> None:
    assert LookupCheck.NAME.passes("张小明", "张小明")
    assert not LookupCheck.NAME.passes("张小明", "明")


def test_a_payer_without_a_name_on_file_never_passes_a_name_check() -> None:
    assert not LookupCheck.NAME_LAST_CHAR.passes(None, "明")
    assert not LookupCheck.NAME.passes("", "")
