"""The markdown report layer every recipe writes through (`keras_cxr.report.document`)."""

import pytest

from keras_cxr.report import Report, beside, mean_sd, table, warning_lines
from keras_cxr.report.document import WARNINGS_SHOWN


def test_a_report_keeps_its_sections_in_order_with_warnings_first():
    report = Report("# T", preamble=["Data: x.", "- a", "- b", None], warnings=["M is constant."], tail=["END"])
    report.section("Table 1", table(["m", "v"], [["A", 0.5]]), "", [])
    report.section("Sub", "text", level=3)
    text = report.markdown()
    assert text.index("## Warnings") < text.index("## Table 1") < text.index("### Sub") < text.index("END")
    assert "- a\n- b\n" in text and "| A | 0.5000 |" in text and text.endswith("END\n")
    assert "\n\n\n" not in text


def test_cells_are_written_one_way():
    assert mean_sd((0.81234, 0.0123)) == "0.812 ± 0.012"
    assert mean_sd(float("nan")) == mean_sd(None) == mean_sd((float("nan"), 0.1)) == "—"
    assert beside(0.5, 0.6) == "0.5000 / 0.6000" and beside(0.5, None) == "0.5000 / —"
    assert beside((0.5, 0.1), 0.6, 2, "brackets") == "0.50 ± 0.10 [0.60]"


def test_a_row_of_the_wrong_length_names_the_columns():
    with pytest.raises(ValueError, match=r"1 cells for 2 columns \['a', 'b'\]"):
        table(["a", "b"], [["x"]])


def test_long_warning_lists_are_cut_and_counted():
    lines = warning_lines([f"w{i}" for i in range(WARNINGS_SHOWN + 5)] + ["w0"])
    assert lines[-1] == "- ... and 5 more" and len([line for line in lines if line.startswith("- w")]) == WARNINGS_SHOWN
    assert warning_lines([]) == []
