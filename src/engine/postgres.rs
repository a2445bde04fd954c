//! A PostgreSQL table or query as input.
//!
//! The connection comes from the environment, never from the pipeline file: `DOEL_PG_URL`
//! (a libpq connection string or `postgresql://` URI), or else libpq's variables
//! (`PGHOST`, `PGPORT`, `PGDATABASE`, `PGUSER`, `PGPASSWORD`, `PGCONNECT_TIMEOUT`,
//! `PGSSLMODE`, `PGAPPNAME`) and password file (`PGPASSFILE`, default `~/.pgpass`, read
//! only when no other may read it, as libpq does). Nothing of it is printed: messages name
//! the server and database, never a user's password.
//!
//! `open` asks the server for the source's columns (a statement prepared, no row read) for
//! the plan; `read` then selects only the planned columns — dropped columns never leave
//! the database — with `COPY … TO STDOUT (FORMAT binary)` in one read-only
//! repeatable-read transaction (one snapshot), into an unlinked temporary Arrow IPC file in
//! batches, which the engine scans as any IPC input.
//!
//! A table has no order of its own (a sequential scan returns rows as they lie in its
//! pages), so a re-run would not give the same bytes: rows are ordered by the table's
//! primary key, or, without one (and for a query), by every column read.

use std::path::PathBuf;
use std::str::FromStr;

use fallible_iterator::FallibleIterator;
use polars::prelude::*;
use postgres::types::Type;

use super::EngineError;
use crate::audit::DatabaseSource;
use crate::spec::PgSource;

/// Rows per batch written to the copy.
const BATCH: usize = 65_536;

/// How long a connection may take when the environment sets no limit.
const CONNECT_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(30);

/// libpq's default socket directory on Debian, which a password file calls `localhost`.
const DEFAULT_SOCKET_DIR: &str = "/var/run/postgresql";

/// What doel makes of a column's PostgreSQL type.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    Text,
    Integer,
    Float,
    Boolean,
    Date,
    /// Read through its text form (numeric, timestamps, uuid, …).
    AsText,
    /// Arrays, JSON, binary, composite: only dropped.
    Nested,
}

impl Kind {
    fn of(t: &Type) -> Self {
        match t.kind() {
            postgres::types::Kind::Domain(base) => return Self::of(base),
            postgres::types::Kind::Enum(_) => return Self::AsText,
            postgres::types::Kind::Simple => {}
            _ => return Self::Nested,
        }
        match *t {
            Type::TEXT | Type::VARCHAR | Type::BPCHAR | Type::NAME | Type::CHAR => Self::Text,
            Type::INT2 | Type::INT4 | Type::INT8 => Self::Integer,
            Type::FLOAT4 | Type::FLOAT8 => Self::Float,
            Type::BOOL => Self::Boolean,
            Type::DATE => Self::Date,
            Type::NUMERIC
            | Type::TIMESTAMP
            | Type::TIMESTAMPTZ
            | Type::TIME
            | Type::TIMETZ
            | Type::INTERVAL
            | Type::UUID
            | Type::INET
            | Type::CIDR
            | Type::MONEY => Self::AsText,
            // Binary and JSON, which hold more than one value, only dropped; any other
            // single value (citext, oid, bit, …) through its text form.
            Type::BYTEA | Type::JSON | Type::JSONB | Type::XML => Self::Nested,
            _ => Self::AsText,
        }
    }

    fn dtype(self) -> DataType {
        match self {
            Self::Text | Self::AsText => DataType::String,
            Self::Integer => DataType::Int64,
            Self::Float => DataType::Float64,
            Self::Boolean => DataType::Boolean,
            Self::Date => DataType::Date,
            Self::Nested => DataType::Binary,
        }
    }

