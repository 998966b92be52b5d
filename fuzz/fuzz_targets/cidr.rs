//! CIDR parsing: a source's `allow_ips` (`api::validate_ips`) and the `--allow-network` /
//! `--trusted-proxy` settings (through `Config::from_settings`), plus what the networks
//! are used for: the SSRF guard (`delivery::guard::Guard`) and `X-Forwarded-For`
//! resolution (`ingest::client_ip`).
//!
//! Input: line 1 an address (if it does not parse, one is made from the raw bytes), line 2
//! an `X-Forwarded-For` chain, then one network per line.
//!
//! Checks: no panic; the API and the configuration accept the same (trimmed) networks and
//! parse them identically; every parsed network has its host bits cleared and a single
//! address becomes a host network containing it; the guard allows any address inside an
//! allowed network, an allowlist only ever allows more, and an IPv4 address is judged the
//! same in IPv4-mapped, NAT64 and 6to4 notation; `client_ip` answers the peer or an
//! untrusted address from the chain, and the peer itself when the peer is not trusted.
#![no_main]

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use herald_fuzz::Fields;
use herald_server::api::validate_ips;
use herald_server::ingest::client_ip;
use herald_server::net::guard::Guard;
use herald_server::{Config, Settings};
use ipnet::IpNet;
use libfuzzer_sys::fuzz_target;

fn address(line: &[u8]) -> IpAddr {
    if let Ok(a) = String::from_utf8_lossy(line).trim().parse() {
        return a;
    }
    if line.len() >= 16 {
        let b: [u8; 16] = line[..16].try_into().unwrap();
        IpAddr::V6(Ipv6Addr::from(b))
    } else {
        let mut b = [0u8; 4];
        for (d, s) in b.iter_mut().zip(line) {
            *d = *s;
        }
        IpAddr::V4(Ipv4Addr::from(b))
    }
}

fuzz_target!(|data: &[u8]| {
    let mut f = Fields::new(data);
    let addr = address(f.bytes());
    let xff = f.text();
    let rest = String::from_utf8_lossy(f.rest()).into_owned();
    let lines: Vec<String> = rest.split('\n').take(64).map(str::to_string).collect();

    // The API and the configuration parse networks the same way.
    let api = validate_ips(lines.clone());
    let usable: Vec<String> = lines
        .iter()
        .map(|l| l.trim())
        .filter(|l| !l.is_empty())
        .map(str::to_string)
        .collect();
    let api_trimmed = validate_ips(usable.clone()).ok();
    let config = Config::from_settings(Settings {
        allow_networks: Some(lines.clone()),
        trusted_proxies: Some(lines.clone()),
        ..Settings::default()
    });
    match &config {
        Ok(c) => {
            assert_eq!(Some(&c.delivery.allow_networks), api_trimmed.as_ref());
            assert_eq!(Some(&c.trusted_proxies), api_trimmed.as_ref());
        }
        Err(_) => assert!(
            api_trimmed.is_none(),
            "the API accepts what the configuration refuses"
        ),
    }

    let nets: Vec<IpNet> = api.unwrap_or_default();
    for (net, line) in nets.iter().zip(&lines) {
        assert_eq!(*net, net.trunc(), "{line:?} kept host bits");
        assert!(net.contains(&net.network()));
        if let Ok(a) = line.parse::<IpAddr>() {
            assert_eq!(*net, IpNet::from(a));
            assert!(net.contains(&a));
        } else {
            let given: IpNet = line.parse().expect("accepted neither a network nor an address");
            assert!(net.contains(&given.addr()), "{line:?}");
        }
    }

    // The SSRF guard.
    let open = Guard::default();
    let guard = Guard::new(nets.clone());
    if nets.iter().any(|n| n.contains(&addr)) || open.check(addr).is_ok() {
        assert!(guard.check(addr).is_ok(), "{addr} refused despite {nets:?}");
    }
    if let IpAddr::V4(v4) = addr {
        let o = v4.octets();
        let refused = open.check(addr).is_err();
        let mapped = IpAddr::V6(v4.to_ipv6_mapped());
        assert_eq!(open.check(mapped).is_err(), refused, "{mapped}");
        if guard.check(addr).is_ok() {
            assert!(guard.check(mapped).is_ok(), "{mapped}");
        }
        let hi = u16::from_be_bytes([o[0], o[1]]);
        let lo = u16::from_be_bytes([o[2], o[3]]);
        let nat64 = IpAddr::V6(Ipv6Addr::new(0x64, 0xff9b, 0, 0, 0, 0, hi, lo));
        assert_eq!(open.check(nat64).is_err(), refused, "{nat64}");
        let six_to_four = IpAddr::V6(Ipv6Addr::new(0x2002, hi, lo, 0, 0, 0, 0, 1));
        assert_eq!(open.check(six_to_four).is_err(), refused, "{six_to_four}");
    }

    // X-Forwarded-For behind trusted proxies.
    let who = client_ip(addr, Some(&xff), &nets);
    let trusted = |ip: &IpAddr| nets.iter().any(|n| n.contains(ip));
    if !trusted(&addr) {
        assert_eq!(who, addr);
    }
    if who != addr {
        assert!(!trusted(&who), "{who} is a trusted proxy");
        let listed = xff
            .split(',')
            .any(|s| s.trim().parse::<IpAddr>().ok() == Some(who));
        assert!(listed, "{who} is not in {xff:?}");
    }
});
