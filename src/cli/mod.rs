//! The command line: argument definitions (with their help), dispatch, and the mapping
//! of every error to a message, a hint and a documented exit code.

mod keyfile;
mod report;

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use chrono::NaiveDate;
use clap::{Parser, Subcommand};

use crate::engine::{self, EngineError};
use crate::plan::{Plan, PlanError};
use crate::spec::{Format, Pipeline, SpecError};
use keyfile::KeyFileError;

const EXIT_CODES: &str = "\
Exit codes:
  0  success
  1  usage or pipeline error (bad arguments, pipeline file, key, a column not in the input)
  2  policy refused the run (a value without a canonical form where on_invalid = \"fail\")
  3  input or output error (file missing, unreadable, malformed; output not writable)
  4  internal error (a bug in doel: please report it)";

/// Turn a client export into an extract for one declared purpose: only the columns the
/// pipeline names, BSNs and names replaced by keyed pseudonyms, quasi-identifiers generalised.
#[derive(Debug, Parser)]
#[command(name = "doel", version, after_help = EXIT_CODES)]
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
    /// Make a new random key file (64 hex characters, mode 0600). Never overwrites.
    #[command(after_help = EXIT_CODES)]
    Keygen {
        /// Where to write the key.
        #[arg(long, value_name = "FILE")]
        out: PathBuf,
    },
}

#[derive(Debug, clap::Args)]
struct KeyArg {
    /// The key file (64 hex characters). Only its fingerprint is ever printed.
    #[arg(long, value_name = "FILE", env = "DOEL_KEY_FILE")]
    key_file: Option<PathBuf>,
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
    #[error(transparent)]
    Plan(#[from] PlanError),
    #[error(transparent)]
    Key(#[from] KeyFileError),
    #[error(transparent)]
    Engine(#[from] EngineError),
}

impl CliError {
    fn exit_code(&self) -> u8 {
        match self {
            Self::Spec(_) | Self::Plan(_) | Self::Key(_) => 1,
            Self::Engine(EngineError::InvalidValue { .. }) => 2,
            Self::Engine(EngineError::Input { .. } | EngineError::Output { .. }) => 3,
            Self::Engine(EngineError::Internal(_)) => 4,
        }
    }

    fn hint(&self) -> &'static str {
        match self {
            Self::Spec(e) => e.hint(),
            Self::Plan(e) => e.hint(),
            Self::Key(e) => e.hint(),
            Self::Engine(e) => e.hint(),
        }
    }
}

/// Run the command line; the process's exit code.
pub fn main() -> ExitCode {
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        Err(e) => {
            let usage_error = e.use_stderr();
            let _ = e.print();
            return ExitCode::from(if usage_error { 1 } else { 0 });
        }
    };
    match dispatch(cli.command) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e}");
            eprintln!("hint: {}", e.hint());
            ExitCode::from(e.exit_code())
        }
    }
}

fn dispatch(command: Command) -> Result<(), CliError> {
    match command {
        Command::Keygen { out } => {
            let key = keyfile::generate(&out)?;
            println!(
                "wrote a new key to {} (fingerprint {})",
                out.display(),
                key.fingerprint()
            );
            println!("keep it secret and backed up: without it pseudonyms cannot be reproduced");
            Ok(())
        }
        Command::Plan {
            pipeline,
            key_file,
            common,
        } => {
            // A named key must be usable, but a plan needs none.
            let fingerprint = key_file
                .map(|path| keyfile::load(Some(&path)))
                .transpose()?
                .map(|k| k.fingerprint());
            let (plan, _) = resolve(&pipeline, &common, None)?;
            println!("{plan}");
            if let Some(fp) = fingerprint {
                println!("key        fingerprint {fp}");
            }
            Ok(())
        }
        Command::Run {
            pipeline,
            key,
            common,
            output,
            threads,
            quiet,
        } => {
            if let Some(n) = threads {
                set_threads(n.get());
            }
            // The key is checked before any input is opened.
            let key = keyfile::load(key.key_file.as_deref())?;
            let (plan, input) = resolve(&pipeline, &common, output)?;
            let summary = engine::run(&plan, input, &key)?;
            if !quiet {
                report::print(&plan, &summary, &key.fingerprint());
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
        pipeline.input.path = input.clone();
    }
    if let Some(output) = output {
        // The override's extension names its format; without one the pipeline's stands.
        if let Some(format) = output
            .extension()
            .and_then(|e| e.to_str())
            .and_then(Format::from_extension)
        {
            pipeline.output.format = format;
        }
        pipeline.output.path = output;
    }
    let mut input = engine::open(&pipeline.input)?;
    let schema = input.schema()?;
    let reference_date = common.run_date.unwrap_or_else(today);
    Ok((Plan::resolve(pipeline, &schema, reference_date)?, input))
}

/// Today's date in UTC.
fn today() -> NaiveDate {
    let days = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs() / 86_400);
    NaiveDate::from_ymd_opt(1970, 1, 1).expect("valid date") + chrono::Days::new(days)
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
