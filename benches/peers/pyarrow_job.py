"""The research job of pipelines/onderzoek-ontwikkeling.toml as a pyarrow + Python script,
as an analyst would write it today: pyarrow reads the export and does the vectorised parts
(flags, retention, dates); canonical forms, HMAC (Python's hmac module) and the scrub run
value by value in Python. Pseudonyms per docs/spec/pseudonyms-v1.md.

    python pyarrow_job.py INPUT OUTPUT KEY_FILE OBJECTION_LIST RUN_DATE DOMAIN

Deviations from doel: Python's str.isalnum / str.strip / re stand in for Rust's
char::is_alphanumeric / str::trim / regex (they differ only outside the Latin, Greek and
Cyrillic letters and the white space these exports hold); flags are read as booleans and
anchor dates as date columns only. The whole projected input is held in memory.
"""
import csv
import datetime
import hashlib
import hmac
import re
import sys
import unicodedata

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

inp, out, key_file, objection_list, run_date, domain = sys.argv[1:7]

master = bytes.fromhex(open(key_file).read().rstrip("\n"))
domain_key = hmac.new(master, b"doel/v1/domain/" + domain.encode(), hashlib.sha256).digest()


def pseudonym(kind, canonical):
    if canonical is None:
        return None
    msg = kind + b"\x1f" + canonical.encode()
    return hmac.new(domain_key, msg, hashlib.sha256).hexdigest()[:32]


WEIGHTS = (9, 8, 7, 6, 5, 4, 3, 2, -1)


def canon_bsn(value):
    if value is None:
        return None
    digits = str(value).strip().replace(" ", "").replace(".", "").replace("-", "")
    if not (8 <= len(digits) <= 9 and digits.isascii() and digits.isdigit()):
        return None
    digits = digits.zfill(9)
    if digits == "000000000" or sum(w * int(d) for w, d in zip(WEIGHTS, digits)) % 11:
        return None
    return digits


APOSTROPHES = re.compile("['\u2018\u2019`]")
NON_ALNUM = re.compile(r"[\W_]+")


def canon_name(*parts):
    joined = " ".join(p.strip() for p in parts if p is not None and p.strip())
    folded = "".join(c for c in unicodedata.normalize("NFKD", joined)
                     if unicodedata.category(c) != "Mn").lower()
    folded = NON_ALNUM.sub(" ", APOSTROPHES.sub("", folded)).strip()
    return folded or None


PC4 = re.compile(r"[1-9][0-9]{3}(?: *[A-Za-z] *[A-Za-z])?")


def pc4(value):
    if value is None:
        return None
    t = value.strip()
    return t[:4] if PC4.fullmatch(t) else None


EDGES = (0, 40, 80, 120, 160)
LABELS = ["<0", "[0,40)", "[40,80)", "[80,120)", "[120,160)", ">=160"]


def bucket(u):
    if u is None or u != u:
        return None
    i = 0
    while i < len(EDGES) and EDGES[i] <= u:
        i += 1
    return LABELS[i]


def iban_ok(s):
    compact = s.replace(" ", "")
    if not 15 <= len(compact) <= 34:
        return False
    return int("".join(str(int(c, 36)) for c in compact[4:] + compact[:4])) % 97 == 1


def alnum(c):
    return c is not None and c.isalnum()


def digit(c):
    return c is not None and "0" <= c <= "9"


# The scrubber of src/kernels/scrub.rs: pattern, then confirmation, in this order.
SCRUB = [
    ("[EMAIL]", re.compile(r"[A-Za-z0-9._%+-]+@[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)*\.[A-Za-z]{2,}"),
     lambda b, a, s: True),
    ("[IBAN]", re.compile(r"[A-Z]{2}[0-9]{2}(?:[A-Z0-9]{11,30}|(?: [A-Z0-9]{4}){2,7}(?: [A-Z0-9]{1,3})?)"),
     lambda b, a, s: not alnum(b) and not alnum(a) and iban_ok(s)),
    ("[TELEFOON]", re.compile(r"(?:\+31|0031|0)[ -]?(?:\(0\)[ -]?)?[1-9](?:[ -]?[0-9]){8}"),
     lambda b, a, s: not (alnum(b) or b == "+") and not alnum(a)),
    ("[BSN]", re.compile(r"[0-9](?:[ .-]?[0-9]){7,8}"),
     lambda b, a, s: not digit(b) and not digit(a) and canon_bsn(s) is not None),
    ("[POSTCODE]", re.compile(r"[1-9][0-9]{3}(?: ?[A-Z]{2}|[a-z]{2})"),
     lambda b, a, s: not alnum(b) and not alnum(a)),
]


