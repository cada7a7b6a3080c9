//! Every problem the scenario loader reports itself, one case each: the
//! scenario format (`raw.rs`, read strictly), the YAML, the cluster, the
//! probes, the expectations, the steps (`build.rs`) and how a policy is
//! decoded before validation (`policy.rs`). The API server's validation of
//! policies is not here: `scenarios/invalid/` has an `expectInvalid` file
//! for each of its checks.
//!
//! Each case is a minimal file with exactly one problem, the field path and
//! line it must be reported at, the start of its message, and an edit that
//! removes the problem: the edited file must load.

use std::fmt::Write;
use std::path::Path;

use super::{LoadError, load_str};

struct Case {
    what: &'static str,
    text: String,
    /// Replacing the first by the second removes the problem.
    fix: (&'static str, &'static str),
    /// The problem's full path in the document.
    path: &'static str,
    line: u64,
    /// How its message starts.
    message: &'static str,
}

fn case(
    what: &'static str,
    lines: &[&str],
    fix: (&'static str, &'static str),
    path: &'static str,
    line: u64,
    message: &'static str,
) -> Case {
    Case {
        what,
        text: lines.join("\n") + "\n",
        fix,
        path,
        line,
        message,
    }
}

/// A cluster of `count` nodes, `n1` on line 4, `n2` on line 5, ...
fn nodes(count: usize) -> String {
    let mut text = String::from("name: s\ncluster:\n  nodes:\n");
    for i in 1..=count {
        let _ = writeln!(text, "  - {{name: n{i}}}");
    }
    text + "  namespaces: [{name: x}]\n"
}

/// `count` pods on the one node `n1`, from line 6 on.
fn pods(count: usize) -> String {
    let mut text = String::from(
        "name: s\ncluster:\n  nodes: [{name: n1}]\n  namespaces: [{name: x}]\n  pods:\n",
    );
    for i in 1..=count {
        let _ = writeln!(text, "  - {{name: p{i}, namespace: x}}");
    }
    text
}

const POLICY_X_P: [&str; 5] = [
    "policies:",
    "- apiVersion: networking.k8s.io/v1",
    "  kind: NetworkPolicy",
    "  metadata: {name: p, namespace: x}",
    "  spec: {podSelector: {}}",
];

