//! The coordinated queue (`bigquery.queue: coordinated`, the default): one
//! store at a time — the leader — applies the claims, completions and
//! releases of every store on the dataset, all of one cycle in one
//! transaction. BigQuery lets 2 mutating statements per table run at once,
//! queues 20, allows about 25 per 10 s and aborts transactions that meet a
//! concurrent mutation; a cycle writes `job_enrichments` once whatever the
//! number of workers and batches, and nothing else mutates it on the hot path.
//!
//! Leadership is the `queue_coordinator` row: a token taken by
//! compare-and-set when the row is free or its heartbeat is older than
//! `leader_patience_ms` (a slow cycle dates its heartbeat ahead, see
//! `grace_ms`). Every applying transaction updates that row (the
//! heartbeat) and raises unless the token is still its own, so two stores
//! that both believe they lead cannot both commit: BigQuery aborts one of two
//! transactions mutating the same table. Correctness does not rest on the
//! lease alone either: each row is written by compare-and-set against what
//! the cycle read.
//!
//! A store that does not lead streams its operation into `queue_requests`
//! (insertAll, no DML) and polls `queue_replies`, which the leader writes in
//! the same transaction that applied the operation. A leader that has served
//! others keeps serving from a background task until requests stop coming;
//! a follower that hears nothing for `leader_patience_ms` takes over.

use crate::client::Params;
use crate::codec::enrichment_from_row;
use crate::plan::{Plan, ROW_CHANGED};
use crate::queue::{keys_json, keys_match};
use crate::schema::{select_list, Ty, ENRICHMENT_COLS};
use crate::{limit, BigQueryStore};
use chrono::{DateTime, Duration as ChronoDuration, Utc};
use jobenrich_domain::error::StoreResult;
use jobenrich_domain::{
    ClaimRequest, CompletionReport, EnrichmentKey, EnrichmentOutcome, EnrichmentType,
    EnrichmentVersion, JobEnrichment, StoreError,
};
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};
use std::collections::{BTreeMap, HashMap};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// Raised by a cycle whose store no longer holds the leadership token.
const NOT_LEADER: &str = "jobenrich: queue leadership lost";
/// Compare-and-set rounds of one cycle before it gives up.
const CYCLE_ROUNDS: usize = 8;
/// How long candidates for the leadership wait for each other.
const ELECTION_WAIT: Duration = Duration::from_millis(300);
/// Follower polls: at most this far apart while the leader's cycles are
/// fast, and never further apart than the slow cap (see `poll_cap`).
const POLL_CAP: Duration = Duration::from_secs(1);
const POLL_CAP_SLOW: Duration = Duration::from_secs(5);
/// Requests older than this are not applied (their caller has given up).
const REQUEST_TTL_MINUTES: i64 = 10;

/// One queue operation of a caller.
#[derive(Debug, Clone)]
pub(crate) enum Op {
    Claim(ClaimRequest),
    Complete(Vec<EnrichmentOutcome>, DateTime<Utc>),
    Release(Vec<EnrichmentKey>, String, DateTime<Utc>),
}

/// What an operation returned, as the leader hands it back.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub(crate) enum Reply {
    Claimed(Vec<JobEnrichment>),
    Completed(CompletionReport),
    Released(u64),
    Failed(String),
}

/// The first row of a streamed request; a completion's outcomes follow, one
/// per row, so no row nears BigQuery's row size limit.
#[derive(Serialize, Deserialize)]
#[serde(tag = "op", rename_all = "snake_case")]
enum Header {
    Claim {
        enrichment_type: EnrichmentType,
        enrichment_version: Option<EnrichmentVersion>,
        owner: String,
        lease_ms: i64,
        limit: usize,
        max_attempts: u32,
        now: DateTime<Utc>,
    },
    Complete {
        now: DateTime<Utc>,
        outcomes: usize,
    },
    Release {
        keys: Vec<EnrichmentKey>,
        owner: String,
        now: DateTime<Utc>,
    },
}

