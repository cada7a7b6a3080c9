//! `netpol run` as an ordinary user: before it starts anything, the run
//! enters a user namespace of its own ([`netpol::userns`]) and builds its
//! labs there.

use netpol::report::terminal::Verbosity;
use netpol::userns::{self, Standing};

use super::{Failure, usage};

/// How a run got the privileges its labs need.
#[derive(Debug)]
pub struct Privileges {
    /// The `nsenter` command, with what it takes to enter the run's
    /// namespaces from outside (`--pause`): from the host, a network
    /// namespace of a user namespace is entered through that user namespace,
    /// keeping the user's ids (mapped to root there; the user namespace
    /// denies setgroups, which nsenter would otherwise call).
    pub nsenter: String,
}

/// Enters a user namespace unless the process is root, and says so with
/// `-v`. Must run before any thread starts (the kernel's rule).
pub fn acquire(keep: bool, verbosity: Verbosity) -> Result<Privileges, Failure> {
    let note = match userns::standing() {
        Standing::Root => {
            return Ok(Privileges {
                nsenter: "nsenter".to_string(),
            });
        }
        // A bind mount under /run/netns is what outlives a run; a user
        // namespace ends with the run, and may not write /run/netns.
        _ if keep => {
            return Err(usage(anyhow::anyhow!(
                "--keep needs root: it names the lab's namespaces under /run/netns so that they outlive the run, and the user namespace a run builds its labs in as an ordinary user ends with the run; use --pause to inspect a lab while the run waits"
            )));
        }
        Standing::UserNamespace { uid_map } => {
            format!("rootless: running in a user namespace (uid map: {uid_map})")
        }
        Standing::Unprivileged => {
            let entered = userns::enter().map_err(|e| {
                usage(anyhow::anyhow!(
                    "netpol run builds network namespaces: it needs root, or for an ordinary user a user namespace of its own, but {e}; or run netpol as root"
                ))
            })?;
            format!(
                "rootless: uid {uid} lacks CAP_SYS_ADMIN and CAP_NET_ADMIN, so the run is in a user namespace of its own (uid {uid} mapped to root, gid {gid} to group 0), with its own network and mount namespaces, and builds its labs there",
                uid = entered.uid,
                gid = entered.gid
            )
        }
    };
    if verbosity >= Verbosity::Verbose {
        println!("{note}");
    }
    Ok(Privileges {
        nsenter: format!(
            "nsenter --preserve-credentials --user=/proc/{}/ns/user",
            std::process::id()
        ),
    })
}
