//! A host of the lab (pod, node or external host): its namespace, its
//! addresses (at most one per family), the servers of its declared ports
//! on each of them, and the client side of a probe sent from it.
//!
//! Servers: TCP accepts, UDP echoes the request, SCTP answers an INIT with
//! an INIT ACK. A probe: a TCP handshake completed, a UDP request answered,
//! an SCTP INIT answered.

use std::collections::HashSet;
use std::io;
use std::net::{IpAddr, SocketAddr};
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::{Arc, Mutex};

use std::time::Duration;

use socket2::{Domain, SockAddr, Socket, Type};
use tokio::task::JoinSet;

use super::netns::NetNs;
use super::raw::{InitOutcome, RawEndpoint};
use crate::cluster::{Addresses, ContainerPort, IpFamily, Protocol};

/// Source ports of probes: each used once per lab and host (40 000 of them).
const CLIENT_PORTS: std::ops::Range<u16> = 20_000..60_000;

/// A TCP or UDP server: its port, protocol and the family of its address.
type Served = (u16, Protocol, IpFamily);

/// A running server's entry in its host's set of served ports.
struct Alive(Arc<Mutex<HashSet<Served>>>, Served);

impl Drop for Alive {
    fn drop(&mut self) {
        if let Ok(mut set) = self.0.lock() {
            set.remove(&self.1);
        }
    }
}

/// What one attempt of a probe observed.

#[derive(Debug, PartialEq, Eq)]
pub enum Attempt {
    Allowed,
    /// Denied: no answer in time, or rejected (`reason` says which).
    Denied(String),
    /// The attempt could not be made: a failure of the lab, not a verdict.
    Error(String),
}

impl Attempt {
    /// The verdict it observed, or why it could not be made.
    pub fn observation(self) -> crate::judge::Observation {
        match self {
            Attempt::Allowed => Ok(crate::expect::Verdict::Allowed),
            Attempt::Denied(_) => Ok(crate::expect::Verdict::Denied),
            Attempt::Error(e) => Err(e),
        }
    }
}

#[derive(Debug)]
pub struct Host {
    pub ns: NetNs,
    pub ips: Addresses,
    /// TCP and UDP servers that run; a server that stops removes itself.
    serving: Arc<Mutex<HashSet<Served>>>,
    /// The SCTP endpoint of each address, IPv4 first.
    raw: Vec<RawEndpoint>,
    servers: JoinSet<()>,
    /// The next source port to hand out (see `fresh_port`).
    next_port: AtomicU32,
}

fn family(ip: IpAddr) -> IpFamily {
    match ip {
        IpAddr::V4(_) => IpFamily::IPv4,
        IpAddr::V6(_) => IpFamily::IPv6,
    }
}

fn socket(kind: Type, ip: IpAddr, port: u16) -> io::Result<Socket> {
    let addr = SocketAddr::new(ip, port);
    let s = Socket::new(Domain::for_address(addr), kind, None)?;
    if ip.is_ipv6() {
        // Each family has its own socket: never IPv4-mapped addresses.
        s.set_only_v6(true)?;
    }
    if port != 0 {
        s.set_reuse_address(true)?;
    }
    s.bind(&SockAddr::from(addr))?;
    s.set_nonblocking(true)?;
    Ok(s)
}

