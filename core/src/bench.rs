//! `netpol bench`: how many verdicts per second the model gives, on a
//! synthetic cluster of a given size with a mix of every kind of policy
//! (selectors, expressions, ipBlocks, numeric, ranged and named ports, both
//! directions). Deterministic: the same sizes give the same cluster.

use std::net::Ipv4Addr;

use crate::rng::Rng;
use std::time::{Duration, Instant};

use serde_json::{Value, json};

use crate::cluster::{Cluster, Endpoint, Namespace, Node, Pod, namespace_labels, standard_ports};
use crate::field_path::FieldPath;
use crate::model::Model;
use crate::probe::{Probe, default_ports};
use crate::scenario::Policy;

/// SplitMix64: a small, deterministic generator.
const APPS: [&str; 5] = ["web", "api", "db", "cache", "batch"];
const TIERS: [&str; 3] = ["front", "back", "data"];
const TEAMS: [&str; 2] = ["red", "blue"];

/// A cluster of `pods` pods over 4 nodes and 10 namespaces.
pub fn synthetic_cluster(pods: usize) -> Cluster {
    let mut rng = Rng::new(1);
    let nodes = (0..4)
        .map(|i| Node {
            labels: crate::cluster::node_labels(
                &format!("node-{}", i + 1),
                crate::cluster::Labels::new(),
            ),
            name: format!("node-{}", i + 1),
            ips: crate::cluster::Addresses::v4(crate::cluster::default_node_ip(i)),
            ports: standard_ports(),
        })
        .collect();
    let namespaces = (0..10)
        .map(|i| {
            let name = format!("ns-{i}");
            let team = rng.pick(&TEAMS).to_string();
            Namespace {
                labels: namespace_labels(&name, [("team".to_string(), team)].into()),
                name,
            }
        })
        .collect();
    let pods = (0..pods)
        .map(|i| Pod {
            namespace: format!("ns-{}", i % 10),
            name: format!("pod-{i}"),
            labels: [
                ("app".to_string(), rng.pick(&APPS).to_string()),
                ("tier".to_string(), rng.pick(&TIERS).to_string()),
            ]
            .into(),
            node: i % 4,
            present: true,
            ips: crate::cluster::Addresses::v4(Ipv4Addr::new(
                10,
                244,
                u8::try_from(i % 4 + 1).expect("4 nodes"),
                u8::try_from(10 + i / 4)
                    .expect("at most 900 pods (bench's limit): hosts .10 to .234"),
            )),
            ports: standard_ports(),
        })
        .collect();
    Cluster {
        families: vec![crate::cluster::IpFamily::IPv4],
        nodes,
        namespaces,
        pods,
        externals: Vec::new(),
    }
}

