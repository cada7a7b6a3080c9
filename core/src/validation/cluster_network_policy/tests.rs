//! Each check of the CRD, as `(object snippet, the errors the API server
//! gives)`: the wording is that of apiextensions-apiserver and
//! kube-openapi (Kubernetes 1.35).

use netpol_protocol::cnp::{self, ClusterNetworkPolicy};
use serde_json::{Value, json};

use super::*;
use crate::validation::names::qualified_name_errors;

/// The error that follows one that blocks the CEL rules.
const NOT_CHECKED: &str = "<nil>: Invalid value: null: some validation rules were not checked because the object was invalid; correct the existing errors to complete validation";

const SUBDOMAIN: &str = "a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, '-' or '.', and must start and end with an alphanumeric character (e.g. 'example.com', regex used for validation is '[a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*')";

fn errors(object: &Value) -> Vec<String> {
    validate(object).iter().map(ToString::to_string).collect()
}

/// A valid policy whose `spec` has the fields of `spec` (a `null` field is
/// an absent one, as the API server reads it).
fn policy(spec: &Value) -> Value {
    let mut p = json!({
        "apiVersion": cnp::API_VERSION,
        "kind": cnp::KIND,
        "metadata": {"name": "cnp"},
        "spec": {"tier": "Admin", "priority": 10, "subject": {"namespaces": {}}},
    });
    for (k, v) in spec.as_object().expect("a mapping") {
        p["spec"][k] = v.clone();
    }
    p
}

/// A policy with one ingress rule: `action` and `from` valid unless `rule` says otherwise.
fn ingress(rule: &Value) -> Value {
    let mut r = json!({"action": "Accept", "from": [{"namespaces": {}}]});
    for (k, v) in rule.as_object().expect("a mapping") {
        r[k] = v.clone();
    }
    policy(&json!({ "ingress": [r] }))
}

/// A policy with one egress rule: `action` and `to` valid unless `rule` says otherwise.
fn egress(rule: &Value) -> Value {
    let mut r = json!({"action": "Accept", "to": [{"namespaces": {}}]});
    for (k, v) in rule.as_object().expect("a mapping") {
        r[k] = v.clone();
    }
    policy(&json!({ "egress": [r] }))
}

fn check(cases: &[(Value, &[&str], &str)]) {
    for (object, want, why) in cases {
        assert_eq!(errors(object), *want, "{why}");
    }
}

#[test]
fn tier_and_priority() {
    check(&[
        (policy(&json!({})), &[], "the base policy is valid"),
        (policy(&json!({"tier": "Baseline"})), &[], "Baseline"),
        (
            policy(&json!({"tier": null})),
            &["spec.tier: Required value", NOT_CHECKED],
            "no tier",
        ),
        (
            policy(&json!({"tier": "admin"})),
            &[
                r#"spec.tier: Unsupported value: "admin": supported values: "Admin", "Baseline""#,
                NOT_CHECKED,
            ],
            "enum values are case-sensitive",
        ),
        (
            policy(&json!({"tier": 5})),
            &[
                r#"spec.tier: Invalid value: "integer": spec.tier in body must be of type string: "integer""#,
                r#"spec.tier: Unsupported value: 5: supported values: "Admin", "Baseline""#,
                NOT_CHECKED,
            ],
            "a number: its type, and the enum",
        ),
        (policy(&json!({"priority": 0})), &[], "lowest priority"),
        (policy(&json!({"priority": 1000})), &[], "highest priority"),
        (
            policy(&json!({"priority": 10.0})),
            &[],
            "a whole float is an integer",
        ),
        (
            policy(&json!({"priority": 1001})),
            &[
                "spec.priority: Invalid value: 1001: spec.priority in body should be less than or equal to 1000",
            ],
            "above the maximum (not blocking the CEL rules)",
        ),
        (
            policy(&json!({"priority": -1})),
            &[
                "spec.priority: Invalid value: -1: spec.priority in body should be greater than or equal to 0",
            ],
            "below the minimum",
        ),
        (
            policy(&json!({"priority": "10"})),
            &[
                r#"spec.priority: Invalid value: "string": spec.priority in body must be of type integer: "string""#,
                NOT_CHECKED,
            ],
            "a string",
        ),
        (
            policy(&json!({"priority": true})),
            &[
                r#"spec.priority: Invalid value: "": spec.priority in body must be of type int32: """#,
                NOT_CHECKED,
            ],
            "a boolean is named by its (empty) format",
        ),
        (
            policy(&json!({"priority": 10.5})),
            &[
                r#"spec.priority: Invalid value: "float64": spec.priority in body must be of type int32: "float64""#,
                r#"<nil>: Invalid value: "": Checked value must be of type integer with format int32 in spec.priority"#,
                NOT_CHECKED,
            ],
            "a fraction",
        ),
        (
            policy(&json!({"priority": 3_000_000_000_i64})),
            &[
                r#"<nil>: Invalid value: "": Checked value must be of type integer with format int32 in spec.priority"#,
                "spec.priority: Invalid value: 3000000000: spec.priority in body should be less than or equal to 1000",
            ],
            "beyond int32",
        ),
    ]);
}

