//! `netpol explain`: the model's verdict for one probe, and why.

use std::path::Path;

use netpol::cluster::{IpFamily, Protocol};
use netpol::model::Model;
use netpol::peer::PeerPattern;
use netpol::probe::Probe;

use super::{Failure, Result, usage};
use crate::exit;

pub fn run(
    file: &Path,
    from: &str,
    to: &str,
    (port, protocol, family): (u16, Protocol, Option<IpFamily>),
    step: Option<&str>,
) -> Result {
    let scenario = match netpol::scenario::load(file).loaded {
        Ok(s) => s,
        Err(e) => {
            println!("{e}");
            return Ok(exit::FAILED);
        }
    };
    let round_name = step.unwrap_or(netpol::scenario::INITIAL_ROUND);
    let Some(round) = scenario.round(round_name) else {
        let names: Vec<&str> = scenario.rounds.iter().map(|r| r.name.as_str()).collect();
        return Err(usage(anyhow::anyhow!(
            "no step {round_name:?} in {}; rounds: {}",
            file.display(),
            names.join(", ")
        )));
    };
    let cluster = &round.cluster;
    let endpoint = |text: &str| -> anyhow::Result<netpol::cluster::Endpoint> {
        let pattern = PeerPattern::parse(text)?;
        match pattern.select(cluster).as_slice() {
            [one] => Ok(*one),
            [] => anyhow::bail!(
                "{text:?} matches nothing in the cluster of {}",
                file.display()
            ),
            _ => {
                anyhow::bail!("{text:?} matches several peers; name one (x/a, ext:NAME, node:NAME)")
            }
        }
    };
    let family = family.unwrap_or(cluster.families[0]);
    let probe = Probe {
        family,
        from: endpoint(from).map_err(usage)?,
        to: endpoint(to).map_err(usage)?,
        port,
        protocol,
    };
    for end in [probe.from, probe.to] {
        if cluster.endpoint_ip(end, family).is_none() {
            return Err(usage(anyhow::anyhow!(
                "{} has no {family} address in the cluster of {}",
                cluster.endpoint_name(end),
                file.display()
            )));
        }
    }
    let model = Model::new(cluster, &round.policies, &round.cluster_policies)
        .map_err(|e| Failure::Run(e.into()))?;
    let explanation = model.explain(&probe);
    println!(
        "{} -> {} {port}/{protocol} over {family}, round {round_name}",
        cluster.endpoint_name(probe.from),
        cluster.endpoint_name(probe.to)
    );
    println!(
        "model:    {}",
        if explanation.allowed {
            "allowed"
        } else {
            "denied"
        }
    );
    if explanation.egress == netpol::model::Direction::SelfTraffic {
        println!("  {}", explanation.egress);
    } else {
        println!("  egress:  {}", explanation.egress);
        println!("  ingress: {}", explanation.ingress);
    }
    match &round.expect {
        Some(e) => println!(
            "expected: {} (the scenario's expect)",
            e.verdict(cluster, &probe)
        ),
        None => println!(
            "expected: the scenario has no expect for this round; the model is the expectation"
        ),
    }
    if !cluster.serves(probe.to, port, protocol) {
        println!(
            "note: {} does not serve {port}/{protocol}; a run would not send this probe",
            cluster.endpoint_name(probe.to)
        );
    } else if !scenario.probes.contains(&probe) {
        println!("note: this probe is not among the scenario's probes");
    }
    Ok(exit::OK)
}
