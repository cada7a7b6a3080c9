//! `--keep`: a lab's namespaces named under `/run/netns` (as `ip netns`
//! names them), so that they outlive the run for inspection. Only on
//! request: a named namespace is the one thing a killed run could leave.

use std::fmt::Write;
use std::io;
use std::path::Path;

use nix::mount::{MsFlags, mount};

use super::Lab;

const NETNS_DIR: &str = "/run/netns";

#[derive(Debug)]
pub struct Kept {
    pub names: Vec<String>,
}

impl Kept {
    /// How to enter each namespace, and how to remove them all.
    pub fn instructions(&self) -> String {
        let mut s = String::from(
            "lab kept (its servers stopped with the run; namespaces, links, routes and rules remain):\n",
        );
        for name in &self.names {
            let _ = writeln!(s, "  ip netns exec {name} bash");
        }
        let prefix = self
            .names
            .first()
            .and_then(|n| n.split("-fabric-").next())
            .unwrap_or("netpol-");
        let _ = write!(
            s,
            "remove it with: ip netns list | awk '/^{prefix}-/ {{print $1}}' | xargs -rn1 ip netns del"
        );
        s
    }
}

/// Names every namespace of `lab` under /run/netns.
pub fn keep(lab: &Lab) -> io::Result<Kept> {
    std::fs::create_dir_all(NETNS_DIR)?;
    let mut names = Vec::new();
    for ns in lab.namespaces() {
        let target = Path::new(NETNS_DIR).join(ns.name());
        std::fs::File::create(&target)?;
        mount(
            Some(&ns.path()),
            &target,
            None::<&str>,
            MsFlags::MS_BIND,
            None::<&str>,
        )
        .map_err(|e| {
            io::Error::other(format!(
                "bind-mounting {} on {}: {e}",
                ns.name(),
                target.display()
            ))
        })?;
        names.push(ns.name().to_string());
    }
    Ok(Kept { names })
}
