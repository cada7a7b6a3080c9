//! The host's firewall as lines: the nf_tables ruleset (tables that
//! iptables-nft manages as `iptables-save` prints them, which nft's own
//! listing does not render in full, e.g. comments), and legacy tables.
//!
//! Processes are the costly part of a snapshot, so nf_tables is listed only
//! when its generation (one netlink request) moved since the last listing,
//! and legacy tables only when the namespace has any.

use std::collections::BTreeSet;
use std::io::{self, Read};
use std::process::Command;
use std::sync::Mutex;
use std::time::Duration;

use nix::libc;
use socket2::{Domain, Protocol, Socket, Type};

/// The last nf_tables listing and the generation it was taken at.
#[derive(Debug, Default)]
pub(super) struct Cache {
    listed: Option<(u32, Vec<String>)>,
}

/// The firewall's lines, in the calling thread's namespace.
pub(super) fn lines(cache: &Mutex<Cache>) -> io::Result<Vec<String>> {
    let mut lines = {
        let mut cache = cache.lock().unwrap_or_else(|e| e.into_inner());
        match nf_tables_generation() {
            // An unknown generation: list every time.
            Err(_) => nf_tables()?,
            Ok(generation) => match &cache.listed {
                Some((g, lines)) if *g == generation => lines.clone(),
                _ => {
                    let lines = nf_tables()?;
                    cache.listed = Some((generation, lines.clone()));
                    lines
                }
            },
        }
    };
    for (names, save, label) in [
        ("ip_tables_names", "iptables-legacy-save", "iptables-legacy"),
        (
            "ip6_tables_names",
            "ip6tables-legacy-save",
            "ip6tables-legacy",
        ),
    ] {
        // Per namespace: /proc/thread-self/net is this thread's.
        let tables =
            std::fs::read_to_string(format!("/proc/thread-self/net/{names}")).unwrap_or_default();
        if tables.trim().is_empty() {
            continue;
        }
        match run(save, &[]) {
            Ok(text) => lines.extend(iptables_save_lines(label, &text).0),
            // The tables' names at least.
            Err(e) if e.kind() == io::ErrorKind::NotFound => lines.push(format!(
                "{label}: tables {} (no {save} to list them)",
                tables.split_whitespace().collect::<Vec<_>>().join(" ")
            )),
            Err(e) => return Err(e),
        }
    }
    Ok(lines)
}

/// The tables iptables(-nft) can own.
const IPTABLES_TABLES: [&str; 5] = ["filter", "nat", "mangle", "raw", "security"];

/// The nf_tables ruleset; tables iptables-nft manages in `iptables-save`'s
/// words, the others in nft's.
fn nf_tables() -> io::Result<Vec<String>> {
    let nft = match run("nft", &["-s", "list", "ruleset"]) {
        Ok(text) => text,
        Err(e) if e.kind() == io::ErrorKind::NotFound => {
            // Without nft, iptables-nft still lists its own tables.
            let mut lines = Vec::new();
            for (save, label) in [
                ("iptables-nft-save", "iptables"),
                ("ip6tables-nft-save", "ip6tables"),
            ] {
                match run(save, &[]) {
                    Ok(text) => lines.extend(iptables_save_lines(label, &text).0),
                    Err(e) if e.kind() == io::ErrorKind::NotFound => {
                        lines.push(format!("{label}: neither nft nor {save} to list nf_tables"))
                    }
                    Err(e) => return Err(e),
                }
            }
            return Ok(lines);
        }
        Err(e) => return Err(e),
    };
    let (mut lines, tables) = nft_lines(&nft);
    let mut covered = BTreeSet::new();
    for (family, save, label) in [
        ("ip", "iptables-nft-save", "iptables"),
        ("ip6", "ip6tables-nft-save", "ip6tables"),
    ] {
        let candidate = tables
            .iter()
            .any(|(f, t)| f == family && IPTABLES_TABLES.contains(&t.as_str()));
        if !candidate {
            continue;
        }
        match run(save, &[]) {
            Ok(text) => {
                let (more, saved) = iptables_save_lines(label, &text);
                lines.extend(more);
                covered.extend(saved.into_iter().map(|t| (family.to_string(), t)));
            }
            Err(e) if e.kind() == io::ErrorKind::NotFound => {}
            Err(e) => return Err(e),
        }
    }
    // A table iptables-save printed is not repeated in nft's words.
    lines.retain(|l| !covered.iter().any(|(f, t)| in_nft_table(l, f, t)));
    Ok(lines)
}