fn encode(op: &Op) -> StoreResult<Vec<Value>> {
    let header = match op {
        Op::Claim(r) => Header::Claim {
            enrichment_type: r.enrichment_type,
            enrichment_version: r.enrichment_version.clone(),
            owner: r.owner.clone(),
            lease_ms: r.lease.num_milliseconds(),
            limit: r.limit,
            max_attempts: r.max_attempts,
            now: r.now,
        },
        Op::Complete(outcomes, now) => Header::Complete {
            now: *now,
            outcomes: outcomes.len(),
        },
        Op::Release(keys, owner, now) => Header::Release {
            keys: keys.clone(),
            owner: owner.clone(),
            now: *now,
        },
    };
    let json = |v: Result<Value, serde_json::Error>| {
        v.map_err(|e| StoreError::Backend(format!("encoding a queue request: {e}")))
    };
    let mut rows = vec![json(serde_json::to_value(&header))?];
    if let Op::Complete(outcomes, _) = op {
        for o in outcomes {
            rows.push(json(serde_json::to_value(o))?);
        }
    }
    Ok(rows)
}

/// The operation of a complete streamed request (rows by index, header first).
fn decode(rows: &BTreeMap<i64, String>) -> Result<Option<Op>, String> {
    let Some(first) = rows.get(&0) else {
        return Ok(None);
    };
    let header: Header = serde_json::from_str(first).map_err(|e| format!("header: {e}"))?;
    Ok(Some(match header {
        Header::Claim {
            enrichment_type,
            enrichment_version,
            owner,
            lease_ms,
            limit,
            max_attempts,
            now,
        } => Op::Claim(ClaimRequest {
            enrichment_type,
            enrichment_version,
            owner,
            lease: ChronoDuration::milliseconds(lease_ms),
            limit,
            max_attempts,
            now,
        }),
        Header::Release { keys, owner, now } => Op::Release(keys, owner, now),
        Header::Complete { now, outcomes } => {
            // Rows still streaming in: not complete yet, taken next cycle.
            if rows.len() < outcomes + 1 {
                return Ok(None);
            }
            let mut list = Vec::with_capacity(outcomes);
            for i in 1..=outcomes {
                let text = rows
                    .get(&(i as i64))
                    .ok_or_else(|| format!("outcome row {i} missing"))?;
                list.push(serde_json::from_str(text).map_err(|e| format!("outcome {i}: {e}"))?);
            }
            Op::Complete(list, now)
        }
    }))
}

enum CycleError {
    NotLeader,
    Store(StoreError),
}

impl From<StoreError> for CycleError {
    fn from(e: StoreError) -> Self {
        Self::Store(e)
    }
}

/// What one cycle did: the local operation's reply and how many requests of
/// other stores it applied (their replies are in `queue_replies`).
struct Served {
    local: Option<Reply>,
    remote: HashMap<String, Reply>,
}

/// This store's side of the coordination.
pub(crate) struct Coordinator {
    /// Names this store in the coordinator row (never a secret).
    holder: String,
    patience: Duration,
    /// The leadership token while this store leads. Held for a whole cycle,
    /// so this store's own cycles never overlap.
    lead: tokio::sync::Mutex<Option<String>>,
    serving: AtomicBool,
    /// Rows this leader's cycles left `processing`, as committed: a
    /// completion or release of them needs no read (the compare-and-set
    /// still checks them; a mismatch empties the cache and re-reads).
    cache: std::sync::Mutex<HashMap<EnrichmentKey, JobEnrichment>>,
    /// Whether other stores' requests were waiting after the last commit;
    /// a cycle reads `queue_requests` only then (or when serving others).
    requests_waiting: AtomicBool,
    /// How long the last applying transaction took (ms): the next heartbeat
    /// is dated ahead by it too, see `grace_ms`.
    last_commit_ms: AtomicU64,
}

impl Coordinator {
    pub(crate) fn new(patience_ms: u64) -> Self {
        Self {
            holder: uuid::Uuid::new_v4().to_string(),
            patience: Duration::from_millis(patience_ms.max(1)),
            lead: tokio::sync::Mutex::new(None),
            serving: AtomicBool::new(false),
            cache: std::sync::Mutex::new(HashMap::new()),
            requests_waiting: AtomicBool::new(true),
            last_commit_ms: AtomicU64::new(0),
        }
    }

