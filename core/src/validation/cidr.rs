//! CIDR values as the API server reads `ipBlock.cidr` and `ipBlock.except`:
//! `netutils.ParseCIDRSloppy` (Go's `net.ParseCIDR`, retried with leading
//! zeros stripped from a dotted quad and from the prefix length), and Go's
//! `net.IPNet.Contains` and `IPMask.Size` for the strict-subset check.
//!
//! Go keeps an IPv4 network as 4 bytes and an IPv6 one (including an
//! IPv4-mapped `::ffff:a.b.c.d`) as 16; `contains` reproduces how Go
//! compares the two forms, quirks included.

/// A parsed CIDR, as Go's `*net.IPNet`: the network address (host bits
/// cleared) and the mask, both 4 bytes (IPv4) or 16 (IPv6).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct IpNet {
    pub ip: Vec<u8>,
    pub mask: Vec<u8>,
}

impl std::fmt::Display for IpNet {
    /// `10.0.0.0/8`, `fd00::/64`: the network address and the prefix length.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match <[u8; 4]>::try_from(self.ip.as_slice()) {
            Ok(v4) => write!(f, "{}", std::net::Ipv4Addr::from(v4))?,
            Err(_) => match <[u8; 16]>::try_from(self.ip.as_slice()) {
                Ok(v6) => write!(f, "{}", std::net::Ipv6Addr::from(v6))?,
                Err(_) => f.write_str("?")?,
            },
        }
        write!(f, "/{}", self.prefix_len())
    }
}

impl IpNet {
    /// `IPMask.Size()`: the prefix length.
    pub fn prefix_len(&self) -> u32 {
        self.mask.iter().map(|b| b.count_ones()).sum()
    }

    /// `IPNet.Contains(ip)`, with `ip` as Go holds it (4 or 16 bytes).
    pub fn contains(&self, ip: &[u8]) -> bool {
        let Some((nn, m)) = self.network_number_and_mask() else {
            return false;
        };
        let ip = to4(ip).unwrap_or(ip);
        if ip.len() != nn.len() {
            return false;
        }
        nn.iter().zip(m).zip(ip).all(|((n, m), i)| n & m == i & m)
    }

    /// Go's `networkNumberAndMask`.
    fn network_number_and_mask(&self) -> Option<(&[u8], &[u8])> {
        let ip = match to4(&self.ip) {
            Some(v4) => v4,
            None if self.ip.len() == 16 => &self.ip[..],
            None => return None,
        };
        let m = match self.mask.len() {
            4 if ip.len() == 4 => &self.mask[..],
            4 => return None,
            16 if ip.len() == 4 => &self.mask[12..],
            16 => &self.mask[..],
            _ => return None,
        };
        Some((ip, m))
    }
}

const V4_IN_V6_PREFIX: [u8; 12] = [0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff];

/// Go's `IP.To4`.
fn to4(ip: &[u8]) -> Option<&[u8]> {
    match ip.len() {
        4 => Some(ip),
        16 if ip[..12] == V4_IN_V6_PREFIX => Some(&ip[12..]),
        _ => None,
    }
}

/// `netutils.ParseCIDRSloppy`: `None` where the API server says
/// "must be a valid CIDR value".
pub fn parse_cidr_sloppy(s: &str) -> Option<IpNet> {
    parse_cidr(s).or_else(|| strip_zeros(s).and_then(|t| parse_cidr(&t)))
}

/// CEL's `isCIDR` (`k8s.io/apiserver/pkg/cel/library/cidr.go`), as the
/// CRD's `networks` rule uses it: Go's `netip.ParsePrefix` (an address, a
/// slash, a decimal prefix length without sign or leading zero; host bits
/// may be set; no zone), and no IPv4-mapped IPv6 address. Stricter than
/// [`parse_cidr_sloppy`]: `010.0.0.0/8` and `10.0.0.0/08` are refused.
pub fn is_cel_cidr(s: &str) -> bool {
    let Some((addr, bits)) = s.rsplit_once('/') else {
        return false;
    };
    let Some((ip, max)) = parse_addr(addr) else {
        return false;
    };
    if max == 128 && ip[..12] == V4_IN_V6_PREFIX {
        return false;
    }
    if bits.len() > 1 && bits.starts_with('0') {
        return false;
    }
    dtoi(bits).is_some_and(|n| n <= max)
}

