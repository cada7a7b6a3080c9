//! `netpol`: the command line of the NetworkPolicy conformance harness.

use std::path::{Path, PathBuf};
use std::time::Duration;

use futures::StreamExt;
use std::process::ExitCode;

use clap::{Parser, Subcommand};

use netpol::cluster::Protocol;
use netpol::enforcer::{Enforcer, EnforcerSpec};
use netpol::features::{self, Profile};
use netpol::lab::ProbeOptions;
use netpol::model::Model;
use netpol::peer::PeerPattern;
use netpol::probe::Probe;
use netpol::report;
use netpol::report::terminal::{Console, Verbosity};
use netpol::results::{
    EnforcerInfo, Environment, Harness, Mode, Report, SCHEMA_VERSION, ScenarioResult, Summary,
    now_rfc3339,
};
use netpol::runner::RunOptions;
use std::collections::BTreeSet;

use netpol::suite::{self, Entry};

/// Exit statuses, the contract with CI scripts.
const EXIT_OK: u8 = 0;
const EXIT_FAILED: u8 = 1;
const EXIT_USAGE: u8 = 2;
// Stopped by SIGINT or SIGTERM: 130 or 143 (`netpol::stop::StopSignal::exit_status`).

#[derive(Debug, Parser)]
#[command(
    name = "netpol",
    version,
    about = "Prove that a NetworkPolicy implementation does what the Kubernetes specification says, packet by packet.",
    after_help = "Exit status: 0 every scenario passed; 1 some scenario failed or was invalid; 2 usage error."
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
    /// Say less: failures and the summary only.
    #[arg(short, long, global = true, conflicts_with = "verbose")]
    quiet: bool,
    /// Say more: timings, and why scenarios were not run.
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
    },

    /// Run scenarios for real: build each one's cluster as network namespaces, let the
    /// enforcer program it, send TCP, UDP and SCTP probes, and check every verdict.
    ///
    /// Needs root. Each scenario gets a lab of its own, torn down when it ends (also on
    /// error, panic or Ctrl-C). Scenarios without `expect` are checked against the model.
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
        #[arg(long)]
        port: u16,
        /// TCP, UDP or SCTP.
        #[arg(long, default_value = "TCP", value_parser = parse_protocol)]
        protocol: Protocol,
        /// The round after this step (default: the initial round, before any step).
        #[arg(long, value_name = "NAME")]
        step: Option<String>,
    },

    /// Measure the model's speed: verdicts per second on one core, on a synthetic cluster.
    ///
    /// Example: netpol bench --pods 100 --policies 50
    #[command(verbatim_doc_comment)]
    Bench {
        #[arg(long, default_value_t = 100, value_parser = clap::value_parser!(u16).range(1..=900))]
        pods: u16,
        #[arg(long, default_value_t = 50)]
        policies: usize,
        /// How long to measure.
        #[arg(long, default_value_t = 3.0)]
        seconds: f64,
    },
}

#[derive(Debug, clap::Args)]
struct RunArgs {
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
    /// Scenarios run in parallel, each in its own lab.
    #[arg(long, short = 'j', default_value_t = 4)]
    jobs: usize,
    /// Milliseconds a probe may take before it counts as denied (first try).
    #[arg(long, value_name = "MS", default_value_t = 250)]
    timeout: u64,
    /// Milliseconds for the second try of a probe observed denied.
    #[arg(long, value_name = "MS", default_value_t = 1000)]
    retry_timeout: u64,
    /// Skip the check that each lab allows every probe before the first sync.
    #[arg(long)]
    no_preflight: bool,
    /// Print lab setup, sync, probe rounds and teardown times per scenario.
    #[arg(long)]
    timings: bool,
    /// Leave each lab's namespaces up after the run (named under /run/netns), and print
    /// how to enter them and remove them.
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
}

