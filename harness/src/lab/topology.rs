//! Wiring the lab's namespaces together with rtnetlink (see `docs/lab.md`).
//!
//! Everything is routed at layer 3, as Calico does: every address is a /32
//! (IPv6: a /128); a pod's default route goes to the link-local gateway
//! 169.254.1.1 (IPv6: fe80::1) on its veth; its node has a host route per
//! pod; the fabric routes node, pod and external addresses. Neighbours are
//! static (known MACs), so no probe waits for ARP or neighbour discovery,
//! and nothing depends on proxy-ARP.
//!
//! IPv6 is enabled only in namespaces that have an IPv6 address (and in the
//! fabric if any has), and quietly: no duplicate address detection, no
//! router advertisements or solicitations, no autoconfiguration, not even
//! link-local addresses (the gateway's is a static neighbour, like the
//! IPv4 one).
//!
//! A veth end created up before its peer gets carrier when the peer comes
//! up, but it transmits nothing until the kernel's link watch has activated
//! its queue (until then its queue discipline is `noop`, which drops every
//! packet). Link watch is deferred work, which a busy machine holds back
//! (by hundreds of milliseconds under load, long enough for probes and
//! their retries to be lost). So the lab waits until every veth end is
//! operationally up (`wait_operational`) before anything is sent.

use std::io;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::os::fd::AsRawFd;
use std::sync::OnceLock;
use std::time::{Duration, Instant};

use futures::TryStreamExt;
use rtnetlink::packet_route::address::{AddressAttribute, AddressFlags};
use rtnetlink::packet_route::link::{InfoData, InfoKind, InfoVeth, LinkAttribute, State};
use rtnetlink::packet_route::neighbour::NeighbourState;
use rtnetlink::packet_route::route::RouteScope;
use rtnetlink::{Handle, LinkMessageBuilder, LinkUnspec, RouteMessageBuilder};

use super::netns::NetNs;

/// The gateway every pod, node and external routes through.
pub const GATEWAY: Ipv4Addr = Ipv4Addr::new(169, 254, 1, 1);

/// The IPv6 gateway: link-local, so a route through it needs no route to
/// it, only the link (and a static neighbour entry for its MAC).
pub const GATEWAY_V6: Ipv6Addr = Ipv6Addr::new(0xfe80, 0, 0, 0, 0, 0, 0, 1);

/// The prefix length of a single address of `ip`'s family.
fn host_prefix(ip: IpAddr) -> u8 {
    if ip.is_ipv4() { 32 } else { 128 }
}

/// Interface indexes the lab asks for, so it never has to look one up.
pub mod ifindex {
    /// The single uplink of a pod, node or external namespace (`eth0`).
    pub const UPLINK: u32 = 2;
    /// In a node namespace: the veth of pod `j` (global pod index).
    pub fn pod_veth(j: usize) -> u32 {
        1000 + super::index_u32(j)
    }
    /// In the fabric namespace: the link to node `i`.
    pub fn fabric_node(i: usize) -> u32 {
        100 + super::index_u32(i)
    }
    /// In the fabric namespace: the link to external `k`.
    pub fn fabric_external(k: usize) -> u32 {
        10_000 + super::index_u32(k)
    }
}

/// A node, pod or external index of the lab's cluster as a `u32` (for
/// interface indexes and MACs): clusters are far smaller than 2^32.
fn index_u32(i: usize) -> u32 {
    u32::try_from(i).expect("a cluster has far fewer than 2^32 members")
}

/// Deterministic MAC addresses: locally administered, `02:<role>:<index>`.
pub fn mac(role: u8, index: usize) -> Vec<u8> {
    let i = index_u32(index).to_be_bytes();
    vec![0x02, role, i[0], i[1], i[2], i[3]]
}

pub mod role {
    pub const NODE_POD_VETH: u8 = 0x10;
    pub const POD_ETH0: u8 = 0x11;
    pub const NODE_ETH0: u8 = 0x20;
    pub const FABRIC_NODE: u8 = 0x21;
    pub const EXTERNAL_ETH0: u8 = 0x30;
    pub const FABRIC_EXTERNAL: u8 = 0x31;
}

/// The name of pod `j`'s veth end in its node's namespace.
pub fn pod_veth_name(j: usize) -> String {
    format!("veth{j}")
}

fn nl_err(ns: &str, what: &str, e: &rtnetlink::Error) -> io::Error {
    io::Error::other(format!("{ns}: {what}: {e}"))
}

