//! Truth tables: for one round and one port/protocol, rows are sources,
//! columns destinations, each cell the probe's expected and observed
//! verdict. Every text format renders these.

use tabled::builder::Builder;
use tabled::settings::Style;

use crate::cluster::{IpFamily, Protocol};
use crate::results::{Observed, Outcome, ProbeResult, RoundResult};

#[derive(Clone, Debug)]
pub struct TruthTable<'r> {
    /// `None` in a round whose probes are all IPv4 (nothing to tell apart).
    pub family: Option<IpFamily>,
    pub port: u16,
    pub protocol: Protocol,
    pub sources: Vec<&'r str>,
    pub destinations: Vec<&'r str>,
    /// `cells[source][destination]`; `None` where no probe was sent.
    pub cells: Vec<Vec<Option<&'r ProbeResult>>>,
}

impl TruthTable<'_> {
    /// `80/TCP`, or `80/TCP over IPv6` in a round with several families.
    pub fn caption(&self) -> String {
        match self.family {
            Some(f) => format!("{}/{} over {f}", self.port, self.protocol),
            None => format!("{}/{}", self.port, self.protocol),
        }
    }

    pub fn has_mismatch(&self) -> bool {
        self.cells
            .iter()
            .flatten()
            .flatten()
            .any(|p| p.result != Outcome::Pass)
    }
}

/// The tables of a round, one per family (when it has IPv6 probes) and
/// port/protocol, in probe order.
pub fn tables(round: &RoundResult) -> Vec<TruthTable<'_>> {
    let split = round.has_ipv6();
    let mut keys: Vec<(Option<IpFamily>, u16, Protocol)> = Vec::new();
    for p in &round.probes {
        let key = (split.then_some(p.family), p.port, p.protocol);
        if !keys.contains(&key) {
            keys.push(key);
        }
    }
    keys.into_iter()
        .map(|(family, port, protocol)| {
            let probes: Vec<&ProbeResult> = round
                .probes
                .iter()
                .filter(|p| {
                    p.port == port && p.protocol == protocol && family.is_none_or(|f| f == p.family)
                })
                .collect();
            let mut sources: Vec<&str> = Vec::new();
            let mut destinations: Vec<&str> = Vec::new();
            for p in &probes {
                if !sources.contains(&p.from.as_str()) {
                    sources.push(&p.from);
                }
                if !destinations.contains(&p.to.as_str()) {
                    destinations.push(&p.to);
                }
            }
            let mut cells = vec![vec![None; destinations.len()]; sources.len()];
            for p in probes {
                let s = sources.iter().position(|x| *x == p.from).expect("a source");
                let d = destinations
                    .iter()
                    .position(|x| *x == p.to)
                    .expect("a destination");
                cells[s][d] = Some(p);
            }
            TruthTable {
                family,
                port,
                protocol,
                sources,
                destinations,
                cells,
            }
        })
        .collect()
}

/// What a cell shows.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Mark {
    /// Allowed, as expected.
    Allowed,
    /// Denied, as expected.
    Denied,
    /// Allowed, but expected denied.
    UnexpectedAllow,
    /// Denied, but expected allowed.
    UnexpectedDeny,
    /// The probe could not be carried out.
    Error,
}

impl Mark {
    pub fn of(p: &ProbeResult) -> Mark {
        match (p.result, p.observed) {
            (Outcome::Error, _) => Mark::Error,
            (Outcome::Pass, Observed::Allowed) => Mark::Allowed,
            (Outcome::Pass, _) => Mark::Denied,
            (Outcome::Fail, Observed::Allowed) => Mark::UnexpectedAllow,
            (Outcome::Fail, _) => Mark::UnexpectedDeny,
        }
    }

    /// `.` allowed and `x` denied as expected; `A!` allowed but expected
    /// denied, `D!` denied but expected allowed, `E!` error.
    pub fn text(self) -> &'static str {
        match self {
            Mark::Allowed => ".",
            Mark::Denied => "x",
            Mark::UnexpectedAllow => "A!",
            Mark::UnexpectedDeny => "D!",
            Mark::Error => "E!",
        }
    }
}

