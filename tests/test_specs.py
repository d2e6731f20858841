"""Model and experiment specs: the shipped files load and build; bad files fail clearly."""

from __future__ import annotations

from pathlib import Path

import pytest

from visitrisk.specs import SpecError, load_experiment_spec, load_model_spec

ROOT = Path(__file__).resolve().parents[1]
MODEL_FILES = sorted((ROOT / "models").glob("*.yaml"))


def test_every_learner_has_a_shipped_spec():
    names = {path.stem for path in MODEL_FILES}
    assert {"t_lightgbm", "s_lightgbm", "x_lightgbm", "dr_lightgbm"} <= names


@pytest.mark.parametrize("path", MODEL_FILES, ids=lambda path: path.stem)
def test_shipped_model_specs_build_their_learner(path):
    spec = load_model_spec(path)
    model = spec.build(random_state=3, n_jobs=1)
    params = model.get_params()
    assert params["learner"] == spec.learner == path.stem.split("_")[0]
    assert params["random_state"] == 3
    outcome = params["outcome_model"]
    assert outcome.get_params()["n_jobs"] == 1
    for key, value in spec.outcome_model.items():
        assert outcome.get_params()[key] == value
    flat = spec.to_params()
    assert flat["learner"] == spec.learner
    if spec.learner in ("x", "dr"):
        assert params["n_folds"] == spec.propensity["n_folds"]
        assert params["propensity_clip"] == spec.propensity["clip"]
        assert "propensity.model.num_leaves" in flat
    else:
        assert "n_folds" not in params


def test_shipped_experiment_spec_loads_its_models():
    spec = load_experiment_spec(ROOT / "experiments" / "compare_learners.yaml")
    assert [model.learner for model in spec.models] == ["t", "s", "x", "dr"]
    assert spec.simulate["customers"] >= 100
    assert spec.capacities == (0.1, 0.2, 0.3)


def _write(folder: Path, name: str, text: str) -> Path:
    path = folder / name
    path.write_text(text, encoding="utf-8")
    return path


@pytest.mark.parametrize(
    ("text", "match"),
    [
        (
            "learner: q\n",
            r"bad\.yaml: key 'learner' must be one of \['dr', 's', 't', 'x'\]\. Got 'q'",
        ),
        ("name: a\n", r"key 'learner' must be one of .* Got None instead"),
        (
            "learner: t\nlearning_rate: 0.1\n",
            r"unknown key\(s\) \['learning_rate'\] under 'the top",
        ),
        ("learner: t\nvisit_cost: -5\n", r"key 'visit_cost' must be a finite number >= 0 \(CNY\)"),
        (
            "learner: t\noutcome_model:\n  n_trees: 10\n",
            r"unknown LightGBM hyper-parameter\(s\) \['n_trees'\] under 'outcome_model'",
        ),
        (
            "learner: t\noutcome_model:\n  n_jobs: 4\n",
            r"unknown LightGBM hyper-parameter\(s\) \['n_jobs'\]",
        ),
        (
            "learner: s\npropensity:\n  clip: 0.1\n",
            r"key 'propensity' applies only to the X and DR",
        ),
        (
            "learner: dr\npropensity:\n  clip: 0.7\n",
            r"key 'propensity\.clip' must be a number in \[0, 0\.5\)",
        ),
        (
            "learner: dr\npropensity:\n  n_folds: 1\n",
            r"key 'propensity\.n_folds' must be an int >= 2",
        ),
        ("learner: [t\n", r"bad\.yaml: not valid YAML"),
        ("- t\n- s\n", r"bad\.yaml: must hold a mapping of keys; got list"),
    ],
)
def test_model_spec_errors_name_file_key_and_expectation(tmp_path, text, match):
    with pytest.raises(SpecError, match=match):
        load_model_spec(_write(tmp_path, "bad.yaml", text))


def test_missing_model_spec_file(tmp_path):
    with pytest.raises(SpecError, match=r"nothere\.yaml: no such spec file"):
        load_model_spec(tmp_path / "nothere.yaml")


_EXPERIMENT = """
name: tiny
data:
  simulate: {{customers: 300}}
models: {models}
capacities: {capacities}
"""


@pytest.mark.parametrize(
    ("models", "capacities", "match"),
    [
        ("[]", "[0.1]", r"key 'models' must be a non-empty list of model spec paths"),
        ("[t.yaml, t.yaml]", "[0.1]", r"key 'models' must be specs with distinct names"),
        (
            "[t.yaml]",
            "[0.0, 0.2]",
            r"key 'capacities' must be a non-empty list of shares in \(0, 1\]",
        ),
        ("[missing.yaml]", "[0.1]", r"missing\.yaml: no such spec file"),
    ],
)
def test_experiment_spec_errors(tmp_path, models, capacities, match):
    _write(tmp_path, "t.yaml", "learner: t\n")
    path = _write(tmp_path, "exp.yaml", _EXPERIMENT.format(models=models, capacities=capacities))
    with pytest.raises(SpecError, match=match):
        load_experiment_spec(path)


def test_experiment_spec_needs_exactly_one_data_source(tmp_path):
    _write(tmp_path, "t.yaml", "learner: t\n")
    path = _write(
        tmp_path,
        "exp.yaml",
        "data:\n  simulate: {customers: 300}\n  folder: .\nmodels: [t.yaml]\n",
    )
    with pytest.raises(
        SpecError, match=r"exp\.yaml: key 'data' must be a mapping with exactly one"
    ):
        load_experiment_spec(path)


def test_experiment_spec_checks_simulation_settings(tmp_path):
    _write(tmp_path, "t.yaml", "learner: t\n")
    path = _write(
        tmp_path, "exp.yaml", "data:\n  simulate: {customers: 300, effect: big}\nmodels: [t.yaml]\n"
    )
    with pytest.raises(SpecError, match=r"key 'data\.simulate\.effect' must be 'heterogeneous'"):
        load_experiment_spec(path)