    /// The type the column is selected as, and read in.
    fn read_as(self) -> (&'static str, Type) {
        match self {
            Self::Text | Self::AsText | Self::Nested => ("text", Type::TEXT),
            Self::Integer => ("int8", Type::INT8),
            Self::Float => ("float8", Type::FLOAT8),
            Self::Boolean => ("bool", Type::BOOL),
            Self::Date => ("date", Type::DATE),
        }
    }
}

/// An opened PostgreSQL source: its connection, columns and name for messages.
pub struct Source {
    client: postgres::Client,
    source: PgSource,
    /// How messages name it: the input's `path`.
    pub name: PathBuf,
    columns: Vec<(String, Kind)>,
    /// The table's primary key, if it has one.
    primary_key: Vec<String>,
    /// The columns of type money.
    money: Vec<String>,
    /// The server and database, without credentials.
    server: String,
    database: String,
}

/// The environment's connection settings, and how to name them (no credentials).
fn settings() -> Result<(postgres::Config, String, String), String> {
    let env = |k: &str| std::env::var(k).ok().filter(|v| !v.is_empty());
    let mut config = match env("DOEL_PG_URL") {
        Some(url) => {
            let mut config = postgres::Config::from_str(&url).map_err(|_| {
                "DOEL_PG_URL is not a PostgreSQL connection string or postgresql:// URI that this version reads (sslmode verify-ca and verify-full, which need TLS, are not read)".to_owned()
            })?;
            if config.get_connect_timeout().is_none() {
                config.connect_timeout(CONNECT_TIMEOUT);
            }
            config
        }
        None => {
            let mut config = postgres::Config::new();
            let host = env("PGHOST").unwrap_or_else(|| DEFAULT_SOCKET_DIR.into());
            if host.starts_with('/') {
                config.host_path(&host);
            } else {
                config.host(&host);
            }
            if let Some(port) = env("PGPORT") {
                config.port(port.parse().map_err(|_| "PGPORT is not a port number")?);
            }
            if let Some(user) = env("PGUSER").or_else(|| env("USER")) {
                config.user(&user);
            }
            if let Some(database) = env("PGDATABASE") {
                config.dbname(&database);
            }
            if let Some(password) = env("PGPASSWORD") {
                config.password(password);
            }
            match env("PGCONNECT_TIMEOUT").as_deref() {
                // As libpq: 0 waits without end, anything else at least 2 seconds.
                Some("0") => {}
                Some(seconds) => {
                    let seconds: u64 = seconds
                        .parse()
                        .map_err(|_| "PGCONNECT_TIMEOUT is not a number of seconds")?;
                    config.connect_timeout(std::time::Duration::from_secs(seconds.max(2)));
                }
                None => {
                    config.connect_timeout(CONNECT_TIMEOUT);
                }
            }
            match env("PGSSLMODE").as_deref() {
                None | Some("disable" | "allow" | "prefer") => {}
                Some("require" | "verify-ca" | "verify-full") => {
                    return Err("PGSSLMODE asks for TLS, which this version of doel cannot make: connect over a Unix socket or a trusted network with sslmode disable or prefer".into());
                }
                Some(_) => {
                    return Err("PGSSLMODE is none of disable, allow, prefer, require, verify-ca and verify-full".into());
                }
            }
            config
        }
    };
    config.application_name(&env("PGAPPNAME").unwrap_or_else(|| "doel".into()));
    // A connection that goes silent is noticed within minutes, not after two hours.
    config.keepalives_idle(std::time::Duration::from_secs(60));
    if config.get_hosts().len() > 1 {
        return Err("the connection names more than one host: name the one server to read (the manifest records it)".into());
    }
    if config.get_ssl_mode() == postgres::config::SslMode::Require {
        return Err("the connection asks for TLS (sslmode=require), which this version of doel cannot make: connect over a Unix socket or a trusted network with sslmode disable or prefer".into());
    }
    let host = match config.get_hosts().first() {
        Some(postgres::config::Host::Tcp(h)) => h.clone(),
        Some(postgres::config::Host::Unix(p)) => p.display().to_string(),
        None => "localhost".into(),
    };
    let port = config.get_ports().first().copied().unwrap_or(5432);
    let user = config.get_user().unwrap_or_default().to_owned();
    let database = config.get_dbname().unwrap_or(&user).to_owned();
    if config.get_password().is_none()
        && let Some(password) = password_file(&host, port, &database, &user)
    {
        config.password(password);
    }
    Ok((config, format!("{host}:{port}"), database))
}

