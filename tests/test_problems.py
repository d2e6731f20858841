"""Problem reports look the same whichever stage refuses its input."""

import pandas as pd
import pytest

from visitrisk._problems import MAX_EXAMPLES, problem, problem_frame, raise_problems
from visitrisk.contract import PROBLEM_COLUMNS, DataError, load_portfolio
from visitrisk.ledger import settle_installments
from visitrisk.planning import plan_visits
from visitrisk.report import write_csv

_DTYPES = {"table": "str", "column": "str", "rule": "str", "count": "int64"}
_DTYPES |= {"examples": "str", "message": "str"}


def test_a_problem_keeps_the_first_examples_as_text():
    row = problem("loans", "loan_id", "null", "loans: 7 row(s) have no loan_id.", count=7,
                  examples=(f"row {i}" for i in range(1, 8)))  # fmt: skip
    assert row["examples"] == ", ".join(f"row {i}" for i in range(1, MAX_EXAMPLES + 1))
    frame = problem_frame([row])
    assert list(frame.columns) == list(PROBLEM_COLUMNS)
    assert frame["count"].tolist() == [7]
    assert problem_frame([]).empty
    raise_problems([])  # nothing to raise
    with pytest.raises(DataError, match=r"(?s)1 problem\(s\).*7 row\(s\) have no loan_id"):
        raise_problems([row])


def _contract_error():
    load_portfolio(
        customers=pd.DataFrame({"customer_id": ["C1", "C1"], "branch_id": ["B1", "B1"]}),
        loans=pd.DataFrame({"loan_id": ["L1"]}),
        installments=pd.DataFrame({"loan_id": ["L1"]}),
        payments=pd.DataFrame({"loan_id": ["L1"]}),
    )


def _ledger_error():
    settle_installments(pd.DataFrame({"loan_id": ["L1"]}), pd.DataFrame({"loan_id": ["L1"]}))


def _planner_error():
    scores = pd.DataFrame({"branch_id": ["B1"]}, index=pd.Index(["C1"], name="customer_id"))
    staff = pd.DataFrame({"officer_id": ["O1"], "branch_id": ["B1"], "visits_per_day": [1]})
    plan_visits(scores, staff, "2026-12-01", 1)


def _report_error(tmp_path):
    write_csv(pd.DataFrame({"customer_id": ["C1"]}), pd.DataFrame(), tmp_path)


@pytest.mark.parametrize("stage", ["contract", "ledger", "planner", "report"])
def test_every_stage_reports_problems_with_the_same_columns_and_dtypes(stage, tmp_path):
    fail = {
        "contract": _contract_error,
        "ledger": _ledger_error,
        "planner": _planner_error,
        "report": lambda: _report_error(tmp_path),
    }[stage]
    with pytest.raises(DataError, match="column") as raised:
        fail()
    problems = raised.value.problems
    assert problems.dtypes.astype(str).to_dict() == _DTYPES
    assert (problems["rule"] == "missing_column").any()
    assert problems["examples"].str.count(", ").max() < MAX_EXAMPLES
