//! `netpol run` without root's capabilities enters a user namespace of its
//! own, and where the system refuses one, says why and exits 2.
//!
//! Each test makes its unprivileged `netpol` with util-linux's `unshare`:
//! in a user namespace where the test's user is uid 1, `netpol` starts with
//! no capabilities, as an ordinary user's does. This works as root and
//! rootless (in the user namespace of ci/test-runner.sh) alike. Run by
//! root, uid 1 there is the real root's uid, which may write the host's
//! /run: each test gets an empty /run of its own (a tmpfs in a mount
//! namespace of its own), so that a regression (`--keep` naming namespaces
//! under /run/netns that end with the run) leaves nothing on the host.

mod common;

use std::path::PathBuf;
use std::process::{Command, Output};

fn scenario() -> PathBuf {
    common::repo().join("scenarios/default-policies/default-deny-ingress.yaml")
}

fn netpol() -> &'static str {
    env!("CARGO_BIN_EXE_netpol")
}

/// Runs the shell `script` (`$@` is `args`) as root in a new user namespace
/// with a private, empty /run.
fn with_private_run(script: &str, args: &[&str]) -> Output {
    Command::new("unshare")
        .args(["--user", "--map-root-user", "--mount", "--", "sh", "-c"])
        .arg(format!("mount -t tmpfs tmpfs /run && {script}"))
        .arg("sh")
        .args(args)
        .output()
        .unwrap_or_else(|e| panic!("unshare cannot be run ({e}): install util-linux"))
}

/// Runs `command` as uid 1 of a new user namespace: no capabilities after
/// the exec.
fn as_uid_1(command: &[&str]) -> Output {
    with_private_run(
        r#"exec unshare --user --map-user=1 --map-group=1 -- "$@""#,
        command,
    )
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

#[test]
fn an_unprivileged_run_builds_its_labs_in_a_user_namespace_of_its_own() {
    let file = scenario();
    let ran = as_uid_1(&[netpol(), "run", file.to_str().unwrap(), "-v"]);
    let (stdout, stderr) = (text(&ran.stdout), text(&ran.stderr));
    // Whether this system lets an unprivileged process have a user
    // namespace, asked of util-linux rather than of netpol.
    let allowed = as_uid_1(&["unshare", "--user", "--map-root-user", "true"]);
    if allowed.status.success() {
        assert_eq!(ran.status.code(), Some(0), "{stdout}\n{stderr}");
        assert!(
            stdout.contains("rootless: uid 1 lacks CAP_SYS_ADMIN and CAP_NET_ADMIN, so the run is in a user namespace of its own"),
            "-v says the run is rootless:\n{stdout}"
        );
        assert!(
            stdout.contains("PASS  default-deny-ingress"),
            "{stdout}\n{stderr}"
        );
    } else {
        eprintln!(
            "this system refuses user namespaces to an ordinary user ({}): checking that the run says so",
            text(&allowed.stderr).trim()
        );
        assert_eq!(ran.status.code(), Some(2), "{stdout}\n{stderr}");
        assert!(
            stderr.contains("this system refuses a user namespace")
                || stderr.contains("cannot map uid 1 to root"),
            "{stderr}"
        );
        assert!(stderr.contains("or run netpol as root"), "{stderr}");
    }
}

#[test]
fn where_user_namespaces_are_refused_the_run_exits_2_naming_the_sysctl() {
    // user.max_user_namespaces belongs to each user namespace: 0 in this
    // one refuses its processes a nested one, as 0 on the host refuses
    // everyone. `netpol` then runs without capabilities.
    let file = scenario();
    let ran = with_private_run(
        r#"echo 0 > /proc/sys/user/max_user_namespaces && exec setpriv --bounding-set=-all --inh-caps=-all --ambient-caps=-all -- "$@""#,
        &[netpol(), "run", file.to_str().unwrap()],
    );
    let stderr = text(&ran.stderr);
    assert_eq!(ran.status.code(), Some(2), "{stderr}");
    for needed in [
        "netpol run builds network namespaces: it needs root, or for an ordinary user a user namespace of its own, but this system refuses a user namespace (ENOSPC",
        "user.max_user_namespaces is 0; as root, `sysctl -w user.max_user_namespaces=15000` allows them",
        "or run netpol as root",
    ] {
        assert!(
            stderr.contains(needed),
            "{needed:?} missing from:\n{stderr}"
        );
    }
}

#[test]
fn keep_needs_root() {
    let file = scenario();
    let refused = "--keep needs root: it names the lab's namespaces under /run/netns";
    // An ordinary user, and a run already in a user namespace.
    let unprivileged = as_uid_1(&[netpol(), "run", file.to_str().unwrap(), "--keep"]);
    let in_userns = with_private_run(
        r#"exec unshare --net -- "$@""#,
        &[netpol(), "run", file.to_str().unwrap(), "--keep"],
    );
    for ran in [unprivileged, in_userns] {
        let stderr = text(&ran.stderr);
        assert_eq!(ran.status.code(), Some(2), "{stderr}");
        assert!(stderr.contains(refused), "{stderr}");
    }
}
