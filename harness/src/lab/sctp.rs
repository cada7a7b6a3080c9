//! The part of SCTP (RFC 9260) a probe needs: the 12-byte common header and
//! the INIT and INIT ACK chunks, CRC32c-checksummed. The kernel of a CI
//! machine may have no SCTP sockets, so probes and servers speak this over
//! raw IP (protocol 132); iptables' `sctp` match and conntrack still see
//! real SCTP associations being set up.

pub const IPPROTO_SCTP: i32 = 132;

const CHUNK_INIT: u8 = 1;
const CHUNK_INIT_ACK: u8 = 2;
const PARAM_STATE_COOKIE: u16 = 7;
const COMMON_HEADER_LEN: usize = 12;
/// Chunk header (4) + initiate tag, a_rwnd, streams, initial TSN (16).
const INIT_FIXED_LEN: usize = 20;

/// An INIT or INIT ACK, as far as a probe is concerned.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Packet {
    pub src_port: u16,
    pub dst_port: u16,
    /// The common header's verification tag: 0 on an INIT, the peer's
    /// initiate tag on an INIT ACK.
    pub verification_tag: u32,
    pub chunk: Chunk,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Chunk {
    Init { initiate_tag: u32 },
    InitAck { initiate_tag: u32 },
}

impl Packet {
    /// The INIT a client sends to open an association.
    pub fn init(src_port: u16, dst_port: u16, initiate_tag: u32) -> Packet {
        Packet {
            src_port,
            dst_port,
            verification_tag: 0,
            chunk: Chunk::Init { initiate_tag },
        }
    }

    /// The INIT ACK a server answers `init` with.
    pub fn init_ack(init: &Packet, initiate_tag: u32) -> Option<Packet> {
        match init.chunk {
            Chunk::Init {
                initiate_tag: peer_tag,
            } => Some(Packet {
                src_port: init.dst_port,
                dst_port: init.src_port,
                verification_tag: peer_tag,
                chunk: Chunk::InitAck { initiate_tag },
            }),
            Chunk::InitAck { .. } => None,
        }
    }

    /// The packet on the wire (SCTP header and chunk, without IP header).
    pub fn encode(&self) -> Vec<u8> {
        let (kind, tag) = match self.chunk {
            Chunk::Init { initiate_tag } => (CHUNK_INIT, initiate_tag),
            Chunk::InitAck { initiate_tag } => (CHUNK_INIT_ACK, initiate_tag),
        };
        // An INIT ACK must carry a State Cookie; ours is opaque and never echoed.
        let cookie: &[u8] = if kind == CHUNK_INIT_ACK {
            b"netpol-cookie"
        } else {
            b""
        };
        let param_len = if cookie.is_empty() {
            0
        } else {
            4 + cookie.len()
        };
        let chunk_len = INIT_FIXED_LEN + param_len;
        let mut b = Vec::with_capacity(COMMON_HEADER_LEN + chunk_len + 3);
        b.extend_from_slice(&self.src_port.to_be_bytes());
        b.extend_from_slice(&self.dst_port.to_be_bytes());
        b.extend_from_slice(&self.verification_tag.to_be_bytes());
        b.extend_from_slice(&[0; 4]); // checksum, filled below
        b.push(kind);
        b.push(0); // flags
        let chunk_len =
            u16::try_from(chunk_len).expect("the fixed INIT fields and our short cookie");
        b.extend_from_slice(&chunk_len.to_be_bytes());
        b.extend_from_slice(&tag.to_be_bytes());
        b.extend_from_slice(&65_535u32.to_be_bytes()); // a_rwnd
        b.extend_from_slice(&1u16.to_be_bytes()); // outbound streams
        b.extend_from_slice(&1u16.to_be_bytes()); // inbound streams
        b.extend_from_slice(&tag.to_be_bytes()); // initial TSN
        if !cookie.is_empty() {
            b.extend_from_slice(&PARAM_STATE_COOKIE.to_be_bytes());
            let param_len = u16::try_from(param_len).expect("our short cookie");
            b.extend_from_slice(&param_len.to_be_bytes());
            b.extend_from_slice(cookie);
        }
        // Chunks are padded to 4 bytes (the padding is not in the length).
        b.resize(b.len().next_multiple_of(4), 0);
        // CRC32c over the packet with a zero checksum field, stored the way
        // Linux stores it (little-endian bytes of the CRC).
        let crc = crc32c::crc32c(&b);
        b[8..12].copy_from_slice(&crc.to_le_bytes());
        b
    }

    /// Parses an SCTP packet (after the IP header) whose first chunk is an
    /// INIT or INIT ACK with a valid checksum; anything else is `None`.
    pub fn decode(b: &[u8]) -> Option<Packet> {
        if b.len() < COMMON_HEADER_LEN + INIT_FIXED_LEN {
            return None;
        }
        let mut zeroed = b.to_vec();
        zeroed[8..12].fill(0);
        if crc32c::crc32c(&zeroed).to_le_bytes() != b[8..12] {
            return None;
        }
        let u16_at = |i: usize| u16::from_be_bytes([b[i], b[i + 1]]);
        let u32_at = |i: usize| u32::from_be_bytes([b[i], b[i + 1], b[i + 2], b[i + 3]]);
        let initiate_tag = u32_at(16);
        let chunk = match b[12] {
            CHUNK_INIT => Chunk::Init { initiate_tag },
            CHUNK_INIT_ACK => Chunk::InitAck { initiate_tag },
            _ => return None,
        };
        Some(Packet {
            src_port: u16_at(0),
            dst_port: u16_at(2),
            verification_tag: u32_at(4),
            chunk,
        })
    }

    /// Ports and verification tag from the first 8 bytes of an SCTP header,
    /// as an ICMP error quotes them.
    pub fn quoted(b: &[u8]) -> Option<(u16, u16, u32)> {
        (b.len() >= 8).then(|| {
            (
                u16::from_be_bytes([b[0], b[1]]),
                u16::from_be_bytes([b[2], b[3]]),
                u32::from_be_bytes([b[4], b[5], b[6], b[7]]),
            )
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn init_and_init_ack_round_trip_with_the_tags_conntrack_checks() {
        let init = Packet::init(40_000, 80, 0xdead_beef);
        let wire = init.encode();
        assert_eq!(wire.len(), 32, "12-byte header + 20-byte INIT");
        assert_eq!(
            &wire[4..8],
            &[0, 0, 0, 0],
            "an INIT carries verification tag 0"
        );
        assert_eq!(Packet::decode(&wire), Some(init));
        let ack = Packet::init_ack(&init, 0x1234_5678).unwrap();
        assert_eq!(
            (ack.src_port, ack.dst_port, ack.verification_tag),
            (80, 40_000, 0xdead_beef),
            "the INIT ACK carries the INIT's initiate tag"
        );
        let wire = ack.encode();
        assert_eq!(wire.len() % 4, 0, "padded to 4 bytes");
        assert_eq!(
            u16::from_be_bytes([wire[14], wire[15]]),
            37,
            "chunk length excludes padding: 20 + 4 + 13"
        );
        assert_eq!(Packet::decode(&wire), Some(ack));
    }

    #[test]
    fn a_corrupted_packet_is_rejected() {
        let mut wire = Packet::init(1, 2, 3).encode();
        wire[20] ^= 1;
        assert_eq!(Packet::decode(&wire), None);
    }

    #[test]
    fn crc32c_matches_the_rfc_3720_test_vector() {
        // RFC 3720 B.4: 32 bytes of zeros.
        assert_eq!(crc32c::crc32c(&[0u8; 32]), 0x8a91_36aa);
    }
}
