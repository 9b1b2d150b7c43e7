//! The log of the long-running commands (`paychan node`, `paychan proxy`, `paychan ledger
//! serve`): human lines (the default) or one JSON object per line (`--log-format json`), on
//! stderr or appended to a file (`--log-file`), with levels per module from `RUST_LOG`, else
//! from a node's `[log]` section of `config.toml`, else the command's default
//! (`docs/OPERATIONS.md`).

use std::{
    collections::BTreeMap,
    fs::OpenOptions,
    io::IsTerminal,
    path::{Path, PathBuf},
    sync::Mutex,
};

use anyhow::{Context, Result, anyhow};
use serde::Deserialize;
use tracing_subscriber::{EnvFilter, fmt::writer::BoxMakeWriter};

/// How log lines look.
#[derive(clap::ValueEnum, Clone, Copy, Debug, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub(crate) enum LogFormat {
    /// One readable line per event.
    #[default]
    Human,
    /// One JSON object per line: `timestamp`, `level`, `target`, `message` and the event's
    /// fields.
    Json,
}

/// The log options of a long-running command.
#[derive(clap::Args, Debug, Clone, Default)]
pub(crate) struct LogArgs {
    /// human (readable lines) or json (one JSON object per line) [default: human, or
    /// `[log] format` of a node's config.toml].
    #[arg(long, value_enum, value_name = "FORMAT")]
    pub(crate) log_format: Option<LogFormat>,
    /// Append the log to FILE (created if missing) instead of writing it to stderr.
    #[arg(long, value_name = "FILE")]
    pub(crate) log_file: Option<PathBuf>,
}

/// `[log]` in a node's `config.toml`.
#[derive(Debug, Default, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub(crate) struct LogSection {
    /// The level of every module not listed in `modules` (`error`, `warn`, `info`, `debug`,
    /// `trace`).
    pub(crate) level: Option<String>,
    /// Levels per module (`paychan_node = "debug"`); `paychan::calls` is the proxy's line
    /// per call.
    pub(crate) modules: BTreeMap<String, String>,
    /// `human` or `json`.
    pub(crate) format: Option<LogFormat>,
    /// A file the log is appended to (relative to the data directory).
    pub(crate) file: Option<PathBuf>,
}

impl LogSection {
    /// The filter directives, or an error naming the bad entry.
    fn directives(&self, default: &str) -> Result<String> {
        let level = self.level.as_deref().unwrap_or(default);
        check_level("log.level", level)?;
        let mut directives = vec![level.to_owned()];
        for (module, level) in &self.modules {
            check_level(&format!("log.modules.{module}"), level)?;
            if module.is_empty()
                || !module
                    .chars()
                    .all(|c| c.is_alphanumeric() || "_:".contains(c))
            {
                return Err(anyhow!(
                    "log.modules: {module:?} is not a module path (as paychan_node or paychan::calls)"
                ));
            }
            directives.push(format!("{module}={level}"));
        }
        Ok(directives.join(","))
    }

    /// Checks the section (at `config.toml` load).
    pub(crate) fn check(&self) -> Result<()> {
        self.directives("info").map(drop)
    }
}

fn check_level(field: &str, level: &str) -> Result<()> {
    match level {
        "off" | "error" | "warn" | "info" | "debug" | "trace" => Ok(()),
        other => Err(anyhow!(
            "{field} = {other:?}: expected off, error, warn, info, debug or trace"
        )),
    }
}

/// Installs the log for a command whose default level is `default`, with `args` over
/// `section` (a node's `[log]`; its file is relative to `dir`). `RUST_LOG`, when set, is
/// the filter.
pub(crate) fn init(
    default: &str,
    args: &LogArgs,
    section: Option<&LogSection>,
    dir: Option<&Path>,
) -> Result<()> {
    let filter = match std::env::var("RUST_LOG") {
        Ok(env) if !env.trim().is_empty() => EnvFilter::try_new(&env)
            .map_err(|e| anyhow!("RUST_LOG = {env:?} is not a log filter: {e}"))?,
        _ => {
            let directives = match section {
                Some(section) => section.directives(default)?,
                None => default.to_owned(),
            };
            EnvFilter::try_new(&directives)
                .map_err(|e| anyhow!("the log levels {directives:?}: {e}"))?
        }
    };
    let format = args
        .log_format
        .or_else(|| section.and_then(|s| s.format))
        .unwrap_or_default();
    let file = match (&args.log_file, section.and_then(|s| s.file.as_ref())) {
        (Some(file), _) => Some(file.clone()),
        (None, Some(file)) => Some(match dir {
            Some(dir) => crate::config::in_dir(dir, file),
            None => file.clone(),
        }),
        (None, None) => None,
    };
    let (writer, ansi) = match &file {
        Some(path) => {
            let file = OpenOptions::new()
                .create(true)
                .append(true)
                .open(path)
                .with_context(|| format!("cannot open the log file {}", path.display()))?;
            (BoxMakeWriter::new(Mutex::new(file)), false)
        }
        None => (
            BoxMakeWriter::new(std::io::stderr),
            std::io::stderr().is_terminal(),
        ),
    };
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(writer);
    // Fails only if a subscriber is already installed, which then does the logging.
    let _ = match format {
        LogFormat::Human => builder.with_ansi(ansi).try_init(),
        LogFormat::Json => builder
            .json()
            .flatten_event(true)
            .with_current_span(false)
            .with_span_list(false)
            .try_init(),
    };
    Ok(())
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn module_levels_become_filter_directives() {
        let section: LogSection =
            toml::from_str("level = \"warn\"\n[modules]\npaychan_node = \"debug\"\n\"paychan::calls\" = \"info\"\n")
                .unwrap();
        assert_eq!(
            section.directives("info").unwrap(),
            "warn,paychan::calls=info,paychan_node=debug"
        );
        assert_eq!(LogSection::default().directives("info").unwrap(), "info");
    }

    #[test]
    fn a_bad_level_or_module_is_an_error_naming_it() {
        let bad: LogSection = toml::from_str("level = \"loud\"\n").unwrap();
        assert!(bad.check().unwrap_err().to_string().contains("log.level"));
        let bad: LogSection = toml::from_str("[modules]\npaychan_node = \"verbose\"\n").unwrap();
        assert!(
            bad.check()
                .unwrap_err()
                .to_string()
                .contains("log.modules.paychan_node")
        );
        let bad: LogSection = toml::from_str("[modules]\n\"a b\" = \"info\"\n").unwrap();
        assert!(bad.check().is_err());
    }
}