    /// Runs `op` through the leader (this store, if it leads or can take over).
    pub(crate) async fn submit(
        self: &Arc<Self>,
        store: &BigQueryStore,
        op: Op,
    ) -> StoreResult<Reply> {
        {
            let mut lead = self.lead.lock().await;
            if lead.is_none() {
                *lead = self.try_lead(store).await?;
            }
            if let Some(token) = lead.clone() {
                match self.cycle(store, &token, Some(&op), false).await {
                    Ok(served) => {
                        if !served.remote.is_empty() {
                            self.keep_serving(store);
                        }
                        return served.local.ok_or_else(|| {
                            StoreError::Backend("queue cycle returned no reply".into())
                        });
                    }
                    Err(CycleError::NotLeader) => *lead = None,
                    Err(CycleError::Store(e)) => return Err(e),
                }
            }
        }
        let id = self.post(store, &op).await?;
        self.await_reply(store, &id).await
    }

    /// Takes the leadership if nobody holds it or its holder went silent.
    /// A read first: only a store that will likely win sends the DML.
    async fn try_lead(&self, store: &BigQueryStore) -> StoreResult<Option<String>> {
        let out = store
            .query(
                "reading the queue leader",
                "SELECT token, TIMESTAMP_DIFF(CURRENT_TIMESTAMP(), heartbeat_at, MILLISECOND)
                 FROM queue_coordinator WHERE name = 'queue'",
                Params::new(),
            )
            .await?;
        let (seen, age) = match out.rows.first() {
            Some(r) => (r.opt_str(0)?, r.opt_i64(1)?),
            None => {
                return Err(StoreError::Backend(
                    "queue_coordinator has no 'queue' row: run `jobenrich migrate`".into(),
                ))
            }
        };
        let stale = age.is_none_or(|ms| ms > 0 && ms as u128 > self.patience.as_millis());
        if seen.is_some() && !stale {
            return Ok(None);
        }
        if !self.elected(store).await? {
            return Ok(None);
        }
        self.take_over(store, seen.as_deref().unwrap_or("")).await
    }

    /// Many stores can see the same free or silent row at once (all workers
    /// starting together). Each announces itself with a streamed row (no
    /// DML), waits a moment and reads the announcements: only the earliest
    /// sends the take-over UPDATE, so a crowd costs one DML statement, not
    /// one per store. Times are this store's clock on both sides, so clock
    /// skew between machines changes who wins, never whether someone does.
    async fn elected(&self, store: &BigQueryStore) -> StoreResult<bool> {
        let me = format!("elect:{}", self.holder);
        let now = Utc::now();
        store
            .client
            .insert_all(
                "queue_replies",
                vec![(
                    uuid::Uuid::new_v4().to_string(),
                    json!({"request_id": me, "reply": "", "applied_at": crate::ts_text(now)}),
                )],
            )
            .await?;
        tokio::time::sleep(ELECTION_WAIT).await;
        let out = store
            .query(
                "electing a queue leader",
                "SELECT request_id FROM queue_replies
                 WHERE STARTS_WITH(request_id, 'elect:') AND applied_at >= @since
                 ORDER BY applied_at, request_id LIMIT 1",
                Params::new().ts("since", now - ChronoDuration::seconds(5)),
            )
            .await?;
        let first = out.rows.first().map(|r| r.str(0)).transpose()?;
        Ok(first.as_deref() == Some(me.as_str()))
    }

