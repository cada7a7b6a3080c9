//! The result model: run → scenario → round → probe, with what was
//! expected, what was observed, and the model's explanation. Every output
//! (terminal, JSON, and the other report formats) is a view of this; none
//! recomputes a verdict. Its JSON form is documented in `docs/report-format.md`.

use serde::{Deserialize, Serialize};

use crate::cluster::{IpFamily, Protocol};
use crate::expect::Verdict;

/// Version of the JSON schema of `Report`.
pub const SCHEMA_VERSION: u32 = 1;

#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Report {
    pub schema_version: u32,
    pub harness: Harness,
    /// `simulate` (the model is observed) or `run` (the lab is).
    pub mode: Mode,
    /// `run` with an enforcer: what its `version` call answered.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub enforcer: Option<EnforcerInfo>,
    /// `run --profile FILE`: the vendor profile.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub profile: Option<crate::features::Profile>,
    /// Features declared unsupported (by the enforcer's `version` answer or the
    /// profile): scenarios needing them are reported `unsupported`; with `sctp`
    /// among them, no SCTP probe is sent.
    #[serde(default)]
    pub unsupported_features: Vec<crate::features::Feature>,
    /// `run`: the machine the lab ran on.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub environment: Option<Environment>,
    /// RFC 3339, UTC.
    pub started_at: String,
    pub duration_ms: f64,
    pub summary: Summary,
    pub scenarios: Vec<ScenarioResult>,
    /// `netpol fuzz --report DIR`: what the fuzz run exercised and found;
    /// `scenarios` then holds the cases that did not agree with the model
    /// (each disagreement's reproducer, errors, flakes).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub fuzz: Option<FuzzStats>,
    /// `run` with an enforcer: how its rounds converged, and what the
    /// transition watch saw.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub changes: Option<Changes>,
}

/// How a run's rounds converged after their `sync`, and what the
/// transition watch saw (`report.json`'s `changes` object).
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Changes {
    /// Rounds with a convergence time.
    pub rounds: usize,
    /// Their convergence times ([`Convergence::ms`]): median, 95th
    /// percentile (nearest rank) and maximum.
    pub p50_ms: f64,
    pub p95_ms: f64,
    pub max_ms: f64,
    /// Polls for convergence, over every round (0 for a blocking enforcer).
    pub polls: u64,
    /// Rounds that never converged.
    pub unconverged: usize,
    /// Rounds whose change was watched, and the probes watched in them.
    pub watched_rounds: usize,
    pub watched_pairs: usize,
    pub leaks: usize,
    pub outages: usize,
}

impl Changes {
    /// The figures of `scenarios`' rounds; `None` when no round has a
    /// convergence time (a simulation, a run without an enforcer).
    pub fn of(scenarios: &[ScenarioResult]) -> Option<Changes> {
        let rounds = || scenarios.iter().flat_map(|s| &s.rounds);
        let mut times: Vec<f64> = rounds()
            .filter_map(|r| r.convergence.as_ref().map(|c| c.ms))
            .collect();
        if times.is_empty() {
            return None;
        }
        times.sort_by(f64::total_cmp);
        let rank = |q: f64| {
            let n = times.len();
            // Nearest rank: the smallest time at or above the q-th part of them.
            #[allow(
                clippy::cast_possible_truncation,
                clippy::cast_sign_loss,
                clippy::cast_precision_loss
            )]
            let i = ((q * n as f64).ceil() as usize).clamp(1, n) - 1;
            times[i]
        };
        let watches = || rounds().filter_map(|r| r.watch.as_ref());
        let transitions = |kind| {
            watches()
                .flat_map(|w| &w.transitions)
                .filter(|t| t.kind == kind)
                .count()
        };
        Some(Changes {
            rounds: times.len(),
            p50_ms: rank(0.5),
            p95_ms: rank(0.95),
            max_ms: times[times.len() - 1],
            polls: rounds()
                .filter_map(|r| r.convergence.as_ref())
                .map(|c| u64::from(c.polls))
                .sum(),
            unconverged: rounds()
                .filter_map(|r| r.convergence.as_ref())
                .filter(|c| !c.converged)
                .count(),
            watched_rounds: watches().count(),
            watched_pairs: watches().map(|w| w.pairs).sum(),
            leaks: transitions(TransitionKind::Leak),
            outages: transitions(TransitionKind::Outage),
        })
    }
}

