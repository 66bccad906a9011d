"""Fixed word lists the demo shop is built from: categories, product types, brands, names.

Everything here is constant data, so the generated shop depends only on the seed and the
configuration. Product types carry the synonyms that queries use (sofa/couch, tv/television,
sneakers/trainers, laptop/notebook) and the sizes that query noise rewrites ("55 inch" -> '55"').
Accented brands and models are deliberate: they make the ``bad_encoding`` feed defect observable.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class ProductType:
    """A product type: the word a shopper searches for, and the leaf of its category path."""

    name: str
    synonyms: tuple[str, ...]
    leaf: str
    sizes: tuple[str, ...]
    price_range: tuple[float, float]


@dataclass(frozen=True)
class Category:
    """A two-level category ("Home > Furniture") with its types, brands, materials and colours."""

    path: str
    types: tuple[ProductType, ...]
    brands: tuple[str, ...]
    materials: tuple[str, ...]
    colours: tuple[str, ...]


_ALL_COLOURS = ("black", "white", "grey", "navy", "blue", "red", "green", "beige", "brown", "pink", "yellow")

# fmt: off
CATEGORIES: tuple[Category, ...] = (
    Category(
        "Home > Furniture",
        (
            ProductType("sofa", ("couch", "settee"), "Sofas", ("2-seater", "3-seater", "corner"), (299, 2499)),
            ProductType(
                "armchair", ("accent chair", "lounge chair"), "Armchairs", ("standard", "oversized"), (149, 999)
            ),
            ProductType("coffee table", ("cocktail table",), "Coffee Tables", ("small", "large"), (79, 699)),
        ),
        ("Nordhaven", "Maison Léa", "Oakridge", "Hygge & Co"),
        ("leather", "velvet", "linen", "fabric", "oak"),
        ("grey", "beige", "navy", "green", "black", "brown", "white"),
    ),
    Category(
        "Electronics > TV & Video",
        (
            ProductType(
                "tv", ("television", "smart tv"), "Televisions", ("43 inch", "55 inch", "65 inch", "75 inch"), (249, 2999)
            ),
            ProductType("projector", ("beamer",), "Projectors", ("1080p", "4k"), (199, 1999)),
            ProductType("soundbar", ("sound bar",), "Soundbars", ("2.1", "3.1", "5.1"), (99, 899)),
        ),
        ("Voltra", "Lumetra", "Sonique", "Kaito"),
        ("matte", "glossy", "aluminium"),
        ("black", "silver", "white", "grey"),
    ),
    Category(
        "Electronics > Computers",
        (
            ProductType("laptop", ("notebook",), "Laptops", ("13 inch", "14 inch", "15 inch", "16 inch"), (399, 2799)),
            ProductType("tablet", ("tab",), "Tablets", ("8 inch", "10 inch", "11 inch"), (129, 1199)),
            ProductType("monitor", ("display", "screen"), "Monitors", ("24 inch", "27 inch", "32 inch"), (119, 1299)),
        ),
        ("Voltra", "Kaito", "Arcbyte", "Brückner"),
        ("aluminium", "plastic", "carbon"),
        ("black", "silver", "grey", "white"),
    ),
    Category(
        "Fashion > Shoes",
        (
            ProductType(
                "sneakers",
                ("trainers", "running shoes"),
                "Sneakers",
                ("size 38", "size 40", "size 42", "size 44", "size 46"),
                (39, 249),
            ),
            ProductType("boots", ("ankle boots",), "Boots", ("size 38", "size 40", "size 42", "size 44"), (59, 349)),
            ProductType("sandals", ("sliders",), "Sandals", ("size 38", "size 40", "size 42", "size 44"), (19, 149)),
        ),
        ("Stride", "Élan Sport", "Fjellgang", "Pace"),
        ("leather", "suede", "canvas", "mesh"),
        _ALL_COLOURS,
    ),
    Category(
        "Fashion > Clothing",
        (
            ProductType("jacket", ("coat",), "Jackets", ("s", "m", "l", "xl"), (49, 399)),
            ProductType("hoodie", ("sweatshirt", "hooded sweater"), "Hoodies", ("s", "m", "l", "xl"), (29, 129)),
            ProductType("jeans", ("denims",), "Jeans", ("w30", "w32", "w34", "w36"), (39, 179)),
        ),
        ("Pace", "Atelier Rosé", "Northline", "Urbanite"),
        ("cotton", "denim", "wool", "polyester"),
        _ALL_COLOURS,
    ),
    Category(
        "Home > Kitchen",
        (
            ProductType("frying pan", ("skillet", "fry pan"), "Frying Pans", ("20 cm", "24 cm", "28 cm"), (19, 189)),
            ProductType("saucepan", ("pot", "sauce pan"), "Saucepans", ("16 cm", "18 cm", "20 cm"), (19, 159)),
            ProductType("kettle", ("electric kettle", "water boiler"), "Kettles", ("1.0 l", "1.5 l", "1.7 l"), (24, 149)),
        ),
        ("Café Crème", "Ferrum", "Kochwerk", "Copperline"),
        ("cast iron", "stainless steel", "ceramic", "copper"),
        ("black", "silver", "red", "white", "blue", "green"),
    ),
    Category(
        "Toys & Games > Toys",
        (
            ProductType(
                "building set", ("construction set", "brick set"), "Building Sets", ("250 pieces", "500 pieces", "1000 pieces"), (14, 199)
            ),
            ProductType("puzzle", ("jigsaw",), "Puzzles", ("500 pieces", "1000 pieces", "2000 pieces"), (9, 49)),
            ProductType("plush toy", ("teddy", "soft toy"), "Plush Toys", ("small", "medium", "large"), (9, 69)),
        ),
        ("Brickly", "Jouet Étoile", "Tumble", "Kiddo"),
        ("plastic", "wood", "cardboard", "plush"),
        ("red", "blue", "yellow", "green", "pink", "brown"),
    ),
    Category(
        "Books & Media > Books",
        (
            ProductType("novel", ("fiction book",), "Novels", ("pocket", "standard"), (6, 29)),
            ProductType("cookbook", ("recipe book", "cook book"), "Cookbooks", ("standard", "large"), (12, 49)),
            ProductType("atlas", ("map book",), "Atlases", ("standard", "large"), (15, 79)),
        ),
        ("Penwright", "Éditions Soleil", "Quillhouse", "Ravenpress"),
        ("paperback", "hardcover"),
        ("black", "white", "blue", "red", "green", "yellow"),
    ),
    Category(
        "Sports > Fitness",
        (
            ProductType("yoga mat", ("exercise mat", "fitness mat"), "Yoga Mats", ("4 mm", "6 mm", "8 mm"), (15, 99)),
            ProductType("dumbbell", ("hand weight", "free weight"), "Dumbbells", ("2 kg", "5 kg", "10 kg"), (9, 149)),
            ProductType(
                "water bottle", ("drinks bottle", "sports bottle"), "Water Bottles", ("500 ml", "750 ml", "1 l"), (7, 49)
            ),
        ),
        ("Élan Sport", "Fjellgang", "Corevita", "Pulse"),
        ("rubber", "cork", "steel", "neoprene"),
        ("black", "blue", "pink", "green", "grey", "red"),
    ),
    Category(
        "Garden > Outdoor",
        (
            ProductType("garden chair", ("patio chair", "lawn chair"), "Garden Chairs", ("standard", "folding"), (29, 299)),
            ProductType("parasol", ("sun umbrella", "patio umbrella"), "Parasols", ("2 m", "2.5 m", "3 m"), (39, 499)),
            ProductType("garden hose", ("hosepipe", "hose"), "Garden Hoses", ("15 m", "25 m", "50 m"), (14, 119)),
        ),
        ("Greenfold", "Jardin Doré", "Terrazo", "Oakridge"),
        ("teak", "rattan", "aluminium", "polyester"),
        ("green", "grey", "beige", "black", "brown", "white"),
    ),
    Category(
        "Home > Bedding",
        (
            ProductType("duvet", ("comforter", "quilt"), "Duvets", ("single", "double", "king"), (29, 349)),
            ProductType("pillow", ("bed pillow",), "Pillows", ("standard", "king"), (12, 99)),
            ProductType("bed sheet", ("fitted sheet", "sheet set"), "Bed Sheets", ("single", "double", "king"), (15, 129)),
        ),
        ("Maison Léa", "Dreamwell", "Hygge & Co", "Linnea"),
        ("cotton", "linen", "down", "microfibre"),
        ("white", "grey", "beige", "navy", "pink", "blue"),
    ),
)

# fmt: on

#: Spelling variants of colours that shoppers type ("gray" for "grey").
COLOUR_VARIANTS: dict[str, tuple[str, ...]] = {
    "grey": ("gray",),
    "navy": ("navy blue", "dark blue"),
    "beige": ("cream",),
    "silver": ("silver grey",),
    "aluminium": ("aluminum",),
}

#: Product models: a second name in titles ("Nordhaven Oslo Sofa").
MODELS: tuple[str, ...] = (
    "Oslo", "Aria", "Bergen", "Luna", "Vega", "Atlas", "Nova", "Étoile", "Sierra", "Milano",
    "Kyoto", "Brisa", "Odin", "Juniper", "Señora", "Fjord", "Solace", "Tundra", "Zephyr", "Corsa",
)  # fmt: skip

#: Title templates. Fields: brand, model, type (title-cased word), colour, size, material.
TITLE_TEMPLATES: tuple[str, ...] = (
    "{brand} {model} {type} - {colour}, {size}, {material}",
    "{brand} {colour} {material} {type} {model} ({size})",
    "{type} {model} by {brand}, {colour} {material}, {size}",
    "{brand} {model} {material} {type} in {colour}, {size}",
)

DESCRIPTION_TEMPLATES: tuple[str, ...] = (
    "The {model} {type} from {brand} in {colour} {material}. Size: {size}.",
    "A {colour} {type} made of {material}, designed by {brand}. Available in {size}.",
    "{brand} brings the {model}: a {material} {type}, finished in {colour} ({size}).",
)

# ---- people -------------------------------------------------------------------------------------

FIRST_NAMES: tuple[str, ...] = (
    "Olivia", "Noah", "Amelia", "Liam", "Isla", "Oliver", "Ava", "Elijah", "Mia", "James",
    "Sophia", "Lucas", "Emma", "Mateo", "Chloé", "Léo", "Hannah", "Jonas", "Lena", "Felix",
    "Sofia", "Luca", "Anna", "Finn", "Zoë", "Hugo", "Inès", "Arthur", "Maya", "Daan",
    "Julia", "Sem", "Fatima", "Omar", "Priya", "Arjun", "Mei", "Kenji", "Aisha", "Kwame",
    "Grace", "Jack", "Freya", "Oscar", "Ella", "Henry", "Ruby", "Theo", "Nora", "Max",
)  # fmt: skip

LAST_NAMES: tuple[str, ...] = (
    "Smith", "Jones", "Taylor", "Brown", "Williams", "Wilson", "Johnson", "Davies", "Patel", "Wright",
    "Martin", "Bernard", "Dubois", "Thomas", "Robert", "Petit", "Durand", "Lefèvre", "Müller", "Schmidt",
    "Schneider", "Fischer", "Weber", "Meyer", "Wagner", "Becker", "de Jong", "Jansen", "de Vries", "van Dijk",
    "Bakker", "Visser", "Smit", "Garcia", "Rodriguez", "Martinez", "Nguyen", "Kim", "O'Brien", "Murphy",
    "Kowalski", "Novak", "Rossi", "Russo", "Costa", "Silva", "Andersson", "Nielsen", "Hansen", "Johansson",
)  # fmt: skip

#: Reserved documentation domains (RFC 2606): well-formed addresses that can never reach anyone.
EMAIL_DOMAINS: tuple[str, ...] = ("example.com", "example.org", "example.net", "mail.example.com")

#: Countries customers live in, with their share of customers.
COUNTRIES: tuple[tuple[str, float], ...] = (
    ("GB", 0.35),
    ("US", 0.25),
    ("DE", 0.15),
    ("FR", 0.15),
    ("NL", 0.10),
)

STREETS: dict[str, tuple[str, ...]] = {
    "GB": ("High Street", "Station Road", "Church Lane", "Victoria Road", "Green Lane", "Mill Road"),
    "US": ("Main Street", "Oak Avenue", "Maple Drive", "Park Avenue", "Cedar Lane", "Elm Street"),
    "DE": ("Hauptstraße", "Schulstraße", "Gartenstraße", "Bahnhofstraße", "Lindenweg", "Bergstraße"),
    "FR": ("rue de la Paix", "avenue Victor Hugo", "rue du Moulin", "boulevard Voltaire", "rue des Écoles"),
    "NL": ("Kerkstraat", "Dorpsstraat", "Molenweg", "Stationsweg", "Keizersgracht", "Julianalaan"),
}

DEVICES: tuple[tuple[str, float], ...] = (
    ("mobile", 0.55),
    ("desktop", 0.30),
    ("tablet", 0.08),
    ("app", 0.07),
)
