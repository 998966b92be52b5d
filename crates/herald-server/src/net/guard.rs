//! The SSRF guard's decision: may herald open a connection to this address?
//!
//! It is applied by the HTTP connector to every address it is about to connect to, after
//! resolution, so IP literals in any notation, names that resolve to private addresses
//! and DNS rebinding all meet the same rule.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use ipnet::IpNet;

/// Why an address is refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("destination {addr} is not allowed ({kind} address); allow it with --allow-network")]
pub struct Refused {
    pub addr: IpAddr,
    pub kind: &'static str,
}

/// The operator's allowlist on top of the default refusals.
#[derive(Debug, Clone, Default)]
pub struct Guard {
    allow: Vec<IpNet>,
}

impl Guard {
    pub fn new(allow: Vec<IpNet>) -> Self {
        Self { allow }
    }

    /// Ok when the address is public, or private but inside an allowed network.
    pub fn check(&self, addr: IpAddr) -> Result<(), Refused> {
        let canonical = canonical(addr);
        let Some(kind) = special_kind(canonical) else {
            return Ok(());
        };
        if self
            .allow
            .iter()
            .any(|n| n.contains(&addr) || n.contains(&canonical))
        {
            return Ok(());
        }
        Err(Refused { addr, kind })
    }
}

/// IPv4-mapped IPv6 addresses are judged as the IPv4 address they carry.
fn canonical(addr: IpAddr) -> IpAddr {
    match addr {
        IpAddr::V6(v6) => match v6.to_ipv4_mapped() {
            Some(v4) => IpAddr::V4(v4),
            None => addr,
        },
        v4 => v4,
    }
}

/// The kind of non-public address, or `None` for a public one.
fn special_kind(addr: IpAddr) -> Option<&'static str> {
    match addr {
        IpAddr::V4(v4) => v4_kind(v4),
        IpAddr::V6(v6) => v6_kind(v6),
    }
}

fn v4_kind(ip: Ipv4Addr) -> Option<&'static str> {
    let o = ip.octets();
    let kind = if ip.is_unspecified() || o[0] == 0 {
        "unspecified"
    } else if ip.is_loopback() {
        "loopback"
    } else if ip.is_private() {
        "private"
    } else if ip.is_link_local() {
        "link-local"
    } else if o[0] == 100 && (o[1] & 0xc0) == 64 {
        "carrier-grade NAT"
    } else if ip.is_multicast() {
        "multicast"
    } else if ip.is_broadcast()
        || o[0] >= 240
        || (o[0] == 192 && o[1] == 0 && (o[2] == 0 || o[2] == 2))
        || (o[0] == 198 && (o[1] & 0xfe) == 18)
        || (o[0] == 198 && o[1] == 51 && o[2] == 100)
        || (o[0] == 203 && o[1] == 0 && o[2] == 113)
    {
        "reserved"
    } else {
        return None;
    };
    Some(kind)
}

fn v6_kind(ip: Ipv6Addr) -> Option<&'static str> {
    let s = ip.segments();
    if ip.is_unspecified() {
        return Some("unspecified");
    }
    if ip.is_loopback() {
        return Some("loopback");
    }
    // Addresses that carry an IPv4 address: judge the carried one.
    let embedded = |hi: u16, lo: u16| Ipv4Addr::new((hi >> 8) as u8, hi as u8, (lo >> 8) as u8, lo as u8);
    if s[0] == 0x64 && s[1] == 0xff9b && s[2..6] == [0, 0, 0, 0] {
        return v4_kind(embedded(s[6], s[7]));
    }
    if s[0] == 0x2002 {
        return v4_kind(embedded(s[1], s[2]));
    }
    let kind = match s[0] {
        _ if s[0..6] == [0, 0, 0, 0, 0, 0] => "IPv4-compatible",
        x if (x & 0xfe00) == 0xfc00 => "unique-local",
        x if (x & 0xffc0) == 0xfe80 => "link-local",
        x if (x & 0xffc0) == 0xfec0 => "site-local",
        x if (x & 0xff00) == 0xff00 => "multicast",
        0x2001 if s[1] == 0x0db8 => "documentation",
        0x2001 if s[1] < 0x0200 => "special-purpose",
        0x0100 if s[1..4] == [0, 0, 0] => "discard",
        _ => return None,
    };
    Some(kind)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn refused(g: &Guard, s: &str) -> bool {
        g.check(s.parse().unwrap()).is_err()
    }

    #[test]
    fn refuses_every_non_public_range_by_default() {
        let g = Guard::default();
        for a in [
            "127.0.0.1",
            "127.255.255.254",
            "0.0.0.0",
            "0.1.2.3",
            "10.0.0.1",
            "10.255.255.255",
            "172.16.0.1",
            "172.31.255.255",
            "192.168.1.1",
            "169.254.169.254",
            "169.254.0.1",
            "100.64.0.1",
            "100.127.255.255",
            "224.0.0.1",
            "239.255.255.250",
            "255.255.255.255",
            "240.0.0.1",
            "192.0.2.1",
            "198.18.0.1",
            "::1",
            "::",
            "::ffff:127.0.0.1",
            "::ffff:10.0.0.1",
            "::ffff:169.254.169.254",
            "fc00::1",
            "fd12:3456::1",
            "fe80::1",
            "ff02::1",
            "64:ff9b::a00:1",
            "64:ff9b::7f00:1",
            "2002:7f00:1::1",
            "2002:a00:1::",
            "2001:db8::1",
            "::127.0.0.1",
            "fec0::1",
            "100::1",
        ] {
            assert!(refused(&g, a), "{a} should be refused");
        }
    }

    #[test]
    fn lets_public_addresses_through() {
        let g = Guard::default();
        for a in [
            "93.184.216.34",
            "8.8.8.8",
            "172.32.0.1",
            "100.128.0.1",
            "2606:4700::1111",
            "::ffff:8.8.8.8",
            "64:ff9b::808:808",
        ] {
            assert!(!refused(&g, a), "{a} should be allowed");
        }
    }

    #[test]
    fn the_allowlist_is_the_only_way_in() {
        let g = Guard::new(vec!["127.0.0.0/8".parse().unwrap(), "fd00::/8".parse().unwrap()]);
        assert!(!refused(&g, "127.0.0.1"));
        assert!(!refused(&g, "::ffff:127.0.0.1"));
        assert!(!refused(&g, "fd00::5"));
        assert!(refused(&g, "10.0.0.1"));
        assert!(refused(&g, "::1"));
        assert!(refused(&g, "169.254.169.254"));
        let e = Guard::default().check("10.1.2.3".parse().unwrap()).unwrap_err();
        assert_eq!(e.kind, "private");
    }
}
