//! Deliveries across endpoints, by filter: the search behind `GET /v1/deliveries` and the
//! console, bulk retry, the counts of `GET /v1/stats`, and a test delivery to one endpoint.

use tokio_postgres::types::ToSql;

use super::db::{self, all, get, query, query_planned, Tx, DELIVERY_COLUMNS};
use super::events::{self, NewDeliveries};
use super::{endpoints, recovery};
use crate::domain::subscribers::Subscriber;
use crate::domain::{Delivery, DeliveryState, Millis, NewEvent, Page, PublishSummary, Scope};
use crate::store::{
    DeliveryFilter, DeliveryQuery, DeliveryStats, RecentDeliveries, RecentDelivery, RetryOutcome, StoreError,
    StoreResult, TypeFilter,
};

/// The filter as a WHERE clause over `deliveries d JOIN events e`, with parameters
/// `$1`..`$10`; `$11` is the cursor, `$12` the limit, `$13` a window's floor (the id bounds
/// are added by [`DeliveryQuery::id_bounds`] so the primary key can range over them).
const MATCHING: &str = "FROM deliveries d \
     JOIN events e ON e.id = d.event_id AND coalesce(e.tenant, '') = coalesce(d.tenant, '') \
     WHERE ($1::TEXT IS NULL OR d.tenant = $1) AND ($2::TEXT IS NULL OR d.state = $2) \
     AND ($3::TEXT IS NULL OR d.endpoint_id = $3) AND ($4::TEXT IS NULL OR e.type = $4) \
     AND ($5::TEXT IS NULL OR left(e.type, length($5)) = $5) AND ($6::TEXT IS NULL OR e.source_id = $6) \
     AND ($7::BIGINT IS NULL OR d.last_status BETWEEN $7 AND $8) \
     AND ($9::BIGINT IS NULL OR d.created_at >= $9) AND ($10::BIGINT IS NULL OR d.created_at < $10)";

/// The query's parameters, owned so they can be borrowed as `ToSql`.
struct Args {
    texts: [Option<String>; 6],
    ints: [Option<i64>; 4],
    cursor: Option<String>,
    limit: i64,
    floor: Option<String>,
}

impl Args {
    fn new(scope: &Scope, f: &DeliveryFilter, cursor: Option<&str>, limit: usize) -> Args {
        let (exact, prefix) = TypeFilter::parts(f.event_type.as_ref());
        let own = |s: Option<&str>| s.map(str::to_string);
        Args {
            texts: [
                own(scope.tenant()),
                own(f.state.map(DeliveryState::as_str)),
                f.endpoint_id.clone(),
                own(exact),
                own(prefix),
                f.source_id.clone(),
            ],
            ints: [
                f.status.map(|s| i64::from(s.0)),
                f.status.map(|s| i64::from(s.1)),
                f.since,
                f.until,
            ],
            cursor: own(cursor),
            limit: limit as i64,
            floor: None,
        }
    }

    fn params(&self) -> Vec<&(dyn ToSql + Sync)> {
        let mut out: Vec<&(dyn ToSql + Sync)> = Vec::with_capacity(12);
        out.extend(self.texts.iter().map(|t| t as &(dyn ToSql + Sync)));
        out.extend(self.ints.iter().map(|i| i as &(dyn ToSql + Sync)));
        out.push(&self.cursor);
        out.push(&self.limit);
        out.push(&self.floor);
        out
    }
}

fn prefixed(columns: &str) -> String {
    columns
        .split(", ")
        .map(|c| format!("d.{c}"))
        .collect::<Vec<_>>()
        .join(", ")
}

pub async fn search(tx: &Tx<'_>, scope: &Scope, q: &DeliveryQuery) -> StoreResult<Page<Delivery>> {
    let floor = match q.examine {
        Some(n) => window_floor(tx, q.cursor.as_deref(), n).await?,
        None => None,
    };
    let sql = format!(
        "SELECT {} {MATCHING}{} ORDER BY d.id DESC LIMIT $12",
        prefixed(DELIVERY_COLUMNS),
        q.id_bounds(floor.is_some(), |n| format!("${n}"))
    );
    let mut args = Args::new(scope, &q.filter, q.cursor.as_deref(), q.limit + 1);
    args.floor = floor.clone();
    let rows = query_planned(tx, &sql, &args.params()).await?;
    let items = all(&rows, db::delivery)?;
    Ok(q.page(items, floor))
}

/// The `n`th newest delivery id below the cursor (over the primary key alone), or `None`
/// when fewer are left: the lower end of a window of `n` deliveries.
async fn window_floor(tx: &Tx<'_>, cursor: Option<&str>, n: usize) -> StoreResult<Option<String>> {
    let offset = n.saturating_sub(1) as i64;
    // No parameter the plan cannot see through: a generic plan of `$1 IS NULL` reads the
    // whole table and sorts it.
    let rows = match cursor {
        Some(c) => {
            let sql = "SELECT id FROM deliveries WHERE id < $1 ORDER BY id DESC LIMIT 1 OFFSET $2";
            query(tx, sql, &[&c, &offset]).await?
        }
        None => {
            query(
                tx,
                "SELECT id FROM deliveries ORDER BY id DESC LIMIT 1 OFFSET $1",
                &[&offset],
            )
            .await?
        }
    };
    rows.first().map(|r| get(r, 0)).transpose()
}