/// What a fuzz run exercised and found (`report.json`'s `fuzz` object).
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct FuzzStats {
    pub seed: u64,
    /// Cases run.
    pub cases: u64,
    /// Probes judged against the model, in every case's first run.
    pub probes: usize,
    /// Cases whose disagreement came back when run again, shrunk and written out.
    pub disagreements: usize,
    /// Cases whose disagreement did not come back.
    pub flaky: usize,
    /// Cases the lab or the enforcer failed.
    pub errors: usize,
    /// Cases the loader rejected: bugs of the generator.
    pub generator_bugs: usize,
    pub cases_per_second: f64,
    /// How many cases used each feature.
    pub features: std::collections::BTreeMap<crate::features::Feature, u64>,
    /// The reproducers written, one per disagreement.
    pub reproducers: Vec<String>,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Environment {
    /// `uname -sr`, e.g. `Linux 6.18.44`.
    pub kernel: String,
    /// `iptables --version` of the machine, e.g. `iptables v1.8.9 (nf_tables)`.
    pub iptables: String,
}

#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Harness {
    pub name: String,
    pub version: String,
}

impl Harness {
    pub fn current() -> Harness {
        Harness {
            name: "netpol".into(),
            version: env!("CARGO_PKG_VERSION").into(),
        }
    }
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct EnforcerInfo {
    pub name: String,
    pub version: String,
    /// Features it declares unsupported.
    #[serde(default)]
    pub unsupported: Vec<crate::features::Feature>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Mode {
    Simulate,
    Run,
}

/// The counts of a run. The totals (`scenarios` ... `unsupported`) count
/// every scenario file, as in reports before the split; `enforcer` and
/// `loader_checks` split them by what was tested, and every view shows the
/// split, never the lumped totals: a loader check passes without the
/// enforcer doing anything.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Summary {
    pub scenarios: usize,
    pub passed: usize,
    pub failed: usize,
    pub errors: usize,
    /// Declared unsupported: not run, and not a failure.
    #[serde(default)]
    pub unsupported: usize,
    /// Not applicable in the families asked for: not run, and not a failure.
    #[serde(default, skip_serializing_if = "is_zero")]
    pub not_applicable: usize,
    pub probes: usize,
    pub probes_failed: usize,
    pub probes_errors: usize,
    /// The scenarios that test the enforcer (in `simulate`, the model
    /// stands in for it): every file but the loader checks. Absent from
    /// reports written before it existed (read as zeros).
    #[serde(default)]
    pub enforcer: Counts,
    /// Loader checks: `expectInvalid` files, judged by loading them alone;
    /// no enforcer (and no model) is involved.
    #[serde(default)]
    pub loader_checks: Counts,
    /// Scenarios with a round whose expected verdicts came from the model,
    /// not from a hand-written `expect`.
    #[serde(default)]
    pub judged_by_model: usize,
}

/// How many scenarios of one kind ended how.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Counts {
    pub scenarios: usize,
    pub passed: usize,
    pub failed: usize,
    pub errors: usize,
    pub unsupported: usize,
    /// Not run in the families asked for (`--ip-families`).
    #[serde(default, skip_serializing_if = "is_zero")]
    pub not_applicable: usize,
}

fn is_zero(n: &usize) -> bool {
    *n == 0
}

impl Counts {
    fn add(&mut self, status: Status) {
        self.scenarios += 1;
        match status {
            Status::Pass => self.passed += 1,
            Status::Fail => self.failed += 1,
            Status::Error => self.errors += 1,
            Status::Unsupported => self.unsupported += 1,
            Status::NotApplicable => self.not_applicable += 1,
        }
    }
}

impl Summary {
    pub fn of(scenarios: &[ScenarioResult]) -> Summary {
        Summary::of_each(scenarios.iter())
    }