/// `count` policies of every kind, spread over the cluster's namespaces.
pub fn synthetic_policies(cluster: &Cluster, count: usize) -> Vec<Policy> {
    let mut rng = Rng::new(2);
    (0..count)
        .map(|i| {
            let namespace = cluster.namespaces[rng.below(cluster.namespaces.len())].name.clone();
            let selector = match rng.below(3) {
                0 => json!({}),
                1 => json!({"matchLabels": {"app": rng.pick(&APPS)}}),
                _ => json!({"matchExpressions": [{"key": "tier", "operator": "In", "values": [rng.pick(&TIERS), rng.pick(&TIERS)]}]}),
            };
            let mut rule = |direction: &str| -> Value {
                let peer = match rng.below(4) {
                    0 => json!({"podSelector": {"matchLabels": {"app": rng.pick(&APPS)}}}),
                    1 => json!({"namespaceSelector": {"matchLabels": {"team": rng.pick(&TEAMS)}}}),
                    2 => json!({"namespaceSelector": {}, "podSelector": {"matchExpressions": [{"key": "app", "operator": "NotIn", "values": [rng.pick(&APPS)]}]}}),
                    _ => json!({"ipBlock": {"cidr": "10.244.0.0/16", "except": [format!("10.244.{}.0/24", rng.below(4) + 1)]}}),
                };
                let port = match rng.below(4) {
                    0 => json!({"port": 80}),
                    1 => json!({"port": 80, "endPort": 81, "protocol": "UDP"}),
                    2 => json!({"port": "serve-81-sctp", "protocol": "SCTP"}),
                    _ => json!({"protocol": "TCP"}),
                };
                let key = if direction == "ingress" { "from" } else { "to" };
                json!({key: [peer], "ports": [port]})
            };
            let spec = if i % 3 == 0 {
                json!({"podSelector": selector, "ingress": [rule("ingress"), rule("ingress")], "egress": [rule("egress")]})
            } else {
                json!({"podSelector": selector, "ingress": [rule("ingress"), rule("ingress")]})
            };
            let name = format!("policy-{i}");
            let object = serde_json::from_value(json!({
                "apiVersion": "networking.k8s.io/v1", "kind": "NetworkPolicy",
                "metadata": {"name": name, "namespace": namespace}, "spec": spec,
            }))
            .expect("a synthetic NetworkPolicy decodes");
            Policy { namespace, name, object, origin: FieldPath::root() }
        })
        .collect()
}

#[derive(Debug)]
pub struct BenchResult {
    pub pods: usize,
    pub policies: usize,
    pub compile: Duration,
    pub verdicts: u64,
    pub allowed: u64,
    pub elapsed: Duration,
}

impl BenchResult {
    pub fn verdicts_per_second(&self) -> f64 {
        self.verdicts as f64 / self.elapsed.as_secs_f64()
    }
}

/// Compiles the synthetic policies, then gives verdicts for every pod pair
/// on the six default ports, over and over, for at least `duration`, on
/// this thread.
pub fn run(pods: usize, policies: usize, duration: Duration) -> BenchResult {
    let cluster = synthetic_cluster(pods);
    let policy_list = synthetic_policies(&cluster, policies);
    let t = Instant::now();
    let model = Model::new(&cluster, &policy_list, &[]).expect("synthetic policies compile");
    let compile = t.elapsed();
    let probes: Vec<Probe> = (0..pods)
        .flat_map(|from| (0..pods).map(move |to| (from, to)))
        .flat_map(|(from, to)| {
            default_ports().into_iter().map(move |pp| Probe {
                family: crate::cluster::IpFamily::IPv4,
                from: Endpoint::Pod(from),
                to: Endpoint::Pod(to),
                port: pp.port,
                protocol: pp.protocol,
            })
        })
        .collect();
    let (mut verdicts, mut allowed) = (0u64, 0u64);
    let start = Instant::now();
    while start.elapsed() < duration {
        for p in &probes {
            allowed += u64::from(model.allows(std::hint::black_box(p)));
        }
        verdicts += probes.len() as u64;
    }
    BenchResult {
        pods,
        policies,
        compile,
        verdicts,
        allowed,
        elapsed: start.elapsed(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn synthetic_input_is_deterministic_and_mixed() {
        let c = synthetic_cluster(100);
        let a = synthetic_policies(&c, 50);
        let b = synthetic_policies(&c, 50);
        assert_eq!(a, b, "the same sizes give the same policies");
        let model = Model::new(&c, &a, &[]).unwrap();
        let probes: Vec<Probe> = (0..100)
            .flat_map(|f| {
                (0..100).map(move |t| Probe {
                    family: crate::cluster::IpFamily::IPv4,
                    from: Endpoint::Pod(f),
                    to: Endpoint::Pod(t),
                    port: 80,
                    protocol: crate::cluster::Protocol::Tcp,
                })
            })
            .collect();
        let allowed = probes.iter().filter(|p| model.allows(p)).count();
        assert!(
            allowed > 0 && allowed < probes.len(),
            "a mix of allowed and denied verdicts ({allowed} of {})",
            probes.len()
        );
    }
}
