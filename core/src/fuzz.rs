//! `netpol fuzz`, the part without privileges: generated scenarios, the
//! smaller variants a shrinker tries, and the reproducer a disagreement
//! leaves.
//!
//! A case is an ordinary scenario document (the format of
//! `docs/scenario-format.md`) without `expect`: the model is its
//! expectation, so every probe the enforcer decides otherwise is a
//! disagreement. Cases go through the normal loader; one it rejects is a
//! bug of the generator, never skipped quietly.

use std::collections::{BTreeMap, BTreeSet};

use serde_json::{Map, Value, json};

use crate::features::Feature;
use crate::rng::Rng;

/// What a case may use: the features the implementation does not declare
/// unsupported.
#[derive(Clone, Debug)]
pub struct Allowed {
    unsupported: BTreeSet<Feature>,
}

impl Allowed {
    pub fn new(unsupported: &BTreeSet<Feature>) -> Allowed {
        Allowed {
            unsupported: unsupported.clone(),
        }
    }

    fn has(&self, f: Feature) -> bool {
        !self.unsupported.contains(&f)
    }
}

const APPS: [&str; 3] = ["web", "api", "db"];
const TIERS: [&str; 2] = ["front", "back"];
const TEAMS: [&str; 2] = ["red", "blue"];
const ENVS: [&str; 2] = ["prod", "dev"];
const NAMESPACES: [&str; 3] = ["alpha", "beta", "gamma"];

/// Blocks around the lab's addresses: pods (10.244.N.0/24), nodes
/// (192.168.100.N) and the externals the generator places.
const V4_BLOCKS: [(&str, &[&str]); 6] = [
    ("10.244.0.0/16", &["10.244.1.0/24"]),
    ("10.244.2.0/24", &[]),
    ("203.0.113.0/24", &["203.0.113.10/32", "203.0.113.12/31"]),
    ("0.0.0.0/0", &[]),
    ("192.168.100.0/24", &["192.168.100.1/32"]),
    ("0.0.0.0/0", &["10.244.0.0/16"]),
];
const V6_BLOCKS: [(&str, &[&str]); 4] = [
    ("fd00:10:244::/48", &["fd00:10:244:1::/64"]),
    ("::/0", &[]),
    ("2001:db8::/64", &["2001:db8::10/128"]),
    ("fd00:192:168:100::/64", &[]),
];

/// The case `case` of the run seeded `seed`: the same numbers give the same
/// document on every machine.
pub fn generate(seed: u64, case: u64, allowed: &Allowed) -> Value {
    let mut g = Generator {
        rng: Rng::new(seed ^ case.wrapping_mul(0x2545_F491_4F6C_DD1D)),
        allowed,
        dual_stack: false,
        namespaces: Vec::new(),
        pods: Vec::new(),
        priorities: BTreeMap::new(),
    };
    g.case(seed, case)
}

struct Generator<'a> {
    rng: Rng,
    allowed: &'a Allowed,
    dual_stack: bool,
    namespaces: Vec<String>,
    /// `namespace/name` of every pod.
    pods: Vec<String>,
    /// The priority of each ClusterNetworkPolicy in force, by name: no two
    /// share one, so that no verdict is left to the implementation.
    priorities: BTreeMap<String, u64>,
}

