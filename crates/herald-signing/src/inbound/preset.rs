//! What a provider preset is: the data that says how one provider signs its webhooks, where
//! its event type and delivery id are, and which handshake it expects. Each provider's file
//! holds one [`Preset`]; [`super::catalogue`] lists them.

use std::fmt;

use super::{check_age, check_tolerance, InboundError, InboundRequest, Verified};

/// How a preset treats the time it signs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Clock {
    /// Nothing time-based is signed: replays are the de-duplication's job.
    Unsigned,
    /// The signed time must be within the tolerance of now, either way.
    EitherWay,
    /// Only the age is checked: a time from the future is accepted (Stripe, HubSpot).
    AgeOnly,
}

/// A provider's handshake: a request that proves the URL works and expects a particular
/// answer instead of an acknowledgement. Except Meta's, every one is signed like any other
/// request of the provider, and herald answers it only once the signature verifies.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Handshake {
    /// Slack `{"type": "url_verification", "challenge": C}` → `{"challenge": C}`.
    SlackUrlVerification,
    /// Twitch `Twitch-Eventsub-Message-Type: webhook_callback_verification` → the JSON
    /// body's `challenge`, as plain text.
    TwitchCallbackVerification,
    /// Zoom `{"event": "endpoint.url_validation", "payload": {"plainToken": P}}` →
    /// `{"plainToken": P, "encryptedToken": hex(HMAC-SHA256(secret token, P))}`.
    ZoomUrlValidation,
    /// Discord `{"type": 1}` (PING) → `{"type": 1}` (PONG).
    DiscordPing,
    /// Meta `GET ?hub.mode=subscribe&hub.verify_token=T&hub.challenge=C` → `C` when `T` is
    /// the source's verify token. Not signed: the token is the proof.
    MetaSubscribe,
}

impl Handshake {
    /// The handshake's name in the preset list.
    pub fn name(self) -> &'static str {
        match self {
            Self::SlackUrlVerification => "slack url_verification",
            Self::TwitchCallbackVerification => "twitch webhook_callback_verification",
            Self::ZoomUrlValidation => "zoom endpoint.url_validation",
            Self::DiscordPing => "discord PING",
            Self::MetaSubscribe => "meta hub.challenge (GET)",
        }
    }
}

/// What kind of secret a preset is given.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SecretKind {
    /// A shared secret both sides sign with.
    Shared,
    /// The provider's public key (asymmetric signatures).
    PublicKey,
    /// Credentials the provider sends as they are (Basic, Bearer).
    Credentials,
    /// Nothing: the preset checks nothing.
    Nothing,
}

/// One request being verified against one preset.
pub(crate) struct Check<'a> {
    pub secrets: &'a [&'a str],
    pub req: &'a InboundRequest<'a>,
    pub now: i64,
    pub tolerance_s: i64,
}

impl Check<'_> {
    pub fn headers(&self) -> &[(&str, &str)] {
        self.req.headers
    }

    pub fn body(&self) -> &[u8] {
        self.req.body
    }

    /// Applies `clock` to a signed timestamp (unix seconds).
    pub fn clock(&self, clock: Clock, timestamp: i64) -> Result<(), InboundError> {
        match clock {
            Clock::Unsigned => Ok(()),
            Clock::EitherWay => check_tolerance(timestamp, self.now, self.tolerance_s),
            Clock::AgeOnly => check_age(timestamp, self.now, self.tolerance_s),
        }
    }

    /// Like [`Check::clock`] for a time in milliseconds, compared to the millisecond (as
    /// Linear's SDK does); a refusal reports whole seconds.
    pub fn clock_ms(&self, clock: Clock, timestamp_ms: i64) -> Result<(), InboundError> {
        let age_ms = self.now.saturating_mul(1000).saturating_sub(timestamp_ms);
        let limit = self.tolerance_s.saturating_mul(1000);
        let refused = match clock {
            Clock::Unsigned => false,
            Clock::EitherWay => age_ms.unsigned_abs() > limit.unsigned_abs(),
            Clock::AgeOnly => age_ms > limit,
        };
        if refused {
            return Err(InboundError::TimestampOutOfTolerance {
                age_s: age_ms.div_euclid(1000),
                tolerance_s: self.tolerance_s,
            });
        }
        Ok(())
    }
}

pub(crate) type VerifyFn = fn(&Check<'_>) -> Result<Verified, InboundError>;
pub(crate) type SecretFn = fn(&str) -> Result<(), String>;

/// Any non-empty secret will do (the catalogue has already refused an empty one).
pub(crate) fn any_secret(_: &str) -> Result<(), String> {
    Ok(())
}

/// One provider's webhooks, as data.
pub struct Preset {
    /// The `verify.scheme` name.
    pub name: &'static str,
    /// Who sends these webhooks.
    pub provider: &'static str,
    /// What herald checks, in a sentence.
    pub checks: &'static str,
    /// What the user gives as the secret.
    pub secret: &'static str,
    pub secret_kind: SecretKind,
    /// Every header that may carry the signature or credential (lower case): what a server
    /// redacts before storing a request.
    pub signature_headers: &'static [&'static str],
    pub clock: Clock,
    /// The default tolerance for a signed time, in seconds (the provider's own).
    pub tolerance_s: i64,
    /// The provider signs the URL it calls: herald must know its public URL.
    pub signs_url: bool,
    /// The signature covers the body (Mailgun's does not: it signs a token and a time).
    pub signs_body: bool,
    /// Where the provider says what happened: `header:NAME`, `json:/pointer` or `const:TYPE`.
    pub event_type: &'static str,
    /// Where the provider's delivery id is, for de-duplication (`header:NAME` or
    /// `json:/pointer`); `None` when it sends none that is stable across retries.
    pub dedupe: Option<&'static str>,
    /// The prefix given to event types by default.
    pub type_prefix: Option<&'static str>,
    pub handshake: Option<Handshake>,
    /// Where the preset's details come from, for the reader.
    pub reference: &'static str,
    pub(crate) verify: VerifyFn,
    /// Why a secret cannot be used with this preset, if it cannot.
    pub(crate) check_secret: SecretFn,
}

impl Preset {
    /// True for the presets that sign a time, where the tolerance applies.
    pub fn is_timestamped(&self) -> bool {
        self.clock != Clock::Unsigned
    }
}

impl PartialEq for Preset {
    fn eq(&self, other: &Self) -> bool {
        self.name == other.name
    }
}

impl Eq for Preset {}

impl fmt::Debug for Preset {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Preset")
            .field("name", &self.name)
            .finish_non_exhaustive()
    }
}