/// A netlink connection opened inside one namespace.
#[derive(Debug, Clone)]
pub struct Netlink {
    ns: String,
    handle: Handle,
}

/// The runtime that drives every netlink connection of the lab. The kernel
/// carries out a netlink request inside the thread that sends it, and there
/// it waits for the routing lock (held by other labs being built or torn
/// down, by link watch, ...): on the runtime that runs the probe servers,
/// that wait would stall every server of every lab, and probes answered in
/// userspace (UDP, SCTP) would come back late, as denials. Two threads:
/// while one waits for the lock, the other still delivers answers.
fn netlink_runtime() -> io::Result<&'static tokio::runtime::Runtime> {
    static RUNTIME: OnceLock<Result<tokio::runtime::Runtime, String>> = OnceLock::new();
    RUNTIME
        .get_or_init(|| {
            tokio::runtime::Builder::new_multi_thread()
                .worker_threads(2)
                .thread_name("netpol-netlink")
                .enable_io()
                .build()
                .map_err(|e| e.to_string())
        })
        .as_ref()
        .map_err(|e| io::Error::other(format!("netlink runtime: {e}")))
}

impl Netlink {
    pub async fn open(ns: &NetNs) -> io::Result<Netlink> {
        let runtime = netlink_runtime()?;
        // The socket is made inside the namespace, registered with the
        // netlink runtime, and driven there.
        let (conn, handle, _) = ns
            .run(move || {
                let _entered = runtime.enter();
                rtnetlink::new_connection()
            })
            .await??;
        runtime.spawn(conn);
        Ok(Netlink {
            ns: ns.name().to_string(),
            handle,
        })
    }

    pub async fn up(&self, index: u32) -> io::Result<()> {
        let msg = LinkUnspec::new_with_index(index).up().build();
        self.handle
            .link()
            .set(msg)
            .execute()
            .await
            .map_err(|e| nl_err(&self.ns, &format!("link {index} up"), &e))
    }

    pub async fn lo_up(&self) -> io::Result<()> {
        self.up(1).await
    }

    /// Creates a veth pair: `name` here, and `eth0` (the uplink) in the
    /// leaf namespace `leaf`, with the given interface index and MAC here.
    pub async fn add_leaf_veth(
        &self,
        name: &str,
        index: u32,
        mac: Vec<u8>,
        leaf: &NetNs,
        leaf_mac: Vec<u8>,
    ) -> io::Result<()> {
        let peer = LinkMessageBuilder::<LinkUnspec>::new()
            .name("eth0".to_string())
            .index(ifindex::UPLINK)
            .address(leaf_mac)
            .setns_by_fd(leaf.fd().as_raw_fd())
            .build();
        let msg = LinkMessageBuilder::<LinkUnspec>::new_with_info_kind(InfoKind::Veth)
            .name(name.to_string())
            .index(index)
            .address(mac)
            .set_info_data(InfoData::Veth(InfoVeth::Peer(peer)))
            .up()
            .build();
        let what = format!("veth {name} <-> {}:eth0", leaf.name());
        self.handle
            .link()
            .add(msg)
            .execute()
            .await
            .map_err(|e| nl_err(&self.ns, &what, &e))
    }

    /// `ip/32` (IPv6: `ip/128 nodad`, usable at once) on link `index`.
    pub async fn add_address(&self, index: u32, ip: impl Into<IpAddr>) -> io::Result<()> {
        let ip = ip.into();
        let prefix = host_prefix(ip);
        let mut request = self.handle.address().add(index, ip, prefix);
        if ip.is_ipv6() {
            // Without it the address stays tentative (unusable) until the
            // kernel's deferred DAD work has run, even with accept_dad=0.
            request
                .message_mut()
                .attributes
                .push(AddressAttribute::Flags(AddressFlags::Nodad));
        }
        request
            .execute()
            .await
            .map_err(|e| nl_err(&self.ns, &format!("address {ip}/{prefix}"), &e))
    }

    /// `dst/32 dev index scope link [src src]` (IPv6: `dst/128 dev index
    /// [src src]`). Both of one family.
    pub async fn add_link_route(
        &self,
        dst: impl Into<IpAddr>,
        index: u32,
        src: Option<IpAddr>,
    ) -> io::Result<()> {
        let dst = dst.into();
        let msg = match (dst, src) {
            (IpAddr::V4(dst), src) => {
                let mut b = RouteMessageBuilder::<Ipv4Addr>::new()
                    .destination_prefix(dst, 32)
                    .output_interface(index)
                    .scope(RouteScope::Link);
                if let Some(IpAddr::V4(src)) = src {
                    b = b.pref_source(src);
                }
                b.build()
            }
            (IpAddr::V6(dst), src) => {
                let mut b = RouteMessageBuilder::<Ipv6Addr>::new()
                    .destination_prefix(dst, 128)
                    .output_interface(index);
                if let Some(IpAddr::V6(src)) = src {
                    b = b.pref_source(src);
                }
                b.build()
            }
        };
        self.handle.route().add(msg).execute().await.map_err(|e| {
            let what = format!("route {dst}/{}", host_prefix(dst));
            nl_err(&self.ns, &what, &e)
        })
    }