/// Whether `line` (of `nft_lines`) is in table `family` `table`.
fn in_nft_table(line: &str, family: &str, table: &str) -> bool {
    line.strip_prefix(&format!("nft table {family} {table}"))
        .is_some_and(|rest| rest.is_empty() || rest.starts_with([',', ':']))
}

/// Runs `program args` in the calling thread's namespace; its stdout, or
/// an error with its stderr.
fn run(program: &str, args: &[&str]) -> io::Result<String> {
    let out = Command::new(program).args(args).output()?;
    if !out.status.success() {
        return Err(io::Error::other(format!(
            "{program} {}: {}: {}",
            args.join(" "),
            out.status,
            String::from_utf8_lossy(&out.stderr).trim()
        )));
    }
    Ok(String::from_utf8_lossy(&out.stdout).into_owned())
}

/// `iptables-save` output as lines `LABEL TABLE: RULE`, without comments
/// and counters; and the tables it printed.
fn iptables_save_lines(label: &str, text: &str) -> (Vec<String>, Vec<String>) {
    let mut lines = Vec::new();
    let mut tables = Vec::new();
    let mut table = "";
    for line in text.lines().map(str::trim) {
        if line.is_empty() || line.starts_with('#') || line == "COMMIT" {
            continue;
        }
        if let Some(t) = line.strip_prefix('*') {
            table = t;
            tables.push(t.to_string());
            continue;
        }
        // `:CHAIN POLICY [packets:bytes]`; `[packets:bytes] -A ...` with -c.
        let words: Vec<&str> = line
            .split_whitespace()
            .filter(|w| !is_counter_pair(w))
            .collect();
        lines.push(format!("{label} {table}: {}", words.join(" ")));
    }
    (lines, tables)
}

fn is_counter_pair(word: &str) -> bool {
    word.strip_prefix('[')
        .and_then(|w| w.strip_suffix(']'))
        .and_then(|w| w.split_once(':'))
        .is_some_and(|(p, b)| {
            [p, b]
                .iter()
                .all(|n| !n.is_empty() && n.bytes().all(|c| c.is_ascii_digit()))
        })
}

/// `nft -s list ruleset` as lines `nft table FAMILY NAME, chain C: RULE`
/// (each line with the blocks it is in), without what counts on its own;
/// and the tables, as (family, name).
fn nft_lines(text: &str) -> (Vec<String>, Vec<(String, String)>) {
    let mut lines = Vec::new();
    let mut tables = Vec::new();
    let mut blocks: Vec<String> = Vec::new();
    for line in text.lines().map(str::trim) {
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        if line == "}" {
            blocks.pop();
            continue;
        }
        if let Some(header) = line.strip_suffix('{') {
            let header = header.trim().to_string();
            if let Some(rest) = header.strip_prefix("table ") {
                blocks.clear();
                let mut words = rest.split_whitespace();
                if let (Some(f), Some(n)) = (words.next(), words.next()) {
                    tables.push((f.to_string(), n.to_string()));
                }
            }
            blocks.push(header);
            // An empty block (`chain FOO {` `}`) is still a line of its own.
            lines.push(format!("nft {}", blocks.join(", ")));
            continue;
        }
        lines.push(format!("nft {}: {}", blocks.join(", "), stateless(line)));
    }
    (lines, tables)
}

/// Drops what changes without a commit: `packets N bytes N` of counters
/// (`-s` omits most), `expires T` of set elements with a timeout.
fn stateless(line: &str) -> String {
    let words: Vec<&str> = line.split_whitespace().collect();
    let mut kept = Vec::new();
    let mut i = 0;
    while i < words.len() {
        let numeric = |j: usize| {
            words
                .get(j)
                .is_some_and(|w| w.bytes().all(|c| c.is_ascii_digit()))
        };
        match words[i] {
            "packets" | "bytes" if numeric(i + 1) => i += 2,
            "expires" if i + 1 < words.len() => i += 2,
            w => {
                kept.push(w);
                i += 1;
            }
        }
    }
    kept.join(" ")
}

