//! Truth tables: for one round and one port/protocol, rows are sources,
//! columns destinations, each cell the probe's expected and observed
//! verdict. Every text format renders these.

use tabled::builder::Builder;
use tabled::settings::Style;

use crate::cluster::Protocol;
use crate::results::{Observed, Outcome, ProbeResult, RoundResult};

#[derive(Clone, Debug)]
pub struct TruthTable<'r> {
    pub port: u16,
    pub protocol: Protocol,
    pub sources: Vec<&'r str>,
    pub destinations: Vec<&'r str>,
    /// `cells[source][destination]`; `None` where no probe was sent.
    pub cells: Vec<Vec<Option<&'r ProbeResult>>>,
}

impl TruthTable<'_> {
    pub fn has_mismatch(&self) -> bool {
        self.cells
            .iter()
            .flatten()
            .flatten()
            .any(|p| p.result != Outcome::Pass)
    }
}

/// The tables of a round, one per port/protocol, in probe order.
pub fn tables(round: &RoundResult) -> Vec<TruthTable<'_>> {
    let mut keys: Vec<(u16, Protocol)> = Vec::new();
    for p in &round.probes {
        if !keys.contains(&(p.port, p.protocol)) {
            keys.push((p.port, p.protocol));
        }
    }
    keys.into_iter()
        .map(|(port, protocol)| {
            let probes: Vec<&ProbeResult> = round
                .probes
                .iter()
                .filter(|p| p.port == port && p.protocol == protocol)
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
    let mut header = vec![format!("{}/{}", t.port, t.protocol)];
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
            duration_ms: 0.0,
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
}
