"""The semantic labels and the fixed vocabularies the semantic rules read.

:data:`LABELS` lists every semantic type with its prototype texts (what the embedding compares a
column with) and its name keywords; the ISO code lists, the generic column names and the table
hints are the data tables of the rules in :mod:`assay.classify.semantic_rules`.
"""

from __future__ import annotations

from dataclasses import dataclass

from assay.classify.text import words


@dataclass(frozen=True)
class SemanticLabel:
    """One semantic type.

    Attributes:
        name: the label stored in the catalog.
        description: one line for the docs and the steward UI.
        prototypes: column texts that typify the label, in the same shape as the texts built for
            real columns (``column: <words>. type: <family>. values: a; b; c``).
        keywords: column-name tokens that point to the label (each adds :data:`.semantic_rules.NAME_BOOST`).
        numeric: whether a numeric column may carry the label.
    """

    name: str
    description: str
    prototypes: tuple[str, ...]
    keywords: tuple[str, ...] = ()
    numeric: bool = False


def column_text_shape(name: str, family: str, values: str) -> str:
    """The one shape of every embedded text, prototypes and real columns alike."""
    return f"column: {name}. type: {family}. values: {values}"


_p = column_text_shape  # short, for the table below


# fmt: off
LABELS: tuple[SemanticLabel, ...] = (
    SemanticLabel(
        "identifier", "a key or code naming one record: product id, SKU, session id, UUID",
        (
            _p("product id", "text", "P000123; P004512; P019877; P000051"),
            _p("sku", "text", "SKU-10442-BLK; SKU-20871-RED; SKU-33010-WHT"),
            _p("session id", "text", "s_8f3a2c91; s_0b7d44e2; s_c41f9a07"),
            _p("order id", "integer", "100234; 100235; 100236; 100240"),
            _p("uuid", "text", "3f2b8c1e-9a4d-4f6b-8e2a-1c5d7e9f0a3b; 7c1e2d3f-4a5b-6c7d-8e9f-0a1b2c3d4e5f"),
        ),
        ("id", "uuid", "guid", "sku", "key", "code", "ean", "gtin", "upc", "asin", "isbn"),
        numeric=True,
    ),
    SemanticLabel(
        "product_title", "the display title of a product",
        (
            _p("title", "text", "Acme Blue Velvet Sofa 3-Seater; Samsung 55 inch 4K Smart TV; Nike Air Zoom Running Shoes"),
            _p("product name", "text", "Oslo Oak Coffee Table, large; Kaito Wireless Headphones in Black"),
            _p("item title", "text", "Men's Slim Fit Cotton Shirt - Navy, M; Stainless Steel Electric Kettle 1.7L"),
        ),
        ("title", "productname", "itemname", "headline"),
    ),
    SemanticLabel(
        "brand", "the brand or manufacturer of a product",
        (
            _p("brand", "text", "Acme; Samsung; Nike; IKEA; Sony"),
            _p("manufacturer", "text", "Bosch; Philips; Lenovo; Adidas"),
        ),
        ("brand", "manufacturer", "maker", "brandname"),
    ),
    SemanticLabel(
        "category", "a category, category path or other categorical attribute (colour, size, device)",
        (
            _p("category path", "text", "Home > Furniture > Sofas; Electronics > TV & Video > Televisions"),
            _p("category", "text", "Shoes; Furniture; Televisions; Kitchen Appliances"),
            _p("colour", "text", "black; white; navy; grey; black; white"),
            _p("device", "text", "mobile; desktop; tablet; mobile; app"),
        ),
        ("category", "categories", "categorypath", "department", "taxonomy", "genre", "segment", "type", "colour", "color",
         "size", "material", "device", "channel", "group", "class", "kind", "tier"),
    ),
    SemanticLabel(
        "free_text", "a description, review or comment: sentences of free text",
        (
            _p("description", "text", "A comfortable three-seater sofa upholstered in soft velvet, designed for small living rooms."),
            _p("review text", "text", "Great kettle, boils fast and looks nice. The lid is a bit stiff though."),
            _p("comment", "text", "Customer asked to deliver after 5pm; please call before arrival."),
            _p("product description", "text", "Soft grey velvet sofa with solid oak legs. Seats three. Size: 3-seater."),
            _p(
                "long description",
                "text",
                "Crafted from solid oak, this coffee table brings warmth to any living room. Available in two sizes.",
            ),
        ),
        ("description", "desc", "text", "comment", "comments", "review", "body", "notes", "note", "summary", "message", "details"),
    ),
    SemanticLabel(
        "price", "a monetary amount: price, cost, revenue",
        (
            _p("price", "decimal", "19.99; 249.00; 1299.99; 5.49"),
            _p("amount", "decimal", "12.50; 99.90; 450.00"),
            _p("unit price", "text", "€19.99; $249.00; £5.49"),
        ),
        ("price", "amount", "cost", "msrp", "revenue", "gmv", "fee", "subtotal"),
        numeric=True,
    ),
    SemanticLabel(
        "currency", "an ISO 4217 currency code",
        (_p("currency", "text", "EUR; USD; GBP; EUR; USD"), _p("currency code", "text", "USD; EUR; JPY; CHF")),
        ("currency", "ccy", "curr"),
    ),
    SemanticLabel(
        "quantity", "a count of items or events",
        (
            _p("quantity", "integer", "1; 2; 1; 3; 10"),
            _p("stock count", "integer", "0; 14; 250; 12000; 37"),
            _p("review count", "integer", "0; 3; 12; 148"),
        ),
        ("quantity", "qty", "count", "cnt", "units", "stock", "inventory", "num", "clicks", "views", "orders"),
        numeric=True,
    ),
    SemanticLabel(
        "measure", "a numeric measurement or score: weight, rating, dimensions, probability",
        (
            _p("weight g", "integer", "311; 8039; 406; 29965"),
            _p("rating", "float", "4.2; 3.8; 4.6; 5.0"),
            _p("score", "float", "0.731; 0.118; 0.954"),
        ),
        ("weight", "rating", "score", "height", "width", "length", "depth", "ratio", "rate", "probability", "temperature"),
        numeric=True,
    ),
    SemanticLabel(
        "timestamp", "a date and time of day",
        (
            _p("created at", "timestamp", "2026-11-05 10:32:07+00; 2026-11-05 11:02:55+00"),
            _p("event time", "text", "2026-11-05T10:32:07Z; 2026-11-05T11:02:55Z"),
        ),
        ("timestamp", "ts", "time", "datetime", "at"),
    ),
    SemanticLabel(
        "date", "a calendar day",
        (_p("day", "date", "2026-11-05; 2026-11-06; 2026-11-07"), _p("order date", "text", "05/11/2026; 06/11/2026")),
        ("date", "day", "dt", "dob", "birthday"),
    ),
    SemanticLabel(
        "boolean", "a yes/no flag",
        (_p("is active", "boolean", "true; false; true"), _p("has discount", "text", "yes; no; no; yes"),
         _p("in stock flag", "integer", "0; 1; 1; 0")),
        ("is", "has", "flag", "enabled", "active", "deleted", "valid"),
        numeric=True,
    ),
    SemanticLabel(
        "url", "a web address",
        (_p("url", "text", "https://shop.example.com/p/123; https://cdn.example.com/img/4.jpg"),
         _p("image link", "text", "https://img.example.com/a.png")),
        ("url", "uri", "link", "href", "website", "image"),
    ),
    SemanticLabel(
        "search_query", "text a shopper typed into a search box",
        (
            _p("query", "text", "red running shoes; sofa bed; 55 inch tv; cheap laptop; couch grey velvet"),
            _p("search term", "text", "iphone case; kettle; blue dress size 12; wireless headphones"),
            _p("keywords", "text", "tv 4k; coffee table oak; trainers"),
        ),
        ("query", "queries", "q", "search", "keyword", "keywords", "term", "terms", "searchquery", "searchterm"),
    ),
    SemanticLabel(
        "country", "a country code or country name",
        (_p("country", "text", "DE; FR; GB; US; NL"), _p("country name", "text", "Germany; France; United Kingdom")),
        ("country", "ctry", "nation", "region", "market", "locale"),
    ),
    SemanticLabel(
        "rank", "a position in an ordered list",
        (_p("position", "integer", "1; 2; 3; 4; 5; 6; 7; 8"), _p("rank", "integer", "1; 5; 12; 3")),
        ("rank", "position", "pos", "ranking", "slot", "sort", "idx", "index"),
        numeric=True,
    ),
    SemanticLabel(
        "event_type", "the kind of a user or system event",
        (_p("event type", "text", "click; add_to_cart; purchase; click; view"),
         _p("action", "text", "page_view; search; checkout; login")),
        ("event", "action", "activity", "eventtype", "eventname", "actiontype"),
    ),
    SemanticLabel(
        "json", "a structured JSON document",
        (_p("attributes", "json", '{"colour": "red", "size": "M"}; {"weight_g": 311}'),),
        ("json", "attributes", "attrs", "payload", "metadata", "properties", "extra"),
    ),
)
# fmt: on

