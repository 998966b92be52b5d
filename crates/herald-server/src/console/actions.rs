//! The forms' actions. Each checks the session's CSRF token, calls the API's operation in
//! the viewer's scope, and redirects (POST → redirect → GET) to a page with a notice.

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use serde::Deserialize;

use super::page::{render, PageResult, Problem};
use super::pages::{cleaned, endpoint_page, filter_form, frame};
use super::session::{CsrfOnly, Posted, Viewer};
use super::templates::BulkConfirm;
use crate::api::deliveries::{bulk_retry as bulk, FilterParams, MAX_BULK_RETRY};
use crate::api::operations::{self, RotateBody, TestBody};
use crate::api::AppState;
use crate::domain::{parse_rfc3339, EndpointPatch};

fn back_to(path: &str, notice: &str) -> Response {
    let query = serde_urlencoded::to_string([("notice", notice)]).unwrap_or_default();
    Redirect::to(&format!("{path}?{query}")).into_response()
}

pub async fn retry(
    State(state): State<AppState>,
    viewer: Viewer,
    Path(id): Path<String>,
    Posted(form): Posted<CsrfOnly>,
) -> PageResult {
    viewer.check_csrf(&form.csrf)?;
    operations::retry_delivery(&state, &viewer.scope, &id).await?;
    Ok(back_to(
        &format!("/ui/deliveries/{id}"),
        "Queued again: the next attempt is on its way.",
    ))
}

#[derive(Deserialize)]
pub struct BulkForm {
    #[serde(default)]
    csrf: String,
    /// Present once the user saw the count and confirmed.
    confirm: Option<String>,
    #[serde(flatten)]
    filter: FilterParams,
}

/// First a dry run that shows how many would be retried; then, confirmed, the retry.
pub async fn bulk_retry(
    State(state): State<AppState>,
    viewer: Viewer,
    Posted(form): Posted<BulkForm>,
) -> PageResult {
    viewer.check_csrf(&form.csrf)?;
    let filter = cleaned(form.filter);
    let parsed = filter.parse()?;
    let confirmed = form.confirm.as_deref() == Some("yes");
    let n = bulk(&state, &viewer.scope, parsed, !confirmed).await?;
    let shown = filter_form(&filter);
    if confirmed {
        let query = shown.query.clone();
        let sep = if query.is_empty() { "" } else { "&" };
        let notice =
            serde_urlencoded::to_string([("notice", format!("Retried {n} deliveries."))]).unwrap_or_default();
        return Ok(Redirect::to(&format!("/ui/deliveries?{query}{sep}{notice}")).into_response());
    }
    Ok(render(
        StatusCode::OK,
        &BulkConfirm {
            f: frame(&viewer, "deliveries", None),
            filter: shown,
            matched: n,
            limit: MAX_BULK_RETRY,
        },
    ))
}

pub async fn replay(
    State(state): State<AppState>,
    viewer: Viewer,
    Path(id): Path<String>,
    Posted(form): Posted<CsrfOnly>,
) -> PageResult {
    viewer.check_csrf(&form.csrf)?;
    let n = operations::replay_event(&state, &viewer.scope, &id, None).await?;
    Ok(back_to(
        &format!("/ui/events/{id}"),
        &format!("Replayed: {n} new deliveries."),
    ))
}

#[derive(Deserialize)]
pub struct TestForm {
    #[serde(default)]
    csrf: String,
    #[serde(rename = "type")]
    event_type: Option<String>,
}

pub async fn test(
    State(state): State<AppState>,
    viewer: Viewer,
    Path(id): Path<String>,
    Posted(form): Posted<TestForm>,
) -> PageResult {
    viewer.check_csrf(&form.csrf)?;
    let body = TestBody {
        event_type: form.event_type.filter(|t| !t.trim().is_empty()),
        payload: None,
    };
    let summary = operations::send_test(&state, &viewer.scope, &id, body).await?;
    Ok(back_to(
        &format!("/ui/endpoints/{id}"),
        &format!("Test event {} sent.", summary.id),
    ))
}

async fn set_disabled(state: &AppState, viewer: &Viewer, id: &str, disabled: bool) -> Result<(), Problem> {
    let patch = EndpointPatch {
        disabled: Some(disabled),
        ..Default::default()
    };
    state
        .store
        .update_endpoint(&viewer.scope, id, patch)
        .await?
        .ok_or_else(|| Problem::new(StatusCode::NOT_FOUND, "endpoint not found"))?;
    state.work_arrived();
    Ok(())
}

pub async fn disable(
    State(state): State<AppState>,
    viewer: Viewer,
    Path(id): Path<String>,
    Posted(form): Posted<CsrfOnly>,
) -> PageResult {
    viewer.check_csrf(&form.csrf)?;
    set_disabled(&state, &viewer, &id, true).await?;
    Ok(back_to(
        &format!("/ui/endpoints/{id}"),
        "Disabled: deliveries wait until it is enabled.",
    ))
}

pub async fn enable(
    State(state): State<AppState>,
    viewer: Viewer,
    Path(id): Path<String>,
    Posted(form): Posted<CsrfOnly>,
) -> PageResult {
    viewer.check_csrf(&form.csrf)?;
    set_disabled(&state, &viewer, &id, false).await?;
    Ok(back_to(&format!("/ui/endpoints/{id}"), "Enabled."))
}

/// Shows the signing secret on the endpoint page (a POST, so it never lands in a URL or
/// the browser's history).
pub async fn reveal(
    State(state): State<AppState>,
    viewer: Viewer,
    Path(id): Path<String>,
    Posted(form): Posted<CsrfOnly>,
) -> PageResult {
    viewer.check_csrf(&form.csrf)?;
    let ep = crate::api::endpoints::visible(&state, &viewer.scope, &id).await?;
    let secret = ep.secrets.first().map(|s| ep.signature.for_receiver(&s.secret));
    endpoint_page(&state, &viewer, &id, None, secret).await
}

pub async fn rotate(
    State(state): State<AppState>,
    viewer: Viewer,
    Path(id): Path<String>,
    Posted(form): Posted<CsrfOnly>,
) -> PageResult {
    viewer.check_csrf(&form.csrf)?;
    let rotated = operations::rotate_secret(&state, &viewer.scope, &id, RotateBody::default()).await?;
    let until = rotated.previous_secret_expires_at.unwrap_or_default();
    let notice = format!("Rotated. The previous secret keeps signing until {until}.");
    endpoint_page(&state, &viewer, &id, Some(notice), Some(rotated.secret)).await
}

#[derive(Deserialize)]
pub struct RecoverForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    since: String,
}

pub async fn recover(
    State(state): State<AppState>,
    viewer: Viewer,
    Path(id): Path<String>,
    Posted(form): Posted<RecoverForm>,
) -> PageResult {
    viewer.check_csrf(&form.csrf)?;
    let since = parse_rfc3339(form.since.trim()).ok_or_else(|| {
        Problem::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            "since: must be an RFC 3339 time such as 2026-05-11T09:00:00Z",
        )
    })?;
    let n = operations::recover_since(&state, &viewer.scope, &id, since).await?;
    Ok(back_to(
        &format!("/ui/endpoints/{id}"),
        &format!("Recovered {n} deliveries."),
    ))
}
