//! Bad input costs little and says what is wrong (issue 15): the command
//! line on FIFOs, device links, directory loops, oversized, empty and
//! non-UTF-8 files, a closed stdout, and out-of-range flags. No root needed.

use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

/// A scratch directory of the test's own, removed when dropped.
struct Scratch(PathBuf);

impl Scratch {
    fn new(name: &str) -> Scratch {
        let dir =
            std::env::temp_dir().join(format!("netpol-bad-input-{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        Scratch(dir)
    }
}

impl Drop for Scratch {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..")
}

struct Outcome {
    code: Option<i32>,
    stdout: String,
    stderr: String,
}

/// Runs `netpol ARGS`, killing it (and failing the test) after 30 seconds.
fn netpol(args: &[&str]) -> Outcome {
    let mut child = Command::new(env!("CARGO_BIN_EXE_netpol"))
        .args(args)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut out = child.stdout.take().unwrap();
    let mut err = child.stderr.take().unwrap();
    let reader = std::thread::spawn(move || {
        let mut s = String::new();
        let _ = out.read_to_string(&mut s);
        s
    });
    let start = Instant::now();
    let status = loop {
        if let Some(status) = child.try_wait().unwrap() {
            break status;
        }
        if start.elapsed() > Duration::from_secs(30) {
            let _ = child.kill();
            let _ = child.wait();
            panic!("netpol {args:?} did not finish within 30 s");
        }
        std::thread::sleep(Duration::from_millis(20));
    };
    let mut stderr = String::new();
    let _ = err.read_to_string(&mut stderr);
    Outcome {
        code: status.code(),
        stdout: reader.join().unwrap(),
        stderr,
    }
}

fn good_scenario(dir: &Path) {
    std::fs::copy(
        repo().join("scenarios/default-policies/default-deny-all.yaml"),
        dir.join("good.yaml"),
    )
    .unwrap();
}

#[test]
fn a_walk_passes_over_fifos_device_links_and_loops() {
    let scratch = Scratch::new("walk");
    let dir = &scratch.0;
    good_scenario(dir);
    nix::unistd::mkfifo(&dir.join("a.yaml"), nix::sys::stat::Mode::S_IRWXU).unwrap();
    std::os::unix::fs::symlink("/dev/zero", dir.join("z.yaml")).unwrap();
    std::os::unix::fs::symlink(".", dir.join("self")).unwrap();
    let out = netpol(&["check", dir.to_str().unwrap()]);
    assert_eq!(out.code, Some(0), "{}{}", out.stdout, out.stderr);
    assert!(out.stdout.contains("1 files, 1 ok"), "{}", out.stdout);
}

#[test]
fn a_special_file_named_directly_says_what_it_is() {
    let scratch = Scratch::new("named");
    let dir = &scratch.0;
    let fifo = dir.join("a.yaml");
    nix::unistd::mkfifo(&fifo, nix::sys::stat::Mode::S_IRWXU).unwrap();
    let zero = dir.join("z.yaml");
    std::os::unix::fs::symlink("/dev/zero", &zero).unwrap();
    let out = netpol(&["check", fifo.to_str().unwrap()]);
    assert_eq!(out.code, Some(2));
    assert!(
        out.stderr.contains("is a FIFO (named pipe)"),
        "{}",
        out.stderr
    );
    let out = netpol(&["check", zero.to_str().unwrap()]);
    assert_eq!(out.code, Some(2));
    assert!(
        out.stderr.contains("is a character device"),
        "{}",
        out.stderr
    );
}

#[test]
fn oversized_empty_and_non_utf8_files_say_so() {
    let scratch = Scratch::new("content");
    let dir = &scratch.0;
    let big = dir.join("big.yaml");
    std::fs::write(&big, "# x\n".repeat(300_000)).unwrap();
    let empty = dir.join("empty.yaml");
    std::fs::write(&empty, "\n  \n").unwrap();
    let latin1 = dir.join("latin1.yaml");
    std::fs::write(&latin1, b"name: ok\ndescription: caf\xe9\n").unwrap();
    let out = netpol(&["check", dir.to_str().unwrap()]);
    assert_eq!(out.code, Some(1), "{}", out.stdout);
    assert!(
        out.stdout.contains("larger than 1024 KiB"),
        "{}",
        out.stdout
    );
    assert!(out.stdout.contains("the file is empty"), "{}", out.stdout);
    assert!(
        out.stdout
            .contains("invalid byte 0xe9 at line 2, byte 17 of the line"),
        "{}",
        out.stdout
    );
}

#[test]
fn a_closed_stdout_ends_the_run_quietly() {
    let mut child = Command::new(env!("CARGO_BIN_EXE_netpol"))
        .args(["check", repo().join("scenarios").to_str().unwrap()])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    // The reader goes away before the first line, as `| head -0` would.
    drop(child.stdout.take());
    let mut stderr = String::new();
    child
        .stderr
        .take()
        .unwrap()
        .read_to_string(&mut stderr)
        .unwrap();
    let status = child.wait().unwrap();
    assert_ne!(status.code(), Some(101), "{stderr}");
    assert!(!stderr.contains("panicked"), "{stderr}");
    assert!(stderr.is_empty(), "{stderr}");
}

#[test]
fn out_of_range_flags_are_usage_errors() {
    let good = repo().join("scenarios/default-policies/default-deny-all.yaml");
    let good = good.to_str().unwrap();
    for args in [
        &["run", good, "-j", "0"][..],
        &["run", good, "--timeout", "0"],
        &["run", good, "--timeout", "100000000000"],
        &["run", good, "--retry-timeout", "0"],
        &["run", good, "--enforcer-timeout", "1e20"],
        &["run", good, "--enforcer-timeout", "NaN"],
        &["run", good, "--ip-families", "IPv5"],
        &["simulate", good, "--ip-families", "IPv6,IPv6"],
        &["simulate", good, "--ip-families", "IPv4,IPv6,IPv4"],
    ] {
        let out = netpol(args);
        assert_eq!(out.code, Some(2), "{args:?}: {}{}", out.stdout, out.stderr);
        assert!(!out.stderr.contains("panicked"), "{args:?}: {}", out.stderr);
    }
}

/// `--ip-families`: a scenario naming no address runs in the families
/// asked for; one with an ipBlock is not applicable there, never a pass.
#[test]
fn other_ip_families_run_what_names_no_address() {
    let deny = repo().join("scenarios/default-policies/default-deny-ingress.yaml");
    let block = repo().join("scenarios/ipblock/ingress-except-externals.yaml");
    let out = netpol(&[
        "simulate",
        deny.to_str().unwrap(),
        block.to_str().unwrap(),
        "--ip-families",
        "IPv4,IPv6",
        "--report",
        std::env::temp_dir()
            .join(format!("netpol-families-{}", std::process::id()))
            .to_str()
            .unwrap(),
    ]);
    assert_eq!(out.code, Some(0), "{}{}", out.stdout, out.stderr);
    assert!(
        out.stdout
            .contains("PASS  default-deny-ingress  (972 probes, 1 round)"),
        "twice the probes, one per family: {}",
        out.stdout
    );
    assert!(
        out.stdout
            .contains("N/A   ipblock-ingress-except-externals  (not applicable in IPv4 + IPv6"),
        "{}",
        out.stdout
    );
    assert!(
        out.stdout
            .contains("1 passed, 0 failed, 0 errors, 1 not applicable"),
        "{}",
        out.stdout
    );
    let _ = std::fs::remove_dir_all(
        std::env::temp_dir().join(format!("netpol-families-{}", std::process::id())),
    );
}

/// The most memory (KiB) of any child this test process waited for.
fn children_max_rss_kib() -> i64 {
    nix::sys::resource::getrusage(nix::sys::resource::UsageWho::RUSAGE_CHILDREN)
        .unwrap()
        .max_rss()
}

#[test]
fn memory_is_linear_in_the_number_of_tags() {
    // 5,000 tags took 1.7 GB: each tag's summary cloned every
    // scenario with all its tags, and the tag table's layout grew with the
    // square of its rows; linear, it is a few MB above the baseline.
    let scratch = Scratch::new("tags");
    let dir = &scratch.0;
    let text =
        std::fs::read_to_string(repo().join("scenarios/default-policies/default-deny-all.yaml"))
            .unwrap();
    let tags: Vec<String> = (0..5000).map(|i| format!("t{i}")).collect();
    let text = text.replace(
        "tags: [default-policies, concepts-page, ingress, egress]",
        &format!("tags: [{}]", tags.join(", ")),
    );
    std::fs::write(dir.join("many-tags.yaml"), text).unwrap();
    let report = dir.join("report");
    let out = netpol(&[
        "simulate",
        dir.join("many-tags.yaml").to_str().unwrap(),
        "--report",
        report.to_str().unwrap(),
    ]);
    assert_eq!(out.code, Some(0), "{}", out.stderr);
    assert!(out.stdout.contains("t4999"), "every tag is summarised");
    let kib = children_max_rss_kib();
    assert!(kib < 100 * 1024, "netpol simulate took {kib} KiB");
}

/// A plugin script in `dir`, answering `version` with `version` (shell).
fn plugin(dir: &Path, version: &str) -> PathBuf {
    use std::os::unix::fs::PermissionsExt;
    let path = dir.join("plugin.sh");
    let script = format!(
        "#!/bin/sh\nfor a; do cmd=$a; done\ncase $cmd in\n  version) {version} ;;\n  *) cat >/dev/null ;;\nesac\n"
    );
    std::fs::write(&path, script).unwrap();
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o755)).unwrap();
    path
}

