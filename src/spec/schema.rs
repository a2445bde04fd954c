//! JSON Schemas of the pipeline and catalogue files, generated from the structs the parser
//! reads them into (`raw.rs`, `catalogue.rs`), so that schema and parser cannot drift; and
//! the check of a file against its schema that names every missing, unknown or mistyped
//! key at once, each with its line, before serde reads the file and stops at the first.

use std::fmt;
use std::ops::Range;
use std::sync::OnceLock;

use schemars::JsonSchema;
use schemars::generate::SchemaSettings;
use serde_json::Value;
use toml::Spanned;
use toml::de::{DeTable, DeValue};

/// Where the schemas are published in the repository (`doel schema` prints the same).
pub const PIPELINE_SCHEMA: &str = "docs/schema/pipeline.schema.json";
pub const CATALOGUE_SCHEMA: &str = "docs/schema/catalogue.schema.json";

/// The schema of a pipeline file (draft 7, which taplo and most editors read).
pub fn pipeline() -> &'static Value {
    static SCHEMA: OnceLock<Value> = OnceLock::new();
    SCHEMA.get_or_init(|| {
        generate::<super::raw::PipelineFile>(
            "doel pipeline",
            "One purpose, one recipient: what doel releases from an export and how (docs/pipeline.md).",
        )
    })
}

/// The schema of a data catalogue file.
pub fn catalogue() -> &'static Value {
    static SCHEMA: OnceLock<Value> = OnceLock::new();
    SCHEMA.get_or_init(|| {
        generate::<super::catalogue::CatalogueFile>(
            "doel data catalogue",
            "What each column of an export holds, about whom, and how long it may be kept (docs/pipeline.md, \"Data catalogue\").",
        )
    })
}

/// A schema as published: pretty JSON ending in a line feed.
pub fn to_text(schema: &Value) -> String {
    let mut text = serde_json::to_string_pretty(schema).expect("a JSON value prints");
    text.push('\n');
    text
}

fn generate<T: JsonSchema>(title: &str, description: &str) -> Value {
    let mut schema = SchemaSettings::draft07()
        .into_generator()
        .into_root_schema_for::<T>();
    schema.insert("title".into(), title.into());
    schema.insert("description".into(), description.into());
    let mut value = schema.to_value();
    readable(&mut value);
    value
}

/// Descriptions as an editor shows them: the doc comments they come from, without
/// rustdoc's link brackets (`[`Catalogue::key`]`) and hard line breaks.
fn readable(value: &mut Value) {
    match value {
        Value::Object(map) => {
            for (name, v) in map.iter_mut() {
                match v {
                    Value::String(text) if name == "description" => *text = plain(text),
                    _ => readable(v),
                }
            }
        }
        Value::Array(items) => items.iter_mut().for_each(readable),
        _ => {}
    }
}

fn plain(doc: &str) -> String {
    let paragraphs: Vec<String> = doc
        .split("\n\n")
        .map(|p| p.split_whitespace().collect::<Vec<_>>().join(" "))
        .collect();
    let mut text = paragraphs.join("\n\n");
    // [`Name`] and [`Type::field`]: the name, as code.
    while let Some(start) = text.find("[`") {
        let Some(len) = text[start..].find("`]") else {
            break;
        };
        let inner = text[start + 2..start + len].to_owned();
        let shown = inner.rsplit("::").next().unwrap_or(&inner).to_owned();
        text.replace_range(start..start + len + 2, &format!("`{shown}`"));
    }
    text
}

/// One problem of a file, with the line it is on where it has one.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Problem {
    pub line: Option<usize>,
    /// The keys of the place it concerns (sections and keys, not list positions).
    pub keys: Vec<String>,
    pub message: String,
}

/// Escaped: a message names the keys a person typed, and a key may hold a control
/// character that must not reach a terminal.
impl fmt::Display for Problem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let message = crate::text::escaped(&self.message);
        match self.line {
            Some(line) => write!(f, "line {line}: {message}"),
            None => f.write_str(&message),
        }
    }
}

/// A parsed TOML file with the position of every key and value.
pub struct Document<'t> {
    /// The byte offset where each line after the first starts.
    line_starts: Vec<usize>,
    root: Spanned<DeValue<'t>>,
}

impl<'t> Document<'t> {
    pub fn parse(text: &'t str) -> Result<Self, toml::de::Error> {
        let root = DeTable::parse(text)?;
        let span = root.span();
        let line_starts = text.match_indices('\n').map(|(i, _)| i + 1).collect();
        Ok(Self {
            line_starts,
            root: Spanned::new(span, DeValue::Table(root.into_inner())),
        })
    }

