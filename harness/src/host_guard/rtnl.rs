//! Links, addresses, routes and policy rules, dumped over rtnetlink, as
//! lines close to what `ip` prints, without what changes on its own
//! (statistics, carrier and operational state, lifetimes, cached routes).

use std::collections::HashMap;
use std::fmt::Debug;
use std::fmt::Write as _;
use std::io;

use nix::sys::socket::{setsockopt, sockopt};
use nix::sys::time::TimeVal;
use rtnetlink::packet_core::{
    NLM_F_DUMP, NLM_F_DUMP_INTR, NLM_F_REQUEST, NetlinkMessage, NetlinkPayload,
};
use rtnetlink::packet_route::address::{AddressAttribute, AddressMessage};
use rtnetlink::packet_route::link::{LinkAttribute, LinkFlags, LinkInfo, LinkMessage};
use rtnetlink::packet_route::route::{
    RouteAddress, RouteAttribute, RouteFlags, RouteMessage, RouteNextHop,
};
use rtnetlink::packet_route::rule::{RuleAction, RuleAttribute, RuleFlags, RuleMessage};
use rtnetlink::packet_route::{AddressFamily, RouteNetlinkMessage};
use rtnetlink::sys::{Socket, protocols::NETLINK_ROUTE};

/// Every line of the calling thread's namespace. Blocking: the dumps are
/// answered at once, and on a thread of its own a snapshot waits for no
/// task of a runtime busy with labs.
pub(super) fn lines() -> io::Result<Vec<String>> {
    let mut socket = Socket::new(NETLINK_ROUTE)?;
    socket.bind_auto()?;
    // The kernel answers a dump at once; this only bounds the unexpected.
    setsockopt(&socket, sockopt::ReceiveTimeout, &TimeVal::new(5, 0)).map_err(io::Error::from)?;
    let mut dumper = Dumper { socket, seq: 0 };
    let links: Vec<LinkMessage> = dumper
        .dump(&RouteNetlinkMessage::GetLink(LinkMessage::default()))?
        .into_iter()
        .filter_map(|m| match m {
            RouteNetlinkMessage::NewLink(l) => Some(l),
            _ => None,
        })
        .collect();
    let addresses: Vec<AddressMessage> = dumper
        .dump(&RouteNetlinkMessage::GetAddress(AddressMessage::default()))?
        .into_iter()
        .filter_map(|m| match m {
            RouteNetlinkMessage::NewAddress(a) => Some(a),
            _ => None,
        })
        .collect();
    let mut routes = Vec::new();
    let mut rules = Vec::new();
    for family in [AddressFamily::Inet, AddressFamily::Inet6] {
        let mut r = RouteMessage::default();
        // No table in the request: the kernel dumps them all.
        r.header.address_family = family;
        routes.extend(
            dumper
                .dump(&RouteNetlinkMessage::GetRoute(r))?
                .into_iter()
                .filter_map(|m| match m {
                    RouteNetlinkMessage::NewRoute(r) => Some(r),
                    _ => None,
                }),
        );
        let mut r = RuleMessage::default();
        r.header.family = family;
        rules.extend(
            dumper
                .dump(&RouteNetlinkMessage::GetRule(r))?
                .into_iter()
                .filter_map(|m| match m {
                    RouteNetlinkMessage::NewRule(r) => Some(r),
                    _ => None,
                }),
        );
    }

    let names: HashMap<u32, String> = links
        .iter()
        .map(|l| (l.header.index, link_name(l)))
        .collect();
    let name = |index: u32| {
        names
            .get(&index)
            .cloned()
            .unwrap_or_else(|| format!("if{index}"))
    };
    let mut out: Vec<String> = links.iter().map(|l| link_line(l, &name)).collect();
    out.extend(addresses.iter().map(|a| address_line(a, &name)));
    out.extend(
        routes
            .iter()
            // Cached (cloned) routes come and go with traffic.
            .filter(|r| !r.header.flags.contains(RouteFlags::Cloned))
            .map(|r| route_line(r, &name)),
    );
    out.extend(rules.iter().map(rule_line));
    Ok(out)
}

struct Dumper {
    socket: Socket,
    seq: u32,
}

impl Dumper {
    /// Every message of a dump; a dump the kernel marks interrupted (the
    /// table changed meanwhile) is taken again.
    fn dump(&mut self, request: &RouteNetlinkMessage) -> io::Result<Vec<RouteNetlinkMessage>> {
        for _ in 0..3 {
            if let Some(messages) = self.dump_once(request.clone())? {
                return Ok(messages);
            }
        }
        Err(io::Error::other(
            "netlink dump interrupted three times in a row",
        ))
    }

