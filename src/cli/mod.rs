//! The command line: argument definitions (with their help), dispatch, and the mapping
//! of every error to a message, a hint and a documented exit code.

mod check;
mod log;
mod progress;
mod report;
mod scan;
mod verify;

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use chrono::NaiveDate;
use clap::{Parser, Subcommand};

use crate::audit::record;
use crate::audit::signing::SigningSecret;
use crate::engine::{self, EngineError};
use crate::kernels::keys::MasterKey;
use crate::keyfile::{self, KeyFileError};
use crate::plan::{Plan, PlanError};
use crate::spec::{self, Catalogue, InputFormat, Pipeline, SpecError};

const EXIT_CODES: &str = "\
Exit codes:
  0  success
  1  usage or pipeline error (bad arguments, pipeline file, key, a column not in the input)
  2  policy refused the run (a rule of the policy broken, see `doel check`; a value
     without a canonical form where on_invalid = \"fail\"; or a pseudonym domain the
     register shows in use for another recipient)
  3  input or output error (file missing, unreadable, malformed; output not writable)
  4  internal error (a bug in doel: please report it)
  5  verification failed (a file, signature or register entry does not match its record)
130  interrupted (Ctrl-C, SIGTERM, SIGHUP, SIGUSR1, SIGUSR2, SIGALRM or SIGPIPE): the run
     stopped cleanly, nothing was written";

/// Turn a client export into an extract for one declared purpose: only the columns the
/// pipeline names, BSNs and names replaced by keyed pseudonyms, quasi-identifiers generalised.
/// `doel --version`: the version, the pseudonym specification its pseudonyms follow
/// (pseudonyms of one spec version stay the same across doel versions) and the build's
/// features.
fn version() -> &'static str {
    static VERSION: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    VERSION.get_or_init(|| {
        let features: Vec<&str> = [("engine", cfg!(feature = "engine"))]
            .into_iter()
            .filter_map(|(name, on)| on.then_some(name))
            .collect();
        format!(
            "{} (pseudonyms: {}, docs/spec/pseudonyms-v1.md; manifest: {}; features: {})",
            env!("CARGO_PKG_VERSION"),
            crate::kernels::keys::SPEC_VERSION,
            crate::audit::manifest::SCHEMA,
            features.join(", ")
        )
    })
}