    /// The line (from 1) of the byte offset `at`.
    fn line_at(&self, at: usize) -> usize {
        self.line_starts.partition_point(|&start| start <= at) + 1
    }

    /// The line of the key at `path` (table names, then keys), or of the nearest table
    /// above it that the file writes.
    pub fn line(&self, path: &[&str]) -> Option<usize> {
        let mut value = &self.root;
        let mut line = None;
        for key in path {
            let (k, v) = value.get_ref().as_table()?.get_key_value(*key)?;
            if !k.span().is_empty() {
                line = Some(self.line_at(k.span().start));
            }
            value = v;
        }
        line
    }

    /// A problem of the key at `keys`, on its line (or its section's).
    pub fn problem(&self, keys: &[&str], message: impl Into<String>) -> Problem {
        Problem {
            line: self.line(keys),
            keys: keys.iter().map(|k| (*k).to_owned()).collect(),
            message: message.into(),
        }
    }

    /// Whether the file has a top-level key or section `name`.
    pub fn has_section(&self, name: &str) -> bool {
        self.root
            .get_ref()
            .as_table()
            .is_some_and(|t| t.contains_key(name))
    }

    /// Every way the file departs from `schema`: unknown and missing keys, values of the
    /// wrong type or not among the allowed ones. Empty when the file fits.
    pub fn problems(&self, schema: &Value) -> Vec<Problem> {
        let mut walk = Walk {
            doc: self,
            root: schema,
            problems: Vec::new(),
        };
        walk.value(schema, &self.root, None, &mut Vec::new());
        // In the file's order; what no line holds (a missing section) last.
        walk.problems.sort_by_key(|p| p.line.unwrap_or(usize::MAX));
        walk.problems
    }
}

/// A step of a key path: a key, or an array element (from 0).
#[derive(Clone)]
enum Step {
    Key(String),
    Index(usize),
}

/// `[section] key.sub[2]`: how the messages name a place in the file.
fn render(path: &[Step]) -> String {
    let mut out = String::new();
    for (i, step) in path.iter().enumerate() {
        match (i, step) {
            (0, Step::Key(k)) => out.push_str(&format!("[{}]", key(k))),
            (1, Step::Key(k)) => out.push_str(&format!(" {}", key(k))),
            (_, Step::Key(k)) => out.push_str(&format!(".{}", key(k))),
            (_, Step::Index(n)) => out.push_str(&format!("[{}]", n + 1)),
        }
    }
    out
}

/// How a message names a key: as the file writes it, in quotes where TOML needs them (a
/// key `postcode.y` is not the path postcode → y), and at most 60 characters, so that a
/// file of long keys does not make an error of megabytes.
pub fn key(name: &str) -> String {
    const SHOWN: usize = 60;
    let bare = !name.is_empty()
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-');
    let short: String = name.chars().take(SHOWN).collect();
    let cut = if short.len() < name.len() { "…" } else { "" };
    if bare {
        format!("{short}{cut}")
    } else {
        format!(
            "\"{}{cut}\"",
            short.replace('\\', "\\\\").replace('"', "\\\"")
        )
    }
}

struct Walk<'a, 't> {
    doc: &'a Document<'t>,
    root: &'a Value,
    problems: Vec<Problem>,
}