impl Generator<'_> {
    fn case(&mut self, seed: u64, case: u64) -> Value {
        self.dual_stack = self.allowed.has(Feature::Ipv6) && self.rng.one_in(4);
        let cluster_policies =
            self.allowed.has(Feature::ClusterNetworkPolicy) && self.rng.one_in(3);
        let mut doc = Map::new();
        doc.insert("name".into(), json!(format!("fuzz-{seed}-{case}")));
        doc.insert(
            "description".into(),
            json!(format!("netpol fuzz --seed {seed} --case {case}")),
        );
        if self.dual_stack || cluster_policies {
            doc.insert("formatVersion".into(), json!("1.1"));
        }
        if self.dual_stack {
            doc.insert("ipFamilies".into(), json!(["IPv4", "IPv6"]));
        }
        doc.insert("cluster".into(), self.cluster());
        let mut names: Vec<String> = Vec::new();
        let mut policies: Vec<Value> = (0..self.rng.between(usize::from(!cluster_policies), 3))
            .map(|i| self.policy(&format!("p{i}"), None))
            .collect();
        if cluster_policies {
            for i in 0..self.rng.between(1, 2) {
                let p = self.cluster_policy(&format!("c{i}"));
                policies.push(p);
            }
        }
        for p in &policies {
            names.push(key(p));
        }
        doc.insert("policies".into(), Value::Array(policies));
        let steps: Vec<Value> = (0..self.rng.between(0, 2))
            .map(|i| self.step(i, &mut names))
            .collect();
        if !steps.is_empty() {
            doc.insert("steps".into(), Value::Array(steps));
        }
        Value::Object(doc)
    }

    fn cluster(&mut self) -> Value {
        let nodes: Vec<Value> = (1..=self.rng.between(1, 3))
            .map(|n| json!({"name": format!("node-{n}")}))
            .collect();
        let node_count = nodes.len();
        self.namespaces = NAMESPACES[..self.rng.between(2, 3)]
            .iter()
            .map(ToString::to_string)
            .collect();
        let namespaces: Vec<Value> = self
            .namespaces
            .clone()
            .iter()
            .map(|ns| json!({"name": ns, "labels": self.namespace_labels()}))
            .collect();
        let pods: Vec<Value> = (0..self.rng.between(2, 5))
            .map(|i| {
                let ns = self.namespaces[self.rng.below(self.namespaces.len())].clone();
                self.pods.push(format!("{ns}/p{i}"));
                json!({
                    "name": format!("p{i}"),
                    "namespace": ns,
                    "node": format!("node-{}", 1 + self.rng.below(node_count)),
                    "labels": self.pod_labels(),
                })
            })
            .collect();
        // Inside and outside the generator's blocks, each used once.
        const V4: [&str; 4] = [
            "203.0.113.10",
            "203.0.113.13",
            "198.51.100.7",
            "203.0.113.99",
        ];
        let first = self.rng.below(V4.len());
        let second = (first + 1 + self.rng.below(V4.len() - 1)) % V4.len();
        let externals: Vec<Value> = [first, second][..self.rng.between(0, 2)]
            .iter()
            .enumerate()
            .map(|(i, &a)| {
                let mut e = json!({"name": format!("ext{i}")});
                if self.dual_stack {
                    e["ips"] = json!([V4[a], format!("2001:db8::{}", 10 + a)]);
                } else {
                    e["ip"] = json!(V4[a]);
                }
                e
            })
            .collect();
        json!({"nodes": nodes, "namespaces": namespaces, "pods": pods, "externals": externals})
    }

    fn pod_labels(&mut self) -> Value {
        let mut labels = json!({"app": self.rng.pick(&APPS)});
        if self.rng.one_in(2) {
            labels["tier"] = json!(self.rng.pick(&TIERS));
        }
        labels
    }

    fn namespace_labels(&mut self) -> Value {
        let mut labels = json!({"team": self.rng.pick(&TEAMS)});
        if self.rng.one_in(2) {
            labels["env"] = json!(self.rng.pick(&ENVS));
        }
        labels
    }

    /// A label selector over `keys`, from the vocabulary: empty,
    /// matchLabels, or a matchExpressions term of any operator.
    fn selector(&mut self, keys: &[(&str, &[&str])]) -> Value {
        let (key, values) = keys[self.rng.below(keys.len())];
        match self.rng.below(6) {
            0 => json!({}),
            1 | 2 => json!({"matchLabels": {key: self.rng.pick(values)}}),
            3 => {
                json!({"matchExpressions": [{"key": key, "operator": "In", "values": [self.rng.pick(values)]}]})
            }
            4 => {
                json!({"matchExpressions": [{"key": key, "operator": "NotIn", "values": [self.rng.pick(values)]}]})
            }
            _ => {
                let op = if self.rng.one_in(2) {
                    "Exists"
                } else {
                    "DoesNotExist"
                };
                json!({"matchExpressions": [{"key": key, "operator": op}]})
            }
        }
    }

    fn pod_selector(&mut self) -> Value {
        self.selector(&[("app", &APPS), ("tier", &TIERS)])
    }

    fn namespace_selector(&mut self) -> Value {
        self.selector(&[("team", &TEAMS), ("env", &ENVS)])
    }

    fn policy(&mut self, name: &str, namespace: Option<&str>) -> Value {
        let namespace = namespace.map_or_else(
            || self.namespaces[self.rng.below(self.namespaces.len())].clone(),
            ToString::to_string,
        );
        let mut spec = Map::new();
        spec.insert("podSelector".into(), self.pod_selector());
        let egress_ok = self.allowed.has(Feature::Egress);
        let types: Option<Vec<&str>> = match self.rng.below(4) {
            0 => None,
            1 => Some(vec!["Ingress"]),
            2 if egress_ok => Some(vec!["Egress"]),
            3 if egress_ok => Some(vec!["Ingress", "Egress"]),
            _ => Some(vec!["Ingress"]),
        };
        // Without policyTypes, egress rules would make it Egress too.
        let may_egress = egress_ok && types.as_ref().is_none_or(|t| t.contains(&"Egress"));
        if let Some(t) = &types {
            spec.insert("policyTypes".into(), json!(t));
        }
        for (direction, peers_key, wanted) in
            [("ingress", "from", true), ("egress", "to", may_egress)]
        {
            if !wanted || self.rng.one_in(4) {
                continue;
            }
            let rules: Vec<Value> = (0..self.rng.between(0, 2))
                .map(|_| self.rule(peers_key))
                .collect();
            spec.insert(direction.into(), Value::Array(rules));
        }
        json!({
            "apiVersion": "networking.k8s.io/v1",
            "kind": "NetworkPolicy",
            "metadata": {"name": name, "namespace": namespace},
            "spec": spec,
        })
    }

    fn rule(&mut self, peers_key: &str) -> Value {
        let mut rule = Map::new();
        if !self.rng.one_in(4) {
            let peers: Vec<Value> = (0..self.rng.between(0, 2)).map(|_| self.peer()).collect();
            rule.insert(peers_key.into(), Value::Array(peers));
        }
        if !self.rng.one_in(3) {
            let ports: Vec<Value> = (0..self.rng.between(0, 2)).map(|_| self.port()).collect();
            rule.insert("ports".into(), Value::Array(ports));
        }
        Value::Object(rule)
    }

    fn peer(&mut self) -> Value {
        match self.rng.below(5) {
            0 => json!({"podSelector": self.pod_selector()}),
            1 => json!({"namespaceSelector": self.namespace_selector()}),
            2 => {
                json!({"podSelector": self.pod_selector(), "namespaceSelector": self.namespace_selector()})
            }
            _ => {
                let (cidr, except) = if self.dual_stack && self.rng.one_in(2) {
                    V6_BLOCKS[self.rng.below(V6_BLOCKS.len())]
                } else {
                    V4_BLOCKS[self.rng.below(V4_BLOCKS.len())]
                };
                if except.is_empty() || self.rng.one_in(3) {
                    json!({"ipBlock": {"cidr": cidr}})
                } else {
                    json!({"ipBlock": {"cidr": cidr, "except": except}})
                }
            }
        }
    }

    fn port(&mut self) -> Value {
        let mut protocols = vec!["TCP", "UDP"];
        if self.allowed.has(Feature::Sctp) {
            protocols.push("SCTP");
        }
        let protocol = self.rng.pick(&protocols);
        let number = 80 + self.rng.below(2);
        match self.rng.below(5) {
            0 if self.allowed.has(Feature::NamedPorts) => {
                // Named after a container port of the standard pods, maybe
                // with another protocol than its own (then it matches nothing).
                let named =
                    ["tcp", "udp", "sctp"][self.rng.below(if self.allowed.has(Feature::Sctp) {
                        3
                    } else {
                        2
                    })];
                json!({"port": format!("serve-{number}-{named}"), "protocol": protocol})
            }
            1 if self.allowed.has(Feature::EndPort) => {
                json!({"port": 80, "endPort": 81, "protocol": protocol})
            }
            2 => json!({"protocol": protocol}),
            3 => json!({"port": number}),
            _ => json!({"port": number, "protocol": protocol}),
        }
    }

    /// A ClusterNetworkPolicy: either tier, a priority no other one in force
    /// has, a subject by namespaces or by pods, and rules of every action.
    fn cluster_policy(&mut self, name: &str) -> Value {
        let tier = if self.rng.one_in(2) {
            "Admin"
        } else {
            "Baseline"
        };
        let priority = loop {
            let p = self.rng.below(40) as u64;
            if !self.priorities.iter().any(|(n, q)| n != name && *q == p) {
                break p;
            }
        };
        self.priorities.insert(name.to_string(), priority);
        let subject = if self.rng.one_in(2) {
            json!({"namespaces": self.namespace_selector()})
        } else {
            json!({"pods": self.namespaced_pods()})
        };
        let mut spec = json!({"tier": tier, "priority": priority, "subject": subject});
        let ingress: Vec<Value> = (0..self.rng.between(0, 2))
            .map(|_| self.cluster_rule("from"))
            .collect();
        if !ingress.is_empty() {
            spec["ingress"] = Value::Array(ingress);
        }
        if self.allowed.has(Feature::Egress) {
            let egress: Vec<Value> = (0..self.rng.between(0, 2))
                .map(|_| self.cluster_rule("to"))
                .collect();
            if !egress.is_empty() {
                spec["egress"] = Value::Array(egress);
            }
        }
        json!({
            "apiVersion": "policy.networking.k8s.io/v1alpha2",
            "kind": "ClusterNetworkPolicy",
            "metadata": {"name": name},
            "spec": spec,
        })
    }

    fn namespaced_pods(&mut self) -> Value {
        json!({"namespaceSelector": self.namespace_selector(), "podSelector": self.pod_selector()})
    }

    /// A rule of a ClusterNetworkPolicy, `from` (ingress) or `to` (egress).
    fn cluster_rule(&mut self, peers_key: &str) -> Value {
        let action = self.rng.pick(&["Accept", "Deny", "Pass"]);
        let peers: Vec<Value> = (0..self.rng.between(1, 2))
            .map(|_| self.cluster_peer(peers_key == "to"))
            .collect();
        // The CRD refuses named ports beside networks peers.
        let named_ok = self.allowed.has(Feature::ClusterNetworkPolicyNamedPorts)
            && !peers.iter().any(|p| p.get("networks").is_some());
        let mut rule = json!({"action": action, peers_key: peers});
        if self.rng.one_in(3) {
            rule["name"] = json!(format!("{}-{}", action.to_lowercase(), self.rng.below(10)));
        }
        if !self.rng.one_in(3) {
            let protocols: Vec<Value> = (0..self.rng.between(1, 2))
                .map(|_| self.cluster_protocol(named_ok))
                .collect();
            rule["protocols"] = Value::Array(protocols);
        }
        rule
    }

    fn cluster_peer(&mut self, egress: bool) -> Value {
        let networks = egress
            && self
                .allowed
                .has(Feature::ClusterNetworkPolicyEgressNetworkPeers);
        match self.rng.below(if networks { 4 } else { 2 }) {
            0 => json!({"namespaces": self.namespace_selector()}),
            1 => json!({"pods": self.namespaced_pods()}),
            _ => {
                let mut blocks = vec![V4_BLOCKS[self.rng.below(V4_BLOCKS.len())].0];
                if self.dual_stack && self.rng.one_in(2) {
                    blocks.push(V6_BLOCKS[self.rng.below(V6_BLOCKS.len())].0);
                }
                json!({"networks": blocks})
            }
        }
    }

    /// A `protocols` entry: a protocol with a port or a range (the CRD wants
    /// one of them), or
    /// (when `named`) a named port of the standard pods.
    fn cluster_protocol(&mut self, named: bool) -> Value {
        let mut protocols = vec!["tcp", "udp"];
        if self.allowed.has(Feature::Sctp) {
            protocols.push("sctp");
        }
        let protocol = self.rng.pick(&protocols);
        let number = 80 + self.rng.below(2);
        match self.rng.below(5) {
            0 if named => json!({"destinationNamedPort": format!("serve-{number}-{protocol}")}),
            1 => json!({protocol: {"destinationPort": {"range": {"start": 80, "end": 81}}}}),
            _ => json!({protocol: {"destinationPort": {"number": number}}}),
        }
    }

    /// A step: a policy applied (new, or replacing one), deleted, pods'
    /// and namespaces' labels replaced, a pod added or deleted. `names` are
    /// the policies in force.
    fn step(&mut self, i: usize, names: &mut Vec<String>) -> Value {
        let name = format!("s{i}");
        match self.rng.below(8) {
            3 => {
                let ns = self.namespaces[self.rng.below(self.namespaces.len())].clone();
                self.pods.push(format!("{ns}/n{i}"));
                let pod =
                    json!({"name": format!("n{i}"), "namespace": ns, "labels": self.pod_labels()});
                json!({"name": name, "addPods": [pod]})
            }
            4 if self.pods.len() > 2 => {
                let gone = self.pods.remove(self.rng.below(self.pods.len()));
                json!({"name": name, "deletePods": [gone]})
            }
            0 if !names.is_empty() => {
                let gone = names.remove(self.rng.below(names.len()));
                if let Some(cnp) = gone.strip_prefix("cnp:") {
                    self.priorities.remove(cnp);
                }
                json!({"name": name, "delete": [gone]})
            }
            1 => {
                let pod = self.pods[self.rng.below(self.pods.len())].clone();
                json!({"name": name, "setPodLabels": {pod: self.pod_labels()}})
            }
            2 => {
                let ns = self.namespaces[self.rng.below(self.namespaces.len())].clone();
                let mut labels = self.namespace_labels();
                labels["kubernetes.io/metadata.name"] = json!(ns);
                json!({"name": name, "setNamespaceLabels": {ns: labels}})
            }
            _ => {
                // Replace a policy in force (same namespace and name), or add one.
                let policy = match names.get(self.rng.below(names.len() + 1)).cloned() {
                    Some(existing) => match existing.strip_prefix("cnp:") {
                        Some(n) => self.cluster_policy(n),
                        None => {
                            let (ns, n) = existing.split_once('/').expect("namespace/name");
                            self.policy(n, Some(ns))
                        }
                    },
                    None if !self.priorities.is_empty() && self.rng.one_in(2) => {
                        self.cluster_policy(&format!("d{i}"))
                    }
                    None => self.policy(&format!("q{i}"), None),
                };
                let k = key(&policy);
                if !names.contains(&k) {
                    names.push(k);
                }
                json!({"name": name, "apply": [policy]})
            }
        }
    }
}