const NETLINK_NETFILTER: i32 = 12;
const NFNL_SUBSYS_NFTABLES: u16 = 10;
const NFT_MSG_NEWGEN: u16 = 15;
const NFT_MSG_GETGEN: u16 = 16;
const NFTA_GEN_ID: u16 = 1;
const NLMSG_ERROR: u16 = 2;
const NLM_F_REQUEST: u16 = 1;

/// The nf_tables generation of the calling thread's namespace: it moves
/// with every commit to the ruleset (iptables-nft's included).
fn nf_tables_generation() -> io::Result<u32> {
    let socket = Socket::new(
        Domain::from(libc::AF_NETLINK),
        Type::RAW,
        Some(Protocol::from(NETLINK_NETFILTER)),
    )?;
    socket.set_read_timeout(Some(Duration::from_secs(2)))?;
    let mut request = Vec::with_capacity(20);
    request.extend_from_slice(&20u32.to_ne_bytes()); // nlmsg_len
    request.extend_from_slice(&((NFNL_SUBSYS_NFTABLES << 8) | NFT_MSG_GETGEN).to_ne_bytes());
    request.extend_from_slice(&NLM_F_REQUEST.to_ne_bytes());
    request.extend_from_slice(&1u32.to_ne_bytes()); // seq
    request.extend_from_slice(&0u32.to_ne_bytes()); // port id: the kernel fills it
    request.extend_from_slice(&[0, 0, 0, 0]); // nfgenmsg: family AF_UNSPEC (0), version, res_id
    // Unconnected netlink sends go to the kernel.
    socket.send(&request)?;
    let mut buf = vec![0u8; 8192];
    let n = (&socket).read(&mut buf)?;
    parse_generation(&buf[..n])
}