/// The `matchZeros` regular expression of `k8s.io/utils/net` and its
/// replacement: a dotted quad (at the start, or after the last ':') and an
/// optional `/prefix` ending the string lose their leading zeros.
fn strip_zeros(s: &str) -> Option<String> {
    let start = s.rfind(':').map_or(0, |i| i + 1);
    let (head, tail) = s.split_at(start);
    let (quad, prefix) = match tail.split_once('/') {
        Some((q, p)) => (q, Some(p)),
        None => (tail, None),
    };
    let digits = |d: &str| !d.is_empty() && d.bytes().all(|c| c.is_ascii_digit());
    let strip = |d: &str| {
        let t = d.trim_start_matches('0');
        if t.is_empty() {
            "0".to_string()
        } else {
            t.to_string()
        }
    };
    let octets: Vec<&str> = quad.split('.').collect();
    if octets.len() != 4 || !octets.iter().all(|o| digits(o)) {
        return None;
    }
    let mut out = format!(
        "{head}{}",
        octets
            .iter()
            .map(|o| strip(o))
            .collect::<Vec<_>>()
            .join(".")
    );
    if let Some(p) = prefix {
        if !digits(p) {
            return None;
        }
        out.push('/');
        out.push_str(&strip(p));
    }
    Some(out)
}

/// Go's `net.ParseCIDR` (Go 1.22 and later: the address parsed by
/// `netip.ParseAddr`, no zone allowed, the prefix length in decimal).
fn parse_cidr(s: &str) -> Option<IpNet> {
    let (addr, mask) = s.split_once('/')?;
    let (addr16, bits) = parse_addr(addr)?;
    let n = dtoi(mask)?;
    if n > bits {
        return None;
    }
    let mask = cidr_mask(n, bits);
    let ip: Vec<u8> = if bits == 32 {
        addr16[12..].iter().zip(&mask).map(|(a, m)| a & m).collect()
    } else {
        addr16.iter().zip(&mask).map(|(a, m)| a & m).collect()
    };
    Some(IpNet { ip, mask })
}

/// Go's `dtoi` over the whole string: decimal digits (leading zeros
/// allowed), at least one, below 0xFFFFFF.
fn dtoi(s: &str) -> Option<u32> {
    if s.is_empty() || !s.bytes().all(|c| c.is_ascii_digit()) {
        return None;
    }
    let mut n: u32 = 0;
    for c in s.bytes() {
        n = n * 10 + u32::from(c - b'0');
        if n >= 0xFF_FFFF {
            return None;
        }
    }
    Some(n)
}

fn cidr_mask(ones: u32, bits: u32) -> Vec<u8> {
    (0..bits / 8)
        .map(|i| {
            let have = ones.saturating_sub(i * 8).min(8);
            if have == 0 { 0 } else { 0xffu8 << (8 - have) }
        })
        .collect()
}

/// `netip.ParseAddr`: the address as 16 bytes (IPv4 mapped into IPv6) and
/// its bit length (32 for IPv4, 128 for IPv6, IPv4-mapped included). A zone
/// (`%eth0`) is refused, as `net.ParseCIDR` refuses it.
fn parse_addr(s: &str) -> Option<([u8; 16], u32)> {
    for c in s.bytes() {
        match c {
            b'.' => {
                let v4 = parse_ipv4(s.as_bytes())?;
                let mut a = [0u8; 16];
                a[..12].copy_from_slice(&V4_IN_V6_PREFIX);
                a[12..].copy_from_slice(&v4);
                return Some((a, 32));
            }
            b':' => return parse_ipv6(s.as_bytes()).map(|a| (a, 128)),
            b'%' => return None,
            _ => {}
        }
    }
    None
}

/// `netip`'s strict dotted quad: four decimal fields of 0..=255, no leading zeros.
fn parse_ipv4(s: &[u8]) -> Option<[u8; 4]> {
    let mut fields = [0u8; 4];
    let mut pos = 0;
    let mut val: u32 = 0;
    let mut digits = 0;
    for (i, &c) in s.iter().enumerate() {
        match c {
            b'0'..=b'9' => {
                if digits == 1 && val == 0 {
                    return None; // leading zero
                }
                val = val * 10 + u32::from(c - b'0');
                digits += 1;
                if val > 255 {
                    return None;
                }
            }
            b'.' => {
                if i == 0 || i == s.len() - 1 || s[i - 1] == b'.' || pos == 3 {
                    return None;
                }
                fields[pos] = u8::try_from(val).expect("at most 255, checked above");
                pos += 1;
                val = 0;
                digits = 0;
            }
            _ => return None,
        }
    }
    if pos < 3 {
        return None;
    }
    fields[3] = u8::try_from(val).expect("at most 255, checked above");
    Some(fields)
}

