//! The OpenAPI description, generated from the handlers' annotations (`utoipa`): every
//! route is registered through `utoipa-axum`, so the router and the document cannot drift.
//! This module adds what is common to all routes: the error body and its statuses, and
//! Bearer auth on `/v1`.

use utoipa::openapi::path::Operation;
use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityRequirement, SecurityScheme};
use utoipa::openapi::{ContentBuilder, OpenApi, Ref, ResponseBuilder};
use utoipa::ToSchema;

/// Every error answer: `{"error": {"code": "…", "message": "…"}}`.
#[derive(serde::Serialize, ToSchema)]
pub struct ErrorBody {
    error: ErrorDetail,
}

#[derive(serde::Serialize, ToSchema)]
pub struct ErrorDetail {
    /// A stable snake_case code, e.g. `invalid_field`.
    code: String,
    /// What went wrong; for 422 it starts with the field's path.
    message: String,
}

#[derive(utoipa::OpenApi)]
#[openapi(
    info(
        title = "herald",
        description = "A self-hosted webhook gateway: outbound delivery, inbound verification, pull endpoints."
    ),
    components(schemas(ErrorBody, ErrorDetail))
)]
pub struct ApiDoc;

const V1_ERRORS: &[(&str, &str)] = &[
    ("400", "Malformed request (invalid JSON)"),
    ("401", "Missing or invalid API key"),
    ("403", "Out of the key's scope"),
    ("404", "No such object (or not visible to this key)"),
    ("405", "Method not allowed"),
    ("409", "Conflict"),
    ("413", "Payload too large"),
    ("422", "Invalid field; the message names it"),
    ("500", "Internal error (details are in the server log)"),
    ("503", "Not ready"),
];

const INBOUND_ERRORS: &[(&str, &str)] = &[
    ("400", "Malformed request, or the de-duplication key is missing"),
    ("401", "Missing or invalid signature"),
    ("403", "Sender not in the source's allow_ips"),
    ("404", "No such source"),
    ("405", "Method not allowed"),
    ("413", "Body too large"),
    ("500", "Internal error"),
    ("503", "Not ready"),
];

fn add_errors(op: &mut Operation, errors: &[(&str, &str)]) {
    for (status, description) in errors {
        op.responses
            .responses
            .entry(status.to_string())
            .or_insert_with(|| {
                ResponseBuilder::new()
                    .description(*description)
                    .content(
                        "application/json",
                        ContentBuilder::new()
                            .schema(Some(Ref::from_schema_name("ErrorBody")))
                            .build(),
                    )
                    .build()
                    .into()
            });
    }
}

/// The document itself, served at `/openapi.json`.
fn self_path() -> utoipa::openapi::PathItem {
    let op = utoipa::openapi::path::OperationBuilder::new()
        .tag("health")
        .summary(Some("This OpenAPI document"))
        .response(
            "200",
            ResponseBuilder::new()
                .description("OpenAPI 3.1 document")
                .content("application/json", ContentBuilder::new().build()),
        )
        .build();
    utoipa::openapi::PathItem::new(utoipa::openapi::HttpMethod::Get, op)
}

/// Adds the common parts to the generated document.
pub fn finish(mut doc: OpenApi) -> OpenApi {
    doc.paths.paths.insert("/openapi.json".to_string(), self_path());
    let components = doc.components.get_or_insert_with(Default::default);
    components.add_security_scheme(
        "bearer",
        SecurityScheme::Http(HttpBuilder::new().scheme(HttpAuthScheme::Bearer).build()),
    );
    for (path, item) in doc.paths.paths.iter_mut() {
        let (errors, auth) = if path.starts_with("/v1/") {
            (V1_ERRORS, true)
        } else if path.starts_with("/in/") {
            (INBOUND_ERRORS, false)
        } else {
            (&V1_ERRORS[V1_ERRORS.len() - 1..], false)
        };
        for op in [
            &mut item.get,
            &mut item.post,
            &mut item.patch,
            &mut item.delete,
            &mut item.put,
        ]
        .into_iter()
        .flatten()
        {
            add_errors(op, errors);
            if auth {
                op.security = Some(vec![SecurityRequirement::new("bearer", Vec::<String>::new())]);
            }
        }
    }
    doc
}
