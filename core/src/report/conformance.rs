//! `conformance-report.yaml`: a run's ClusterNetworkPolicy results in the
//! format of network-policy-api's `ConformanceReport`
//! (`conformance/apis/v1alpha1`), so that a vendor can submit it upstream.
//!
//! Every scenario that needs the `ClusterNetworkPolicy` feature is one test
//! of the `ClusterNetworkPolicy` profile, named after the scenario. A test
//! is experimental when it needs one of upstream's experimental features
//! (`ClusterNetworkPolicyNamedPorts`, `ClusterNetworkPolicyEgressNodePeers`),
//! standard otherwise. Passed, failed (fail or error) and skipped
//! (unsupported, declared) are counted as upstream's suite counts them; a
//! part with a failure is `failure`, else with a skip `partial`, else
//! `success`.

use serde::Serialize;

use crate::features::Feature;
use crate::results::{Mode, Report, ScenarioResult, Status};

/// The API version of the report format.
pub const API_VERSION: &str = "policy.networking.k8s.io/v1alpha1";
/// The network-policy-api version whose ClusterNetworkPolicy this checks.
pub const NETWORK_POLICY_API_VERSION: &str = "v0.2.0";
/// The profile's name upstream.
pub const PROFILE: &str = "ClusterNetworkPolicy";

const EXPERIMENTAL: [Feature; 2] = [
    Feature::ClusterNetworkPolicyNamedPorts,
    Feature::ClusterNetworkPolicyEgressNodePeers,
];

#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ConformanceReport {
    pub api_version: &'static str,
    pub kind: &'static str,
    pub date: String,
    pub implementation: Implementation,
    #[serde(rename = "networkPolicyV2APIVersion")]
    pub network_policy_v2_api_version: &'static str,
    pub profiles: Vec<ProfileReport>,
}

/// Who is tested: the enforcer's `version` answer; the fields netpol cannot
/// know are left empty for the vendor to fill in.
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Implementation {
    pub organization: String,
    pub project: String,
    pub url: String,
    pub version: String,
    pub contact: Vec<String>,
    pub additional_information: String,
}

#[derive(Debug, Serialize)]
pub struct ProfileReport {
    pub name: &'static str,
    pub standard: Part,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub experimental: Option<Part>,
}

/// The standard or the experimental part of a profile.
#[derive(Debug, Default, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Part {
    pub result: &'static str,
    pub summary: String,
    pub statistics: Statistics,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub skipped_tests: Vec<String>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub failed_tests: Vec<String>,
    /// Experimental part only.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub supported_features: Vec<String>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub unsupported_features: Vec<String>,
}

/// Upstream's field names are capitalized (its Go struct has no json tags).
#[derive(Debug, Default, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct Statistics {
    pub passed: u32,
    pub skipped: u32,
    pub failed: u32,
}

impl Part {
    fn add(&mut self, s: &ScenarioResult) {
        match s.status {
            Status::Pass => self.statistics.passed += 1,
            Status::Fail | Status::Error => {
                self.statistics.failed += 1;
                self.failed_tests.push(s.name.clone());
            }
            Status::Unsupported | Status::NotApplicable => {
                self.statistics.skipped += 1;
                self.skipped_tests.push(s.name.clone());
            }
        }
    }

    fn finish(&mut self) {
        let st = &self.statistics;
        self.result = if st.failed > 0 {
            "failure"
        } else if st.skipped > 0 {
            "partial"
        } else {
            "success"
        };
        self.summary = format!(
            "{} passed, {} failed, {} skipped (netpol scenarios)",
            st.passed, st.failed, st.skipped
        );
    }
}

/// The conformance report of a run against an enforcer, or `None` when the
/// run is a simulation or holds no ClusterNetworkPolicy scenario.
pub fn build(report: &Report) -> Option<ConformanceReport> {
    if report.mode != Mode::Run {
        return None;
    }
    let tests: Vec<&ScenarioResult> = report
        .scenarios
        .iter()
        .filter(|s| s.expect_invalid.is_none() && s.needs.contains(&Feature::ClusterNetworkPolicy))
        .collect();
    if tests.is_empty() {
        return None;
    }
    let mut standard = Part::default();
    let mut experimental = Part::default();
    let mut any_experimental = false;
    for s in tests {
        if s.needs.iter().any(|f| EXPERIMENTAL.contains(f)) {
            any_experimental = true;
            experimental.add(s);
        } else {
            standard.add(s);
        }
    }
    standard.finish();
    let experimental = any_experimental.then(|| {
        experimental.finish();
        let (unsupported, supported): (Vec<Feature>, Vec<Feature>) = EXPERIMENTAL
            .into_iter()
            .partition(|f| report.unsupported_features.contains(f));
        experimental.supported_features = supported.iter().map(|f| f.name().into()).collect();
        experimental.unsupported_features = unsupported.iter().map(|f| f.name().into()).collect();
        experimental
    });
    let (project, version) = report
        .enforcer
        .as_ref()
        .map(|e| (e.name.clone(), e.version.clone()))
        .unwrap_or_default();
    Some(ConformanceReport {
        api_version: API_VERSION,
        kind: "ConformanceReport",
        date: report.started_at.clone(),
        implementation: Implementation {
            organization: String::new(),
            project,
            url: String::new(),
            version,
            contact: Vec::new(),
            additional_information: format!(
                "netpol {} ClusterNetworkPolicy scenarios (one test per scenario, not upstream's test list); fill in organization, url and contact before submitting",
                report.harness.version
            ),
        },
        network_policy_v2_api_version: NETWORK_POLICY_API_VERSION,
        profiles: vec![ProfileReport {
            name: PROFILE,
            standard,
            experimental,
        }],
    })
}

/// The YAML text of [`build`]'s report.
pub fn render(report: &Report) -> Option<String> {
    build(report).map(|r| serde_saphyr::to_string(&r).expect("a conformance report serializes"))
}
