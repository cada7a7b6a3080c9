//! Enforcer plugins through the protocol: a plugin that crashes, hangs or
//! prints garbage is an error naming the plugin and the call, the lab is
//! still torn down, and nothing it started survives; the reference
//! enforcer's cleanup leaves no rule behind and its syncs are idempotent.
//! Needs root.

mod common;

use common::*;
use std::time::Duration;

use netpol::enforcer::{self, Enforcer, EnforcerSpec};
use netpol::lab::Lab;
use netpol::results::Status;
use netpol::runner::{RunOptions, run_scenario};

/// Runs a repository scenario with the plugin; the run must end in error,
/// after the lab was torn down; returns the error message.
async fn error_of_a_run(script: &Script, timeout: Duration) -> String {
    let enforcer = script.start(timeout).await.expect("version works");
    let result = run_scenario(
        &scenario("default-policies/default-deny-ingress.yaml"),
        &enforcer,
        &RunOptions::default(),
        &events(),
    )
    .await;
    assert_eq!(result.status, Status::Error);
    assert!(
        result.lab.is_some(),
        "the lab was torn down (its teardown was timed)"
    );
    result.message.expect("an error says why")
}

/// Whether a process whose command line matches `pattern` runs (`pgrep`
/// exits 1 when none does; a missing pgrep must not read as "none").
fn running(pattern: &str) -> bool {
    let args = ["-f", pattern];
    let ran = std::process::Command::new("pgrep").args(args).output();
    tool_output("pgrep", &args, ran, &[0, 1]).status.success()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_crashing_plugin_is_an_error_naming_it_and_the_call() {
    let script = Script::new(
        "crash",
        &format!(
            "case $1 in version) echo '{VERSION}';; sync) echo 'no such chain' >&2; exit 3;; esac"
        ),
    );
    let message = error_of_a_run(&script, Duration::from_secs(10)).await;
    assert!(
        message.contains("enforcer test-plugin")
            && message.contains("`sync` failed")
            && message.contains("no such chain"),
        "{message}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_hanging_plugin_is_killed_with_everything_it_started() {
    // The sleep is a child of the plugin: it must die with it.
    let script = Script::new(
        "hang",
        &format!("case $1 in version) echo '{VERSION}';; sync) sleep 4321.5;; esac"),
    );
    let message = error_of_a_run(&script, Duration::from_secs(1)).await;
    assert!(
        message.contains("`sync` did not finish within 1s; it was killed"),
        "{message}"
    );
    tokio::time::sleep(Duration::from_millis(200)).await;
    assert!(
        !running("sleep 4321.5"),
        "the plugin's child process was killed"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn garbage_or_an_unknown_protocol_version_is_refused_at_version() {
    let garbage = Script::new("garbage", "echo 'hello, I am a plugin'");
    let e = garbage
        .start(Duration::from_secs(10))
        .await
        .expect_err("not a version document");
    let text = e.to_string();
    assert!(
        text.contains("`version` answered something that is not a version document")
            && text.contains("hello, I am a plugin"),
        "{text}"
    );
    let future = Script::new(
        "future",
        r#"echo '{"name": "p", "version": "9", "protocolVersions": ["7"]}'"#,
    );
    let e = future
        .start(Duration::from_secs(10))
        .await
        .expect_err("an unknown protocol version");
    assert!(
        e.to_string().contains("speaks protocol versions [\"7\"]"),
        "{e}"
    );
    let missing = Enforcer::start(
        &EnforcerSpec::Path("/nonexistent/plugin".into()),
        &[],
        Duration::from_secs(1),
    )
    .await
    .expect_err("no such file");
    assert!(
        missing
            .to_string()
            .contains("cannot run /nonexistent/plugin"),
        "{missing}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_reference_syncs_idempotently_and_cleans_up_every_rule() {
    let s = scenario("concepts-page/example-policy.yaml");
    let reference = reference().await;
    let plugin = the_plugin(&reference);
    let lab = Lab::build(s.cluster(), "t-cleanup").await.unwrap();
    let state = enforcer::state(&lab, "t-cleanup", &s.rounds[0]);
    plugin.sync(&state).await.unwrap();
    let first = node_tables(&lab, s.cluster().nodes.len()).await;
    assert!(
        first.iter().any(|t| t.contains("NETPOL-IN-")),
        "the policy isolates a pod somewhere"
    );
    plugin.sync(&state).await.unwrap();
    let second = node_tables(&lab, s.cluster().nodes.len()).await;

    assert_eq!(
        first, second,
        "a second sync of the same state changes nothing"
    );
    plugin.cleanup(&state).await.unwrap();
    for n in 0..s.cluster().nodes.len() {
        let table = node_table(&lab, n).await;
        assert!(
            !table.contains("-A ") && !table.contains("NETPOL"),
            "node {n} still has rules or chains:\n{table}"
        );
    }
    lab.teardown().await;
}

/// A plugin that "enforces" deny-all by downing every pod's interface would
/// pass every scenario that expects denials; the traffic the spec always
/// allows (own node, self) shows it broke the lab: an error, not a pass.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_plugin_that_breaks_the_lab_is_an_error_not_a_pass() {
    require_root();
    let script = Script::reading_input(
        "links-down",
        &format!(
            r#"state=$(cat)
case $1 in
version) echo '{VERSION}';;
sync) echo "$state" | jq -r '.pods[].netns' | while read -r ns; do nsenter --net="$ns" ip link set eth0 down || exit 1; done;;
esac"#
        ),
    );
    let enforcer = script
        .start(Duration::from_secs(30))
        .await
        .expect("version works");
    for file in [
        "exceptions/self-traffic-deny-all.yaml",
        "upstream-e2e/default-deny-all.yaml",
    ] {
        let result = run_scenario(
            &scenario(file),
            &enforcer,
            &RunOptions::default(),
            &events(),
        )
        .await;
        assert_eq!(result.status, Status::Error, "{file}: {:?}", result.message);
        let message = result.message.unwrap_or_default();
        assert!(
            message.contains("the enforcer broke the lab") && message.contains("own-node"),
            "{file}: {message}"
        );
    }
}

/// `-v` shows every plugin call on stderr: the command, the lab, the time it
/// took, and how it ended (a failure with the plugin's own words).
#[test]
fn verbose_shows_each_plugin_call_and_how_it_ended() {
    require_root();
    let script = Script::new(
        "verbose",
        &format!(
            "case $1 in version) echo '{VERSION}';; sync) echo 'no such chain' >&2; exit 3;; esac"
        ),
    );
    let out = run_plugin(
        &script,
        &["run", "-v", "--jobs", "1"],
        &repo().join("scenarios/default-policies/default-deny-ingress.yaml"),
    );
    let stderr = String::from_utf8_lossy(&out.stderr);
    let call = |command: &str, ended: &str| {
        stderr.lines().any(|l| {
            l.contains(ended)
                && l.contains(&format!("command=\"{command}\""))
                && l.contains("took_ms=")
        })
    };
    assert!(call("version", "plugin call succeeded"), "{stderr}");
    assert!(call("sync", "plugin call failed"), "{stderr}");
    assert!(stderr.contains("no such chain"), "{stderr}");
    assert!(call("cleanup", "plugin call succeeded"), "{stderr}");
    assert!(
        stderr.contains("lab built") && stderr.contains("lab torn down"),
        "{stderr}"
    );

    // Without -v, none of it.
    let quiet = run_plugin(
        &script,
        &["run", "--jobs", "1"],
        &repo().join("scenarios/default-policies/default-deny-ingress.yaml"),
    );
    assert!(!String::from_utf8_lossy(&quiet.stderr).contains("plugin call"));
}

/// `--fail-fast`: a plugin that fails every sync costs one scenario, not
/// one per scenario; the rest are said not to have run.
#[test]
fn fail_fast_stops_starting_scenarios_after_the_first_failure() {
    require_root();
    let script = Script::new(
        "fail-fast",
        &format!("case $1 in version) echo '{VERSION}';; sync) echo 'broken' >&2; exit 3;; esac"),
    );
    let dir = repo().join("scenarios/default-policies");
    let out = run_plugin(&script, &["run", "--jobs", "1", "--fail-fast"], &dir);
    let stdout = String::from_utf8_lossy(&out.stdout);
    let files = std::fs::read_dir(&dir).unwrap().count();
    assert_eq!(out.status.code(), Some(1), "{stdout}");
    assert_eq!(
        stdout.matches("ERROR").count(),
        1,
        "one scenario ran: {stdout}"
    );
    assert!(
        stdout.contains(&format!(
            "stopped after 1 failed or errored scenario (--max-failures / --fail-fast): {} scenarios not run",
            files - 1
        )),
        "{stdout}"
    );
}

/// A plugin that never answers `sync` costs three timeouts, not one per
/// scenario: the run stops with one clear error (exit 3), no flag needed.
#[test]
fn a_plugin_whose_syncs_keep_timing_out_stops_the_run() {
    require_root();
    let script = Script::new(
        "never-answers",
        &format!("case $1 in version) echo '{VERSION}';; sync) sleep 30;; esac"),
    );
    let dir = repo().join("scenarios/default-policies");
    let out = run_plugin(
        &script,
        &["run", "--jobs", "1", "--enforcer-timeout", "0.5"],
        &dir,
    );
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    let files = std::fs::read_dir(&dir).unwrap().count();
    assert_eq!(out.status.code(), Some(3), "{stdout}\n{stderr}");
    assert_eq!(
        stdout.matches("ERROR").count(),
        3,
        "three scenarios ran: {stdout}"
    );
    assert!(
        stderr.contains("3 `sync` calls in a row did not finish within 500ms")
            && stderr.contains(&format!("{} scenarios not run", files - 3)),
        "{stderr}"
    );
}

/// A long failing run: the mismatches of the first ten failed scenarios as
/// they finish, then every failed one listed in one line each next to the
/// totals.
#[test]
fn a_long_failing_run_lists_its_failures_next_to_the_totals() {
    require_root();
    let script = Script::new(
        "always-fails",
        &format!(
            "case $1 in version) echo '{VERSION}';; sync) echo 'sync-broken' >&2; exit 3;; esac"
        ),
    );
    let dir = repo().join("scenarios/ipblock");
    let out = run_plugin(&script, &["run"], &dir);
    let stdout = String::from_utf8_lossy(&out.stdout);
    let files = std::fs::read_dir(&dir).unwrap().count();
    assert!(files > 10, "enough scenarios to be long");
    assert_eq!(
        stdout.matches("sync-broken").count(),
        10,
        "details of the first ten only: {stdout}"
    );
    let (_, summary) = stdout
        .split_once(&format!("{files} scenarios failed or errored"))
        .expect("the list of failures");
    assert_eq!(summary.matches("\n  ERROR ").count(), files, "{summary}");
}

/// `netpol ARGS... --enforcer /bin/sh --enforcer-arg=SCRIPT PATH`: through
/// /bin/sh, see `Script::start` ("Text file busy").
fn run_plugin(script: &Script, args: &[&str], path: &std::path::Path) -> std::process::Output {
    std::process::Command::new(env!("CARGO_BIN_EXE_netpol"))
        .args(args)
        .args(["--enforcer", "/bin/sh"])
        .arg(format!("--enforcer-arg={}", script.path().display()))
        .arg(path)
        .output()
        .expect("netpol runs")
}