/// `netip`'s IPv6 parser: hex groups of at most 4 digits, one `::`, an
/// optional dotted quad in the last 32 bits; no zone.
fn parse_ipv6(input: &[u8]) -> Option<[u8; 16]> {
    if input.contains(&b'%') {
        return None;
    }
    let mut s = input;
    let mut ip = [0u8; 16];
    let mut ellipsis: Option<usize> = None;
    if s.len() >= 2 && s[0] == b':' && s[1] == b':' {
        ellipsis = Some(0);
        s = &s[2..];
        if s.is_empty() {
            return Some(ip);
        }
    }
    let mut i = 0;
    while i < 16 {
        let mut off = 0;
        let mut acc: u32 = 0;
        while off < s.len() {
            let d = match s[off] {
                c @ b'0'..=b'9' => c - b'0',
                c @ b'a'..=b'f' => c - b'a' + 10,
                c @ b'A'..=b'F' => c - b'A' + 10,
                _ => break,
            };
            acc = (acc << 4) + u32::from(d);
            if off > 3 {
                return None; // more than 4 hex digits in a group
            }
            off += 1;
        }
        if off == 0 {
            return None;
        }
        if off < s.len() && s[off] == b'.' {
            if ellipsis.is_none() && i != 12 {
                return None;
            }
            if i + 4 > 16 {
                return None;
            }
            let v4 = parse_ipv4(s)?;
            ip[i..i + 4].copy_from_slice(&v4);
            s = &[];
            i += 4;
            break;
        }
        let group = u16::try_from(acc).expect("at most 4 hex digits, checked above");
        ip[i..i + 2].copy_from_slice(&group.to_be_bytes());
        i += 2;
        s = &s[off..];
        if s.is_empty() {
            break;
        }
        if s[0] != b':' || s.len() == 1 {
            return None;
        }
        s = &s[1..];
        if s[0] == b':' {
            if ellipsis.is_some() {
                return None;
            }
            ellipsis = Some(i);
            s = &s[1..];
            if s.is_empty() {
                break;
            }
        }
    }
    if !s.is_empty() {
        return None;
    }
    if i < 16 {
        let e = ellipsis?;
        let n = 16 - i;
        for j in (e..i).rev() {
            ip[j + n] = ip[j];
        }
        for b in &mut ip[e..e + n] {
            *b = 0;
        }
    } else if ellipsis.is_some() {
        return None; // "::" must stand for at least one group
    }
    Some(ip)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cel_is_cidr_is_netip_parse_prefix() {
        let cases = [
            ("10.0.0.0/8", true, "a network"),
            ("10.0.0.1/8", true, "host bits set are kept, not refused"),
            ("0.0.0.0/0", true, "everything"),
            ("192.168.1.1/32", true, "one address"),
            ("2001:db8::/32", true, "IPv6"),
            ("::/0", true, "every IPv6 address"),
            ("::1.2.3.4/128", true, "IPv4-compatible (not mapped) IPv6"),
            ("10.0.0.1", false, "no prefix length"),
            ("10.0.0.0/33", false, "prefix too long for IPv4"),
            ("2001:db8::/129", false, "prefix too long for IPv6"),
            ("010.0.0.0/8", false, "leading zero in an octet"),
            ("10.0.0.0/08", false, "leading zero in the length"),
            ("10.0.0.0/+8", false, "a sign"),
            ("10.0.0.0/", false, "empty length"),
            ("10.0.0/8", false, "three octets"),
            ("::ffff:10.0.0.0/104", false, "IPv4-mapped IPv6"),
            ("::ffff:a00:0/104", false, "IPv4-mapped IPv6, in hex"),
            ("fe80::1%eth0/64", false, "a zone"),
            (" 10.0.0.0/8", false, "a space"),
            ("10.0.0.0/8/8", false, "two slashes"),
        ];
        for (s, want, why) in cases {
            assert_eq!(is_cel_cidr(s), want, "{s}: {why}");
        }
    }

    fn net(s: &str) -> Option<String> {
        parse_cidr_sloppy(s).map(|n| {
            let ip = if n.ip.len() == 4 {
                std::net::Ipv4Addr::new(n.ip[0], n.ip[1], n.ip[2], n.ip[3]).to_string()
            } else {
                let b: [u8; 16] = n.ip.clone().try_into().unwrap();
                std::net::Ipv6Addr::from(b).to_string()
            };
            format!("{ip}/{}", n.prefix_len())
        })
    }

    #[test]
    fn parses_like_parse_cidr_sloppy() {
        let cases = [
            ("10.0.0.0/24", Some("10.0.0.0/24"), "a plain IPv4 network"),
            (
                "10.0.0.1/24",
                Some("10.0.0.0/24"),
                "host bits set: accepted, cleared",
            ),
            ("0.0.0.0/0", Some("0.0.0.0/0"), "everything"),
            ("192.168.1.7/32", Some("192.168.1.7/32"), "one address"),
            (
                "010.000.001.002/24",
                Some("10.0.1.0/24"),
                "leading zeros in octets: decimal, not octal",
            ),
            (
                "10.0.0.0/024",
                Some("10.0.0.0/24"),
                "leading zeros in the prefix length",
            ),
            ("2001:db8::/64", Some("2001:db8::/64"), "IPv6"),
            (
                "2001:DB8::1/48",
                Some("2001:db8::/48"),
                "IPv6, upper case, host bits",
            ),
            ("::/0", Some("::/0"), "IPv6 everything"),
            (
                "::ffff:10.0.0.0/104",
                Some("::ffff:10.0.0.0/104"),
                "IPv4-mapped IPv6 keeps 128 bits",
            ),
            (
                "::ffff:010.0.0.0/104",
                Some("::ffff:10.0.0.0/104"),
                "leading zeros after the last ':'",
            ),
            ("10.0.0.0", None, "no prefix length"),
            ("10.0.0.0/", None, "empty prefix length"),
            ("10.0.0.0/33", None, "prefix too long for IPv4"),
            ("2001:db8::/129", None, "prefix too long for IPv6"),
            ("10.0.0.0/-1", None, "negative prefix"),
            ("10.0.0.0/+8", None, "signed prefix"),
            ("256.0.0.0/8", None, "octet over 255"),
            ("0256.0.0.0/8", None, "octet over 255 after stripping zeros"),
            ("10.0.0/24", None, "three octets"),
            ("10.0.0.0.0/24", None, "five octets"),
            ("10..0.0/24", None, "empty octet"),
            (" 10.0.0.0/24", None, "leading space"),
            ("10.0.0.0/24 ", None, "trailing space"),
            ("10.0.0.0/8/8", None, "two slashes"),
            ("fe80::1%eth0/64", None, "a zone"),
            ("2001:db8:::/64", None, "three colons"),
            ("2001:db8::1::/64", None, "two ellipses"),
            (
                "1:2:3:4:5:6:7:8::/64",
                None,
                "ellipsis standing for nothing",
            ),
            ("12345::/16", None, "five hex digits"),
            ("1:2:3:4:5:6:7/64", None, "seven groups without ellipsis"),
            ("1:2:3:4:5:6:7:8/64", Some("1:2:3:4::/64"), "eight groups"),
            (
                "::1.2.3.4/128",
                Some("::102:304/128"),
                "embedded IPv4 after an ellipsis",
            ),
            (
                "1:2:3:4:5:6:1.2.3.4/128",
                Some("1:2:3:4:5:6:102:304/128"),
                "embedded IPv4 in the last 32 bits",
            ),
            (
                "1:2:3:4:5:1.2.3.4/128",
                None,
                "embedded IPv4 in the wrong place",
            ),
            ("a:010.0.0.0/8", None, "stripped, but still not an address"),
            ("", None, "empty"),
            ("/24", None, "no address"),
            ("ten.0.0.0/8", None, "letters"),
        ];
        for (s, want, why) in cases {
            assert_eq!(net(s).as_deref(), want, "{why}: {s:?}");
        }
    }

    fn subset(cidr: &str, except: &str) -> bool {
        let c = parse_cidr_sloppy(cidr).unwrap();
        let e = parse_cidr_sloppy(except).unwrap();
        c.contains(&e.ip) && c.prefix_len() < e.prefix_len()
    }

    #[test]
    fn strict_subsets_as_go_computes_them() {
        let cases = [
            ("10.0.0.0/16", "10.0.1.0/24", true, "a smaller block inside"),
            ("10.0.0.0/16", "10.0.0.0/16", false, "equal"),
            ("10.0.0.0/16", "10.0.0.0/8", false, "larger"),
            ("10.0.0.0/16", "10.1.0.0/24", false, "outside"),
            (
                "10.0.0.0/16",
                "10.0.1.7/24",
                true,
                "host bits in the except are cleared first",
            ),
            (
                "10.0.0.5/16",
                "10.0.1.0/24",
                true,
                "host bits in the cidr are cleared first",
            ),
            (
                "10.0.0.0/16",
                "2001:db8::/64",
                false,
                "IPv6 inside IPv4: another family",
            ),
            ("2001:db8::/32", "2001:db8:1::/48", true, "IPv6 subset"),
            (
                "2001:db8::/32",
                "10.0.0.0/8",
                false,
                "IPv4 inside IPv6: another family",
            ),
            ("0.0.0.0/0", "192.168.0.0/16", true, "inside everything"),
            // Go compares IPv4-mapped IPv6 as IPv4; the prefix lengths are compared as written.
            (
                "10.0.0.0/8",
                "::ffff:10.1.0.0/112",
                true,
                "IPv4-mapped except of an IPv4 cidr",
            ),
            (
                "::ffff:10.0.0.0/104",
                "10.1.0.0/16",
                false,
                "the mapped cidr's length 104 is not below 16",
            ),
        ];
        for (c, e, want, why) in cases {
            assert_eq!(subset(c, e), want, "{why}: {e} in {c}");
        }
    }
}
