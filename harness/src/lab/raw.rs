//! SCTP over raw IP, one endpoint per host namespace: it serves (answers an
//! INIT to a served port with an INIT ACK) and probes (sends an INIT and
//! waits for the INIT ACK, or for an ICMP error that says it was rejected).
//! One raw socket sees every SCTP packet to the host, so INIT ACKs are
//! handed to the probe waiting for them by (peer, peer port, local port).
//!
//! An endpoint serves one address: a host with an address of each family
//! has two. A raw IPv4 socket receives the IP header with the payload; a
//! raw IPv6 socket only the payload (the peer comes from `recvfrom`). SCTP's
//! CRC32c covers no pseudo-header, so packets are the same in both families.

use std::collections::{HashMap, HashSet};
use std::io;
use std::net::{IpAddr, SocketAddr};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use etherparse::{IpNumber, Ipv4HeaderSlice, Ipv6HeaderSlice};
use socket2::{Domain, Protocol as SockProtocol, SockAddr, Socket, Type};
use tokio::net::UdpSocket;
use tokio::sync::oneshot;
use tokio::task::JoinSet;

use super::netns::NetNs;
use super::sctp::{Chunk, IPPROTO_SCTP, Packet};

/// How an SCTP probe ended.
#[derive(Debug, PartialEq, Eq)]
pub enum InitOutcome {
    /// The INIT was answered by an INIT ACK.
    Answered,
    /// An ICMP error came back (the INIT was rejected on the way).
    Rejected(String),
    TimedOut,
}

type WaiterKey = (IpAddr, u16, u16); // (peer, peer port, local port)

struct Waiter {
    initiate_tag: u32,
    done: oneshot::Sender<InitOutcome>,
}

#[derive(Default)]
struct Shared {
    served: HashSet<u16>,
    waiters: HashMap<WaiterKey, Waiter>,
}

/// The SCTP endpoint of one host (pod, node or external).
pub struct RawEndpoint {
    ip: IpAddr,
    sctp: Arc<UdpSocket>,
    shared: Arc<Mutex<Shared>>,
    tasks: JoinSet<()>,
}

impl std::fmt::Debug for RawEndpoint {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RawEndpoint")
            .field("ip", &self.ip)
            .finish_non_exhaustive()
    }
}

fn raw_socket(protocol: i32, ip: IpAddr) -> io::Result<Socket> {
    let s = Socket::new(
        Domain::for_address(SocketAddr::new(ip, 0)),
        Type::RAW,
        Some(SockProtocol::from(protocol)),
    )?;
    // Bound to the host's address: it is the source of what we send, and
    // only packets to it are received.
    s.bind(&SockAddr::from(SocketAddr::new(ip, 0)))?;
    s.set_nonblocking(true)?;
    Ok(s)
}

impl RawEndpoint {
    /// Opens the raw SCTP and ICMP (ICMPv6 for an IPv6 `ip`) sockets of
    /// `ip` inside `ns` and starts serving the SCTP ports in `served`.
    pub async fn start(
        ns: &NetNs,
        ip: IpAddr,
        served: impl IntoIterator<Item = u16>,
    ) -> io::Result<RawEndpoint> {
        let icmp_protocol = if ip.is_ipv4() {
            IPPROTO_ICMP
        } else {
            IPPROTO_ICMPV6
        };
        let (sctp, icmp) = ns
            .run(move || -> io::Result<(Socket, Socket)> {
                Ok((
                    raw_socket(IPPROTO_SCTP, ip)?,
                    raw_socket(icmp_protocol, ip)?,
                ))
            })
            .await??;
        // Raw sockets driven through tokio's datagram socket type: recvfrom and
        // sendto are the same system calls, and registration needs no unsafe code.
        let sctp = Arc::new(UdpSocket::from_std(sctp.into())?);
        let icmp = UdpSocket::from_std(icmp.into())?;
        let shared = Arc::new(Mutex::new(Shared {
            served: served.into_iter().collect(),
            ..Shared::default()
        }));
        let mut tasks = JoinSet::new();
        tasks.spawn(receive_sctp(sctp.clone(), shared.clone(), ip));
        match ip {
            IpAddr::V4(_) => tasks.spawn(receive_icmp(icmp, shared.clone())),
            IpAddr::V6(_) => tasks.spawn(receive_icmpv6(icmp, shared.clone())),
        };
        Ok(RawEndpoint {
            ip,
            sctp,
            shared,
            tasks,
        })
    }

