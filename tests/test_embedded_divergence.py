"""The sentiment domains diverge from products by a graded amount, by construction (DIVERGENCE_ORDER)."""

from __future__ import annotations

import pytest

from embedded_baselines import NaiveBayes
from itt.data.embedded import DIVERGENCE_ORDER, domains, generate, sentiment
from itt.data.embedded.lexicons import load

ORDER = DIVERGENCE_ORDER["sentiment"]
LANGS = ("en", "de", "fr", "es")


def _shares(domain: str, lang: str) -> tuple[float, float, float]:
    """Shares of products' general, domain-specific and all opinion words that ``domain`` uses."""
    base_general, base_specific = sentiment.opinion_words("products", lang)
    general, specific = sentiment.opinion_words(domain, lang)
    base_all = base_general | base_specific
    return (len(general & base_general) / len(base_general), len(specific & base_specific) / len(base_specific),
            len((general | specific) & base_all) / len(base_all))


def test_order_names_existing_domains_and_keeps_the_original_ones():
    assert ORDER[0] == "products" and set(ORDER) <= set(domains("sentiment"))
    assert {"kitchen", "books", "movies", "tweets"} <= set(ORDER)
    assert set(sentiment.DOMAIN_WORDS_SHARED) == set(sentiment.GENERAL_WORDS_SHARED) == set(ORDER)


@pytest.mark.parametrize("lang", LANGS)
def test_shares_match_the_declared_construction(lang):
    for domain in ORDER:
        general, specific, _ = _shares(domain, lang)
        assert general == pytest.approx(sentiment.GENERAL_WORDS_SHARED[domain]), (domain, general)
        # movies was written independently: a coincidental common word ("slow") is allowed
        assert specific == pytest.approx(sentiment.DOMAIN_WORDS_SHARED[domain], abs=0.05), (domain, specific)


@pytest.mark.parametrize("lang", LANGS)
def test_opinion_vocabulary_overlap_with_products_decreases_along_the_order(lang):
    overlaps = [_shares(domain, lang)[2] for domain in ORDER]
    assert overlaps[0] == 1.0
    assert all(a > b + 0.1 for a, b in zip(overlaps, overlaps[1:])), overlaps


def test_derived_domains_have_the_shape_of_their_base():
    data = load("sentiment")["domains"]
    for domain in ("kitchen", "books", "tweets"):
        assert data[domain]["derived_from"] == "products"
        for lang in LANGS:
            own, base = data[domain][lang], data["products"][lang]
            for key in ("pos_phrases", "neg_phrases"):
                assert len(own[key]) == len(base[key])
            for aspect, base_aspect in zip(own["aspects"], base["aspects"], strict=True):
                assert len(aspect["pos"]) == len(base_aspect["pos"]) and len(aspect["neg"]) == len(base_aspect["neg"])
            assert not set(own["fillers"]) & set(base["fillers"])  # filler stays each domain's own


def test_derived_lexicon_keeps_base_words_where_null():
    general, specific = sentiment.lexicon("kitchen", "en")
    base_general, base = sentiment.lexicon("products", "en")
    assert specific["aspects"][0]["pos"][:6] == base["aspects"][0]["pos"][:6]
    assert specific["aspects"][0]["pos"][6:] == ("easy to clean", "dishwasher safe")
    assert general == base_general
    tweets_general, _ = sentiment.lexicon("tweets", "en")
    assert tweets_general["pos"][0] == base_general["pos"][0] and tweets_general["pos"][1] == "awesome"
    assert tweets_general["mixed"] == base_general["mixed"]  # only pos/neg are overridden
    with pytest.raises(ValueError, match="must have 2 entries"):
        sentiment.spliced(("a", "b"), ("c",))


@pytest.mark.parametrize("lang", LANGS)
def test_transfer_from_products_falls_along_the_order(lang):
    """A products model does worse the further a domain is: each domain beats the one two steps on."""
    model = NaiveBayes().fit(generate("sentiment", lang, "products", 2000, seed=0))
    accuracy = [model.accuracy(generate("sentiment", lang, domain, 1000, seed=1)) for domain in ORDER]
    assert all(a > c + 0.02 for a, c in zip(accuracy, accuracy[2:])), dict(zip(ORDER, accuracy))
    assert min(accuracy) > 0.6  # the general words still carry: transfer is partial, not absent