/// The password the password file holds for this server, database and user, as libpq
/// finds it: the first matching line, `*` matching anything; a socket directory matches
/// itself, and the default one `localhost`. A file others may read is ignored, as libpq
/// ignores it.
fn password_file(host: &str, port: u16, database: &str, user: &str) -> Option<String> {
    use std::os::unix::fs::PermissionsExt;
    let path = std::env::var_os("PGPASSFILE")
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".pgpass")))?;
    let meta = std::fs::metadata(&path).ok()?;
    if !meta.is_file() || meta.permissions().mode() & 0o077 != 0 {
        return None;
    }
    let host = if host == DEFAULT_SOCKET_DIR {
        "localhost"
    } else {
        host
    };
    let wanted = [
        host.to_owned(),
        port.to_string(),
        database.to_owned(),
        user.to_owned(),
    ];
    std::fs::read_to_string(&path)
        .ok()?
        .lines()
        .find_map(|line| {
            if line.starts_with('#') {
                return None;
            }
            let fields = pgpass_fields(line);
            (fields.len() == 5
                && fields[..4]
                    .iter()
                    .zip(&wanted)
                    .all(|(field, want)| field == "*" || field == want))
            .then(|| fields[4].clone())
            .filter(|p| !p.is_empty())
        })
}

/// A password file line's fields: `:` separates the first four, `\` escapes `:` and
/// `\`; the password is the rest of the line, as libpq reads it.
fn pgpass_fields(line: &str) -> Vec<String> {
    let mut fields = vec![String::new()];
    let mut chars = line.chars();
    while let Some(c) = chars.next() {
        match c {
            '\\' => fields.last_mut().expect("one field").extend(chars.next()),
            ':' if fields.len() < 5 => fields.push(String::new()),
            c => fields.last_mut().expect("one field").push(c),
        }
    }
    fields
}

/// An identifier as PostgreSQL quotes it.
fn quoted(name: &str) -> String {
    format!("\"{}\"", name.replace('"', "\"\""))
}

impl PgSource {
    /// The source as a `FROM` item.
    fn relation(&self) -> String {
        match self {
            Self::Table(parts) => parts
                .iter()
                .map(|p| quoted(p))
                .collect::<Vec<_>>()
                .join("."),
            // On a line of its own: a query ending in a `--` comment would comment out
            // the rest.
            Self::Query(query) => format!("(\n{query}\n) AS doel_source"),
        }
    }
}

