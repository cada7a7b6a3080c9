//! `netpol`: the command line of the NetworkPolicy conformance harness.

mod commands;

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};

use netpol::cluster::Protocol;
use netpol::report::terminal::Verbosity;

use commands::Failure;

/// Exit statuses, the contract with CI scripts (README, "Exit status").
mod exit {
    /// Every scenario passed (or was declared unsupported).
    pub const OK: u8 = 0;
    /// Some scenario failed, errored or was invalid.
    pub const FAILED: u8 = 1;
    /// A usage error: a bad flag or value, a missing path, missing privileges.
    pub const USAGE: u8 = 2;
    /// The run could not be carried out: the enforcer failed its `version`
    /// call, the report could not be written.
    pub const ERROR: u8 = 3;
}

#[derive(Debug, Parser)]
#[command(
    name = "netpol",
    version,
    about = "Prove that a NetworkPolicy implementation does what the Kubernetes specification says, packet by packet.",
    after_help = "Exit status: 0 every scenario passed; 1 some scenario failed, errored or was invalid; 2 usage error (bad flag, missing path, missing privileges); 3 the run could not be carried out (the enforcer failed `version`, the report could not be written); 130/143 stopped by SIGINT/SIGTERM, after every lab was torn down."
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
    /// Say less: failures and the summary only.
    #[arg(short, long, global = true, conflicts_with = "verbose")]
    quiet: bool,
    /// Say more: timings, why scenarios were not run, and on stderr every
    /// plugin call (lab, command, time taken, how it ended).
    #[arg(short, long, global = true)]
    verbose: bool,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Validate scenario files: the format, the cluster, and every NetworkPolicy as the API server would.
    ///
    /// A scenario with `expectInvalid` passes if and only if it is rejected with an
    /// error naming that field path.
    ///
    /// Example: netpol check scenarios/
    #[command(verbatim_doc_comment)]
    Check {
        /// Scenario files, or directories searched recursively for *.yaml and *.yml.
        #[arg(required = true, value_name = "PATH")]
        paths: Vec<PathBuf>,
    },

    /// Check every scenario's expectations, every round and step, against the model of the spec.
    ///
    /// No root and no lab: this checks the scenarios themselves. A failing scenario
    /// prints the truth table of each failing port/protocol (rows sources, columns
    /// destinations) and the model's explanation of each mismatching probe.
    ///
    /// Example: netpol simulate scenarios/ --report reports/simulate
    #[command(verbatim_doc_comment)]
    Simulate {
        /// Scenario files, or directories searched recursively for *.yaml and *.yml.
        #[arg(required = true, value_name = "PATH")]
        paths: Vec<PathBuf>,
        /// Write the reports into DIR: report.json, junit.xml, report.md and report.html
        /// (docs/report-format.md).
        #[arg(long, value_name = "DIR")]
        report: Option<PathBuf>,
        /// A round without a hand-written `expect` is an error, instead of being
        /// judged against the model.
        #[arg(long)]
        require_expect: bool,
        /// Run every scenario that names no IP address (no ipBlock, no pinned
        /// address, no external host) in these IP families instead of its own:
        /// IPv4, IPv6, or both (IPv4,IPv6: dual-stack; the first is the primary).
        /// Scenarios that name addresses are reported not applicable.
        #[arg(long, value_name = "FAMILIES", value_parser = parse_families)]
        ip_families: Option<Families>,
    },

    /// Run scenarios for real: build each one's cluster as network namespaces, let the
    /// enforcer program it, send TCP, UDP and SCTP probes, and check every verdict.
    ///
    /// Needs root, or for an ordinary user a user namespace, which the run enters by itself
    /// (`-v` says so; README, "Without root"). Each scenario gets a lab of its own, torn down
    /// when it ends (also on error, panic or Ctrl-C). Scenarios without `expect` are checked
    /// against the model.
    ///
    /// Examples: netpol run scenarios/ --report reports/latest
    ///           netpol run scenarios/ --enforcer ./my-plugin --profile my-profile.yaml
    ///           netpol run scenarios/default-policies/ --enforcer none --timings
    #[command(verbatim_doc_comment)]
    Run(RunArgs),

    /// The bundled reference enforcer, speaking the plugin protocol: what
    /// `--enforcer reference` runs (docs/plugin-protocol.md).
    ///
    /// Example: netpol reference-enforcer version
    ///          netpol reference-enforcer --iptables legacy --deny drop sync < state.json
    #[command(verbatim_doc_comment, disable_help_flag = true)]
    ReferenceEnforcer {
        /// [--iptables auto|nft|legacy] [--deny reject|drop] version|sync|cleanup
        #[arg(
            trailing_var_arg = true,
            allow_hyphen_values = true,
            value_name = "ARGS"
        )]
        args: Vec<String>,
    },

    /// Print the model's verdict for one probe of a scenario, and why.
    ///
    /// Example: netpol explain scenarios/default-policies/default-deny-ingress.yaml \
    ///              --from x/b --to x/a --port 80 --protocol TCP
    #[command(verbatim_doc_comment)]
    Explain {
        /// The scenario file.
        file: PathBuf,
        /// Source: a pod (x/a), an external (ext:NAME) or a node (node:NAME).
        #[arg(long, value_name = "PEER")]
        from: String,
        /// Destination, written like --from.
        #[arg(long, value_name = "PEER")]
        to: String,
        /// The destination port of the probe (1 to 65535).
        #[arg(long)]
        port: u16,
        /// TCP, UDP or SCTP.
        #[arg(long, default_value = "TCP", value_parser = parse_protocol)]
        protocol: Protocol,
        /// The round after this step (default: the initial round, before any step).
        #[arg(long, value_name = "NAME")]
        step: Option<String>,
        /// IPv4 or IPv6: the family the probe is sent over (default: the
        /// cluster's primary family).
        #[arg(long, value_parser = parse_family)]
        family: Option<netpol::cluster::IpFamily>,
    },

    /// Search for bugs: generated scenarios against an enforcer, the model as the oracle.
    ///
    /// A case where the enforcer and the model disagree is run again (a
    /// disagreement that does not come back is reported flaky), shrunk in the
    /// lab while the disagreement persists, and written to --out as a scenario
    /// whose expectations are the model's (check them against the spec before
    /// adding it to a suite). Replay a case with --seed N --case K.
    ///
    /// Example: netpol fuzz --enforcer ./my-plugin --time 120
    #[command(verbatim_doc_comment)]
    Fuzz(FuzzArgs),

    /// Measure the model's speed: verdicts per second on one core, on a synthetic cluster.
    ///
    /// Example: netpol bench --pods 100 --policies 50
    #[command(verbatim_doc_comment)]
    Bench {
        /// Pods of the synthetic cluster (1 to 900).
        #[arg(long, default_value_t = 100, value_parser = clap::value_parser!(u16).range(1..=900))]
        pods: u16,
        /// NetworkPolicies of the synthetic cluster.
        #[arg(long, default_value_t = 50)]
        policies: usize,
        /// How long to measure.
        #[arg(long, default_value_t = 3.0)]
        seconds: f64,
    },
}