    fn of_each<'a>(scenarios: impl Iterator<Item = &'a ScenarioResult>) -> Summary {
        let mut s = Summary::default();
        for sc in scenarios {
            s.scenarios += 1;
            match sc.status {
                Status::Pass => s.passed += 1,
                Status::Fail => s.failed += 1,
                Status::Error => s.errors += 1,
                Status::Unsupported => s.unsupported += 1,
                Status::NotApplicable => s.not_applicable += 1,
            }
            if sc.is_loader_check() {
                s.loader_checks.add(sc.status);
            } else {
                s.enforcer.add(sc.status);
            }
            if !sc.model_rounds().is_empty() {
                s.judged_by_model += 1;
            }
            for p in sc.rounds.iter().flat_map(|r| &r.probes) {
                s.probes += 1;
                match p.result {
                    Outcome::Pass => {}
                    Outcome::Fail => s.probes_failed += 1,
                    Outcome::Error => s.probes_errors += 1,
                }
            }
        }
        s
    }

    /// The summary of each tag's enforcer scenarios, by tag name; scenarios
    /// without tags are under `(untagged)`. Loader checks are not counted:
    /// they pass without the enforcer. Every report format shows these numbers.
    pub fn by_tag(scenarios: &[ScenarioResult]) -> Vec<(String, Summary)> {
        // References, not clones: a clone per tag carries every tag along,
        // which made memory grow with the square of the number of tags.
        let mut tags: std::collections::BTreeMap<&str, Vec<&ScenarioResult>> =
            std::collections::BTreeMap::new();
        for s in scenarios.iter().filter(|s| !s.is_loader_check()) {
            if s.tags.is_empty() {
                tags.entry("(untagged)").or_default().push(s);
            }
            for t in &s.tags {
                tags.entry(t).or_default().push(s);
            }
        }
        tags.into_iter()
            .map(|(t, list)| (t.to_string(), Summary::of_each(list.into_iter())))
            .collect()
    }

    /// Whether the run passes: every scenario passed or was declared unsupported.
    pub fn all_passed(&self) -> bool {
        self.passed + self.unsupported + self.not_applicable == self.scenarios
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Status {
    /// Every probe of every round passed, and there was at least one (or
    /// an `expectInvalid` scenario was rejected as expected).
    Pass,
    /// Some probe's observed verdict differs from the expected one.
    Fail,
    /// The scenario could not be loaded or carried out, or a probe could not be.
    Error,
    /// Not run: it needs a feature the implementation declares unsupported.
    Unsupported,
    /// Not run in the IP families asked for (`--ip-families`): it names
    /// IP addresses (ipBlocks, pinned addresses, external hosts), which
    /// mean nothing in another family. Never a pass.
    #[serde(rename = "not-applicable")]
    NotApplicable,
}

#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct ScenarioResult {
    pub name: String,
    pub file: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    #[serde(default)]
    pub tags: Vec<String>,
    /// Optional features the scenario needs (`sctp`, `endPort`, `namedPorts`).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub needs: Vec<crate::features::Feature>,

    pub status: Status,
    /// Why the scenario errored, or how an `expectInvalid` scenario was judged.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub message: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub expect_invalid: Option<String>,
    pub duration_ms: f64,
    /// `run --keep`: how to enter the kept lab's namespaces and remove them.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub kept: Option<String>,
    /// Lab setup and teardown (runs only).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub lab: Option<LabTimings>,
    pub rounds: Vec<RoundResult>,
}

#[derive(Clone, Debug, Default, Serialize, Deserialize)]
pub struct LabTimings {
    pub setup_ms: f64,
    /// With an enforcer: checking that the lab allows every probe before the first sync.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub preflight_ms: Option<f64>,
    /// With an enforcer: its `cleanup` call.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cleanup_ms: Option<f64>,
    pub teardown_ms: f64,
}

impl ScenarioResult {
    /// A scenario that never got to probing.
    pub fn without_rounds(
        name: String,
        file: String,
        status: Status,
        message: String,
    ) -> ScenarioResult {
        ScenarioResult {
            name,
            file,
            description: None,
            tags: Vec::new(),
            needs: Vec::new(),
            status,
            message: Some(message),

            expect_invalid: None,
            duration_ms: 0.0,
            kept: None,
            lab: None,
            rounds: Vec::new(),
        }
    }

    /// The status the probes give: error if any errored, or if a round
    /// (or the scenario) sent no probe, since nothing was checked; else
    /// fail if any failed.
    pub fn status_of(rounds: &[RoundResult]) -> Status {
        let outcomes = || rounds.iter().flat_map(|r| &r.probes).map(|p| p.result);
        let failing_transition = rounds
            .iter()
            .flat_map(|r| r.watch.iter().flat_map(|w| &w.transitions))
            .any(|t| t.fails);
        if rounds.is_empty()
            || rounds.iter().any(|r| r.probes.is_empty())
            || outcomes().any(|o| o == Outcome::Error)
        {
            Status::Error
        } else if outcomes().any(|o| o == Outcome::Fail) || failing_transition {
            Status::Fail
        } else {
            Status::Pass
        }
    }

    /// A loader check: an `expectInvalid` file, judged by loading it alone.
    pub fn is_loader_check(&self) -> bool {
        self.expect_invalid.is_some()
    }

