"""The outcome-mix rule of the visit-log audit: each officer against their branch's others.

Private to :mod:`visitrisk.audit`, which documents the rule and its thresholds.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

__all__ = ["group_codes", "is_member", "outcome_mix_flags", "pair_key"]


def pair_key(first: np.ndarray, second: np.ndarray) -> np.ndarray:
    """One int64 per (first, second) pair of non-negative ints below 2**31."""
    return first.astype(np.int64) * np.int64(2**31) + second.astype(np.int64)


def group_codes(keys: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Code of each key's group (in order of first appearance) and the distinct keys.

    A hash table, not a sort: linear in the number of records.
    """
    codes, uniques = pd.factorize(keys)
    return codes.astype(np.int64), np.asarray(uniques, dtype=np.int64)


def is_member(keys: np.ndarray, values: np.ndarray) -> np.ndarray:
    """Whether each key is among ``values`` (a hash lookup, not a sort)."""
    return pd.Index(np.unique(values)).get_indexer(keys) >= 0


def outcome_mix_flags(
    officer_id: pd.Series,
    outcome: pd.Series,
    branch: np.ndarray,
    branch_ids: pd.Index,
    *,
    min_visits: int,
    alpha: float,
    min_difference: float,
) -> tuple[np.ndarray, pd.Series, str]:
    """Test each (officer, branch) outcome mix against the other officers of the branch.

    Parameters
    ----------
    officer_id, outcome : pandas.Series
        Of each visit record (missing allowed; such records are not tested).
    branch : numpy.ndarray
        Code of the visited customer's branch, a position in ``branch_ids`` (-1: unknown).
    branch_ids : pandas.Index
        Branch identifiers.
    min_visits : int
        Records with an outcome needed on each side of a test (visits).
    alpha : float
        Family-wise significance level (Bonferroni over the pairs tested).
    min_difference : float
        Smallest total variation distance between the two outcome mixes flagged (share).

    Returns
    -------
    positions : numpy.ndarray
        Records flagged (positions in the inputs), in input order.
    details : pandas.Series
        A sentence for each flagged record.
    untested : str
        Why some records were not tested ("" when all were).
    """
    from scipy.stats import chi2

    has_officer = officer_id.notna().to_numpy()
    checked = np.flatnonzero(outcome.notna().to_numpy() & has_officer & (branch >= 0))
    outcomes = pd.Index(sorted(outcome.take(checked).unique()))
    code = outcomes.get_indexer(outcome.take(checked))
    officer, officer_ids = pd.factorize(officer_id.take(checked))
    cell, cell_keys = group_codes(pair_key(branch[checked], officer))
    n_outcomes, n_cells = len(outcomes), len(cell_keys)
    cell_branch = (cell_keys // np.int64(2**31)).astype(np.int64)
    cell_officer = (cell_keys % np.int64(2**31)).astype(np.int64)

    counts = np.bincount(cell * n_outcomes + code, minlength=n_cells * n_outcomes)
    counts = counts.reshape(n_cells, n_outcomes).astype(np.float64)
    branch_counts = np.zeros((len(branch_ids), n_outcomes))
    np.add.at(branch_counts, cell_branch, counts)
    others = branch_counts[cell_branch] - counts
    n_officer, n_others = counts.sum(axis=1), others.sum(axis=1)
    tested = (n_officer >= min_visits) & (n_others >= min_visits)
    n_tested = int(tested.sum())

    statistic, dof = _chi_square_two_rows(counts[tested], others[tested])
    p_value = np.ones(n_cells)
    p_value[tested] = np.where(dof > 0, chi2.sf(statistic, np.maximum(dof, 1)), 1.0)
    adjusted = np.minimum(p_value * max(n_tested, 1), 1.0)
    share = counts / np.maximum(n_officer, 1)[:, None]
    share_others = others / np.maximum(n_others, 1)[:, None]
    distance = 0.5 * np.abs(share - share_others).sum(axis=1)
    flagged_cell = tested & (adjusted < alpha) & (distance >= min_difference)

    details = _cell_sentences(
        officer=np.asarray(officer_ids)[cell_officer],
        branch=np.asarray(branch_ids)[cell_branch],
        outcomes=np.asarray(outcomes),
        share=share,
        share_others=share_others,
        sizes=(n_officer, n_others),
        distance=distance,
        p_value=p_value,
        n_tested=n_tested,
    )
    record_flagged = flagged_cell[cell]
    positions = checked[record_flagged]
    detail = details.take(cell[record_flagged]).reset_index(drop=True)

    reasons = []
    untested_records = int((~tested[cell]).sum())
    if untested_records:
        reasons.append(
            f"{untested_records:,} records belong to {int((~tested).sum()):,} officer-branch "
            f"pairs with fewer than {min_visits} records with an outcome on the officer's "
            "side or on the side of the branch's other officers, which were not tested"
        )
    no_officer = int((outcome.notna().to_numpy() & ~has_officer).sum())
    if no_officer:
        reasons.append(f"{no_officer:,} records with an outcome have no officer_id")
    return positions, detail, "; ".join(reasons)


def _cell_sentences(
    *,
    officer: np.ndarray,
    branch: np.ndarray,
    outcomes: np.ndarray,
    share: np.ndarray,
    share_others: np.ndarray,
    sizes: tuple[np.ndarray, np.ndarray],
    distance: np.ndarray,
    p_value: np.ndarray,
    n_tested: int,
) -> pd.Series:
    """One sentence per (officer, branch) pair, naming its most over-represented outcome."""

    def text(values: np.ndarray) -> pd.Series:
        return pd.Series(values, dtype="str")

    def percent(values: np.ndarray) -> pd.Series:
        return text(np.round(100 * values).astype(np.int64))

    rows = np.arange(len(officer))
    most = np.argmax(share - share_others, axis=1) if len(outcomes) else np.zeros(0, int)
    n_officer, n_others = sizes
    return (
        "officer "
        + text(officer)
        + " recorded "
        + text(outcomes[most] if len(outcomes) else np.zeros(0, dtype=str))
        + " for "
        + percent(share[rows, most])
        + " % of "
        + text(n_officer.astype(np.int64))
        + " visits to customers of branch "
        + text(branch)
        + ", against "
        + percent(share_others[rows, most])
        + " % of "
        + text(n_others.astype(np.int64))
        + " by the branch's other officers (outcome mix differs by "
        + percent(distance)
        + " %; chi-square p = "
        + text(np.array([f"{p:.1e}" for p in p_value], dtype=object))
        + f", Bonferroni over {n_tested} officer-branch pairs)"
    )


def _chi_square_two_rows(first: np.ndarray, second: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Pearson's chi-square statistic and degrees of freedom of many 2 x K tables.

    Row ``i`` of ``first`` and ``second`` are the two rows of table ``i``. Columns empty in
    both rows are left out (they carry no information): the degrees of freedom are the
    number of non-empty columns minus one.
    """
    column = first + second
    total = column.sum(axis=1, keepdims=True)
    present = column > 0
    statistic = np.zeros(len(first))
    for row_counts in (first, second):
        expected = row_counts.sum(axis=1, keepdims=True) * column / np.maximum(total, 1)
        contribution = np.where(
            present, (row_counts - expected) ** 2 / np.where(present, expected, 1.0), 0.0
        )
        statistic += contribution.sum(axis=1)
    return statistic, present.sum(axis=1) - 1
