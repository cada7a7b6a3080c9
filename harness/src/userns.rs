//! Rootless runs: an ordinary user builds labs inside a user namespace of
//! its own.
//!
//! A lab needs CAP_SYS_ADMIN and CAP_NET_ADMIN, but only over the namespaces
//! it creates. In a user namespace where the user is mapped to root, the
//! process has both over every namespace it creates there, and none over
//! the host's. [`enter`] moves the calling process into a new user
//! namespace, with a new network namespace (so that nothing it starts runs
//! in the host's) and a new mount namespace with private mounts: what
//! `unshare --user --map-root-user --net --mount` gives a command, as
//! `ci/test-runner.sh` does for the tests.

use std::fmt;
use std::io;

use nix::errno::Errno;
use nix::mount::{MsFlags, mount};
use nix::sched::{CloneFlags, unshare};
use nix::unistd::{getegid, geteuid};

const CAP_NET_ADMIN: u32 = 12;
const CAP_SYS_ADMIN: u32 = 21;

/// What the calling process may do with namespaces.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Standing {
    /// CAP_SYS_ADMIN and CAP_NET_ADMIN in the host's user namespace: root.
    Root,
    /// Both, in a user namespace: rootless already (`unshare -Urnm`, the
    /// test runner, or after [`enter`]). `uid_map` as the kernel prints it.
    UserNamespace { uid_map: String },
    /// Not both: an ordinary user (or a root without them, in a container).
    Unprivileged,
}

/// Where the calling process stands. When `/proc` cannot tell, it is taken
/// for root, and building a lab says what is missing.
pub fn standing() -> Standing {
    let Ok(status) = std::fs::read_to_string("/proc/self/status") else {
        return Standing::Root;
    };
    let effective = status
        .lines()
        .find_map(|l| l.strip_prefix("CapEff:"))
        .and_then(|v| u64::from_str_radix(v.trim(), 16).ok());
    let Some(effective) = effective else {
        return Standing::Root;
    };
    let needed = (1u64 << CAP_NET_ADMIN) | (1u64 << CAP_SYS_ADMIN);
    if effective & needed != needed {
        return Standing::Unprivileged;
    }
    match std::fs::read_to_string("/proc/self/uid_map") {
        Ok(map) if !is_initial(&map) => Standing::UserNamespace {
            uid_map: map.split_whitespace().collect::<Vec<_>>().join(" "),
        },
        _ => Standing::Root,
    }
}

/// The host's user namespace maps every uid to itself.
fn is_initial(uid_map: &str) -> bool {
    let fields: Vec<&str> = uid_map.split_whitespace().collect();
    fields == ["0", "0", "4294967295"]
}

/// The user namespace [`enter`] made: who is root in it.
#[derive(Debug, Clone, Copy)]
pub struct Entered {
    pub uid: u32,
    pub gid: u32,
}

/// Why [`enter`] failed.
#[derive(Debug, thiserror::Error)]
pub enum UsernsError {
    #[error("this system refuses a user namespace ({errno}): {blocker}")]
    Refused { errno: Errno, blocker: Blocker },
    #[error(
        "cannot create a user namespace: the process already runs several threads (it must enter one before it starts any)"
    )]
    Threaded,
    #[error("cannot map uid {uid} to root in a new user namespace: {file}: {error}: {blocker}")]
    Map {
        uid: u32,
        file: &'static str,
        error: io::Error,
        blocker: Blocker,
    },
    #[error("cannot make the mounts of the new mount namespace private: {0}")]
    Mount(Errno),
}

/// Moves the calling process into a new user namespace where its user is
/// root, with a new network and mount namespace. The process must have no
/// other thread yet (the kernel's rule for `unshare(CLONE_NEWUSER)`).
pub fn enter() -> Result<Entered, UsernsError> {
    let (uid, gid) = (geteuid().as_raw(), getegid().as_raw());
    let flags = CloneFlags::CLONE_NEWUSER | CloneFlags::CLONE_NEWNET | CloneFlags::CLONE_NEWNS;
    unshare(flags).map_err(|errno| match errno {
        Errno::EINVAL => UsernsError::Threaded,
        errno => UsernsError::Refused {
            errno,
            blocker: Blocker::find(Some(errno)),
        },
    })?;
    let write = |file: &'static str, text: String| {
        std::fs::write(file, text).map_err(|error| UsernsError::Map {
            uid,
            file,
            blocker: if uid == 0 && error.kind() == io::ErrorKind::PermissionDenied {
                Blocker::RootWithoutCapabilities
            } else {
                Blocker::find(None)
            },
            error,
        })
    };
    // An unprivileged process may write its gid_map only once setgroups is
    // denied (kernels before 3.19 have no such file, and no such rule).
    match write("/proc/self/setgroups", "deny".into()) {
        Err(UsernsError::Map { error, .. }) if error.kind() == io::ErrorKind::NotFound => {}
        other => other?,
    }
    write("/proc/self/uid_map", format!("0 {uid} 1"))?;
    write("/proc/self/gid_map", format!("0 {gid} 1"))?;
    // As unshare(1) does: mounts propagate neither way from now on.
    mount(
        None::<&str>,
        "/",
        None::<&str>,
        MsFlags::MS_REC | MsFlags::MS_PRIVATE,
        None::<&str>,
    )
    .map_err(UsernsError::Mount)?;
    Ok(Entered { uid, gid })
}