fn parse_protocol(s: &str) -> Result<Protocol, String> {
    Protocol::parse(&s.to_ascii_uppercase()).ok_or_else(|| format!("{s:?} is not TCP, UDP or SCTP"))
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let verbosity = match (cli.quiet, cli.verbose) {
        (true, _) => Verbosity::Quiet,
        (_, true) => Verbosity::Verbose,
        _ => Verbosity::Normal,
    };
    let result = match cli.command {
        Command::Check { paths } => check(&paths),
        Command::Simulate { paths, report } => simulate(&paths, report.as_deref(), verbosity),
        Command::Run(args) => run(args, verbosity),
        Command::ReferenceEnforcer { args } => return netpol_reference::main(args),
        Command::Explain {
            file,
            from,
            to,
            port,
            protocol,
            step,
        } => explain(&file, &from, &to, port, protocol, step.as_deref()),
        Command::Bench {
            pods,
            policies,
            seconds,
        } => bench(pods.into(), policies, seconds),
    };
    match result {
        Ok(code) => ExitCode::from(code),
        Err(e) => {
            eprintln!("netpol: {e:#}");
            ExitCode::from(EXIT_USAGE)
        }
    }
}

fn check(paths: &[PathBuf]) -> anyhow::Result<u8> {
    let files = suite::discover(paths)?;
    let mut failed = 0;
    for loaded in suite::load(&files) {
        let file = loaded.file.display();
        match &loaded.entry {
            Entry::Ready(_) => println!("ok      {file}"),
            Entry::ExpectInvalid {
                field,
                verdict: Ok(_),
            } => println!("ok      {file} (rejected naming {field}, as expected)"),
            Entry::ExpectInvalid {
                verdict: Err(why), ..
            } => {
                failed += 1;
                println!("FAIL    {file}: {why}");
            }
            Entry::Invalid(e) => {
                failed += 1;
                println!("INVALID {file}\n{e}");
            }
        }
    }
    println!(
        "{} files, {} ok, {failed} failed",
        files.len(),
        files.len() - failed
    );
    Ok(if failed == 0 { EXIT_OK } else { EXIT_FAILED })
}

fn simulate(
    paths: &[PathBuf],
    report_dir: Option<&Path>,
    verbosity: Verbosity,
) -> anyhow::Result<u8> {
    let files = suite::discover(paths)?;
    let loaded = suite::load(&files);
    let mut out = Output::start(Mode::Simulate, verbosity, loaded.len());
    for l in &loaded {
        let result = match &l.entry {
            Entry::Ready(s) => netpol::judge::simulate(s),
            _ => netpol::judge::unprobed_result(l).expect("not ready, so judged without probes"),
        };
        out.scenario(result);
    }
    out.finish(report_dir)
}