fn with_policy_x_p(rest: &[&'static str]) -> Vec<&'static str> {
    let mut lines = vec!["name: s"];
    lines.extend(POLICY_X_P);
    lines.extend(rest);
    lines
}

#[rustfmt::skip]
#[allow(clippy::too_many_lines, reason = "a table of cases, one entry per problem; no logic to split")]
fn cases() -> Vec<Case> {
    let mut cases = vec![
        // ---- YAML, and the format as raw.rs reads it --------------------
        case("YAML syntax", &[
            "name: s",
            "tags: [a, b",
            "description: d",
        ], ("[a, b", "[a, b]"), "", 3, "illegal placement of ':' indicator"),
        case("unknown key", &[
            "name: s",
            "polices: []",
        ], ("polices", "policies"), "polices", 2, "unknown field `polices`, expected one of"),
        case("unknown key in the cluster", &[
            "name: s",
            "cluster:",
            "  nodes: [{name: n1}]",
            "  namespaces: [{name: x}]",
            "  pods:",
            "  - {name: a, namespace: x, nod: n1}",
        ], ("nod:", "node:"), "cluster.pods[0].nod", 6, "unknown field `nod`, expected one of"),
        case("missing key", &[
            "description: nameless",
        ], ("description:", "name: s\ndescription:"), "", 1, "missing field `name`"),
        case("wrong type", &[
            "name: s",
            "tags: 3",
        ], ("tags: 3", "tags: [a]"), "tags", 2, "must be a list of strings, not a number"),
        case("unknown verdict", &[
            "name: s",
            "expect:",
            "  default: maybe",
        ], ("maybe", "denied"), "expect.default", 3, "unknown value \"maybe\", expected allowed or denied"),
        case("cluster neither a name nor an object", &[
            "name: s",
            "cluster: [a]",
        ], ("[a]", "standard"), "cluster", 2, "invalid type: sequence, expected \"standard\" or a cluster object"),

        // ---- the scenario ------------------------------------------------
        case("scenario name", &[
            "name: My_Scenario",
        ], ("My_Scenario", "my-scenario"), "name", 1,
            "\"My_Scenario\" must consist of lower case letters, digits and '-'"),
        case("empty scenario name", &[
            "name: ''",
        ], ("''", "s"), "name", 1, "\"\" must consist of lower case letters, digits and '-'"),
        case("YAML 1.1 label value in the cluster", &[
            "name: s",
            "cluster:",
            "  nodes: [{name: n1}]",
            "  namespaces:",
            "  - name: x",
            "    labels: {env: yes}",
        ], ("yes", "'yes'"), "cluster.namespaces[0].labels[env]", 6,
            "unquoted value yes is read by kubectl (YAML 1.1) as the boolean true, not a string; quote it: \"yes\""),
        case("YAML 1.1 label value in a step", &[
            "name: s",
            "steps:",
            "- setPodLabels:",
            "    x/a: {enabled: off}",
        ], ("off", "'off'"), "steps[0].setPodLabels[x/a][enabled]", 4,
            "unquoted value off is read by kubectl (YAML 1.1) as the boolean false"),
        case("duplicate step name", &[
            "name: s",
            "steps:",
            "- {name: one}",
            "- {name: one, description: again}",
        ], ("one, description", "two, description"), "steps[1].name", 4, "duplicate step name \"one\""),

        // ---- the cluster -------------------------------------------------
        case("unknown cluster name", &[
            "name: s",
            "cluster: big",
        ], ("big", "standard"), "cluster", 2,
            "unknown cluster \"big\": write \"standard\" or a cluster object"),
        case("no node", &[
            "name: s",
            "cluster:",
            "  nodes: []",
            "  namespaces: [{name: x}]",
        ], ("[]", "[{name: n1}]"), "cluster.nodes", 3, "a cluster needs at least one node"),
        case("node name", &[
            "name: s",
            "cluster:",
            "  nodes: [{name: Node-1}]",
            "  namespaces: [{name: x}]",
        ], ("Node-1", "node-1"), "cluster.nodes[0].name", 3,
            "Invalid value: \"Node-1\": a lowercase RFC 1123 label must consist of"),
        case("duplicate node", &[
            "name: s",
            "cluster:",
            "  nodes:",
            "  - {name: n1}",
            "  - {name: n1, ip: 192.168.100.9}",
            "  namespaces: [{name: x}]",
        ], ("n1, ip", "n2, ip"), "cluster.nodes[1].name", 5, "duplicate node \"n1\""),
        case("namespace name", &[
            "name: s",
            "cluster:",
            "  nodes: [{name: n1}]",
            "  namespaces: [{name: X}]",
        ], ("X", "x"), "cluster.namespaces[0].name", 4,
            "Invalid value: \"X\": a lowercase RFC 1123 label must consist of"),
        case("duplicate namespace", &[
            "name: s",
            "cluster:",
            "  nodes: [{name: n1}]",
            "  namespaces:",
            "  - {name: x}",
            "  - {name: x, labels: {team: b}}",
        ], ("x, labels", "y, labels"), "cluster.namespaces[1].name", 6, "duplicate namespace \"x\""),
        case("namespace label key", &[
            "name: s",
            "cluster:",
            "  nodes: [{name: n1}]",
            "  namespaces:",
            "  - name: x",
            "    labels: {_team: a}",
        ], ("_team", "team"), "cluster.namespaces[0].labels[_team]", 6,
            "Invalid value: \"_team\": name part must consist of"),
        case("namespace label value", &[
            "name: s",
            "cluster:",
            "  nodes: [{name: n1}]",
            "  namespaces:",
            "  - name: x",
            "    labels: {team: a_}",
        ], ("a_", "a"), "cluster.namespaces[0].labels[team]", 6,
            "Invalid value: \"a_\": a valid label must be"),
        case("namespace name label", &[
            "name: s",
            "cluster:",
            "  nodes: [{name: n1}]",
            "  namespaces:",
            "  - name: x",
            "    labels: {kubernetes.io/metadata.name: z}",
        ], ("name: z", "name: x"), "cluster.namespaces[0].labels[kubernetes.io/metadata.name]", 6,
            "Kubernetes sets kubernetes.io/metadata.name to the namespace's name, \"x\""),
        case("pod name", &[
            "name: s",
            "cluster:",
            "  nodes: [{name: n1}]",
            "  namespaces: [{name: x}]",
            "  pods: [{name: A, namespace: x}]",
        ], ("A", "a"), "cluster.pods[0].name", 5,
            "Invalid value: \"A\": a lowercase RFC 1123 subdomain must consist of"),
        case("pod in an unknown namespace", &[
            "name: s",
            "cluster:",
            "  nodes: [{name: n1}]",
            "  namespaces: [{name: x}]",
            "  pods:",
            "  - name: a",
            "    namespace: q",
        ], ("q", "x"), "cluster.pods[0].namespace", 7,
            "unknown namespace \"q\": declare it in cluster.namespaces"),
        case("duplicate pod", &[
            "name: s",
            "cluster:",
            "  nodes: [{name: n1}]",
            "  namespaces: [{name: x}]",
            "  pods:",
            "  - {name: a, namespace: x}",
            "  - {name: a, namespace: x, labels: {app: b}}",
        ], ("a, namespace: x, labels", "b, namespace: x, labels"), "cluster.pods[1].name", 7,
            "duplicate pod x/a"),
        case("pod on an unknown node", &[
            "name: s",
            "cluster:",
            "  nodes: [{name: n1}]",
            "  namespaces: [{name: x}]",
            "  pods:",
            "  - name: a",
            "    namespace: x",
            "    node: n9",
        ], ("n9", "n1"), "cluster.pods[0].node", 8, "unknown node \"n9\""),
        case("pod label key", &[
            "name: s",
            "cluster:",
            "  nodes: [{name: n1}]",
            "  namespaces: [{name: x}]",
            "  pods:",
            "  - name: a",
            "    namespace: x",
            "    labels: {app/x/y: a}",
        ], ("app/x/y", "app"), "cluster.pods[0].labels[app/x/y]", 8,
            "Invalid value: \"app/x/y\": a valid label key"),
        case("external name", &[
            "name: s",
            "cluster:",
            "  nodes: [{name: n1}]",
            "  namespaces: [{name: x}]",
            "  externals: [{name: GW, ip: 10.9.0.1}]",
        ], ("GW", "gw"), "cluster.externals[0].name", 5,
            "Invalid value: \"GW\": a lowercase RFC 1123 label must consist of"),
        case("duplicate external", &[
            "name: s",
            "cluster:",
            "  nodes: [{name: n1}]",
            "  namespaces: [{name: x}]",
            "  externals:",
            "  - {name: gw, ip: 10.9.0.1}",
            "  - {name: gw, ip: 10.9.0.2}",
        ], ("gw, ip: 10.9.0.2", "gw2, ip: 10.9.0.2"), "cluster.externals[1].name", 7,
            "duplicate external \"gw\""),
        case("not an IPv4 address", &[
            "name: s",
            "cluster:",
            "  nodes: [{name: n1}]",
            "  namespaces: [{name: x}]",
            "  externals:",
            "  - name: gw",
            "    ip: 'fd00::1'",
        ], ("'fd00::1'", "10.9.0.1"), "cluster.externals[0].ip", 7,
            "fd00::1 is an IPv6 address, and the cluster has no IPv6 (ipFamilies: [IPv4]); add IPv6 to ipFamilies"),
        case("not an IP address", &[
            "name: s",
            "cluster:",
            "  nodes: [{name: n1}]",
            "  namespaces: [{name: x}]",
            "  externals:",
            "  - name: gw",
            "    ip: 10.9.0.0/24",
        ], ("10.9.0.0/24", "10.9.0.1"), "cluster.externals[0].ip", 7,
            "\"10.9.0.0/24\" is not an IP address"),
        case("an IPv4 address in an IPv6 cluster", &[
            "name: s",
            "ipFamilies: [IPv6]",
            "cluster:",
            "  nodes: [{name: n1}]",
            "  namespaces: [{name: x}]",
            "  pods: [{name: a, namespace: x, ip: 10.244.1.99}]",
        ], ("10.244.1.99", "'fd00:10:244:1::99'"), "cluster.pods[0].ip", 6,
            "10.244.1.99 is an IPv4 address, and the cluster has no IPv4 (ipFamilies: [IPv6])"),
        case("two addresses of one family", &[
            "name: s",
            "ipFamilies: [IPv4, IPv6]",
            "cluster:",
            "  nodes: [{name: n1}]",
            "  namespaces: [{name: x}]",
            "  externals:",
            "  - name: gw",
            "    ips: [10.9.0.1, 10.9.0.2]",
        ], ("10.9.0.2", "'fd00:9::1'"), "cluster.externals[0].ips[1]", 8,
            "10.9.0.2: a second IPv4 address (after 10.9.0.1)"),
        case("ip and ips", &[
            "name: s",
            "ipFamilies: [IPv4, IPv6]",
            "cluster:",
            "  nodes: [{name: n1}]",
            "  namespaces: [{name: x}]",
            "  externals:",
            "  - name: gw",
            "    ip: 10.9.0.3",
            "    ips: [10.9.0.1]",
        ], ("    ip: 10.9.0.3\n", ""), "cluster.externals[0].ips", 9,
            "write either ip or ips, not both"),
        case("an external without an address", &[
            "name: s",
            "cluster:",
            "  nodes: [{name: n1}]",
            "  namespaces: [{name: x}]",
            "  externals:",
            "  - name: gw",
        ], ("name: gw", "{name: gw, ip: 10.9.0.1}"), "cluster.externals[0].ip", 6,
            "an external host needs an address"),
        case("a family twice", &[
            "name: s",
            "ipFamilies: [IPv6, IPv6]",
        ], ("[IPv6, IPv6]", "[IPv6, IPv4]"), "ipFamilies", 2,
            "write [IPv4], [IPv6], or both"),
        case("an unknown family", &[
            "name: s",
            "ipFamilies: [IPv4, ipv6]",
        ], ("ipv6", "IPv6"), "ipFamilies[1]", 2,
            "unknown value \"ipv6\", expected IPv4 or IPv6"),
        case("probes in a family the cluster lacks", &[
            "name: s",
            "probes:",
            "  families: [IPv6]",
        ], ("[IPv6]", "[IPv4]"), "probes.families[0]", 3,
            "the cluster has no IPv6"),
        case("not a host address", &[
            "name: s",
            "cluster:",
            "  nodes: [{name: n1}]",
            "  namespaces: [{name: x}]",
            "  pods:",
            "  - name: a",
            "    namespace: x",
            "    ip: 127.0.0.1",
        ], ("127.0.0.1", "10.9.0.1"), "cluster.pods[0].ip", 8,
            "127.0.0.1 cannot be a host address in the lab (unspecified, loopback, link-local, multicast, broadcast or IPv4-mapped)"),
        case("address used twice", &[
            "name: s",
            "cluster:",
            "  nodes: [{name: n1}]",
            "  namespaces: [{name: x}]",
            "  pods: [{name: a, namespace: x, ip: 10.9.0.1}]",
            "  externals:",
            "  - name: gw",
            "    ip: 10.9.0.1",
        ], ("    ip: 10.9.0.1", "    ip: 10.9.0.2"), "cluster.externals[0].ip", 8,
            "address 10.9.0.1 is already used by cluster.pods[0].ip"),
        case("the address of a node without one", &[
            "name: s",
            "cluster:",
            "  nodes: [{name: n1}]",
            "  namespaces: [{name: x}]",
            "  pods: [{name: a, namespace: x, ip: 192.168.100.1}]",
        ], ("192.168.100.1", "192.168.100.2"), "cluster.pods[0].ip", 5,
            "address 192.168.100.1 is already used by cluster.nodes[0]"),
        case("a node without an address, its default taken", &[
            "name: s",
            "cluster:",
            "  nodes:",
            "  - {name: n1, ip: 192.168.100.2}",
            "  - {name: n2}",
            "  namespaces: [{name: x}]",
        ], ("{name: n2}", "{name: n2, ip: 192.168.100.3}"), "cluster.nodes[1]", 5,
            "default address 192.168.100.2 is already used by cluster.nodes[0].ip: give this node an ip"),
        case("named port of an external", &[
            "name: s",
            "cluster:",
            "  nodes: [{name: n1}]",
            "  namespaces: [{name: x}]",
            "  externals:",
            "  - name: gw",
            "    ip: 10.9.0.1",
            "    ports:",
            "    - {name: web, containerPort: 80}",
        ], ("name: web, ", ""), "cluster.externals[0].ports[0].name", 9,
            "external hosts have no named ports: a policy's named port resolves against pods only"),
        case("port name", &[
            "name: s",
            "cluster:",
            "  nodes: [{name: n1}]",
            "  namespaces: [{name: x}]",
            "  pods:",
            "  - name: a",
            "    namespace: x",
            "    ports: [{name: Web, containerPort: 80}]",
        ], ("Web", "web"), "cluster.pods[0].ports[0].name", 8,
            "Invalid value: \"Web\": must contain only alpha-numeric characters (a-z, 0-9), and hyphens (-)"),
        case("duplicate port name", &[
            "name: s",
            "cluster:",
            "  nodes: [{name: n1}]",
            "  namespaces: [{name: x}]",
            "  pods:",
            "  - name: a",
            "    namespace: x",
            "    ports:",
            "    - {name: web, containerPort: 80}",
            "    - {name: web, containerPort: 81}",
        ], ("web, containerPort: 81", "web2, containerPort: 81"), "cluster.pods[0].ports[1].name", 10,
            "duplicate port name \"web\""),
        case("duplicate port", &[
            "name: s",
            "cluster:",
            "  nodes: [{name: n1}]",
            "  namespaces: [{name: x}]",
            "  pods:",
            "  - name: a",
            "    namespace: x",
            "    ports:",
            "    - {containerPort: 80}",
            "    - {containerPort: 80, protocol: TCP}",
        ], ("TCP", "UDP"), "cluster.pods[0].ports[1]", 10, "duplicate port 80/TCP"),
        case("container port out of range", &[
            "name: s",
            "cluster:",
            "  nodes: [{name: n1}]",
            "  namespaces: [{name: x}]",
            "  pods:",
            "  - name: a",
            "    namespace: x",
            "    ports:",
            "    - containerPort: 0",
        ], ("containerPort: 0", "containerPort: 8080"), "cluster.pods[0].ports[0].containerPort", 9,
            "Invalid value: 0: must be between 1 and 65535, inclusive"),
        case("node port out of range", &[
            "name: s",
            "cluster:",
            "  nodes:",
            "  - name: n1",
            "    ports: [{containerPort: 65536}]",
            "  namespaces: [{name: x}]",
        ], ("65536", "65535"), "cluster.nodes[0].ports[0].containerPort", 5,
            "Invalid value: 65536: must be between 1 and 65535, inclusive"),

        // ---- policies (build.rs) -----------------------------------------
        case("policy in a namespace not in the cluster", &[
            "name: s",
            "policies:",
            "- apiVersion: networking.k8s.io/v1",
            "  kind: NetworkPolicy",
            "  metadata:",
            "    name: p",
            "    namespace: q",
            "  spec: {podSelector: {}}",
        ], ("namespace: q", "namespace: x"), "policies[0].metadata.namespace", 7,
            "namespace \"q\" is not in the cluster"),
        case("policy in the default namespace, not in the cluster", &[
            "name: s",
            "policies:",
            "- apiVersion: networking.k8s.io/v1",
            "  kind: NetworkPolicy",
            "  metadata: {name: p}",
            "  spec: {podSelector: {}}",
        ], ("{name: p}", "{name: p, namespace: x}"), "policies[0].metadata.namespace", 5,
            "namespace \"default\" is not in the cluster"),
        case("policy written twice", &[
            "name: s",
            "policies:",
            "- apiVersion: networking.k8s.io/v1",
            "  kind: NetworkPolicy",
            "  metadata: {name: p, namespace: x}",
            "  spec: {podSelector: {}}",
            "- apiVersion: networking.k8s.io/v1",
            "  kind: NetworkPolicy",
            "  metadata: {name: p, namespace: x}",
            "  spec: {podSelector: {}, policyTypes: [Egress]}",
        ], ("p, namespace: x}\n  spec: {podSelector: {}, policyTypes", "p2, namespace: x}\n  spec: {podSelector: {}, policyTypes"),
            "policies[1]", 7, "NetworkPolicy x/p is written twice (also at policies[0])"),
        case("policy written twice in a step", &[
            "name: s",
            "steps:",
            "- apply:",
            "  - apiVersion: networking.k8s.io/v1",
            "    kind: NetworkPolicy",
            "    metadata: {name: p, namespace: x}",
            "    spec: {podSelector: {}}",
            "  - apiVersion: networking.k8s.io/v1",
            "    kind: NetworkPolicy",
            "    metadata: {name: p, namespace: x}",
            "    spec: {podSelector: {}, policyTypes: [Egress]}",
        ], ("p, namespace: x}\n    spec: {podSelector: {}, policyTypes", "p2, namespace: x}\n    spec: {podSelector: {}, policyTypes"),
            "steps[0].apply[1]", 8, "NetworkPolicy x/p is written twice (also at steps[0].apply[0])"),
        case("policy of a step in a namespace not in the cluster", &[
            "name: s",
            "steps:",
            "- apply:",
            "  - apiVersion: networking.k8s.io/v1",
            "    kind: NetworkPolicy",
            "    metadata:",
            "      name: p",
            "      namespace: q",
            "    spec: {podSelector: {}}",
        ], ("namespace: q", "namespace: y"), "steps[0].apply[0].metadata.namespace", 8,
            "namespace \"q\" is not in the cluster"),

        // ---- a policy as decoded before validation (policy.rs) -----------
        case("policy not a mapping", &[
            "name: s",
            "policies:",
            "- web",
        ], ("- web", "- {apiVersion: networking.k8s.io/v1, kind: NetworkPolicy, metadata: {name: web, namespace: x}}"),
            "policies[0]", 3, "a NetworkPolicy must be a mapping"),
        case("policy without apiVersion", &[
            "name: s",
            "policies:",
            "- kind: NetworkPolicy",
            "  metadata: {name: p, namespace: x}",
        ], ("- kind", "- apiVersion: networking.k8s.io/v1\n  kind"), "policies[0].apiVersion", 3,
            "Required value: must be \"networking.k8s.io/v1\""),
        case("policy of another apiVersion", &[
            "name: s",
            "policies:",
            "- apiVersion: networking.k8s.io/v1beta1",
            "  kind: NetworkPolicy",
            "  metadata: {name: p, namespace: x}",
        ], ("v1beta1", "v1"), "policies[0].apiVersion", 3,
            "Unsupported value: \"networking.k8s.io/v1beta1\": supported values: \"networking.k8s.io/v1\""),
        case("policy of another kind", &[
            "name: s",
            "policies:",
            "- apiVersion: networking.k8s.io/v1",
            "  kind: Policy",
            "  metadata: {name: p, namespace: x}",
        ], ("kind: Policy", "kind: NetworkPolicy"), "policies[0].kind", 4,
            "Unsupported value: \"Policy\": supported values: \"NetworkPolicy\""),
        case("policy with an unknown field", &[
            "name: s",
            "policies:",
            "- apiVersion: networking.k8s.io/v1",
            "  kind: NetworkPolicy",
            "  metadata: {name: p, namespace: x}",
            "  spec:",
            "    podSelector: {}",
            "    ingres: [{}]",
        ], ("ingres:", "ingress:"), "policies[0].spec.ingres", 8, "unknown field \"ingres\""),
        case("policy field of the wrong type", &[
            "name: s",
            "policies:",
            "- apiVersion: networking.k8s.io/v1",
            "  kind: NetworkPolicy",
            "  metadata: {name: p, namespace: x}",
            "  spec:",
            "    podSelector: all",
        ], ("all", "{}"), "policies[0].spec.podSelector", 7, "invalid type: string \"all\""),
        case("policy without a required field", &[
            "name: s",
            "policies:",
            "- apiVersion: networking.k8s.io/v1",
            "  kind: NetworkPolicy",
            "  metadata: {name: p, namespace: x}",
            "  spec:",
            "    podSelector: {}",
            "    ingress:",
            "    - from:",
            "      - ipBlock: {except: [10.0.0.0/24]}",
        ], ("{except:", "{cidr: 10.0.0.0/16, except:"), "policies[0].spec.ingress[0].from[0].ipBlock.cidr", 10,
            "Required value"),
        case("YAML 1.1 label value in a policy", &[
            "name: s",
            "policies:",
            "- apiVersion: networking.k8s.io/v1",
            "  kind: NetworkPolicy",
            "  metadata: {name: p, namespace: x}",
            "  spec:",
            "    podSelector:",
            "      matchLabels: {enabled: on}",
        ], ("on}", "'on'}"), "policies[0].spec.podSelector.matchLabels[enabled]", 8,
            "unquoted value on is read by kubectl (YAML 1.1) as the boolean true"),

        // ---- probes and expectations --------------------------------------
        case("peer without a namespace", &[
            "name: s",
            "probes:",
            "  from: [a]",
        ], ("[a]", "[x/a]"), "probes.from[0]", 3,
            "invalid peer \"a\": a pod is written namespace/name (expected x/a, x/*, */a, */*, ext:NAME, ext:*, node:NAME, node:* or *)"),
        case("peer with an empty name", &[
            "name: s",
            "expect:",
            "  rules:",
            "  - {to: 'ext:', verdict: denied}",
        ], ("'ext:'", "'x/*'"), "expect.rules[0].to", 4, "invalid peer \"ext:\": empty name"),
        case("peer with a space", &[
            "name: s",
            "steps:",
            "- expect:",
            "    rules:",
            "    - from: x/a b",
            "      verdict: allowed",
        ], ("x/a b", "x/a"), "steps[0].expect.rules[0].from", 5,
            "invalid peer \"x/a b\": a name may not contain '*', '/', ':' or spaces"),
        case("probe peer that matches nothing", &[
            "name: s",
            "probes:",
            "  to:",
            "  - x/a",
            "  - q/a",
        ], ("q/a", "y/a"), "probes.to[1]", 5, "peer \"q/a\" matches nothing in the cluster"),
        case("expectation peer that matches nothing", &[
            "name: s",
            "expect:",
            "  default: denied",
            "  rules:",
            "  - {from: 'ext:*', verdict: allowed}",
        ], ("ext:*", "x/*"), "expect.rules[0].from", 5, "peer \"ext:*\" matches nothing in the cluster"),
        case("no probe source", &[
            "name: s",
            "probes:",
            "  from: []",
        ], ("[]", "[x/a]"), "probes.from", 3,
            "an empty list sends no probe; leave the key out for the default"),
        case("no probe destination", &[
            "name: s",
            "probes:",
            "  from: [x/a]",
            "  to: []",
        ], ("to: []", "to: ['*/b']"), "probes.to", 4,
            "an empty list sends no probe; leave the key out for the default"),
        case("no probe port", &[
            "name: s",
            "probes:",
            "  ports: []",
        ], ("[]", "[{port: 80}]"), "probes.ports", 3,
            "an empty list sends no probe; leave the key out for the default"),
        case("probe port nothing serves", &[
            "name: s",
            "probes:",
            "  ports:",
            "  - {port: 80, protocol: UDP}",
            "  - {port: 8080}",
        ], ("8080", "81"), "probes.ports[1]", 5, "no destination of the probes serves 8080/TCP"),
        case("probe port out of range", &[
            "name: s",
            "probes:",
            "  ports:",
            "  - port: 0",
        ], ("port: 0", "port: 80"), "probes.ports[0].port", 4,
            "Invalid value: 0: must be between 1 and 65535, inclusive"),
        case("expectation port out of range", &[
            "name: s",
            "expect:",
            "  rules:",
            "  - to: x/a",
            "    port: 70000",
            "    verdict: denied",
        ], ("70000", "80"), "expect.rules[0].port", 5,
            "Invalid value: 70000: must be between 1 and 65535, inclusive"),

        // ---- steps ---------------------------------------------------------
        case("deleting a policy by its name alone", &with_policy_x_p(&[
            "steps:",
            "- delete: [p]",
        ]), ("[p]", "[x/p]"), "steps[0].delete[0]", 8, "\"p\": a NetworkPolicy is named namespace/name"),
        case("deleting a policy that does not exist", &with_policy_x_p(&[
            "steps:",
            "- delete: [x/p, x/q]",
        ]), (", x/q", ""), "steps[0].delete[1]", 8,
            "there is no NetworkPolicy x/q to delete at this step"),
        case("deleting a policy an earlier step deleted", &with_policy_x_p(&[
            "steps:",
            "- delete: [x/p]",
            "- name: again",
            "  delete: [x/p]",
        ]), ("  delete: [x/p]", "  setPodLabels: {x/a: {pod: b}}"), "steps[1].delete[0]", 10,
            "there is no NetworkPolicy x/p to delete at this step"),
        case("deleting a ClusterNetworkPolicy that does not exist", &[
            "name: s",
            "policies:",
            "- apiVersion: policy.networking.k8s.io/v1alpha2",
            "  kind: ClusterNetworkPolicy",
            "  metadata: {name: c}",
            "  spec: {tier: Admin, priority: 1, subject: {namespaces: {}}}",
            "steps:",
            "- delete: [cnp:d]",
        ], ("cnp:d", "cnp:c"), "steps[0].delete[0]", 8,
            "there is no ClusterNetworkPolicy d to delete at this step"),
        case("a ClusterNetworkPolicy written twice", &[
            "name: s",
            "policies:",
            "- apiVersion: policy.networking.k8s.io/v1alpha2",
            "  kind: ClusterNetworkPolicy",
            "  metadata: {name: c}",
            "  spec: {tier: Admin, priority: 1, subject: {namespaces: {}}}",
            "- apiVersion: policy.networking.k8s.io/v1alpha2",
            "  kind: ClusterNetworkPolicy",
            "  metadata: {name: c}",
            "  spec: {tier: Baseline, priority: 1, subject: {namespaces: {}}}",
        ], ("{name: c}\n  spec: {tier: Baseline", "{name: d}\n  spec: {tier: Baseline"), "policies[1]", 7,
            "ClusterNetworkPolicy c is written twice (also at policies[0])"),
        case("a ClusterNetworkPolicy of another API version", &[
            "name: s",
            "policies:",
            "- apiVersion: policy.networking.k8s.io/v1alpha1",
            "  kind: ClusterNetworkPolicy",
            "  metadata: {name: c}",
            "  spec: {tier: Admin, priority: 1, subject: {namespaces: {}}}",
        ], ("v1alpha1", "v1alpha2"), "policies[0].apiVersion", 3,
            "Unsupported value: \"policy.networking.k8s.io/v1alpha1\""),
        case("an unknown format version", &[
            "formatVersion: \"2\"",
            "name: s",
        ], ("\"2\"", "\"1.1\""), "formatVersion", 1, "unsupported format version \"2\""),
        case("labels of an unknown pod", &[
            "name: s",
            "steps:",
            "- setPodLabels:",
            "    x/q: {pod: q}",
        ], ("x/q", "x/a"), "steps[0].setPodLabels[x/q]", 4,
            "no pod \"x/q\" (pods are named namespace/name)"),
        case("labels of a pod named without its namespace", &[
            "name: s",
            "steps:",
            "- setPodLabels:",
            "    a: {pod: q}",
        ], ("    a:", "    x/a:"), "steps[0].setPodLabels[a]", 4,
            "no pod \"a\" (pods are named namespace/name)"),
        case("pod label value of a step", &[
            "name: s",
            "steps:",
            "- setPodLabels:",
            "    x/a: {pod: -a}",
        ], ("-a", "a"), "steps[0].setPodLabels[x/a][pod]", 4,
            "Invalid value: \"-a\": a valid label must be"),
        case("labels of an unknown namespace", &[
            "name: s",
            "steps:",
            "- setNamespaceLabels:",
            "    q: {ns: q}",
        ], ("    q:", "    z:"), "steps[0].setNamespaceLabels[q]", 4, "no namespace \"q\""),
        case("namespace name label of a step", &[
            "name: s",
            "steps:",
            "- setNamespaceLabels:",
            "    x:",
            "      ns: x",
            "      kubernetes.io/metadata.name: z",
        ], ("name: z", "name: x"), "steps[0].setNamespaceLabels[x][kubernetes.io/metadata.name]", 6,
            "Kubernetes sets kubernetes.io/metadata.name to the namespace's name, \"x\""),
        case("namespace label key of a step", &[
            "name: s",
            "steps:",
            "- setNamespaceLabels:",
            "    x: {Team_: a}",
        ], ("Team_", "Team"), "steps[0].setNamespaceLabels[x][Team_]", 4,
            "Invalid value: \"Team_\": name part must consist of"),
        case("step named initial", &[
            "name: s",
            "steps:",
            "- name: initial",
        ], ("initial", "later"), "steps[0].name", 3, "\"initial\" names the round before the steps"),
    ];

    // Limits of the address plan: generated files.
    cases.push(Case {
        what: "too many nodes",
        text: nodes(251),
        fix: ("  - {name: n251}\n", ""),
        path: "cluster.nodes",
        line: 3,
        message: "at most 250 nodes are supported",
    });
    cases.push(Case {
        what: "too many pods without an ip on a node",
        text: pods(246),
        fix: ("{name: p246, namespace: x}", "{name: p246, namespace: x, ip: 10.9.0.1}"),
        path: "cluster.pods",
        line: 5,
        message: "node n1 has 246 pods without an ip; at most 245 can be allocated",
    });
    cases
}

/// Loads a case. The cases' minimal clusters have no pod serving a port,
/// so they send no probe; that problem has tests of its own (`build.rs`,
/// `tests/pass_means_passed.rs`) and is left out here.
fn load(text: &str) -> Result<super::Scenario, LoadError> {
    match load_str(Path::new("case.yaml"), text).loaded {
        Err(mut e) => {
            e.problems.retain(|p| !p.message.starts_with("no probe: "));
            if e.problems.is_empty() {
                return Ok(placeholder());
            }
            Err(e)
        }
        ok => ok,
    }
}

/// A scenario that loads, standing in for a case that fails only for lack of a probe.
fn placeholder() -> super::Scenario {
    load_str(Path::new("ok.yaml"), "name: ok\n")
        .loaded
        .expect("the standard cluster loads")
}

/// What is wrong with how `c` is reported, if anything.
fn check(c: &Case) -> Result<(), String> {
    let e = match load(&c.text) {
        Ok(_) => return Err("loads without a problem".into()),
        Err(e) => e,
    };
    let [p] = e.problems.as_slice() else {
        return Err(format!("{} problems, not one:\n{e}", e.problems.len()));
    };
    let line = p.position.map(|at| at.line);
    if p.document_path().to_string() != c.path
        || line != Some(c.line)
        || !p.message.starts_with(c.message)
    {
        return Err(format!(
            "reported as {p}\n  want path {:?}, line {}, message starting {:?}",
            c.path, c.line, c.message
        ));
    }
    if c.text.matches(c.fix.0).count() != 1 {
        return Err(format!("the fix {:?} is not written exactly once", c.fix.0));
    }
    let fixed = c.text.replacen(c.fix.0, c.fix.1, 1);
    load(&fixed).map_err(|e| format!("still does not load when fixed:\n{fixed}{e}"))?;
    Ok(())
}

#[test]
fn every_problem_names_its_field_and_line_and_the_fixed_file_loads() {
    let failures: Vec<String> = cases()
        .iter()
        .filter_map(|c| {
            check(c)
                .err()
                .map(|why| format!("{}: {why}\n{}", c.what, c.text))
        })
        .collect();
    assert!(failures.is_empty(), "\n{}", failures.join("\n\n"));
}

#[test]
fn the_cases_are_distinct() {
    let cases = cases();
    let mut names: Vec<_> = cases.iter().map(|c| c.what).collect();
    names.sort();
    names.dedup();
    assert_eq!(names.len(), cases.len(), "a case name is used twice");
}

#[test]
fn every_problem_of_a_file_is_reported_in_order() {
    let text = [
        "name: S",
        "cluster:",
        "  nodes: [{name: n1}, {name: n1}]",
        "  namespaces: [{name: x}]",
        "  pods: [{name: a, namespace: q}]",
    ]
    .join("\n");
    let e = load(&text).expect_err("three problems");
    let got: Vec<(String, u64)> = e
        .problems
        .iter()
        .map(|p| (p.document_path().to_string(), p.position.unwrap().line))
        .collect();
    assert_eq!(
        got,
        [
            ("name".to_string(), 1),
            ("cluster.nodes[1].name".to_string(), 3),
            ("cluster.pods[0].namespace".to_string(), 5),
        ]
    );
    assert_eq!(
        e.to_string().lines().next(),
        Some("case.yaml:1:1: name: \"S\" must consist of lower case letters, digits and '-'"),
        "file:line:column: path: message"
    );
}

#[test]
fn an_unreadable_file_is_a_problem_of_the_whole_file() {
    let file = Path::new("/nonexistent/netpol/scenario.yaml");
    let loaded = super::load(file);
    let e = loaded.loaded.as_ref().expect_err("no such file");
    let [p] = e.problems.as_slice() else {
        panic!("one problem: {e}");
    };
    assert!(p.path.is_root() && p.position.is_none(), "{p:?}");
    assert!(p.message.starts_with("cannot read: "), "{p}");
    assert_eq!(loaded.display_name(), "scenario", "named by the file stem");
}

#[test]
fn a_scenario_name_used_by_an_earlier_file_makes_the_later_one_invalid() {
    let dir = std::env::temp_dir().join(format!("netpol-suite-names-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let (first, second, third) = (dir.join("a.yaml"), dir.join("b.yaml"), dir.join("c.yaml"));
    std::fs::write(&first, "name: same\n").unwrap();
    std::fs::write(&second, "name: same\n").unwrap();
    std::fs::write(&third, "name: other\n").unwrap();
    let loaded = crate::suite::load(&[first.clone(), second, third]);
    std::fs::remove_dir_all(&dir).unwrap();

    assert!(matches!(loaded[0].entry, crate::suite::Entry::Ready(_)));
    assert!(matches!(loaded[2].entry, crate::suite::Entry::Ready(_)));
    let crate::suite::Entry::Invalid(e) = &loaded[1].entry else {
        panic!("the second file is invalid: {:?}", loaded[1].entry);
    };
    let [p] = e.problems.as_slice() else {
        panic!("one problem: {e}");
    };
    assert_eq!(p.path.to_string(), "name");
    assert_eq!(
        p.message,
        format!(
            "scenario name \"same\" is already used by {}",
            first.display()
        )
    );
}

#[test]
fn a_namespace_on_a_cluster_policy_is_dropped_with_a_warning() {
    let text = "name: s\npolicies:\n- apiVersion: policy.networking.k8s.io/v1alpha2\n  kind: ClusterNetworkPolicy\n  metadata: {name: c, namespace: x}\n  spec: {tier: Admin, priority: 1, subject: {namespaces: {}}}\n";
    let s = load(text).expect("a namespace is not an error");
    let warnings: Vec<String> = s.warnings.iter().map(ToString::to_string).collect();
    assert_eq!(
        warnings,
        [
            "5:23: policies[0].metadata.namespace: a ClusterNetworkPolicy is cluster-scoped: namespace \"x\" is dropped, as the API server drops it"
        ]
    );
    assert_eq!(
        s.rounds[0].cluster_policies[0].object.metadata.namespace,
        None
    );
}