/// The text of a cell; empty where no probe was sent.
pub fn cell_text(p: Option<&ProbeResult>) -> &'static str {
    p.map_or("", |p| Mark::of(p).text())
}

pub const LEGEND: &str = ". allowed, x denied (as expected)   A! allowed but expected denied   D! denied but expected allowed   E! error";

/// A plain-text rendering for terminals and logs.
pub fn render(t: &TruthTable<'_>) -> String {
    let mut b = Builder::new();
    let mut header = vec![t.caption()];
    header.extend(t.destinations.iter().map(|d| d.to_string()));
    b.push_record(header);
    for (s, row) in t.sources.iter().zip(&t.cells) {
        let mut record = vec![s.to_string()];
        record.extend(row.iter().map(|c| cell_text(*c).to_string()));
        b.push_record(record);
    }
    b.build().with(Style::psql()).to_string()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::expect::Verdict;
    use crate::results::ExpectationSource;

    fn probe(from: &str, to: &str, expected: Verdict, observed: Observed) -> ProbeResult {
        ProbeResult {
            family: crate::cluster::IpFamily::IPv4,
            from: from.into(),
            to: to.into(),
            port: 80,
            protocol: Protocol::Tcp,
            expected,
            observed,
            result: ProbeResult::outcome(expected, observed),
            model: None,
            explanation: None,
            error: None,
        }
    }

    #[test]
    fn renders_rows_as_sources_and_marks_mismatches() {
        let round = RoundResult {
            name: "initial".into(),
            expectation: ExpectationSource::Scenario,
            sync_ms: None,
            convergence: None,
            watch: None,
            established: Vec::new(),
            duration_ms: 0.0,
            policies: None,
            probes: vec![
                probe("x/a", "x/a", Verdict::Allowed, Observed::Allowed),
                probe("x/a", "x/b", Verdict::Denied, Observed::Allowed),
                probe("x/b", "x/a", Verdict::Allowed, Observed::Denied),
                probe("x/b", "x/b", Verdict::Denied, Observed::Error),
            ],
        };
        let t = &tables(&round)[0];
        assert!(t.has_mismatch());
        assert_eq!(
            render(t),
            [
                " 80/TCP | x/a | x/b ",
                "--------+-----+-----",
                " x/a    | .   | A!  ",
                " x/b    | D!  | E!  ",
            ]
            .join("\n")
        );
    }

    #[test]
    fn a_round_with_ipv6_has_a_table_per_family_and_says_which() {
        let v6 = |mut p: ProbeResult| {
            p.family = IpFamily::IPv6;
            p
        };
        let round = RoundResult {
            name: "initial".into(),
            expectation: ExpectationSource::Scenario,
            sync_ms: None,
            convergence: None,
            watch: None,
            established: Vec::new(),
            duration_ms: 0.0,
            policies: None,
            probes: vec![
                probe("x/a", "x/b", Verdict::Allowed, Observed::Allowed),
                v6(probe("x/a", "x/b", Verdict::Denied, Observed::Allowed)),
            ],
        };
        let t = tables(&round);
        assert_eq!(t.len(), 2);
        assert!(!t[0].has_mismatch() && t[1].has_mismatch());
        assert_eq!(
            render(&t[1]).lines().next().unwrap(),
            " 80/TCP over IPv6 | x/b "
        );
        assert_eq!(round.probes[1].traffic(&round), "80/TCP over IPv6");
        assert_eq!(round.probes[0].traffic(&round), "80/TCP over IPv4");
        // An IPv4-only round reads as before IP families.
        let v4_only = RoundResult {
            probes: vec![round.probes[0].clone()],
            ..round.clone()
        };
        assert_eq!(tables(&v4_only)[0].caption(), "80/TCP");
        assert_eq!(v4_only.probes[0].traffic(&v4_only), "80/TCP");
    }
}
