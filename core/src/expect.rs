//! Expectations: what the specification says must happen to each probe,
//! as a default verdict overridden by ordered rules.

use std::fmt;

use serde::{Deserialize, Serialize};

use crate::cluster::{Cluster, IpFamily, Protocol};
use crate::peer::PeerPattern;
use crate::probe::Probe;

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Verdict {
    Allowed,
    Denied,
}

impl Verdict {
    pub fn from_allowed(allowed: bool) -> Verdict {
        if allowed {
            Verdict::Allowed
        } else {
            Verdict::Denied
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Verdict::Allowed => "allowed",
            Verdict::Denied => "denied",
        }
    }
}

impl fmt::Display for Verdict {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// One `expect.rules` entry: `from`/`to` default to `*`, `port` and
/// `protocol` to any.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ExpectRule {
    pub from: PeerPattern,
    pub to: PeerPattern,
    pub port: Option<u16>,
    pub protocol: Option<Protocol>,
    /// `family` (1.1): `None`, any.
    pub family: Option<IpFamily>,
    pub verdict: Verdict,
}

impl ExpectRule {
    pub fn applies(&self, cluster: &Cluster, probe: &Probe) -> bool {
        self.family.is_none_or(|f| f == probe.family)
            && self.from.matches(cluster, probe.from)
            && self.to.matches(cluster, probe.to)
            && self.port.is_none_or(|p| p == probe.port)
            && self.protocol.is_none_or(|p| p == probe.protocol)
    }
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Expectation {
    pub default: Verdict,
    pub rules: Vec<ExpectRule>,
}

impl Expectation {
    /// The expected verdict: the default, then every matching rule in order
    /// (the last one wins). A pod's traffic to itself is always allowed.
    pub fn verdict(&self, cluster: &Cluster, probe: &Probe) -> Verdict {
        if probe.is_self() {
            return Verdict::Allowed;
        }
        // The last matching rule wins.
        self.rules
            .iter()
            .rev()
            .find(|r| r.applies(cluster, probe))
            .map_or(self.default, |r| r.verdict)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cluster::Endpoint;

    fn rule(from: &str, to: &str, port: Option<u16>, verdict: Verdict) -> ExpectRule {
        ExpectRule {
            from: PeerPattern::parse(from).unwrap(),
            to: PeerPattern::parse(to).unwrap(),
            port,
            protocol: None,
            family: None,
            verdict,
        }
    }

    #[test]
    fn later_rules_override_earlier_ones_and_self_traffic_is_allowed() {
        let c = Cluster::standard();
        let e = Expectation {
            default: Verdict::Allowed,
            rules: vec![
                rule("*", "x/*", None, Verdict::Denied),
                rule("x/b", "x/a", Some(80), Verdict::Allowed),
            ],
        };
        let probe = |from, to, port| Probe {
            family: IpFamily::IPv4,
            from: Endpoint::Pod(from),
            to: Endpoint::Pod(to),
            port,
            protocol: Protocol::Tcp,
        };
        let cases = [
            (
                probe(1, 0, 80),
                Verdict::Allowed,
                "x/b -> x/a:80 matched by the later rule",
            ),
            (
                probe(1, 0, 81),
                Verdict::Denied,
                "x/b -> x/a:81 only the first rule matches",
            ),
            (
                probe(3, 0, 80),
                Verdict::Denied,
                "y/a -> x/a denied by the first rule",
            ),
            (
                probe(0, 3, 80),
                Verdict::Allowed,
                "x/a -> y/a: no rule, the default",
            ),
            (
                probe(0, 0, 81),
                Verdict::Allowed,
                "self-traffic overrides every rule",
            ),
        ];
        for (p, want, why) in cases {
            assert_eq!(e.verdict(&c, &p), want, "{why}");
        }
    }
}