#[derive(Debug, Parser)]
#[command(name = "doel", version = version(), after_help = EXIT_CODES)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Run a pipeline: read the input, write the extract, print what was done.
    #[command(after_help = EXIT_CODES)]
    Run {
        /// The pipeline file (TOML).
        pipeline: PathBuf,
        #[command(flatten)]
        key: KeyArg,
        #[command(flatten)]
        common: CommonArgs,
        /// Write the extract here instead of the pipeline's [output] path (its extension,
        /// if .parquet, .arrow or .csv, sets the format).
        #[arg(long, value_name = "PATH")]
        output: Option<PathBuf>,
        /// Worker threads (default: all cores). The output is identical for any count.
        #[arg(long, value_name = "N")]
        threads: Option<std::num::NonZeroUsize>,
        /// Print nothing but errors and warnings.
        #[arg(long, short)]
        quiet: bool,
        /// `json`: instead of the account, one JSON event per line on stdout (start, plan,
        /// counts, output, recorded, error, end), for a scheduled job. Errors still go to
        /// stderr.
        #[arg(long, value_enum, default_value = "text")]
        log_format: log::LogFormat,
        /// Sign the manifest and the register entry with this Ed25519 key (made by
        /// `doel keygen --signing`).
        #[arg(long, value_name = "FILE", env = "DOEL_SIGNING_KEY_FILE")]
        signing_key: Option<PathBuf>,
        #[command(flatten)]
        register: RegisterArg,
    },
    /// Check an extract against its manifest: the manifest's signature (with the
    /// controller's public key) and every output file's SHA-256. Needs no secret.
    #[command(after_help = EXIT_CODES)]
    Verify {
        /// The manifest (`OUTPUT.manifest.json`); its signature is `MANIFEST.sig`.
        manifest: PathBuf,
        /// The controller's public key (`FILE.pub` from `doel keygen --signing`).
        #[arg(long, value_name = "FILE", required_unless_present = "unsigned")]
        public_key: Option<PathBuf>,
        /// Check the files' hashes only, for an unsigned manifest (proves nothing about
        /// who made it).
        #[arg(long, conflicts_with = "public_key")]
        unsigned: bool,
        /// Also hold the manifest and its files against the register entry of its run
        /// (the chain checked too; with --public-key, the entry's signature).
        #[arg(long, value_name = "FILE")]
        register: Option<PathBuf>,
    },
    /// The processing register: list its entries, or verify its hash chain.
    #[command(after_help = EXIT_CODES)]
    Register {
        #[command(subcommand)]
        action: RegisterAction,
    },
    /// Turn reversible tokens back into their canonical values (controller only, with the
    /// key). Every use is appended to the register with its reason, before any value is
    /// printed.
    #[command(after_help = EXIT_CODES)]
    Reidentify {
        /// The pseudonym domain the tokens were made in (the pipeline's pseudonym_domain).
        #[arg(long)]
        domain: String,
        /// Why, for the register (e.g. "signal of a child at risk, case 2026-114").
        #[arg(long)]
        reason: Option<String>,
        #[command(flatten)]
        key: KeyArg,
        #[command(flatten)]
        register: RegisterArg,
        /// Sign the register entry with this Ed25519 key (made by `doel keygen --signing`).
        #[arg(long, value_name = "FILE", env = "DOEL_SIGNING_KEY_FILE")]
        signing_key: Option<PathBuf>,
        /// The tokens (`t1.…`).
        #[arg(required = true)]
        tokens: Vec<String>,
    },
    /// Print the resolved plan (every input column's fate) from the input's schema alone:
    /// no row is read.
    #[command(after_help = EXIT_CODES)]
    Plan {
        /// The pipeline file (TOML).
        pipeline: PathBuf,
        /// A key file, to show its fingerprint in the plan (optional).
        #[arg(long, value_name = "FILE", env = "DOEL_KEY_FILE")]
        key_file: Option<PathBuf>,
        #[command(flatten)]
        common: CommonArgs,
    },
    /// Check pipelines without data: each is judged by the policy against its catalogue
    /// and resolved against the columns the catalogue describes. Catalogues found among
    /// the files are validated too. Exit code: the worst failure's (0 when all pass).
    #[command(after_help = EXIT_CODES)]
    Check {
        /// Pipeline or catalogue files, or directories of them (their .toml files).
        #[arg(default_value = "pipelines")]
        paths: Vec<PathBuf>,
    },
    /// Describe an unknown export column by column (type, nulls, distinct values, how many
    /// values look like a BSN, IBAN, e-mail address, phone number, postcode, date of birth
    /// or name) and suggest catalogue entries. Prints counts and shares, never a value.
    #[command(after_help = EXIT_CODES)]
    Scan {
        /// The export: a file, or a directory of files of one format.
        input: PathBuf,
        /// parquet, ipc, csv or workbook (default: from the extension).
        #[arg(long, value_parser = scan::parse_format)]
        format: Option<InputFormat>,
        /// The CSV field separator, one ASCII character (default ",").
        #[arg(long, value_parser = scan::parse_delimiter)]
        delimiter: Option<u8>,
        /// A workbook's sheet (default: the first).
        #[arg(long)]
        sheet: Option<String>,
        /// A workbook's row of column names, from 1 (default 1).
        #[arg(long, value_name = "ROW", value_parser = clap::value_parser!(u32).range(1..=1_048_576))]
        header_row: Option<u32>,
        /// Scan only the first N rows (default: all).
        #[arg(long, value_name = "N")]
        limit: Option<u64>,
    },
    /// Make a new random key file (64 hex characters, mode 0600). Never overwrites.
    #[command(after_help = EXIT_CODES)]
    Keygen {
        /// Where to write the key.
        #[arg(long, value_name = "FILE")]
        out: PathBuf,
        /// Make an Ed25519 signing key instead: FILE (secret, mode 0600) and FILE.pub
        /// (the public key, to hand to recipients).
        #[arg(long)]
        signing: bool,
    },
    /// Print the completion script for a shell, from these command definitions. Install
    /// for bash: `doel completions bash > ~/.local/share/bash-completion/completions/doel`.
    Completions {
        /// bash, zsh, fish, powershell or elvish.
        shell: clap_complete::Shell,
    },
    /// Print the manual page (roff), from these command definitions:
    /// `doel man > ~/.local/share/man/man1/doel.1`, then `man doel`.
    Man,
    /// Print the JSON Schema of a pipeline or catalogue file, made from the definitions
    /// doel reads them with (the same as docs/schema/*.schema.json). For taplo / Even
    /// Better TOML, put `#:schema ./pipeline.schema.json` as a file's first line.
    Schema {
        /// pipeline or catalogue.
        file: SchemaFile,
    },
}

