"""The package as a user meets it: import, public names, the command line."""

import subprocess
import sys

from typer.testing import CliRunner

import visitrisk
from visitrisk.cli import app


def test_public_names_resolve():
    for name in visitrisk.__all__:
        assert getattr(visitrisk, name) is not None, name


def test_import_does_not_load_heavy_libraries():
    # lightgbm, shap and mlflow cost seconds to import; they load only in the stage using them.
    code = (
        "import sys, visitrisk, visitrisk.cli; "
        "print(sorted(m for m in ('lightgbm', 'shap', 'mlflow', 'matplotlib') if m in sys.modules))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


def test_help_lists_commands():
    result = CliRunner().invoke(app, ["--help"])
    assert result.exit_code == 0
    assert "Usage" in result.output
