//! NetworkPolicy conformance harness.
//!
//! - [`scenario`] loads scenario files (the cluster, NetworkPolicies validated
//!   as the API server would, probes, expectations, steps), and [`suite`]
//!   finds and loads the files of a run;
//! - [`model`] is the model of the specification (the oracle): the verdict
//!   of any probe, and why;
//! - [`judge`] judges observed verdicts against expected ones (the model
//!   observing itself in `simulate`, the lab in [`runner`]);
//! - [`lab`] builds a scenario's cluster as network namespaces and probes it;
//!   [`enforcer`] drives enforcer plugins; [`runner`] runs scenarios in labs;
//!   [`host_guard`] fails a run whose plugin changed the host's own namespace;
//! - [`results`] is the result model every report is a view of ([`report`]).

pub mod bench;
pub mod cluster;
pub mod enforcer;
pub mod expect;
pub mod features;
pub mod field_path;
pub mod host_guard;
pub mod judge;
pub mod lab;
pub mod model;
pub mod peer;
pub mod probe;
pub mod report;
pub mod results;
pub mod runner;
pub mod scenario;
pub mod suite;
pub mod validation;