/// The files `doel schema` describes.
#[derive(Debug, Clone, Copy, clap::ValueEnum)]
enum SchemaFile {
    Pipeline,
    Catalogue,
}

#[derive(Debug, Subcommand)]
enum RegisterAction {
    /// A table of the entries, for the privacy officer.
    List {
        #[command(flatten)]
        register: RegisterArg,
    },
    /// Check the hash chain: any edited, removed or reordered entry is named.
    Verify {
        #[command(flatten)]
        register: RegisterArg,
        /// The SHA-256 of an entry noted earlier (a run prints its entry's): it must
        /// still be in the chain, which detects entries removed from the end.
        #[arg(long, value_name = "SHA256")]
        head: Option<String>,
        /// Also check every entry's signature under this public key (`FILE.pub` from
        /// `doel keygen --signing`): each entry from the first signed one on must be
        /// signed by it.
        #[arg(long, value_name = "FILE")]
        public_key: Option<PathBuf>,
    },
}

#[derive(Debug, clap::Args)]
struct RegisterArg {
    /// The processing register (JSON Lines; default: doel-register.jsonl in the current
    /// directory).
    #[arg(
        long = "register",
        value_name = "FILE",
        env = "DOEL_REGISTER",
        default_value = "doel-register.jsonl"
    )]
    path: PathBuf,
}

#[derive(Debug, clap::Args)]
struct KeyArg {
    /// The key file (64 hex characters). Only its fingerprint is ever printed.
    #[arg(long, value_name = "FILE", env = "DOEL_KEY_FILE")]
    key_file: Option<PathBuf>,
    /// Refuse a key file that other users may read (else: a warning).
    #[arg(long)]
    strict_key_permissions: bool,
}

#[derive(Debug, clap::Args)]
struct CommonArgs {
    /// The day ages are computed on (YYYY-MM-DD; default: today, UTC). Pass it for
    /// reproducible runs.
    #[arg(long, value_name = "YYYY-MM-DD")]
    run_date: Option<NaiveDate>,
    /// Read this file or directory instead of the pipeline's [input] path.
    #[arg(long, value_name = "PATH")]
    input: Option<PathBuf>,
}