    /// `dst/prefix via gateway dev index`, both of one family.
    pub async fn add_gateway_route(
        &self,
        dst: impl Into<IpAddr>,
        prefix: u8,
        gateway: impl Into<IpAddr>,
        index: u32,
    ) -> io::Result<()> {
        let (dst, gateway) = (dst.into(), gateway.into());
        let msg = match (dst, gateway) {
            (IpAddr::V4(dst), IpAddr::V4(gateway)) => RouteMessageBuilder::<Ipv4Addr>::new()
                .destination_prefix(dst, prefix)
                .gateway(gateway)
                .output_interface(index)
                .build(),
            (IpAddr::V6(dst), IpAddr::V6(gateway)) => RouteMessageBuilder::<Ipv6Addr>::new()
                .destination_prefix(dst, prefix)
                .gateway(gateway)
                .output_interface(index)
                .build(),
            _ => {
                return Err(io::Error::other(format!(
                    "{}: route {dst}/{prefix} via {gateway}: families differ",
                    self.ns
                )));
            }
        };
        self.handle
            .route()
            .add(msg)
            .execute()
            .await
            .map_err(|e| nl_err(&self.ns, &format!("route {dst}/{prefix} via {gateway}"), &e))
    }

    /// A permanent neighbour entry: `ip` is at `mac` on link `index`.
    pub async fn add_neighbour(
        &self,
        index: u32,
        ip: impl Into<IpAddr>,
        mac: &[u8],
    ) -> io::Result<()> {
        let ip = ip.into();
        self.handle
            .neighbours()
            .add(index, ip)
            .link_layer_address(mac)
            .state(NeighbourState::Permanent)
            .execute()
            .await
            .map_err(|e| nl_err(&self.ns, &format!("neighbour {ip}"), &e))
    }

    /// The operational state of link `index` (`IFLA_OPERSTATE`).
    ///
    /// A request for one link (not a dump) makes the kernel (6.8 and later)
    /// first process a link-watch event pending for it, so the answer is a
    /// state the link honours.
    pub async fn operstate(&self, index: u32) -> io::Result<State> {
        let what = format!("link {index}");
        let link = self
            .handle
            .link()
            .get()
            .match_index(index)
            .execute()
            .try_next()
            .await
            .map_err(|e| nl_err(&self.ns, &what, &e))?
            .ok_or_else(|| io::Error::other(format!("{}: {what}: no such link", self.ns)))?;
        Ok(link
            .attributes
            .iter()
            .find_map(|a| match a {
                LinkAttribute::OperState(s) => Some(*s),
                _ => None,
            })
            .unwrap_or(State::Unknown))
    }

    /// Every link of the namespace: index, name and operational state, as
    /// a dump reports them. Unlike `operstate`, a dump does not process
    /// pending link-watch events: it shows what link watch has done so far.
    pub async fn links(&self) -> io::Result<Vec<(u32, String, State)>> {
        let mut links = Vec::new();
        let mut dump = self.handle.link().get().execute();
        while let Some(link) = dump
            .try_next()
            .await
            .map_err(|e| nl_err(&self.ns, "links", &e))?
        {
            let mut name = String::new();
            let mut state = State::Unknown;
            for a in &link.attributes {
                match a {
                    LinkAttribute::IfName(n) => name.clone_from(n),
                    LinkAttribute::OperState(s) => state = *s,
                    _ => {}
                }
            }
            links.push((link.header.index, name, state));
        }
        Ok(links)
    }

