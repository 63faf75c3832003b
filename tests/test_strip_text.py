"""``checks.strip_text``: trims text values, keeps free text verbatim, leaves other values alone."""

from __future__ import annotations

from crm_workspace.data import checks


class Name(str):
    pass


def test_strip_text_trims_text_but_free_text_and_non_text():
    same = "kept"
    record = {
        "first_name": "  Ada ",
        "title": same,
        "notes": "  as written \n",
        "body": Name(" verbatim "),
        "city": Name(" Lyon "),
        "owner": Name("chen"),
        "id": 7,
        "amount": 1.5,
        "email": None,
    }
    checks.strip_text(record)
    assert record == {
        "first_name": "Ada",
        "title": "kept",
        "notes": "  as written \n",
        "body": " verbatim ",
        "city": "Lyon",
        "owner": "chen",
        "id": 7,
        "amount": 1.5,
        "email": None,
    }
    assert record["title"] is same and type(record["body"]) is Name
    assert type(record["city"]) is str and type(record["owner"]) is str  # a str subclass becomes a plain str