fn run(args: RunArgs, verbosity: Verbosity) -> anyhow::Result<u8> {
    let files = suite::discover(&args.paths)?;
    netpol::runner::check_privileges().map_err(anyhow::Error::msg)?;
    anyhow::ensure!(
        args.enforcer_timeout > 0.0 && args.enforcer_timeout.is_finite(),
        "--enforcer-timeout must be positive"
    );
    let profile = args.profile.as_deref().map(Profile::load).transpose()?;
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    let spec = EnforcerSpec::parse(&args.enforcer);
    let enforcer = runtime
        .block_on(Enforcer::start(
            &spec,
            &args.enforcer_args,
            Duration::from_secs_f64(args.enforcer_timeout),
        ))
        .map_err(|e| anyhow::anyhow!("{e}"))?;
    // Unsupported features: what the enforcer declares, and what the profile does.
    let mut unsupported: BTreeSet<String> = BTreeSet::new();
    if let Some(info) = enforcer.info() {
        features::check_features(&info.unsupported)
            .map_err(|e| anyhow::anyhow!("enforcer {}: `version`: {e}", info.name))?;
        unsupported.extend(info.unsupported.iter().cloned());
    }
    unsupported.extend(profile.iter().flat_map(|p| p.unsupported.iter().cloned()));
    let options = RunOptions {
        probe: ProbeOptions {
            timeout: Duration::from_millis(args.timeout),
            retry_timeout: Duration::from_millis(args.retry_timeout),
        },
        keep: args.keep,
        pause: args.pause,
        preflight: !args.no_preflight,
        unsupported: unsupported.clone(),
    };
    let verbosity = if args.timings {
        verbosity.max(Verbosity::Verbose)
    } else {
        verbosity
    };
    let loaded = suite::load(&files);
    let mut out = Output::start(Mode::Run, verbosity, loaded.len());
    out.enforcer = enforcer.info().map(|i| EnforcerInfo {
        name: i.name.clone(),
        version: i.version.clone(),
        unsupported: i.unsupported.clone(),
    });
    out.profile = profile;
    out.unsupported = unsupported.into_iter().collect();
    out.environment = Some(Environment::current());
    let stopped = runtime.block_on(async {
        let results = netpol::stop::until_stopped(futures::stream::iter(loaded.iter().enumerate()))
            .map(|(i, l)| {
                let (enforcer, options) = (&enforcer, &options);
                async move {
                    let result = match &l.entry {
                        Entry::Ready(s) => netpol::runner::run_scenario(s, enforcer, options).await,
                        _ => netpol::judge::unprobed_result(l)
                            .expect("not ready, so judged without probes"),
                    };
                    (i, result)
                }
            })
            .buffer_unordered(args.jobs.max(1));
        let collect = results.for_each(|(i, result)| {
            out.scenario_at(i, result);
            std::future::ready(())
        });
        // SIGINT or SIGTERM: see `netpol::stop` for what a stopped run does.
        netpol::stop::run_until_stopped(collect).await
    })?;
    if let Some(signal) = stopped {
        eprintln!("netpol: stopped by {signal}; every lab was torn down");
        return Ok(signal.exit_status());
    }
    out.finish(args.report.as_deref())
}

/// Prints each scenario's result as it comes; at the end, the summary and
/// the report files.
struct Output {
    mode: Mode,
    enforcer: Option<EnforcerInfo>,
    profile: Option<Profile>,
    unsupported: Vec<String>,
    environment: Option<Environment>,
    console: Console,
    started_at: String,
    started: std::time::Instant,
    results: Vec<(usize, ScenarioResult)>,
}

impl Output {
    fn start(mode: Mode, verbosity: Verbosity, scenarios: usize) -> Output {
        Output {
            mode,
            enforcer: None,
            profile: None,
            unsupported: Vec::new(),
            environment: None,
            console: Console::new(verbosity, scenarios),
            started_at: now_rfc3339(),
            started: std::time::Instant::now(),
            results: Vec::new(),
        }
    }

    fn scenario(&mut self, result: ScenarioResult) {
        let i = self.results.len();
        self.scenario_at(i, result);
    }

    /// The result of the `index`-th scenario of the suite (they may finish in any order).
    fn scenario_at(&mut self, index: usize, result: ScenarioResult) {
        self.console.scenario(&result);
        self.results.push((index, result));
    }

    fn finish(mut self, report_dir: Option<&Path>) -> anyhow::Result<u8> {
        self.results.sort_by_key(|(i, _)| *i);
        let scenarios: Vec<ScenarioResult> = self.results.into_iter().map(|(_, r)| r).collect();
        let report = Report {
            schema_version: SCHEMA_VERSION,
            harness: Harness::current(),
            mode: self.mode,
            enforcer: self.enforcer,
            profile: self.profile,
            unsupported_features: self.unsupported,
            environment: self.environment,
            started_at: self.started_at,
            duration_ms: self.started.elapsed().as_secs_f64() * 1e3,
            summary: Summary::of(&scenarios),
            scenarios,
        };
        self.console.finish(&report);
        if let Some(dir) = report_dir {
            let written = report::write(dir, &report)
                .map_err(|e| anyhow::anyhow!("{}: cannot write the report: {e}", dir.display()))?;
            println!(
                "report: {}",
                written
                    .iter()
                    .map(|p| p.display().to_string())
                    .collect::<Vec<_>>()
                    .join(", ")
            );
        }
        Ok(if report.summary.all_passed() {
            EXIT_OK
        } else {
            EXIT_FAILED
        })
    }
}

