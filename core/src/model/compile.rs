//! Compiling NetworkPolicy objects against a round's cluster: selectors
//! become pod sets, policy types are defaulted, peers and ports are parsed.

use k8s_openapi::api::networking::v1::{NetworkPolicyPeer, NetworkPolicyPort, NetworkPolicySpec};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::LabelSelector;
use k8s_openapi::apimachinery::pkg::util::intstr::IntOrString;
use kube::core::{Selector, SelectorExt};

use super::{BitSet, CompiledPolicy, Model, Peer, Port, PortNumbers, Rule};
use crate::cluster::{Cluster, Protocol};
use crate::scenario::Policy;
use crate::validation::cidr::parse_cidr_sloppy;

/// A policy the model cannot interpret. The loader validates policies as
/// the API server does, so this only happens to policies that skipped it.
#[derive(Debug, thiserror::Error)]
#[error("{policy}: {message}")]
pub struct CompileError {
    pub policy: String,
    pub message: String,
}

pub(super) fn compile<'c>(
    cluster: &'c Cluster,
    policies: &[Policy],
) -> Result<Model<'c>, CompileError> {
    let mut model = Model {
        cluster,
        policies: Vec::with_capacity(policies.len()),
        ingress_isolating: vec![Vec::new(); cluster.pods.len()],
        egress_isolating: vec![Vec::new(); cluster.pods.len()],
        cluster_policies: Vec::new(),
    };
    for policy in policies {
        let index = model.policies.len();
        let c = Compiler { cluster, policy };
        let default_spec = NetworkPolicySpec::default();
        let spec = policy.object.spec.as_ref().unwrap_or(&default_spec);
        let (has_ingress, has_egress) = policy_types(spec);
        // rule: policy-types-ignore-rules (the rules of an unlisted type are not compiled).
        let compiled = CompiledPolicy {
            key: policy.key(),
            ingress: has_ingress
                .then(|| {
                    c.rules(
                        spec.ingress
                            .iter()
                            .flatten()
                            .map(|r| (r.from.as_deref(), r.ports.as_deref())),
                    )
                })
                .transpose()?,
            egress: has_egress
                .then(|| {
                    c.rules(
                        spec.egress
                            .iter()
                            .flatten()
                            .map(|r| (r.to.as_deref(), r.ports.as_deref())),
                    )
                })
                .transpose()?,
        };
        // A pod is isolated for a direction if a policy of its namespace
        // selects it and has that direction among its policy types.
        // rule: isolation, empty-policy-selector
        let selected = c.pods(Some(&policy.namespace), spec.pod_selector.as_ref(), None)?;
        for pod in 0..cluster.pods.len() {
            if selected.contains(pod) {
                if has_ingress {
                    model.ingress_isolating[pod].push(index);
                }
                if has_egress {
                    model.egress_isolating[pod].push(index);
                }
            }
        }
        model.policies.push(compiled);
    }
    Ok(model)
}

/// Policy types, defaulted: when absent (or empty), `Ingress` always, plus
/// `Egress` if the policy has egress rules.
// rule: policy-types-default
pub(super) fn policy_types(spec: &NetworkPolicySpec) -> (bool, bool) {
    match spec.policy_types.as_deref() {
        Some(types) if !types.is_empty() => (
            types.iter().any(|t| t == "Ingress"),
            types.iter().any(|t| t == "Egress"),
        ),
        _ => (true, spec.egress.as_ref().is_some_and(|e| !e.is_empty())),
    }
}

struct Compiler<'a> {
    cluster: &'a Cluster,
    policy: &'a Policy,
}

