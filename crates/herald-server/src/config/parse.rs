//! Parsers for setting values: durations, CIDR networks, retry schedules, sizes, and a
//! URL made safe to print.

use std::time::Duration;

use ipnet::IpNet;

use super::{bad, ConfigError};

const DAY: u64 = 86_400;

/// The longest a duration setting may be, by setting: long enough for any real use, short
/// enough that every instant herald computes from it stays a valid date.
pub fn max_duration(setting: &str) -> Duration {
    let secs = match setting {
        s if s.starts_with("--retry-schedule") => 30 * DAY,
        s if s.starts_with("--retention") => 3650 * DAY,
        s if s.starts_with("--auto-disable-after") => 365 * DAY,
        s if s.starts_with("--header-timeout") || s.starts_with("--read-timeout") => 3600,
        s if s.starts_with("--lease") => DAY,
        _ => 7 * DAY,
    };
    Duration::from_secs(secs)
}

/// Parses a duration and checks it against the setting's bound; errors name the setting.
fn bounded(setting: &'static str, v: &str, example: &str) -> Result<Duration, ConfigError> {
    let d = humantime::parse_duration(v.trim())
        .map_err(|_| bad(setting, format!("`{v}` is not a duration like {example}")))?;
    let max = max_duration(setting);
    if d > max {
        return Err(bad(
            setting,
            format!(
                "`{v}` is longer than the limit of {}",
                humantime::format_duration(max)
            ),
        ));
    }
    Ok(d)
}

pub(super) fn duration_setting(
    setting: &'static str,
    v: Option<&str>,
    default: &str,
) -> Result<Duration, ConfigError> {
    let d = bounded(setting, v.unwrap_or(default), "30s or 5m")?;
    if d.is_zero() {
        return Err(bad(setting, "must be longer than zero"));
    }
    Ok(d)
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
    match bounded(setting, v, "5d or 12h, or `off`")? {
        d if d.is_zero() => Err(bad(setting, "must be longer than zero, or `off`")),
        d => Ok(Some(d)),
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
        .map(|step| bounded(setting, step.trim(), "5s, 5m or 2h"))
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