    fn dump_once(
        &mut self,
        request: RouteNetlinkMessage,
    ) -> io::Result<Option<Vec<RouteNetlinkMessage>>> {
        self.seq += 1;
        let mut m = NetlinkMessage::from(request);
        m.header.flags = NLM_F_REQUEST | NLM_F_DUMP;
        m.header.sequence_number = self.seq;
        m.finalize();
        let mut buf = vec![0; m.buffer_len()];
        m.serialize(&mut buf);
        self.socket.send(&buf, 0)?;
        let mut out = Vec::new();
        let mut interrupted = false;
        loop {
            let (data, _) = self.socket.recv_from_full()?;
            let mut at = 0;
            while at < data.len() {
                let m = NetlinkMessage::<RouteNetlinkMessage>::deserialize(&data[at..])
                    .map_err(io::Error::other)?;
                let len = m.header.length as usize;
                if len == 0 {
                    break;
                }
                at += len.div_ceil(4) * 4;
                if m.header.sequence_number != self.seq {
                    continue;
                }
                interrupted |= m.header.flags & NLM_F_DUMP_INTR != 0;
                match m.payload {
                    NetlinkPayload::Done(_) => return Ok((!interrupted).then_some(out)),
                    NetlinkPayload::Error(e) => return Err(e.to_io()),
                    NetlinkPayload::InnerMessage(inner) => out.push(inner),
                    _ => {}
                }
            }
        }
    }
}

fn lower(v: impl Debug) -> String {
    format!("{v:?}").to_lowercase()
}

fn family(f: AddressFamily) -> &'static str {
    match f {
        AddressFamily::Inet => "inet",
        AddressFamily::Inet6 => "inet6",
        _ => "other",
    }
}

fn mac(bytes: &[u8]) -> String {
    bytes
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect::<Vec<_>>()
        .join(":")
}

fn link_name(l: &LinkMessage) -> String {
    l.attributes
        .iter()
        .find_map(|a| match a {
            LinkAttribute::IfName(n) => Some(n.clone()),
            _ => None,
        })
        .unwrap_or_else(|| format!("if{}", l.header.index))
}

/// `link NAME: type KIND, mtu N, up|down, address MAC[, master M][, alias A]`:
/// what is configured, not the carrier or the counters.
fn link_line(l: &LinkMessage, name: &dyn Fn(u32) -> String) -> String {
    let mut kind = lower(l.header.link_layer_type);
    let mut parts = Vec::new();
    for a in &l.attributes {
        match a {
            LinkAttribute::LinkInfo(infos) => {
                for i in infos {
                    if let LinkInfo::Kind(k) = i {
                        kind = k.to_string();
                    }
                }
            }
            LinkAttribute::Mtu(m) => parts.push(format!("mtu {m}")),
            LinkAttribute::Address(a) => parts.push(format!("address {}", mac(a))),
            LinkAttribute::Controller(m) => parts.push(format!("master {}", name(*m))),
            LinkAttribute::IfAlias(a) => parts.push(format!("alias {a}")),
            _ => {}
        }
    }
    let up = if l.header.flags.contains(LinkFlags::Up) {
        "up"
    } else {
        "down"
    };
    parts.insert(0, format!("type {kind}"));
    parts.insert(1, up.to_string());
    format!("link {}: {}", link_name(l), parts.join(", "))
}

/// `address DEV: IP/LEN scope S[ peer P][ label L][ metric N]`.
fn address_line(a: &AddressMessage, name: &dyn Fn(u32) -> String) -> String {
    let (mut local, mut address, mut extra) = (None, None, Vec::new());
    let dev = name(a.header.index);
    for attr in &a.attributes {
        match attr {
            AddressAttribute::Local(ip) => local = Some(*ip),
            AddressAttribute::Address(ip) => address = Some(*ip),
            AddressAttribute::Label(l) if *l != dev => extra.push(format!("label {l}")),
            AddressAttribute::Broadcast(b) => extra.push(format!("brd {b}")),
            AddressAttribute::RoutePriority(m) => extra.push(format!("metric {m}")),
            // Lifetimes count down; flags (tentative, deprecated) follow them.
            _ => {}
        }
    }
    let ip = local.or(address);
    let peer = match (local, address) {
        (Some(l), Some(a)) if l != a => format!(" peer {a}"),
        _ => String::new(),
    };
    let ip = ip.map_or_else(|| "?".to_string(), |ip| ip.to_string());
    let extra: String = extra.iter().map(|e| format!(" {e}")).collect();
    format!(
        "address {dev}: {ip}/{} scope {}{peer}{extra}",
        a.header.prefix_len,
        scope(a.header.scope)
    )
}

fn table_name(id: u32) -> String {
    match id {
        255 => "local".into(),
        254 => "main".into(),
        253 => "default".into(),
        n => n.to_string(),
    }
}

fn route_address(a: &RouteAddress) -> String {
    match a {
        RouteAddress::Inet(ip) => ip.to_string(),
        RouteAddress::Inet6(ip) => ip.to_string(),
        other => lower(other),
    }
}