/// Every way a command can fail.
#[derive(Debug, thiserror::Error)]
enum CliError {
    #[error(transparent)]
    Spec(#[from] SpecError),
    /// The pipeline does not fit the input (or, for `doel check`, the catalogue).
    #[error("pipeline {}, {against}: {source}", pipeline.display())]
    Plan {
        pipeline: PathBuf,
        against: String,
        source: Box<PlanError>,
    },
    /// `doel check` found files that fail; the report says which and why.
    #[error("{failed} of {checked} files failed the check")]
    Check {
        failed: usize,
        checked: usize,
        exit_code: u8,
    },
    /// The output would replace the key, the pipeline, the catalogue, an exclusion list
    /// or the register.
    #[error("output {}: is the {what}; doel never writes over it", path.display())]
    Protected { path: PathBuf, what: &'static str },
    #[error(transparent)]
    Key(#[from] KeyFileError),
    #[error(transparent)]
    Engine(#[from] EngineError),
    #[error(transparent)]
    Audit(#[from] crate::audit::AuditError),
    /// `verify` or `register verify` found a mismatch; the report above says where.
    #[error("{0}")]
    Verification(String),
    /// `reidentify` without a reason.
    #[error("reidentify needs --reason: every re-identification is registered with why")]
    NoReason,
    /// A command-line argument (its position) holds a character that must not reach a
    /// terminal: paths, reasons and domains are shown in reports, errors and listings.
    #[error(
        "argument {0} holds a control character, a line break or a character that reorders text"
    )]
    Unprintable(usize),
    /// An environment variable that stands for an argument holds one.
    #[error(
        "the environment variable {0} holds a control character, a line break or a character that reorders text"
    )]
    UnprintableVariable(&'static str),
    /// Some tokens could not be opened.
    #[error("{failed} of {total} tokens cannot be opened with this key in domain {domain}")]
    Tokens {
        failed: usize,
        total: usize,
        domain: String,
    },
}

impl CliError {
    fn exit_code(&self) -> u8 {
        match self {
            Self::Key(KeyFileError::Write { .. } | KeyFileError::NoRandomness) => 3,
            Self::Plan { source, .. } if matches!(**source, PlanError::Policy { .. }) => 2,
            Self::Check { exit_code, .. } => *exit_code,
            Self::Spec(_)
            | Self::Plan { .. }
            | Self::Key(_)
            | Self::Protected { .. }
            | Self::Engine(EngineError::Pipeline { .. }) => 1,
            Self::Engine(
                EngineError::InvalidValue(_)
                | EngineError::Disclosure(_)
                | EngineError::List { .. },
            ) => 2,
            Self::Engine(
                EngineError::Input { .. }
                | EngineError::Output { .. }
                | EngineError::Database { .. },
            ) => 3,
            Self::Engine(EngineError::Internal(_)) => 4,
            Self::Engine(EngineError::Interrupted) => 130,
            Self::Audit(crate::audit::AuditError::File { .. }) => 3,
            Self::Audit(crate::audit::AuditError::Malformed { .. }) => 5,
            Self::Audit(crate::audit::AuditError::Refused { .. }) => 2,
            Self::Verification(_) => 5,
            Self::NoReason
            | Self::Unprintable(_)
            | Self::UnprintableVariable(_)
            | Self::Tokens { .. } => 1,
        }
    }

    fn hint(&self) -> &'static str {
        match self {
            Self::Spec(e) => e.hint(),
            Self::Plan { source, .. } => source.hint(),
            Self::Check { .. } => "each FAIL line above names the file, the rule and the column",
            Self::Protected { .. } => "choose another --output or [output] path",
            Self::Key(e) => e.hint(),
            Self::Engine(e) => e.hint(),
            Self::Audit(e) => e.hint(),
            Self::Verification(_) => {
                "do not use the files: ask the sender for a fresh copy, and check who could change them"
            }
            Self::NoReason => "add --reason \"…\": the case or signal that requires it",
            Self::Unprintable(_) | Self::UnprintableVariable(_) => {
                "write it on one line, in plain characters (rename a file whose name holds one)"
            }
            Self::Tokens { .. } => {
                "check the domain (the pipeline's pseudonym_domain) and the key; a token cut or altered in transit cannot be opened"
            }
        }
    }
}

/// Run the command line; the process's exit code.
pub fn main() -> ExitCode {
    // A panic's message may quote anything, data included: say only that it happened.
    std::panic::set_hook(Box::new(|_| {}));
    // SAFETY: no other thread exists yet. These would make polars panic on, or add
    // backtraces to, its errors: both bypass doel's filtering of error text.
    unsafe {
        std::env::remove_var("POLARS_PANIC_ON_ERR");
        std::env::remove_var("POLARS_BACKTRACE_IN_ERR");
    }
    // A file size limit (`ulimit -f`) would kill the process mid-write with SIGXFSZ (exit
    // 153, leaving a cut-off register line or a temporary file). Ignored, the write
    // fails with "file too large", and the run cleans up and exits 3.
    // SAFETY: setting a signal's disposition to SIG_IGN, before any other thread exists.
    unsafe {
        libc::signal(libc::SIGXFSZ, libc::SIG_IGN);
    }
    engine::fault::install();
    // Arguments are paths, reasons and domains that reports, errors and the register
    // show: one with a control character or a line break could forge their lines.
    if let Some(n) = std::env::args_os().position(|a| crate::text::has_unsafe(&a.to_string_lossy()))
    {
        let e = CliError::Unprintable(n);
        eprintln!("error: {e}");
        eprintln!("hint: {}", e.hint());
        return ExitCode::from(e.exit_code());
    }
    let variables = ["DOEL_KEY_FILE", "DOEL_SIGNING_KEY_FILE", "DOEL_REGISTER"];
    if let Some(name) = variables.into_iter().find(|name| {
        std::env::var_os(name).is_some_and(|v| crate::text::has_unsafe(&v.to_string_lossy()))
    }) {
        let e = CliError::UnprintableVariable(name);
        eprintln!("error: {e}");
        eprintln!("hint: {}", e.hint());
        return ExitCode::from(e.exit_code());
    }
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        Err(e) => {
            let usage_error = e.use_stderr();
            let _ = e.print();
            return ExitCode::from(if usage_error { 1 } else { 0 });
        }
    };
    // Ctrl-C, SIGTERM, a dropped terminal (SIGHUP), SIGUSR1/2 and SIGALRM stop a run
    // between batches, so that its temporary files are removed; a second one ends the
    // process at once. SIGPIPE (a reader of stdout or stderr gone) stops it too, but
    // never at once: each later write would raise it again. Registration fails only on
    // an exotic platform, where the signals keep their default effect.
    // Every other command has nothing to clean up (its writes are atomic or appends
    // under a lock) and never looks at the flag: the first signal ends it, with 130.
    use signal_hook::consts::{SIGALRM, SIGHUP, SIGINT, SIGPIPE, SIGTERM, SIGUSR1, SIGUSR2};
    let stops_between_batches = matches!(cli.command, Command::Run { .. });
    for signal in [SIGINT, SIGTERM, SIGHUP, SIGUSR1, SIGUSR2, SIGALRM, SIGPIPE] {
        let flag = if stops_between_batches {
            engine::interruption()
        } else {
            std::sync::Arc::new(std::sync::atomic::AtomicBool::new(true))
        };
        if signal != SIGPIPE {
            let _ = signal_hook::flag::register_conditional_shutdown(signal, 130, flag.clone());
        }
        let _ = signal_hook::flag::register(signal, flag);
    }
    let started = std::time::Instant::now();
    match std::panic::catch_unwind(|| dispatch(cli.command)) {
        Ok(Ok(())) => {
            log::end(started, 0);
            ExitCode::SUCCESS
        }
        Ok(Err(e)) => {
            eprintln!("error: {}", crate::text::shown(&e.to_string()));
            eprintln!("hint: {}", e.hint());
            log::error(&e.to_string(), e.hint(), e.exit_code());
            log::end(started, e.exit_code());
            ExitCode::from(e.exit_code())
        }
        // A write to a closed stdout or stderr panics in `println!`: after a signal,
        // that is the interruption, not a bug.
        Err(_) if engine::interrupted() => {
            log::end(started, 130);
            let _ = std::io::Write::write_all(
                &mut std::io::stderr(),
                b"error: interrupted: the run stopped before completing; nothing was written\n",
            );
            ExitCode::from(130)
        }
        Err(_) => {
            log::error(
                "internal error: doel stopped unexpectedly",
                "please report it",
                4,
            );
            log::end(started, 4);
            eprintln!("error: internal error: doel stopped unexpectedly; no output was written");
            eprintln!(
                "hint: this is likely a bug in doel; please report it with the command you ran (not the data)"
            );
            ExitCode::from(4)
        }
    }
}

