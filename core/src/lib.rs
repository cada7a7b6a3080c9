//! NetworkPolicy conformance without privileges: everything about a run
//! that needs no lab, testable by anyone.
//!
//! - [`scenario`] loads scenario files (the cluster, NetworkPolicies validated
//!   as the API server would ([`validation`]), probes, expectations, steps),
//!   and [`suite`] finds and loads the files of a run;
//! - [`model`] is the model of the specification (the oracle): the verdict
//!   of any probe, and why;
//! - [`judge`] judges observed verdicts against expected ones (the model
//!   observing itself in `simulate`, a lab in `netpol run`);
//! - [`results`] is the result model every report is a view of ([`report`]);
//! - [`rules`] lists the ids of the rules of `docs/spec-notes.md`, which the
//!   model cites and scenarios name.
//! - [`tags`] lists the matrix's tags, each with one spelling.
//! - [`transition`] finds leaks and outages in what a change looked like.
//!
//! The lab, the enforcers and the runner, which need privileges, live in
//! the `netpol` crate.

pub mod bench;
pub mod cluster;
pub mod expect;
pub mod features;
pub mod field_path;
pub mod fuzz;
pub mod judge;
pub mod model;
pub mod peer;
pub mod probe;
pub mod report;
pub mod results;
pub mod rng;
pub mod rules;
pub mod run;
pub mod scenario;
pub mod suite;
pub mod tags;
pub mod transition;
pub mod validation;
