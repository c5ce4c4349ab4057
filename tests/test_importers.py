"""Parsing the exports users bring (no network, no server)."""

from __future__ import annotations

from pathlib import Path

import pytest

from vaultapi.client.importers import ImportFormatError, parse_bitwarden_json, parse_csv

DATA = Path(__file__).parent / "data"


def test_bitwarden_json_all_four_types_and_folders() -> None:
    parsed = parse_bitwarden_json((DATA / "bitwarden_export.json").read_text())
    assert parsed.folders == ["Banking"]
    assert [i.type for i in parsed.items] == ["login", "note", "card", "identity"]
    bank = parsed.items[0]
    assert bank.folder == "Banking"
    assert bank.favorite is True
    assert bank.fields["login"] == {
        "uris": ["https://bank.example"],
        "username": "alice",
        "password": "s3cret, with comma",
        "totp": None,
    }
    assert bank.fields["fields"] == [{"name": "PIN", "value": "0042"}]
    assert bank.fields["notes"] == "branch: Zürich"
    assert parsed.items[2].fields["card"]["number"] == "4111111111111111"
    assert parsed.items[3].fields["identity"]["passportNumber"] == "X1234567"


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("{not json", "not JSON"),
        ('{"folders": []}', "no 'items' list"),
        ('{"encrypted": true, "items": []}', "encrypted Bitwarden export"),
        ('{"items": [{"type": 9, "name": "x"}]}', "unknown type 9"),
        ('{"items": ["x"]}', "item 1 is not an object"),
    ],
)
def test_bitwarden_json_errors_say_what_is_wrong(text: str, message: str) -> None:
    with pytest.raises(ImportFormatError, match=message):
        parse_bitwarden_json(text)


def test_generic_csv_with_quoting_bom_unicode_and_extra_columns() -> None:
    text = (
        "\ufeffName,URL,Username,Password,Notes,Folder,Security question\n"
        'Mail,https://mail.example,alice,"pa,ss""word",,Personal,\n'
        ',https://shop.example/cart,bob,hunter2,"line one\nline two",,Name of first pet? Rex\n'
        "Café,,carol,mot de passe é,,Personal,\n"
    )
    parsed = parse_csv(text)
    assert parsed.folders == ["Personal"]
    mail, shop, cafe = parsed.items
    assert mail.fields["login"]["password"] == 'pa,ss"word'
    assert mail.folder == "Personal"
    assert shop.fields["name"] == "shop.example"  # no name: the URL's host
    assert shop.fields["notes"] == "line one\nline two"
    assert shop.fields["fields"] == [
        {"name": "Security question", "value": "Name of first pet? Rex"}
    ]
    assert cafe.fields["name"] == "Café"
    assert cafe.fields["login"]["uris"] == []


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("", "empty CSV"),
        ("title,comment\nx,y\n", "no url, username or password column"),
        ("name,password\na,b,c\n", "row 2 has more cells than the header"),
    ],
)
def test_csv_errors_say_what_is_wrong(text: str, message: str) -> None:
    with pytest.raises(ImportFormatError, match=message):
        parse_csv(text)