/// The generation in a reply to NFT_MSG_GETGEN.
fn parse_generation(reply: &[u8]) -> io::Result<u32> {
    let u16_at = |b: &[u8], i: usize| b.get(i..i + 2).map(|s| u16::from_ne_bytes([s[0], s[1]]));
    let u32_at = |b: &[u8], i: usize| {
        b.get(i..i + 4)
            .map(|s| u32::from_ne_bytes([s[0], s[1], s[2], s[3]]))
    };
    let bad = |what: &str| io::Error::other(format!("nf_tables generation: {what}"));
    let len = u32_at(reply, 0).ok_or_else(|| bad("short reply"))? as usize;
    let kind = u16_at(reply, 4).ok_or_else(|| bad("short reply"))?;
    let message = reply.get(..len).ok_or_else(|| bad("truncated reply"))?;
    if kind == NLMSG_ERROR {
        let errno = u32_at(message, 16)
            .ok_or_else(|| bad("short error"))?
            .cast_signed();
        return Err(io::Error::from_raw_os_error(-errno));
    }
    if kind != (NFNL_SUBSYS_NFTABLES << 8) | NFT_MSG_NEWGEN {
        return Err(bad(&format!("unexpected message type {kind:#x}")));
    }
    // nlmsghdr (16) + nfgenmsg (4), then attributes, each padded to 4 bytes.
    let mut at = 20;
    while let (Some(nla_len), Some(nla_type)) = (u16_at(message, at), u16_at(message, at + 2)) {
        let nla_len = nla_len as usize;
        if nla_len < 4 {
            break;
        }
        if nla_type & 0x3fff == NFTA_GEN_ID {
            let v = message
                .get(at + 4..at + 8)
                .ok_or_else(|| bad("short attribute"))?;
            return Ok(u32::from_be_bytes([v[0], v[1], v[2], v[3]]));
        }
        at += nla_len.div_ceil(4) * 4;
    }
    Err(bad("no generation in the reply"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn iptables_save_loses_comments_counters_and_commits() {
        let text = "\
# Generated by iptables-save v1.8.9 on Thu Dec  3 06:35:11 2026
*filter
:INPUT ACCEPT [12:3456]
:FORWARD DROP [0:0]
:NETPOL-x - [0:0]
[3:180] -A INPUT -s 10.0.0.0/8 -m comment --comment \"a b\" -j DROP
-A FORWARD -j NETPOL-x
COMMIT
# Completed on Thu Dec  3 06:35:11 2026
*nat
:PREROUTING ACCEPT [0:0]
COMMIT
";
        let (lines, tables) = iptables_save_lines("iptables", text);
        assert_eq!(
            lines,
            [
                "iptables filter: :INPUT ACCEPT",
                "iptables filter: :FORWARD DROP",
                "iptables filter: :NETPOL-x -",
                "iptables filter: -A INPUT -s 10.0.0.0/8 -m comment --comment \"a b\" -j DROP",
                "iptables filter: -A FORWARD -j NETPOL-x",
                "iptables nat: :PREROUTING ACCEPT",
            ]
        );
        assert_eq!(tables, ["filter", "nat"]);
    }

    #[test]
    fn nft_lines_carry_their_blocks_and_lose_counts() {
        let text = "\
table inet mine {
\tset s {
\t\ttype ipv4_addr
\t\tflags timeout
\t\telements = { 1.2.3.4 timeout 1h expires 59m58s }
\t}

\tchain c {
\t\ttype filter hook input priority filter; policy accept;
\t\tip saddr @s counter packets 12 bytes 3456 drop
\t}

\tchain empty {
\t}
}
table ip filter {
\tchain INPUT {
\t\ttype filter hook input priority filter; policy accept;
\t\tcounter drop
\t}
}
";
        let (lines, tables) = nft_lines(text);
        assert_eq!(
            lines,
            [
                "nft table inet mine",
                "nft table inet mine, set s",
                "nft table inet mine, set s: type ipv4_addr",
                "nft table inet mine, set s: flags timeout",
                "nft table inet mine, set s: elements = { 1.2.3.4 timeout 1h }",
                "nft table inet mine, chain c",
                "nft table inet mine, chain c: type filter hook input priority filter; policy accept;",
                "nft table inet mine, chain c: ip saddr @s counter drop",
                "nft table inet mine, chain empty",
                "nft table ip filter",
                "nft table ip filter, chain INPUT",
                "nft table ip filter, chain INPUT: type filter hook input priority filter; policy accept;",
                "nft table ip filter, chain INPUT: counter drop",
            ]
        );
        assert_eq!(
            tables,
            [
                ("inet".to_string(), "mine".to_string()),
                ("ip".to_string(), "filter".to_string())
            ]
        );
        assert!(in_nft_table(&lines[9], "ip", "filter"));
        assert!(in_nft_table(&lines[12], "ip", "filter"));
        assert!(!in_nft_table(&lines[12], "ip", "filt"));
        assert!(!in_nft_table(&lines[0], "ip", "filter"));
    }

    fn netlink_message(kind: u16, payload: &[u8]) -> Vec<u8> {
        let mut m = Vec::new();
        let len = u32::try_from(16 + payload.len()).expect("a netlink request fits in u32");
        m.extend_from_slice(&len.to_ne_bytes());
        m.extend_from_slice(&kind.to_ne_bytes());
        m.extend_from_slice(&[0; 10]);
        m.extend_from_slice(payload);
        m
    }

    #[test]
    fn the_generation_is_read_from_its_attribute_or_the_error_is_returned() {
        let mut payload = vec![0u8; 4]; // nfgenmsg
        // NFTA_GEN_PROC_PID first, then NFTA_GEN_ID (big-endian).
        payload.extend_from_slice(&8u16.to_ne_bytes());
        payload.extend_from_slice(&2u16.to_ne_bytes());
        payload.extend_from_slice(&77u32.to_be_bytes());
        payload.extend_from_slice(&8u16.to_ne_bytes());
        payload.extend_from_slice(&NFTA_GEN_ID.to_ne_bytes());
        payload.extend_from_slice(&4242u32.to_be_bytes());
        let reply = netlink_message((NFNL_SUBSYS_NFTABLES << 8) | NFT_MSG_NEWGEN, &payload);
        assert_eq!(parse_generation(&reply).unwrap(), 4242);

        let error = netlink_message(NLMSG_ERROR, &(-libc::EOPNOTSUPP).to_ne_bytes());
        assert_eq!(
            parse_generation(&error).unwrap_err().raw_os_error(),
            Some(libc::EOPNOTSUPP)
        );
    }
}
