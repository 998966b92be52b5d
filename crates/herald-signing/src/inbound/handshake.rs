//! The answers to providers' handshakes: requests that check a URL before (or instead of)
//! sending events. Each is answered only after the request verified, except Meta's `GET`,
//! whose proof is the verify token it carries.

use subtle::ConstantTimeEq;

use super::hmac::sha256;
use super::preset::Handshake;
use super::{header, InboundRequest, Scheme};

/// What to send back instead of the usual acknowledgement.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Reply {
    pub handshake: Handshake,
    pub content_type: &'static str,
    pub body: Vec<u8>,
}

/// The reply to `req` when it is its preset's handshake. `req` must already have verified;
/// `secret` is the secret that matched (Zoom's reply is keyed with it).
pub fn handshake_reply(scheme: &Scheme, req: &InboundRequest<'_>, secret: Option<&str>) -> Option<Reply> {
    let handshake = scheme.preset().handshake?;
    let json = || serde_json::from_slice::<serde_json::Value>(req.body).ok();
    let (content_type, body) = match handshake {
        Handshake::SlackUrlVerification => {
            let v = json()?;
            (v.get("type")?.as_str()? == "url_verification").then_some(())?;
            let challenge = v.get("challenge")?.as_str()?;
            (
                "application/json",
                serde_json::json!({ "challenge": challenge }).to_string(),
            )
        }
        Handshake::TwitchCallbackVerification => {
            let kind = header(req.headers, &[super::twitch::MESSAGE_TYPE]).ok()?;
            (kind.value == "webhook_callback_verification").then_some(())?;
            (
                "text/plain; charset=utf-8",
                json()?.get("challenge")?.as_str()?.to_string(),
            )
        }
        Handshake::ZoomUrlValidation => {
            let v = json()?;
            (v.get("event")?.as_str()? == "endpoint.url_validation").then_some(())?;
            let plain = v.pointer("/payload/plainToken")?.as_str()?;
            let encrypted = hex::encode(sha256(secret?, &[plain.as_bytes()]));
            let plain = serde_json::Value::from(plain);
            (
                "application/json",
                format!(r#"{{"plainToken":{plain},"encryptedToken":"{encrypted}"}}"#),
            )
        }
        Handshake::DiscordPing => {
            (json()?.get("type")?.as_i64()? == 1).then_some(())?;
            ("application/json", r#"{"type":1}"#.to_string())
        }
        Handshake::MetaSubscribe => return None,
    };
    Some(Reply {
        handshake,
        content_type,
        body: body.into_bytes(),
    })
}

/// The answer a provider needs to an ordinary (stored) request, when its API expects more
/// than a 2xx: Discord wants an interaction response within three seconds, so herald
/// defers it (`{"type":5}` for a command or a modal, `{"type":6}` for a component, an
/// empty choice list for an autocomplete), and the agent answers later through Discord's
/// follow-up API with the interaction's token. `None` for every other preset.
pub fn acknowledgement(scheme: &Scheme, body: &[u8]) -> Option<&'static str> {
    if scheme.preset().handshake != Some(Handshake::DiscordPing) {
        return None;
    }
    let kind = serde_json::from_slice::<serde_json::Value>(body)
        .ok()?
        .get("type")?
        .as_i64()?;
    match kind {
        2 | 5 => Some(r#"{"type":5}"#),
        3 => Some(r#"{"type":6}"#),
        4 => Some(r#"{"type":8,"data":{"choices":[]}}"#),
        _ => None,
    }
}

/// Meta's subscription check, `GET ?hub.mode=subscribe&hub.verify_token=T&hub.challenge=C`:
/// `C` when `T` is one of `tokens` (compared in constant time), else `None`.
pub fn meta_subscribe(query: &str, tokens: &[&str]) -> Option<String> {
    let mut mode = None;
    let mut token = None;
    let mut challenge = None;
    for (k, v) in form_urlencoded::parse(query.as_bytes()) {
        match k.as_ref() {
            "hub.mode" => mode = Some(v),
            "hub.verify_token" => token = Some(v),
            "hub.challenge" => challenge = Some(v),
            _ => {}
        }
    }
    (mode.as_deref() == Some("subscribe")).then_some(())?;
    let token = token?;
    let known = tokens.iter().fold(false, |hit, t| {
        hit | bool::from(t.as_bytes().ct_eq(token.as_bytes()))
    });
    known.then(|| challenge.map(|c| c.into_owned()))?
}

#[cfg(test)]
mod tests {
    use super::*;

    fn reply(
        scheme: &str,
        headers: &[(&str, &str)],
        body: &str,
        secret: Option<&str>,
    ) -> Option<(String, String)> {
        let scheme = super::super::parse_scheme(scheme).unwrap();
        let req = InboundRequest::post(headers, body.as_bytes());
        handshake_reply(&scheme, &req, secret)
            .map(|r| (r.content_type.to_string(), String::from_utf8(r.body).unwrap()))
    }

    #[test]
    fn each_handshake_gets_its_answer_and_other_requests_none() {
        let slack = reply(
            "slack",
            &[],
            r#"{"type":"url_verification","challenge":"c1"}"#,
            None,
        );
        assert_eq!(
            slack,
            Some(("application/json".into(), r#"{"challenge":"c1"}"#.into()))
        );
        assert_eq!(reply("slack", &[], r#"{"type":"event_callback"}"#, None), None);
        let kind = [("Twitch-Eventsub-Message-Type", "webhook_callback_verification")];
        let twitch = reply(
            "twitch",
            &kind,
            r#"{"challenge":"pogchamp-kappa-360noscope-vohiyo"}"#,
            None,
        );
        assert_eq!(twitch.unwrap().1, "pogchamp-kappa-360noscope-vohiyo");
        let note = [("Twitch-Eventsub-Message-Type", "notification")];
        assert_eq!(reply("twitch", &note, r#"{"challenge":"x"}"#, None), None);
        let discord = reply("discord", &[], r#"{"type":1,"id":"1"}"#, None);
        assert_eq!(discord.unwrap().1, r#"{"type":1}"#);
        assert_eq!(reply("discord", &[], r#"{"type":2}"#, None), None);
        assert_eq!(reply("github", &[], r#"{"type":1}"#, None), None);
    }

    #[test]
    fn discord_interactions_are_deferred_and_other_providers_get_none() {
        let discord = super::super::parse_scheme("discord").unwrap();
        let ack = |body: &str| acknowledgement(&discord, body.as_bytes());
        assert_eq!(ack(r#"{"type":2,"data":{"name":"ping"}}"#), Some(r#"{"type":5}"#));
        assert_eq!(ack(r#"{"type":5}"#), Some(r#"{"type":5}"#));
        assert_eq!(ack(r#"{"type":3}"#), Some(r#"{"type":6}"#));
        assert_eq!(ack(r#"{"type":4}"#), Some(r#"{"type":8,"data":{"choices":[]}}"#));
        assert_eq!(ack(r#"{"type":1}"#), None);
        assert_eq!(ack("not json"), None);
        let github = super::super::parse_scheme("github").unwrap();
        assert_eq!(acknowledgement(&github, br#"{"type":2}"#), None);
    }

    #[test]
    fn zoom_encrypts_the_plain_token_with_the_matched_secret() {
        let body = r#"{"payload":{"plainToken":"qgg8vlvZRS6UYooatFL8Aw"},"event_ts":1654503849680,"event":"endpoint.url_validation"}"#;
        let (_, got) = reply("zoom", &[], body, Some("secret")).unwrap();
        let want = hex::encode(sha256("secret", &[b"qgg8vlvZRS6UYooatFL8Aw"]));
        assert_eq!(
            got,
            format!(r#"{{"plainToken":"qgg8vlvZRS6UYooatFL8Aw","encryptedToken":"{want}"}}"#)
        );
        assert_eq!(reply("zoom", &[], body, None), None);
    }

    #[test]
    fn meta_answers_only_its_own_token() {
        let q = "hub.mode=subscribe&hub.verify_token=t%20ok&hub.challenge=1158201444";
        assert_eq!(
            meta_subscribe(q, &["other", "t ok"]).as_deref(),
            Some("1158201444")
        );
        assert_eq!(meta_subscribe(q, &["t ko"]), None);
        assert_eq!(meta_subscribe(q, &[]), None);
        let unsubscribe = "hub.mode=unsubscribe&hub.verify_token=t&hub.challenge=1";
        assert_eq!(meta_subscribe(unsubscribe, &["t"]), None);
        assert_eq!(
            meta_subscribe("hub.mode=subscribe&hub.verify_token=t", &["t"]),
            None
        );
    }
}
