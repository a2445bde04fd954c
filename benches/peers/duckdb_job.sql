-- The research job of pipelines/onderzoek-ontwikkeling.toml written as a DuckDB SQL script,
-- as an analyst would write it today: HMAC-SHA256 composed from sha256() over blobs,
--   HMAC(K, m) = SHA256((K xor opad) || SHA256((K xor ipad) || m)),
-- pseudonyms per docs/spec/pseudonyms-v1.md (domain key, canonical BSN with elfproef, canonical
-- name, link key), the exclusions, retention, generalisations, and a zstd Parquet file.
--
-- Run by benches/peers/duckdb_job.py, which fills in the {placeholders}.
-- Deviations from doel (see docs/performance.md and benches/peers.sh):
--   * name canonical form: strip_accents() + lower() instead of NFKD + drop Mn + full
--     Unicode lowercase: no compatibility decomposition (ligatures, full-width letters stay),
--     no final sigma, and strip_accents removes every mark, not only Mn;
--   * trim is ASCII white space only (\s), doel trims Unicode white space;
--   * scrub: the five patterns are replaced by regexp_replace without doel's confirmations
--     (no elfproef for BSNs, no mod-97 for IBANs, no "not glued to a letter or digit" check),
--     so it replaces more than doel would; the sample's health texts hold no identifiers;
--   * the flag columns are read as booleans only (doel also reads text ja/nee, j/n, ...);
--     the anchor dates as date columns only.

SET VARIABLE run_date = DATE '{run_date}';
-- Retention cut-offs (pipelines/catalogue.toml): the record's key kind_bsn is under
-- "administratie" (7 years after contract_einde); postcode under "contact" (2 years),
-- medische_info under "dossier" (1 year).
SET VARIABLE cut_record = (getvariable('run_date') - INTERVAL 7 YEAR)::DATE;
SET VARIABLE cut_contact = (getvariable('run_date') - INTERVAL 2 YEAR)::DATE;
SET VARIABLE cut_dossier = (getvariable('run_date') - INTERVAL 1 YEAR)::DATE;

-- A 32-byte key (as 64 hex characters) padded to the 64-byte block and xor'ed with b.
CREATE MACRO pad_key(key_hex, b) AS
    unhex(array_to_string(list_transform(range(32),
        lambda i: printf('%02x', xor(('0x' || substr(key_hex, 2 * i + 1, 2))::INTEGER, b))), '')
          || repeat(printf('%02x', b), 32));
CREATE MACRO hmac_hex(key_hex, msg) AS
    sha256(pad_key(key_hex, 92) || unhex(sha256(pad_key(key_hex, 54) || msg)));

SET VARIABLE master_hex = lower(trim((SELECT content FROM read_text('{key_file}')), E'\n'));
SET VARIABLE domain_hex = hmac_hex(getvariable('master_hex'), encode('doel/v1/domain/{domain}'));
SET VARIABLE d_ipad = pad_key(getvariable('domain_hex'), 54);
SET VARIABLE d_opad = pad_key(getvariable('domain_hex'), 92);

-- P = hex of the first 16 bytes of HMAC(K_d, kind || 0x1F || canonical); NULL stays NULL.
CREATE MACRO pseudonym(kind, canon) AS
    left(sha256(getvariable('d_opad')
        || unhex(sha256(getvariable('d_ipad') || encode(kind || chr(31) || canon)))), 32);

-- Canonical BSN: trim, drop spaces/dots/hyphens, 8 or 9 digits, pad to 9, elfproef, not 0.
CREATE MACRO bsn_digits(x) AS
    regexp_replace(regexp_replace(x::VARCHAR, '^\s+|\s+$', '', 'g'), '[ .-]', '', 'g');
CREATE MACRO bsn9(d) AS CASE WHEN regexp_full_match(d, '[0-9]{8,9}') THEN lpad(d, 9, '0') END;
CREATE MACRO elfproef(s) AS
    (9 * substr(s, 1, 1)::INTEGER + 8 * substr(s, 2, 1)::INTEGER + 7 * substr(s, 3, 1)::INTEGER
     + 6 * substr(s, 4, 1)::INTEGER + 5 * substr(s, 5, 1)::INTEGER + 4 * substr(s, 6, 1)::INTEGER
     + 3 * substr(s, 7, 1)::INTEGER + 2 * substr(s, 8, 1)::INTEGER - substr(s, 9, 1)::INTEGER) % 11 = 0
    AND s <> '000000000';
