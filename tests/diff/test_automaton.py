"""The automaton finds a witness for every set of patterns some string matches, and agrees
with the engine's matchers on which patterns match a string."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from crossgrant.diff.automaton import Automaton, Glob
from crossgrant.diff.model import Unprovable
from crossgrant.iam.patterns import compile_tokens, glob_tokens

ALPHABET = "ab:/*?"


def glob(text: str, **kw: bool) -> Glob:
    return Glob(tuple(glob_tokens(text)), **kw)


def engine(g: Glob) -> object:
    return compile_tokens(list(g.tokens), ignore_case=g.ignore_case, arn=g.arn, strict=g.strict)


patterns = st.text(alphabet=ALPHABET, min_size=0, max_size=6)
modes = st.sampled_from([{}, {"arn": True}, {"arn": True, "strict": True},
                         {"ignore_case": True}])


@settings(max_examples=300, deadline=None)
@given(st.lists(st.tuples(patterns, modes), min_size=1, max_size=4),
       st.lists(st.text(alphabet="abAB:/x", max_size=8), max_size=10))
def test_classify_agrees_with_the_engine(pats: list[tuple[str, dict[str, bool]]],
                                         texts: list[str]) -> None:
    globs = [glob(p, **m) for p, m in pats]
    auto = Automaton(globs)
    matchers = [engine(g) for g in globs]
    for text in texts:
        want = frozenset(i for i, m in enumerate(matchers) if m(text))  # type: ignore[operator]
        assert auto.classify(text) == want, (pats, text)


@settings(max_examples=300, deadline=None)
@given(st.lists(st.tuples(patterns, modes), min_size=1, max_size=4),
       st.lists(st.text(alphabet="abAB:/x", max_size=8), max_size=10))
def test_every_region_has_a_witness(pats: list[tuple[str, dict[str, bool]]],
                                    texts: list[str]) -> None:
    """Whatever string one picks, the regions hold one matching exactly the same patterns."""
    globs = [glob(p, **m) for p, m in pats]
    regions = Automaton(globs).regions()
    matchers = [engine(g) for g in globs]
    for accepted, witness in regions.items():
        assert frozenset(i for i, m in enumerate(matchers) if m(witness)) == accepted  # type: ignore[operator]
    for text in texts:
        assert frozenset(i for i, m in enumerate(matchers) if m(text)) in regions  # type: ignore[operator]


def test_overlap_of_two_like_patterns() -> None:
    regions = Automaton([glob("a*"), glob("*b")]).regions()
    assert set(regions) == {frozenset(), frozenset({0}), frozenset({1}), frozenset({0, 1})}
    assert regions[frozenset({0, 1})] == "ab"


def test_arn_wildcards_stay_in_their_segment() -> None:
    pattern = glob("arn:aws:dynamodb:*:111111111111:table/T", arn=True, strict=True)
    auto = Automaton([pattern])
    assert auto.classify("arn:aws:dynamodb:us-east-1:111111111111:table/T") == {0}
    assert auto.classify("arn:aws:dynamodb:a:b:111111111111:table/T") == frozenset()


def test_seeds_are_preferred_as_witnesses() -> None:
    regions = Automaton([glob("arn:aws:s3:::b/*", arn=True)]).regions(["arn:aws:s3:::b/cat.jpg"])
    assert regions[frozenset({0})] == "arn:aws:s3:::b/cat.jpg"


def test_too_many_states_cannot_be_proven() -> None:
    globs = [glob(f"*a{'?' * n}b*") for n in range(8)]
    with pytest.raises(Unprovable, match="states"):
        Automaton(globs, max_states=50).regions()