/// Text doel generated itself from its own definitions (completions, the manual page,
/// the schemas), written to stdout as it is: nothing in it comes from a file or the data.
/// It is usually redirected into a file, so a write that fails (a full disk) is an output
/// error; a reader that went away (`doel man | head`) is not.
fn write_raw(bytes: &[u8]) -> Result<(), CliError> {
    use std::io::Write;
    let mut out = std::io::stdout().lock();
    match out.write_all(bytes).and_then(|()| out.flush()) {
        Err(e) if e.kind() != std::io::ErrorKind::BrokenPipe => {
            Err(CliError::Engine(EngineError::Output {
                path: PathBuf::from("standard output"),
                problem: format!("could not be written ({})", e.kind()),
            }))
        }
        _ => Ok(()),
    }
}

/// Print to stdout; a reader that went away (`doel plan … | head`) is not an error.
fn print_out(text: &str) {
    use std::io::Write;
    let text = crate::text::shown(text);
    let _ = std::io::stdout().lock().write_all(text.as_bytes());
}

/// The pseudonym key and the signing key a command was given, each file's warning shown;
/// refused where the two are one key (or the pseudonym key is the signing key's public
/// half).
fn keys(
    key_path: Option<&Path>,
    signing_path: Option<&Path>,
    strict: bool,
) -> Result<(MasterKey, Option<SigningSecret>), CliError> {
    let master = shown(keyfile::load(key_path, strict)?);
    let signing = signing_path
        .map(|p| keyfile::load_signing(p, strict).map(shown))
        .transpose()?;
    if let (Some(signing), Some(path)) = (&signing, key_path) {
        keyfile::distinct(&master, path, signing)?;
    }
    Ok((master, signing))
}