    /// The compare-and-set on the token this store saw, and on the row being
    /// free or silent when the UPDATE runs: a leader that committed since
    /// the read (or while this UPDATE was retried after meeting its
    /// transaction) keeps its leadership.
    async fn take_over(&self, store: &BigQueryStore, seen: &str) -> StoreResult<Option<String>> {
        let token = uuid::Uuid::new_v4().to_string();
        let out = store
            .query(
                "taking the queue leadership",
                "UPDATE queue_coordinator SET token = @token, holder = @holder,
                     heartbeat_at = CURRENT_TIMESTAMP()
                 WHERE name = 'queue' AND COALESCE(token, '') = @seen
                   AND (token IS NULL OR heartbeat_at IS NULL
                        OR TIMESTAMP_DIFF(CURRENT_TIMESTAMP(), heartbeat_at, MILLISECOND) > @patience)",
                Params::new()
                    .str("token", &token)
                    .str("holder", &self.holder)
                    .str("seen", seen)
                    .i64("patience", millis(self.patience)),
            )
            .await?;
        let won = out.dml_affected == Some(1);
        if won {
            // Another leader may have changed any row since this one cached it.
            self.forget_rows();
            self.requests_waiting.store(true, Ordering::SeqCst);
        }
        Ok(won.then_some(token))
    }

    fn forget_rows(&self) {
        if let Ok(mut cache) = self.cache.lock() {
            cache.clear();
        }
    }

    /// Streams `op` into `queue_requests`; its id.
    async fn post(&self, store: &BigQueryStore, op: &Op) -> StoreResult<String> {
        let id = uuid::Uuid::new_v4().to_string();
        let staged_at = crate::ts_text(Utc::now());
        let rows = encode(op)?
            .into_iter()
            .enumerate()
            .map(|(i, payload)| {
                (
                    format!("{id}-{i}"),
                    json!({"request_id": id, "row_index": i, "payload": payload.to_string(),
                           "staged_at": staged_at}),
                )
            })
            .collect();
        store.client.insert_all("queue_requests", rows).await?;
        Ok(id)
    }

    /// Polls for the reply to request `id`, taking over when the leader is silent.
    async fn await_reply(self: &Arc<Self>, store: &BigQueryStore, id: &str) -> StoreResult<Reply> {
        let started = Instant::now();
        let (mut wait, mut cap) = (Duration::from_millis(100), POLL_CAP);
        loop {
            tokio::time::sleep(wait).await;
            wait = (wait * 2).min(cap);
            let out = store
                .query(
                    "waiting for the queue leader",
                    "SELECT (SELECT reply FROM queue_replies WHERE request_id = @id LIMIT 1),
                            (SELECT TIMESTAMP_DIFF(CURRENT_TIMESTAMP(), heartbeat_at, MILLISECOND)
                             FROM queue_coordinator WHERE name = 'queue')",
                    Params::new().str("id", id),
                )
                .await?;
            let row = out.rows.first();
            if let Some(reply) = row.map(|r| r.opt_str(0)).transpose()?.flatten() {
                return serde_json::from_str(&reply).map_err(|e| {
                    StoreError::Backend(format!("reading the reply to queue request {id}: {e}"))
                });
            }
            let age = row.map(|r| r.opt_i64(1)).transpose()?.flatten();
            cap = poll_cap(age);
            // Jitter spreads the take-overs of several waiting stores.
            let patience = self.patience + self.patience.mul_f64(rand_unit() * 0.5);
            if age.is_none_or(|ms| ms > 0 && ms as u128 > patience.as_millis()) {
                let mut lead = self.lead.lock().await;
                if lead.is_none() {
                    *lead = self.try_lead(store).await?;
                }
                if let Some(token) = lead.clone() {
                    match self.cycle(store, &token, None, true).await {
                        Ok(mut served) => {
                            self.keep_serving(store);
                            if let Some(reply) = served.remote.remove(id) {
                                return Ok(reply);
                            }
                        }
                        Err(CycleError::NotLeader) => *lead = None,
                        Err(CycleError::Store(e)) => return Err(e),
                    }
                }
            }
            if started.elapsed() > Duration::from_secs(REQUEST_TTL_MINUTES as u64 * 60 - 30) {
                return Err(StoreError::Transient(format!(
                    "queue request {id}: no leader applied it in {} s",
                    started.elapsed().as_secs()
                )));
            }
        }
    }