def scrub(text):
    for tag, pattern, confirms in SCRUB:
        if not pattern.search(text):
            continue
        pieces, last = [], 0
        for m in pattern.finditer(text):
            before = text[m.start() - 1] if m.start() > 0 else None
            after = text[m.end()] if m.end() < len(text) else None
            if confirms(before, after, m.group()):
                pieces += [text[last:m.start()], tag]
                last = m.end()
        pieces.append(text[last:])
        text = "".join(pieces)
    return text


# Objection list: CSV with a header, BSNs in the first column, compared canonically.
with open(objection_list, newline="") as f:
    rows = list(csv.reader(f))[1:]
objected = {c for c in (canon_bsn(r[0]) for r in rows if r) if c is not None}

run = datetime.date.fromisoformat(run_date)


def years_before(years):
    try:
        return run.replace(year=run.year - years)
    except ValueError:  # 29 February
        return run.replace(year=run.year - years, day=28)


columns = ["kind_bsn", "kind_voornaam", "kind_tussenvoegsel", "kind_achternaam",
           "kind_geboortedatum", "kind_geslacht", "ouder_bsn", "postcode", "opvangsoort",
           "contract_start", "contract_einde", "uren_per_maand", "medische_info",
           "bezwaar_onderzoek", "verwerking_beperkt"]
t = pq.read_table(inp, columns=columns)
# doel writes (and polars reads) string_view; pyarrow's kernels want plain strings.
t = t.cast(pa.schema([f.with_type(pa.string()) if f.type == pa.string_view() else f
                      for f in t.schema]))

# Exclusions before any transformation: restriction, objection flag, retention of the
# record (kind_bsn: "administratie", 7 years after contract_einde).
einde = t["contract_einde"]
excluded = pc.or_(
    pc.or_(pc.fill_null(t["verwerking_beperkt"], False), pc.fill_null(t["bezwaar_onderzoek"], False)),
    pc.fill_null(pc.less(einde, pa.scalar(years_before(7), pa.date32())), False))
t = t.filter(pc.invert(excluded))

kind_c = [canon_bsn(v) for v in t["kind_bsn"].to_pylist()]
# The objection list (an exclusion) and kind_id's on_invalid = "drop_row".
keep = pa.array([c is not None and c not in objected for c in kind_c])
t = t.filter(keep)
kind_c = [c for c in kind_c if c is not None and c not in objected]

einde = t["contract_einde"]
contact_passed = pc.fill_null(pc.less(einde, pa.scalar(years_before(2), pa.date32())), False).to_pylist()
dossier_passed = pc.fill_null(pc.less(einde, pa.scalar(years_before(1), pa.date32())), False).to_pylist()

births = pc.strftime(t["kind_geboortedatum"], format="%Y-%m-%d").to_pylist()
names = zip(t["kind_voornaam"].to_pylist(), t["kind_tussenvoegsel"].to_pylist(),
            t["kind_achternaam"].to_pylist())
link = []
for birth, parts in zip(births, names):
    name = canon_name(*parts)
    link.append(None if birth is None or name is None else pseudonym(b"link", birth + "\x1f" + name))

result = pa.table({
    "kind_id": [pseudonym(b"bsn", c) for c in kind_c],
    "ouder_id": [pseudonym(b"bsn", canon_bsn(v)) for v in t["ouder_bsn"].to_pylist()],
    "koppelsleutel": link,
    "geboortejaar": pc.cast(pc.year(t["kind_geboortedatum"]), pa.int32()),
    "kind_geslacht": t["kind_geslacht"],
    "postcode": [None if gone else pc4(v)
                 for v, gone in zip(t["postcode"].to_pylist(), contact_passed)],
    "opvangsoort": t["opvangsoort"],
    "contract_start_maand": pc.strftime(t["contract_start"], format="%Y-%m"),
    "uren_per_maand": [bucket(u) for u in t["uren_per_maand"].to_pylist()],
    "gezondheid": [None if gone or v is None or not v.strip() else scrub(v)
                   for v, gone in zip(t["medische_info"].to_pylist(), dossier_passed)],
})
pq.write_table(result, out, compression="zstd")
