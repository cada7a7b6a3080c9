//! The lab: a scenario's cluster built out of Linux network namespaces, and
//! the probe engine that sends real TCP, UDP and SCTP traffic through it.
//! See `docs/lab.md` for the topology and where an enforcer filters.
//!
//! Nothing in the host's own network namespace changes: every namespace is
//! created by the lab, held by a file descriptor, and wired only to other
//! lab namespaces. Dropping the lab (or the process dying) removes it all.

mod descriptors;
mod host;
pub mod keep;
pub mod netns;
pub mod pidns;
mod raw;
pub mod sctp;
pub mod topology;

use std::io;
use std::net::IpAddr;
use std::time::{Duration, Instant};

use futures::future::{join_all, try_join_all};

pub use host::{Attempt, Established, Host};
pub use netns::NetNs;
pub use pidns::PidNs;

use crate::cluster::{Cluster, Endpoint, IpFamily};
use crate::judge::Observation;
use crate::probe::Probe;
use topology::{Netlink, base_sysctls, ifindex, mac, role};

/// Probe timing.
#[derive(Clone, Copy, Debug)]
pub struct ProbeOptions {
    /// How long an exchange may take before the probe is counted as denied
    /// in the first wave.
    pub timeout: Duration,
    /// Denied probes are tried once more with this longer timeout, so that a
    /// loaded machine does not produce false denials.
    pub retry_timeout: Duration,
}

impl Default for ProbeOptions {
    fn default() -> Self {
        ProbeOptions {
            timeout: Duration::from_millis(250),
            retry_timeout: Duration::from_millis(1000),
        }
    }
}

/// How long a veth end may take to become operationally up before the lab
/// counts as broken. Not a probe timeout: a healthy link is up at once on
/// kernels 6.8 and later, and within link watch's delay on older ones.
const LINK_UP_LIMIT: Duration = Duration::from_secs(10);

