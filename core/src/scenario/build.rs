//! From the raw file to a `Scenario`: the cluster with its addresses, the
//! policies, the probes, the expectations and the rounds of the steps, with
//! every consistency problem collected (not just the first).

use std::collections::{BTreeMap, HashMap};
use std::net::{IpAddr, Ipv4Addr};
use std::path::Path;

use super::cluster_policy::{self, ClusterPolicy};
use super::error::{LoadError, Problem};
use super::policy::{self, Policy};
use super::raw::*;
use super::source::{Node, NodeValue, Position, Scalar};
use super::yaml11;
use super::{Header, INITIAL_ROUND, Round, Scenario, ScenarioFile};

use crate::cluster::{
    self, Addresses, Cluster, ContainerPort, External, IpFamily, Labels, NAMESPACE_NAME_LABEL,
    Namespace, Node as ClusterNode, Pod,
};
use crate::expect::{ExpectRule, Expectation};
use crate::field_path::FieldPath;
use crate::peer::PeerPattern;
use crate::probe::{PortProtocol, ProbeSpec};
use crate::validation;

/// The format versions this loader reads (`docs/scenario-format.md`).
const FORMAT_VERSIONS: [&str; 2] = ["1", "1.1"];

pub(super) fn build(file: &Path, text: &str) -> ScenarioFile {
    let fail = |problems| {
        Err(LoadError {
            file: file.to_path_buf(),
            problems,
        })
    };
    let root = match Node::parse(text) {
        Ok(root) => root,
        Err(e) => {
            return ScenarioFile {
                file: file.into(),
                header: Header::default(),
                loaded: fail(vec![yaml_problem(&e)]),
            };
        }
    };
    let (mut header, header_problems) = read_header(&root);
    let loaded = match serde_saphyr::from_str_with_options::<RawScenario>(
        text,
        super::source::yaml_options(),
    ) {
        Err(e) => {
            let mut p = yaml_problem(&e);
            // The document parsed: the position names a field of it.
            if let Some(path) = p.position.and_then(|at| super::wording::path_at(&root, at)) {
                // A missing field is reported where its mapping starts, which
                // is where the mapping's first key is: the mapping is meant.
                p.path = if p.message.starts_with("missing field") {
                    super::wording::parent(&path)
                } else {
                    path
                };
            }
            fail(vec![p])
        }
        Ok(raw) => {
            let mut b = Builder {
                root: &root,
                text,
                problems: Vec::new(),
                warnings: Vec::new(),
                tied: None,
            };
            let scenario = b.scenario(file, raw);
            if b.problems.is_empty() {
                Ok(scenario.expect("no problems, so a scenario"))
            } else {
                fail(b.problems)
            }
        }
    };
    let loaded = if header_problems.is_empty() {
        loaded
    } else {
        // The header says how the file is judged (its name, whether it must
        // be rejected): a file whose header cannot be read is invalid, never
        // a loader check that could pass. The typed parse may trip on the
        // same field: its problem on that line adds nothing.
        header.expect_invalid = None;
        let lines: Vec<Option<u64>> = header_problems
            .iter()
            .map(|p| p.position.map(|p| p.line))
            .collect();
        let mut problems = header_problems;
        if let Err(e) = loaded {
            problems.extend(
                e.problems
                    .into_iter()
                    .filter(|p| !lines.contains(&p.position.map(|p| p.line))),
            );
        }
        fail(problems)
    };
    ScenarioFile {
        file: file.to_path_buf(),
        header,
        loaded,
    }
}

/// What a scenario says about itself (`name`, `description`, `tags`,
/// `expectInvalid`), read from the tree so that it is known even when the
/// rest of the file cannot be loaded, and each field of the type it must
/// have: YAML would read `name: 123` or `expectInvalid: 5` as numbers,
/// which must not quietly become no name or no `expectInvalid`.
fn read_header(root: &Node) -> (Header, Vec<Problem>) {
    let mut problems = Vec::new();
    let mut problem = |path: FieldPath, message: String| {
        let mut p = Problem::at(path, message);
        p.position = Some(root.locate(&p.path));
        problems.push(p);
    };
    let mut text_of = |key: &str, what: &str| -> Option<String> {
        let node = root.get(key)?;
        match node.as_str() {
            Some(s) => Some(s.to_string()),
            None => {
                let hint = match node.value {
                    NodeValue::Scalar(Scalar::Number(_) | Scalar::Bool(_)) => ": quote it",
                    _ => "",
                };
                problem(
                    FieldPath::new(key),
                    format!("must be {what}, not {}{hint}", node.kind()),
                );
                None
            }
        }
    };
    let name = text_of("name", "a string");
    let description = text_of("description", "a string");
    let expect_invalid = text_of("expectInvalid", "a string (a field path)");
    if expect_invalid
        .as_deref()
        .is_some_and(|f| f.trim().is_empty())
    {
        problem(
            FieldPath::new("expectInvalid"),
            "must name a field path, such as spec.ingress[0].ports[0].port".to_string(),
        );
    }
    let mut tags = Vec::new();
    if let Some(node) = root.get("tags") {
        if matches!(node.value, NodeValue::Seq(_)) {
            for (i, item) in node.items().iter().enumerate() {
                match item.as_str() {
                    Some(t) => tags.push(t.to_string()),
                    None => problem(
                        FieldPath::new("tags").index(i),
                        format!("a tag must be a string, not {}", item.kind()),
                    ),
                }
            }
        } else {
            problem(
                FieldPath::new("tags"),
                format!("must be a list of strings, not {}", node.kind()),
            );
        }
    }
    let header = Header {
        name,
        description,
        tags,
        expect_invalid,
    };
    (header, problems)
}