CREATE MACRO canon_bsn(x) AS
    CASE WHEN elfproef(bsn9(bsn_digits(x))) THEN bsn9(bsn_digits(x)) END;

-- Canonical name (approximated, see above): join the parts, strip accents, lowercase,
-- delete apostrophes, every other non-alphanumeric run becomes one space, trim.
CREATE MACRO canon_name(a, b, c) AS
    nullif(trim(regexp_replace(regexp_replace(lower(strip_accents(concat_ws(' ', a, b, c))),
        '[''‘’`]', '', 'g'), '[^\p{L}\p{N}]+', ' ', 'g')), '');

CREATE MACRO pc4(x) AS
    CASE WHEN regexp_full_match(trim(x), '[1-9][0-9]{3}(?: *[A-Za-z] *[A-Za-z])?')
         THEN left(trim(x), 4) END;

CREATE MACRO bucket(u) AS
    CASE WHEN u IS NULL OR isnan(u) THEN NULL
         WHEN u < 0 THEN '<0' WHEN u < 40 THEN '[0,40)' WHEN u < 80 THEN '[40,80)'
         WHEN u < 120 THEN '[80,120)' WHEN u < 160 THEN '[120,160)' ELSE '>=160' END;

-- Approximate scrub (no checksum or boundary confirmation, see above).
CREATE MACRO scrub(t) AS
    regexp_replace(regexp_replace(regexp_replace(regexp_replace(regexp_replace(t,
        '[A-Za-z0-9._%+-]+@[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)*\.[A-Za-z]{2,}', '[EMAIL]', 'g'),
        '[A-Z]{2}[0-9]{2}(?:[A-Z0-9]{11,30}|(?: [A-Z0-9]{4}){2,7}(?: [A-Z0-9]{1,3})?)', '[IBAN]', 'g'),
        '(?:\+31|0031|0)[ -]?(?:\(0\)[ -]?)?[1-9](?:[ -]?[0-9]){8}', '[TELEFOON]', 'g'),
        '[0-9](?:[ .-]?[0-9]){7,8}', '[BSN]', 'g'),
        '[1-9][0-9]{3}(?: ?[A-Z]{2}|[a-z]{2})', '[POSTCODE]', 'g');

-- Objection list: a CSV with a header; the first column holds BSNs as staff typed them.
SET VARIABLE objected = (
    SELECT coalesce(list(DISTINCT c), []) FROM (
        SELECT canon_bsn(column0) AS c
        FROM read_csv('{objection_list}', header = false, skip = 1, all_varchar = true)
    ) WHERE c IS NOT NULL);

COPY (
    WITH kept AS (
        SELECT *, canon_bsn(kind_bsn) AS kind_c
        FROM read_parquet('{input}')
        WHERE NOT coalesce(verwerking_beperkt, false)          -- restriction
          AND NOT coalesce(bezwaar_onderzoek, false)           -- objection flag
          AND NOT coalesce(contract_einde < getvariable('cut_record'), false)  -- retention
    )
    SELECT
        pseudonym('bsn', kind_c) AS kind_id,
        pseudonym('bsn', canon_bsn(ouder_bsn)) AS ouder_id,
        pseudonym('link', strftime(kind_geboortedatum, '%Y-%m-%d') || chr(31)
            || canon_name(kind_voornaam, kind_tussenvoegsel, kind_achternaam)) AS koppelsleutel,
        year(kind_geboortedatum)::INTEGER AS geboortejaar,
        kind_geslacht,
        CASE WHEN contract_einde < getvariable('cut_contact') THEN NULL ELSE pc4(postcode) END AS postcode,
        opvangsoort,
        strftime(contract_start, '%Y-%m') AS contract_start_maand,
        bucket(uren_per_maand) AS uren_per_maand,
        CASE WHEN contract_einde < getvariable('cut_dossier') OR trim(medische_info) = '' THEN NULL
             ELSE scrub(medische_info) END AS gezondheid
    FROM kept
    WHERE kind_c IS NOT NULL                                    -- kind_id: on_invalid drop_row
      AND NOT list_contains(getvariable('objected'), kind_c)    -- objection list
) TO '{output}' (FORMAT parquet, COMPRESSION zstd);
