from __future__ import annotations

import pytest
from typer.testing import CliRunner

from visitrisk.cli import app

# A wide terminal so that rich never wraps an id across lines.
runner = CliRunner(env={"COLUMNS": "200", "NO_COLOR": "1"})


@pytest.fixture
def data_dir(tiny_tables, tmp_path):
    folder = tmp_path / "data"
    folder.mkdir()
    for name, frame in tiny_tables.items():
        frame.to_csv(folder / f"{name}.csv", index=False)
    return folder


def _replace(path, old: str, new: str) -> None:
    text = path.read_text(encoding="utf-8")
    assert old in text
    path.write_text(text.replace(old, new), encoding="utf-8")


def test_valid_folder_exits_0_and_prints_rows_per_table(data_dir):
    result = runner.invoke(app, ["validate", str(data_dir)])

    assert result.exit_code == 0, result.output
    assert "installments" in result.output
    assert "17" in result.output
    assert "The data meets the contract (0 warning(s))" in result.output
    assert "Errors" not in result.output


def test_errors_exit_1_and_name_rule_and_offending_ids(data_dir):
    _replace(
        data_dir / "loans.csv",
        "L003,C002,microbusiness,2026-01-15,900.0",
        "L003,C002,microbusiness,2026-01-15,-900",
    )
    _replace(data_dir / "payments.csv", "L004,2026-04-20,510.0", "L999,2026-04-20,510.0")

    result = runner.invoke(app, ["validate", str(data_dir)])

    assert result.exit_code == 1
    assert "Errors (2)" in result.output
    assert "non_positive_principal" in result.output
    assert "L003" in result.output
    assert "orphan_foreign_key" in result.output
    assert "L999 on 2026-04-20" in result.output
    assert "The data breaks the contract: 2 error(s)" in result.output


def test_warnings_are_listed_and_exit_0(data_dir):
    (data_dir / "visits.csv").unlink()

    result = runner.invoke(app, ["validate", str(data_dir)])

    assert result.exit_code == 0, result.output
    assert "Warnings (1)" in result.output
    assert "no_visit_log" in result.output


def test_allow_reversals_accepts_negative_payments(data_dir):
    _replace(data_dir / "payments.csv", "L001,2026-04-12,100.0", "L001,2026-04-12,-100.0")

    assert runner.invoke(app, ["validate", str(data_dir)]).exit_code == 1
    result = runner.invoke(app, ["validate", str(data_dir), "--allow-reversals"])
    assert result.exit_code == 0, result.output


def test_missing_table_is_reported_with_rows_marked_absent(data_dir):
    (data_dir / "installments.csv").unlink()

    result = runner.invoke(app, ["validate", str(data_dir)])

    assert result.exit_code == 1
    assert "missing_table" in result.output
    assert "installments │    -" in result.output


@pytest.mark.parametrize("make", ["missing", "file"])
def test_a_folder_that_is_not_there_is_a_usage_error(tmp_path, make):
    target = tmp_path / "data"
    if make == "file":
        target.write_text("not a folder", encoding="utf-8")

    result = runner.invoke(app, ["validate", str(target)])

    assert result.exit_code == 2
    assert "data_dir" in result.output


def test_help_lists_the_validate_command():
    result = runner.invoke(app, ["--help"])

    assert result.exit_code == 0
    assert "validate" in result.output