#[test]
fn spec_and_subject() {
    let mut no_spec = policy(&json!({}));
    no_spec.as_object_mut().unwrap().remove("spec");
    check(&[
        (no_spec, &["spec: Required value", NOT_CHECKED], "no spec"),
        (
            policy(&json!({"priority": null, "subject": null, "tier": null})),
            &[
                "spec.priority: Required value",
                "spec.subject: Required value",
                "spec.tier: Required value",
                NOT_CHECKED,
            ],
            "every required field, in the CRD's order",
        ),
        (
            policy(&json!({"subject": {"pods": {"podSelector": {}}}})),
            &[],
            "pods, with the namespace selector left out",
        ),
        (
            policy(&json!({"subject": {}})),
            &[
                "spec.subject: Invalid value: 0: spec.subject in body should have at least 1 properties",
            ],
            "neither field",
        ),
        (
            policy(&json!({"subject": {"namespaces": {}, "pods": {"podSelector": {}}}})),
            &[
                "spec.subject: Too many: 2: must have at most 1 item",
                NOT_CHECKED,
            ],
            "both fields",
        ),
        (
            policy(&json!({"subject": {"pods": {"namespaceSelector": {}}}})),
            &["spec.subject.pods.podSelector: Required value", NOT_CHECKED],
            "pods without podSelector",
        ),
        (
            policy(&json!({"subject": [{"namespaces": {}}]})),
            &[
                "spec.subject[0].namespaces: unknown field \"namespaces\"",
                r#"spec.subject: Invalid value: "array": spec.subject in body must be of type object: "array""#,
                NOT_CHECKED,
            ],
            "a list: its fields are unknown to the schema, and its type is wrong",
        ),
        (
            policy(&json!({"ingress": "all"})),
            &[
                r#"spec.ingress: Invalid value: "string": spec.ingress in body must be of type array: "string""#,
                NOT_CHECKED,
            ],
            "rules that are not a list",
        ),
        (
            policy(&json!({"ingress": null, "egress": []})),
            &[],
            "no rules at all",
        ),
    ]);
}

#[test]
fn rules() {
    let rules = |n: usize| json!({"ingress": vec![json!({"action": "Deny", "from": [{"namespaces": {}}]}); n]});
    let peers = |n: usize| json!({"from": vec![json!({"namespaces": {}}); n]});
    check(&[
        (policy(&rules(25)), &[], "25 rules"),
        (
            policy(&rules(26)),
            &[
                "spec.ingress: Too many: 26: must have at most 25 items",
                NOT_CHECKED,
            ],
            "26 rules",
        ),
        (
            ingress(&json!({"action": "allow"})),
            &[
                r#"spec.ingress[0].action: Unsupported value: "allow": supported values: "Accept", "Deny", "Pass""#,
                NOT_CHECKED,
            ],
            "a lower-case action",
        ),
        (
            ingress(&json!({"action": null, "from": null})),
            &[
                "spec.ingress[0].action: Required value",
                "spec.ingress[0].from: Required value",
                NOT_CHECKED,
            ],
            "an ingress rule needs action and from",
        ),
        (
            egress(&json!({"action": null, "to": null})),
            &[
                "spec.egress[0].action: Required value",
                "spec.egress[0].to: Required value",
                NOT_CHECKED,
            ],
            "an egress rule needs action and to",
        ),
        (
            ingress(&json!({"from": []})),
            &[
                "spec.ingress[0].from: Invalid value: 0: spec.ingress[0].from in body should have at least 1 items",
            ],
            "no sources",
        ),
        (
            egress(&json!({"to": []})),
            &[
                "spec.egress[0].to: Invalid value: 0: spec.egress[0].to in body should have at least 1 items",
            ],
            "no destinations",
        ),
        (ingress(&peers(25)), &[], "25 sources"),
        (
            ingress(&peers(26)),
            &[
                "spec.ingress[0].from: Too many: 26: must have at most 25 items",
                NOT_CHECKED,
            ],
            "26 sources",
        ),
        (
            ingress(&json!({"name": "a".repeat(100)})),
            &[],
            "a name of 100 characters",
        ),
        (
            ingress(&json!({"name": "é".repeat(100)})),
            &[],
            "maxLength counts characters, not bytes",
        ),
        (
            ingress(&json!({"name": "a".repeat(101)})),
            &[
                "spec.ingress[0].name: Too long: may not be more than 100 bytes",
                NOT_CHECKED,
            ],
            "an ingress rule's name of 101 characters",
        ),
        (
            egress(&json!({"name": "a".repeat(101)})),
            &[
                "spec.egress[0].name: Too long: may not be more than 100 bytes",
                NOT_CHECKED,
            ],
            "an egress rule's name of 101 characters",
        ),
        (
            ingress(&json!({"name": 5})),
            &[
                r#"spec.ingress[0].name: Invalid value: "integer": spec.ingress[0].name in body must be of type string: "integer""#,
                NOT_CHECKED,
            ],
            "a name that is a number",
        ),
    ]);
}

