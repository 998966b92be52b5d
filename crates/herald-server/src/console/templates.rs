//! The pages' templates (askama, compiled into the binary from `templates/console`).

use askama::Template;

use super::view::{AttemptRow, DeliveryRow, EndpointRow, EventRow, RequestRow, SourceRow, When};

#[derive(Template)]
#[template(path = "console/login.html")]
pub struct Login {
    pub error: Option<String>,
}

#[derive(Template)]
#[template(path = "console/problem.html")]
pub struct ProblemPage {
    pub title: String,
    pub status: u16,
    pub message: String,
}

/// What every signed-in page has: the section it belongs to, the CSRF token of its forms,
/// and a notice from the action that led here.
pub struct Frame {
    pub nav: &'static str,
    pub csrf: String,
    pub notice: Option<String>,
    pub scope: String,
}

pub struct Count {
    pub label: &'static str,
    pub n: u64,
    /// The count is a lower bound: there may be more than were looked at.
    pub more: bool,
    pub class: &'static str,
}

#[derive(Template)]
#[template(path = "console/overview.html")]
pub struct Overview {
    pub f: Frame,
    pub hour: Vec<Count>,
    pub day: Vec<Count>,
    pub backlog: Count,
    pub failing: Vec<(String, u64)>,
    /// The failing list counts only the newest deliveries (more may be older).
    pub failing_more: bool,
    /// How many of the newest deliveries the counts looked at.
    pub examined: usize,
    pub disabled: Vec<EndpointRow>,
}

#[derive(Template)]
#[template(path = "console/deliveries.html")]
pub struct Deliveries {
    pub f: Frame,
    pub rows: Vec<DeliveryRow>,
    pub filter: FilterForm,
    pub next: Option<String>,
    /// The page ended early: this many deliveries were looked at (older ones may match).
    pub searched: Option<usize>,
}

/// The filter fields as typed (to fill the form again) and as a query string.
#[derive(Default)]
pub struct FilterForm {
    pub state: String,
    pub endpoint_id: String,
    pub event_type: String,
    pub source_id: String,
    pub status: String,
    pub since: String,
    pub until: String,
    pub query: String,
}

#[derive(Template)]
#[template(path = "console/bulk_retry.html")]
pub struct BulkConfirm {
    pub f: Frame,
    pub filter: FilterForm,
    pub matched: usize,
    pub limit: usize,
}

#[derive(Template)]
#[template(path = "console/delivery.html")]
pub struct DeliveryPage {
    pub f: Frame,
    pub d: DeliveryRow,
    pub event_type: String,
    pub next_attempt: Option<When>,
    pub attempts: Vec<AttemptRow>,
}

#[derive(Template)]
#[template(path = "console/events.html")]
pub struct Events {
    pub f: Frame,
    pub rows: Vec<EventRow>,
    pub event_type: String,
    /// `type=…` for the next page's link.
    pub type_query: String,
    pub next: Option<String>,
}

#[derive(Template)]
#[template(path = "console/event.html")]
pub struct EventPage {
    pub f: Frame,
    pub e: EventRow,
    pub content_type: String,
    pub payload: String,
    pub ordering_key: String,
    pub deliveries: Vec<DeliveryRow>,
}

#[derive(Template)]
#[template(path = "console/endpoints.html")]
pub struct Endpoints {
    pub f: Frame,
    pub rows: Vec<EndpointRow>,
    pub next: Option<String>,
}

#[derive(Template)]
#[template(path = "console/endpoint.html")]
pub struct EndpointPage {
    pub f: Frame,
    pub e: EndpointRow,
    pub settings: Vec<(String, String)>,
    pub health: Vec<(String, String)>,
    pub deliveries: Vec<DeliveryRow>,
    pub secret: Option<String>,
}

#[derive(Template)]
#[template(path = "console/sources.html")]
pub struct Sources {
    pub f: Frame,
    pub rows: Vec<SourceRow>,
    pub next: Option<String>,
}

#[derive(Template)]
#[template(path = "console/source.html")]
pub struct SourcePage {
    pub f: Frame,
    pub s: SourceRow,
    pub ingest_url: String,
    pub requests: Vec<RequestRow>,
    pub next: Option<String>,
}

#[derive(Template)]
#[template(path = "console/tail.html")]
pub struct TailPage {
    pub f: Frame,
}
