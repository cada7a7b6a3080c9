//! SCTP over raw IP, one endpoint per host namespace: it serves (answers an
//! INIT to a served port with an INIT ACK) and probes (sends an INIT and
//! waits for the INIT ACK, or for an ICMP error that says it was rejected).
//! One raw socket sees every SCTP packet to the host, so INIT ACKs are
//! handed to the probe waiting for them by (peer, peer port, local port).

use std::collections::{HashMap, HashSet};
use std::io;
use std::net::{Ipv4Addr, SocketAddrV4};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use etherparse::{IpNumber, Ipv4HeaderSlice};
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

type WaiterKey = (Ipv4Addr, u16, u16); // (peer, peer port, local port)

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
    ip: Ipv4Addr,
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

fn raw_socket(protocol: i32, ip: Ipv4Addr) -> io::Result<Socket> {
    let s = Socket::new(Domain::IPV4, Type::RAW, Some(SockProtocol::from(protocol)))?;
    // Bound to the host's address: it is the source of what we send, and
    // only packets to it are received.
    s.bind(&SockAddr::from(SocketAddrV4::new(ip, 0)))?;
    s.set_nonblocking(true)?;
    Ok(s)
}

impl RawEndpoint {
    /// Opens the raw SCTP and ICMP sockets inside `ns` and starts serving
    /// the SCTP ports in `served`.
    pub async fn start(
        ns: &NetNs,
        ip: Ipv4Addr,
        served: impl IntoIterator<Item = u16>,
    ) -> io::Result<RawEndpoint> {
        let (sctp, icmp) = ns
            .run(move || -> io::Result<(Socket, Socket)> {
                Ok((raw_socket(IPPROTO_SCTP, ip)?, raw_socket(libc_icmp(), ip)?))
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
        tasks.spawn(receive_icmp(icmp, shared.clone()));
        Ok(RawEndpoint {
            ip,
            sctp,
            shared,
            tasks,
        })
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
    /// `dst:port` and waits up to `timeout` for the INIT ACK.
    pub async fn init(
        &self,
        dst: Ipv4Addr,
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

/// IPPROTO_ICMP.
fn libc_icmp() -> i32 {
    1
}

async fn send(socket: &UdpSocket, packet: &[u8], dst: Ipv4Addr) -> io::Result<()> {
    socket
        .send_to(packet, SocketAddrV4::new(dst, 0))
        .await
        .map(|_| ())
}

async fn receive(socket: &UdpSocket, buf: &mut [u8]) -> io::Result<usize> {
    socket.recv(buf).await
}

/// Raw IPv4 sockets receive the IP header: its source is the peer.
async fn receive_sctp(socket: Arc<UdpSocket>, shared: Arc<Mutex<Shared>>, local: Ipv4Addr) {
    let mut buf = vec![0u8; 65_536];
    loop {
        let Ok(n) = receive(&socket, &mut buf).await else {
            // Nothing is served any more.
            shared.lock().expect("raw endpoint state").served.clear();
            return;
        };
        let Ok(ip) = Ipv4HeaderSlice::from_slice(&buf[..n]) else {
            continue;
        };
        if ip.destination_addr() != local {
            continue;
        }
        let peer = ip.source_addr();
        let Some(packet) = Packet::decode(&buf[ip.slice().len()..n]) else {
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
        let key = (inner.destination_addr(), dst_port, src_port);
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