impl<'a> Walk<'a, '_> {
    fn resolve(&self, mut schema: &'a Value) -> &'a Value {
        while let Some(name) = schema
            .get("$ref")
            .and_then(Value::as_str)
            .and_then(|r| r.strip_prefix("#/definitions/"))
        {
            match self.root.get("definitions").and_then(|d| d.get(name)) {
                Some(target) => schema = target,
                None => break,
            }
        }
        schema
    }

    fn push(&mut self, span: Option<Range<usize>>, path: &[Step], message: String) {
        let line = span.map(|s| self.doc.line_at(s.start));
        let keys = path
            .iter()
            .filter_map(|step| match step {
                Step::Key(k) => Some(k.clone()),
                Step::Index(_) => None,
            })
            .collect();
        self.problems.push(Problem {
            line,
            keys,
            message,
        });
    }

    /// `value` (at `key_span`'s line where it has a key) against `schema`.
    fn value(
        &mut self,
        schema: &'a Value,
        value: &Spanned<DeValue<'_>>,
        key_span: Option<Range<usize>>,
        path: &mut Vec<Step>,
    ) {
        let schema = self.resolve(schema);
        let at = key_span.or_else(|| Some(value.span()).filter(|s| !s.is_empty()));
        let place = render(path);
        // TOML integers are 64-bit: a larger one is refused here, before serde would
        // repeat it in its message.
        if let DeValue::Integer(n) = value.get_ref()
            && i64::from_str_radix(n.as_str(), n.radix()).is_err()
        {
            self.push(at, path, format!("{place} is too large a number"));
            return;
        }
        if let Some(all) = schema.get("allOf").and_then(Value::as_array) {
            for branch in all {
                self.value(branch, value, at.clone(), path);
            }
            return;
        }
        if let Some(branches) = schema
            .get("anyOf")
            .or_else(|| schema.get("oneOf"))
            .and_then(Value::as_array)
        {
            self.branches(branches, value, at, path);
            return;
        }
        if let Some(allowed) = allowed_strings(self, schema) {
            if !value
                .get_ref()
                .as_str()
                .is_some_and(|s| allowed.contains(&s))
            {
                self.push(
                    at,
                    path,
                    format!("{place} must be one of {}", allowed.join(", ")),
                );
            }
            return;
        }
        if let Some(types) = types(schema)
            && !types.iter().any(|t| fits(value.get_ref(), t))
        {
            self.push(at, path, format!("{place} must be {}", described(&types)));
            return;
        }
        match value.get_ref() {
            DeValue::Integer(n) => {
                let n = i128::from_str_radix(n.as_str(), n.radix()).ok();
                let min = schema.get("minimum").and_then(Value::as_f64);
                // A declared maximum, else the bound of the type serde reads it into.
                let max = schema.get("maximum").and_then(Value::as_f64).or_else(|| {
                    match schema.get("format").and_then(Value::as_str) {
                        Some("uint32") => Some(f64::from(u32::MAX)),
                        _ => None,
                    }
                });
                #[allow(clippy::cast_precision_loss)] // a bound, compared roughly
                let n = n.map(|n| n as f64);
                if n.is_none_or(|n| min.is_some_and(|m| n < m) || max.is_some_and(|m| n > m)) {
                    let range = match (min, max) {
                        (Some(min), Some(max)) => format!("from {min} to {max}"),
                        (Some(min), None) => format!("at least {min}"),
                        (None, Some(max)) => format!("at most {max}"),
                        (None, None) => "a whole number".into(),
                    };
                    self.push(at, path, format!("{place} must be {range}"));
                }
            }
            DeValue::Array(items) => {
                if let Some(item_schema) = schema.get("items") {
                    for (i, item) in items.iter().enumerate() {
                        path.push(Step::Index(i));
                        self.value(item_schema, item, None, path);
                        path.pop();
                    }
                }
            }
            DeValue::Table(table) => self.table(schema, table, at, path),
            _ => {}
        }
    }

    fn table(
        &mut self,
        schema: &'a Value,
        table: &DeTable<'_>,
        at: Option<Range<usize>>,
        path: &mut Vec<Step>,
    ) {
        let place = render(path);
        let properties = schema.get("properties").and_then(Value::as_object);
        let additional = schema.get("additionalProperties");
        // Keys a typo stands for: named once, as the typo, not as missing too.
        let mut meant = Vec::new();
        for (typed, value) in table {
            let name = typed.get_ref().as_ref();
            let key_span = Some(typed.span()).filter(|s| !s.is_empty());
            let sub = properties
                .and_then(|p| p.get(name))
                .or_else(|| additional.filter(|a| a.is_object()));
            match sub {
                // Only `additionalProperties: false` refuses a key no property names.
                None if additional != Some(&Value::Bool(false)) => {}
                Some(sub) => {
                    path.push(Step::Key(name.to_owned()));
                    self.value(sub, value, key_span, path);
                    path.pop();
                }
                None => {
                    let known: Vec<&str> =
                        properties.map_or(Vec::new(), |p| p.keys().map(String::as_str).collect());
                    let what = if path.is_empty() {
                        format!("unknown section [{}]", key(name))
                    } else {
                        format!("{place}: unknown key `{}`", key(name))
                    };
                    let resemble = known
                        .iter()
                        .find(|k| !table.contains_key(**k) && near(k, name));
                    meant.extend(resemble.copied());
                    let hint = match resemble {
                        Some(k) if path.is_empty() => format!("; did you mean [{k}]?"),
                        Some(k) => format!("; did you mean `{k}`?"),
                        None if known.is_empty() => String::new(),
                        None => format!("; expected {}", known.join(", ")),
                    };
                    self.push(key_span.or(at.clone()), path, format!("{what}{hint}"));
                }
            }
        }
        for required in schema
            .get("required")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
            .filter_map(Value::as_str)
        {
            if !table.contains_key(required) && !meant.contains(&required) {
                if path.is_empty() {
                    self.push(None, path, format!("missing section [{required}]"));
                } else {
                    self.push(
                        at.clone(),
                        path,
                        format!("{place}: missing key `{required}`"),
                    );
                }
            }
        }
    }

    /// `anyOf` / `oneOf`: fine when one branch takes the value; otherwise the problems of
    /// the one branch of the value's type, or the allowed values.
    fn branches(
        &mut self,
        branches: &'a [Value],
        value: &Spanned<DeValue<'_>>,
        at: Option<Range<usize>>,
        path: &mut Vec<Step>,
    ) {
        let mut of_its_type = Vec::new();
        for branch in branches {
            let mut trial = Walk {
                doc: self.doc,
                root: self.root,
                problems: Vec::new(),
            };
            trial.value(branch, value, at.clone(), path);
            if trial.problems.is_empty() {
                return;
            }
            let resolved = self.resolve(branch);
            let typed = types(resolved).is_some_and(|t| t.iter().any(|t| fits(value.get_ref(), t)))
                && allowed_strings(self, resolved).is_none();
            if typed {
                of_its_type.push(trial.problems);
            }
        }
        let place = render(path);
        if of_its_type.len() == 1 {
            self.problems
                .extend(of_its_type.pop().into_iter().flatten());
        } else {
            let mut allowed = Vec::new();
            let mut kinds = Vec::new();
            for branch in branches {
                let resolved = self.resolve(branch);
                match allowed_strings(self, resolved) {
                    Some(strings) => allowed.extend(strings),
                    None => kinds.extend(types(resolved).unwrap_or_default()),
                }
            }
            kinds.retain(|k| *k != "null");
            let message = match (allowed.is_empty(), kinds.is_empty()) {
                (false, true) => format!("{place} must be one of {}", allowed.join(", ")),
                (false, false) => format!(
                    "{place} must be one of {} or {}",
                    allowed.join(", "),
                    described(&kinds)
                ),
                (true, _) => format!("{place} must be {}", described(&kinds)),
            };
            self.push(at, path, message);
        }
    }
}

