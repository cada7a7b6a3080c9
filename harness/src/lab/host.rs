//! A host of the lab (pod, node or external host): its namespace, its
//! address, the servers of its declared ports, and the client side of a
//! probe sent from it.
//!
//! Servers: TCP accepts, UDP echoes the request, SCTP answers an INIT with
//! an INIT ACK. A probe: a TCP handshake completed, a UDP request answered,
//! an SCTP INIT answered.

use std::collections::HashSet;
use std::io;
use std::net::{Ipv4Addr, SocketAddr, SocketAddrV4};
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::{Arc, Mutex};

use std::time::Duration;

use socket2::{Domain, SockAddr, Socket, Type};
use tokio::task::JoinSet;

use super::netns::NetNs;
use super::raw::{InitOutcome, RawEndpoint};
use crate::cluster::{ContainerPort, Protocol};

/// Source ports of probes: each used once per lab and host (40 000 of them).
const CLIENT_PORTS: std::ops::Range<u16> = 20_000..60_000;

/// A running server's entry in its host's set of served ports.
struct Alive(Arc<Mutex<HashSet<(u16, Protocol)>>>, (u16, Protocol));

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

#[derive(Debug)]
pub struct Host {
    pub ns: NetNs,
    pub ip: Ipv4Addr,
    /// TCP and UDP ports whose server runs; a server that stops removes itself.
    serving: Arc<Mutex<HashSet<(u16, Protocol)>>>,
    raw: RawEndpoint,
    servers: JoinSet<()>,
    /// The next source port to hand out (see `fresh_port`).
    next_port: AtomicU32,
}

fn socket(kind: Type, ip: Ipv4Addr, port: u16) -> io::Result<Socket> {
    let s = Socket::new(Domain::IPV4, kind, None)?;
    if port != 0 {
        s.set_reuse_address(true)?;
    }
    s.bind(&SockAddr::from(SocketAddrV4::new(ip, port)))?;
    s.set_nonblocking(true)?;
    Ok(s)
}

impl Host {
    /// Starts the servers of `ports` inside `ns` (which already has `ip`).
    pub async fn start(ns: NetNs, ip: Ipv4Addr, ports: &[ContainerPort]) -> io::Result<Host> {
        let wanted: Vec<(u16, Protocol)> = ports.iter().map(|p| (p.port, p.protocol)).collect();
        let stream_ports: Vec<(u16, Protocol)> = wanted
            .iter()
            .copied()
            .filter(|(_, p)| *p != Protocol::Sctp)
            .collect();
        let sockets = ns
            .run(move || -> io::Result<Vec<(u16, Protocol, Socket)>> {
                stream_ports
                    .into_iter()
                    .map(|(port, protocol)| {
                        let kind = if protocol == Protocol::Tcp {
                            Type::STREAM
                        } else {
                            Type::DGRAM
                        };
                        let s = socket(kind, ip, port)?;
                        if protocol == Protocol::Tcp {
                            s.listen(1024)?;
                        }
                        Ok((port, protocol, s))
                    })
                    .collect()
            })
            .await??;
        let serving = Arc::new(Mutex::new(HashSet::new()));
        let mut servers = JoinSet::new();
        for (port, protocol, s) in sockets {
            serving
                .lock()
                .expect("serving set")
                .insert((port, protocol));
            // Unregisters the port when the server task ends, however it ends.
            let alive = Alive(serving.clone(), (port, protocol));
            match protocol {
                Protocol::Tcp => {
                    let listener = tokio::net::TcpListener::from_std(s.into())?;
                    servers.spawn(async move {
                        let _alive = alive;
                        // Accepting completes the handshake; the probe needs nothing more.
                        // An error (a client gone, no descriptor left) concerns one
                        // connection, not the server: keep serving.
                        loop {
                            if listener.accept().await.is_err() {
                                tokio::time::sleep(Duration::from_millis(5)).await;
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
        let sctp_ports = wanted
            .iter()
            .filter(|(_, p)| *p == Protocol::Sctp)
            .map(|(port, _)| *port);
        let raw = RawEndpoint::start(&ns, ip, sctp_ports).await?;
        Ok(Host {
            ns,
            ip,
            serving,
            raw,
            servers,
            next_port: AtomicU32::new(0),
        })
    }

    /// Whether a server answers `port`/`protocol` here, and is still running.
    pub fn serves(&self, port: u16, protocol: Protocol) -> bool {
        match protocol {
            Protocol::Sctp => self.raw.serves(port),
            _ => self
                .serving
                .lock()
                .expect("serving set")
                .contains(&(port, protocol)),
        }
    }

    /// Stops the servers and waits until their sockets are closed.
    pub async fn stop(mut self) -> NetNs {
        self.servers.shutdown().await;
        self.raw.stop().await;
        self.ns
    }

    /// One attempt of a probe from this host.
    pub async fn attempt(
        &self,
        dst: Ipv4Addr,
        port: u16,
        protocol: Protocol,
        timeout: Duration,
    ) -> Attempt {
        match protocol {
            Protocol::Tcp => self.tcp(dst, port, timeout).await,
            Protocol::Udp => self.udp(dst, port, timeout).await,
            Protocol::Sctp => match self.raw.init(dst, port, self.fresh_port(), timeout).await {
                Ok(InitOutcome::Answered) => Attempt::Allowed,
                Ok(InitOutcome::Rejected(why)) => Attempt::Denied(format!("rejected: {why}")),
                Ok(InitOutcome::TimedOut) => {
                    Attempt::Denied(format!("no INIT ACK within {timeout:?}"))
                }
                Err(e) => Attempt::Error(format!("cannot send an SCTP INIT: {e}")),
            },
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
            let served = [Protocol::Tcp, Protocol::Udp, Protocol::Sctp]
                .iter()
                .any(|&p| self.serves(port, p));
            if !served {
                return port;
            }
        }
    }

    async fn client_socket(&self, kind: Type) -> Result<Socket, Attempt> {
        let (ip, port) = (self.ip, self.fresh_port());
        match self.ns.run(move || socket(kind, ip, port)).await {
            Ok(Ok(s)) => Ok(s),
            Ok(Err(e)) | Err(e) => Err(Attempt::Error(format!(
                "cannot create a client socket in {}: {e}",
                self.ns.name()
            ))),
        }
    }

    async fn tcp(&self, dst: Ipv4Addr, port: u16, timeout: Duration) -> Attempt {
        let s = match self.client_socket(Type::STREAM).await {
            Ok(s) => s,
            Err(a) => return a,
        };
        let s = tokio::net::TcpSocket::from_std_stream(s.into());
        match tokio::time::timeout(
            timeout,
            s.connect(SocketAddr::V4(SocketAddrV4::new(dst, port))),
        )
        .await
        {
            Ok(Ok(_)) => Attempt::Allowed,
            Ok(Err(e)) => refused(&e),
            Err(_) => Attempt::Denied(format!("no handshake within {timeout:?}")),
        }
    }

    async fn udp(&self, dst: Ipv4Addr, port: u16, timeout: Duration) -> Attempt {
        let s = match self.client_socket(Type::DGRAM).await {
            Ok(s) => s,
            Err(a) => return a,
        };
        let udp = match tokio::net::UdpSocket::from_std(s.into()) {
            Ok(s) => s,
            Err(e) => return Attempt::Error(format!("client socket: {e}")),
        };
        if let Err(e) = udp.connect(SocketAddrV4::new(dst, port)).await {
            return Attempt::Error(format!("UDP connect: {e}"));
        }
        let request = format!("netpol probe {} -> {dst}:{port}", self.ip);
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
