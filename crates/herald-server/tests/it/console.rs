//! The web console at `/ui` over real HTTP, on both stores: sign-in by key → session
//! cookie, CSRF on every form, the security headers, each page's content, retry and bulk
//! retry from the pages, tenant scope, revocation and sign-out, and the live tail.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use reqwest::{Method, StatusCode};
use serde_json::json;

use crate::helpers::*;

/// A browser without a browser: keeps the session cookie, never follows redirects.
struct Browser {
    http: reqwest::Client,
    base: String,
    cookie: Option<String>,
}

struct Page {
    status: StatusCode,
    location: Option<String>,
    headers: reqwest::header::HeaderMap,
    html: String,
}

impl Page {
    /// The CSRF token of the page's forms.
    fn csrf(&self) -> String {
        let at = self
            .html
            .find("name=\"csrf\" value=\"")
            .expect("a form with a CSRF token")
            + 19;
        self.html[at..].split('"').next().unwrap().to_string()
    }
}

impl Browser {
    fn new(app: &TestApp) -> Self {
        let http = reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .unwrap();
        Browser {
            http,
            base: app.base.clone(),
            cookie: None,
        }
    }

    async fn send(&mut self, req: reqwest::RequestBuilder) -> Page {
        let req = match &self.cookie {
            Some(c) => req.header("cookie", c),
            None => req,
        };
        let resp = req.send().await.unwrap();
        if let Some(set) = resp.headers().get("set-cookie") {
            let pair = set.to_str().unwrap().split(';').next().unwrap().to_string();
            self.cookie = (!pair.ends_with('=')).then_some(pair);
        }
        Page {
            status: resp.status(),
            location: resp
                .headers()
                .get("location")
                .map(|l| l.to_str().unwrap().to_string()),
            headers: resp.headers().clone(),
            html: resp.text().await.unwrap(),
        }
    }

    async fn get(&mut self, path: &str) -> Page {
        let req = self.http.get(format!("{}{path}", self.base));
        self.send(req).await
    }

    async fn post(&mut self, path: &str, form: &[(&str, &str)]) -> Page {
        let req = self.http.post(format!("{}{path}", self.base)).form(form);
        self.send(req).await
    }

    async fn sign_in(app: &TestApp, key: &str) -> Browser {
        let mut b = Browser::new(app);
        let page = b.post("/ui/login", &[("key", key)]).await;
        assert_eq!(page.status, StatusCode::SEE_OTHER, "{}", page.html);
        assert_eq!(page.location.as_deref(), Some("/ui/"));
        b
    }
}

async fn tenant_key(app: &TestApp, tenant: &str) -> (String, String) {
    let (s, k) = app
        .call(Method::POST, "/v1/keys", Some(json!({"tenant": tenant})))
        .await;
    assert_eq!(s, 201, "{k}");
    (
        k["id"].as_str().unwrap().to_string(),
        k["key"].as_str().unwrap().to_string(),
    )
}

/// An endpoint that answers 500 until `fixed` is set, and one failed delivery to it.
async fn failed_delivery(app: &TestApp) -> (Receiver, Arc<AtomicBool>, String, String) {
    let fixed = Arc::new(AtomicBool::new(false));
    let flag = fixed.clone();
    let rx =
        Receiver::start(move |_| Reply::status(if flag.load(Ordering::SeqCst) { 200 } else { 500 })).await;
    let ep = app
        .create_endpoint(json!({"url": rx.url, "circuit_after": 0}))
        .await;
    let ev = app
        .publish(json!({"type": "ticket.created", "payload": {"n": 1}}))
        .await;
    let ds = app.settled(ev["id"].as_str().unwrap()).await;
    assert_eq!(ds[0]["state"], "failed");
    (
        rx,
        fixed,
        ep["id"].as_str().unwrap().to_string(),
        ds[0]["id"].as_str().unwrap().to_string(),
    )
}