/// `namespace/name` of a NetworkPolicy document, `cnp:NAME` of a
/// ClusterNetworkPolicy: as a step's `delete` names them.
fn key(policy: &Value) -> String {
    if policy["kind"] == "ClusterNetworkPolicy" {
        return format!(
            "cnp:{}",
            policy["metadata"]["name"].as_str().unwrap_or_default()
        );
    }
    format!(
        "{}/{}",
        policy["metadata"]["namespace"].as_str().unwrap_or_default(),
        policy["metadata"]["name"].as_str().unwrap_or_default()
    )
}

/// Every document one removal smaller than `doc`: an element of any list,
/// or a key of any mapping, but the scenario's `name` and `probes`. Most
/// load; those that do not are left out by the caller.
pub fn smaller(doc: &Value) -> Vec<Value> {
    let mut out = Vec::new();
    let mut path = Vec::new();
    removals(doc, doc, &mut path, &mut out);
    out
}

#[derive(Clone, Debug)]
enum Step {
    Key(String),
    Index(usize),
}

fn removals(root: &Value, here: &Value, path: &mut Vec<Step>, out: &mut Vec<Value>) {
    let top = path.is_empty();
    match here {
        Value::Object(map) => {
            for (k, v) in map {
                if top
                    && matches!(
                        k.as_str(),
                        "name" | "probes" | "description" | "formatVersion"
                    )
                {
                    continue;
                }
                // `cluster`, `policies`: their parts, not the whole.
                if !(top && matches!(k.as_str(), "cluster" | "policies" | "ipFamilies")) {
                    let mut doc = root.clone();
                    if let Some(Value::Object(m)) = at(&mut doc, path) {
                        m.remove(k);
                    }
                    out.push(doc);
                }
                path.push(Step::Key(k.clone()));
                removals(root, v, path, out);
                path.pop();
            }
        }
        Value::Array(items) => {
            for (i, v) in items.iter().enumerate() {
                let mut doc = root.clone();
                if let Some(Value::Array(a)) = at(&mut doc, path) {
                    a.remove(i);
                }
                out.push(doc);
                path.push(Step::Index(i));
                removals(root, v, path, out);
                path.pop();
            }
        }
        _ => {}
    }
}