impl Host {
    /// Starts the servers of `ports` on each of `ips` inside `ns` (which
    /// already has them).
    pub async fn start(ns: NetNs, ips: Addresses, ports: &[ContainerPort]) -> io::Result<Host> {
        let wanted: Vec<(u16, Protocol)> = ports.iter().map(|p| (p.port, p.protocol)).collect();
        let addresses: Vec<IpAddr> = ips.all().collect();
        let stream_servers: Vec<(u16, Protocol, IpAddr)> = addresses
            .iter()
            .flat_map(|&ip| {
                wanted
                    .iter()
                    .filter(|(_, p)| *p != Protocol::Sctp)
                    .map(move |&(port, protocol)| (port, protocol, ip))
            })
            .collect();
        let sockets = ns
            .run(move || -> io::Result<Vec<(Served, Socket)>> {
                stream_servers
                    .into_iter()
                    .map(|(port, protocol, ip)| {
                        let kind = if protocol == Protocol::Tcp {
                            Type::STREAM
                        } else {
                            Type::DGRAM
                        };
                        let s = socket(kind, ip, port)?;
                        if protocol == Protocol::Tcp {
                            s.listen(1024)?;
                        }
                        Ok(((port, protocol, family(ip)), s))
                    })
                    .collect()
            })
            .await??;
        let serving = Arc::new(Mutex::new(HashSet::new()));
        let mut servers = JoinSet::new();
        for (served, s) in sockets {
            serving.lock().expect("serving set").insert(served);
            let protocol = served.1;
            // Unregisters the server when its task ends, however it ends.
            let alive = Alive(serving.clone(), served);
            match protocol {
                Protocol::Tcp => {
                    let listener = tokio::net::TcpListener::from_std(s.into())?;
                    servers.spawn(async move {
                        let _alive = alive;
                        // Accepting completes the handshake, which is all a
                        // probe needs; what a client sends is echoed (an
                        // established connection's test). The connections
                        // end with the server.
                        let mut connections = JoinSet::new();
                        loop {
                            tokio::select! {
                                accepted = listener.accept() => match accepted {
                                    Ok((stream, _)) => {
                                        connections.spawn(echo(stream));
                                    }
                                    // A client gone, no descriptor left: one
                                    // connection's trouble, not the server's.
                                    Err(_) => tokio::time::sleep(Duration::from_millis(5)).await,
                                },
                                Some(_) = connections.join_next(), if !connections.is_empty() => {}
                            }
                        }
                    });
                }
                _ => {
                    let udp = tokio::net::UdpSocket::from_std(s.into())?;
                    servers.spawn(async move {
                        let _alive = alive;
                        let mut buf = [0u8; 512];
                        loop {
                            match udp.recv_from(&mut buf).await {
                                Ok((n, from)) => {
                                    let _ = udp.send_to(&buf[..n], from).await;
                                }
                                // An ICMP error about an earlier answer: keep serving.
                                Err(_) => tokio::time::sleep(Duration::from_millis(5)).await,
                            }
                        }
                    });
                }
            }
        }
        let sctp_ports: Vec<u16> = wanted
            .iter()
            .filter(|(_, p)| *p == Protocol::Sctp)
            .map(|(port, _)| *port)
            .collect();
        let mut raw = Vec::with_capacity(addresses.len());
        for ip in addresses {
            raw.push(RawEndpoint::start(&ns, ip, sctp_ports.iter().copied()).await?);
        }
        Ok(Host {
            ns,
            ips,
            serving,
            raw,
            servers,
            next_port: AtomicU32::new(0),
        })
    }

    /// The SCTP endpoint of this host's address of `family`.
    fn raw(&self, family: IpFamily) -> Option<&RawEndpoint> {
        self.raw.iter().find(|r| self::family(r.ip()) == family)
    }

    /// Whether a server answers `port`/`protocol` on this host's address of
    /// `family`, and is still running.
    pub fn serves(&self, port: u16, protocol: Protocol, family: IpFamily) -> bool {
        match protocol {
            Protocol::Sctp => self.raw(family).is_some_and(|r| r.serves(port)),
            _ => self
                .serving
                .lock()
                .expect("serving set")
                .contains(&(port, protocol, family)),
        }
    }

    /// Stops the servers and waits until their sockets are closed.
    pub async fn stop(mut self) -> NetNs {
        self.servers.shutdown().await;
        for raw in self.raw {
            raw.stop().await;
        }
        self.ns
    }

    /// One attempt of a probe from this host to `dst`, from this host's
    /// address of `dst`'s family (none: an error of the caller, not a
    /// verdict).
    pub async fn attempt(
        &self,
        dst: IpAddr,
        port: u16,
        protocol: Protocol,
        timeout: Duration,
    ) -> Attempt {
        let Some(src) = self.ips.of(family(dst)) else {
            return Attempt::Error(format!(
                "{} has no {} address to probe {dst} from",
                self.ns.name(),
                family(dst)
            ));
        };
        match protocol {
            Protocol::Tcp => self.tcp(src, dst, port, timeout).await,
            Protocol::Udp => self.udp(src, dst, port, timeout).await,
            Protocol::Sctp => self.sctp(dst, port, timeout).await,
        }
    }

    async fn sctp(&self, dst: IpAddr, port: u16, timeout: Duration) -> Attempt {
        let Some(raw) = self.raw(family(dst)) else {
            return Attempt::Error(format!(
                "{} has no {} SCTP endpoint",
                self.ns.name(),
                family(dst)
            ));
        };
        match raw.init(dst, port, self.fresh_port(), timeout).await {
            Ok(InitOutcome::Answered) => Attempt::Allowed,
            Ok(InitOutcome::Rejected(why)) => Attempt::Denied(format!("rejected: {why}")),
            Ok(InitOutcome::TimedOut) => Attempt::Denied(format!("no INIT ACK within {timeout:?}")),
            Err(e) => Attempt::Error(format!("cannot send an SCTP INIT: {e}")),
        }
    }

    /// A source port this host has not used yet in this lab. A probe never
    /// reuses the 5-tuple of an earlier one, so it cannot ride on a
    /// connection that conntrack still remembers from an earlier round (a
    /// UDP "connection" from when the policy allowed it, say).
    fn fresh_port(&self) -> u16 {
        loop {
            let n = self.next_port.fetch_add(1, Ordering::Relaxed);
            let span = CLIENT_PORTS.end - CLIENT_PORTS.start;
            let offset = u16::try_from(n % u32::from(span)).expect("below span, a u16");
            let port = CLIENT_PORTS.start + offset;
            let served = Protocol::ALL
                .iter()
                .any(|&p| IpFamily::ALL.iter().any(|&f| self.serves(port, p, f)));
            if !served {
                return port;
            }
        }
    }