/// What went wrong, said without what the server may have quoted from the data.
fn described(error: &postgres::Error, server: &str) -> String {
    use postgres::error::SqlState;
    let Some(code) = error.code() else {
        // The client's own message, looked at, never printed.
        let cause = std::error::Error::source(error).map(ToString::to_string);
        return if cause.is_some_and(|c| c.contains("password missing")) {
            format!(
                "{server} asks for a password and none was given (PGPASSWORD, a password file only its owner may read, or DOEL_PG_URL)"
            )
        } else if error.to_string().starts_with("error deserializing") {
            "a value the server sent cannot be read as its column's type (a date of infinity, or beyond year 262 143?)".to_owned()
        } else if error.is_closed() {
            format!("the connection to {server} was closed (did the server stop?)")
        } else {
            format!(
                "cannot connect to {server} or talk to it (is the server running, and DOEL_PG_URL or PGHOST/PGPORT right?)"
            )
        };
    };
    let what = match code {
        c if *c == SqlState::INVALID_PASSWORD || *c == SqlState::INVALID_AUTHORIZATION_SPECIFICATION => {
            "the server refused the user or password (PGPASSWORD, the password file, or DOEL_PG_URL)".to_owned()
        }
        c if *c == SqlState::INVALID_CATALOG_NAME => "the database does not exist (PGDATABASE)".into(),
        c if *c == SqlState::UNDEFINED_TABLE => "the table does not exist, or the user may not see it ([input] postgres table)".into(),
        c if *c == SqlState::UNDEFINED_COLUMN => "a column the pipeline names is not in the table or query".into(),
        c if *c == SqlState::INSUFFICIENT_PRIVILEGE => "the user may not read the table (GRANT SELECT)".into(),
        c if *c == SqlState::SYNTAX_ERROR => "the server cannot parse the query ([input] postgres query)".into(),
        c if *c == SqlState::ADMIN_SHUTDOWN || *c == SqlState::CRASH_SHUTDOWN => "the server shut down during the run".into(),
        c => format!("the server refused it (SQLSTATE {})", c.code()),
    };
    format!("{what}; server {server}")
}

/// Connect and learn the source's columns; no row is read.
pub fn open(source: &PgSource, name: PathBuf) -> Result<Source, EngineError> {
    let fail = |problem: String| EngineError::Database {
        database: name.clone(),
        problem,
    };
    let (config, server, database) = settings().map_err(fail)?;
    let mut client = config
        .connect(postgres::NoTls)
        .map_err(|e| fail(described(&e, &server)))?;
    let statement = client
        .prepare(&format!("SELECT * FROM {}", source.relation()))
        .map_err(|e| fail(described(&e, &server)))?;
    let money = statement
        .columns()
        .iter()
        .filter(|c| *c.type_() == Type::MONEY)
        .map(|c| c.name().to_owned())
        .collect();
    let columns: Vec<(String, Kind)> = statement
        .columns()
        .iter()
        .map(|c| (c.name().to_owned(), Kind::of(c.type_())))
        .collect();
    // Column names are the source's structure, not its data.
    if let Some((i, (name, _))) = columns
        .iter()
        .enumerate()
        .find(|(i, (name, _))| columns[..*i].iter().any(|(n, _)| n == name))
    {
        return Err(fail(format!(
            "column {} is named `{}` like an earlier one: give every column its own name (AS in the query)",
            i + 1,
            crate::text::escaped(name)
        )));
    }
    let primary_key = match source {
        PgSource::Table(_) => client
            .query(
                "SELECT a.attname::text FROM pg_index i JOIN pg_attribute a ON a.attrelid = i.indrelid AND a.attnum = ANY(i.indkey) WHERE i.indrelid = $1::text::regclass AND i.indisprimary ORDER BY array_position(i.indkey, a.attnum)",
                &[&source.relation()],
            )
            .map_err(|e| fail(described(&e, &server)))?
            .iter()
            .map(|row| row.get(0))
            .collect(),
        PgSource::Query(_) => Vec::new(),
    };
    Ok(Source {
        client,
        source: source.clone(),
        name,
        columns,
        primary_key,
        money,
        server,
        database,
    })
}

impl Source {
    /// An empty frame of the source's columns and types, for the plan.
    pub fn empty_frame(&self) -> DataFrame {
        let columns: Vec<Column> = self
            .columns
            .iter()
            .map(|(name, kind)| Column::new_empty(name.as_str().into(), &kind.dtype()))
            .collect();
        DataFrame::new_infer_height(columns).expect("columns of one height")
    }