/// The key read, its file's warning shown.
fn shown<K>(loaded: keyfile::Loaded<K>) -> K {
    if let Some(warning) = &loaded.warning {
        log::warning(&warning.to_string());
    }
    loaded.key
}

fn dispatch(command: Command) -> Result<(), CliError> {
    match command {
        Command::Completions { shell } => {
            let mut out = Vec::new();
            clap_complete::generate(
                shell,
                &mut <Cli as clap::CommandFactory>::command(),
                "doel",
                &mut out,
            );
            write_raw(&out)
        }
        Command::Schema { file } => {
            let schema = match file {
                SchemaFile::Pipeline => crate::spec::schema::pipeline(),
                SchemaFile::Catalogue => crate::spec::schema::catalogue(),
            };
            write_raw(crate::spec::schema::to_text(schema).as_bytes())
        }
        Command::Man => {
            let mut out = Vec::new();
            clap_mangen::Man::new(<Cli as clap::CommandFactory>::command())
                .render(&mut out)
                .map_err(|e| {
                    CliError::Engine(EngineError::Internal(format!(
                        "writing the manual page: {}",
                        e.kind()
                    )))
                })?;
            write_raw(&out)
        }
        Command::Keygen { out, signing: true } => {
            let public = keyfile::generate_signing(&out)?;
            print_out(&format!(
                "wrote a new signing key to {} and its public key to {}\n\
                 keep the signing key secret; hand the public key to recipients, to check manifests with `doel verify`\n",
                out.display(),
                public.display()
            ));
            Ok(())
        }
        Command::Verify {
            manifest,
            public_key,
            unsigned: _,
            register,
        } => verify::manifest(&manifest, public_key.as_deref(), register.as_deref()),
        Command::Register { action } => match action {
            RegisterAction::List { register } => verify::register_list(&register.path),
            RegisterAction::Verify {
                register,
                head,
                public_key,
            } => verify::register_chain(&register.path, head.as_deref(), public_key.as_deref()),
        },
        Command::Reidentify {
            domain,
            reason,
            key,
            register,
            signing_key,
            tokens,
        } => {
            let reason = reason
                .filter(|r| !r.trim().is_empty())
                .ok_or(CliError::NoReason)?;
            let (master, signing) = keys(
                key.key_file.as_deref(),
                signing_key.as_deref(),
                key.strict_key_permissions,
            )?;
            verify::reidentify(
                &master,
                signing.as_ref(),
                &domain,
                &reason,
                &register.path,
                &tokens,
            )
        }
        Command::Keygen {
            out,
            signing: false,
        } => {
            let key = keyfile::generate(&out)?;
            print_out(&format!(
                "wrote a new key to {} (fingerprint {})\n\
                 keep it secret and backed up: without it pseudonyms cannot be reproduced\n",
                out.display(),
                key.fingerprint()
            ));
            Ok(())
        }
        Command::Check { paths } => {
            let outcome = check::check(&paths, today())?;
            print_out(&outcome.report);
            if outcome.failed > 0 {
                return Err(CliError::Check {
                    failed: outcome.failed,
                    checked: outcome.checked,
                    exit_code: outcome.exit_code,
                });
            }
            let files = if outcome.checked == 1 {
                "file"
            } else {
                "files"
            };
            print_out(&format!("checked {} {files}: all pass\n", outcome.checked));
            Ok(())
        }
        Command::Scan {
            input,
            format,
            delimiter,
            sheet,
            header_row,
            limit,
        } => scan::scan(
            spec::Input {
                format,
                delimiter: delimiter.unwrap_or(b','),
                sheet,
                header_row,
                ..spec::Input::at(input)
            },
            limit,
        ),
        Command::Plan {
            pipeline,
            key_file,
            common,
        } => {
            // A named key must be usable, but a plan needs none.
            let fingerprint = key_file
                .map(|path| keyfile::load(Some(&path), false).map(shown))
                .transpose()?
                .map(|k| k.fingerprint());
            let (plan, _) = resolve(&pipeline, &common, None)?;
            let key_line = fingerprint
                .map(|fp| format!("key        fingerprint {fp}\n"))
                .unwrap_or_default();
            print_out(&format!("{plan}\n{key_line}"));
            Ok(())
        }
        Command::Run {
            pipeline,
            key,
            common,
            output,
            threads,
            quiet,
            log_format,
            signing_key,
            register,
        } => {
            let started = crate::audit::now_utc();
            if log_format == log::LogFormat::Json {
                log::enable();
                log::start(&pipeline);
            }
            if let Some(n) = threads {
                set_threads(n.get());
            }
            bound_prefetch(threads);
            // The key is checked before any input is opened.
            let key_path = key.key_file;
            let (key, signing) = keys(
                key_path.as_deref(),
                signing_key.as_deref(),
                key.strict_key_permissions,
            )?;
            let (plan, input) = resolve(&pipeline, &common, output)?;
            let target = &plan.pipeline.output.path;
            let lists = plan.exclusion_lists.iter().map(|l| l.path.as_path());
            for (protected, what) in [
                (key_path.as_deref(), "key file"),
                (signing_key.as_deref(), "signing key file"),
                (Some(pipeline.as_path()), "pipeline file"),
                (Some(register.path.as_path()), "register"),
                (Some(plan.catalogue.path.as_path()), "catalogue"),
            ]
            .into_iter()
            .chain(lists.map(|l| (Some(l), "exclusion list")))
            {
                if protected.is_some_and(|p| engine::same_file(p, target)) {
                    return Err(CliError::Protected {
                        path: target.clone(),
                        what,
                    });
                }
            }
            // A register that cannot take the entry fails the run before the extract
            // replaces a previous one, not after; so does a pseudonym domain the register
            // shows in use for another recipient.
            crate::audit::register::check_appendable(&register.path)?;
            let entries = crate::audit::register::read_intact(&register.path)?;
            crate::audit::domain::check(
                &register.path,
                &entries,
                crate::audit::domain::DomainUse::of(&plan.pipeline.declaration),
            )?;
            if let Some(path) = key_path.as_deref() {
                let signers = entries
                    .iter()
                    .filter_map(|e| e.fields.get("signer").and_then(|s| s.as_str()));
                keyfile::not_a_signer(&key, path, signers)?;
            }
            if signing.is_none() {
                verify::warn_unsigned(&register.path, &entries);
            }
            log::plan(&plan);
            let bar = (!quiet && log_format == log::LogFormat::Text)
                .then(progress::Bar::on_terminal)
                .flatten();
            // The previous run's files at this path, put back if recording this run
            // fails after its extract replaced the previous one; dropped (removed) on
            // an engine error, which replaces nothing.
            let backups = crate::audit::Backups::of(&record::targets(target));
            let summary = engine::run(&plan, input, &key, bar.as_ref().map(progress::Bar::report));
            drop(bar);
            let summary = summary?;
            for list in summary.lists.iter().filter(|l| !l.invalid_lines.is_empty()) {
                log::warning(&report::invalid_list_lines(list));
            }
            let recorded = record::record(
                &plan,
                &summary,
                record::Context {
                    run_id: record::run_id(),
                    started,
                    key_fingerprint: key.fingerprint(),
                    signing: signing.as_ref(),
                    register: register.path.clone(),
                },
                backups,
            )?;
            log::finished(&plan, &summary, &key.fingerprint(), &recorded);
            if !quiet && !log::enabled() {
                let fingerprint = key.fingerprint();
                print_out(
                    &report::Report {
                        plan: &plan,
                        summary: &summary,
                        fingerprint: &fingerprint,
                        recorded: &recorded,
                    }
                    .to_string(),
                );
            }
            Ok(())
        }
    }
}