#[derive(Debug, clap::Args)]
pub(crate) struct FuzzArgs {
    /// Who programs the lab: `reference`, or the path of a plugin executable.
    #[arg(long, default_value = "reference", value_name = "ENFORCER")]
    enforcer: String,
    /// An argument for the enforcer, put before its command on every call (repeatable).
    #[arg(long = "enforcer-arg", value_name = "ARG", allow_hyphen_values = true)]
    enforcer_args: Vec<String>,
    /// The run's seed (default: one taken from the clock, and printed).
    #[arg(long)]
    seed: Option<u64>,
    /// How many cases (default 100, unless --time is given).
    #[arg(long, value_name = "N", conflicts_with = "case")]
    cases: Option<u64>,
    /// Seconds to go on for (instead of a number of cases).
    #[arg(long, value_name = "SECONDS", conflicts_with = "case")]
    time: Option<u64>,
    /// Replay one case of --seed.
    #[arg(long, value_name = "K", requires = "seed")]
    case: Option<u64>,
    /// Cases run in parallel, each in its own lab (1 to 64).
    #[arg(long, short = 'j', default_value_t = 2, value_parser = clap::value_parser!(u16).range(1..=64))]
    jobs: u16,
    /// Where reproducers are written.
    #[arg(long, value_name = "DIR", default_value = "fuzz-failures")]
    out: PathBuf,
    /// A vendor profile: features declared unsupported are not generated.
    #[arg(long, value_name = "FILE")]
    profile: Option<PathBuf>,
    /// Stop once N disagreements were found and shrunk.
    #[arg(long, value_name = "N")]
    max_found: Option<usize>,
    /// Write the reports of the cases that did not agree (each disagreement's
    /// reproducer, flakes, errors) into DIR, in the formats of `run`, with a
    /// `fuzz` object in report.json (docs/report-format.md).
    #[arg(long, value_name = "DIR")]
    report: Option<PathBuf>,
}

