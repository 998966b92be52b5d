//! Rendering: a page's template to an HTML response, and problems as pages.

use askama::Template;
use axum::http::header::CONTENT_TYPE;
use axum::http::StatusCode;
use axum::response::{Html, IntoResponse, Response};

use super::templates::ProblemPage;
use crate::api::ApiError;

/// Renders a template; a template that cannot render is a 500 (logged).
pub fn render(status: StatusCode, page: &impl Template) -> Response {
    match page.render() {
        Ok(html) => (status, Html(html)).into_response(),
        Err(e) => {
            tracing::error!(error = %e, "a console template failed to render");
            (
                StatusCode::INTERNAL_SERVER_ERROR,
                [(CONTENT_TYPE, "text/plain")],
                "the page could not be rendered",
            )
                .into_response()
        }
    }
}

/// Something the console could not do, shown as a page with the API's message.
#[derive(Debug)]
pub struct Problem {
    pub status: StatusCode,
    pub message: String,
}

impl Problem {
    pub fn new(status: StatusCode, message: impl Into<String>) -> Self {
        Problem {
            status,
            message: message.into(),
        }
    }
}

impl From<ApiError> for Problem {
    fn from(e: ApiError) -> Self {
        Problem::new(e.status, e.message)
    }
}

impl From<crate::store::StoreError> for Problem {
    fn from(e: crate::store::StoreError) -> Self {
        ApiError::from(e).into()
    }
}

impl IntoResponse for Problem {
    fn into_response(self) -> Response {
        let title = self.status.canonical_reason().unwrap_or("Error").to_string();
        render(
            self.status,
            &ProblemPage {
                title,
                status: self.status.as_u16(),
                message: self.message,
            },
        )
    }
}

pub type PageResult = Result<Response, Problem>;