/// A YAML syntax or typing problem, with serde-saphyr's position.
fn yaml_problem(e: &serde_saphyr::Error) -> Problem {
    let rendered = e.without_snippet().to_string();
    let mut message = rendered.lines().next().unwrap_or_default().trim();
    message = message.strip_prefix("error: ").unwrap_or(message);
    // serde-saphyr prefixes "line N column M: "; the problem prints the position itself.
    if let Some((_, after)) = message
        .strip_prefix("line ")
        .and_then(|rest| rest.split_once(": "))
    {
        message = after;
    }
    // ... and sometimes suffixes " at line N, column M".
    if let Some(i) = message.rfind(" at line ") {
        message = &message[..i];
    }
    let mut p = Problem::at(FieldPath::root(), super::wording::plain(message));
    p.position = e.location().map(|l| Position {
        line: l.line(),
        column: l.column(),
    });
    p
}

struct Builder<'a> {
    root: &'a Node,
    text: &'a str,
    problems: Vec<Problem>,
    /// What the API server would accept with a warning.
    warnings: Vec<Problem>,
    /// The first thing that ties the scenario to its addresses or families.
    tied: Option<String>,
}

impl Builder<'_> {
    fn problem(&mut self, path: FieldPath, message: impl Into<String>) {
        let mut p = Problem::at(path, message);
        p.position = Some(self.root.locate(&p.path));
        self.problems.push(p);
    }

    /// `None` when there were problems (they are in `self.problems`).
    fn scenario(&mut self, file: &Path, raw: RawScenario) -> Option<Scenario> {
        if raw.name.is_empty()
            || !raw
                .name
                .chars()
                .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-')
        {
            self.problem(
                FieldPath::new("name"),
                format!(
                    "{:?} must consist of lower case letters, digits and '-'",
                    raw.name
                ),
            );
        }
        self.rule_ids(&raw.rules);
        if let Some(v) = &raw.format_version
            && !FORMAT_VERSIONS.contains(&v.as_str())
        {
            self.problem(
                FieldPath::new("formatVersion"),
                format!(
                    "unsupported format version {v:?}: supported versions are \"1\" and \"1.1\""
                ),
            );
        }
        let mut ambiguities = Vec::new();
        yaml11::find_ambiguities(
            self.root,
            &FieldPath::root(),
            self.text,
            &["policies", "apply"],
            &mut ambiguities,
        );
        for a in ambiguities {
            self.problem(a.path.clone(), a.message());
        }

        let families = self.ip_families(raw.ip_families);
        let Some(mut cluster) = self.cluster(raw.cluster, families) else {
            // Still report what is wrong with the policies themselves.
            self.policies(
                None,
                &FieldPath::new("policies"),
                raw.policies.len(),
                (&[], &[]),
            );
            return None;
        };
        let mut steps = raw.steps;
        // Pods that steps add are in the cluster from the start, absent
        // until their step: every round's cluster has the same pods.
        let added = self.added_pods(&mut cluster, &mut steps);
        let (policies, cluster_policies) = self.policies(
            Some(&cluster),
            &FieldPath::new("policies"),
            raw.policies.len(),
            (&[], &[]),
        );
        let probes = self.probes(&cluster, raw.probes);
        let expect = raw
            .expect
            .map(|e| self.expectation(&cluster, &FieldPath::new("expect"), e));
        let mut rounds = vec![Round {
            name: INITIAL_ROUND.to_string(),
            description: None,
            cluster: cluster.clone(),
            policies,
            cluster_policies,
            expect,
            observe_established: false,
        }];
        for (i, (step, added)) in steps.into_iter().zip(added).enumerate() {
            let round = self.step(
                rounds.last().expect("the initial round"),
                &FieldPath::new("steps").index(i),
                i,
                step,
                &added,
            );
            // `step` reports a step named `initial` itself.
            if round.name != INITIAL_ROUND && rounds.iter().any(|r| r.name == round.name) {
                self.problem(
                    FieldPath::new("steps").index(i).child("name"),
                    format!("duplicate step name {:?}", round.name),
                );
            }
            rounds.push(round);
        }
        if !self.problems.is_empty() {
            return None;
        }
        Some(Scenario {
            name: raw.name,
            description: raw.description,
            tags: raw.tags,
            rules: raw.rules,
            file: file.to_path_buf(),
            probes,
            rounds,
            warnings: std::mem::take(&mut self.warnings),
            tied_to_addresses: self.tied.take(),
        })
    }

    /// `rules`: ids from `crate::rules`, so that a typo cannot claim a
    /// rule is checked when it is not.
    fn rule_ids(&mut self, ids: &[String]) {
        for (i, id) in ids.iter().enumerate() {
            let path = FieldPath::new("rules").index(i);
            if crate::rules::summary(id).is_none() {
                self.problem(
                    path,
                    format!("unknown rule id {id:?}: the ids are those of docs/spec-notes.md"),
                );
            } else if ids[..i].contains(id) {
                self.problem(path, format!("rule id {id:?} is listed twice"));
            }
        }
    }

    // ---- the cluster ------------------------------------------------------

    /// Records why the scenario is tied to its addresses (the first reason).
    fn tie(&mut self, why: String) {
        self.tied.get_or_insert(why);
    }

    /// `ipFamilies`: one family or both, each once, the primary first.
    fn ip_families(&mut self, raw: Option<Vec<IpFamily>>) -> Vec<IpFamily> {
        let Some(families) = raw else {
            return vec![IpFamily::IPv4];
        };
        let path = FieldPath::new("ipFamilies");
        if families.is_empty() || families.len() > 2 || families.first() == families.get(1) {
            self.problem(
                path,
                "write [IPv4], [IPv6], or both ([IPv4, IPv6] or [IPv6, IPv4]: the first is the primary)",
            );
            return vec![IpFamily::IPv4];
        }
        families
    }

    fn cluster(
        &mut self,
        choice: Option<RawClusterChoice>,
        families: Vec<IpFamily>,
    ) -> Option<Cluster> {
        let path = FieldPath::new("cluster");
        let raw = match choice {
            None => return Some(Cluster::standard_in(families)),
            Some(RawClusterChoice::Named(n)) if n == "standard" => {
                return Some(Cluster::standard_in(families));
            }
            Some(RawClusterChoice::Named(n)) => {
                self.problem(
                    path,
                    format!("unknown cluster {n:?}: write \"standard\" or a cluster object"),
                );
                return None;
            }
            Some(RawClusterChoice::Object(raw)) => raw,
        };
        let pinning = raw
            .nodes
            .iter()
            .map(|n| (n.ip.is_some() || n.ips.is_some(), "nodes"))
            .chain(
                raw.pods
                    .iter()
                    .map(|p| (p.ip.is_some() || p.ips.is_some(), "pods")),
            )
            .find(|(pins, _)| *pins);
        if let Some((_, kind)) = pinning {
            self.tie(format!("a host of cluster.{kind} pins its address"));
        }
        if !raw.externals.is_empty() {
            self.tie("it has external hosts, known by their addresses".into());
        }
        let before = self.problems.len();
        let mut addresses = Taken {
            families,
            by: HashMap::new(),
        };

        if raw.nodes.is_empty() {
            self.problem(path.child("nodes"), "a cluster needs at least one node");
        }
        if raw.nodes.len() > cluster::MAX_NODES {
            self.problem(
                path.child("nodes"),
                format!("at most {} nodes are supported", cluster::MAX_NODES),
            );
        }
        let nodes = self.cluster_nodes(&path, raw.nodes, &mut addresses);
        let namespaces = self.cluster_namespaces(&path, raw.namespaces);
        let (pods, pinned) =
            self.cluster_pods(&path, raw.pods, &nodes, &namespaces, &mut addresses);
        let externals = self.cluster_externals(&path, raw.externals, &mut addresses);

        if self.problems.len() > before {
            return None;
        }
        let mut cluster = Cluster {
            families: addresses.families,
            nodes,
            namespaces,
            pods,
            externals,
        };
        cluster.allocate_pod_addresses(&pinned);
        Some(cluster)
    }

    /// `cluster.nodes`: names, addresses (given or default) and ports.
    fn cluster_nodes(
        &mut self,
        path: &FieldPath,
        raw: Vec<RawNode>,
        addresses: &mut Taken,
    ) -> Vec<ClusterNode> {
        let mut nodes = Vec::new();
        for (i, n) in raw.into_iter().enumerate() {
            let p = path.child("nodes").index(i);
            self.object_name(
                &p.child("name"),
                &n.name,
                &nodes
                    .iter()
                    .map(|x: &ClusterNode| x.name.clone())
                    .collect::<Vec<_>>(),
                "node",
            );
            let pinned = self.pinned(&p, n.ip.as_deref(), n.ips.as_deref(), addresses);
            // The IPv4 address of the plan: pinned, or 192.168.100.N; past
            // the limit (reported by the caller) there is none.
            let plan = match pinned.v4 {
                Some(ip) => ip,
                None if i >= cluster::MAX_NODES => Ipv4Addr::UNSPECIFIED,
                None => cluster::default_node_ip(i),
            };
            let ips = Addresses {
                v4: addresses.has(IpFamily::IPv4).then_some(plan),
                v6: addresses
                    .has(IpFamily::IPv6)
                    .then(|| pinned.v6.unwrap_or_else(|| cluster::planned_ipv6(plan))),
            };
            if i < cluster::MAX_NODES {
                // Defaults: an earlier node may have been given this one's.
                for ip in ips
                    .all()
                    .filter(|ip| pinned.of(IpFamily::of(*ip)).is_none())
                {
                    match addresses.by.get(&ip) {
                        Some(other) => self.problem(
                            p.clone(),
                            format!(
                                "default address {ip} is already used by {other}: give this node an ip"
                            ),
                        ),
                        None => {
                            addresses.by.insert(ip, p.clone());
                        }
                    }
                }
            }
            let ports = self.ports(&p.child("ports"), n.ports, true);
            self.labels(&p.child("labels"), &n.labels);
            nodes.push(ClusterNode {
                labels: cluster::node_labels(&n.name, n.labels),
                name: n.name,
                ips,
                ports,
            });
        }

        nodes
    }

    /// `cluster.namespaces`: names and labels.
    fn cluster_namespaces(&mut self, path: &FieldPath, raw: Vec<RawNamespace>) -> Vec<Namespace> {
        let mut namespaces: Vec<Namespace> = Vec::new();
        for (i, ns) in raw.into_iter().enumerate() {
            let p = path.child("namespaces").index(i);
            for msg in validation::dns1123_label_errors(&ns.name) {
                self.problem(
                    p.child("name"),
                    format!("Invalid value: {:?}: {msg}", ns.name),
                );
            }
            if namespaces.iter().any(|x| x.name == ns.name) {
                self.problem(
                    p.child("name"),
                    format!("duplicate namespace {:?}", ns.name),
                );
            }
            self.namespace_labels(&p.child("labels"), &ns.name, &ns.labels);
            namespaces.push(Namespace {
                labels: cluster::namespace_labels(&ns.name, ns.labels),
                name: ns.name,
            });
        }

        namespaces
    }

    /// `cluster.pods`, with the addresses pinned by the file (`None`: to be
    /// allocated), and whether each node's pod range has room for the rest.
    fn cluster_pods(
        &mut self,
        path: &FieldPath,
        raw: Vec<RawPod>,
        nodes: &[ClusterNode],
        namespaces: &[Namespace],
        addresses: &mut Taken,
    ) -> (Vec<Pod>, Vec<Addresses>) {
        let mut pods: Vec<Pod> = Vec::new();
        let mut pinned = Vec::new();
        for (i, pod) in raw.into_iter().enumerate() {
            let duplicate = pods
                .iter()
                .any(|x| x.namespace == pod.namespace && x.name == pod.name)
                .then(|| format!("duplicate pod {}/{}", pod.namespace, pod.name));
            let (pod, pin) = self.pod(
                &path.child("pods").index(i),
                pod,
                (nodes, namespaces, i),
                duplicate,
                addresses,
                true,
            );
            pods.push(pod);
            pinned.push(pin);
        }
        for (n, node) in nodes.iter().enumerate() {
            let unpinned = pods
                .iter()
                .zip(&pinned)
                .filter(|(p, pin)| p.node == n && pin.v4.is_none())
                .count();
            if unpinned > cluster::MAX_PODS_PER_NODE {
                self.problem(
                    path.child("pods"),
                    format!(
                        "node {} has {unpinned} pods without an ip; at most {} can be allocated",
                        node.name,
                        cluster::MAX_PODS_PER_NODE
                    ),
                );
            }
        }

        (pods, pinned)
    }

    /// One pod of `cluster.pods` or of a step's `addPods`, at `p`: checked
    /// against the cluster's nodes and namespaces (`place`, with its position
    /// for the round-robin default node) and against the pods before it
    /// (`duplicate`: why its name is taken), with the addresses it pins.
    fn pod(
        &mut self,
        p: &FieldPath,
        pod: RawPod,
        place: (&[ClusterNode], &[Namespace], usize),
        duplicate: Option<String>,
        taken: &mut Taken,
        present: bool,
    ) -> (Pod, Addresses) {
        let (nodes, namespaces, position) = place;
        for msg in validation::dns1123_subdomain_errors(&pod.name) {
            self.problem(
                p.child("name"),
                format!("Invalid value: {:?}: {msg}", pod.name),
            );
        }
        if !namespaces.iter().any(|ns| ns.name == pod.namespace) {
            self.problem(
                p.child("namespace"),
                format!(
                    "unknown namespace {:?}: declare it in cluster.namespaces",
                    pod.namespace
                ),
            );
        }
        if let Some(why) = duplicate {
            self.problem(p.child("name"), why);
        }
        let node = match &pod.node {
            Some(name) => nodes
                .iter()
                .position(|n| &n.name == name)
                .unwrap_or_else(|| {
                    self.problem(p.child("node"), format!("unknown node {name:?}"));
                    0
                }),
            None => position % nodes.len().max(1),
        };
        self.labels(&p.child("labels"), &pod.labels);
        let pinned = self.pinned(p, pod.ip.as_deref(), pod.ips.as_deref(), taken);
        let ports = self.ports(&p.child("ports"), pod.ports, true);
        let pod = Pod {
            namespace: pod.namespace,
            name: pod.name,
            labels: pod.labels,
            node,
            ips: Addresses::default(),
            ports,
            present,
        };
        (pod, pinned)
    }

    /// The pods of every step's `addPods` (an extension of the format),
    /// validated as `cluster.pods` are and appended to `cluster` as absent,
    /// with addresses of their own (never one another pod had). Returns
    /// each step's pods, by index in the cluster.
    fn added_pods(&mut self, cluster: &mut Cluster, steps: &mut [RawStep]) -> Vec<Vec<usize>> {
        let mut added = vec![Vec::new(); steps.len()];
        if steps.iter().all(|s| s.add_pods.is_empty()) {
            return added;
        }
        let mut taken = Taken {
            families: cluster.families.clone(),
            by: HashMap::new(),
        };
        for e in cluster.endpoints().collect::<Vec<_>>() {
            for ip in cluster.endpoint_ips(e).all() {
                taken.by.insert(
                    ip,
                    FieldPath::new("cluster").child(&cluster.endpoint_name(e)),
                );
            }
        }
        let mut pinned: Vec<Addresses> = cluster.pods.iter().map(|p| p.ips).collect();
        for (k, step) in steps.iter_mut().enumerate() {
            for (i, pod) in std::mem::take(&mut step.add_pods).into_iter().enumerate() {
                if pod.ip.is_some() || pod.ips.is_some() {
                    self.tie("a pod of a step's addPods pins its address".into());
                }
                let duplicate = cluster.pod_index(&pod.namespace, &pod.name).is_some().then(|| {
                    format!(
                        "pod {}/{} is already in the scenario: each pod name is used once (a pod added again is a new pod: give it a new name)",
                        pod.namespace, pod.name
                    )
                });
                let (pod, pin) = self.pod(
                    &FieldPath::new("steps").index(k).child("addPods").index(i),
                    pod,
                    (&cluster.nodes, &cluster.namespaces, cluster.pods.len()),
                    duplicate,
                    &mut taken,
                    false,
                );
                added[k].push(cluster.pods.len());
                cluster.pods.push(pod);
                pinned.push(pin);
            }
        }
        for (n, node) in cluster.nodes.iter().enumerate() {
            if cluster.pods.iter().filter(|p| p.node == n).count() > cluster::MAX_PODS_PER_NODE {
                self.problem(
                    FieldPath::new("steps"),
                    format!(
                        "node {} has more than {} pods, counting those steps add",
                        node.name,
                        cluster::MAX_PODS_PER_NODE
                    ),
                );
            }
        }
        if self.problems.is_empty() {
            cluster.allocate_pod_addresses(&pinned);
        }
        added
    }

    /// `cluster.externals`: names, addresses and ports.
    fn cluster_externals(
        &mut self,
        path: &FieldPath,
        raw: Vec<RawExternal>,
        addresses: &mut Taken,
    ) -> Vec<External> {
        let mut externals: Vec<External> = Vec::new();
        for (i, ext) in raw.into_iter().enumerate() {
            let p = path.child("externals").index(i);
            self.object_name(
                &p.child("name"),
                &ext.name,
                &externals.iter().map(|x| x.name.clone()).collect::<Vec<_>>(),
                "external",
            );
            let ips = self.pinned(&p, ext.ip.as_deref(), ext.ips.as_deref(), addresses);
            if ext.ip.is_none() && ext.ips.is_none() {
                self.problem(
                    p.child("ip"),
                    "an external host needs an address: write ip (or ips, one per family)",
                );
            }
            let ports = self.ports(&p.child("ports"), ext.ports, false);
            externals.push(External {
                name: ext.name,
                ips,
                ports,
            });
        }

        externals
    }

    /// A node or external name: a DNS label (it is written in peers as `ext:NAME`).
    fn object_name(&mut self, path: &FieldPath, name: &str, taken: &[String], what: &str) {
        for msg in validation::dns1123_label_errors(name) {
            self.problem(path.clone(), format!("Invalid value: {name:?}: {msg}"));
        }
        if taken.iter().any(|t| t == name) {
            self.problem(path.clone(), format!("duplicate {what} {name:?}"));
        }
    }

    /// A host's `ip` or `ips`: the addresses it pins, at most one per
    /// family, each of a family of the cluster and used by no other host.
    fn pinned(
        &mut self,
        host: &FieldPath,
        ip: Option<&str>,
        ips: Option<&[String]>,
        taken: &mut Taken,
    ) -> Addresses {
        let mut pinned = Addresses::default();
        let written: Vec<(FieldPath, &str)> = match (ip, ips) {
            (Some(_), Some(_)) => {
                self.problem(host.child("ips"), "write either ip or ips, not both");
                return pinned;
            }
            (Some(ip), None) => vec![(host.child("ip"), ip)],
            (None, Some([])) => {
                self.problem(
                    host.child("ips"),
                    "an empty list: give at least one address, or leave the key out",
                );
                return pinned;
            }
            (None, Some(ips)) => ips
                .iter()
                .enumerate()
                .map(|(i, ip)| (host.child("ips").index(i), ip.as_str()))
                .collect(),
            (None, None) => Vec::new(),
        };
        for (path, text) in written {
            let Some(ip) = self.address(&path, text, taken) else {
                continue;
            };
            let family = IpFamily::of(ip);
            if let Some(first) = pinned.of(family) {
                self.problem(
                    path,
                    format!("{ip}: a second {family} address (after {first}); a host has at most one address per family"),
                );
            } else {
                pinned.set(ip);
            }
        }
        pinned
    }

    fn address(&mut self, path: &FieldPath, text: &str, taken: &mut Taken) -> Option<IpAddr> {
        let Ok(ip) = text.parse::<IpAddr>() else {
            self.problem(
                path.clone(),
                format!("{text:?} is not an IP address (write 10.0.0.1 or fd00::1, without a prefix length)"),
            );
            return None;
        };
        let family = IpFamily::of(ip);
        if !taken.has(family) {
            let families: Vec<&str> = taken.families.iter().map(|f| f.name()).collect();
            self.problem(
                path.clone(),
                format!(
                    "{ip} is an {family} address, and the cluster has no {family} (ipFamilies: [{}]); add {family} to ipFamilies",
                    families.join(", ")
                ),
            );
            return None;
        }
        let unusable = match ip {
            IpAddr::V4(v4) => {
                v4.is_unspecified()
                    || v4.is_loopback()
                    || v4.is_link_local()
                    || v4.is_multicast()
                    || v4.is_broadcast()
                    || v4.octets()[0] == 0
            }
            IpAddr::V6(v6) => {
                v6.is_unspecified()
                    || v6.is_loopback()
                    || v6.is_multicast()
                    || v6.is_unicast_link_local()
                    || v6.to_ipv4_mapped().is_some()
            }
        };
        if unusable {
            self.problem(path.clone(), format!("{ip} cannot be a host address in the lab (unspecified, loopback, link-local, multicast, broadcast or IPv4-mapped)"));
        }
        if let Some(other) = taken.by.get(&ip) {
            self.problem(
                path.clone(),
                format!("address {ip} is already used by {other}"),
            );
        } else {
            taken.by.insert(ip, path.clone());
        }
        Some(ip)
    }

    fn ports(
        &mut self,
        path: &FieldPath,
        raw: Option<Vec<RawPort>>,
        names_allowed: bool,
    ) -> Vec<ContainerPort> {
        let Some(raw) = raw else {
            return cluster::standard_ports();
        };
        let mut ports: Vec<ContainerPort> = Vec::new();
        for (i, rp) in raw.into_iter().enumerate() {
            let p = path.index(i);
            let Some(port) = self.port_number(&p.child("containerPort"), rp.container_port) else {
                continue;
            };
            if let Some(name) = &rp.name {
                if !names_allowed {
                    self.problem(p.child("name"), "external hosts have no named ports: a policy's named port resolves against pods only");
                }
                for msg in validation::port_name_errors(name) {
                    self.problem(p.child("name"), format!("Invalid value: {name:?}: {msg}"));
                }
                if ports.iter().any(|x| x.name.as_ref() == Some(name)) {
                    self.problem(p.child("name"), format!("duplicate port name {name:?}"));
                }
            }
            if ports
                .iter()
                .any(|x| x.port == port && x.protocol == rp.protocol)
            {
                self.problem(p.clone(), format!("duplicate port {port}/{}", rp.protocol));
            }
            ports.push(ContainerPort {
                name: rp.name,
                port,
                protocol: rp.protocol,
            });
        }
        ports
    }

    fn port_number(&mut self, path: &FieldPath, n: i64) -> Option<u16> {
        match u16::try_from(n) {
            Ok(p) if p > 0 => Some(p),
            _ => {
                self.problem(
                    path.clone(),
                    format!("Invalid value: {n}: must be between 1 and 65535, inclusive"),
                );
                None
            }
        }
    }

    fn labels(&mut self, path: &FieldPath, labels: &Labels) {
        for (k, v) in labels {
            for msg in validation::qualified_name_errors(k) {
                self.problem(path.key(k), format!("Invalid value: {k:?}: {msg}"));
            }
            for msg in validation::label_value_errors(v) {
                self.problem(path.key(k), format!("Invalid value: {v:?}: {msg}"));
            }
        }
    }

    fn namespace_labels(&mut self, path: &FieldPath, namespace: &str, labels: &Labels) {
        self.labels(path, labels);
        if labels
            .get(NAMESPACE_NAME_LABEL)
            .is_some_and(|v| v != namespace)
        {
            self.problem(
                path.key(NAMESPACE_NAME_LABEL),
                format!(
                    "Kubernetes sets {NAMESPACE_NAME_LABEL} to the namespace's name, {namespace:?}"
                ),
            );
        }
    }

    // ---- policies -----------------------------------------------------------

    /// Decodes `count` policies written under `path` (NetworkPolicies and
    /// ClusterNetworkPolicies), in addition to `existing` ones (a policy with
    /// the same key replaces the earlier one). Without a cluster (it has
    /// problems of its own), namespaces are not checked.
    fn policies(
        &mut self,
        cluster: Option<&Cluster>,
        path: &FieldPath,
        count: usize,
        existing: (&[Policy], &[ClusterPolicy]),
    ) -> (Vec<Policy>, Vec<ClusterPolicy>) {
        let mut result = existing.0.to_vec();
        let mut cluster_result = existing.1.to_vec();
        let mut written_here: BTreeMap<String, FieldPath> = BTreeMap::new();
        for i in 0..count {
            let origin = path.index(i);
            if cluster_policy::is_cluster_policy(self.root, &origin) {
                if let Some(ns) = cluster_policy::written_namespace(self.root, &origin) {
                    let path = origin.child("metadata").child("namespace");
                    let mut w = Problem::at(
                        path.clone(),
                        format!(
                            "a ClusterNetworkPolicy is cluster-scoped: namespace {ns:?} is dropped, as the API server drops it"
                        ),
                    );
                    w.position = Some(self.root.locate(&path));
                    self.warnings.push(w);
                }
                match cluster_policy::decode(self.root, &origin, self.text) {
                    Err(problems) => self.problems.extend(problems),
                    Ok(p) => {
                        if let Some(first) = written_here.insert(p.key(), origin.clone()) {
                            self.problem(
                                origin.clone(),
                                format!(
                                    "ClusterNetworkPolicy {} is written twice (also at {first})",
                                    p.name
                                ),
                            );
                        }
                        match cluster_result.iter_mut().find(|q| q.name == p.name) {
                            Some(q) => *q = p,
                            None => cluster_result.push(p),
                        }
                    }
                }
                continue;
            }
            match policy::decode(self.root, &origin, self.text) {
                Err(problems) => self.problems.extend(problems),
                Ok(p) => {
                    if cluster.is_some_and(|c| c.namespace(&p.namespace).is_none()) {
                        let field = FieldPath::new("metadata").child("namespace");
                        self.problems.push(Problem {
                            position: Some(self.root.locate(&origin.join(&field))),
                            path: origin.clone(),
                            object: Some((format!("NetworkPolicy {}", p.key()), field)),
                            message: format!("namespace {:?} is not in the cluster", p.namespace),
                        });
                    }
                    if let Some(first) = written_here.insert(p.key(), origin.clone()) {
                        self.problem(
                            origin.clone(),
                            format!(
                                "NetworkPolicy {} is written twice (also at {first})",
                                p.key()
                            ),
                        );
                    }
                    match result.iter_mut().find(|q| q.key() == p.key()) {
                        Some(q) => *q = p,
                        None => result.push(p),
                    }
                }
            }
        }
        (result, cluster_result)
    }

    // ---- probes and expectations -------------------------------------------

    fn peer(&mut self, cluster: &Cluster, path: &FieldPath, text: &str) -> Option<PeerPattern> {
        match PeerPattern::parse(text) {
            Err(e) => {
                self.problem(path.clone(), e.to_string());
                None
            }
            Ok(p) if p.select(cluster).is_empty() => {
                self.problem(
                    path.clone(),
                    format!("peer {text:?} matches nothing in the cluster"),
                );
                None
            }
            Ok(p) => Some(p),
        }
    }

    fn peers(
        &mut self,
        cluster: &Cluster,
        path: &FieldPath,
        texts: Option<Vec<String>>,
        default: Vec<PeerPattern>,
    ) -> Vec<PeerPattern> {
        match texts {
            None => default,
            Some(texts) => {
                if texts.is_empty() {
                    self.problem(
                        path.clone(),
                        "an empty list sends no probe; leave the key out for the default",
                    );
                }
                texts
                    .iter()
                    .enumerate()
                    .filter_map(|(i, t)| self.peer(cluster, &path.index(i), t))
                    .collect()
            }
        }
    }

    fn probes(&mut self, cluster: &Cluster, raw: Option<RawProbes>) -> Vec<crate::probe::Probe> {
        let path = FieldPath::new("probes");
        let default = ProbeSpec::default();
        let Some(raw) = raw else {
            // The default probes reach every pod: the cluster is why there are none.
            let probes = default.probes(cluster);
            let before = self.problems.len();
            self.no_probe(&FieldPath::new("cluster"), &probes, before);
            return probes;
        };
        let before = self.problems.len();
        let from = self.peers(cluster, &path.child("from"), raw.from, default.from);
        let to = self.peers(cluster, &path.child("to"), raw.to, default.to);
        // Without the sources or destinations written, no port can be judged served.
        let peers_loaded = self.problems.len() == before;
        let ports = match raw.ports {
            None => default.ports,
            Some(list) => {
                if list.is_empty() {
                    self.problem(
                        path.child("ports"),
                        "an empty list sends no probe; leave the key out for the default",
                    );
                }
                let mut ports: Vec<PortProtocol> = Vec::new();
                for (i, p) in list.into_iter().enumerate() {
                    if let Some(port) =
                        self.port_number(&path.child("ports").index(i).child("port"), p.port)
                    {
                        let pp = PortProtocol {
                            port,
                            protocol: p.protocol,
                        };
                        if !ports.contains(&pp) {
                            ports.push(pp);
                        }
                    }
                }
                ports
            }
        };
        if raw.families.is_some() {
            self.tie("probes.families names IP families".into());
        }
        let before_families = self.problems.len();
        let families = raw.families.map(|list| {
            let p = path.child("families");
            if list.is_empty() {
                self.problem(p.clone(), "an empty list sends no probe; leave the key out for every family of the cluster");
            }
            for (i, f) in list.iter().enumerate() {
                if !cluster.has_family(*f) {
                    self.problem(p.index(i), format!("the cluster has no {f} (ipFamilies)"));
                } else if list[..i].contains(f) {
                    self.problem(p.index(i), format!("{f} is listed twice"));
                }
            }
            list
        });
        let peers_loaded = peers_loaded && self.problems.len() == before_families;
        let spec = ProbeSpec {
            from,
            to,
            ports,
            families,
        };
        let probes = spec.probes(cluster);
        let before = self.problems.len();
        for (i, pp) in spec.ports.iter().enumerate() {
            if peers_loaded && !probes.iter().any(|p| p.port_protocol() == *pp) {
                self.problem(
                    path.child("ports").index(i),
                    format!("no destination of the probes serves {pp}"),
                );
            }
        }
        self.no_probe(&path, &probes, before);
        probes
    }

    /// A scenario without a probe would pass having checked nothing (pods
    /// with `ports: []`, say); unless a problem found since `before`
    /// already explains why.
    fn no_probe(&mut self, path: &FieldPath, probes: &[crate::probe::Probe], before: usize) {
        if probes.is_empty() && self.problems.len() == before {
            self.problem(
                path.clone(),
                "no probe: no destination of the probes serves any of the probed ports (a pod with `ports: []` serves none), so the scenario would check nothing",
            );
        }
    }

    fn expectation(&mut self, cluster: &Cluster, path: &FieldPath, raw: RawExpect) -> Expectation {
        let mut rules = Vec::new();
        for (i, r) in raw.rules.into_iter().enumerate() {
            let p = path.child("rules").index(i);
            let from = self.peer(cluster, &p.child("from"), r.from.as_deref().unwrap_or("*"));
            let to = self.peer(cluster, &p.child("to"), r.to.as_deref().unwrap_or("*"));
            let port = r.port.and_then(|n| self.port_number(&p.child("port"), n));
            if r.family.is_some() {
                self.tie(format!("{} names an IP family", p.child("family")));
            }
            if let (Some(from), Some(to)) = (from, to) {
                rules.push(ExpectRule {
                    from,
                    to,
                    port,
                    protocol: r.protocol,
                    family: r.family,
                    verdict: r.verdict,
                });
            }
        }
        Expectation {
            default: raw.default,
            rules,
        }
    }

    // ---- steps --------------------------------------------------------------

    fn step(
        &mut self,
        previous: &Round,
        path: &FieldPath,
        index: usize,
        raw: RawStep,
        added: &[usize],
    ) -> Round {
        let mut cluster = previous.cluster.clone();
        for &j in added {
            cluster.pods[j].present = true;
        }
        for (i, key) in raw.delete_pods.iter().enumerate() {
            let p = path.child("deletePods").index(i);
            match key
                .split_once('/')
                .and_then(|(ns, name)| cluster.pod_index(ns, name))
            {
                None => self.problem(p, format!("no pod {key:?} (pods are named namespace/name)")),
                Some(j) if !cluster.pods[j].present => self.problem(
                    p,
                    format!("pod {key} does not exist at this step (a later step adds it, or an earlier one deleted it)"),
                ),
                Some(j) => cluster.pods[j].present = false,
            }
        }
        let (mut policies, mut cluster_policies) = self.policies(
            Some(&cluster),
            &path.child("apply"),
            raw.apply.len(),
            (&previous.policies, &previous.cluster_policies),
        );
        for (i, key) in raw.delete.iter().enumerate() {
            let p = path.child("delete").index(i);
            if let Some(name) = key.strip_prefix("cnp:") {
                match cluster_policies.iter().position(|q| q.name == name) {
                    Some(pos) => {
                        cluster_policies.remove(pos);
                    }
                    None => self.problem(
                        p,
                        format!("there is no ClusterNetworkPolicy {name} to delete at this step"),
                    ),
                }
            } else if !key.contains('/') {
                self.problem(
                    p,
                    format!(
                        "{key:?}: a NetworkPolicy is named namespace/name, a ClusterNetworkPolicy cnp:NAME"
                    ),
                );
            } else if let Some(pos) = policies.iter().position(|q| &q.key() == key) {
                policies.remove(pos);
            } else {
                self.problem(
                    p,
                    format!("there is no NetworkPolicy {key} to delete at this step"),
                );
            }
        }
        for (target, labels) in raw.set_pod_labels {
            let p = path.child("setPodLabels").key(&target);
            let found = target
                .split_once('/')
                .and_then(|(ns, name)| cluster.pod_index(ns, name));
            match found {
                None => self.problem(
                    p,
                    format!("no pod {target:?} (pods are named namespace/name)"),
                ),
                Some(i) if !cluster.pods[i].present => self.problem(
                    p,
                    format!("pod {target} does not exist at this step: it cannot be relabelled"),
                ),
                Some(i) => {
                    self.labels(&p, &labels);
                    cluster.pods[i].labels = labels;
                }
            }
        }
        for (target, labels) in raw.set_namespace_labels {
            let p = path.child("setNamespaceLabels").key(&target);
            match cluster.namespace_index(&target) {
                None => self.problem(p, format!("no namespace {target:?}")),
                Some(i) => {
                    self.namespace_labels(&p, &target, &labels);
                    cluster.namespaces[i].labels = cluster::namespace_labels(&target, labels);
                }
            }
        }
        let expect = raw
            .expect
            .map(|e| self.expectation(&cluster, &path.child("expect"), e));
        let name = raw.name.unwrap_or_else(|| format!("step-{}", index + 1));
        if name == INITIAL_ROUND {
            self.problem(
                path.child("name"),
                format!("{INITIAL_ROUND:?} names the round before the steps"),
            );
        }
        Round {
            name,
            description: raw.description,
            cluster,
            policies,
            cluster_policies,
            expect,
            observe_established: raw.observe_established,
        }
    }
}

