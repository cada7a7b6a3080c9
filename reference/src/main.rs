//! `netpol-reference COMMAND`: the reference enforcer as a standalone plugin.

fn main() -> std::process::ExitCode {
    netpol_reference::main(std::env::args().skip(1).collect())
}
