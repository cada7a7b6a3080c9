//! `--ip-families`: a scenario that names no IP address means the same in
//! every family (selectors match a pod's addresses of each, and the
//! exceptions hold in each), so a run can take it into other families.
//! One that names addresses (an ipBlock, a pinned address, an external
//! host) cannot be: it is not applicable there, never a pass.

use crate::cluster::IpFamily;
use crate::probe::Probe;

use super::Scenario;

impl Scenario {
    /// Why the scenario's meaning is tied to its IP addresses, if it is.
    pub fn names_addresses(&self) -> Option<String> {
        if let Some(why) = &self.tied_to_addresses {
            return Some(why.clone());
        }
        for round in &self.rounds {
            if let Some(p) = round.policies.iter().find(|p| {
                p.object.spec.as_ref().is_some_and(|spec| {
                    let ingress = spec
                        .ingress
                        .iter()
                        .flatten()
                        .flat_map(|r| r.from.iter().flatten());
                    let egress = spec
                        .egress
                        .iter()
                        .flatten()
                        .flat_map(|r| r.to.iter().flatten());
                    ingress.chain(egress).any(|peer| peer.ip_block.is_some())
                })
            }) {
                return Some(format!("NetworkPolicy {} has an ipBlock", p.key()));
            }
            if let Some(p) = round.cluster_policies.iter().find(|p| {
                p.object
                    .spec
                    .egress
                    .iter()
                    .flat_map(|r| &r.to)
                    .any(|peer| peer.networks.is_some())
            }) {
                return Some(format!(
                    "ClusterNetworkPolicy {} has networks peers",
                    p.name
                ));
            }
        }
        None
    }

    /// The scenario in `families` (the primary first): every address as the
    /// plan gives it, every probe sent in each family. `Err` says why it is
    /// not applicable there.
    pub fn in_families(&self, families: &[IpFamily]) -> Result<Scenario, String> {
        let own = &self.cluster().families;
        if own.as_slice() == families {
            return Ok(self.clone());
        }
        if let Some(why) = self.names_addresses() {
            let names: Vec<&str> = families.iter().map(|f| f.name()).collect();
            return Err(format!(
                "not applicable in {}: {why}, which means nothing in another family (the scenario's ipFamilies: {})",
                names.join(" + "),
                own.iter().map(|f| f.name()).collect::<Vec<_>>().join(", ")
            ));
        }
        let mut s = self.clone();
        for round in &mut s.rounds {
            round.cluster = round.cluster.with_families(families.to_vec());
        }
        // Every host has an address of each family (no externals, no
        // `probes.families`): the primary family's probes are all of them.
        let base: Vec<Probe> = self
            .probes
            .iter()
            .filter(|p| p.family == own[0])
            .copied()
            .collect();
        s.probes = families
            .iter()
            .flat_map(|&family| base.iter().map(move |p| Probe { family, ..*p }))
            .collect();
        Ok(s)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::path::Path;

    fn load(text: &str) -> Scenario {
        crate::scenario::load_str(Path::new("s.yaml"), text)
            .loaded
            .expect("loads")
    }

    #[test]
    fn a_scenario_without_addresses_runs_in_other_families() {
        let s = load("name: s\nprobes: {from: [x/a], to: [x/b], ports: [{port: 80}]}\n");
        let both = s
            .in_families(&[IpFamily::IPv4, IpFamily::IPv6])
            .expect("applicable");
        assert_eq!(both.probes.len(), 2);
        assert_eq!(both.probes[1].family, IpFamily::IPv6);
        assert_eq!(
            both.cluster().pods[0].ips.v6,
            Some("fd00:10:244:1::10".parse().unwrap())
        );
        let v6 = s.in_families(&[IpFamily::IPv6]).expect("applicable");
        assert!(v6.probes.iter().all(|p| p.family == IpFamily::IPv6));
        assert!(v6.cluster().pods.iter().all(|p| p.ips.v4.is_none()));
    }

    #[test]
    fn a_scenario_naming_addresses_is_not_applicable_elsewhere() {
        let block = "name: s\npolicies:\n- apiVersion: networking.k8s.io/v1\n  kind: NetworkPolicy\n  metadata: {name: p, namespace: x}\n  spec:\n    podSelector: {}\n    ingress: [{from: [{ipBlock: {cidr: 10.0.0.0/8}}]}]\n";
        let why = load(block).in_families(&[IpFamily::IPv6]).unwrap_err();
        assert!(why.contains("NetworkPolicy x/p has an ipBlock"), "{why}");
        // Its own families are fine.
        assert!(load(block).in_families(&[IpFamily::IPv4]).is_ok());

        let external = "name: s\ncluster:\n  nodes: [{name: n1}]\n  namespaces: [{name: x}]\n  pods: [{name: a, namespace: x}]\n  externals: [{name: gw, ip: 10.9.0.1}]\n";
        let why = load(external).in_families(&[IpFamily::IPv6]).unwrap_err();
        assert!(why.contains("external host"), "{why}");

        let family = "name: s\nexpect:\n  rules: [{family: IPv4, verdict: allowed}]\n";
        let why = load(family).in_families(&[IpFamily::IPv6]).unwrap_err();
        assert!(why.contains("family"), "{why}");
    }
}