#[test]
fn peers() {
    check(&[
        (
            ingress(&json!({"from": [{"pods": {"namespaceSelector": {}, "podSelector": {}}}]})),
            &[],
            "a pods peer",
        ),
        (
            ingress(&json!({"from": [{}]})),
            &[
                "spec.ingress[0].from[0]: Invalid value: 0: spec.ingress[0].from[0] in body should have at least 1 properties",
            ],
            "an empty peer",
        ),
        (
            ingress(&json!({"from": [{"namespaces": {}, "pods": {"podSelector": {}}}]})),
            &[
                "spec.ingress[0].from[0]: Too many: 2: must have at most 1 item",
                NOT_CHECKED,
            ],
            "a peer with two fields",
        ),
        (
            egress(&json!({"to": [{"networks": ["10.0.0.0/8"], "nodes": {}}]})),
            &[
                "spec.egress[0].to[0]: Too many: 2: must have at most 1 item",
                NOT_CHECKED,
            ],
            "an egress peer with two fields",
        ),
        (
            ingress(&json!({"from": [{"nodes": {}}]})),
            &[
                "spec.ingress[0].from[0].nodes: unknown field \"nodes\"",
                "spec.ingress[0].from[0]: Invalid value: 0: spec.ingress[0].from[0] in body should have at least 1 properties",
            ],
            "nodes is an egress peer only",
        ),
        (
            ingress(&json!({"from": [{"networks": ["10.0.0.0/8"]}]})),
            &[
                "spec.ingress[0].from[0].networks: unknown field \"networks\"",
                "spec.ingress[0].from[0]: Invalid value: 0: spec.ingress[0].from[0] in body should have at least 1 properties",
            ],
            "networks is an egress peer only",
        ),
        (
            ingress(&json!({"from": ["x"]})),
            &[
                r#"spec.ingress[0].from[0]: Invalid value: "string": spec.ingress[0].from[0] in body must be of type object: "string""#,
                NOT_CHECKED,
            ],
            "a peer that is a string",
        ),
        (
            egress(&json!({"to": [{"nodes": {"matchLabels": {"kubernetes.io/os": "linux"}}}]})),
            &[],
            "a nodes peer",
        ),
    ]);
}

#[test]
fn protocols() {
    check(&[
        (
            ingress(&json!({"protocols": []})),
            &[
                "spec.ingress[0].protocols: Invalid value: 0: spec.ingress[0].protocols in body should have at least 1 items",
            ],
            "an empty list",
        ),
        (
            ingress(&json!({"protocols": vec![json!({"destinationNamedPort": "http"}); 26]})),
            &[
                "spec.ingress[0].protocols: Too many: 26: must have at most 25 items",
                NOT_CHECKED,
            ],
            "26 entries",
        ),
        (
            ingress(&json!({"protocols": [{}]})),
            &[
                "spec.ingress[0].protocols[0]: Invalid value: 0: spec.ingress[0].protocols[0] in body should have at least 1 properties",
            ],
            "an empty entry",
        ),
        (
            ingress(
                &json!({"protocols": [{"tcp": {"destinationPort": {"number": 80}}, "destinationNamedPort": "http"}]}),
            ),
            &[
                "spec.ingress[0].protocols[0]: Too many: 2: must have at most 1 item",
                NOT_CHECKED,
            ],
            "an entry with two fields",
        ),
        (
            ingress(&json!({"protocols": [{"tcp": {}}]})),
            &[
                "spec.ingress[0].protocols[0].tcp: Invalid value: 0: spec.ingress[0].protocols[0].tcp in body should have at least 1 properties",
            ],
            "tcp without destinationPort",
        ),
        (
            ingress(&json!({"protocols": [{"sctp": {"destinationPort": {}}}]})),
            &[
                "spec.ingress[0].protocols[0].sctp.destinationPort: Invalid value: 0: spec.ingress[0].protocols[0].sctp.destinationPort in body should have at least 1 properties",
            ],
            "an empty port",
        ),
    ]);
}