store_tests! {
    async fn sign_in_by_key_sets_a_strict_session_cookie_and_sign_out_ends_it() {
        let app = spawn_app().await;
        let mut b = Browser::new(&app);
        let first = b.get("/ui/").await;
        assert_eq!((first.status, first.location.as_deref()), (StatusCode::SEE_OTHER, Some("/ui/login")));
        let form = b.get("/ui/login").await;
        assert_eq!(form.status, StatusCode::OK);
        assert!(form.html.contains("name=\"key\""), "{}", form.html);
        let csp = form.headers["content-security-policy"].to_str().unwrap();
        assert!(csp.contains("script-src 'self'") && csp.contains("frame-ancestors 'none'"), "{csp}");
        let bad = b.post("/ui/login", &[("key", "not-a-key")]).await;
        assert_eq!(bad.status, StatusCode::UNAUTHORIZED);
        assert!(bad.html.contains("not valid"), "{}", bad.html);
        assert!(b.cookie.is_none(), "no session for a bad key");

        let resp = b.http.post(format!("{}/ui/login", app.base)).form(&[("key", ADMIN_KEY)]).send().await.unwrap();
        let set = resp.headers()["set-cookie"].to_str().unwrap().to_string();
        for part in ["HttpOnly", "SameSite=Strict", "Path=/ui"] {
            assert!(set.contains(part), "{set}");
        }
        assert!(!set.contains("Secure"), "plain HTTP: no Secure flag ({set})");
        assert!(!set.contains(ADMIN_KEY), "the key is not the cookie");

        let mut b = Browser::sign_in(&app, ADMIN_KEY).await;
        let overview = b.get("/ui/").await;
        assert_eq!(overview.status, StatusCode::OK);
        assert!(overview.html.contains("<h1>Overview</h1>"), "{}", overview.html);
        assert_eq!(overview.headers["cache-control"], "no-store");
        let refused = b.post("/ui/logout", &[("csrf", "wrong")]).await;
        assert_eq!(refused.status, StatusCode::FORBIDDEN);
        let no_token = b.post("/ui/logout", &[]).await;
        assert_eq!(no_token.status, StatusCode::FORBIDDEN);
        let no_body = b.http.post(format!("{}/ui/logout", app.base)).header("cookie", b.cookie.clone().unwrap());
        assert_eq!(b.send(no_body).await.status, StatusCode::FORBIDDEN, "not a form at all: 403, not 415");
        let csrf = overview.csrf();
        let cookie = b.cookie.clone();
        let out = b.post("/ui/logout", &[("csrf", &csrf)]).await;
        assert_eq!((out.status, out.location.as_deref()), (StatusCode::SEE_OTHER, Some("/ui/login")));
        b.cookie = cookie;
        let after = b.get("/ui/").await;
        assert_eq!(after.status, StatusCode::SEE_OTHER, "the old cookie no longer signs in");
    }

    async fn a_sign_in_from_another_origin_is_refused() {
        let app = spawn_app().await;
        let b = Browser::new(&app);
        let resp = b.http.post(format!("{}/ui/login", app.base))
            .header("origin", "https://evil.example")
            .form(&[("key", ADMIN_KEY)])
            .send().await.unwrap();
        assert_eq!(resp.status(), StatusCode::FORBIDDEN);
        assert!(resp.headers().get("set-cookie").is_none());
    }

    async fn a_failed_delivery_is_found_read_and_retried_until_it_arrives() {
        let app = spawn_app().await;
        let (rx, fixed, ep, delivery) = failed_delivery(&app).await;
        let mut b = Browser::sign_in(&app, ADMIN_KEY).await;
        let list = b.get("/ui/deliveries?state=failed").await;
        assert_eq!(list.status, StatusCode::OK);
        assert!(list.html.contains(&delivery) && list.html.contains(&ep), "{}", list.html);
        let none = b.get("/ui/deliveries?state=succeeded").await;
        assert!(!none.html.contains(&delivery));
        let page = b.get(&format!("/ui/deliveries/{delivery}")).await;
        assert_eq!(page.html.matches("<td>500</td>").count(), 4, "every attempt, with its status: {}", page.html);
        assert!(page.html.contains("st-failed"));
        let forged = b.post(&format!("/ui/deliveries/{delivery}/retry"), &[("csrf", "forged")]).await;
        assert_eq!(forged.status, StatusCode::FORBIDDEN);
        app.until_idle().await;
        assert_eq!(app.get(&format!("/v1/deliveries/{delivery}")).await["state"], "failed", "a forged form changes nothing");

        fixed.store(true, Ordering::SeqCst);
        let done = b.post(&format!("/ui/deliveries/{delivery}/retry"), &[("csrf", &page.csrf())]).await;
        assert_eq!(done.status, StatusCode::SEE_OTHER);
        assert!(done.location.unwrap().starts_with(&format!("/ui/deliveries/{delivery}?notice=")));
        rx.wait_for(5).await;
        app.until_idle().await;
        let after = b.get(&format!("/ui/deliveries/{delivery}")).await;
        assert!(after.html.contains("st-succeeded") && after.html.contains("<td>200</td>"), "{}", after.html);
    }

    async fn bulk_retry_shows_how_many_first_then_retries_them() {
        let app = spawn_app().await;
        let (rx, fixed, ep, _) = failed_delivery(&app).await;
        let ev = app.publish(json!({"type": "ticket.closed", "payload": {}})).await;
        app.settled(ev["id"].as_str().unwrap()).await;
        let mut b = Browser::sign_in(&app, ADMIN_KEY).await;
        let list = b.get(&format!("/ui/deliveries?endpoint_id={ep}")).await;
        let csrf = list.csrf();
        let confirm = b.post("/ui/deliveries/retry", &[("csrf", &csrf), ("endpoint_id", &ep), ("state", "")]).await;
        assert_eq!(confirm.status, StatusCode::OK);
        assert!(confirm.html.contains("2 deliveries would be retried"), "{}", confirm.html);
        app.until_idle().await;
        assert_eq!(rx.count(), 8, "the dry run sent nothing");
        fixed.store(true, Ordering::SeqCst);
        let done = b.post("/ui/deliveries/retry", &[("csrf", &csrf), ("endpoint_id", &ep), ("confirm", "yes")]).await;
        assert_eq!(done.status, StatusCode::SEE_OTHER);
        assert!(done.location.as_deref().unwrap().contains("Retried+2"), "{:?}", done.location);
        rx.wait_for(10).await;
        let forged = b.post("/ui/deliveries/retry", &[("endpoint_id", &ep), ("confirm", "yes")]).await;
        assert_eq!(forged.status, StatusCode::FORBIDDEN);
        let bad = b.post("/ui/deliveries/retry", &[("csrf", &csrf), ("status", "9xx")]).await;
        assert_eq!(bad.status, StatusCode::UNPROCESSABLE_ENTITY);
        assert!(bad.html.contains("status"), "{}", bad.html);
    }

    async fn every_page_shows_its_objects_and_the_endpoint_actions_work() {
        let app = spawn_app().await;
        let rx = Receiver::ok().await;
        let ep = app.create_endpoint(json!({"url": rx.url, "description": "billing <prod>"})).await;
        let ep = ep["id"].as_str().unwrap().to_string();
        let ev = app.publish(json!({"type": "order.paid", "payload": {"amount": 42, "note": "<script>x</script>"}})).await;
        let ev = ev["id"].as_str().unwrap().to_string();
        app.settled(&ev).await;
        let (s, src) = app.call(Method::POST, "/v1/sources", Some(json!({"name": "github", "verify": {"scheme": "github", "secrets": ["s3cret-value"]}}))).await;
        assert_eq!(s, 201, "{src}");
        let src = src["id"].as_str().unwrap().to_string();
        let refused = app.http.post(format!("{}/in/{src}", app.base)).body("{}").send().await.unwrap();
        assert_eq!(refused.status(), 401);

        let mut b = Browser::sign_in(&app, ADMIN_KEY).await;
        let eps = b.get("/ui/endpoints").await;
        assert!(eps.html.contains(&ep) && eps.html.contains("billing &#60;prod&#62;"), "escaped: {}", eps.html);
        let page = b.get(&format!("/ui/endpoints/{ep}")).await;
        assert!(page.html.contains(&rx.url) && page.html.contains("circuit"), "{}", page.html);
        assert!(!page.html.contains("whsec_"), "the secret stays hidden until revealed");
        let csrf = page.csrf();
        let sent = b.post(&format!("/ui/endpoints/{ep}/test"), &[("csrf", &csrf), ("type", "webhook.test")]).await;
        assert_eq!(sent.status, StatusCode::SEE_OTHER);
        let got = rx.wait_for(2).await;
        assert!(String::from_utf8_lossy(&got[1].body).contains("\"test\":true"));
        let revealed = b.post(&format!("/ui/endpoints/{ep}/secret"), &[("csrf", &csrf)]).await;
        let secret = app.get(&format!("/v1/endpoints/{ep}/secret")).await["secret"].as_str().unwrap().to_string();
        assert!(revealed.html.contains(&secret));
        let off = b.post(&format!("/ui/endpoints/{ep}/disable"), &[("csrf", &csrf)]).await;
        assert_eq!(off.status, StatusCode::SEE_OTHER);
        assert_eq!(app.get(&format!("/v1/endpoints/{ep}")).await["disabled"], true);
        b.post(&format!("/ui/endpoints/{ep}/enable"), &[("csrf", &csrf)]).await;
        assert_eq!(app.get(&format!("/v1/endpoints/{ep}")).await["disabled"], false);
        let rotated = b.post(&format!("/ui/endpoints/{ep}/rotate"), &[("csrf", &csrf)]).await;
        let new_secret = app.get(&format!("/v1/endpoints/{ep}/secret")).await["secret"].as_str().unwrap().to_string();
        assert_ne!(new_secret, secret);
        assert!(rotated.html.contains(&new_secret) && rotated.html.contains("keeps signing until"));

        let events = b.get("/ui/events").await;
        assert!(events.html.contains(&ev) && events.html.contains("order.paid"));
        let event = b.get(&format!("/ui/events/{ev}")).await;
        assert!(event.html.contains("&#34;amount&#34;: 42"), "pretty-printed: {}", event.html);
        assert!(event.html.contains("&#60;script&#62;") && !event.html.contains("<script>x"), "payload escaped");
        let replayed = b.post(&format!("/ui/events/{ev}/replay"), &[("csrf", &csrf)]).await;
        assert_eq!(replayed.status, StatusCode::SEE_OTHER);
        rx.wait_for(3).await;

        let sources = b.get("/ui/sources").await;
        assert!(sources.html.contains(&src) && sources.html.contains("github"));
        let source = b.get(&format!("/ui/sources/{src}")).await;
        assert!(source.html.contains("401") && source.html.contains("signature"), "the refusal and its reason: {}", source.html);
        assert!(!source.html.contains("s3cret-value"));
        let missing = b.get("/ui/events/evt_nope").await;
        assert_eq!(missing.status, StatusCode::NOT_FOUND);
        let js = b.get("/ui/static/app.js").await;
        assert_eq!(js.status, StatusCode::OK);
        assert!(js.html.len() < 100_000);
    }

    async fn a_tenant_session_sees_only_its_tenant() {
        let app = spawn_app().await;
        let rx = Receiver::ok().await;
        let mine = app.create_endpoint(json!({"url": rx.url, "tenant": "acme"})).await["id"].as_str().unwrap().to_string();
        let theirs = app.create_endpoint(json!({"url": rx.url, "tenant": "globex"})).await["id"].as_str().unwrap().to_string();
        let ev = app.publish(json!({"type": "a.b", "payload": {}, "tenant": "globex"})).await["id"].as_str().unwrap().to_string();
        let ds = app.settled(&ev).await;
        let (_, key) = tenant_key(&app, "acme").await;
        let mut b = Browser::sign_in(&app, &key).await;
        let list = b.get("/ui/endpoints").await;
        assert!(list.html.contains(&mine) && !list.html.contains(&theirs), "{}", list.html);
        for path in [format!("/ui/endpoints/{theirs}"), format!("/ui/events/{ev}"), format!("/ui/deliveries/{}", ds[0]["id"].as_str().unwrap())] {
            assert_eq!(b.get(&path).await.status, StatusCode::NOT_FOUND, "{path}");
        }
        let deliveries = b.get("/ui/deliveries").await;
        assert!(!deliveries.html.contains(&ev));
        let csrf = deliveries.csrf();
        let test = b.post(&format!("/ui/endpoints/{theirs}/test"), &[("csrf", &csrf)]).await;
        assert_eq!(test.status, StatusCode::NOT_FOUND);
        let disable = b.post(&format!("/ui/endpoints/{theirs}/disable"), &[("csrf", &csrf)]).await;
        assert_eq!(disable.status, StatusCode::NOT_FOUND);
        assert_eq!(app.get(&format!("/v1/endpoints/{theirs}")).await["disabled"], false);
    }

    async fn the_overview_counts_the_newest_deliveries_in_the_viewers_scope() {
        let app = spawn_app().await;
        let ok = Receiver::ok().await;
        let down = Receiver::start(|_| Reply::status(500)).await;
        app.create_endpoint(json!({"url": ok.url})).await;
        let failing = app.create_endpoint(json!({"url": down.url, "retry_schedule": "", "circuit_after": 0})).await;
        let failing = failing["id"].as_str().unwrap();
        for n in 0..3 {
            let ev = app.publish(json!({"type": "ticket.created", "payload": {"n": n}})).await;
            app.settled(ev["id"].as_str().unwrap()).await;
        }
        let mut admin = Browser::sign_in(&app, ADMIN_KEY).await;
        let html = admin.get("/ui/").await.html;
        for tile in ["3</span> events", "3</span> delivered", "3</span> failed", "0</span> skipped"] {
            assert_eq!(html.matches(tile).count(), 2, "{tile} in the hour's and the day's tiles: {html}");
        }
        assert!(html.contains("0</span> waiting to be delivered"), "{html}");
        assert!(html.contains(&format!("<td><a href=\"/ui/endpoints/{failing}\">{failing}</a></td><td>3</td>")), "{html}");
        assert!(!html.contains("+</span>"), "nothing is a lower bound on a small store: {html}");
        let (_, key) = tenant_key(&app, "acme").await;
        let html = Browser::sign_in(&app, &key).await.get("/ui/").await.html;
        assert!(html.contains("0</span> failed") && !html.contains(failing), "another tenant's counts are not shown: {html}");
    }

    async fn revoking_the_key_ends_its_sessions() {
        let app = spawn_app().await;
        let (id, key) = tenant_key(&app, "acme").await;
        let mut b = Browser::sign_in(&app, &key).await;
        assert_eq!(b.get("/ui/endpoints").await.status, StatusCode::OK);
        let (s, _) = app.call(Method::DELETE, &format!("/v1/keys/{id}"), None).await;
        assert_eq!(s, 204);
        let after = b.get("/ui/endpoints").await;
        assert_eq!((after.status, after.location.as_deref()), (StatusCode::SEE_OTHER, Some("/ui/login")));
    }

    async fn the_tail_streams_new_events_and_attempts() {
        let app = spawn_app().await;
        let rx = Receiver::ok().await;
        app.create_endpoint(json!({"url": rx.url})).await;
        let mut b = Browser::sign_in(&app, ADMIN_KEY).await;
        assert!(b.get("/ui/tail").await.html.contains("data-stream=\"/ui/tail/stream\""));
        let mut resp = b.http.get(format!("{}/ui/tail/stream", app.base))
            .header("cookie", b.cookie.clone().unwrap())
            .send().await.unwrap();
        assert_eq!(resp.headers()["content-type"], "text/event-stream");
        let ev = app.publish(json!({"type": "ticket.created", "payload": {}})).await["id"].as_str().unwrap().to_string();
        let mut seen = String::new();
        let deadline = std::time::Instant::now() + Duration::from_secs(10);
        while !(seen.contains("event: attempt") && seen.contains(&ev)) {
            let left = deadline.saturating_duration_since(std::time::Instant::now());
            let chunk = tokio::time::timeout(left, resp.chunk()).await.expect("the event and its attempt within 10 s");
            seen.push_str(&String::from_utf8_lossy(&chunk.unwrap().expect("the stream stays open")));
        }
        assert!(seen.contains("event: event"), "{seen}");
    }
    /// Sign-in and a bad key, the deliveries page and a failed delivery's attempts (the
    /// README's screenshots when `HERALD_SCREENSHOTS` names a folder), CSRF refusal, retry
    /// until it arrives, bulk retry with its dry-run count, the live tail, sign-out, tenant
    /// isolation, and that no request leaves herald's origin.
    #[cfg_attr(not(herald_browser), ignore = "needs Chromium and Playwright: apt-get install chromium; pip install playwright")]
    async fn the_console_works_in_a_real_browser() {
        let _alone = CPU_HEAVY.lock().await;
        let app = spawn_app().await;
        let (rx, fixed, _ep, delivery) = failed_delivery(&app).await;
        let ev = app.publish(json!({"type": "ticket.closed", "payload": {"n": 2}})).await;
        app.settled(ev["id"].as_str().unwrap()).await;
        let (_, tenant) = tenant_key(&app, "acme").await;
        fixed.store(true, Ordering::SeqCst);
        let script = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/it/console_browser.py");
        let mut cmd = tokio::process::Command::new("python3");
        cmd.arg(script).args([&app.base, ADMIN_KEY, &tenant, &delivery]);
        if let Some(dir) = std::env::var_os("HERALD_SCREENSHOTS").filter(|_| backend() == Backend::Sqlite) {
            cmd.arg(dir);
        }
        let out = tokio::time::timeout(Duration::from_secs(120), cmd.output()).await.expect("the browser run ends").unwrap();
        assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
        let seen: serde_json::Value = serde_json::from_slice(out.stdout.trim_ascii()).unwrap();
        assert_eq!(seen["redirected_to_login"], true, "{seen}");
        assert!(seen["bad_key_message"].as_str().unwrap().contains("not valid"), "{seen}");
        assert_eq!(seen["overview_heading"], "Overview");
        assert_eq!(seen["failed_listed"], 1, "{seen}");
        assert_eq!(seen["attempt_rows"], 4, "{seen}");
        assert_eq!(seen["same_document"], "kept", "links and forms swap pages in place: {seen}");
        assert_eq!(seen["back_lists_failed"], 1, "back returns to the filtered list: {seen}");
        assert!(seen["forged_status_page"].as_str().unwrap().starts_with("403"), "{seen}");
        assert!(seen["retry_notice"].as_str().unwrap().contains("Queued again"), "{seen}");
        assert_eq!(seen["retried_state"], "succeeded", "{seen}");
        assert_eq!(seen["dry_run_count"], "1 deliveries would be retried.", "{seen}");
        assert_eq!(seen["bulk_notice"], "Retried 1 deliveries.", "{seen}");
        assert_eq!(seen["tail_shows_event"], true);
        assert_eq!(seen["tail_same_document"], "kept", "{seen}");
        assert!(seen["after_logout"].as_str().unwrap().ends_with("/ui/login"), "{seen}");
        assert_eq!(seen["tenant_sees_other_delivery"], 404, "{seen}");
        assert_eq!(seen["tenant_list_has_it"], 0, "{seen}");
        assert_eq!(seen["foreign_requests"], json!([]), "{seen}");
        assert!(seen["requests"].as_u64().unwrap() > 20, "{seen}");
        rx.wait_for(10).await;
    }
}