    /// The address this endpoint sends from and receives on.
    pub fn ip(&self) -> IpAddr {
        self.ip
    }

    /// Stops receiving and closes the sockets.
    pub async fn stop(mut self) {
        self.tasks.shutdown().await;
    }

    /// Whether this host answers INITs to `port` (the receiver still runs).
    pub fn serves(&self, port: u16) -> bool {
        self.shared
            .lock()
            .expect("raw endpoint state")
            .served
            .contains(&port)
    }

    /// Sends an INIT from `local_port` (never used before in this lab) to
    /// `dst:port` (of this endpoint's family) and waits up to `timeout` for
    /// the INIT ACK.
    pub async fn init(
        &self,
        dst: IpAddr,
        port: u16,
        local_port: u16,
        timeout: Duration,
    ) -> io::Result<InitOutcome> {
        let (tx, rx) = oneshot::channel();
        let initiate_tag = {
            let mut shared = self.shared.lock().expect("raw endpoint state");
            let tag = loop {
                let t = random_u32();
                if t != 0 {
                    break t;
                }
            };

            shared.waiters.insert(
                (dst, port, local_port),
                Waiter {
                    initiate_tag: tag,
                    done: tx,
                },
            );
            tag
        };
        let packet = Packet::init(local_port, port, initiate_tag).encode();
        let sent = send(&self.sctp, &packet, dst).await;
        let outcome = match sent {
            Err(e) => Err(e),
            Ok(()) => Ok(match tokio::time::timeout(timeout, rx).await {
                Ok(Ok(outcome)) => outcome,
                Ok(Err(_)) => InitOutcome::TimedOut,
                Err(_) => InitOutcome::TimedOut,
            }),
        };
        self.shared
            .lock()
            .expect("raw endpoint state")
            .waiters
            .remove(&(dst, port, local_port));
        outcome
    }
}

const IPPROTO_ICMP: i32 = 1;
const IPPROTO_ICMPV6: i32 = 58;

async fn send(socket: &UdpSocket, packet: &[u8], dst: IpAddr) -> io::Result<()> {
    // Port 0: a raw socket's "port" is its protocol, and 0 means its own.
    socket
        .send_to(packet, SocketAddr::new(dst, 0))
        .await
        .map(|_| ())
}

async fn receive(socket: &UdpSocket, buf: &mut [u8]) -> io::Result<usize> {
    socket.recv(buf).await
}

/// The peer and the SCTP packet of what a raw socket of `local`'s family
/// received: raw IPv4 sockets receive the IP header (its source is the
/// peer), raw IPv6 sockets only the payload.
fn sctp_payload(local: IpAddr, buf: &[u8], from: SocketAddr) -> Option<(IpAddr, &[u8])> {
    match local {
        IpAddr::V4(local) => {
            let ip = Ipv4HeaderSlice::from_slice(buf).ok()?;
            (ip.destination_addr() == local)
                .then(|| (IpAddr::V4(ip.source_addr()), &buf[ip.slice().len()..]))
        }
        IpAddr::V6(_) => Some((from.ip(), buf)),
    }
}

async fn receive_sctp(socket: Arc<UdpSocket>, shared: Arc<Mutex<Shared>>, local: IpAddr) {
    let mut buf = vec![0u8; 65_536];
    loop {
        let Ok((n, from)) = socket.recv_from(&mut buf).await else {
            // Nothing is served any more.
            shared.lock().expect("raw endpoint state").served.clear();
            return;
        };
        let Some((peer, payload)) = sctp_payload(local, &buf[..n], from) else {
            continue;
        };
        let Some(packet) = Packet::decode(payload) else {
            continue;
        };
        match packet.chunk {
            Chunk::Init { .. } => {
                let serves = shared
                    .lock()
                    .expect("raw endpoint state")
                    .served
                    .contains(&packet.dst_port);
                if let Some(ack) = Packet::init_ack(&packet, random_u32() | 1).filter(|_| serves) {
                    let _ = send(&socket, &ack.encode(), peer).await;
                }
            }
            Chunk::InitAck { .. } => {
                let key = (peer, packet.src_port, packet.dst_port);
                let mut shared = shared.lock().expect("raw endpoint state");
                // Only an INIT ACK carrying our initiate tag answers our INIT.
                if shared
                    .waiters
                    .get(&key)
                    .is_some_and(|w| w.initiate_tag == packet.verification_tag)
                {
                    let w = shared.waiters.remove(&key).expect("checked above");
                    let _ = w.done.send(InitOutcome::Answered);
                }
            }
        }
    }
}