/// The strings an enumeration allows (`enum`, `const`, or a `oneOf` of those); `None`
/// when the schema is no enumeration of strings.
fn allowed_strings<'a>(walk: &Walk<'a, '_>, schema: &'a Value) -> Option<Vec<&'a str>> {
    if let Some(values) = schema.get("enum").and_then(Value::as_array) {
        return values.iter().map(Value::as_str).collect();
    }
    if let Some(value) = schema.get("const") {
        return value.as_str().map(|s| vec![s]);
    }
    let branches = schema.get("oneOf").or_else(|| schema.get("anyOf"))?;
    let mut all = Vec::new();
    for branch in branches.as_array()? {
        all.extend(allowed_strings(walk, walk.resolve(branch))?);
    }
    Some(all)
}

fn types(schema: &Value) -> Option<Vec<&str>> {
    match schema.get("type")? {
        Value::String(t) => Some(vec![t.as_str()]),
        Value::Array(ts) => ts.iter().map(Value::as_str).collect(),
        _ => None,
    }
}

fn fits(value: &DeValue<'_>, kind: &str) -> bool {
    matches!(
        (kind, value),
        ("string", DeValue::String(_))
            | ("integer", DeValue::Integer(_))
            | ("number", DeValue::Integer(_) | DeValue::Float(_))
            | ("boolean", DeValue::Boolean(_))
            | ("array", DeValue::Array(_))
            | ("object", DeValue::Table(_))
    )
}

fn described(kinds: &[&str]) -> String {
    let words: Vec<&str> = kinds
        .iter()
        .filter(|k| **k != "null")
        .map(|k| match *k {
            "string" => "a string",
            "integer" => "a whole number",
            "number" => "a number",
            "boolean" => "true or false",
            "array" => "a list",
            "object" => "a table",
            _ => "a value",
        })
        .collect();
    words.join(" or ")
}

