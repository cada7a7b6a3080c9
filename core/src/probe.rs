//! Probes: one connection attempt from a source to a destination on one
//! port and protocol, and the probe set a scenario asks for.

use std::fmt;

use serde::{Deserialize, Serialize};

use crate::cluster::{Cluster, Endpoint, IpFamily, Protocol};
use crate::peer::PeerPattern;

/// A port number and the protocol it is probed with.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub struct PortProtocol {
    pub port: u16,
    pub protocol: Protocol,
}

impl fmt::Display for PortProtocol {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.port, self.protocol)
    }
}

/// The default probe ports: 80 and 81 on TCP, UDP and SCTP.
pub fn default_ports() -> Vec<PortProtocol> {
    [80u16, 81]
        .into_iter()
        .flat_map(|port| {
            Protocol::ALL
                .into_iter()
                .map(move |protocol| PortProtocol { port, protocol })
        })
        .collect()
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Probe {
    /// Sent over this family, from and to the ends' addresses of it.
    pub family: IpFamily,
    pub from: Endpoint,
    pub to: Endpoint,
    pub port: u16,
    pub protocol: Protocol,
}

impl Probe {
    pub fn port_protocol(&self) -> PortProtocol {
        PortProtocol {
            port: self.port,
            protocol: self.protocol,
        }
    }

    /// A pod's traffic to itself, which no policy can block.
    pub fn is_self(&self) -> bool {
        self.from == self.to
    }
}

/// The probes the spec allows whatever the policies say (rules
/// `self-traffic` and `own-node` of `docs/spec-notes.md`), on every port each
/// destination serves: every pod to itself, every pod to and from the node
/// it runs on. A run sends them after every sync, so that an enforcer that
/// broke the lab (links down, everything dropped) shows as an error instead
/// of passing the scenarios that expect denials.
pub fn sanity_probes(cluster: &Cluster) -> Vec<Probe> {
    let mut probes = Vec::new();
    // rule: family-exceptions (in every family of the cluster)
    for &family in &cluster.families {
        for (i, pod) in cluster.pods.iter().enumerate().filter(|(_, p)| p.present) {
            let (pod_end, node_end) = (Endpoint::Pod(i), Endpoint::Node(pod.node));
            for p in &pod.ports {
                for from in [pod_end, node_end] {
                    probes.push(Probe {
                        family,
                        from,
                        to: pod_end,
                        port: p.port,
                        protocol: p.protocol,
                    });
                }
            }
            for p in &cluster.nodes[pod.node].ports {
                probes.push(Probe {
                    family,
                    from: pod_end,
                    to: node_end,
                    port: p.port,
                    protocol: p.protocol,
                });
            }
        }
    }
    probes
}

/// Which traffic a scenario sends, as the `probes` key gives it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ProbeSpec {
    pub from: Vec<PeerPattern>,
    pub to: Vec<PeerPattern>,
    pub ports: Vec<PortProtocol>,
    /// `probes.families`; `None`: every family of the cluster.
    pub families: Option<Vec<IpFamily>>,
}

impl Default for ProbeSpec {
    /// Every pod and external to every pod and external, on the default ports.
    fn default() -> Self {
        let everyone = vec![
            PeerPattern::Pod {
                namespace: None,
                name: None,
            },
            PeerPattern::External(None),
        ];
        ProbeSpec {
            from: everyone.clone(),
            to: everyone,
            ports: default_ports(),
            families: None,
        }
    }
}

impl ProbeSpec {
    /// The probes to send: families × sources × destinations × ports, in
    /// cluster order, without external-to-external pairs (never sent),
    /// without ports the destination does not serve (no server would answer
    /// them), and in a family only between ends that both have an address
    /// of it.
    pub fn probes(&self, cluster: &Cluster) -> Vec<Probe> {
        let select = |patterns: &[PeerPattern]| -> Vec<Endpoint> {
            cluster
                .endpoints()
                .filter(|&e| patterns.iter().any(|p| p.matches(cluster, e)))
                .collect()
        };
        let (sources, destinations) = (select(&self.from), select(&self.to));
        let families = self
            .families
            .as_deref()
            .unwrap_or(&cluster.families)
            .iter()
            .filter(|f| cluster.has_family(**f));
        let mut probes = Vec::new();
        for &family in families {
            let has = |e| cluster.endpoint_ip(e, family).is_some();
            for &from in sources.iter().filter(|&&e| has(e)) {
                for &to in destinations.iter().filter(|&&e| has(e)) {
                    if matches!((from, to), (Endpoint::External(_), Endpoint::External(_))) {
                        continue;
                    }
                    for pp in &self.ports {
                        if cluster.serves(to, pp.port, pp.protocol) {
                            probes.push(Probe {
                                family,
                                from,
                                to,
                                port: pp.port,
                                protocol: pp.protocol,
                            });
                        }
                    }
                }
            }
        }
        probes
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn default_probes_on_the_standard_cluster_are_9_by_9_by_6() {
        let probes = ProbeSpec::default().probes(&Cluster::standard());
        assert_eq!(probes.len(), 486);
        assert_eq!(
            probes.iter().filter(|p| p.is_self()).count(),
            54,
            "each pod probes itself on 6 ports"
        );
    }

    #[test]
    fn sanity_probes_are_self_and_own_node_traffic_that_no_policy_can_deny() {
        let text = "name: s\npolicies:\n- apiVersion: networking.k8s.io/v1\n  kind: NetworkPolicy\n  metadata: {name: deny-all, namespace: x}\n  spec: {podSelector: {}, policyTypes: [Ingress, Egress]}\n";
        let s = crate::scenario::load_str(std::path::Path::new("s.yaml"), text)
            .loaded
            .expect("loads");
        let round = &s.rounds[0];
        let c = &round.cluster;
        let probes = sanity_probes(c);
        // 9 pods: to itself and from its node on its 6 ports, to its node on the node's 6.
        assert_eq!(probes.len(), 9 * (6 * 2 + 6));
        let model = crate::model::Model::new(c, &round.policies, &round.cluster_policies).unwrap();
        for p in &probes {
            let own_node = |e: Endpoint, pod: Endpoint| match (e, pod) {
                (Endpoint::Node(n), Endpoint::Pod(i)) => c.pods[i].node == n,
                _ => false,
            };
            assert!(
                p.is_self() || own_node(p.from, p.to) || own_node(p.to, p.from),
                "{p:?}"
            );
            assert!(c.serves(p.to, p.port, p.protocol), "{p:?}");
            assert!(model.allows(p), "the spec allows {p:?} under deny-all");
        }
    }

    #[test]
    fn ports_the_destination_does_not_serve_are_not_probed() {
        let mut c = Cluster::standard();
        c.pods[1].ports.retain(|p| p.port == 80);
        let spec = ProbeSpec {
            from: vec![PeerPattern::parse("x/a").unwrap()],
            to: vec![PeerPattern::parse("x/b").unwrap()],
            ports: default_ports(),
            families: None,
        };
        let probes = spec.probes(&c);
        assert_eq!(probes.len(), 3);
        assert!(probes.iter().all(|p| p.port == 80));
    }
}
