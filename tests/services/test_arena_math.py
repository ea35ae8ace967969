"""Bradley-Terry ratings (``domain.ratings``): hand-computed examples, then properties.

The hand-computed three-player example: votes consistent with strengths A:B:C = 4:2:1.
  A vs B: A wins 1, 2 ties      -> A scores 2 of 3 (ties are half wins) = 4/(4+2)
  B vs C: B wins 2, C wins 1    -> B scores 2 of 3                    = 2/(2+1)
  A vs C: A wins 4, C wins 1    -> A scores 4 of 5                    = 4/(4+1)
Every pair's observed share equals its modelled probability, so the likelihood's gradient
(Σ_j w_ij − n_ij·p_i/(p_i+p_j)) is zero there: the maximum-likelihood strengths are 4:2:1.
Centred (geometric mean 1: 2, 1, 1/2), the ratings are 1000 + 400·log10(2) = 1120.412,
1000 and 879.588. Their variances are the diagonal of the pseudo-inverse of the information
matrix, a Laplacian with edge weights n·p·(1−p): AB 3·(2/3)(1/3) = 2/3, BC 2/3,
AC 5·(4/5)(1/5) = 4/5; exactly, var θ_A = var θ_C = 31/102 and var θ_B = 1/3.
"""

from __future__ import annotations

import math

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from pixelforge.domain.ratings import BASE, SCALE, Z95, Rating, Vote, fit

PLAYERS = ("A", "B", "C", "D")


def by_player(ratings: list[Rating]) -> dict[str, Rating]:
    return {r.player: r for r in ratings}


def three_player_votes() -> list[Vote]:
    return [
        Vote("A", "B", "a"), Vote("A", "B", "tie"), Vote("B", "A", "tie"),
        Vote("B", "C", "a"), Vote("C", "B", "b"), Vote("C", "B", "a"),
        *[Vote("A", "C", "a")] * 4, Vote("C", "A", "a"),
    ]  # fmt: skip


def test_fit_matches_hand_computed_ratings_for_three_players() -> None:
    ratings = by_player(fit(three_player_votes(), prior=0))

    assert ratings["A"].rating == pytest.approx(1120.412, abs=1e-3)
    assert ratings["B"].rating == pytest.approx(1000.0, abs=1e-9)
    assert ratings["C"].rating == pytest.approx(879.588, abs=1e-3)


def test_fit_matches_hand_computed_intervals_for_three_players() -> None:
    ratings = by_player(fit(three_player_votes(), prior=0))

    for player, variance in (("A", 31 / 102), ("B", 1 / 3), ("C", 31 / 102)):
        half = Z95 * SCALE * math.sqrt(variance)
        assert ratings[player].ci_high - ratings[player].rating == pytest.approx(half)
        assert ratings[player].rating - ratings[player].ci_low == pytest.approx(half)


def test_fit_counts_wins_losses_and_ties_for_three_players() -> None:
    ratings = by_player(fit(three_player_votes(), prior=0))

    counts = {p: (r.wins, r.losses, r.ties, r.votes) for p, r in ratings.items()}
    assert counts == {"A": (5, 1, 2, 8), "B": (2, 2, 2, 6), "C": (2, 6, 0, 8)}


def test_fit_orders_players_best_first() -> None:
    assert [r.player for r in fit(three_player_votes(), prior=0)] == ["A", "B", "C"]


def test_fit_matches_closed_form_for_two_players() -> None:
    # p = wins / games = 3/4: the rating gap is 400·log10(p / (1 − p)); each rating's variance
    # is a quarter of logit(p)'s, 1 / (4·n·p·(1 − p)).
    votes = [Vote("A", "B", "a")] * 3 + [Vote("A", "B", "b")]

    a, b = fit(votes, prior=0)

    assert a.rating - b.rating == pytest.approx(400 * math.log10(3))
    assert (a.rating + b.rating) / 2 == pytest.approx(BASE)
    assert a.ci_high - a.rating == pytest.approx(Z95 * SCALE / (2 * math.sqrt(4 * 0.75 * 0.25)))


def test_fit_counts_a_tie_as_half_a_win_for_each() -> None:
    with_ties = [Vote("A", "B", "a"), Vote("A", "B", "tie"), Vote("A", "B", "tie")]
    as_wins = [Vote("A", "B", "a"), Vote("A", "B", "a"), Vote("A", "B", "b")]

    assert [r.rating for r in fit(with_ties, prior=0)] == pytest.approx(
        [r.rating for r in fit(as_wins, prior=0)]
    )