#[derive(Debug, thiserror::Error)]
#[error("lab: {0}")]
pub struct LabError(#[from] pub io::Error);

/// Where the time of building the lab went.
#[derive(Clone, Copy, Debug, Default)]
pub struct BuildTimings {
    pub namespaces: Duration,
    pub links: Duration,
    pub servers: Duration,
}

/// A cluster as namespaces: a fabric router, a namespace per node, pod and
/// external host; and a PID namespace for the processes of plugins.
#[derive(Debug)]
pub struct Lab {
    /// First, so that a dropped lab kills them before freeing the rest.
    pids: PidNs,
    fabric: NetNs,
    nodes: Vec<Host>,
    pods: Vec<Host>,
    externals: Vec<Host>,
    pub timings: BuildTimings,
}

impl Lab {
    /// Builds the lab of `cluster`. `label` names the namespaces (for
    /// messages and `--keep`).
    pub async fn build(cluster: &Cluster, label: &str) -> Result<Lab, LabError> {
        if let Some(signal) = crate::stop::requested() {
            return Err(LabError(io::Error::new(
                io::ErrorKind::Interrupted,
                format!("the run was stopped ({signal}): no new lab"),
            )));
        }
        descriptors::raise_limit();
        let started = Instant::now();
        let pids_name = format!("{label}-plugins");
        let pids = tokio::task::spawn_blocking(move || PidNs::create(&pids_name));
        let ns_name = |kind: &str, name: &str| format!("{label}-{kind}-{name}").replace('/', "-");
        // Namespaces are created by threads of their own, all at once.
        let mut names = vec![ns_name("fabric", "0")];
        names.extend(cluster.nodes.iter().map(|n| ns_name("node", &n.name)));
        names.extend(cluster.pods.iter().map(|p| ns_name("pod", &p.key())));
        names.extend(cluster.externals.iter().map(|e| ns_name("ext", &e.name)));
        let created = join_all(
            names
                .into_iter()
                .map(|n| tokio::task::spawn_blocking(move || NetNs::create(&n))),
        )
        .await;
        let mut all = created
            .into_iter()
            .map(|r| r.map_err(io::Error::other).and_then(|r| r))
            .collect::<io::Result<Vec<NetNs>>>()?;
        let externals_ns = all.split_off(1 + cluster.nodes.len() + cluster.pods.len());
        let pods_ns = all.split_off(1 + cluster.nodes.len());
        let nodes_ns = all.split_off(1);
        let fabric = all.pop().expect("the fabric namespace");
        let pids = pids.await.map_err(io::Error::other)??;
        let namespaces = started.elapsed();

        let t = Instant::now();
        wire(cluster, &fabric, &nodes_ns, &pods_ns, &externals_ns).await?;
        let links = t.elapsed();

        let t = Instant::now();
        // The hosts of one kind (`Endpoint::Node`, ...), in cluster order.
        let start = |namespaces: Vec<NetNs>, kind: fn(usize) -> Endpoint| {
            try_join_all(namespaces.into_iter().enumerate().map(move |(i, ns)| {
                let e = kind(i);
                Host::start(ns, cluster.endpoint_ips(e), cluster.endpoint_ports(e))
            }))
        };
        let nodes = start(nodes_ns, Endpoint::Node).await?;
        let pods = start(pods_ns, Endpoint::Pod).await?;
        let externals = start(externals_ns, Endpoint::External).await?;

        let servers = t.elapsed();

        Ok(Lab {
            pids,
            fabric,
            nodes,
            pods,
            externals,
            timings: BuildTimings {
                namespaces,
                links,
                servers,
            },
        })
    }

    pub fn host(&self, e: Endpoint) -> &Host {
        match e {
            Endpoint::Pod(i) => &self.pods[i],
            Endpoint::External(i) => &self.externals[i],
            Endpoint::Node(i) => &self.nodes[i],
        }
    }

    /// The PID namespace plugin calls about this lab run in.
    pub fn pids(&self) -> &PidNs {
        &self.pids
    }

    /// Every network namespace of the lab, fabric first.
    pub fn namespaces(&self) -> impl Iterator<Item = &NetNs> {
        std::iter::once(&self.fabric).chain(
            self.nodes
                .iter()
                .chain(&self.pods)
                .chain(&self.externals)
                .map(|h| &h.ns),
        )
    }

    /// Carries out `probes`, all at once. Probes observed denied are tried
    /// once more, all at once, with the longer timeout. A probe the lab
    /// cannot carry out (no server, no socket) is an error, never a deny.
    pub async fn probe(&self, probes: &[Probe], options: &ProbeOptions) -> Vec<Observation> {
        let mut attempts = join_all(probes.iter().map(|p| self.attempt(p, options.timeout))).await;
        let retry: Vec<usize> = (0..probes.len())
            .filter(|&i| matches!(attempts[i], Attempt::Denied(_)))
            .collect();
        let second = join_all(
            retry
                .iter()
                .map(|&i| self.attempt(&probes[i], options.retry_timeout)),
        )
        .await;
        for (i, a) in retry.into_iter().zip(second) {
            attempts[i] = a;
        }
        attempts.into_iter().map(Attempt::observation).collect()
    }

    /// Carries out `probes` once each, all at once, with `timeout` and no
    /// second try: a poll for convergence, which the judged probes confirm.
    pub async fn probe_once(&self, probes: &[Probe], timeout: Duration) -> Vec<Observation> {
        join_all(probes.iter().map(|p| self.attempt(p, timeout)))
            .await
            .into_iter()
            .map(Attempt::observation)
            .collect()
    }

    /// One attempt of `p` for the transition watch: when it was sent (after
    /// `since`; a probe waiting for a descriptor is not sent yet) and what it saw.
    pub async fn watch_attempt(
        &self,
        p: &Probe,
        timeout: Duration,
        since: Instant,
    ) -> (Duration, Observation) {
        let mut sent = since.elapsed();
        let attempt = self
            .attempt_with(p, timeout, || sent = since.elapsed())
            .await;
        (sent, attempt.observation())
    }

    /// A TCP connection for `p` (a TCP probe), established now and kept
    /// open (see [`host::Established`]).
    pub async fn establish(&self, p: &Probe, timeout: Duration) -> Result<Established, String> {
        let dst = self
            .host(p.to)
            .ips
            .of(p.family)
            .ok_or_else(|| format!("no {} address to connect to", p.family))?;
        let _permit = descriptors::probe_permit().await;
        self.host(p.from).establish(dst, p.port, timeout).await
    }

    async fn attempt(&self, p: &Probe, timeout: Duration) -> Attempt {
        self.attempt_with(p, timeout, || {}).await
    }

    /// One attempt; `sending` is called just before the probe is sent.
    async fn attempt_with(&self, p: &Probe, timeout: Duration, sending: impl FnOnce()) -> Attempt {
        let (src, dst) = (self.host(p.from), self.host(p.to));
        // Probes are made only in a family both ends have an address of:
        // one that is not is a bug of its maker, never a deny.
        let (Some(_), Some(dst_ip)) = (src.ips.of(p.family), dst.ips.of(p.family)) else {
            return Attempt::Error(format!(
                "{} -> {}: not both have an {} address",
                src.ns.name(),
                dst.ns.name(),
                p.family
            ));
        };
        if !dst.serves(p.port, p.protocol, p.family) {
            return Attempt::Error(format!(
                "{} serves nothing on {}/{} over {}",
                dst.ns.name(),
                p.port,
                p.protocol,
                p.family
            ));
        }
        // Every attempt holds a socket: stay within the process's descriptors.
        let _permit = descriptors::probe_permit().await;
        sending();
        src.attempt(dst_ip, p.port, p.protocol, timeout).await
    }

    /// Kills every process in the lab's PID namespace (so that none keeps a
    /// namespace of the lab alive), stops every server, then frees every
    /// namespace.
    pub async fn teardown(self) -> Duration {
        let t = Instant::now();
        self.pids.end().await;
        let hosts = self
            .nodes
            .into_iter()
            .chain(self.pods)
            .chain(self.externals);
        let namespaces: Vec<NetNs> = join_all(hosts.map(Host::stop)).await;
        drop(namespaces);
        drop(self.fabric);
        t.elapsed()
    }
}

/// Creates the links, addresses, routes and neighbours of the lab, in each
/// family a namespace has addresses of (IPv6 is off everywhere else).
async fn wire(
    cluster: &Cluster,
    fabric: &NetNs,
    nodes: &[NetNs],
    pods: &[NetNs],
    externals: &[NetNs],
) -> io::Result<()> {
    let cluster_v6 = cluster.has_family(IpFamily::IPv6);
    let ext_v6: Vec<bool> = cluster
        .externals
        .iter()
        .map(|e| e.ips.v6.is_some())
        .collect();
    let fabric_v6 = cluster_v6 || ext_v6.contains(&true);
    // (namespace, forwards, has IPv6)
    let settings = std::iter::once((fabric, true, fabric_v6))
        .chain(nodes.iter().map(|ns| (ns, true, cluster_v6)))
        .chain(pods.iter().map(|ns| (ns, false, cluster_v6)))
        .chain(
            externals
                .iter()
                .zip(ext_v6.iter().copied())
                .map(|(ns, v6)| (ns, false, v6)),
        );
    try_join_all(settings.map(|(ns, router, v6)| base_sysctls(ns, router, v6))).await?;
    let fabric_nl = Netlink::open(fabric).await?;
    let node_nl = try_join_all(nodes.iter().map(Netlink::open)).await?;
    let pod_nl = try_join_all(pods.iter().map(Netlink::open)).await?;
    let ext_nl = try_join_all(externals.iter().map(Netlink::open)).await?;
    fabric_nl.lo_up().await?;

    // Links first: fabric <-> nodes, fabric <-> externals, node <-> its pods.
    for (i, ns) in nodes.iter().enumerate() {
        fabric_nl
            .add_leaf_veth(
                &format!("node{i}"),
                ifindex::fabric_node(i),
                mac(role::FABRIC_NODE, i),
                ns,
                mac(role::NODE_ETH0, i),
            )
            .await?;
    }
    for (k, ns) in externals.iter().enumerate() {
        let name = format!("ext{k}");
        fabric_nl
            .add_leaf_veth(
                &name,
                ifindex::fabric_external(k),
                mac(role::FABRIC_EXTERNAL, k),
                ns,
                mac(role::EXTERNAL_ETH0, k),
            )
            .await?;
        if fabric_v6 && !ext_v6[k] {
            // IPv6 only on links that carry it.
            fabric
                .sysctl(&format!("net/ipv6/conf/{name}/disable_ipv6"), "1")
                .await?;
        }
    }
    for (j, (pod, ns)) in cluster.pods.iter().zip(pods).enumerate() {
        node_nl[pod.node]
            .add_leaf_veth(
                &topology::pod_veth_name(j),
                ifindex::pod_veth(j),
                mac(role::NODE_POD_VETH, j),
                ns,
                mac(role::POD_ETH0, j),
            )
            .await?;
    }
    // Then every leaf's addresses and default routes, in parallel (a
    // node's address must exist before its pod routes can use it as source).
    let uplinks = cluster
        .nodes
        .iter()
        .enumerate()
        .map(|(i, n)| (&node_nl[i], n.ips, mac(role::FABRIC_NODE, i)))
        .chain(
            cluster
                .pods
                .iter()
                .enumerate()
                .map(|(j, p)| (&pod_nl[j], p.ips, mac(role::NODE_POD_VETH, j))),
        )
        .chain(
            cluster
                .externals
                .iter()
                .enumerate()
                .map(|(k, e)| (&ext_nl[k], e.ips, mac(role::FABRIC_EXTERNAL, k))),
        );
    try_join_all(uplinks.map(|(nl, ips, gw_mac)| async move {
        let ips: Vec<IpAddr> = ips.all().collect();
        nl.configure_uplink(&ips, &gw_mac).await
    }))
    .await?;
    // Then the routes towards the leaves: the fabric reaches nodes and
    // externals directly and pods through their node; a node reaches its
    // pods. The families one after the other, each on its own.
    let families = IpFamily::ALL.into_iter().filter(|&f| match f {
        IpFamily::IPv4 => true,
        IpFamily::IPv6 => fabric_v6,
    });
    try_join_all(families.map(|family| leaf_routes(cluster, family, &fabric_nl, &node_nl))).await?;
    wait_all_up(cluster, &fabric_nl, &node_nl, &pod_nl, &ext_nl).await
}

/// The fabric's and the nodes' routes and neighbours towards the leaves'
/// addresses of `family`.
async fn leaf_routes(
    cluster: &Cluster,
    family: IpFamily,
    fabric_nl: &Netlink,
    node_nl: &[Netlink],
) -> io::Result<()> {
    for (i, node) in cluster.nodes.iter().enumerate() {
        let Some(ip) = node.ips.of(family) else {
            continue;
        };
        let link = ifindex::fabric_node(i);
        fabric_nl.add_link_route(ip, link, None).await?;
        fabric_nl
            .add_neighbour(link, ip, &mac(role::NODE_ETH0, i))
            .await?;
    }
    for (k, ext) in cluster.externals.iter().enumerate() {
        let Some(ip) = ext.ips.of(family) else {
            continue;
        };
        let link = ifindex::fabric_external(k);
        fabric_nl.add_link_route(ip, link, None).await?;
        fabric_nl
            .add_neighbour(link, ip, &mac(role::EXTERNAL_ETH0, k))
            .await?;
    }
    for (j, pod) in cluster.pods.iter().enumerate() {
        let Some(pod_ip) = pod.ips.of(family) else {
            continue;
        };
        let (n, veth) = (pod.node, ifindex::pod_veth(j));
        let node_ip = cluster.nodes[n].ips.of(family).ok_or_else(|| {
            io::Error::other(format!(
                "pod {} has an {family} address, its node {} none",
                pod.key(),
                cluster.nodes[n].name
            ))
        })?;
        node_nl[n]
            .add_link_route(pod_ip, veth, Some(node_ip))
            .await?;
        node_nl[n]
            .add_neighbour(veth, pod_ip, &mac(role::POD_ETH0, j))
            .await?;
        let prefix = if family == IpFamily::IPv4 { 32 } else { 128 };
        fabric_nl
            .add_gateway_route(pod_ip, prefix, node_ip, ifindex::fabric_node(n))
            .await?;
    }
    Ok(())
}

/// Nothing may be sent before every veth end can transmit (see
/// `topology`): both ends of every link, all at once.
async fn wait_all_up(
    cluster: &Cluster,
    fabric_nl: &Netlink,
    node_nl: &[Netlink],
    pod_nl: &[Netlink],
    ext_nl: &[Netlink],
) -> io::Result<()> {
    let ends = (0..node_nl.len())
        .map(|i| (fabric_nl, ifindex::fabric_node(i)))
        .chain((0..ext_nl.len()).map(|k| (fabric_nl, ifindex::fabric_external(k))))
        .chain(
            cluster
                .pods
                .iter()
                .enumerate()
                .map(|(j, pod)| (&node_nl[pod.node], ifindex::pod_veth(j))),
        )
        .chain(
            node_nl
                .iter()
                .chain(pod_nl)
                .chain(ext_nl)
                .map(|nl| (nl, ifindex::UPLINK)),
        );
    try_join_all(ends.map(|(nl, index)| nl.wait_operational(index, LINK_UP_LIMIT))).await?;
    Ok(())
}