/// The cluster's families, and the addresses given so far with the field
/// that gave each (to name both in a conflict).
struct Taken {
    families: Vec<IpFamily>,
    by: HashMap<IpAddr, FieldPath>,
}

impl Taken {
    fn has(&self, family: IpFamily) -> bool {
        self.families.contains(&family)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const BODY: &str = "policies: []\nexpect: {default: allowed}\n";

    fn load(text: &str) -> ScenarioFile {
        build(Path::new("s.yaml"), text)
    }

    /// The problems of a file that must not load, as `line path: message`.
    fn problems(text: &str) -> Vec<String> {
        load(text)
            .loaded
            .expect_err("must not load")
            .problems
            .iter()
            .map(|p| {
                format!(
                    "{} {}: {}",
                    p.position.map_or(0, |p| p.line),
                    p.path,
                    p.message
                )
            })
            .collect()
    }

    #[test]
    fn header_fields_of_the_wrong_type_are_errors_with_line_and_path() {
        let cases = [
            (
                "name: 123\n",
                "1 name: must be a string, not a number: quote it",
            ),
            (
                "name: s\nexpectInvalid: 5\n",
                "2 expectInvalid: must be a string (a field path), not a number: quote it",
            ),
            (
                "name: s\nexpectInvalid: ''\n",
                "2 expectInvalid: must name a field path, such as spec.ingress[0].ports[0].port",
            ),
            (
                "name: s\ntags: x\n",
                "2 tags: must be a list of strings, not a string",
            ),
            (
                "name: s\ntags: [ingress, 7]\n",
                "2 tags[1]: a tag must be a string, not a number",
            ),
            (
                "name: s\ndescription: [a, b]\n",
                "2 description: must be a string, not a list",
            ),
            (
                "name: s\ndescription: true\n",
                "2 description: must be a string, not a boolean: quote it",
            ),
        ];
        for (header, want) in cases {
            let got = problems(&format!("{header}{BODY}"));
            assert_eq!(got, [want], "{header}");
        }
    }

    #[test]
    fn a_header_that_cannot_be_read_is_not_a_loader_check() {
        // `expectInvalid: name` would be satisfied by the problem at `name`.
        let sf = load(&format!("name: 123\nexpectInvalid: name\n{BODY}"));
        assert_eq!(sf.header.expect_invalid, None);
        assert!(sf.loaded.is_err());
    }

    #[test]
    fn quoted_header_values_are_strings() {
        let sf = load(&format!(
            "name: \"123\"\ndescription: \"5\"\ntags: [\"80\"]\n{BODY}"
        ));
        assert!(sf.loaded.is_ok(), "{:?}", sf.loaded.err());
        assert_eq!(sf.header.name.as_deref(), Some("123"));
        assert_eq!(sf.header.tags, ["80"]);
    }

    #[test]
    fn a_scenario_without_a_probe_is_an_error() {
        let cluster = "cluster:\n  nodes: [{name: n1}]\n  namespaces: [{name: x}]\n  pods:\n    - {name: a, namespace: x, ports: []}\n    - {name: b, namespace: x, ports: []}\n";
        let got = problems(&format!("name: s\n{cluster}{BODY}"));
        assert_eq!(got.len(), 1, "{got:?}");
        assert!(
            got[0].starts_with("2 cluster: no probe: no destination of the probes serves any"),
            "{got:?}"
        );
        // Probes to the one pod that serves nothing: each probed port says
        // so already, and nothing is added.
        let cluster = "cluster:\n  nodes: [{name: n1}]\n  namespaces: [{name: x}]\n  pods:\n    - {name: a, namespace: x, ports: []}\n    - {name: b, namespace: x}\n";
        let got = problems(&format!("name: s\n{cluster}probes: {{to: [x/a]}}\n{BODY}"));
        assert_eq!(got.len(), 6, "{got:?}");
        assert!(
            got.iter().all(|p| p.starts_with("8 probes.ports[")
                && p.contains("no destination of the probes serves")),
            "{got:?}"
        );
    }
}
