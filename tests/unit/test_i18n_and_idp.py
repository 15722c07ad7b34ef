"""Language choice for hub pages and the demo IdP's password handling."""

from enclave_demo.idp import check_password, hash_password
from hub.i18n import pick_language, translator


def test_language_follows_accept_language():
    assert pick_language("zh-CN,zh;q=0.9,en;q=0.8") == "zh-CN"
    assert pick_language("zh-TW") == "zh-CN"
    assert pick_language("en-GB,en;q=0.9") == "en"
    assert pick_language("fr-FR") == "en"
    assert pick_language("") == "en"
    assert translator("zh-CN")("Logout") == "退出登录"
    assert translator("en")("Logout") == "Logout"


def test_password_hashes():
    stored = hash_password("s3cret")
    assert check_password("s3cret", stored)
    assert not check_password("S3cret", stored)
    assert not check_password("s3cret", "garbage")
    assert hash_password("s3cret") != stored  # salted
