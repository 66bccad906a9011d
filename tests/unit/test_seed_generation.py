"""The pure generators of the demo shop (no database): catalog, PII, queries, relevance, events."""

from __future__ import annotations

import ipaddress
import json
import re
from datetime import date

import numpy as np
import pyarrow.compute as pc
import pytest

from assay.seed import true_relevance
from assay.seed.catalog import SUPPLIERS, get_vocab, make_customers, make_products
from assay.seed.config import DUPLICATED_EVENTS, NULL_BURST
from assay.seed.events import EXAMINATION, SHOWN, make_day
from assay.seed.queries import size_variants, strip_accents, typo
from assay.seed.relevance import INTENT_COLUMNS

ANCHOR = date(2026, 11, 1)
DAY = date(2026, 11, 5)
EMAIL = re.compile(r"^[a-z0-9](?:[a-z0-9._]*[a-z0-9])?@(?:[a-z0-9-]+\.)+[a-z]{2,}$")
PHONE = re.compile(r"^\+\d{1,3}[ -]\d{1,4}(?:[ -]\d{2,4})+$")
POSTAL = {
    "GB": re.compile(r"^[A-Z]{1,2}\d{1,2} \d[A-Z]{2}$"),
    "NL": re.compile(r"^\d{4} [A-Z]{2}$"),
    "US": re.compile(r"^\d{5}$"),
    "DE": re.compile(r"^\d{5}$"),
    "FR": re.compile(r"^\d{5}$"),
}
WORD = re.compile(r"[a-z0-9]+")


@pytest.fixture(scope="module")
def products():
    return make_products(7, 750, ANCHOR)


@pytest.fixture(scope="module")
def big_day(products):
    """~4,000 sessions: enough for the statistics of the click model."""
    return make_day(7, 20, DAY, products, 1000)


@pytest.fixture(scope="module")
def impressions(big_day):
    """Truth rows (one per impression) with the funnel events of each impression counted."""
    truth = big_day.truth.to_pandas()
    events = big_day.interactions.to_pandas()
    counts = events.groupby(["session_id", "product_id", "event_type"]).size().unstack(fill_value=0)
    out = truth.merge(counts.reset_index(), on=["session_id", "product_id"], how="left")
    for kind in ("click", "add_to_cart", "purchase"):
        out[kind] = out[kind].fillna(0).astype(int)
    return out


# ---- catalog ------------------------------------------------------------------------------------


def test_products_are_deterministic_and_seed_dependent(products):
    again = make_products(7, 750, ANCHOR)
    assert again.table.equals(products.table)
    other = make_products(8, 750, ANCHOR)
    assert not other.table.equals(products.table)


def test_products_are_structured(products):
    v = get_vocab()
    df = products.table.to_pandas()
    assert df.product_id.is_unique and df.product_id.str.fullmatch(r"P\d{6}").all()
    # Every product type is present, a near-equal number of times.
    assert df.product_type.nunique() == len(v.types)
    assert df.product_type.value_counts().max() - df.product_type.value_counts().min() <= 1
    assert df.category_path.str.count(" > ").eq(2).all()
    assert "Home > Furniture > Sofas" in set(df.category_path)
    assert set(df.currency) == {s.currency for s in SUPPLIERS}
    assert (df.price.astype(float) > 0).all()
    for row in df.head(200).itertuples():
        assert row.brand in row.title
        assert row.colour in row.title.lower()
        attrs = json.loads(row.attributes)
        assert attrs["colour"] == row.colour and attrs["size"] == row.size
    assert (df.updated_at < "2026-11-01").all() and (df.updated_at > "2025-10-01").all()


def test_product_attributes_do_not_depend_on_the_anchor(products):
    later = make_products(7, 750, date(2027, 3, 1))
    assert later.table.drop_columns(["updated_at"]).equals(products.table.drop_columns(["updated_at"]))


def test_customers_have_well_formed_pii():
    t = make_customers(7, 2000, ANCHOR)
    assert t.equals(make_customers(7, 2000, ANCHOR))
    df = t.to_pandas()
    assert df.customer_id.is_unique
    assert df.email.str.match(EMAIL).all(), df.email[~df.email.str.match(EMAIL)].head()
    assert df.email.is_unique
    assert df.phone.str.match(PHONE).all(), df.phone[~df.phone.str.match(PHONE)].head()
    for country, pattern in POSTAL.items():
        codes = df.postal_code[df.country == country]
        assert len(codes) > 50 and codes.str.match(pattern).all(), (country, codes.head())
    assert {ipaddress.ip_address(ip).version for ip in df.ip_address} == {4}
    assert df.full_name.str.contains(" ").all()
    assert (df.created_at < "2026-11-01").all()