/// What keeps an ordinary user from creating user namespaces, as far as the
/// system's switches tell.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Blocker {
    /// No `/proc/self/ns/user`: a kernel built without user namespaces.
    NoKernelSupport,
    /// `kernel.unprivileged_userns_clone = 0` (Debian's and older Ubuntus' switch).
    UnprivilegedCloneOff,
    /// `user.max_user_namespaces = 0`, or its limit reached.
    MaxUserNamespaces(u64),
    /// `kernel.apparmor_restrict_unprivileged_userns = 1` (Ubuntu 23.10 and later).
    AppArmor,
    /// Mapping uid 0 takes CAP_SETFCAP (Linux 5.12 and later), which a root
    /// without capabilities (in a container) lacks.
    RootWithoutCapabilities,
    /// None of these: a seccomp filter may forbid it (container runtimes' default).
    Unknown,
}

impl Blocker {
    /// Reads the switches; `errno` is what `unshare` said, if it was called.
    pub fn find(errno: Option<Errno>) -> Blocker {
        let sysctl = |key: &str| {
            std::fs::read_to_string(format!("/proc/sys/{key}"))
                .ok()
                .map(|v| v.trim().to_string())
        };
        if !std::path::Path::new("/proc/self/ns/user").exists() {
            return Blocker::NoKernelSupport;
        }
        if sysctl("kernel/unprivileged_userns_clone").as_deref() == Some("0") {
            return Blocker::UnprivilegedCloneOff;
        }
        let max = sysctl("user/max_user_namespaces").and_then(|v| v.parse().ok());
        if let Some(max) = max
            && (max == 0 || errno == Some(Errno::ENOSPC))
        {
            return Blocker::MaxUserNamespaces(max);
        }
        if sysctl("kernel/apparmor_restrict_unprivileged_userns").as_deref() == Some("1") {
            return Blocker::AppArmor;
        }
        Blocker::Unknown
    }
}

impl fmt::Display for Blocker {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Blocker::NoKernelSupport => {
                write!(f, "this kernel has no user namespaces (CONFIG_USER_NS)")
            }
            Blocker::UnprivilegedCloneOff => write!(
                f,
                "kernel.unprivileged_userns_clone is 0, which keeps them from ordinary users; as root, `sysctl -w kernel.unprivileged_userns_clone=1` allows them"
            ),
            Blocker::MaxUserNamespaces(0) => write!(
                f,
                "user.max_user_namespaces is 0; as root, `sysctl -w user.max_user_namespaces=15000` allows them"
            ),
            Blocker::MaxUserNamespaces(max) => write!(
                f,
                "the limit user.max_user_namespaces ({max}) is reached; as root, `sysctl -w user.max_user_namespaces=N` raises it"
            ),
            Blocker::AppArmor => write!(
                f,
                "kernel.apparmor_restrict_unprivileged_userns is 1: AppArmor denies them to programs without a profile allowing `userns`; as root, `sysctl -w kernel.apparmor_restrict_unprivileged_userns=0` lifts that"
            ),
            Blocker::RootWithoutCapabilities => write!(
                f,
                "uid 0 without CAP_SETFCAP may not be mapped into a user namespace: run netpol as an ordinary user"
            ),
            Blocker::Unknown => write!(
                f,
                "no sysctl forbids them (kernel.unprivileged_userns_clone, user.max_user_namespaces, kernel.apparmor_restrict_unprivileged_userns), so a seccomp filter may (a container runtime's default)"
            ),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_the_identity_map_of_every_uid_is_the_hosts() {
        assert!(is_initial("         0          0 4294967295\n"));
        assert!(!is_initial("         0       1000          1\n"));
        assert!(!is_initial("0 0 1\n"));
        assert!(!is_initial(""));
    }
}