fn explain(
    file: &std::path::Path,
    from: &str,
    to: &str,
    port: u16,
    protocol: Protocol,
    step: Option<&str>,
) -> anyhow::Result<u8> {
    let scenario = match netpol::scenario::load(file).loaded {
        Ok(s) => s,
        Err(e) => {
            println!("{e}");
            return Ok(EXIT_FAILED);
        }
    };
    let round_name = step.unwrap_or(netpol::scenario::INITIAL_ROUND);
    let Some(round) = scenario.round(round_name) else {
        let names: Vec<&str> = scenario.rounds.iter().map(|r| r.name.as_str()).collect();
        anyhow::bail!(
            "no step {round_name:?} in {}; rounds: {}",
            file.display(),
            names.join(", ")
        );
    };
    let cluster = &round.cluster;
    let endpoint = |text: &str| -> anyhow::Result<netpol::cluster::Endpoint> {
        let pattern = PeerPattern::parse(text)?;
        match pattern.select(cluster).as_slice() {
            [one] => Ok(*one),
            [] => anyhow::bail!(
                "{text:?} matches nothing in the cluster of {}",
                file.display()
            ),
            _ => {
                anyhow::bail!("{text:?} matches several peers; name one (x/a, ext:NAME, node:NAME)")
            }
        }
    };
    let probe = Probe {
        from: endpoint(from)?,
        to: endpoint(to)?,
        port,
        protocol,
    };
    let model = Model::new(cluster, &round.policies)?;
    let explanation = model.explain(&probe);
    println!(
        "{} -> {} {port}/{protocol}, round {round_name}",
        cluster.endpoint_name(probe.from),
        cluster.endpoint_name(probe.to)
    );
    println!(
        "model:    {}",
        if explanation.allowed {
            "allowed"
        } else {
            "denied"
        }
    );
    if explanation.egress == netpol::model::Direction::SelfTraffic {
        println!("  {}", explanation.egress);
    } else {
        println!("  egress:  {}", explanation.egress);
        println!("  ingress: {}", explanation.ingress);
    }
    match &round.expect {
        Some(e) => println!(
            "expected: {} (the scenario's expect)",
            e.verdict(cluster, &probe)
        ),
        None => println!(
            "expected: the scenario has no expect for this round; the model is the expectation"
        ),
    }
    if !cluster.serves(probe.to, port, protocol) {
        println!(
            "note: {} does not serve {port}/{protocol}; a run would not send this probe",
            cluster.endpoint_name(probe.to)
        );
    } else if !scenario.probes.contains(&probe) {
        println!("note: this probe is not among the scenario's probes");
    }
    Ok(EXIT_OK)
}

fn bench(pods: usize, policies: usize, seconds: f64) -> anyhow::Result<u8> {
    anyhow::ensure!(
        seconds > 0.0 && seconds.is_finite(),
        "--seconds must be positive"
    );
    let r = netpol::bench::run(pods, policies, std::time::Duration::from_secs_f64(seconds));
    println!(
        "cluster: {} pods, {} policies (compiled in {:.2} ms)",
        r.pods,
        r.policies,
        r.compile.as_secs_f64() * 1e3
    );
    println!(
        "{} verdicts in {:.2} s on one core: {:.0} verdicts/s ({:.1}% allowed)",
        r.verdicts,
        r.elapsed.as_secs_f64(),
        r.verdicts_per_second(),
        100.0 * r.allowed as f64 / r.verdicts.max(1) as f64
    );
    Ok(EXIT_OK)
}