# ---- queries ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("kind", "expected"),
    [(0, "sfoa"), (1, "sfa"), (2, "soofa"), (3, "sofa")],
)
def test_typo_kinds(kind, expected):
    # u=0.0 picks the second character; kind 3 replaces it with a keyboard neighbour.
    out = typo("sofa", kind, 0.0, 0.0)
    if kind == 3:
        assert out != "sofa" and len(out) == 4 and out[0] == "s"
    else:
        assert out == expected


def test_typo_spares_short_words_and_spaces():
    assert typo("tv", 0, 0.5, 0.5) == "tv"
    for u in np.linspace(0, 0.99, 20):
        out = typo("frying pan", 1, float(u), 0.3)
        assert out.count(" ") == 1 and out.endswith(" pan")


def test_size_variants_and_accents():
    assert '55"' in size_variants("55 inch")
    assert "eu 42" in size_variants("size 42")
    assert "three seater" in size_variants("3-seater")
    assert size_variants("24 cm") == ("24cm",)
    assert strip_accents("maison léa") == "maison lea"


def test_queries_carry_synonyms_typos_and_variants(big_day):
    truth = big_day.truth.to_pandas().drop_duplicates("session_id")
    queries = truth["query"]
    assert 0.12 < truth.has_typo.mean() < 0.30
    assert truth.has_synonym.mean() > 0.3
    words = {w for q in queries for w in q.split()}
    for synonym in ("couch", "television", "notebook", "trainers", "gray"):
        assert synonym in words, synonym
    sofa_queries = truth[truth.intent_type == "sofa"]["query"]
    assert sofa_queries.str.contains("couch").any() and sofa_queries.str.contains("sofa").any()
    # Typos make words that exist nowhere in the catalog vocabulary.
    titles = " ".join(make_products(7, 750, ANCHOR).titles).lower()
    assert any(w not in titles for q in truth[truth.has_typo]["query"] for w in q.split())


# ---- relevance ----------------------------------------------------------------------------------


def test_true_relevance_matches_the_simulator(big_day, products):
    truth = big_day.truth.to_pandas().sample(3000, random_state=1)
    catalog = products.table.to_pandas().set_index("product_id")
    for row in truth.itertuples(index=False):
        q = {c: getattr(row, c) for c in INTENT_COLUMNS}
        assert true_relevance(q, catalog.loc[row.product_id]) == row.grade


def test_true_relevance_by_hand():
    sofa = {
        "product_type": "sofa",
        "category_path": "Home > Furniture > Sofas",
        "brand": "Nordhaven",
        "colour": "grey",
        "size": "3-seater",
        "material": "velvet",
    }
    query = dict.fromkeys(INTENT_COLUMNS)
    query |= {"intent_type": "sofa", "intent_category": "Home > Furniture", "intent_colour": "grey"}
    assert true_relevance(query, sofa) == 3  # "gray couch": no shared word, fully relevant
    assert true_relevance(query | {"intent_material": "leather"}, sofa) == 2
    assert true_relevance(query | {"intent_colour": "red"}, sofa) == 1
    armchair = sofa | {"product_type": "armchair", "category_path": "Home > Furniture > Armchairs"}
    assert true_relevance(query, armchair) == 1
    tv = sofa | {"product_type": "tv", "category_path": "Electronics > TV & Video > Televisions"}
    assert true_relevance(query, tv) == 0


def test_every_session_shows_ten_distinct_products_and_the_target_is_graded_3(big_day):
    truth = big_day.truth.to_pandas()
    per_session = truth.groupby("session_id").product_id.nunique()
    assert (per_session == SHOWN).all()
    targets = truth[truth.product_id == truth.target_product_id]
    assert (targets.grade == 3).all()
    assert truth.grade.isin([0, 1, 2, 3]).all()
    assert set(truth.grade.unique()) == {0, 1, 2, 3}