    /// Waits until link `index` is operationally up: its carrier is on and
    /// link watch has activated its transmit queue (see the module's
    /// documentation). On kernels that process the pending event when asked
    /// (6.8 and later) the first answer is final; older ones are asked
    /// again until their link-watch work has run. `limit` only bounds a
    /// link that never comes up (a broken lab).
    pub async fn wait_operational(&self, index: u32, limit: Duration) -> io::Result<()> {
        let started = Instant::now();
        let mut pause = Duration::from_millis(1);
        loop {
            let state = self.operstate(index).await?;
            if state == State::Up {
                return Ok(());
            }
            if started.elapsed() >= limit {
                return Err(io::Error::new(
                    io::ErrorKind::TimedOut,
                    format!(
                        "{}: link {index} is not operationally up after {limit:?} (state {state:?})",
                        self.ns
                    ),
                ));
            }
            tokio::time::sleep(pause).await;
            pause = (pause * 2).min(Duration::from_millis(20));
        }
    }

    /// The uplink side of a leaf namespace (pod, node or external): its
    /// addresses on `eth0` (at most one per family), and a default route of
    /// each of their families through the gateway, whose MAC is
    /// `gateway_mac`.
    pub async fn configure_uplink(&self, ips: &[IpAddr], gateway_mac: &[u8]) -> io::Result<()> {
        let eth0 = ifindex::UPLINK;
        self.lo_up().await?;
        self.up(eth0).await?;
        for &ip in ips {
            self.add_address(eth0, ip).await?;
            match ip {
                IpAddr::V4(_) => {
                    self.add_link_route(GATEWAY, eth0, None).await?;
                    self.add_neighbour(eth0, GATEWAY, gateway_mac).await?;
                    self.add_gateway_route(Ipv4Addr::UNSPECIFIED, 0, GATEWAY, eth0)
                        .await?;
                }
                IpAddr::V6(_) => {
                    // A link-local gateway is on-link by definition: no route to it.
                    self.add_neighbour(eth0, GATEWAY_V6, gateway_mac).await?;
                    self.add_gateway_route(Ipv6Addr::UNSPECIFIED, 0, GATEWAY_V6, eth0)
                        .await?;
                }
            }
        }
        Ok(())
    }
}

/// Sysctls every lab namespace gets: no reverse-path filtering inherited
/// from the host, no rate limit on ICMP errors (an enforcer that rejects
/// must be able to answer every probe at once), for routers forwarding,
/// and IPv6 either off (`ipv6` false) or on without any chatter. Set
/// before any link is made, so that every link inherits the defaults.
pub async fn base_sysctls(ns: &NetNs, router: bool, ipv6: bool) -> io::Result<()> {
    let ipv6_off = [
        ("net/ipv6/conf/all/disable_ipv6", "1"),
        ("net/ipv6/conf/default/disable_ipv6", "1"),
    ];
    // No DAD, no router advertisements or solicitations, no SLAAC, no
    // link-local addresses (the gateway is a static neighbour), no rate
    // limit on ICMPv6 errors.
    let ipv6_quiet = [
        ("net/ipv6/conf/all/accept_ra", "0"),
        ("net/ipv6/conf/default/accept_ra", "0"),
        ("net/ipv6/conf/all/autoconf", "0"),
        ("net/ipv6/conf/default/autoconf", "0"),
        ("net/ipv6/conf/all/accept_dad", "0"),
        ("net/ipv6/conf/default/accept_dad", "0"),
        ("net/ipv6/conf/all/dad_transmits", "0"),
        ("net/ipv6/conf/default/dad_transmits", "0"),
        ("net/ipv6/conf/all/router_solicitations", "0"),
        ("net/ipv6/conf/default/router_solicitations", "0"),
        ("net/ipv6/conf/default/addr_gen_mode", "1"),
        ("net/ipv6/icmp/ratelimit", "0"),
        ("net/ipv6/conf/all/disable_ipv6", "0"),
        ("net/ipv6/conf/default/disable_ipv6", "0"),
    ];
    let family: &[(&str, &str)] = if ipv6 { &ipv6_quiet } else { &ipv6_off };
    for (key, value) in family {
        ns.sysctl(key, value).await?;
    }
    let settings = [
        ("net/ipv4/conf/all/rp_filter", "0"),
        ("net/ipv4/conf/default/rp_filter", "0"),
        ("net/ipv4/icmp_ratelimit", "0"),
        ("net/ipv4/icmp_msgs_per_sec", "1000000"),
        ("net/ipv4/icmp_msgs_burst", "1000000"),
    ];
    for (key, value) in settings {
        ns.sysctl(key, value).await?;
    }
    if router {
        ns.sysctl("net/ipv4/ip_forward", "1").await?;
        if ipv6 {
            ns.sysctl("net/ipv6/conf/all/forwarding", "1").await?;
            ns.sysctl("net/ipv6/conf/default/forwarding", "1").await?;
        }
    }
    Ok(())
}
