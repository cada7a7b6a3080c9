//! NetworkPolicy conformance harness: the privileged half.
//!
//! [`lab`] builds a scenario's cluster as network namespaces and probes it;
//! [`enforcer`] drives enforcer plugins; [`runner`] runs a scenario in a lab,
//! and a whole suite ([`runner::run_suite`]) with an enforcer, in parallel;
//! [`watch`] watches the probes of a round while its change happens;
//! [`host_guard`] fails a run whose plugin changed the host's own namespace;
//! [`userns`] lets an ordinary user do all that in a user namespace.
//!
//! Everything that needs no privileges (the scenario format, validation,
//! the model, judging, results and reports) is the `netpol-core` crate,
//! re-exported here under the same module names.

pub use netpol_core::{
    bench, cluster, expect, features, field_path, fuzz, judge, model, peer, probe, report, results,
    rules, run, scenario, suite, tags, transition, validation,
};

pub mod enforcer;
pub mod fuzzer;
pub mod host_guard;
pub mod lab;
pub mod runner;
pub mod stop;
pub mod userns;
pub mod watch;