fn at<'v>(doc: &'v mut Value, path: &[Step]) -> Option<&'v mut Value> {
    let mut here = doc;
    for step in path {
        here = match step {
            Step::Key(k) => here.get_mut(k.as_str())?,
            Step::Index(i) => here.get_mut(*i)?,
        };
    }
    Some(here)
}

/// The document as a scenario file: YAML, as people write it.
pub fn to_yaml(doc: &Value) -> String {
    serde_saphyr::to_string(doc).expect("a JSON value serializes as YAML")
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::path::Path;

    #[test]
    fn cases_are_deterministic_and_load() {
        let allowed = Allowed::new(&BTreeSet::new());
        for case in 0..300 {
            let doc = generate(7, case, &allowed);
            assert_eq!(
                doc,
                generate(7, case, &allowed),
                "case {case} is deterministic"
            );
            let text = to_yaml(&doc);
            if let Err(e) = crate::scenario::load_str(Path::new("fuzz.yaml"), &text).loaded {
                panic!("case {case} does not load (a generator bug):\n{e}\n{text}");
            }
        }
        assert_ne!(generate(7, 1, &allowed), generate(8, 1, &allowed));
    }

    #[test]
    fn unsupported_features_are_not_generated() {
        let unsupported: BTreeSet<Feature> = [
            Feature::Sctp,
            Feature::EndPort,
            Feature::NamedPorts,
            Feature::Egress,
            Feature::Ipv6,
            Feature::ClusterNetworkPolicyNamedPorts,
            Feature::ClusterNetworkPolicyEgressNetworkPeers,
        ]
        .into();
        let allowed = Allowed::new(&unsupported);
        for case in 0..200 {
            let text = to_yaml(&generate(3, case, &allowed));
            let s = crate::scenario::load_str(Path::new("fuzz.yaml"), &text)
                .loaded
                .expect("loads");
            let needs = crate::features::needed(&s);
            assert!(
                needs.is_disjoint(&unsupported),
                "case {case} needs {needs:?}:\n{text}"
            );
        }
    }

    #[test]
    fn steps_add_and_delete_pods_and_every_case_loads() {
        let allowed = Allowed::new(&BTreeSet::new());
        let (mut added, mut deleted) = (0, 0);
        for case in 0..300 {
            let text = to_yaml(&generate(11, case, &allowed));
            added += text.matches("addPods").count();
            deleted += text.matches("deletePods").count();
            crate::scenario::load_str(Path::new("fuzz.yaml"), &text)
                .loaded
                .unwrap_or_else(|e| panic!("case {case} does not load: {e}\n{text}"));
        }
        assert!(
            added > 10 && deleted > 10,
            "{added} added, {deleted} deleted"
        );
    }

    #[test]
    fn cluster_network_policies_are_generated_unless_declared_unsupported() {
        let text = |unsupported: &BTreeSet<Feature>| {
            let allowed = Allowed::new(unsupported);
            (0..100)
                .map(|case| to_yaml(&generate(5, case, &allowed)))
                .collect::<String>()
        };
        let all = text(&BTreeSet::new());
        for part in [
            "tier: Admin",
            "tier: Baseline",
            "action: Pass",
            "action: Deny",
            "action: Accept",
            "networks:",
            "destinationNamedPort:",
            "range:",
            "- cnp:",
        ] {
            assert!(all.contains(part), "no case has {part}");
        }
        let none = text(&[Feature::ClusterNetworkPolicy].into());
        assert!(!none.contains("ClusterNetworkPolicy"));
    }

    #[test]
    fn smaller_documents_remove_one_thing_each() {
        let doc = json!({"name": "s", "policies": [{"a": 1}, {"b": [1, 2]}], "steps": [{}]});
        let smaller = smaller(&doc);
        assert!(
            smaller.contains(&json!({"name": "s", "policies": [{"b": [1, 2]}], "steps": [{}]}))
        );
        assert!(
            smaller
                .contains(&json!({"name": "s", "policies": [{"a": 1}, {"b": [2]}], "steps": [{}]}))
        );
        assert!(smaller.contains(&json!({"name": "s", "policies": [{"a": 1}, {"b": [1, 2]}]})));
        assert!(smaller.iter().all(|d| d["name"] == "s"));
    }
}