/// Load the pipeline, apply overrides, read the input's schema and resolve the plan.
fn resolve(
    path: &Path,
    common: &CommonArgs,
    output: Option<PathBuf>,
) -> Result<(Plan, engine::Input), CliError> {
    let mut pipeline = Pipeline::load(path)?;
    if let Some(input) = &common.input {
        // A file in place of the pipeline's source, database or files.
        pipeline.input.path = input.clone();
        pipeline.input.postgres = None;
    }
    if let Some(output) = output {
        // doel never writes a workbook: a spreadsheet program evaluates what it opens.
        if output
            .extension()
            .and_then(|e| e.to_str())
            .and_then(spec::InputFormat::from_extension)
            == Some(InputFormat::Workbook)
        {
            return Err(CliError::Engine(EngineError::Output {
                path: output,
                problem: "doel writes .parquet, .arrow or .csv extracts, never workbooks: name it .csv to open it in a spreadsheet (docs/outputs.md)".into(),
            }));
        }
        // The override's extension names its format; without one the pipeline's stands.
        if let Some(format) = output
            .extension()
            .and_then(|e| e.to_str())
            .and_then(spec::Format::from_extension)
        {
            pipeline.output.format = format;
        }
        pipeline.output.path = output;
    }
    let mut input = engine::open(&pipeline.input)?;
    let schema = input.schema()?;
    let reference_date = common.run_date.unwrap_or_else(today);
    let (pipeline_path, input_path) = (pipeline.path.clone(), pipeline.input.path.clone());
    let catalogue = Catalogue::load(Path::new(&pipeline.declaration.catalogue))?;
    let plan = Plan::resolve(pipeline, catalogue, &schema, reference_date).map_err(|source| {
        CliError::Plan {
            pipeline: pipeline_path,
            against: format!("input {}", input_path.display()),
            source: Box::new(source),
        }
    })?;
    Ok((plan, input))
}