    /// While this store leads and others send requests, apply them without
    /// waiting for an operation of its own.
    fn keep_serving(self: &Arc<Self>, store: &BigQueryStore) {
        if self.serving.swap(true, Ordering::SeqCst) {
            return;
        }
        let (me, store) = (Arc::clone(self), store.clone());
        tokio::spawn(async move {
            let mut wait = Duration::from_millis(100);
            let mut idle = Duration::ZERO;
            loop {
                tokio::time::sleep(wait).await;
                let mut lead = me.lead.lock().await;
                let Some(token) = lead.clone() else { break };
                match me.cycle(&store, &token, None, true).await {
                    Ok(served) if !served.remote.is_empty() => {
                        wait = Duration::from_millis(100);
                        idle = Duration::ZERO;
                    }
                    Ok(_) => {
                        idle += wait;
                        wait = (wait * 2).min(Duration::from_secs(1));
                        if idle > me.patience * 3 {
                            break;
                        }
                    }
                    Err(CycleError::NotLeader) => {
                        *lead = None;
                        break;
                    }
                    Err(CycleError::Store(e)) => {
                        tracing::warn!(error = %e, "serving queue requests failed; retrying");
                        wait = Duration::from_secs(1);
                    }
                }
            }
            me.serving.store(false, Ordering::SeqCst);
        });
    }

