//! Parsers for setting values: durations, CIDR networks, retry schedules, sizes, and a
//! URL made safe to print.

use std::time::Duration;

use ipnet::IpNet;

use super::{bad, ConfigError};

pub(super) fn duration_setting(
    setting: &'static str,
    v: Option<&str>,
    default: &str,
) -> Result<Duration, ConfigError> {
    let v = v.unwrap_or(default);
    humantime::parse_duration(v.trim())
        .map_err(|_| bad(setting, format!("`{v}` is not a duration like 30s or 5m")))
}

/// A duration, or `off` for none.
pub(super) fn optional_duration(
    setting: &'static str,
    v: Option<&str>,
    default: &str,
) -> Result<Option<Duration>, ConfigError> {
    let v = v.unwrap_or(default).trim();
    if v.eq_ignore_ascii_case("off") {
        return Ok(None);
    }
    match humantime::parse_duration(v) {
        Ok(d) if !d.is_zero() => Ok(Some(d)),
        _ => Err(bad(
            setting,
            format!("`{v}` is not a duration like 5d or 12h, or `off`"),
        )),
    }
}

pub(super) fn parse_network(s: &str) -> Result<IpNet, ConfigError> {
    parse_cidr("--allow-network / HERALD_ALLOW_NETWORKS", s)
}

pub(super) fn parse_cidr(setting: &'static str, s: &str) -> Result<IpNet, ConfigError> {
    if let Ok(net) = s.parse::<IpNet>() {
        return Ok(net.trunc());
    }
    s.parse::<std::net::IpAddr>()
        .map(IpNet::from)
        .map_err(|_| bad(setting, format!("`{s}` is not a CIDR network like 127.0.0.0/8")))
}

/// Parses `5s,5m,30m,2h` (also `100ms`); an empty string means no retries.
pub fn parse_schedule(s: &str) -> Result<Vec<Duration>, ConfigError> {
    let setting = "--retry-schedule / HERALD_RETRY_SCHEDULE";
    let s = s.trim();
    if s.is_empty() {
        return Ok(Vec::new());
    }
    let steps = s
        .split(',')
        .map(|step| {
            humantime::parse_duration(step.trim()).map_err(|_| {
                bad(
                    setting,
                    format!("`{}` is not a duration like 5s, 5m or 2h", step.trim()),
                )
            })
        })
        .collect::<Result<Vec<_>, _>>()?;
    if steps.len() > 50 {
        return Err(bad(setting, "at most 50 retries"));
    }
    Ok(steps)
}

/// Parses `1MiB`, `512KiB`, `2MB`, `1kb` or a plain byte count.
pub fn parse_size(s: &str) -> Option<usize> {
    let s = s.trim();
    let split = s.find(|c: char| !c.is_ascii_digit()).unwrap_or(s.len());
    let (num, unit) = s.split_at(split);
    let n: usize = num.parse().ok()?;
    let mult = match unit.trim().to_ascii_lowercase().as_str() {
        "" | "b" => 1,
        "k" | "kb" | "kib" => 1024,
        "m" | "mb" | "mib" => 1024 * 1024,
        "g" | "gb" | "gib" => 1024 * 1024 * 1024,
        _ => return None,
    };
    n.checked_mul(mult)
}

/// A URL with any password replaced, safe to print.
pub fn redact_url(s: &str) -> String {
    match url::Url::parse(s) {
        Ok(mut u) if u.password().is_some() => {
            let _ = u.set_password(Some("***"));
            u.to_string()
        }
        _ => s.to_string(),
    }
}