const VERSION: &str =
    r#"echo '{"name": "t", "version": "1", "protocolVersions": ["1"], "unsupported": []}'"#;

#[test]
fn a_plugin_printing_gigabytes_costs_no_memory() {
    // Needs root or user namespaces: `version` runs in a PID namespace.
    let scratch = Scratch::new("loud");
    let plugin = plugin(&scratch.0, "head -c 400000000 /dev/zero");
    let good = repo().join("scenarios/default-policies/default-deny-all.yaml");
    let out = netpol(&[
        "run",
        good.to_str().unwrap(),
        "--enforcer",
        plugin.to_str().unwrap(),
    ]);
    assert_eq!(out.code, Some(3), "{}{}", out.stdout, out.stderr);
    assert!(
        out.stderr.contains("not a version document"),
        "{}",
        out.stderr
    );
    let kib = children_max_rss_kib();
    assert!(kib < 150 * 1024, "netpol run took {kib} KiB");
}

#[test]
fn a_plugin_that_exited_is_not_waited_for_when_its_daemon_holds_stdout() {
    let scratch = Scratch::new("daemon");
    let plugin = plugin(&scratch.0, &format!("(sleep 30 &); {VERSION}"));
    let good = repo().join("scenarios/default-policies/default-deny-all.yaml");
    let out = netpol(&[
        "run",
        good.to_str().unwrap(),
        "--enforcer",
        plugin.to_str().unwrap(),
        "--enforcer-timeout",
        "3",
    ]);
    assert!(!out.stderr.contains("did not finish"), "{}", out.stderr);
    assert!(!out.stdout.contains("did not finish"), "{}", out.stdout);
    // It enforces nothing: the scenario runs, and fails.
    assert_eq!(out.code, Some(1), "{}{}", out.stdout, out.stderr);
}