/// Today's date in UTC.
fn today() -> NaiveDate {
    let days = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs() / 86_400);
    NaiveDate::from_ymd_opt(1970, 1, 1).expect("valid date") + chrono::Days::new(days)
}

/// Bound how many Parquet row groups polars fetches ahead to one per thread (at least
/// two), unless the user set it. polars' default is at least 16 whatever the cores, and
/// the row groups in flight held decoded data: on 2 cores the peak of a long run rose with
/// it (research job, 10M rows, 4 alternating runs: 449-469 MiB at 16, 411-439 MiB at 2,
/// the same wall time and output bytes). From 16 threads on, polars' default (at least twice
/// the threads) is left as it is: not measured here.
fn bound_prefetch(threads: Option<std::num::NonZeroUsize>) {
    const VAR: &str = "POLARS_ROW_GROUP_PREFETCH_SIZE";
    let n = threads
        .or_else(|| std::thread::available_parallelism().ok())
        .map_or(1, std::num::NonZeroUsize::get)
        .max(2);
    if n >= 16 || std::env::var_os(VAR).is_some() {
        return;
    }
    // SAFETY: as in `set_threads`: no other thread exists yet; polars reads the variable
    // when a scan starts.
    unsafe { std::env::set_var(VAR, n.to_string()) };
}

/// Size both thread pools: rayon's global pool (the kernels) and polars' own.
fn set_threads(n: usize) {
    // SAFETY: called before any other thread exists; polars reads the variable once,
    // when its pool is first used.
    unsafe { std::env::set_var("POLARS_MAX_THREADS", n.to_string()) };
    // Fails only if the pool was already built, which cannot have happened yet.
    let _ = rayon::ThreadPoolBuilder::new()
        .num_threads(n)
        .build_global();
}