    /// Read the columns `needed` into an unlinked temporary Arrow IPC file, in one
    /// snapshot; the record of what was read.
    pub fn read(
        &mut self,
        needed: &[String],
    ) -> Result<(std::fs::File, DatabaseSource), EngineError> {
        let name = self.name.clone();
        let server = self.server.clone();
        let fail = |problem: String| EngineError::Database {
            database: name.clone(),
            problem,
        };
        let talk = |e: postgres::Error| fail(described(&e, &server));
        let columns: Vec<(String, Kind)> = self
            .columns
            .iter()
            .filter(|(n, _)| needed.contains(n))
            .cloned()
            .collect();
        // The plan only drops such a column; should one ever be asked for, it is refused
        // rather than read as something it is not.
        if let Some((n, _)) = columns.iter().find(|(_, k)| *k == Kind::Nested) {
            return Err(fail(format!(
                "column `{}` holds a list, a document or bytes, which doel only drops",
                crate::text::escaped(n)
            )));
        }
        let list = columns
            .iter()
            .map(|(n, kind)| {
                // money's text follows lc_monetary: its amount is read instead.
                let through = if self.money.contains(n) {
                    "::numeric"
                } else {
                    ""
                };
                format!("{}{through}::{}", quoted(n), kind.read_as().0)
            })
            .collect::<Vec<_>>()
            .join(", ");
        let types: Vec<Type> = columns.iter().map(|(_, k)| k.read_as().1).collect();
        let order: Vec<String> = if self.primary_key.is_empty() {
            columns.iter().map(|(n, _)| n.clone()).collect()
        } else {
            self.primary_key.clone()
        };
        let order_by = if order.is_empty() {
            String::new()
        } else {
            let keys: Vec<String> = order.iter().map(|n| quoted(n)).collect();
            format!(" ORDER BY {}", keys.join(", "))
        };
        let schema: Schema = columns
            .iter()
            .map(|(n, k)| Field::new(n.as_str().into(), k.dtype()))
            .collect();
        let mut transaction = self
            .client
            .build_transaction()
            .isolation_level(postgres::IsolationLevel::RepeatableRead)
            .read_only(true)
            .start()
            .map_err(talk)?;
        // Text forms that do not depend on the session (a role's or database's settings).
        transaction
            .batch_execute(
                "SET LOCAL TimeZone = 'UTC'; SET LOCAL DateStyle = 'ISO, YMD'; SET LOCAL IntervalStyle = 'iso_8601'; SET LOCAL extra_float_digits = 3",
            )
            .map_err(talk)?;
        let snapshot: String = transaction
            .query_one(
                "SELECT to_char(now() AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS.US\"Z\"')",
                &[],
            )
            .map_err(talk)?
            .get(0);
        let mut temp = tempfile::tempfile().map_err(|e| {
            fail(format!(
                "cannot create a temporary copy to read it through: {}",
                e.kind()
            ))
        })?;
        let written = |e: PolarsError| {
            fail(format!(
                "cannot write the copy: {}",
                super::safe_summary(&e)
            ))
        };
        let arrow = schema.to_arrow(CompatLevel::newest());
        let fields = polars_arrow::io::ipc::write::default_ipc_fields(arrow.iter_values());
        let mut writer = IpcWriter::new(&mut temp)
            .batched(&schema, fields)
            .map_err(written)?;
        let reader = transaction
            .copy_out(&format!(
                "COPY (SELECT {list} FROM {}{order_by}) TO STDOUT (FORMAT binary)",
                self.source.relation()
            ))
            .map_err(talk)?;
        let mut rows = postgres::binary_copy::BinaryCopyOutIter::new(reader, &types);
        let mut batch = Batch::new(&columns);
        let mut count: u64 = 0;
        while let Some(row) = rows.next().map_err(talk)? {
            batch.push(&row).map_err(talk)?;
            count += 1;
            if batch.len == BATCH {
                writer
                    .write_batch(&batch.frame(&columns))
                    .map_err(written)?;
                batch = Batch::new(&columns);
            }
        }
        if batch.len > 0 || count == 0 {
            writer
                .write_batch(&batch.frame(&columns))
                .map_err(written)?;
        }
        writer.finish().map_err(written)?;
        drop(rows);
        transaction.commit().map_err(talk)?;
        let record = DatabaseSource {
            kind: "postgresql".into(),
            server: self.server.clone(),
            database: self.database.clone(),
            table: match &self.source {
                PgSource::Table(parts) => Some(parts.join(".")),
                PgSource::Query(_) => None,
            },
            query_sha256: match &self.source {
                PgSource::Query(q) => Some(crate::audit::sha256_hex(q.as_bytes())),
                PgSource::Table(_) => None,
            },
            columns: columns.iter().map(|(n, _)| n.clone()).collect(),
            order_by: order,
            rows: count,
            snapshot,
        };
        Ok((temp, record))
    }
}

