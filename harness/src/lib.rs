//! NetworkPolicy conformance harness.
//!
//! - [`scenario`] loads scenario files (the cluster, NetworkPolicies validated
//!   as the API server would, probes, expectations, steps);
//! - [`model`] is the model of the specification (the oracle): the verdict
//!   of any probe, and why;
//! - [`simulate`] checks scenarios' expectations against the model.

pub mod cluster;
pub mod expect;
pub mod field_path;
pub mod peer;
pub mod probe;
pub mod scenario;
pub mod suite;
pub mod validation;