def test_fit_keeps_unbeaten_player_finite_with_prior() -> None:
    # Stationarity of the penalised likelihood with θ_A = t = −θ_B: 5 − 5·σ(2t) − λ·t = 0.
    a, b = fit([Vote("A", "B", "a")] * 5, prior=0.1)

    t = (a.rating - BASE) / SCALE
    assert 5 - 5 / (1 + math.exp(-2 * t)) - 0.1 * t == pytest.approx(0, abs=1e-9)
    assert b.rating == pytest.approx(2 * BASE - a.rating)


def test_fit_refuses_unbeaten_player_without_prior() -> None:
    with pytest.raises(ValueError, match="prior > 0"):
        fit([Vote("A", "B", "a")] * 5, prior=0)


def test_fit_refuses_negative_prior() -> None:
    with pytest.raises(ValueError, match="prior"):
        fit([Vote("A", "B", "a")], prior=-1)


def test_fit_returns_nothing_for_no_votes() -> None:
    assert fit([]) == []


def test_fit_rates_players_without_votes_at_base_with_prior() -> None:
    ratings = by_player(fit([Vote("A", "B", "a")], players=["C"]))

    assert ratings["C"].rating == pytest.approx(BASE)
    assert ratings["C"].votes == 0


def test_vote_refuses_the_same_player_twice() -> None:
    with pytest.raises(ValueError, match="two different players"):
        Vote("A", "A", "tie")


# -- properties --------------------------------------------------------------------------

votes_strategy = st.lists(
    st.tuples(st.sampled_from(PLAYERS), st.sampled_from(PLAYERS), st.sampled_from("abt"))
    .filter(lambda v: v[0] != v[1])
    .map(lambda v: Vote(v[0], v[1], "tie" if v[2] == "t" else v[2])),  # type: ignore[arg-type]
    max_size=30,
)


def ratings_of(votes: list[Vote]) -> dict[str, float]:
    return {r.player: r.rating for r in fit(votes, players=PLAYERS)}


@settings(max_examples=200, deadline=None)
@given(votes=votes_strategy, winner=st.sampled_from(PLAYERS), loser=st.sampled_from(PLAYERS))
def test_adding_a_win_never_lowers_the_winners_rating(
    votes: list[Vote], winner: str, loser: str
) -> None:
    if winner == loser:
        return
    before = ratings_of(votes)[winner]
    after = ratings_of([*votes, Vote(winner, loser, "a")])[winner]
    assert after >= before - 1e-7


@settings(max_examples=200, deadline=None)
@given(votes=votes_strategy)
def test_swapping_sides_of_every_vote_changes_no_rating(votes: list[Vote]) -> None:
    flip = {"a": "b", "b": "a", "tie": "tie"}
    swapped = [Vote(v.b, v.a, flip[v.winner]) for v in votes]  # type: ignore[arg-type]

    assert ratings_of(swapped) == pytest.approx(ratings_of(votes))


@settings(max_examples=200, deadline=None)
@given(votes=votes_strategy, order=st.permutations(PLAYERS))
def test_renaming_players_renames_their_ratings(votes: list[Vote], order: list[str]) -> None:
    rename = dict(zip(PLAYERS, order, strict=True))
    renamed = [Vote(rename[v.a], rename[v.b], v.winner) for v in votes]

    expected = {rename[p]: rating for p, rating in ratings_of(votes).items()}
    assert ratings_of(renamed) == pytest.approx(expected)


@settings(max_examples=100, deadline=None)
@given(pairs=st.lists(st.tuples(st.sampled_from(PLAYERS), st.sampled_from(PLAYERS)), max_size=20))
def test_ties_alone_leave_every_player_at_base(pairs: list[tuple[str, str]]) -> None:
    votes = [Vote(a, b, "tie") for a, b in pairs if a != b]

    assert list(ratings_of(votes).values()) == pytest.approx([BASE] * len(PLAYERS))


@settings(max_examples=200, deadline=None)
@given(votes=votes_strategy)
def test_ratings_average_base_and_intervals_contain_them(votes: list[Vote]) -> None:
    ratings = fit(votes, players=PLAYERS)

    assert sum(r.rating for r in ratings) / len(ratings) == pytest.approx(BASE)
    assert all(r.ci_low < r.rating < r.ci_high for r in ratings)
