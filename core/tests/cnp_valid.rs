//! ClusterNetworkPolicies at the edges of what the CRD allows (the largest
//! priority, the most rules and peers, the longest names, empty selectors,
//! ...), written blind from the CRDs and the API server's sources: the API
//! server accepts each, so the loader must too. A false rejection is as
//! much a bug as a false acceptance. One test per file.

use std::path::PathBuf;

use netpol_core::scenario;
use rstest::rstest;

#[rstest]
fn loads_as_the_api_server_accepts_it(#[files("tests/cnp-valid/*.yaml")] path: PathBuf) {
    if let Err(e) = scenario::load(&path).loaded {
        panic!(
            "{}: rejected, though the API server accepts it:\n{e}",
            path.display()
        );
    }
}