    /// One cycle: read others' requests and the rows every operation needs,
    /// plan them in order, write everything in one transaction.
    async fn cycle(
        &self,
        store: &BigQueryStore,
        token: &str,
        local: Option<&Op>,
        serve: bool,
    ) -> Result<Served, CycleError> {
        for _ in 0..CYCLE_ROUNDS {
            let started = Instant::now();
            let (remote, malformed) = if serve || self.requests_waiting.load(Ordering::SeqCst) {
                read_requests(store).await?
            } else {
                (Vec::new(), Vec::new())
            };
            let mut ops: Vec<&Op> = remote.iter().map(|(_, op)| op).collect();
            ops.extend(local);
            let read = load_rows(store, &ops, &self.cache).await?;
            let mut candidates: Vec<&JobEnrichment> = read.iter().collect();
            candidates.sort_by(|a, b| {
                (a.created_at, &a.job_posting_id, &a.enrichment_version).cmp(&(
                    b.created_at,
                    &b.job_posting_id,
                    &b.enrichment_version,
                ))
            });
            let candidates: Vec<EnrichmentKey> = candidates.iter().map(|e| e.key()).collect();
            let mut plan = Plan::new(read);
            let mut replies: Vec<Reply> = Vec::with_capacity(ops.len());
            for op in &ops {
                replies.push(match op {
                    Op::Claim(request) => Reply::Claimed(plan.claim(request, &candidates)),
                    Op::Complete(outcomes, now) => match plan.complete(outcomes, *now) {
                        Ok(report) => Reply::Completed(report),
                        Err(e) => Reply::Failed(e.to_string()),
                    },
                    Op::Release(keys, owner, now) => {
                        Reply::Released(plan.release(keys, owner, *now))
                    }
                });
            }
            let local_reply = local.map(|_| replies.pop().expect("one reply per operation"));
            let mut remote_replies: HashMap<String, Reply> = remote
                .iter()
                .map(|(id, _)| id.clone())
                .zip(replies)
                .collect();
            for (id, why) in &malformed {
                remote_replies.insert(id.clone(), Reply::Failed(why.clone()));
            }
            if plan.is_empty() && remote_replies.is_empty() {
                return Ok(Served {
                    local: local_reply,
                    remote: remote_replies,
                });
            }
            let (mut rows, states) = plan.staged_rows();
            for (id, reply) in &remote_replies {
                let text = serde_json::to_string(reply)
                    .map_err(|e| StoreError::Backend(format!("encoding a queue reply: {e}")))?;
                rows.push(("reply", json!({"request_id": id, "reply": text})));
            }
            let batch = store.stage(rows).await?;
            // After the commit, in the same request: are others waiting?
            let waiting = "SELECT COUNT(*) FROM queue_requests q
                 WHERE q.staged_at >= TIMESTAMP_SUB(CURRENT_TIMESTAMP(), INTERVAL @ttl MINUTE)
                   AND NOT EXISTS (SELECT 1 FROM queue_replies r WHERE r.request_id = q.request_id);";
            let guard = format!(
                "UPDATE queue_coordinator
                 SET heartbeat_at = TIMESTAMP_ADD(CURRENT_TIMESTAMP(), INTERVAL @grace MILLISECOND)
                 WHERE name = 'queue' AND token = @token;
                 IF @@row_count <> 1 THEN
                   RAISE USING MESSAGE = '{NOT_LEADER}';
                 END IF;"
            );
            let answer = if remote_replies.is_empty() {
                String::new()
            } else {
                format!(
                    "INSERT INTO queue_replies (request_id, reply, applied_at)
                     SELECT request_id, reply, CURRENT_TIMESTAMP() FROM {};",
                    batch.source(&[("request_id", Ty::Str), ("reply", Ty::Str)], "reply")
                )
            };
            // The heartbeat covers this cycle's work so far and a commit as
            // slow as the last one.
            let grace = grace_ms(
                started.elapsed()
                    + Duration::from_millis(self.last_commit_ms.load(Ordering::SeqCst)),
            );
            let committing = Instant::now();
            match store
                .query(
                    "applying queue operations",
                    &format!("{}\n{waiting}", plan.script(&batch, &guard, &answer)),
                    Params::new()
                        .str("batch", batch.param())
                        .str("token", token)
                        .i64("grace", grace)
                        .i64("expected_rows", states)
                        .i64("ttl", REQUEST_TTL_MINUTES),
                )
                .await
            {
                Ok(out) => {
                    self.last_commit_ms.store(
                        u64::try_from(committing.elapsed().as_millis()).unwrap_or(u64::MAX),
                        Ordering::SeqCst,
                    );
                    let waiting = out.rows.first().map(|r| r.i64(0)).transpose()?;
                    self.requests_waiting
                        .store(waiting.is_none_or(|n| n > 0), Ordering::SeqCst);
                    if let Ok(mut cache) = self.cache.lock() {
                        for row in plan.changed_rows() {
                            if row.status == jobenrich_domain::EnrichmentStatus::Processing {
                                cache.insert(row.key(), row.clone());
                            } else {
                                cache.remove(&row.key());
                            }
                        }
                    }
                    return Ok(Served {
                        local: local_reply,
                        remote: remote_replies,
                    });
                }
                Err(e) if e.to_string().contains(NOT_LEADER) => {
                    self.forget_rows();
                    return Err(CycleError::NotLeader);
                }
                Err(e) if e.to_string().contains(ROW_CHANGED) => {
                    self.forget_rows();
                    continue;
                }
                Err(e) => return Err(e.into()),
            }
        }
        Err(StoreError::Transient(
            "applying queue operations: rows kept changing concurrently".into(),
        )
        .into())
    }
}

/// Complete requests of other stores not yet answered, oldest first, and
/// the ids of those that cannot be read (answered with the reason).
async fn read_requests(
    store: &BigQueryStore,
) -> StoreResult<(Vec<(String, Op)>, Vec<(String, String)>)> {
    let out = store
        .query(
            "reading queue requests",
            "SELECT q.request_id, q.row_index, q.payload FROM queue_requests q
             WHERE q.staged_at >= TIMESTAMP_SUB(CURRENT_TIMESTAMP(), INTERVAL @ttl MINUTE)
               AND NOT EXISTS (SELECT 1 FROM queue_replies r WHERE r.request_id = q.request_id)
             ORDER BY q.staged_at, q.request_id, q.row_index",
            Params::new().i64("ttl", REQUEST_TTL_MINUTES),
        )
        .await?;
    // Request ids in first-seen order; rows by index (a row streamed twice counts once).
    let mut order: Vec<String> = Vec::new();
    let mut rows: HashMap<String, BTreeMap<i64, String>> = HashMap::new();
    for r in &out.rows {
        let id = r.str(0)?;
        let entry = rows.entry(id.clone()).or_insert_with(|| {
            order.push(id);
            BTreeMap::new()
        });
        entry.insert(r.i64(1)?, r.str(2)?);
    }
    let (mut ops, mut malformed) = (Vec::new(), Vec::new());
    for id in order {
        match decode(&rows[&id]) {
            Ok(Some(op)) => ops.push((id, op)),
            Ok(None) => {}
            Err(why) => malformed.push((id.clone(), format!("queue request {id}: {why}"))),
        }
    }
    Ok((ops, malformed))
}