impl Compiler<'_> {
    fn error(&self, message: impl Into<String>) -> CompileError {
        CompileError {
            policy: format!("NetworkPolicy {}", self.policy.key()),
            message: message.into(),
        }
    }

    fn rules<'r>(
        &self,
        rules: impl Iterator<
            Item = (
                Option<&'r [NetworkPolicyPeer]>,
                Option<&'r [NetworkPolicyPort]>,
            ),
        >,
    ) -> Result<Vec<Rule>, CompileError> {
        rules
            .map(|(peers, ports)| {
                // `from`/`to` or `ports` absent or empty: any; with neither,
                // `ingress: [{}]`, the rule allows everything.
                // rule: peers-absent-any, ports-absent-any, empty-rule-allows-all
                let peers = match peers {
                    Some(list) if !list.is_empty() => Some(
                        list.iter()
                            .map(|p| self.peer(p))
                            .collect::<Result<_, _>>()?,
                    ),
                    _ => None,
                };
                let ports = match ports {
                    Some(list) if !list.is_empty() => Some(
                        list.iter()
                            .map(|p| self.port(p))
                            .collect::<Result<_, _>>()?,
                    ),
                    _ => None,
                };
                Ok(Rule { peers, ports })
            })
            .collect()
    }

    fn peer(&self, peer: &NetworkPolicyPeer) -> Result<Peer, CompileError> {
        if let Some(block) = &peer.ip_block {
            let parse = |s: &String| {
                parse_cidr_sloppy(s)
                    .ok_or_else(|| self.error(format!("invalid CIDR {s:?} in ipBlock")))
            };
            let cidr = parse(&block.cidr)?;
            let except = block
                .except
                .iter()
                .flatten()
                .map(parse)
                .collect::<Result<_, _>>()?;
            return Ok(Peer::IpBlock { cidr, except });
        }
        let pods = match (&peer.namespace_selector, &peer.pod_selector) {
            // podSelector alone: pods of the policy's own namespace.
            // rule: pod-selector-own-namespace
            (None, pod_selector) => {
                self.pods(Some(&self.policy.namespace), pod_selector.as_ref(), None)?
            }
            // namespaceSelector (with a podSelector: AND): pods of the selected
            // namespaces. Two peers are an OR (`any` in `peer_matches`).
            // rule: namespace-selector, peer-and-vs-or
            (Some(ns_selector), pod_selector) => {
                self.pods(None, pod_selector.as_ref(), Some(ns_selector))?
            }
        };
        Ok(Peer::Pods(pods))
    }

    /// The pods in `namespace` (or in namespaces matching `ns_selector`)
    /// whose labels match `pod_selector` (absent: every pod).
    fn pods(
        &self,
        namespace: Option<&str>,
        pod_selector: Option<&LabelSelector>,
        ns_selector: Option<&LabelSelector>,
    ) -> Result<BitSet, CompileError> {
        let pod_selector = self.selector(pod_selector)?;
        let ns_selector = self.selector(ns_selector)?;
        let namespace_ok: Vec<bool> = self
            .cluster
            .namespaces
            .iter()
            // rule: metadata-name-label (`ns.labels` hold it:
            // `cluster::namespace_labels` stores them as the API server does).
            .map(|ns| namespace.is_none_or(|n| n == ns.name) && ns_selector.matches(&ns.labels))
            .collect();
        let mut set = BitSet::new(self.cluster.pods.len());
        for (i, pod) in self.cluster.pods.iter().enumerate() {
            let in_namespace = self
                .cluster
                .namespace_index(&pod.namespace)
                .is_some_and(|n| namespace_ok[n]);
            if in_namespace && pod_selector.matches(&pod.labels) {
                set.insert(i);
            }
        }
        Ok(set)
    }

    /// An absent selector, like an empty one, selects everything; kube's
    /// `Selector` requires every matchLabels entry AND every expression.
    // rule: empty-selector, label-selector
    fn selector(&self, s: Option<&LabelSelector>) -> Result<Selector, CompileError> {
        match s {
            None => Ok(Selector::default()),
            Some(s) => Selector::try_from(s.clone()).map_err(|e| self.error(e.to_string())),
        }
    }

    fn port(&self, p: &NetworkPolicyPort) -> Result<Port, CompileError> {
        // rule: port-without-protocol-is-tcp
        let protocol = match p.protocol.as_deref() {
            None => Protocol::Tcp,
            Some(s) => Protocol::parse(s)
                .ok_or_else(|| self.error(format!("unsupported protocol {s:?}")))?,
        };
        let number = |n: i32| {
            u16::try_from(n)
                .ok()
                .filter(|&n| n > 0)
                .ok_or_else(|| self.error(format!("invalid port {n}")))
        };
        let numbers = match &p.port {
            None => PortNumbers::All,
            Some(IntOrString::String(name)) => PortNumbers::Named(name.clone()),
            Some(IntOrString::Int(n)) => {
                let lo = number(*n)?;
                // rule: endport-range (with a numeric port, port..=endPort).
                let hi = p.end_port.map(number).transpose()?.unwrap_or(lo);
                PortNumbers::Range(lo, hi)
            }
        };
        Ok(Port { protocol, numbers })
    }
}