/// Two names a typo apart: at most two edits (and the name not much shorter).
fn near(known: &str, typed: &str) -> bool {
    let (a, b): (Vec<char>, Vec<char>) = (known.chars().collect(), typed.chars().collect());
    let limit = if a.len() <= 4 { 1 } else { 2 };
    if a.len().abs_diff(b.len()) > limit {
        return false;
    }
    let mut row: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.iter().enumerate() {
        let mut diagonal = row[0];
        row[0] = i + 1;
        for (j, cb) in b.iter().enumerate() {
            let next = (diagonal + usize::from(ca != cb))
                .min(row[j] + 1)
                .min(row[j + 1] + 1);
            diagonal = row[j + 1];
            row[j + 1] = next;
        }
    }
    row[b.len()] <= limit
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::path::Path;

    fn problems(text: &str) -> Vec<String> {
        Document::parse(text)
            .unwrap()
            .problems(pipeline())
            .iter()
            .map(ToString::to_string)
            .collect()
    }

    #[test]
    fn a_typo_is_named_with_its_line_and_the_key_it_resembles() {
        assert!(near("contact", "contcat"));
        assert!(near("recipient", "recipent"));
        assert!(!near("k", "kind"));
        let found = problems(
            "[pipeline]\nname = \"x\"\npurpose = \"reserch\"\ncontcat = \"x\"\n\n[input]\npath = 3\n\n[columns]\nbsn = \"kep\"\nnaam = { action = \"drop\", knd = \"name\" }\n",
        );
        assert_eq!(
            found,
            [
                "line 1: [pipeline]: missing key `legal_basis`",
                "line 1: [pipeline]: missing key `recipient`",
                "line 1: [pipeline]: missing key `controller`",
                "line 1: [pipeline]: missing key `recipient_retention`",
                "line 1: [pipeline]: missing key `pseudonym_domain`",
                "line 1: [pipeline]: missing key `catalogue`",
                "line 3: [pipeline] purpose must be one of research, statistics, legal-obligation, management",
                "line 4: [pipeline]: unknown key `contcat`; did you mean `contact`?",
                "line 7: [input] path must be a string",
                "line 10: [columns] bsn must be one of keep, drop, pseudonymise, generalise, token, scrub or a table",
                "line 11: [columns] naam: unknown key `knd`; did you mean `kind`?",
                "missing section [output]",
            ]
        );
    }

    #[test]
    fn keys_are_named_as_toml_writes_them_and_no_number_is_repeated() {
        let long = "k".repeat(1000);
        let found = problems(&format!(
            "[input]\n{long} = 1\npath = \"x\"\n\n[columns]\n\"a.b\" = {{ action = \"keep\", knd = 1 }}\nc = {{ action = \"generalise\", to = \"bucket\", edges = [1, 99999999999999999999999] }}\n"
        ));
        assert_eq!(
            found[0],
            format!(
                "line 2: [input]: unknown key `{}…`; expected path, postgres, format, delimiter, encoding, sheet, header_row",
                "k".repeat(60)
            )
        );
        assert_eq!(
            found[1],
            "line 6: [columns] \"a.b\": unknown key `knd`; did you mean `kind`?"
        );
        assert_eq!(
            found[2],
            "line 7: [columns] c.edges[2] is too large a number"
        );
        assert!(!found.iter().any(|p| p.contains("9999")));
    }

    #[test]
    fn the_published_schemas_are_the_generated_ones_and_every_shipped_file_fits() {
        let root = Path::new(env!("CARGO_MANIFEST_DIR"));
        for (published, schema) in [
            (PIPELINE_SCHEMA, pipeline()),
            (CATALOGUE_SCHEMA, catalogue()),
        ] {
            let text = std::fs::read_to_string(root.join(published)).unwrap();
            assert!(
                text == to_text(schema),
                "{published} differs from the definitions: run `doel schema pipeline > {PIPELINE_SCHEMA}` and `doel schema catalogue > {CATALOGUE_SCHEMA}`"
            );
        }
        let mut files = 0;
        for entry in std::fs::read_dir(root.join("pipelines")).unwrap() {
            let path = entry.unwrap().path();
            let text = std::fs::read_to_string(&path).unwrap();
            let doc = Document::parse(&text).unwrap();
            let schema = if doc.has_section("pipeline") {
                pipeline()
            } else {
                catalogue()
            };
            assert_eq!(doc.problems(schema), [], "{}", path.display());
            files += 1;
        }
        assert!(files >= 6);
    }
}
