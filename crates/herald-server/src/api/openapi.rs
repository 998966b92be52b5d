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
    ("408", "The request body arrived too slowly"),
    ("409", "Conflict"),
    ("413", "Payload too large"),
    ("422", "Invalid field; the message names it"),
    ("429", "Too many requests for this key; see Retry-After"),
    ("500", "Internal error (details are in the server log)"),
    ("503", "Not ready"),
];

const INBOUND_ERRORS: &[(&str, &str)] = &[
    ("400", "Malformed request, or the de-duplication key is missing"),
    ("401", "Missing or invalid signature"),
    ("403", "Sender not in the source's allow_ips"),
    ("404", "No such source"),
    ("405", "Method not allowed"),
    ("408", "The request body arrived too slowly"),
    ("413", "Body too large"),
    ("429", "Too many requests for this source; see Retry-After"),
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

/// Adds the common parts to the generated document, then the rules derive macros cannot
/// state (see [`refine`]); the result is served as JSON.
pub fn finish(doc: OpenApi) -> serde_json::Value {
    let mut value = serde_json::to_value(common(doc)).expect("the document serializes");
    refine(&mut value);
    value
}

fn common(mut doc: OpenApi) -> OpenApi {
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

/// A case-insensitive regex for a literal such as a header name.
fn any_case(s: &str) -> String {
    s.chars()
        .map(|c| match c {
            c if c.is_ascii_alphabetic() => format!("[{}{}]", c.to_ascii_lowercase(), c.to_ascii_uppercase()),
            '.' => "\\.".to_string(),
            c => c.to_string(),
        })
        .collect()
}

/// Custom headers of an endpoint: names of letters, digits and `-`, none of herald's own.
fn headers_schema() -> serde_json::Value {
    let reserved: Vec<String> = super::fields::RESERVED_HEADERS
        .iter()
        .map(|h| format!("{}$", any_case(h)))
        .chain(std::iter::once(any_case("x-herald-")))
        .collect();
    serde_json::json!({
        "type": ["object", "null"],
        "description": "Extra headers sent with every delivery; herald's own headers cannot be set.",
        "maxProperties": 50,
        "propertyNames": {"pattern": format!("^(?!(?:{}))[A-Za-z0-9-]{{1,64}}$", reserved.join("|"))},
        "additionalProperties": {"type": "string", "maxLength": 4096, "pattern": "^[^\\x00-\\x08\\x0a-\\x1f\\x7f]*$"}
    })
}

/// One way to configure a source's verification: a scheme group, with `secret` or `secrets`.
fn verify_variant(
    schemes: &[&str],
    secret: serde_json::Value,
    single: bool,
    hmac: bool,
) -> serde_json::Value {
    let mut props = serde_json::json!({
        "scheme": {"type": "string", "enum": schemes},
        "tolerance_s": {"type": ["integer", "null"], "minimum": 1, "maximum": 86400,
                        "description": "For timestamped schemes: how far the signed time may be from now (300)."}
    });
    let key = if single { "secret" } else { "secrets" };
    props[key] = if single {
        secret
    } else {
        serde_json::json!({"type": "array", "minItems": 1, "maxItems": 10, "items": secret})
    };
    if hmac {
        props["header"] = serde_json::json!({"type": ["string", "null"], "pattern": "^[A-Za-z0-9-]{1,64}$"});
        props["algorithm"] = serde_json::json!({"enum": ["sha1", "sha256", "sha512", null]});
        props["encoding"] = serde_json::json!({"enum": ["hex", "base64", null]});
        props["prefix"] = serde_json::json!({"type": ["string", "null"], "maxLength": 32});
    }
    serde_json::json!({"type": "object", "required": ["scheme", key], "additionalProperties": false, "properties": props})
}

fn verify_schema() -> serde_json::Value {
    let any = serde_json::json!({"type": "string", "pattern": "[!-~]", "maxLength": 512});
    let whsec = serde_json::json!({"type": "string", "pattern": "^whsec_([A-Za-z0-9+/]{4}){8,21}$"});
    let basic = serde_json::json!({"type": "string", "pattern": ":", "maxLength": 512});
    let mut variants = Vec::new();
    for single in [true, false] {
        variants.push(verify_variant(
            &["stripe", "github", "shopify", "slack", "bearer"],
            any.clone(),
            single,
            false,
        ));
        variants.push(verify_variant(&["standard"], whsec.clone(), single, false));
        variants.push(verify_variant(&["basic"], basic.clone(), single, false));
        variants.push(verify_variant(&["hmac"], any.clone(), single, true));
    }
    variants.push(serde_json::json!({
        "type": "object", "required": ["scheme"], "additionalProperties": false,
        "properties": {"scheme": {"type": "string", "enum": ["none"]}}
    }));
    serde_json::json!({"description": "How requests are verified: a scheme and its secret(s).", "oneOf": variants})
}

/// Rules the derive macros cannot state: header maps, a payload that is any JSON but
/// `null`, and the shapes of a source's settings.
fn refine(doc: &mut serde_json::Value) {
    let schemas = &mut doc["components"]["schemas"];
    for name in ["CreateEndpoint", "PatchEndpoint"] {
        schemas[name]["properties"]["headers"] = headers_schema();
    }
    schemas["PublishRequest"]["properties"]["payload"] = serde_json::json!({"description": "Any JSON but null; delivered byte for byte as sent.", "not": {"type": "null"}});
    schemas["VerifyBody"] = verify_schema();
    let ips = serde_json::json!({"type": ["array", "null"], "maxItems": 100, "items": {"anyOf": [
        {"type": "string", "format": "ipv4"},
        {"type": "string", "format": "ipv6"},
        {"type": "string", "pattern": "^((25[0-5]|2[0-4][0-9]|1[0-9]{2}|[1-9]?[0-9])\\.){3}(25[0-5]|2[0-4][0-9]|1[0-9]{2}|[1-9]?[0-9])/(3[0-2]|[12]?[0-9])$"}
    ]}});
    let type_rule = serde_json::json!({"type": ["string", "null"], "pattern": "^(header:[A-Za-z0-9-]{1,64}|json:(/.*)?|const:.+)$",
        "description": "header:NAME, json:/pointer or const:TYPE"});
    let prefix = serde_json::json!({"type": ["string", "null"], "maxLength": 199, "pattern": "^([A-Za-z0-9_:-]+\\.)*[A-Za-z0-9_:-]*$"});
    let name = serde_json::json!({"type": "string", "minLength": 1, "maxLength": 200, "pattern": "\\S"});
    schemas["CreateSource"]["required"] = serde_json::json!(["name", "verify"]);
    schemas["CreateSource"]["properties"]["tenant"] =
        serde_json::json!({"type": ["string", "null"], "pattern": "^[A-Za-z0-9_.:@-]{1,128}$"});
    for source in ["CreateSource", "PatchSource"] {
        let props = &mut schemas[source]["properties"];
        props["verify"] = if source == "CreateSource" {
            serde_json::json!({"$ref": "#/components/schemas/VerifyBody"})
        } else {
            serde_json::json!({"oneOf": [{"$ref": "#/components/schemas/VerifyBody"}, {"type": "null"}]})
        };
        props["allow_ips"] = ips.clone();
        props["event_type"] = type_rule.clone();
        props["type_prefix"] = prefix.clone();
        props["name"] = name.clone();
    }
    schemas["PatchSource"]["properties"]["name"]["type"] = serde_json::json!(["string", "null"]);
    schemas["AckBody"]["anyOf"] = serde_json::json!([{"required": ["ids"]}, {"required": ["delivery_ids"]}]);
    schemas["DedupeBody"] = serde_json::json!({
        "type": "object", "required": ["key"],
        "properties": {
            "key": {"type": "string", "pattern": "^(header:[A-Za-z0-9-]{1,64}|json:(/.*)?|body)$",
                    "description": "header:NAME, json:/pointer or body (its hash)"},
            "window_s": {"type": ["integer", "null"], "minimum": 1, "maximum": 2592000}
        }
    });
}