LABEL_NAMES: tuple[str, ...] = tuple(label.name for label in LABELS)

# ISO 4217 active codes (2024) and ISO 3166-1 alpha-2 codes: fixed lists, so no dependency.
ISO_4217 = words(
    """AED AFN ALL AMD ANG AOA ARS AUD AWG AZN BAM BBD BDT BGN BHD BIF BMD BND BOB BRL BSD BTN BWP BYN
    BZD CAD CDF CHF CLP CNY COP CRC CUP CVE CZK DJF DKK DOP DZD EGP ERN ETB EUR FJD FKP GBP GEL GHS GIP
    GMD GNF GTQ GYD HKD HNL HTG HUF IDR ILS INR IQD IRR ISK JMD JOD JPY KES KGS KHR KMF KPW KRW KWD KYD
    KZT LAK LBP LKR LRD LSL LYD MAD MDL MGA MKD MMK MNT MOP MRU MUR MVR MWK MXN MYR MZN NAD NGN NIO NOK
    NPR NZD OMR PAB PEN PGK PHP PKR PLN PYG QAR RON RSD RUB RWF SAR SBD SCR SDG SEK SGD SHP SLE SOS SRD
    SSP STN SVC SYP SZL THB TJS TMT TND TOP TRY TTD TWD TZS UAH UGX USD UYU UZS VES VND VUV WST XAF XCD
    XOF XPF YER ZAR ZMW ZWL"""
)
ISO_3166 = words(
    """AD AE AF AG AI AL AM AO AQ AR AS AT AU AW AX AZ BA BB BD BE BF BG BH BI BJ BL BM BN BO BQ BR BS BT
    BV BW BY BZ CA CC CD CF CG CH CI CK CL CM CN CO CR CU CV CW CX CY CZ DE DJ DK DM DO DZ EC EE EG EH ER
    ES ET FI FJ FK FM FO FR GA GB GD GE GF GG GH GI GL GM GN GP GQ GR GS GT GU GW GY HK HM HN HR HT HU ID
    IE IL IM IN IO IQ IR IS IT JE JM JO JP KE KG KH KI KM KN KP KR KW KY KZ LA LB LC LI LK LR LS LT LU LV
    LY MA MC MD ME MF MG MH MK ML MM MN MO MP MQ MR MS MT MU MV MW MX MY MZ NA NC NE NF NG NI NL NO NP NR
    NU NZ OM PA PE PF PG PH PK PL PM PN PR PS PT PW PY QA RE RO RS RU RW SA SB SC SD SE SG SH SI SJ SK SL
    SM SN SO SR SS ST SV SX SY SZ TC TD TF TG TH TJ TK TL TM TN TO TR TT TV TW TZ UA UG UM US UY UZ VA VC
    VE VG VI VN VU WF WS YE YT ZA ZM ZW UK EU"""
)

GENERIC_NAMES = words("name value label title text code desc")
#: Table words (singular) that say what a generically named column holds: ``brands.name``.
TABLE_HINTS: dict[str, str] = {
    "product": "product_title",
    "item": "product_title",
    "brand": "brand",
    "manufacturer": "brand",
    "category": "category",
    "department": "category",
    "query": "search_query",
    "search": "search_query",
    "country": "country",
    "currency": "currency",
    "event": "event_type",
    "review": "free_text",
    "comment": "free_text",
}