/// Every row the operations may touch in one read: the rows named by
/// completions and releases, and per claimed (type, version) the oldest rows
/// due at the latest `now` of its claims, as many as they ask for together.
async fn load_rows(
    store: &BigQueryStore,
    ops: &[&Op],
    cache: &std::sync::Mutex<HashMap<EnrichmentKey, JobEnrichment>>,
) -> StoreResult<Vec<JobEnrichment>> {
    let mut keys: Vec<EnrichmentKey> = Vec::new();
    let mut groups: BTreeMap<(EnrichmentType, String), (DateTime<Utc>, usize)> = BTreeMap::new();
    for op in ops {
        match op {
            Op::Complete(outcomes, _) => keys.extend(outcomes.iter().map(|o| o.key.clone())),
            Op::Release(k, _, _) => keys.extend(k.iter().cloned()),
            Op::Claim(r) => {
                let version = r
                    .enrichment_version
                    .as_ref()
                    .map_or(String::new(), |v| v.to_string());
                let group = groups
                    .entry((r.enrichment_type, version))
                    .or_insert((r.now, 0));
                group.0 = group.0.max(r.now);
                group.1 = group.1.saturating_add(r.limit);
            }
        }
    }
    let mut rows = Vec::new();
    let mut seen = std::collections::HashSet::new();
    if let Ok(cached) = cache.lock() {
        keys.retain(|k| match cached.get(k) {
            Some(row) => {
                if seen.insert(k.clone()) {
                    rows.push(row.clone());
                }
                false
            }
            None => true,
        });
    }
    let cols = select_list(ENRICHMENT_COLS, "e");
    let mut branches = Vec::new();
    let mut params = Params::new();
    if !keys.is_empty() {
        branches.push(format!(
            "SELECT {cols} FROM job_enrichments e WHERE {}",
            keys_match("e")
        ));
        params = params.str("keys", keys_json(&keys));
    }
    for (i, ((kind, version), (now, wanted))) in groups.iter().enumerate() {
        branches.push(format!(
            "SELECT * FROM (SELECT {cols} FROM job_enrichments e
               WHERE e.enrichment_type = @type_{i} AND (@version_{i} = '' OR e.enrichment_version = @version_{i})
                 AND ((e.status = 'pending' AND (e.next_attempt_at IS NULL OR e.next_attempt_at <= @now_{i}))
                      OR (e.status = 'processing' AND e.lease_expires_at <= @now_{i}))
               ORDER BY e.created_at, e.job_posting_id, e.enrichment_version
               LIMIT @limit_{i})"
        ));
        params = params
            .str(&format!("type_{i}"), kind.as_str())
            .str(&format!("version_{i}"), version)
            .ts(&format!("now_{i}"), *now)
            .i64(&format!("limit_{i}"), limit(*wanted));
    }
    if branches.is_empty() {
        return Ok(rows);
    }
    let out = store
        .query(
            "reading enrichments for queue operations",
            &branches.join("\nUNION ALL\n"),
            params,
        )
        .await?;
    for r in &out.rows {
        let row = enrichment_from_row(r)?;
        if seen.insert(row.key()) {
            rows.push(row);
        }
    }
    Ok(rows)
}