#[derive(Debug, clap::Args)]
pub(crate) struct RunArgs {
    /// Scenario files, or directories searched recursively for *.yaml and *.yml.
    #[arg(required = true, value_name = "PATH")]
    paths: Vec<PathBuf>,
    /// Who programs the lab: `reference` (the bundled iptables enforcer), `none`
    /// (nothing: every probe is allowed), or the path of a plugin executable
    /// (docs/plugin-protocol.md).
    #[arg(long, default_value = "reference", value_name = "ENFORCER")]
    enforcer: String,
    /// An argument for the enforcer, put before its command on every call
    /// (repeatable), e.g. --enforcer-arg=--iptables --enforcer-arg=legacy.
    #[arg(long = "enforcer-arg", value_name = "ARG", allow_hyphen_values = true)]
    enforcer_args: Vec<String>,
    /// Seconds each enforcer call (version, sync, cleanup) may take before it is killed.
    #[arg(long, value_name = "SECONDS", default_value_t = 60.0)]
    enforcer_timeout: f64,
    /// Write the reports into DIR: report.json, junit.xml, report.md and report.html
    /// (docs/report-format.md).
    #[arg(long, value_name = "DIR")]
    report: Option<PathBuf>,
    /// Scenarios run in parallel, each in its own lab (1 to 256).
    #[arg(long, short = 'j', default_value_t = 4, value_parser = clap::value_parser!(u16).range(1..=256))]
    jobs: u16,
    /// Milliseconds a probe may take before it counts as denied (first try; 1 to 60000).
    #[arg(long, value_name = "MS", default_value_t = 250, value_parser = clap::value_parser!(u64).range(1..=60_000))]
    timeout: u64,
    /// Milliseconds for the second try of a probe observed denied (1 to 60000).
    #[arg(long, value_name = "MS", default_value_t = 1000, value_parser = clap::value_parser!(u64).range(1..=60_000))]
    retry_timeout: u64,
    /// Skip the check that each lab allows every probe before the first sync.
    #[arg(long)]
    no_preflight: bool,
    /// Print lab setup, sync, probe rounds and teardown times per scenario.
    #[arg(long)]
    timings: bool,
    /// Leave each lab's namespaces up after the run (named under /run/netns), and print
    /// how to enter them and remove them. Root only.
    #[arg(long)]
    keep: bool,
    /// Before each round's probes (the lab up, its servers running, the enforcer synced),
    /// print how to enter the lab's namespaces and wait for Enter.
    #[arg(long)]
    pause: bool,
    /// A vendor profile (YAML) declaring features the implementation does not support:
    /// `unsupported: [sctp, endPort, namedPorts]`. Scenarios needing them are reported
    /// as unsupported (declared), apart from failures.
    #[arg(long, value_name = "FILE")]
    profile: Option<PathBuf>,
    /// A round without a hand-written `expect` is an error, instead of being
    /// judged against the model.
    #[arg(long)]
    require_expect: bool,
    /// Start no more scenarios once N have failed or errored (those running
    /// finish); the rest are not run and not in the reports.
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u16).range(1..))]
    max_failures: Option<u16>,
    /// --max-failures 1: stop at the first failure (a plugin that hangs
    /// costs one timeout, not one per scenario).
    #[arg(long, conflicts_with = "max_failures")]
    fail_fast: bool,
    /// Run every scenario that names no IP address (no ipBlock, no pinned
    /// address, no external host) in these IP families instead of its own:
    /// IPv4, IPv6, or both (IPv4,IPv6: dual-stack; the first is the primary).
    /// Scenarios that name addresses are reported not applicable.
    #[arg(long, value_name = "FAMILIES", value_parser = parse_families)]
    ip_families: Option<Families>,
    /// Seconds an asynchronous enforcer (`"sync": "async"` in its version
    /// answer) has to converge after each sync before the round is judged
    /// on what it shows (0.1 to 3600). Blocking enforcers are not polled.
    #[arg(long, value_name = "SECONDS", default_value_t = 10.0, value_parser = parse_converge_timeout)]
    converge_timeout: f64,
    /// Watch every round's change, however many probes it has (by default,
    /// rounds with more than 128 probes to watch are not).
    #[arg(long, conflicts_with = "no_watch")]
    watch: bool,
    /// Do not watch changes for leaks and outages.
    #[arg(long)]
    no_watch: bool,
    /// An outage during a change (a probe both states allow, seen denied)
    /// fails the scenario; by default it is reported only. A leak always fails.
    #[arg(long)]
    strict_transitions: bool,
}

fn parse_converge_timeout(s: &str) -> Result<f64, String> {
    let v: f64 = s
        .parse()
        .map_err(|_| format!("{s:?} is not a number of seconds"))?;
    if (0.1..=3600.0).contains(&v) {
        Ok(v)
    } else {
        Err(format!("{s} is not between 0.1 and 3600 seconds"))
    }
}

fn parse_protocol(s: &str) -> Result<Protocol, String> {
    Protocol::parse(&s.to_ascii_uppercase()).ok_or_else(|| format!("{s:?} is not TCP, UDP or SCTP"))
}

/// `--ip-families`: one family, or both comma-separated, each once.
#[derive(Clone, Debug)]
pub(crate) struct Families(pub Vec<netpol::cluster::IpFamily>);