/// ICMP destination-unreachable errors about our SCTP INITs: an enforcer
/// that rejects (rather than drops) answers this way.
async fn receive_icmp(socket: UdpSocket, shared: Arc<Mutex<Shared>>) {
    let mut buf = vec![0u8; 65_536];
    loop {
        let Ok(n) = receive(&socket, &mut buf).await else {
            return;
        };
        let Ok(outer) = Ipv4HeaderSlice::from_slice(&buf[..n]) else {
            continue;
        };
        let icmp = &buf[outer.slice().len()..n];
        // Type 3: destination unreachable; then 4 unused bytes and the quoted datagram.
        if icmp.len() < 8 || icmp[0] != 3 {
            continue;
        }
        let quoted = &icmp[8..];
        let Ok(inner) = Ipv4HeaderSlice::from_slice(quoted) else {
            continue;
        };
        if inner.protocol() != IpNumber::SCTP {
            continue;
        }
        let Some((src_port, dst_port, _)) = Packet::quoted(&quoted[inner.slice().len()..]) else {
            continue;
        };
        let key = (IpAddr::V4(inner.destination_addr()), dst_port, src_port);
        if let Some(w) = shared
            .lock()
            .expect("raw endpoint state")
            .waiters
            .remove(&key)
        {
            let _ = w.done.send(InitOutcome::Rejected(format!(
                "ICMP destination unreachable, code {}",
                icmp[1]
            )));
        }
    }
}

/// ICMPv6 destination-unreachable errors about our SCTP INITs (an
/// ip6tables REJECT sends port unreachable or administratively
/// prohibited). A raw ICMPv6 socket receives the ICMPv6 message without
/// the IPv6 header.
async fn receive_icmpv6(socket: UdpSocket, shared: Arc<Mutex<Shared>>) {
    let mut buf = vec![0u8; 65_536];
    loop {
        let Ok(n) = receive(&socket, &mut buf).await else {
            return;
        };
        let Some((key, code)) = icmpv6_about_sctp(&buf[..n]) else {
            continue;
        };
        if let Some(w) = shared
            .lock()
            .expect("raw endpoint state")
            .waiters
            .remove(&key)
        {
            let _ = w.done.send(InitOutcome::Rejected(format!(
                "ICMPv6 destination unreachable, code {code}"
            )));
        }
    }
}

/// The waiter an ICMPv6 destination unreachable is about (the INIT it
/// quotes), and its code.
fn icmpv6_about_sctp(icmp: &[u8]) -> Option<(WaiterKey, u8)> {
    // Type 1: destination unreachable; then 4 unused bytes and the quoted packet.
    if icmp.len() < 8 || icmp[0] != 1 {
        return None;
    }
    let quoted = &icmp[8..];
    let inner = Ipv6HeaderSlice::from_slice(quoted).ok()?;
    // Our INITs carry no extension headers.
    if inner.next_header() != IpNumber::SCTP {
        return None;
    }
    let (src_port, dst_port, _) = Packet::quoted(&quoted[inner.slice().len()..])?;
    Some((
        (IpAddr::V6(inner.destination_addr()), dst_port, src_port),
        icmp[1],
    ))
}

/// Tags and ports need to be unpredictable only to our own concurrent probes.
fn random_u32() -> u32 {
    use std::hash::{BuildHasher, Hasher};
    let mut h = std::collections::hash_map::RandomState::new().build_hasher();
    h.write_u128(
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_nanos()),
    );
    // Any 32 bits of the hash will do: keep the low ones.
    u32::try_from(h.finish() & u64::from(u32::MAX)).expect("masked to 32 bits")
}