    /// Every leak and outage of the scenario's changes, with its round.
    pub fn transitions(&self) -> impl Iterator<Item = (&RoundResult, &Transition)> {
        self.rounds.iter().flat_map(|r| {
            r.watch
                .iter()
                .flat_map(move |w| w.transitions.iter().map(move |t| (r, t)))
        })
    }

    /// The rounds whose expected verdicts came from the model (the file
    /// has no `expect` for them).
    pub fn model_rounds(&self) -> Vec<&str> {
        self.rounds
            .iter()
            .filter(|r| r.expectation == ExpectationSource::Model)
            .map(|r| r.name.as_str())
            .collect()
    }

    /// For a scenario with rounds judged against the model, saying so:
    /// `expected verdicts from the model: no expect in round initial`.
    pub fn model_note(&self) -> Option<String> {
        let rounds = self.model_rounds();
        (!rounds.is_empty()).then(|| {
            format!(
                "expected verdicts from the model: no expect in round{} {}",
                if rounds.len() == 1 { "" } else { "s" },
                rounds.join(", ")
            )
        })
    }
}

/// Where a round's expected verdicts come from.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ExpectationSource {
    /// The scenario's hand-written `expect`.
    Scenario,
    /// The scenario has no `expect` for this round: the model of the spec is the expectation.
    Model,
}

#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct RoundResult {
    /// `initial` or the step's name.
    pub name: String,
    pub expectation: ExpectationSource,
    /// How long the enforcer took to converge before the probes (runs only).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sync_ms: Option<f64>,
    /// How long the probes of the round took.
    pub duration_ms: f64,
    pub probes: Vec<ProbeResult>,
    /// A round with a probe that did not pass: the policies in force, as
    /// YAML (NetworkPolicies, then ClusterNetworkPolicies), for the reports
    /// to show beside its truth table.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub policies: Option<String>,
    /// Runs with an enforcer: when the dataplane enforced the round.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub convergence: Option<Convergence>,
    /// Runs with an enforcer: the pairs watched while the change happened,
    /// and what they showed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub watch: Option<Watch>,
    /// A step with `observeEstablished: true`: what became of TCP
    /// connections established before the change that denies them. An
    /// observation, never a failure.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub established: Vec<EstablishedConnection>,
}

/// A TCP connection established before a change that denies it, and
/// whether data still crossed it once the change was enforced.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct EstablishedConnection {
    pub family: IpFamily,
    pub from: String,
    pub to: String,
    pub port: u16,
    /// `kept`: data sent after the change came back; `cut`: it did not
    /// (the implementation ended or blocked the connection); `error`: the
    /// connection could not be opened before the change.
    pub outcome: EstablishedOutcome,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum EstablishedOutcome {
    Kept,
    Cut,
    Error,
}

/// When the dataplane enforced a round, counted from the start of its
/// `sync` call.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Convergence {
    /// A blocking enforcer: when `sync` returned. An asynchronous one: when
    /// the first poll whose observations matched the round's expected
    /// verdicts was sent (the judged probes confirmed them). A round that
    /// never converged: how long the harness waited.
    pub ms: f64,
    /// Polls of the round's probes (0 for a blocking enforcer).
    pub polls: u32,
    /// `false`: the observations never matched within `--converge-timeout`;
    /// the round is judged on the last of them.
    pub converged: bool,
}

/// The transition watch of one round: from the start of the `sync` call
/// until the round converged, the probes whose verdict is the same before
/// and after the change were sent again and again.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Watch {
    /// Probes watched (same verdict before and after the change).
    pub pairs: usize,
    /// Times every watched probe was sent.
    pub sweeps: u32,
    /// How long the watch lasted.
    pub ms: f64,
    /// Watched probes that were seen with the other verdict.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub transitions: Vec<Transition>,
}

/// What a watched probe showed while a change happened.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum TransitionKind {
    /// Allowed, though both the state before and the state after deny it.
    Leak,
    /// Denied, though both the state before and the state after allow it.
    Outage,
}

impl TransitionKind {
    pub fn as_str(self) -> &'static str {
        match self {
            TransitionKind::Leak => "leak",
            TransitionKind::Outage => "outage",
        }
    }
}

