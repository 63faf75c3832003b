"""The read-only list component (crm_workspace/web/list_table.py): what it sends the browser and what it reports."""

import json

import pandas as pd
import pytest

from crm_workspace.web.list_table import ListTable, RowClick, number, percent


def payload(table: ListTable) -> dict:
    return json.loads(table.payload)


def test_rows_go_out_as_text_with_titles_widths_and_alignment():
    frame = pd.DataFrame(
        {"id": [3, 1], "first_name": ["Ana", "<b>Ben</b>"], "amount": [1500.0, 2.5], "note": [None, "x"]}
    )
    table = ListTable(frame, titles={"id": "#"}, widths={"first_name": "20%", "id": 40}, hidden_columns=["note"])
    sent = payload(table)
    assert [c["field"] for c in sent["columns"]] == ["id", "first_name", "amount"]
    assert [c["title"] for c in sent["columns"]] == ["#", "First name", "Amount"]
    assert [c["width"] for c in sent["columns"]] == ["40px", "20%", None]
    assert [c["align"] for c in sent["columns"]] == ["right", "left", "right"]
    # the browser escapes text cells; the markup arrives as the text it is
    assert sent["rows"] == [["3", "Ana", "1,500"], ["1", "<b>Ben</b>", "2.5"]]
    assert not any(c["html"] for c in sent["columns"])
    assert sent["keys"] == {"0": [3, 1], "2": [1500.0, 2.5]}  # numbers sort as numbers


def test_formatters_html_wrap_and_functions():
    frame = pd.DataFrame({"at": ["<time>x</time>"], "share": [0.125], "money": [18600.0], "text": ["a\nb"]})
    table = ListTable(frame, formatters={"at": "html", "share": percent(), "money": number(), "text": "wrap"})
    sent = payload(table)
    assert sent["rows"] == [["<time>x</time>", "12.5%", "18,600", "a\nb"]]
    assert [c["html"] for c in sent["columns"]] == [True, False, False, False]
    assert [c["wrap"] for c in sent["columns"]] == [False, False, False, True]
    assert sent["keys"]["1"] == [0.125]  # a formatted column still sorts by its value
    assert number(1)(2.0) == "2" and number(1)(2.25) == "2.2" and number(grouped=False)(12345) == "12345"


def test_missing_values_are_blank_and_an_empty_frame_draws_no_rows():
    frame = pd.DataFrame({"a": [float("nan"), None], "b": [pd.NaT, "x"], "c": pd.array([None, 2], dtype="Int64")})
    sent = payload(ListTable(frame))
    assert sent["rows"] == [["", "", ""], ["", "x", "2"]]
    assert sent["keys"]["2"] == [None, 2]  # pandas' NA sorts as a blank, not as the text "<NA>"
    assert payload(ListTable(pd.DataFrame(columns=["a", "b"])))["rows"] == []
    assert payload(ListTable(None)) == {"columns": [], "rows": [], "v": 1}


def test_numbers_read_as_people_write_them_and_odd_values_do_not_break_the_list():
    frame = pd.DataFrame(
        {
            "id": [12345, 7],
            "contact_id": [23456, 8],
            "amount": [57500.0, 2.999],
            "tiny": [-0.004, 0.001],
            "ratio": [float("inf"), 1.5],
            "ok": [True, False],
        }
    )
    sent = payload(ListTable(frame))
    assert sent["rows"] == [["12345", "23456", "57,500", "0", "∞", "Yes"], ["7", "8", "3", "0", "1.5", "No"]]
    assert sent["keys"]["4"] == [None, 1.5]  # an infinite value sorts as a blank: JSON has no Infinity
    odd = ListTable(pd.DataFrame([[1, 2]], columns=["a", "a"]))  # repeated or non-text names
    assert payload(odd)["rows"] == [["1", "2"]]
    assert payload(ListTable(pd.DataFrame([[1, 2]])))["rows"] == [["1", "2"]]


def test_cell_styles_are_sent_per_cell():
    frame = pd.DataFrame({"sla": ["breached", "ok"], "id": [1, 2]})
    table = ListTable(frame, cell_styles={"sla": lambda v: "color: red" if v == "breached" else ""})
    assert payload(table)["styles"] == [["color: red", ""], ["", ""]]


