//! The command line, built from the parameter table: one `--name` flag per
//! parameter (aliases too), `--name` alone meaning `yes` for switches.
//! Precedence: table defaults, then the `--config` file, then the flags.

use clap::{Arg, ArgAction, ArgMatches, Command};

use super::params::{Scope, PARAMS};
use super::{Config, LOCAL_CLUSTER_PORT};

/// Why the node cannot start with the arguments it was given.
#[derive(Debug)]
pub enum StartError {
    /// Help, version, or a malformed command line: clap prints and exits.
    Usage(clap::Error),
    /// A value, file or combination that is wrong.
    Invalid(String),
}

impl std::fmt::Display for StartError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            StartError::Usage(e) => write!(f, "{e}"),
            StartError::Invalid(e) => f.write_str(e),
        }
    }
}

fn command() -> Command {
    let mut command = Command::new("ringcache-server")
        .version(env!("CARGO_PKG_VERSION"))
        .about("A ringcache node: a Redis-protocol in-memory cache");
    for param in PARAMS {
        let mut arg = Arg::new(param.name)
            .long(param.name)
            .help(param.doc)
            .action(ArgAction::Set);
        for alias in param.aliases {
            arg = arg.visible_alias(*alias);
        }
        if param.kind.is_bool() {
            arg = arg.num_args(0..=1).default_missing_value("yes");
        }
        if param.scope != Scope::CommandLine && !param.default.is_empty() {
            arg = arg.long_help(format!("{} [default: {}]", param.doc, param.default));
        }
        command = command.arg(arg);
    }
    command
}

/// Builds the configuration from command-line arguments (the first one is
/// the program name).
///
/// # Errors
/// `--help`/`--version` and malformed flags as [`StartError::Usage`]; bad
/// values, an unreadable config file or an inconsistent combination as
/// [`StartError::Invalid`].
pub fn from_args<I, T>(args: I) -> Result<Config, StartError>
where
    I: IntoIterator<Item = T>,
    T: Into<std::ffi::OsString> + Clone,
{
    let matches = command()
        .try_get_matches_from(args)
        .map_err(StartError::Usage)?;
    let mut config = Config::default();
    if let Some(path) = matches.get_one::<String>("config") {
        let text = std::fs::read_to_string(path)
            .map_err(|e| StartError::Invalid(format!("cannot read config file {path}: {e}")))?;
        config.apply_file(&text).map_err(StartError::Invalid)?;
    }
    apply_flags(&mut config, &matches)?;
    config
        .read_cluster_secret_file()
        .map_err(StartError::Invalid)?;
    if config.local_cluster > 0 {
        config.cluster_enabled = true;
        if matches.get_one::<String>("port").is_none() {
            config.port = LOCAL_CLUSTER_PORT;
        }
    }
    config.validate().map_err(StartError::Invalid)?;
    Ok(config)
}

fn apply_flags(config: &mut Config, matches: &ArgMatches) -> Result<(), StartError> {
    for param in PARAMS {
        if let Some(value) = matches.get_one::<String>(param.name) {
            config
                .set_param(param, value)
                .map_err(|why| StartError::Invalid(format!("--{}: {why}", param.name)))?;
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_command_line_is_well_formed() {
        command().debug_assert();
    }
}