/// The newest `examine` deliveries (by id), those the scope sees.
pub async fn recent(tx: &Tx<'_>, scope: &Scope, examine: usize) -> StoreResult<RecentDeliveries> {
    let rows = query(
        tx,
        "SELECT endpoint_id, event_id, state, created_at, tenant FROM deliveries ORDER BY id DESC LIMIT $1",
        &[&(examine as i64)],
    )
    .await?;
    let mut seen = Vec::new();
    for r in &rows {
        let tenant: Option<String> = get(r, 4)?;
        if scope.tenant().is_some_and(|t| tenant.as_deref() != Some(t)) {
            continue;
        }
        let state: String = get(r, 2)?;
        seen.push(RecentDelivery {
            endpoint_id: get(r, 0)?,
            event_id: get(r, 1)?,
            state: DeliveryState::parse(&state)
                .ok_or_else(|| StoreError::Corrupt(format!("unknown delivery state {state}")))?,
            created_at: get(r, 3)?,
        });
    }
    Ok(RecentDeliveries {
        examined: rows.len(),
        reached: rows.last().map(|r| get(r, 3)).transpose()?,
        rows: seen,
    })
}

/// Pending and in-flight deliveries the scope sees, each state counted up to `cap`.
pub async fn queued_count(tx: &Tx<'_>, scope: &Scope, cap: usize) -> StoreResult<u64> {
    let mut total = 0;
    for sql in [
        "SELECT count(*) FROM (SELECT 1 FROM deliveries WHERE state = 'pending' \
         AND ($1::TEXT IS NULL OR tenant = $1) LIMIT $2) w",
        "SELECT count(*) FROM (SELECT 1 FROM deliveries WHERE state = 'delivering' \
         AND ($1::TEXT IS NULL OR tenant = $1) LIMIT $2) w",
    ] {
        let rows = query(tx, sql, &[&scope.tenant(), &(cap as i64)]).await?;
        total += rows.first().map(|r| get::<i64>(r, 0)).transpose()?.unwrap_or(0) as u64;
    }
    Ok(total)
}

/// Retries (or counts) finished deliveries matching the filter, newest first.
pub async fn retry_matching(
    tx: &Tx<'_>,
    scope: &Scope,
    filter: &DeliveryFilter,
    dry_run: bool,
    max: usize,
    now: Millis,
) -> StoreResult<usize> {
    let sql = format!(
        "SELECT d.id {MATCHING} AND $11::TEXT IS NULL AND d.state NOT IN ({queued}) ORDER BY d.id DESC LIMIT $12",
        queued = DeliveryState::sql_list(&DeliveryState::QUEUED)
    );
    let args = Args::new(scope, filter, None, max);
    let mut params = args.params();
    params.pop();
    let ids: Vec<String> = query_planned(tx, &sql, &params)
        .await?
        .iter()
        .map(|r| get(r, 0))
        .collect::<StoreResult<_>>()?;
    if dry_run {
        return Ok(ids.len());
    }
    let mut retried = 0;
    for id in ids {
        if let RetryOutcome::Queued(_) = recovery::retry(tx, scope, &id, now).await? {
            retried += 1;
        }
    }
    Ok(retried)
}

pub async fn stats(tx: &Tx<'_>, scope: &Scope, since: Millis) -> StoreResult<DeliveryStats> {
    let tenant = scope.tenant();
    let rows = query(
        tx,
        "SELECT endpoint_id, state, count(*) FROM deliveries \
         WHERE ($1::TEXT IS NULL OR tenant = $1) AND created_at >= $2 GROUP BY endpoint_id, state",
        &[&tenant, &since],
    )
    .await?;
    let by_endpoint = rows
        .iter()
        .map(|r| {
            let state: String = get(r, 1)?;
            let state = DeliveryState::parse(&state)
                .ok_or_else(|| StoreError::Corrupt(format!("unknown delivery state {state}")))?;
            Ok((get(r, 0)?, state, get::<i64>(r, 2)? as u64))
        })
        .collect::<StoreResult<_>>()?;
    let events = query(
        tx,
        "SELECT count(*) FROM events WHERE ($1::TEXT IS NULL OR tenant = $1) AND created_at >= $2",
        &[&tenant, &since],
    )
    .await?;
    Ok(DeliveryStats {
        events: events.first().map(|r| get::<i64>(r, 0)).transpose()?.unwrap_or(0) as u64,
        by_endpoint,
    })
}

/// Stores an event owed to one endpoint only; `None` when the endpoint is not visible.
pub async fn publish_to(tx: &Tx<'_>, ev: NewEvent, endpoint_id: &str) -> StoreResult<Option<PublishSummary>> {
    let scope = ev.tenant.clone().map_or(Scope::Admin, Scope::Tenant);
    let Some(ep) = endpoints::get_visible(tx, &scope, endpoint_id).await? else {
        return Ok(None);
    };
    if !events::insert_event(tx, &ev, 1).await? {
        return Err(StoreError::Corrupt(format!(
            "generated event id {} was taken",
            ev.id
        )));
    }
    let mut target = [Subscriber::of(&ep)];
    let owed = NewDeliveries {
        event_id: &ev.id,
        tenant: ev.tenant.as_deref(),
        now: ev.created_at,
        keys: ev.key_source(),
    };
    owed.insert(tx, &mut target, DeliveryState::Pending).await?;
    Ok(Some(PublishSummary {
        id: ev.id,
        event_type: ev.event_type,
        deliveries: 1,
    }))
}