def test_a_click_reports_its_row_of_value_and_malformed_messages_are_ignored():
    frame = pd.DataFrame({"id": [10, 20, 30], "name": ["a", "b", "c"]})
    table = ListTable(frame)
    assert not table.clickable
    clicks: list[RowClick] = []
    table.on_click(clicks.append)
    assert table.clickable
    v = payload(table)["v"]  # which rows the browser drew
    table._handle_msg({"type": "click", "row": 2, "column": "name", "v": v})
    table._handle_msg({"type": "click", "row": 7, "column": "name", "v": v})  # no such row: ignored
    table._handle_msg({"type": "click", "row": "1", "v": v})  # not a position: ignored
    table._handle_msg({"type": "click", "row": 0, "column": "nope", "v": v})
    table._handle_msg({"type": "click", "row": 1})  # rows unnamed: ignored
    for malformed in ({"type": "click", "row": True, "v": v}, {"type": "click", "row": 1, "column": ["x"], "v": v}):
        table._handle_msg(malformed)
    for malformed in ("click", None):
        table._handle_msg(malformed)
    assert clicks == [RowClick(2, "name", "c"), RowClick(0, None, None), RowClick(1, None, None)]


def test_new_rows_clear_the_ticks_and_selected_dataframe_follows_them():
    frame = pd.DataFrame({"id": [10, 20, 30]})
    table = ListTable(frame, selectable=True)
    table.selection = [2, 0, -1, 9]  # positions from the browser: the ones out of range are dropped
    assert table.selected_dataframe["id"].tolist() == [30, 10]
    table.value = frame.head(1)
    assert table.selection == [] and table.selected_dataframe.empty


@pytest.mark.parametrize("bad", [[1.5], ["x"]])
def test_selection_holds_positions_only(bad):
    with pytest.raises(TypeError):
        ListTable(pd.DataFrame({"id": [1]}), selection=bad)


def test_ticks_survive_new_rows_that_still_hold_their_record():
    """A refresh (another agent's change) while someone ticks rows keeps the ticks of the rows still there."""
    table = ListTable(pd.DataFrame({"id": [10, 20, 30]}), selectable=True, row_key="id")
    table.selection = [0, 2]
    table.value = pd.DataFrame({"id": [5, 30, 20, 10]})  # reordered, 20 unticked, a new row
    assert table.selected_dataframe["id"].tolist() == [30, 10]
    table.value = pd.DataFrame({"id": [1]})
    assert table.selection == []
    keyless = ListTable(pd.DataFrame({"id": [10]}), selectable=True)
    keyless.selection = [0]
    keyless.value = pd.DataFrame({"id": [10]})
    assert keyless.selection == []


def test_a_tick_or_a_click_about_rows_since_replaced_finds_its_record_or_is_ignored():
    """The browser names rows by position in the rows it drew; a refresh may have moved them meanwhile."""
    table = ListTable(pd.DataFrame({"id": [10, 20, 30]}), selectable=True, row_key="id")
    clicks: list[RowClick] = []
    table.on_click(clicks.append)
    drawn = payload(table)
    assert drawn["ids"] == ["10", "20", "30"]
    v = drawn["v"]
    table._handle_msg({"type": "select", "rows": [0, 2, 2, 9, "1", True, [0]], "v": v, "n": 1})
    assert table.selected_dataframe["id"].tolist() == [10, 30]  # out of range, repeated, not a position: dropped
    table.value = pd.DataFrame({"id": [10, 20, 30]})  # a refresh with the same rows: the same positions
    assert payload(table)["v"] == v
    table.value = pd.DataFrame({"id": [30, 20, 10]})  # a refresh reorders the rows on the way
    assert payload(table)["v"] == v + 1 and table.selected_dataframe["id"].tolist() == [30, 10]
    # ticked 10 and 20, clicked 10, in the rows drawn before: found by their records, not their positions
    table._handle_msg({"type": "select", "rows": [0, 1], "keys": ["10", "20"], "v": v, "n": 2})
    table._handle_msg({"type": "click", "row": 0, "column": "id", "key": "10", "v": v})
    assert table.selected_dataframe["id"].tolist() == [10, 20] and clicks == [RowClick(2, "id", 10)]
    table._handle_msg({"type": "click", "row": 0, "column": "id", "key": "99", "v": v})  # gone since: nothing
    table._handle_msg({"type": "click", "row": 0, "column": "id", "v": v})  # no key: nothing
    assert len(clicks) == 1
    table.selectable = False
    table._handle_msg({"type": "select", "rows": [0], "v": v + 1, "n": 3})  # no ticks on this list
    assert table.selected_dataframe["id"].tolist() == [10, 20]
    keyless = ListTable(pd.DataFrame({"name": ["a", "b"]}), selectable=True)
    old = payload(keyless)["v"]
    keyless.value = pd.DataFrame({"name": ["b", "a"]})
    keyless._handle_msg({"type": "select", "rows": [0], "keys": None, "v": old, "n": 4})  # old rows, no keys: ignored
    assert keyless.selection == [] and keyless.answered == 4  # answered all the same: the browser shows no tick
    keyless._handle_msg({"type": "select", "rows": [0], "v": payload(keyless)["v"]})  # unnumbered: ignored
    assert keyless.selection == []