def test_purchases_concentrate_on_grade_3(impressions):
    bought = impressions[impressions.purchase > 0]
    assert len(bought) > 100
    assert (bought.grade == 3).mean() > 0.8
    rate = impressions.groupby("grade")[["click", "add_to_cart", "purchase"]].mean()
    for kind in ("click", "add_to_cart", "purchase"):
        assert rate[kind].is_monotonic_increasing, rate
    # The funnel: no cart without a click, no purchase without a cart.
    assert (impressions.add_to_cart <= impressions.click).all()
    assert (impressions.purchase <= impressions.add_to_cart).all()


def test_clicks_decrease_with_position_for_the_same_grade(impressions):
    ctr = impressions.pivot_table(index="position", columns="grade", values="click", aggfunc="mean")
    for grade in (2, 3):
        top, bottom = ctr.loc[1:3, grade].mean(), ctr.loc[8:10, grade].mean()
        assert top > 1.5 * bottom, ctr
    # Grade-3 click-through follows the examination curve 1/log2(1 + position) within noise.
    ratio = ctr[3] / ctr.loc[1, 3]
    assert np.allclose(ratio.loc[1:5], EXAMINATION[:5], atol=0.15), ratio


def test_lexical_overlap_does_not_explain_relevance(impressions, products):
    titles = dict(zip(products.table["product_id"].to_pylist(), products.titles, strict=True))
    overlap = np.array(
        [
            len(set(WORD.findall(q)) & set(WORD.findall(titles[p].lower())))
            for q, p in zip(impressions["query"], impressions["product_id"], strict=True)
        ]
    )
    grade = impressions.grade.to_numpy()
    # Relevant products with no word in common (synonyms, typos) ...
    assert (overlap[grade == 3] == 0).mean() > 0.10
    # ... and irrelevant ones that share words with the query.
    assert (overlap[grade <= 1] > 0).mean() > 0.25


# ---- a day of events ----------------------------------------------------------------------------


def test_day_is_deterministic_and_day_specific(products):
    a = make_day(7, 1, DAY, products, 1000)
    b = make_day(7, 1, DAY, products, 1000)
    for name in ("sessions", "impressions", "interactions", "truth"):
        assert getattr(a, name).equals(getattr(b, name)), name
    other = make_day(7, 1, date(2026, 11, 6), products, 1000)
    assert not other.sessions.column("query").equals(a.sessions.column("query"))


def test_day_rows_are_well_formed(products):
    d = make_day(7, 1, DAY, products, 1000)
    s, imp, ev = (t.to_pandas() for t in (d.sessions, d.impressions, d.interactions))
    assert 150 < len(s) < 260 and len(imp) == SHOWN * len(s)
    assert s.session_id.is_unique and ev.event_id.is_unique
    assert s["query"].notna().all()
    assert 0.03 < s.customer_id.isna().mean() < 0.2  # guests
    assert set(ev.event_type) == {"click", "add_to_cart", "purchase"}
    day_start = np.datetime64("2026-11-05T00:00:00")
    for col in (s.started_at, imp.shown_at, ev.event_at):
        stamps = col.dt.tz_convert(None).to_numpy()
        assert (stamps >= day_start).all() and (stamps < day_start + np.timedelta64(1, "D")).all()
    assert imp.position.between(1, SHOWN).all()
    assert (s.day == DAY).all() and (imp.day == DAY).all() and (ev.day == DAY).all()


def test_scale_multiplies_sessions(products):
    one = make_day(7, 1, DAY, products, 1000).sessions.num_rows
    three = make_day(7, 3, DAY, products, 3000).sessions.num_rows
    assert 2.9 < three / one < 3.1


def test_null_burst_and_duplicates_touch_only_their_rows(products):
    clean = make_day(7, 1, DAY, products, 1000)
    hit = make_day(7, 1, DAY, products, 1000, frozenset({NULL_BURST, DUPLICATED_EVENTS}))
    query = hit.sessions.column("query")
    assert query.null_count / len(query) >= 0.30
    assert hit.sessions.drop_columns(["query"]).equals(clean.sessions.drop_columns(["query"]))
    ids = hit.interactions.column("event_id").to_pylist()
    duplicated = len(ids) - len(set(ids))
    assert duplicated / clean.interactions.num_rows >= 0.05
    assert hit.interactions.slice(0, clean.interactions.num_rows).equals(clean.interactions)
    assert hit.impressions.equals(clean.impressions)
    assert hit.defect_details[NULL_BURST]["column"] == "query"
    assert pc.all(pc.is_valid(clean.sessions.column("query"))).as_py()
