//! Peer patterns of the scenario format (`x/a`, `x/*`, `*/a`, `*/*`,
//! `ext:gw`, `ext:*`, `node:node-1`, `node:*`, `*`): how probes and
//! expectations name the endpoints they apply to.

use std::fmt;

use crate::cluster::{Cluster, Endpoint};

/// `None` in a field is the `*` wildcard.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum PeerPattern {
    /// `*`: every pod, external host and node.
    Any,
    Pod {
        namespace: Option<String>,
        name: Option<String>,
    },
    External(Option<String>),
    Node(Option<String>),
}

#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error(
    "invalid peer {text:?}: {reason} (expected x/a, x/*, */a, */*, ext:NAME, ext:*, node:NAME, node:* or *)"
)]
pub struct PeerPatternError {
    pub text: String,
    pub reason: &'static str,
}

impl PeerPattern {
    pub fn parse(text: &str) -> Result<PeerPattern, PeerPatternError> {
        let err = |reason| PeerPatternError {
            text: text.to_string(),
            reason,
        };
        let part = |s: &str| -> Result<Option<String>, PeerPatternError> {
            match s {
                "*" => Ok(None),
                "" => Err(err("empty name")),
                s if s.contains(['*', '/', ':']) || s.chars().any(char::is_whitespace) => {
                    Err(err("a name may not contain '*', '/', ':' or spaces"))
                }
                s => Ok(Some(s.to_string())),
            }
        };
        if text == "*" {
            return Ok(PeerPattern::Any);
        }
        if let Some(rest) = text.strip_prefix("ext:") {
            return Ok(PeerPattern::External(part(rest)?));
        }
        if let Some(rest) = text.strip_prefix("node:") {
            return Ok(PeerPattern::Node(part(rest)?));
        }
        match text.split_once('/') {
            Some((ns, name)) => Ok(PeerPattern::Pod {
                namespace: part(ns)?,
                name: part(name)?,
            }),
            None => Err(err("a pod is written namespace/name")),
        }
    }

    pub fn matches(&self, cluster: &Cluster, e: Endpoint) -> bool {
        fn eq(want: Option<&str>, have: &str) -> bool {
            want.is_none_or(|w| w == have)
        }
        match (self, e) {
            (PeerPattern::Any, _) => true,
            (PeerPattern::Pod { namespace, name }, Endpoint::Pod(i)) => {
                let pod = &cluster.pods[i];
                eq(namespace.as_deref(), &pod.namespace) && eq(name.as_deref(), &pod.name)
            }
            (PeerPattern::External(name), Endpoint::External(i)) => {
                eq(name.as_deref(), &cluster.externals[i].name)
            }
            (PeerPattern::Node(name), Endpoint::Node(i)) => {
                eq(name.as_deref(), &cluster.nodes[i].name)
            }
            _ => false,
        }
    }

    /// Every endpoint of the cluster the pattern names, in cluster order.
    pub fn select(&self, cluster: &Cluster) -> Vec<Endpoint> {
        cluster
            .endpoints()
            .filter(|&e| self.matches(cluster, e))
            .collect()
    }
}

impl fmt::Display for PeerPattern {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let star = |o: &Option<String>| o.clone().unwrap_or_else(|| "*".to_string());
        match self {
            PeerPattern::Any => f.write_str("*"),
            PeerPattern::Pod { namespace, name } => write!(f, "{}/{}", star(namespace), star(name)),
            PeerPattern::External(name) => write!(f, "ext:{}", star(name)),
            PeerPattern::Node(name) => write!(f, "node:{}", star(name)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn patterns_select_what_the_format_table_says() {
        let c = Cluster::standard();
        let names = |p: &str| -> Vec<String> {
            PeerPattern::parse(p)
                .unwrap()
                .select(&c)
                .into_iter()
                .map(|e| c.endpoint_name(e))
                .collect()
        };
        let cases: &[(&str, &[&str], &str)] = &[
            ("x/a", &["x/a"], "one pod"),
            ("x/*", &["x/a", "x/b", "x/c"], "every pod of a namespace"),
            ("*/b", &["x/b", "y/b", "z/b"], "every pod of that name"),
            ("node:node-2", &["node:node-2"], "a node's own address"),
            ("node:*", &["node:node-1", "node:node-2"], "every node"),
            ("ext:*", &[], "the standard cluster has no externals"),
        ];
        for (pattern, want, why) in cases {
            assert_eq!(names(pattern), *want, "{pattern}: {why}");
        }
        assert_eq!(names("*/*").len(), 9, "*/* is every pod");
        assert_eq!(names("*").len(), 11, "* is every pod and node");
    }

    #[test]
    fn malformed_patterns_are_rejected() {
        for bad in [
            "x", "x/", "/a", "ext:", "node:", "x/a/b", "x/a*", "pod:a", "x /a",
        ] {
            assert!(
                PeerPattern::parse(bad).is_err(),
                "{bad:?} should be rejected"
            );
        }
    }

    #[test]
    fn display_round_trips() {
        for p in [
            "*",
            "x/a",
            "*/*",
            "x/*",
            "ext:gw",
            "ext:*",
            "node:node-1",
            "node:*",
        ] {
            assert_eq!(PeerPattern::parse(p).unwrap().to_string(), p);
        }
    }
}
