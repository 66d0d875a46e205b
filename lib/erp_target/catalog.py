"""Reference data of the seed: the accounts of the contract's Roles table, the stage mix, names."""

from __future__ import annotations

SEED = 20260101  # fixed: the same data on every machine (dates are relative to the seeding day)
STOCK_PER_CATEGORY = {"FAB": 15_000, "TRM": 15_000, "ACC": 10_000, "FG": 10_000}
LOW_STOCK = 10  # dashboard's low_stock_items: quantity below this
DEPARTMENTS = ("cutting", "sewing", "finishing")
# (role key, role, department, username prefix, count, digits) — the contract's Roles table.
ACCOUNTS = (
    ("admin", "admin", None, "admin", 10, 2),
    ("ppic", "ppic", None, "ppic", 30, 2),
    ("cutting", "operator", "cutting", "cutting", 100, 3),
    ("sewing", "operator", "sewing", "sewing", 100, 3),
    ("finishing", "operator", "finishing", "finishing", 60, 3),
    ("qc", "qc", None, "qc", 60, 2),
    ("warehouse", "warehouse", None, "warehouse", 30, 2),
)
# Lifecycle stage -> number of orders seeded in it. Sized so that a load test's first minutes always
# find open work orders in every department, pending QC tests and pending receipts.
STAGES = (
    ("cutting_open", 2000),
    ("cutting_wip", 500),
    ("sewing_open", 1500),
    ("sewing_wip", 500),
    ("finishing_open", 1200),
    ("finishing_wip", 400),
    ("qc_pending", 1000),
    ("receipt_pending", 1000),
    ("completed", 1600),
    ("rework_open", 300),
)
GARMENTS = ("POLO", "TEE", "HOODIE", "JACKET", "CHINO", "JEANS", "DRESS", "SKIRT", "SHIRT", "BLAZER")
COLORS = ("Navy", "Black", "White", "Olive", "Red", "Grey", "Khaki", "Sky", "Maroon", "Teal", "Sand", "Pink")
SIZES = ("XS", "S", "M", "L", "XL", "XXL")
FABRICS = ("Cotton Twill", "Jersey Knit", "Denim 12oz", "Poplin", "Fleece", "Linen", "Oxford", "Pique")
TRIMS = (
    "Button Horn",
    "Zipper YKK",
    "Rivet Brass",
    "Snap Steel",
    "Label Woven",
    "Elastic Band",
    "Thread Poly",
)
ACCESSORIES = (
    "Hang Tag",
    "Poly Bag",
    "Carton Box",
    "Hanger",
    "Size Sticker",
    "Tissue Paper",
    "Barcode Label",
)
CUSTOMERS = tuple(
    f"{a} {b}"
    for a in ("Nordic", "Urban", "Coastal", "Alpine", "Metro", "Summit", "Harbor", "Prairie")
    for b in ("Apparel", "Outfitters", "Retail", "Wear", "Stores")
)
N_ORDERS = sum(n for _, n in STAGES)  # 10,000 manufacturing orders