/// A leak or an outage of one probe during one change, with its timeline.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Transition {
    pub kind: TransitionKind,
    pub family: IpFamily,
    pub from: String,
    pub to: String,
    pub port: u16,
    pub protocol: Protocol,
    /// When the first probe that saw it was sent (ms since the change started).
    pub first_ms: f64,
    /// When the last probe that saw it was sent.
    pub last_ms: f64,
    /// To or from a pod the change adds (a leak only: reachable before its
    /// policies apply); the state before had no such pod.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub new_pod: bool,
    /// Whether it fails the scenario: every leak, and outages under
    /// `--strict-transitions`.
    pub fails: bool,
    /// Every watch probe of the pair: when it was sent, what it saw.
    pub timeline: Vec<Sample>,
}

impl Transition {
    /// How long it lasted, as far as the probes saw: from the first probe
    /// that saw it to the last.
    pub fn lasted_ms(&self) -> f64 {
        self.last_ms - self.first_ms
    }
}

/// One watch probe: when it was sent (ms since the change started) and
/// what it saw.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
pub struct Sample {
    pub at_ms: f64,
    pub observed: Observed,
}

impl RoundResult {
    /// Whether some probe of the round went over IPv6: reports then say
    /// the family of every probe (an IPv4-only round reads as in format 1).
    pub fn has_ipv6(&self) -> bool {
        self.probes.iter().any(|p| p.family == IpFamily::IPv6)
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Observed {
    Allowed,
    Denied,
    /// The probe could not be carried out (a failure of the lab, not a deny).
    Error,
}

impl From<Verdict> for Observed {
    fn from(v: Verdict) -> Observed {
        match v {
            Verdict::Allowed => Observed::Allowed,
            Verdict::Denied => Observed::Denied,
        }
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Outcome {
    Pass,
    Fail,
    Error,
}

#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct ProbeResult {
    /// The family the probe was sent over (reports before 1.1 had IPv4 only).
    #[serde(default = "ipv4")]
    pub family: IpFamily,
    /// Peer names: `x/a`, `ext:gw`, `node:node-1`.
    pub from: String,
    pub to: String,
    pub port: u16,
    pub protocol: Protocol,
    pub expected: Verdict,
    pub observed: Observed,
    pub result: Outcome,
    /// For probes that did not pass: the model's verdict and its reasons.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub model: Option<Verdict>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub explanation: Option<String>,
    /// Why the probe could not be carried out.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
}

fn ipv4() -> IpFamily {
    IpFamily::IPv4
}

/// Who is wrong about a failing probe, by the model's vote.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Suspect {
    /// The model agrees with the expectation: what was observed is wrong.
    Observed,
    /// The model agrees with what was observed: the expectation is suspect.
    Expectation,
}

impl ProbeResult {
    /// `80/TCP`, or `80/TCP over IPv6` where the family is worth saying:
    /// always for IPv6, and for IPv4 in a round that has IPv6 probes too.
    pub fn traffic(&self, round: &RoundResult) -> String {
        if round.has_ipv6() {
            format!("{}/{} over {}", self.port, self.protocol, self.family)
        } else {
            format!("{}/{}", self.port, self.protocol)
        }
    }

    /// For a failed probe, which side the model takes.
    pub fn suspect(&self) -> Option<Suspect> {
        if self.result != Outcome::Fail {
            return None;
        }
        match (self.model, self.observed) {
            (Some(m), _) if m == self.expected => Some(Suspect::Observed),
            (Some(_), Observed::Allowed | Observed::Denied) => Some(Suspect::Expectation),
            _ => None,
        }
    }

    pub fn outcome(expected: Verdict, observed: Observed) -> Outcome {
        match (expected, observed) {
            (_, Observed::Error) => Outcome::Error,
            (Verdict::Allowed, Observed::Allowed) | (Verdict::Denied, Observed::Denied) => {
                Outcome::Pass
            }
            _ => Outcome::Fail,
        }
    }
}

/// Now, as RFC 3339 in UTC (`2026-11-24T20:29:00Z`).
pub fn now_rfc3339() -> String {
    let secs = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs());
    rfc3339(secs)
}

fn rfc3339(unix: u64) -> String {
    let (days, rem) = (unix / 86_400, unix % 86_400);
    // Civil date from days since 1970-01-01 (Howard Hinnant's algorithm).
    let z = i64::try_from(days).expect("u64::MAX / 86_400 fits in an i64") + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    format!(
        "{year:04}-{month:02}-{day:02}T{:02}:{:02}:{:02}Z",
        rem / 3600,
        rem / 60 % 60,
        rem % 60
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formats_unix_time_as_rfc3339() {
        assert_eq!(rfc3339(0), "1970-01-01T00:00:00Z");
        assert_eq!(rfc3339(951_782_400), "2000-02-29T00:00:00Z", "a leap day");
        assert_eq!(rfc3339(1_795_552_140), "2026-11-24T20:29:00Z");
    }

    fn result(name: &str, tags: &[&str], status: Status, loader_check: bool) -> ScenarioResult {
        let mut r = ScenarioResult::without_rounds(
            name.into(),
            format!("{name}.yaml"),
            status,
            String::new(),
        );
        r.tags = tags.iter().map(|t| t.to_string()).collect();
        r.expect_invalid = loader_check.then(|| "spec".to_string());
        r
    }

    #[test]
    fn loader_checks_are_counted_apart_and_never_per_tag() {
        let scenarios = [
            result("a", &["ipblock"], Status::Fail, false),
            result("b", &["ipblock"], Status::Pass, false),
            result("c", &["ipblock", "invalid"], Status::Pass, true),
            result("d", &["ipblock", "invalid"], Status::Fail, true),
            result("e", &["sctp"], Status::Unsupported, false),
        ];
        let s = Summary::of(&scenarios);
        assert_eq!(
            (s.scenarios, s.passed, s.failed, s.unsupported),
            (5, 2, 2, 1),
            "the totals count every file"
        );
        assert_eq!(
            s.enforcer,
            Counts {
                scenarios: 3,
                passed: 1,
                failed: 1,
                errors: 0,
                unsupported: 1,
                not_applicable: 0,
            }
        );
        assert_eq!(
            s.loader_checks,
            Counts {
                scenarios: 2,
                passed: 1,
                failed: 1,
                errors: 0,
                unsupported: 0,
                not_applicable: 0,
            }
        );
        assert!(!s.all_passed(), "a failing loader check fails the run");
        let tags = Summary::by_tag(&scenarios);
        let names: Vec<&str> = tags.iter().map(|(t, _)| t.as_str()).collect();
        assert_eq!(names, ["ipblock", "sctp"]);
        assert_eq!((tags[0].1.scenarios, tags[0].1.passed), (2, 1));
    }

    #[test]
    fn no_probe_is_not_a_pass() {
        assert_eq!(ScenarioResult::status_of(&[]), Status::Error);
        let empty = RoundResult {
            name: "initial".into(),
            expectation: ExpectationSource::Scenario,
            sync_ms: None,
            convergence: None,
            watch: None,
            established: Vec::new(),
            duration_ms: 0.0,
            probes: Vec::new(),
            policies: None,
        };
        assert_eq!(ScenarioResult::status_of(&[empty]), Status::Error);
    }

    #[test]
    fn rounds_judged_against_the_model_are_named() {
        let round = |name: &str, expectation| RoundResult {
            name: name.into(),
            expectation,
            sync_ms: None,
            convergence: None,
            watch: None,
            established: Vec::new(),
            duration_ms: 0.0,
            probes: Vec::new(),
            policies: None,
        };
        let mut r = result("a", &[], Status::Pass, false);
        assert_eq!(r.model_note(), None);
        r.rounds = vec![
            round("initial", ExpectationSource::Scenario),
            round("s1", ExpectationSource::Model),
            round("s2", ExpectationSource::Model),
        ];
        assert_eq!(
            r.model_note().as_deref(),
            Some("expected verdicts from the model: no expect in rounds s1, s2")
        );
        assert_eq!(Summary::of(&[r]).judged_by_model, 1);
    }

    #[test]
    fn a_summary_without_the_new_fields_still_reads() {
        let old = r#"{"scenarios":2,"passed":2,"failed":0,"errors":0,"unsupported":0,"probes":9,"probes_failed":0,"probes_errors":0}"#;
        let s: Summary = serde_json::from_str(old).unwrap();
        assert_eq!(
            (s.scenarios, s.enforcer.scenarios, s.judged_by_model),
            (2, 0, 0)
        );
    }

    #[test]
    fn probe_outcomes() {
        let cases = [
            (Verdict::Allowed, Observed::Allowed, Outcome::Pass),
            (Verdict::Denied, Observed::Denied, Outcome::Pass),
            (Verdict::Allowed, Observed::Denied, Outcome::Fail),
            (Verdict::Denied, Observed::Allowed, Outcome::Fail),
            (Verdict::Denied, Observed::Error, Outcome::Error),
        ];
        for (expected, observed, want) in cases {
            assert_eq!(
                ProbeResult::outcome(expected, observed),
                want,
                "{expected:?} vs {observed:?}"
            );
        }
    }
}