    async fn client_socket(&self, kind: Type, ip: IpAddr) -> Result<Socket, Attempt> {
        let port = self.fresh_port();
        match self.ns.run(move || socket(kind, ip, port)).await {
            Ok(Ok(s)) => Ok(s),
            Ok(Err(e)) | Err(e) => Err(Attempt::Error(format!(
                "cannot create a client socket in {}: {e}",
                self.ns.name()
            ))),
        }
    }

    /// A TCP connection from this host to `dst`, established (or why not).
    pub async fn establish(
        &self,
        dst: IpAddr,
        port: u16,
        timeout: Duration,
    ) -> Result<Established, String> {
        let src = self
            .ips
            .of(family(dst))
            .ok_or_else(|| format!("{} has no {} address", self.ns.name(), family(dst)))?;
        let s = self
            .client_socket(Type::STREAM, src)
            .await
            .map_err(|a| format!("{a:?}"))?;
        let s = tokio::net::TcpSocket::from_std_stream(s.into());
        match tokio::time::timeout(timeout, s.connect(SocketAddr::new(dst, port))).await {
            Ok(Ok(stream)) => Ok(Established(stream)),
            Ok(Err(e)) => Err(e.to_string()),
            Err(_) => Err(format!("no handshake within {timeout:?}")),
        }
    }

    async fn tcp(&self, src: IpAddr, dst: IpAddr, port: u16, timeout: Duration) -> Attempt {
        let s = match self.client_socket(Type::STREAM, src).await {
            Ok(s) => s,
            Err(a) => return a,
        };
        let s = tokio::net::TcpSocket::from_std_stream(s.into());
        match tokio::time::timeout(timeout, s.connect(SocketAddr::new(dst, port))).await {
            Ok(Ok(_)) => Attempt::Allowed,
            Ok(Err(e)) => refused(&e),
            Err(_) => Attempt::Denied(format!("no handshake within {timeout:?}")),
        }
    }

    async fn udp(&self, src: IpAddr, dst: IpAddr, port: u16, timeout: Duration) -> Attempt {
        let s = match self.client_socket(Type::DGRAM, src).await {
            Ok(s) => s,
            Err(a) => return a,
        };
        let udp = match tokio::net::UdpSocket::from_std(s.into()) {
            Ok(s) => s,
            Err(e) => return Attempt::Error(format!("client socket: {e}")),
        };
        if let Err(e) = udp.connect(SocketAddr::new(dst, port)).await {
            return Attempt::Error(format!("UDP connect: {e}"));
        }
        let request = format!("netpol probe {src} -> {}", SocketAddr::new(dst, port));
        if let Err(e) = udp.send(request.as_bytes()).await {
            return refused(&e);
        }
        let mut buf = [0u8; 512];
        match tokio::time::timeout(timeout, udp.recv(&mut buf)).await {
            Ok(Ok(n)) if &buf[..n] == request.as_bytes() => Attempt::Allowed,
            Ok(Ok(_)) => {
                Attempt::Error("UDP: an answer that is not the echo of the request".into())
            }
            Ok(Err(e)) => refused(&e),
            Err(_) => Attempt::Denied(format!("no UDP answer within {timeout:?}")),
        }
    }
}

/// Echoes what a TCP client sends until it closes.
async fn echo(mut stream: tokio::net::TcpStream) {
    let (mut r, mut w) = stream.split();
    let _ = tokio::io::copy(&mut r, &mut w).await;
}

/// A TCP connection kept open across a change (see [`Host::establish`]).
#[derive(Debug)]
pub struct Established(tokio::net::TcpStream);

impl Established {
    /// Whether data still crosses the connection: a few bytes sent come
    /// back within `timeout`.
    pub async fn still_carries(mut self, timeout: Duration) -> bool {
        use tokio::io::{AsyncReadExt, AsyncWriteExt};
        let sent = b"netpol established";
        let exchange = async {
            self.0.write_all(sent).await?;
            let mut back = [0u8; 18];
            self.0.read_exact(&mut back).await?;
            Ok::<bool, io::Error>(&back == sent)
        };
        matches!(tokio::time::timeout(timeout, exchange).await, Ok(Ok(true)))
    }
}

/// Errors that mean something on the path refused the probe: a TCP reset
/// or an ICMP unreachable. Anything else is a failure of the lab.
fn refused(e: &io::Error) -> Attempt {
    match e.kind() {
        io::ErrorKind::ConnectionRefused
        | io::ErrorKind::ConnectionReset
        | io::ErrorKind::HostUnreachable
        | io::ErrorKind::NetworkUnreachable => Attempt::Denied(format!("rejected: {e}")),
        io::ErrorKind::PermissionDenied => Attempt::Denied(format!("rejected locally: {e}")),
        _ => Attempt::Error(format!("{e}")),
    }
}
