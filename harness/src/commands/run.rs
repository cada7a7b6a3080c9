//! `netpol run`: the suite in labs, against an enforcer.

use std::fmt::Write;
use std::io::BufRead;
use std::time::Duration;

use tokio::sync::mpsc;

use netpol::lab::ProbeOptions;
use netpol::report::terminal::{Console, Verbosity};
use netpol::runner::{self, Event, Pause, RunOptions, SuiteEnd, WatchMode};
use netpol::suite;

use super::{Failure, Result, check_report_dir, finish, usage};
use crate::RunArgs;

pub fn run(args: &RunArgs, verbosity: Verbosity) -> Result {
    let files = suite::discover(&args.paths).map_err(usage)?;
    if !(args.enforcer_timeout > 0.0 && args.enforcer_timeout < 1e6) {
        return Err(usage(anyhow::anyhow!(
            "--enforcer-timeout must be a positive number of seconds"
        )));
    }
    check_report_dir(args.report.as_deref())?;
    let profile = super::load_profile(args.profile.as_deref())?;
    let verbosity = if args.timings {
        verbosity.max(Verbosity::Verbose)
    } else {
        verbosity
    };
    // Before any thread: an ordinary user's run enters a user namespace.
    let privileges = super::rootless::acquire(args.keep, verbosity)?;
    let (runtime, enforcer, context) = super::start_enforcer(
        &args.enforcer,
        &args.enforcer_args,
        Duration::from_secs_f64(args.enforcer_timeout),
        profile,
    )?;
    let options = RunOptions {
        probe: ProbeOptions {
            timeout: Duration::from_millis(args.timeout),
            retry_timeout: Duration::from_millis(args.retry_timeout),
        },
        jobs: args.jobs.into(),
        keep: args.keep,
        pause: args.pause,
        preflight: !args.no_preflight,
        unsupported: context.unsupported.iter().copied().collect(),
        require_expect: args.require_expect,
        max_failures: if args.fail_fast {
            Some(1)
        } else {
            args.max_failures.map(usize::from)
        },
        converge_timeout: Duration::from_secs_f64(args.converge_timeout),
        watch: if args.watch {
            WatchMode::Always
        } else if args.no_watch {
            WatchMode::Never
        } else {
            WatchMode::Auto
        },
        strict_transitions: args.strict_transitions,
    };
    println!(
        "{}",
        netpol::report::terminal::run_header(context.enforcer.as_ref(), &context.unsupported)
    );
    let mut loaded = suite::load(&files);
    if let Some(families) = &args.ip_families {
        loaded = suite::in_families(loaded, &families.0);
    }
    let mut console = Console::new(verbosity, loaded.len());
    let end = runtime.block_on(async {
        let (events, mut received) = mpsc::unbounded_channel();
        let suite = runner::run_suite(&loaded, &enforcer, &options, context, events);
        let print = async {
            while let Some(event) = received.recv().await {
                show(&mut console, event, &privileges.nsenter).await;
            }
        };
        let (end, ()) = tokio::join!(suite, print);
        end
    });
    match end.map_err(|e| Failure::Run(anyhow::anyhow!("cannot listen to signals: {e}")))? {
        SuiteEnd::Completed(report) => {
            let not_run = loaded.len() - report.scenarios.len();
            if let Some(why) = enforcer.unresponsive().filter(|_| not_run > 0) {
                console.finish(&report);
                finish(&report, args.report.as_deref())?;
                return Err(Failure::Run(anyhow::anyhow!(
                    "{why}: {not_run} scenario{} not run, and not in the reports",
                    if not_run == 1 { "" } else { "s" }
                )));
            }
            if not_run > 0 {
                console.note(&format!(
                    "stopped after {} failed or errored scenario{} (--max-failures / --fail-fast): {not_run} scenario{} not run, and not in the reports\n",
                    options.max_failures.unwrap_or_default(),
                    if options.max_failures == Some(1) { "" } else { "s" },
                    if not_run == 1 { "" } else { "s" },
                ));
            }
            console.finish(&report);
            finish(&report, args.report.as_deref())
        }
        SuiteEnd::Stopped(signal) => {
            eprintln!("netpol: stopped by {signal}; every lab was cleaned up and torn down");
            Ok(signal.exit_status())
        }
    }
}

/// Prints an event; a pause waits for Enter before it lets the lab go on.
async fn show(console: &mut Console, event: Event, nsenter: &str) {
    match event {
        Event::Finished { result, .. } => console.scenario(&result),
        Event::Kept { instructions, .. } => console.note(&instructions),
        Event::Paused(Pause {
            scenario,
            round,
            namespaces,
            resume,
        }) => {
            let mut text = format!(
                "lab of {scenario} ready for round {round} (synced, about to probe): enter a namespace with\n"
            );
            for (name, path) in namespaces {
                let _ = writeln!(text, "  {nsenter} --net={} bash   # {name}", path.display());
            }
            text.push_str("press Enter to continue\n");
            console.note(&text);
            let _ = tokio::task::spawn_blocking(|| {
                std::io::stdin().lock().read_line(&mut String::new())
            })
            .await;
            let _ = resume.send(());
        }
    }
}