/// How far ahead a cycle dates its heartbeat: three times its work before
/// the transaction plus the last transaction's time (the heartbeat is
/// written when the transaction starts, and the next one comes after this
/// commit and the next cycle's reads). A leader busy with large cycles stays
/// "alive" for longer than the patience alone, so followers do not take over
/// (and abort its transaction) just because a cycle is slow; a dead one is
/// replaced after that time plus the patience.
fn grace_ms(cycle: Duration) -> i64 {
    i64::try_from(cycle.as_millis().saturating_mul(3))
        .unwrap_or(i64::MAX)
        .min(600_000)
}

/// The longest a follower sleeps between polls. A heartbeat dated ahead
/// means the leader's cycles are slow (`grace_ms`): polling faster than a
/// quarter of that only loads BigQuery (and its per-user request rate) with
/// reads whose answer cannot have changed; fast cycles keep the 1 s cap.
fn poll_cap(heartbeat_age_ms: Option<i64>) -> Duration {
    let ahead = heartbeat_age_ms.map_or(0, |ms| ms.saturating_neg().max(0));
    Duration::from_millis(u64::try_from(ahead / 4).unwrap_or(0)).clamp(POLL_CAP, POLL_CAP_SLOW)
}

fn millis(d: Duration) -> i64 {
    i64::try_from(d.as_millis()).unwrap_or(i64::MAX)
}

/// A number in [0, 1) for jitter: the random bits of a v4 UUID (the crate
/// is here already; no RNG crate for this one use).
fn rand_unit() -> f64 {
    let bits = uuid::Uuid::new_v4().as_u128() as u64 >> 11;
    bits as f64 / (1u64 << 53) as f64
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn requests_round_trip_and_an_incomplete_one_waits() {
        let now = DateTime::from_timestamp_micros(1_700_000_000_000_000).unwrap();
        let claim = Op::Claim(ClaimRequest {
            enrichment_type: EnrichmentType::SkillsExtraction,
            enrichment_version: None,
            owner: "w".into(),
            lease: ChronoDuration::seconds(60),
            limit: 7,
            max_attempts: 3,
            now,
        });
        let rows: BTreeMap<i64, String> = encode(&claim)
            .unwrap()
            .into_iter()
            .enumerate()
            .map(|(i, v)| (i as i64, v.to_string()))
            .collect();
        match decode(&rows).unwrap() {
            Some(Op::Claim(r)) => {
                assert_eq!((r.limit, r.max_attempts, r.now), (7, 3, now));
                assert_eq!(r.lease, ChronoDuration::seconds(60));
            }
            other => panic!("{other:?}"),
        }
        let header = json!({"op": "complete", "now": now, "outcomes": 2}).to_string();
        let partial = BTreeMap::from([(0, header)]);
        assert!(
            decode(&partial).unwrap().is_none(),
            "outcome rows still streaming"
        );
        let broken = BTreeMap::from([(0, "{\"op\":\"nope\"}".to_string())]);
        assert!(decode(&broken).unwrap_err().contains("header"));
    }

    #[test]
    fn slow_cycles_date_the_heartbeat_ahead_and_slow_the_polls() {
        assert_eq!(grace_ms(Duration::from_millis(400)), 1_200);
        assert_eq!(grace_ms(Duration::from_secs(3_600)), 600_000, "capped");
        // Fresh or silent leader, or a heartbeat a little ahead: 1 s.
        for age in [None, Some(0), Some(20_000), Some(-3_000)] {
            assert_eq!(poll_cap(age), POLL_CAP, "{age:?}");
        }
        assert_eq!(poll_cap(Some(-12_000)), Duration::from_secs(3));
        assert_eq!(poll_cap(Some(-120_000)), POLL_CAP_SLOW);
        assert_eq!(poll_cap(Some(i64::MIN)), POLL_CAP_SLOW);
    }

    #[test]
    fn jitter_stays_in_the_unit_interval_and_varies() {
        let draws: Vec<f64> = (0..200).map(|_| rand_unit()).collect();
        assert!(draws.iter().all(|x| (0.0..1.0).contains(x)));
        let distinct: std::collections::HashSet<u64> = draws.iter().map(|x| x.to_bits()).collect();
        assert!(distinct.len() > 190);
    }
}
