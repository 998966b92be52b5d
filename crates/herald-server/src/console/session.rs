//! Sign-in by API key → a session cookie, kept in the store (so every node of a PostgreSQL
//! deployment knows it). A session has its key's scope and lasts while the key does:
//! every request checks the key again, so revoking it ends its sessions.

use axum::extract::{FromRequestParts, State};
use axum::http::header::{COOKIE, HOST, ORIGIN, SET_COOKIE};
use axum::http::request::Parts;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Redirect, Response};
use axum::Form;
use base64::Engine;
use rand::RngCore;
use serde::Deserialize;
use subtle::ConstantTimeEq;

use super::page::{render, Problem};
use super::templates::Login;
use crate::api::extract::{hash_key, scope_of};
use crate::api::AppState;
use crate::domain::Scope;
use crate::store::ConsoleSession;

const COOKIE_NAME: &str = "herald_session";
/// How long a sign-in lasts at most.
const LIFETIME_MS: i64 = 12 * 3600 * 1000;

/// The signed-in user of a console request.
pub struct Viewer {
    pub scope: Scope,
    /// The token this session's forms carry.
    pub csrf: String,
    id_hash: String,
    key_hash: String,
}

fn random_token() -> String {
    let mut bytes = [0u8; 32];
    rand::rngs::OsRng.fill_bytes(&mut bytes);
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes)
}

fn cookie_value(headers: &HeaderMap) -> Option<&str> {
    headers
        .get_all(COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(name, _)| *name == COOKIE_NAME)
        .map(|(_, value)| value)
}

/// What a request without a live session gets: the sign-in page.
pub struct SignInFirst;

impl IntoResponse for SignInFirst {
    fn into_response(self) -> Response {
        Redirect::to("/ui/login").into_response()
    }
}

impl FromRequestParts<AppState> for Viewer {
    type Rejection = Response;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, Response> {
        Viewer::of(state, &parts.headers).await
    }
}

impl Viewer {
    /// The session the request's cookie names, if it is live.
    async fn of(state: &AppState, headers: &HeaderMap) -> Result<Viewer, Response> {
        let value = cookie_value(headers).ok_or_else(|| SignInFirst.into_response())?;
        let id_hash = hash_key(value);
        let session = state
            .store
            .find_session(id_hash.clone())
            .await
            .map_err(|e| Problem::from(crate::api::ApiError::from(e)).into_response())?
            .ok_or_else(|| SignInFirst.into_response())?;
        let scope = if session.expires_at <= state.now_ms() {
            None
        } else {
            scope_of(state, &session.key_hash).await.ok()
        };
        match scope {
            Some(scope) => Ok(Viewer {
                scope,
                csrf: session.csrf,
                id_hash,
                key_hash: session.key_hash,
            }),
            None => {
                // Expired, or its key was revoked: the session ends here.
                let _ = state.store.delete_session(id_hash).await;
                Err(SignInFirst.into_response())
            }
        }
    }

    /// For what outlives a request (the tail): false once the session ended (sign-out,
    /// expiry) or its key was revoked. A store that cannot answer is not an ending.
    pub async fn is_live(&self, state: &AppState) -> bool {
        match state.store.find_session(self.id_hash.clone()).await {
            Ok(None) => false,
            Ok(Some(s)) if s.expires_at <= state.now_ms() => false,
            Ok(Some(_)) => !matches!(
                scope_of(state, &self.key_hash).await,
                Err(e) if e.status == StatusCode::UNAUTHORIZED
            ),
            Err(_) => true,
        }
    }

    /// 403 unless `token` is this session's CSRF token (compared in constant time).
    pub fn check_csrf(&self, token: &str) -> Result<(), Problem> {
        if bool::from(self.csrf.as_bytes().ct_eq(token.as_bytes())) {
            Ok(())
        } else {
            Err(csrf_refusal())
        }
    }
}

pub async fn login_form(State(state): State<AppState>, headers: HeaderMap) -> Response {
    if Viewer::of(&state, &headers).await.is_ok() {
        return Redirect::to("/ui/").into_response();
    }
    render(StatusCode::OK, &Login { error: None })
}

#[derive(Deserialize)]
pub struct LoginForm {
    #[serde(default)]
    key: String,
}

