from typer.testing import CliRunner

from visitrisk import load_portfolio
from visitrisk.cli import app


def test_demo_writes_a_valid_portfolio_and_reports_it(tmp_path):
    result = CliRunner().invoke(app, ["demo", "--out", str(tmp_path), "--customers", "500"])
    assert result.exit_code == 0, result.output
    assert "delinquent_customers" in result.output
    assert str(tmp_path / "data") in result.output.replace("\n", "")
    portfolio = load_portfolio(tmp_path / "data")
    assert len(portfolio.customers) == 500
