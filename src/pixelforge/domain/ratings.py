"""Bradley-Terry ratings from pairwise votes, on an Elo-like scale, with confidence intervals.

The model: each player ``i`` has a log-strength ``θ_i`` and wins against ``j`` with probability
``σ(θ_i − θ_j) = 1 / (1 + exp(θ_j − θ_i))``. A tie counts as half a win for each side.

The fit maximises the log-likelihood minus a Gaussian prior ``(λ/2)·Σθ_i²`` (``prior`` = λ)
by Newton's method with step halving (the objective is concave, strictly so when λ > 0). The
prior keeps an unbeaten player's rating finite and the fit unique when some players were never
compared with each other. Its gradient also makes ``Σθ_i = 0`` at the optimum, so the ratings
average exactly :data:`BASE`. With ``prior=0`` the plain maximum-likelihood estimate is
returned, centred the same way; it exists only when every player has both won and lost (ties
count as both) within one connected set of comparisons, and :class:`ValueError` says so
otherwise.

Scale: ``rating = BASE + SCALE·θ`` with ``SCALE = 400 / ln 10``, i.e. ``400·log10(strength)
+ 1000`` with the strengths' geometric mean at 1: a 400-point gap means 10:1 odds, as in Elo.

Intervals: Wald intervals from the curvature of the fitted objective (the Fisher information,
which for this model equals the observed information, plus λ on the diagonal), taken for the
centred ratings: ``cov = P·(J + 11ᵀ/k)⁻¹·P`` with ``P = I − 11ᵀ/k``, and ``rating ± z·SCALE·
sqrt(cov_ii)``. Deterministic (no resampling); ``z`` = 1.96 gives 95 %.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Literal

import numpy as np
from numpy.typing import NDArray

Outcome = Literal["a", "b", "tie"]
Matrix = NDArray[np.float64]

BASE = 1000.0
SCALE = 400.0 / math.log(10.0)
#: λ, the prior's precision: a standard deviation of ~3.2 in log-strength (~550 points).
PRIOR = 0.1
Z95 = 1.959963984540054
_TOLERANCE = 1e-10
_MAX_STEPS = 200
_NO_MLE = (
    "no finite maximum-likelihood ratings: some group of players never lost (or never won) "
    "against the others; use a prior > 0"
)


@dataclass(frozen=True, slots=True)
class Vote:
    """One pairwise judgement between players ``a`` and ``b``."""

    a: str
    b: str
    winner: Outcome

    def __post_init__(self) -> None:
        if self.a == self.b:
            raise ValueError(f"a vote needs two different players; got {self.a!r} twice")
        if self.winner not in ("a", "b", "tie"):
            raise ValueError(f"winner: {self.winner!r} is not one of 'a', 'b', 'tie'")


@dataclass(frozen=True, slots=True)
class Rating:
    player: str
    rating: float
    ci_low: float
    ci_high: float
    wins: int
    losses: int
    ties: int

    @property
    def votes(self) -> int:
        return self.wins + self.losses + self.ties


@dataclass(frozen=True, slots=True)
class _Tally:
    players: list[str]
    wins: Matrix  # wins[i, j]: i's wins over j, ties as halves
    counts: dict[str, list[int]]  # player -> [wins, losses, ties]


def _tally(votes: Iterable[Vote], players: Iterable[str]) -> _Tally:
    names = list(dict.fromkeys(players))
    counts: dict[str, list[int]] = {name: [0, 0, 0] for name in names}
    pairs: list[tuple[str, str, float]] = []
    for vote in votes:
        for name in (vote.a, vote.b):
            if name not in counts:
                names.append(name)
                counts[name] = [0, 0, 0]
        if vote.winner == "tie":
            counts[vote.a][2] += 1
            counts[vote.b][2] += 1
            pairs += [(vote.a, vote.b, 0.5), (vote.b, vote.a, 0.5)]
        else:
            winner, loser = (vote.a, vote.b) if vote.winner == "a" else (vote.b, vote.a)
            counts[winner][0] += 1
            counts[loser][1] += 1
            pairs.append((winner, loser, 1.0))
    index = {name: i for i, name in enumerate(names)}
    wins = np.zeros((len(names), len(names)))
    for winner, loser, amount in pairs:
        wins[index[winner], index[loser]] += amount
    return _Tally(names, wins, counts)


def _sigmoid(x: Matrix) -> Matrix:
    return 0.5 * (1.0 + np.tanh(0.5 * x))  # no overflow, unlike 1 / (1 + exp(-x))


def _objective(theta: Matrix, wins: Matrix, prior: float) -> float:
    diff = theta[:, None] - theta[None, :]
    return float(-np.sum(wins * np.logaddexp(0.0, -diff)) - 0.5 * prior * theta @ theta)


def _curvature(theta: Matrix, games: Matrix, prior: float) -> Matrix:
    """J: the negative Hessian of the objective (the information matrix)."""
    p = _sigmoid(theta[:, None] - theta[None, :])
    weights = games * p * (1.0 - p)
    return np.diag(weights.sum(axis=1) + prior) - weights


def _strongly_connected(wins: Matrix) -> bool:
    """Whether every player reaches every other through wins (i -> j when i beat j), which is
    when the maximum-likelihood ratings exist (Zermelo; Ford 1957)."""
    beat = wins > 0
    for edges in (beat, beat.T):
        seen, todo = {0}, [0]
        while todo:
            for j in np.flatnonzero(edges[todo.pop()]):
                if int(j) not in seen:
                    seen.add(int(j))
                    todo.append(int(j))
        if len(seen) != len(wins):
            return False
    return True


def _solve(wins: Matrix, prior: float) -> Matrix:
    """The maximising log-strengths, summing to 0 (damped Newton; ValueError if none)."""
    k = len(wins)
    if prior == 0 and not _strongly_connected(wins):
        raise ValueError(_NO_MLE)
    games = wins + wins.T
    gauge = np.ones((k, k)) / k  # fixes the free shift; the steps stay in Σθ = 0
    theta = np.zeros(k)
    for _ in range(_MAX_STEPS):
        p = _sigmoid(theta[:, None] - theta[None, :])
        gradient = (wins - games * p).sum(axis=1) - prior * theta
        if np.max(np.abs(gradient)) < _TOLERANCE:
            return theta
        try:
            step = np.linalg.solve(_curvature(theta, games, prior) + gauge, gradient)
        except np.linalg.LinAlgError:
            break
        # Halve the step while it loses ground; near the optimum the gain is below rounding.
        floor, t = _objective(theta, wins, prior) - 1e-12 * (1 + np.sum(wins)), 1.0
        while _objective(theta + t * step, wins, prior) < floor and t > 1e-12:
            t /= 2
        theta = theta + t * step
        theta -= theta.mean()
    raise ValueError(_NO_MLE)


def _intervals(theta: Matrix, wins: Matrix, prior: float) -> Matrix:
    """Standard errors of the centred log-strengths."""
    k = len(theta)
    gauge = np.ones((k, k)) / k
    centre = np.eye(k) - gauge
    cov = centre @ np.linalg.inv(_curvature(theta, wins + wins.T, prior) + gauge) @ centre
    standard_errors: Matrix = np.sqrt(np.clip(np.diag(cov), 0.0, None))
    return standard_errors


def fit(
    votes: Iterable[Vote], *, players: Sequence[str] = (), prior: float = PRIOR, z: float = Z95
) -> list[Rating]:
    """Ratings for every player named in ``votes`` (and ``players``), best first.

    Equal ratings keep the order in which players first appear (``players``, then votes).
    """
    if prior < 0 or not math.isfinite(prior):
        raise ValueError(f"prior: {prior!r} must be a finite number >= 0")
    tally = _tally(votes, players)
    if not tally.players:
        return []
    theta = _solve(tally.wins, prior)
    errors = _intervals(theta, tally.wins, prior)
    rows = []
    for name, t, se in zip(tally.players, theta, errors, strict=True):
        rating, half = BASE + SCALE * float(t), z * SCALE * float(se)
        w, losses, ties = tally.counts[name]
        rows.append(Rating(name, rating, rating - half, rating + half, w, losses, ties))
    return sorted(rows, key=lambda r: -r.rating)