/// `route TABLE FAMILY: TYPE DST/LEN[ from SRC/LEN][ via GW][ dev D][ iif I]
/// [ src S][ metric N][ nexthop ...][ tos T] proto P scope S[ other attributes]`,
/// in this order whatever the order of the attributes.
fn route_line(r: &RouteMessage, name: &dyn Fn(u32) -> String) -> String {
    let h = &r.header;
    let mut table = u32::from(h.table);
    let mut dst = if h.address_family == AddressFamily::Inet6 {
        "::".to_string()
    } else {
        "0.0.0.0".to_string()
    };
    let (mut from, mut via, mut dev, mut iif, mut src, mut metric) =
        (None, None, None, None, None, None);
    let (mut hops, mut others) = (Vec::new(), Vec::new());
    for a in &r.attributes {
        match a {
            RouteAttribute::Table(t) => table = *t,
            RouteAttribute::Destination(d) => dst = route_address(d),
            RouteAttribute::Source(s) => {
                from = Some(format!(
                    "from {}/{}",
                    route_address(s),
                    h.source_prefix_length
                ))
            }
            RouteAttribute::Gateway(g) => via = Some(format!("via {}", route_address(g))),
            RouteAttribute::Oif(i) => dev = Some(format!("dev {}", name(*i))),
            RouteAttribute::Iif(i) => iif = Some(format!("iif {}", name(*i))),
            RouteAttribute::PrefSource(s) => src = Some(format!("src {}", route_address(s))),
            RouteAttribute::Priority(p) => metric = Some(format!("metric {p}")),
            RouteAttribute::Preference(p) => others.push(format!("pref {}", lower(p))),
            RouteAttribute::MultiPath(nh) => hops.extend(nh.iter().map(|hop| next_hop(hop, name))),
            // Counted or counting down on their own.
            RouteAttribute::CacheInfo(_)
            | RouteAttribute::Expires(_)
            | RouteAttribute::MulticastExpires(_)
            | RouteAttribute::MfcStats(_) => {}
            other => others.push(lower(other)),
        }
    }
    let mut parts: Vec<String> = [from, via, dev, iif, src, metric]
        .into_iter()
        .flatten()
        .chain(hops)
        .collect();
    if h.tos != 0 {
        parts.push(format!("tos {:#x}", h.tos));
    }
    parts.push(format!(
        "proto {} scope {}",
        lower(h.protocol),
        scope(h.scope)
    ));
    others.sort();
    parts.extend(others);
    format!(
        "route {} {}: {} {dst}/{} {}",
        table_name(table),
        family(h.address_family),
        lower(h.kind),
        h.destination_prefix_length,
        parts.join(" ")
    )
}

/// A scope as `ip` names it.
fn scope(s: impl Debug) -> String {
    match lower(s).as_str() {
        "universe" => "global".to_string(),
        other => other.to_string(),
    }
}

fn next_hop(hop: &RouteNextHop, name: &dyn Fn(u32) -> String) -> String {
    let mut s = format!(
        "nexthop dev {} weight {}",
        name(hop.interface_index),
        u32::from(hop.hops) + 1
    );
    for a in &hop.attributes {
        match a {
            RouteAttribute::Gateway(g) => {
                let _ = write!(s, " via {}", route_address(g));
            }
            other => {
                let _ = write!(s, " {}", lower(other));
            }
        }
    }
    s
}

/// `rule FAMILY: PRIORITY: [not ]from SRC to DST[ iif I][ oif O][ fwmark M/K]
/// ACTION[ table T][ other attributes]`.
fn rule_line(r: &RuleMessage) -> String {
    let h = &r.header;
    let any = if h.family == AddressFamily::Inet6 {
        "::"
    } else {
        "0.0.0.0"
    };
    let (mut priority, mut from, mut to) = (0, format!("{any}/0"), format!("{any}/0"));
    let mut table = u32::from(h.table);
    let (mut mark, mut mask) = (None, None);
    let mut parts = Vec::new();
    for a in &r.attributes {
        match a {
            RuleAttribute::Priority(p) => priority = *p,
            RuleAttribute::Source(ip) => from = format!("{ip}/{}", h.src_len),
            RuleAttribute::Destination(ip) => to = format!("{ip}/{}", h.dst_len),
            RuleAttribute::Table(t) => table = *t,
            RuleAttribute::FwMark(m) => mark = Some(*m),
            RuleAttribute::FwMask(m) => mask = Some(*m),
            RuleAttribute::Iifname(i) => parts.push(format!("iif {i}")),
            RuleAttribute::Oifname(o) => parts.push(format!("oif {o}")),
            RuleAttribute::Protocol(p) => parts.push(format!("proto {}", lower(p))),
            // -1: no suppressor.
            RuleAttribute::SuppressPrefixLen(u32::MAX) => {}
            other => parts.push(lower(other)),
        }
    }
    if let Some(mark) = mark {
        parts.push(format!("fwmark {mark:#x}/{:#x}", mask.unwrap_or(u32::MAX)));
    }
    if h.tos != 0 {
        parts.push(format!("tos {:#x}", h.tos));
    }
    parts.sort();
    parts.push(match h.action {
        RuleAction::ToTable => format!("lookup {}", table_name(table)),
        other if table != 0 => format!("{} table {}", lower(other), table_name(table)),
        other => lower(other),
    });
    let not = if h.flags.contains(RuleFlags::Invert) {
        "not "
    } else {
        ""
    };
    format!(
        "rule {}: {priority}: {not}from {from} to {to} {}",
        family(h.family),
        parts.join(" ")
    )
}