#[test]
fn ports() {
    let port = |p: Value| json!({"protocols": [{"tcp": {"destinationPort": p}}]});
    check(&[
        (ingress(&port(json!({"number": 1}))), &[], "port 1"),
        (ingress(&port(json!({"number": 65535}))), &[], "port 65535"),
        (
            ingress(&port(json!({"number": 0}))),
            &[
                "spec.ingress[0].protocols[0].tcp.destinationPort.number: Invalid value: 0: spec.ingress[0].protocols[0].tcp.destinationPort.number in body should be greater than or equal to 1",
            ],
            "port 0",
        ),
        (
            egress(&json!({"protocols": [{"udp": {"destinationPort": {"number": 65536}}}]})),
            &[
                "spec.egress[0].protocols[0].udp.destinationPort.number: Invalid value: 65536: spec.egress[0].protocols[0].udp.destinationPort.number in body should be less than or equal to 65535",
            ],
            "port 65536",
        ),
        (
            ingress(&port(
                json!({"number": 80, "range": {"start": 1, "end": 2}}),
            )),
            &[
                "spec.ingress[0].protocols[0].tcp.destinationPort: Too many: 2: must have at most 1 item",
                NOT_CHECKED,
            ],
            "a number and a range",
        ),
        (
            ingress(&port(json!({"range": {"start": 80, "end": 81}}))),
            &[],
            "a range",
        ),
        (
            ingress(&port(json!({"range": {"start": 80}}))),
            &[
                "spec.ingress[0].protocols[0].tcp.destinationPort.range.end: Required value",
                NOT_CHECKED,
            ],
            "a range without end",
        ),
        (
            egress(
                &json!({"protocols": [{"tcp": {"destinationPort": {"range": {"start": 90, "end": 80}}}}]}),
            ),
            &[
                "spec.egress[0].protocols[0].tcp.destinationPort.range: Invalid value: Start port must be less than End port",
            ],
            "start after end: the CEL rule, at the range",
        ),
        (
            ingress(&port(json!({"range": {"start": 80, "end": 80}}))),
            &[
                "spec.ingress[0].protocols[0].tcp.destinationPort.range: Invalid value: Start port must be less than End port",
            ],
            "start equal to end",
        ),
        (
            ingress(&port(json!({"range": {"start": 0, "end": 0}}))),
            &[
                "spec.ingress[0].protocols[0].tcp.destinationPort.range.start: Invalid value: 0: spec.ingress[0].protocols[0].tcp.destinationPort.range.start in body should be greater than or equal to 1",
                "spec.ingress[0].protocols[0].tcp.destinationPort.range.end: Invalid value: 0: spec.ingress[0].protocols[0].tcp.destinationPort.range.end in body should be greater than or equal to 1",
                "spec.ingress[0].protocols[0].tcp.destinationPort.range: Invalid value: Start port must be less than End port",
            ],
            "bounds do not block the CEL rules",
        ),
        (
            ingress(&json!({"protocols": [{"destinationNamedPort": 80}]})),
            &[
                r#"spec.ingress[0].protocols[0].destinationNamedPort: Invalid value: "integer": spec.ingress[0].protocols[0].destinationNamedPort in body must be of type string: "integer""#,
                NOT_CHECKED,
            ],
            "a named port that is a number",
        ),
        (
            ingress(
                &json!({"protocols": [{"destinationNamedPort": "http"}], "from": [{"namespaces": {}}]}),
            ),
            &[],
            "a named port in an ingress rule",
        ),
    ]);
}