#[test]
fn reference_enforcer_help_is_help() {
    let out = netpol(&["reference-enforcer", "--help"]);
    assert_eq!(out.code, Some(0), "{}", out.stderr);
    assert!(out.stdout.contains("--iptables"), "{}", out.stdout);
}

#[test]
fn a_huge_value_is_not_echoed_in_full() {
    let scratch = Scratch::new("long");
    let text =
        std::fs::read_to_string(repo().join("scenarios/default-policies/default-deny-all.yaml"))
            .unwrap();
    let long = "v".repeat(100_000);
    let text = text.replacen(
        "podSelector: {}",
        &format!("podSelector: {{matchLabels: {{a: {long}}}}}"),
        1,
    );
    let file = scratch.0.join("long.yaml");
    std::fs::write(&file, text).unwrap();
    let out = netpol(&["check", file.to_str().unwrap()]);
    assert_eq!(out.code, Some(1), "{}", out.stderr);
    assert!(
        out.stdout.contains("more characters cut"),
        "{}",
        &out.stdout[..300]
    );
    assert!(
        out.stdout.len() < 5_000,
        "{} bytes of output",
        out.stdout.len()
    );
}

#[test]
fn a_low_descriptor_limit_is_named_not_the_lab() {
    // 120 descriptors: the lab is built, its preflight probes run short.
    let good = repo().join("scenarios/default-policies/default-deny-all.yaml");
    let out = Command::new("sh")
        .arg("-c")
        .arg(format!(
            "ulimit -n 120; exec {} run {} -j 1",
            env!("CARGO_BIN_EXE_netpol"),
            good.display()
        ))
        .output()
        .unwrap();
    let text =
        String::from_utf8_lossy(&out.stdout).into_owned() + &String::from_utf8_lossy(&out.stderr);
    assert!(!text.contains("the lab itself is broken"), "{text}");
    assert!(!text.contains("Ok(") && !text.contains("Err("), "{text}");
    assert!(
        text.contains("open-file limit (120, `ulimit -n`)"),
        "{text}"
    );
}

#[test]
fn a_crashed_plugin_is_reported_without_a_dangling_colon() {
    let scratch = Scratch::new("segv");
    let plugin = plugin(&scratch.0, "kill -SEGV $$");
    let good = repo().join("scenarios/default-policies/default-deny-all.yaml");
    let out = netpol(&[
        "run",
        good.to_str().unwrap(),
        "--enforcer",
        plugin.to_str().unwrap(),
    ]);
    assert_eq!(out.code, Some(3), "{}{}", out.stdout, out.stderr);
    let line = out.stderr.trim_end();
    assert!(line.contains("SIGSEGV"), "{line}");
    assert!(!line.ends_with(':'), "{line}");
    assert!(line.ends_with("it printed nothing on stderr"), "{line}");
}