/// One batch of rows, a vector per column.
struct Batch {
    columns: Vec<Values>,
    len: usize,
}

enum Values {
    Text(Vec<Option<String>>),
    Integer(Vec<Option<i64>>),
    Float(Vec<Option<f64>>),
    Boolean(Vec<Option<bool>>),
    Date(Vec<Option<i32>>),
}

impl Batch {
    fn new(columns: &[(String, Kind)]) -> Self {
        Self {
            columns: columns
                .iter()
                .map(|(_, kind)| match kind {
                    Kind::Text | Kind::AsText | Kind::Nested => Values::Text(Vec::new()),
                    Kind::Integer => Values::Integer(Vec::new()),
                    Kind::Float => Values::Float(Vec::new()),
                    Kind::Boolean => Values::Boolean(Vec::new()),
                    Kind::Date => Values::Date(Vec::new()),
                })
                .collect(),
            len: 0,
        }
    }

    fn push(
        &mut self,
        row: &postgres::binary_copy::BinaryCopyOutRow,
    ) -> Result<(), postgres::Error> {
        for (i, values) in self.columns.iter_mut().enumerate() {
            match values {
                Values::Text(v) => v.push(row.try_get(i)?),
                Values::Integer(v) => v.push(row.try_get(i)?),
                Values::Float(v) => v.push(row.try_get(i)?),
                Values::Boolean(v) => v.push(row.try_get(i)?),
                Values::Date(v) => v.push(
                    row.try_get::<Option<chrono::NaiveDate>>(i)?
                        .map(crate::kernels::canonical::days_from_date),
                ),
            }
        }
        self.len += 1;
        Ok(())
    }

    fn frame(&mut self, columns: &[(String, Kind)]) -> DataFrame {
        let out: Vec<Column> = self
            .columns
            .iter_mut()
            .zip(columns)
            .map(|(values, (name, kind))| {
                let name = PlSmallStr::from(name.as_str());
                let column = match values {
                    Values::Text(v) => Column::new(name, std::mem::take(v)),
                    Values::Integer(v) => Column::new(name, std::mem::take(v)),
                    Values::Float(v) => Column::new(name, std::mem::take(v)),
                    Values::Boolean(v) => Column::new(name, std::mem::take(v)),
                    Values::Date(v) => Column::new(name, std::mem::take(v)),
                };
                column.cast(&kind.dtype()).expect("the column's own type")
            })
            .collect();
        DataFrame::new_infer_height(out).expect("columns of one height")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn password_file_fields_are_split_as_libpq_splits_them() {
        assert_eq!(
            pgpass_fields("h:5432:db:u:p\\:w\\\\"),
            ["h", "5432", "db", "u", "p:w\\"]
        );
        assert_eq!(
            pgpass_fields("*:*:*:*:geheim"),
            ["*", "*", "*", "*", "geheim"]
        );
    }

    #[test]
    fn names_are_quoted() {
        assert_eq!(
            PgSource::Table(vec!["export".into(), "klant\"en".into()]).relation(),
            "\"export\".\"klant\"\"en\""
        );
        assert_eq!(
            PgSource::Query("select 1".into()).relation(),
            "(\nselect 1\n) AS doel_source"
        );
    }
}