#[test]
fn networks_and_domain_names() {
    let to = |peer: Value| egress(&json!({ "to": [peer] }));
    let too_long = "1234:5678:9abc:def0:1234:5678:9abc:def0/1280";
    assert_eq!(too_long.len(), 44);
    check(&[
        (
            to(
                json!({"networks": ["10.0.0.0/8", "2001:db8::/32", "10.0.0.1/8", "1234:5678:9abc:def0:1234:5678:9abc:def0/128"]}),
            ),
            &[],
            "CIDRs of both families, host bits set, 43 characters",
        ),
        (
            to(json!({"networks": ["10.0.0.1"]})),
            &[
                r#"spec.egress[0].to[0].networks[0]: Invalid value: "10.0.0.1": Invalid CIDR format provided"#,
            ],
            "an address without a prefix length: the CEL rule, the value printed",
        ),
        (
            to(json!({"networks": ["10.0.0.0/8", "010.0.0.0/8"]})),
            &[
                r#"spec.egress[0].to[0].networks[1]: Invalid value: "010.0.0.0/8": Invalid CIDR format provided"#,
            ],
            "a leading zero",
        ),
        (
            to(json!({"networks": [too_long]})),
            &[
                "spec.egress[0].to[0].networks[0]: Too long: may not be more than 43 bytes",
                NOT_CHECKED,
            ],
            "44 characters",
        ),
        (
            to(
                json!({"networks": ["10.0.0.0/8", "10.0.0.0/8", "10.0.0.0/8", "fd00::/8", "fd00::/8"]}),
            ),
            &[
                r#"spec.egress[0].to[0].networks[1]: Duplicate value: "10.0.0.0/8""#,
                r#"spec.egress[0].to[0].networks[4]: Duplicate value: "fd00::/8""#,
            ],
            "a set: the second occurrence of each value",
        ),
        (
            to(json!({"networks": []})),
            &[
                "spec.egress[0].to[0].networks: Invalid value: 0: spec.egress[0].to[0].networks in body should have at least 1 items",
            ],
            "no networks",
        ),
        (
            to(json!({"networks": (0..26).map(|i| format!("10.0.{i}.0/24")).collect::<Vec<_>>()})),
            &[
                "spec.egress[0].to[0].networks: Too many: 26: must have at most 25 items",
                NOT_CHECKED,
            ],
            "26 networks",
        ),
        (
            to(json!({"networks": [10]})),
            &[
                r#"spec.egress[0].to[0].networks[0]: Invalid value: "integer": spec.egress[0].to[0].networks[0] in body must be of type string: "integer""#,
                NOT_CHECKED,
            ],
            "a number",
        ),
        (
            to(json!({"domainNames": ["example.com", "*.example.org", "example.net."]})),
            &[],
            "domain names",
        ),
        (
            to(json!({"domainNames": ["localhost"]})),
            &[&format!(
                r#"spec.egress[0].to[0].domainNames[0]: Invalid value: "localhost": spec.egress[0].to[0].domainNames[0] in body should match '{}'"#,
                schema::DOMAIN_NAME_PATTERN
            )],
            "one label",
        ),
        (
            to(json!({"domainNames": ["example.com", "example.com"]})),
            &[r#"spec.egress[0].to[0].domainNames[1]: Duplicate value: "example.com""#],
            "a duplicate domain name",
        ),
        (
            to(
                json!({"domainNames": (0..26).map(|i| format!("host{i}.example.com")).collect::<Vec<_>>()}),
            ),
            &[
                "spec.egress[0].to[0].domainNames: Too many: 26: must have at most 25 items",
                NOT_CHECKED,
            ],
            "26 domain names",
        ),
    ]);
}

#[test]
fn named_ports_only_go_to_pods() {
    const RULE: &str = "spec.egress[0]: Invalid value: networks/nodes/domainNames peer cannot be set with namedPorts since there are no namedPorts for networks/nodes/domainNames";
    let named = json!([{"destinationNamedPort": "http"}]);
    let rule = |to: Value, protocols: &Value| egress(&json!({"to": to, "protocols": protocols}));
    check(&[
        (
            rule(json!([{"networks": ["10.0.0.0/8"]}]), &named),
            &[RULE],
            "networks",
        ),
        (rule(json!([{"nodes": {}}]), &named), &[RULE], "nodes"),
        (
            rule(json!([{"domainNames": ["example.com"]}]), &named),
            &[RULE],
            "domainNames",
        ),
        (
            rule(
                json!([{"pods": {"podSelector": {}}}, {"networks": ["10.0.0.0/8"]}]),
                &json!([{"tcp": {"destinationPort": {"number": 80}}}, {"destinationNamedPort": "http"}]),
            ),
            &[RULE],
            "any peer and any protocol entry",
        ),
        (
            rule(
                json!([{"pods": {"podSelector": {}}}, {"namespaces": {}}]),
                &named,
            ),
            &[],
            "pods and namespaces peers",
        ),
        (
            rule(
                json!([{"networks": ["10.0.0.0/8"]}]),
                &json!([{"tcp": {"destinationPort": {"number": 80}}}]),
            ),
            &[],
            "networks with a port number",
        ),
    ]);
}

#[test]
fn unknown_fields() {
    let mut top = policy(&json!({}));
    top["foo"] = json!(1);
    top["metadata"]["bar"] = json!("x");
    top["metadata"]["ownerReferences"] =
        json!([{"apiVersion": "v1", "kind": "Pod", "name": "p", "uid": "1", "extra": true}]);
    let mut status = policy(&json!({}));
    status["status"] = json!({"conditions": "anything"});
    let mut status_unknown = policy(&json!({}));
    status_unknown["status"] =
        json!({"foo": 1, "conditions": [{"type": "Ready", "status": "True", "bar": 2}]});
    check(&[
        (
            policy(&json!({"foo": 1, "ingres": []})),
            &[
                r#"spec.foo: unknown field "foo""#,
                r#"spec.ingres: unknown field "ingres""#,
            ],
            "spec fields, in path order",
        ),
        (
            top,
            &[
                r#"metadata.bar: unknown field "bar""#,
                r#"metadata.ownerReferences[0].extra: unknown field "extra""#,
                r#"foo: unknown field "foo""#,
            ],
            "metadata's first, then the others",
        ),
        (
            policy(&json!({"foo": null})),
            &[r#"spec.foo: unknown field "foo""#],
            "an unknown field is one even when null",
        ),
        (
            policy(&json!({"subject": {"namespaces": {"namespaceSelector": {}}}})),
            &[r#"spec.subject.namespaces.namespaceSelector: unknown field "namespaceSelector""#],
            "a field of another selector",
        ),
        (
            status,
            &[],
            "status is dropped on create, its values unchecked",
        ),
        (
            status_unknown,
            &[
                r#"status.conditions[0].bar: unknown field "bar""#,
                r#"status.foo: unknown field "foo""#,
            ],
            "but decoded strictly first: unknown fields in status are errors",
        ),
    ]);
}

#[test]
fn metadata() {
    let with_meta = |m: Value| {
        let mut p = policy(&json!({}));
        p["metadata"] = m;
        p
    };
    let mut none = policy(&json!({}));
    none.as_object_mut().unwrap().remove("metadata");
    check(&[
        (
            with_meta(
                json!({"name": "allow.dns-v1", "labels": {"team": "net"}, "annotations": {"Example.com/x": "y"}, "finalizers": ["cleanup"]}),
            ),
            &[],
            "a DNS subdomain name; an unqualified finalizer only draws a warning",
        ),
        (
            none,
            &[
                "metadata.name: Required value: name or generateName is required",
                "metadata: Required value",
                NOT_CHECKED,
            ],
            "no metadata",
        ),
        (
            with_meta(json!({})),
            &[
                "metadata.name: Required value: name or generateName is required",
                NOT_CHECKED,
            ],
            "no name: a required value, which blocks the CEL rules",
        ),
        (
            with_meta(json!({"name": "Allow_DNS"})),
            &[&format!(
                r#"metadata.name: Invalid value: "Allow_DNS": {SUBDOMAIN}"#
            )],
            "not a DNS subdomain",
        ),
        (
            with_meta(json!({"name": "cnp", "namespace": "x"})),
            &["metadata.namespace: Forbidden: not allowed on this type"],
            "cluster-scoped (the loader drops a namespace before validating)",
        ),
        (
            with_meta(json!("cnp")),
            &[
                r#"metadata: Invalid value: "string": metadata in body must be of type object: "string""#,
                NOT_CHECKED,
            ],
            "metadata that is not a mapping",
        ),
        (
            with_meta(json!({"name": "cnp", "labels": {"app": 5}})),
            &["metadata.labels.app: Invalid value: invalid type: integer `5`, expected a string"],
            "a malformed field: the API server drops it, netpol refuses it",
        ),
    ]);
    let bad_key = errors(&with_meta(
        json!({"name": "cnp", "labels": {"-app": "web"}}),
    ));
    assert_eq!(
        bad_key,
        [format!(
            r#"metadata.labels: Invalid value: "-app": {}"#,
            qualified_name_errors("-app")[0]
        )]
    );
}

#[test]
fn label_selectors() {
    let subject = |namespaces: Value| policy(&json!({"subject": {"namespaces": namespaces}}));
    let expression = |e: Value| subject(json!({"matchExpressions": [e]}));
    let at = "spec.subject.namespaces.matchExpressions[0]";
    check(&[
        (
            subject(
                json!({"matchLabels": {"kubernetes.io/metadata.name": "x"}, "matchExpressions": [{"key": "tier", "operator": "NotIn", "values": ["db"]}, {"key": "env", "operator": "DoesNotExist"}]}),
            ),
            &[],
            "matchLabels and expressions",
        ),
        (
            expression(json!({"key": "app"})),
            &[&format!("{at}.operator: Required value"), NOT_CHECKED],
            "no operator: the schema",
        ),
        (
            expression(json!({"key": "app", "operator": "Equals", "values": ["a"]})),
            &[&format!(
                r#"{at}.operator: Invalid value: "Equals": not a valid selector operator"#
            )],
            "an operator LabelSelectorAsSelector refuses: netpol",
        ),
        (
            expression(json!({"key": "app", "operator": "In"})),
            &[&format!(
                "{at}.values: Required value: must be specified when `operator` is 'In' or 'NotIn'"
            )],
            "In without values: netpol",
        ),
        (
            expression(json!({"key": "app", "operator": "Exists", "values": ["a"]})),
            &[&format!(
                "{at}.values: Forbidden: may not be specified when `operator` is 'Exists' or 'DoesNotExist'"
            )],
            "Exists with values: netpol",
        ),
        (
            subject(json!({"matchLabels": {"app": 5}})),
            &[
                r#"spec.subject.namespaces.matchLabels.app: Invalid value: "integer": spec.subject.namespaces.matchLabels.app in body must be of type string: "integer""#,
                NOT_CHECKED,
            ],
            "a label value that is a number: the schema",
        ),
        (
            subject(json!({"matchLabels": {"a": "-x", "b": "-x"}})),
            &[&format!(
                r#"spec.subject.namespaces.matchLabels: Invalid value: "-x": {}"#,
                crate::validation::names::label_value_errors("-x")[0]
            )],
            "invalid label values: netpol, reported once per message",
        ),
    ]);
    let nodes = egress(
        &json!({"to": [{"nodes": {"matchExpressions": [{"key": "bad key", "operator": "Exists"}]}}]}),
    );
    assert_eq!(
        errors(&nodes),
        [format!(
            r#"spec.egress[0].to[0].nodes.matchExpressions[0].key: Invalid value: "bad key": {}"#,
            qualified_name_errors("bad key")[0]
        )],
        "every selector is checked, a nodes peer's too"
    );
    let pods = ingress(
        &json!({"from": [{"pods": {"namespaceSelector": {}, "podSelector": {"matchExpressions": [{"key": "app", "operator": "in", "values": ["a"]}]}}}]}),
    );
    assert_eq!(
        errors(&pods),
        [
            r#"spec.ingress[0].from[0].pods.podSelector.matchExpressions[0].operator: Invalid value: "in": not a valid selector operator"#
        ]
    );
}

#[test]
fn every_error_of_an_object_is_reported() {
    let p = json!({
        "apiVersion": cnp::API_VERSION,
        "kind": cnp::KIND,
        "metadata": {"name": "cnp"},
        "spec": {
            "tier": "Admin",
            "priority": 2000,
            "subject": {"namespaces": {}, "extra": 1},
            "ingress": [{"action": "Accept", "from": [{}]}],
            "egress": [{"action": "Deny", "to": [{"networks": ["10.0.0.1", "10.0.0.1"]}],
                        "protocols": [{"tcp": {"destinationPort": {"range": {"start": 9, "end": 1}}}}]}],
        },
    });
    assert_eq!(
        errors(&p),
        [
            r#"spec.subject.extra: unknown field "extra""#,
            "spec.priority: Invalid value: 2000: spec.priority in body should be less than or equal to 1000",
            "spec.ingress[0].from[0]: Invalid value: 0: spec.ingress[0].from[0] in body should have at least 1 properties",
            r#"spec.egress[0].to[0].networks[1]: Duplicate value: "10.0.0.1""#,
            r#"spec.egress[0].to[0].networks[0]: Invalid value: "10.0.0.1": Invalid CIDR format provided"#,
            r#"spec.egress[0].to[0].networks[1]: Invalid value: "10.0.0.1": Invalid CIDR format provided"#,
            "spec.egress[0].protocols[0].tcp.destinationPort.range: Invalid value: Start port must be less than End port",
        ]
    );
    let mut blocked = p.clone();
    blocked["spec"]["tier"] = json!("Tier0");
    let errs = errors(&blocked);
    assert!(
        errs.ends_with(&[NOT_CHECKED.to_string()]),
        "an unsupported value blocks the CEL rules: {errs:#?}"
    );
    assert!(
        !errs
            .iter()
            .any(|e| e.contains("Invalid CIDR") || e.contains("Start port")),
        "{errs:#?}"
    );
    assert!(
        errs.iter().any(|e| e.contains("Duplicate value")),
        "{errs:#?}"
    );
}

/// The examples of the API's documentation and CRD tests
/// (`site-src/user-story-examples`, `pkg/crdtest/testdata`), and a policy
/// using every field, pass and decode.
#[test]
fn valid_policies_pass_and_decode() {
    let object = |name: &str, spec: Value| json!({"apiVersion": cnp::API_VERSION, "kind": cnp::KIND, "metadata": {"name": name}, "spec": spec});
    let sensitive = json!({"matchLabels": {"kubernetes.io/metadata.name": "sensitive-ns"}});
    let all_pods = json!({"pods": {"namespaceSelector": {"matchLabels": {}}, "podSelector": {"matchLabels": {}}}});
    let examples = [
        object(
            "cluster-wide-deny-example",
            json!({"tier": "Admin", "priority": 10, "subject": {"namespaces": sensitive},
            "ingress": [{"action": "Deny", "from": [{"namespaces": {"matchLabels": {}}}], "name": "select-all-deny-all"}]}),
        ),
        object(
            "cluster-wide-allow-example",
            json!({"tier": "Admin", "priority": 30, "subject": {"namespaces": {}},
            "ingress": [{"action": "Accept", "name": "allow-monitoring-ns-ingress",
                         "from": [{"namespaces": {"matchLabels": {"kubernetes.io/metadata.name": "monitoring-ns"}}}]}],
            "egress": [{"action": "Accept", "name": "allow-kube-dns-egress",
                        "to": [{"pods": {"namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": "kube-system"}},
                                         "podSelector": {"matchLabels": {"app": "kube-dns"}}}}]}]}),
        ),
        object(
            "pub-svc-delegate-example",
            json!({"tier": "Admin", "priority": 20, "subject": {"namespaces": {}},
            "egress": [{"action": "Pass",
                        "to": [{"pods": {"namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": "bar-ns-1"}},
                                         "podSelector": {"matchLabels": {"app": "svc-pub"}}}}],
                        "protocols": [{"tcp": {"destinationPort": {"number": 8080}}}, {"destinationNamedPort": "web-alt"},
                                      {"udp": {"destinationPort": {"number": 53}}}]}]}),
        ),
        object(
            "default",
            json!({"tier": "Baseline", "priority": 10, "subject": {"namespaces": {}},
            "ingress": [{"action": "Deny", "from": [{"namespaces": {}}]}]}),
        ),
        object(
            "cluster-wide-deny",
            json!({"tier": "Admin", "priority": 0, "subject": {"namespaces": sensitive},
            "ingress": [{"action": "Deny", "name": "select-all-deny-all", "from": [all_pods]}]}),
        ),
        object(
            "deny-with-ports",
            json!({"tier": "Admin", "priority": 0, "subject": {"namespaces": sensitive},
            "ingress": [{"action": "Deny", "name": "select-all-deny-all", "from": [all_pods],
                "protocols": [{"tcp": {"destinationPort": {"number": 8080}}},
                              {"tcp": {"destinationPort": {"range": {"start": 8080, "end": 9090}}}},
                              {"udp": {"destinationPort": {"number": 8080}}}, {"udp": {"destinationPort": {"number": 9090}}},
                              {"destinationNamedPort": "http"}, {"destinationNamedPort": "monitoring"}]}]}),
        ),
    ];
    for example in &examples {
        assert_eq!(errors(example), Vec::<String>::new(), "{example}");
        serde_json::from_value::<ClusterNetworkPolicy>(normalize(example)).expect("decodes");
    }
    let mut every_field = object(
        "every-field",
        json!({
            "tier": "Baseline",
            "priority": 1000.0,
            "subject": {"pods": {"namespaceSelector": {"matchLabels": {"ns": "x"}},
                                 "podSelector": {"matchExpressions": [{"key": "pod", "operator": "In", "values": ["a", "b"]},
                                                                      {"key": "gone", "operator": "DoesNotExist", "values": null}]}}},
            "ingress": [{
                "name": "in",
                "action": "Accept",
                "from": [{"namespaces": {"matchLabels": {"ns": "y"}}}, {"pods": {"podSelector": {}}}],
                "protocols": [{"tcp": {"destinationPort": {"number": 80}}},
                              {"udp": {"destinationPort": {"range": {"start": 1000, "end": 2000}}}},
                              {"sctp": {"destinationPort": {"number": 9}}},
                              {"destinationNamedPort": "serve-80-tcp"}],
            }],
            "egress": [
                {"name": "out", "action": "Deny",
                 "to": [{"namespaces": {}}, {"pods": {"podSelector": {}}}, {"nodes": {"matchLabels": {"kubernetes.io/os": "linux"}}},
                        {"networks": ["10.0.0.0/8", "fd00::/8"]}, {"domainNames": ["example.com", "*.example.org"]}],
                 "protocols": [{"tcp": {"destinationPort": {"range": {"start": 1, "end": 65535}}}}]},
                {"action": "Pass", "to": [{"pods": {"namespaceSelector": {}, "podSelector": {}}}],
                 "protocols": [{"destinationNamedPort": "dns"}]},
            ],
        }),
    );
    every_field["metadata"]["labels"] = json!({"team": "net"});
    every_field["status"] = json!({"conditions": []});
    assert_eq!(errors(&every_field), Vec::<String>::new());
    let decoded: ClusterNetworkPolicy =
        serde_json::from_value(normalize(&every_field)).expect("decodes");
    assert_eq!(decoded.spec.priority, 1000);
    assert_eq!(decoded.spec.tier, cnp::Tier::Baseline);
    assert_eq!(
        decoded.spec.ingress[0].protocols.as_ref().map(Vec::len),
        Some(4)
    );
    assert_eq!(
        decoded.spec.egress[0].to[4].domain_names.as_deref(),
        Some(&["example.com".to_string(), "*.example.org".to_string()][..])
    );
}

/// The documentation's invalid example: an unknown field and an action the
/// enum does not have.
#[test]
fn the_crd_tests_invalid_example_is_refused() {
    let p = json!({"apiVersion": cnp::API_VERSION, "kind": cnp::KIND, "metadata": {"name": "invalid-ingress-action"},
        "spec": {"tier": "Admin", "priority": 10,
                 "subject": {"namespaces": {"matchLabels": {"kubernetes.io/metadata.name": "sensitive-ns"}}},
                 "ingress": [{"action": "Invalid", "from": [{"namespaces": {"namespaceSelector": {}}}],
                              "name": "select-all-deny-all"}]}});
    assert_eq!(
        errors(&p),
        [
            r#"spec.ingress[0].from[0].namespaces.namespaceSelector: unknown field "namespaceSelector""#,
            r#"spec.ingress[0].action: Unsupported value: "Invalid": supported values: "Accept", "Deny", "Pass""#,
            NOT_CHECKED,
        ]
    );
}