/// A sign-in POST must come from this origin when the browser says where it came from
/// (a login-CSRF guard: no other site can sign a user in with its own key).
fn same_origin(headers: &HeaderMap) -> bool {
    let Some(origin) = headers.get(ORIGIN).and_then(|v| v.to_str().ok()) else {
        return true;
    };
    let host = headers.get(HOST).and_then(|v| v.to_str().ok()).unwrap_or("");
    let bare = origin
        .strip_prefix("http://")
        .or_else(|| origin.strip_prefix("https://"))
        .unwrap_or("");
    !host.is_empty() && bare == host
}

pub async fn login(
    State(state): State<AppState>,
    headers: HeaderMap,
    Form(form): Form<LoginForm>,
) -> Response {
    if !same_origin(&headers) {
        return Problem::new(
            StatusCode::FORBIDDEN,
            "A sign-in must come from this console's own page.",
        )
        .into_response();
    }
    let key = form.key.trim();
    let key_hash = hash_key(key);
    if key.is_empty() || scope_of(&state, &key_hash).await.is_err() {
        let error = Some("That key is not valid, or it has been revoked.".to_string());
        return render(StatusCode::UNAUTHORIZED, &Login { error });
    }
    let value = random_token();
    let now = state.now_ms();
    let session = ConsoleSession {
        id_hash: hash_key(&value),
        key_hash,
        csrf: random_token(),
        created_at: now,
        expires_at: now + LIFETIME_MS,
    };
    if let Err(e) = state.store.create_session(session).await {
        return Problem::from(crate::api::ApiError::from(e)).into_response();
    }
    let secure = if state.config.tls.is_some() {
        "; Secure"
    } else {
        ""
    };
    let cookie = format!(
        "{COOKIE_NAME}={value}; Path=/ui; HttpOnly; SameSite=Strict; Max-Age={}{secure}",
        LIFETIME_MS / 1000
    );
    ([(SET_COOKIE, cookie)], Redirect::to("/ui/")).into_response()
}

/// A console form's fields. A body that is not a form cannot carry the CSRF token, so it is
/// refused as a forgery would be (403), not with the form parser's 415 or 422.
pub struct Posted<T>(pub T);

impl<T: serde::de::DeserializeOwned + Send> axum::extract::FromRequest<AppState> for Posted<T> {
    type Rejection = Problem;

    async fn from_request(req: axum::extract::Request, state: &AppState) -> Result<Self, Problem> {
        match Form::<T>::from_request(req, state).await {
            Ok(Form(v)) => Ok(Posted(v)),
            Err(_) => Err(csrf_refusal()),
        }
    }
}

fn csrf_refusal() -> Problem {
    Problem::new(
        StatusCode::FORBIDDEN,
        "This form has expired or did not come from this console (CSRF token missing or wrong). Reload the page and try again.",
    )
}

#[derive(Deserialize)]
pub struct CsrfOnly {
    #[serde(default)]
    pub csrf: String,
}

pub async fn logout(
    State(state): State<AppState>,
    viewer: Viewer,
    Posted(form): Posted<CsrfOnly>,
) -> Response {
    if let Err(p) = viewer.check_csrf(&form.csrf) {
        return p.into_response();
    }
    if let Err(e) = state.store.delete_session(viewer.id_hash).await {
        return Problem::from(crate::api::ApiError::from(e)).into_response();
    }
    let cookie = format!("{COOKIE_NAME}=; Path=/ui; HttpOnly; SameSite=Strict; Max-Age=0");
    ([(SET_COOKIE, cookie)], Redirect::to("/ui/login")).into_response()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_its_cookie_among_others() {
        let mut h = HeaderMap::new();
        h.insert(COOKIE, "a=1; herald_session=abc; b=2".parse().unwrap());
        assert_eq!(cookie_value(&h), Some("abc"));
        h.insert(COOKIE, "herald_sessionx=abc".parse().unwrap());
        assert_eq!(cookie_value(&h), None);
    }

    #[test]
    fn sign_in_origin_must_match_the_host() {
        let mut h = HeaderMap::new();
        assert!(same_origin(&h), "no Origin: a non-browser client");
        h.insert(HOST, "127.0.0.1:8080".parse().unwrap());
        h.insert(ORIGIN, "http://127.0.0.1:8080".parse().unwrap());
        assert!(same_origin(&h));
        h.insert(ORIGIN, "https://evil.example".parse().unwrap());
        assert!(!same_origin(&h));
        h.insert(ORIGIN, "null".parse().unwrap());
        assert!(!same_origin(&h));
    }
}
