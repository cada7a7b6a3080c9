//! `netpol bench`: the model's speed.

use std::time::Duration;

use super::{Result, usage};
use crate::exit;

pub fn run(pods: usize, policies: usize, seconds: f64) -> Result {
    if !(seconds > 0.0 && seconds.is_finite() && seconds < 1e6) {
        return Err(usage(anyhow::anyhow!("--seconds must be positive")));
    }
    let r = netpol::bench::run(pods, policies, Duration::from_secs_f64(seconds));
    println!(
        "cluster: {} pods, {} policies (compiled in {:.2} ms)",
        r.pods,
        r.policies,
        r.compile.as_secs_f64() * 1e3
    );
    println!(
        "{} verdicts in {:.2} s on one core: {:.0} verdicts/s ({:.1}% allowed)",
        r.verdicts,
        r.elapsed.as_secs_f64(),
        r.verdicts_per_second(),
        100.0 * r.allowed as f64 / r.verdicts.max(1) as f64
    );
    Ok(exit::OK)
}