fn parse_families(s: &str) -> Result<Families, String> {
    let list = s
        .split(',')
        .map(|f| parse_family(f.trim()))
        .collect::<Result<Vec<_>, _>>()?;
    if list.len() > 2 || list.first() == list.get(1) {
        return Err(format!("{s:?}: write IPv4, IPv6, IPv4,IPv6 or IPv6,IPv4"));
    }
    Ok(Families(list))
}

/// `IPv4` or `IPv6`, in any case.
fn parse_family(s: &str) -> Result<netpol::cluster::IpFamily, String> {
    netpol::cluster::IpFamily::ALL
        .into_iter()
        .find(|f| f.name().eq_ignore_ascii_case(s))
        .ok_or_else(|| format!("{s:?} is not IPv4 or IPv6"))
}

/// Output piped into a reader that stopped (`netpol check scenarios | head -1`)
/// ends the process quietly, as SIGPIPE would, instead of a panic's message
/// and exit 101: std ignores SIGPIPE, so `println!` panics on EPIPE.
fn quiet_on_closed_pipe() {
    let default = std::panic::take_hook();
    std::panic::set_hook(Box::new(move |info| {
        let message = info
            .payload()
            .downcast_ref::<String>()
            .map(String::as_str)
            .or_else(|| info.payload().downcast_ref::<&str>().copied())
            .unwrap_or_default();
        if message.starts_with("failed printing to std") && message.contains("Broken pipe") {
            // 128 + SIGPIPE, what a shell reports for a writer SIGPIPE ended.
            std::process::exit(141);
        }
        default(info);
    }));
}

/// `netpol reference-enforcer --help`: its arguments go to the enforcer
/// untouched, so clap never sees the flag.
fn wants_help(args: &[String]) -> bool {
    matches!(
        args.first().map(String::as_str),
        Some("--help" | "-h" | "help")
    )
}

fn reference_enforcer_help() -> ExitCode {
    use clap::CommandFactory;
    let mut cli = Cli::command();
    match cli.find_subcommand_mut("reference-enforcer") {
        Some(sub) => {
            let _ = sub.print_long_help();
            ExitCode::from(exit::OK)
        }
        None => ExitCode::from(exit::USAGE),
    }
}

/// `-v`: netpol's own debug events (plugin calls, labs built and torn
/// down, with timings) on stderr, beside the report on stdout.
fn log_to_stderr() {
    use tracing_subscriber::layer::SubscriberExt as _;
    use tracing_subscriber::util::SubscriberInitExt as _;
    let ours = tracing_subscriber::filter::Targets::new()
        .with_target("netpol", tracing::Level::DEBUG)
        .with_target("netpol_core", tracing::Level::DEBUG)
        .with_target("netpol_reference", tracing::Level::DEBUG);
    tracing_subscriber::registry()
        .with(
            tracing_subscriber::fmt::layer()
                .with_writer(std::io::stderr)
                .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr())),
        )
        .with(ours)
        .init();
}

fn main() -> ExitCode {
    quiet_on_closed_pipe();
    let cli = Cli::parse();
    let verbosity = match (cli.quiet, cli.verbose) {
        (true, _) => Verbosity::Quiet,
        (_, true) => Verbosity::Verbose,
        _ => Verbosity::Normal,
    };
    if cli.verbose {
        log_to_stderr();
    }
    let result = match cli.command {
        Command::Check { paths } => commands::check::run(&paths),
        Command::Simulate {
            paths,
            report,
            require_expect,
            ip_families,
        } => commands::simulate::run(
            &paths,
            report.as_deref(),
            (require_expect, ip_families.as_ref().map(|f| f.0.as_slice())),
            verbosity,
        ),
        Command::Run(args) => commands::run::run(&args, verbosity),
        Command::ReferenceEnforcer { args } if wants_help(&args) => {
            return reference_enforcer_help();
        }
        Command::ReferenceEnforcer { args } => return netpol_reference::main(args),
        Command::Explain {
            file,
            from,
            to,
            port,
            protocol,
            step,
            family,
        } => commands::explain::run(&file, &from, &to, (port, protocol, family), step.as_deref()),
        Command::Fuzz(args) => commands::fuzz::run(&args, verbosity),
        Command::Bench {
            pods,
            policies,
            seconds,
        } => commands::bench::run(pods.into(), policies, seconds),
    };
    match result {
        Ok(code) => ExitCode::from(code),
        Err(Failure::Usage(e)) => {
            eprintln!("netpol: {e:#}");
            ExitCode::from(exit::USAGE)
        }
        Err(Failure::Run(e)) => {
            eprintln!("netpol: {e:#}");
            ExitCode::from(exit::ERROR)
        }
    }
}
