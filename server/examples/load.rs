//! Load run (`make load`, scripts/load.sh): simulated clients in spaces against running
//! servers. Each client is a user, member (writer) of one space; it keeps an event stream
//! open, pushes batches of new documents into its space and pulls whenever poked. At the
//! end the writers stop, every client pulls until nothing is new, and each must hold
//! every document its space's members had applied. Exits non-zero when one does not, or
//! nothing was applied.
//!
//! Hand-rolled on tokio + reqwest rather than a load tool: what is measured (a change
//! written by one client seen by every other member through SSE and pull, and the
//! convergence check) is protocol behaviour no generic HTTP load generator models.
//!
//! Environment: LOAD_SERVERS (comma-separated base URLs, clients spread over them),
//! LOAD_ADMIN_TOKEN, LOAD_CLIENTS (500), LOAD_SPACE_SIZE (10), LOAD_SECONDS (60),
//! LOAD_BATCH (5 mutations per push), LOAD_PAUSE_MS (500, between a client's pushes).

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use serde_json::{json, Value};
use tokio::sync::{Barrier, Notify};

fn env<T: std::str::FromStr>(name: &str, default: T) -> T {
    std::env::var(name).ok().and_then(|v| v.parse().ok()).unwrap_or(default)
}

fn now_ms() -> u64 {
    SystemTime::now().duration_since(UNIX_EPOCH).map(|d| d.as_millis() as u64).unwrap_or(0)
}

#[derive(Default)]
struct Stats {
    push_ms: Vec<f64>,
    pull_ms: Vec<f64>,
    /// From a writer sending a change to a member of its space having pulled it.
    fanout_ms: Vec<f64>,
    applied: u64,
    errors: u64,
}

/// What one client ends with: the documents it holds, and the keys it wrote (applied).
struct Outcome {
    space: usize,
    held: BTreeMap<String, u64>,
    wrote: BTreeMap<String, u64>,
}

struct Client {
    id: usize,
    user: String,
    space: usize,
    base: String,
    http: reqwest::Client,
}

impl Client {
    async fn push(&self, mutations: Vec<Value>) -> Result<Value, String> {
        let body = json!({"clientId": format!("load-{}", self.id), "mutations": mutations});
        let resp = self
            .http
            .post(format!("{}/sync/push", self.base))
            .header("authorization", format!("Bearer dev:{}", self.user))
            .header("x-sync-protocol", "1")
            .body(body.to_string())
            .send()
            .await
            .map_err(|e| e.to_string())?;
        if !resp.status().is_success() {
            return Err(format!("push: HTTP {}", resp.status()));
        }
        resp.json().await.map_err(|e| e.to_string())
    }

    async fn pull(&self, checkpoint: u64) -> Result<Value, String> {
        let resp = self
            .http
            .get(format!("{}/sync/pull?checkpoint={checkpoint}&limit=500", self.base))
            .header("authorization", format!("Bearer dev:{}", self.user))
            .header("x-sync-protocol", "1")
            .send()
            .await
            .map_err(|e| e.to_string())?;
        if !resp.status().is_success() {
            return Err(format!("pull: HTTP {}", resp.status()));
        }
        resp.json().await.map_err(|e| e.to_string())
    }
}

/// Pull every page from `checkpoint`, folding changes into `held`; records latency and
/// fan-out delays of other members' changes.
async fn pull_all(c: &Client, checkpoint: &mut u64, held: &mut BTreeMap<String, u64>, stats: &Mutex<Stats>) {
    loop {
        let started = Instant::now();
        let page = match c.pull(*checkpoint).await {
            Ok(p) => p,
            Err(_) => {
                lock(stats).errors += 1;
                tokio::time::sleep(Duration::from_millis(100)).await;
                continue;
            }
        };
        let seen = now_ms();
        let mut s = lock(stats);
        s.pull_ms.push(started.elapsed().as_secs_f64() * 1000.0);
        for change in page["changes"].as_array().into_iter().flatten() {
            let key = change["key"].as_str().unwrap_or_default().to_string();
            let version = change["version"].as_u64().unwrap_or(0);
            if let Some(sent) = change["value"]["sent"].as_u64() {
                if change["value"]["by"].as_u64() != Some(c.id as u64) {
                    s.fanout_ms.push(seen.saturating_sub(sent) as f64);
                }
            }
            held.insert(key, version);
        }
        drop(s);
        *checkpoint = page["checkpoint"].as_u64().unwrap_or(*checkpoint);
        if page["hasMore"].as_bool() != Some(true) {
            return;
        }
    }
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}

/// Reads the client's event stream, waking `poked` on every poke.
async fn listen(c: &Client, poked: Arc<Notify>, stop: Arc<AtomicBool>) {
    let resp = c
        .http
        .get(format!("{}/sync/events", c.base))
        .header("authorization", format!("Bearer dev:{}", c.user))
        .header("x-sync-protocol", "1")
        .send()
        .await;
    let Ok(mut resp) = resp else { return };
    while !stop.load(Ordering::Relaxed) {
        match tokio::time::timeout(Duration::from_secs(1), resp.chunk()).await {
            Ok(Ok(Some(chunk))) => {
                if chunk.windows(5).any(|w| w == b"data:") {
                    poked.notify_one();
                }
            }
            Ok(_) => return,
            Err(_) => {}
        }
    }
}

async fn run_client(c: Client, deadline: Instant, stats: Arc<Mutex<Stats>>, done: Arc<Barrier>) -> Outcome {
    let (batch, pause) = (env("LOAD_BATCH", 5u64), Duration::from_millis(env("LOAD_PAUSE_MS", 500u64)));
    let poked = Arc::new(Notify::new());
    let stop = Arc::new(AtomicBool::new(false));
    let c = Arc::new(c);
    let listener = {
        let (c, poked, stop) = (c.clone(), poked.clone(), stop.clone());
        tokio::spawn(async move { listen(&c, poked, stop).await })
    };
    let space = format!("load-{}", c.space);
    // Reader: pulls whenever poked (pokes during a pull coalesce into one more pull).
    let reader = {
        let (c, poked, stop, stats) = (c.clone(), poked.clone(), stop.clone(), stats.clone());
        tokio::spawn(async move {
            let (mut checkpoint, mut held) = (0u64, BTreeMap::new());
            pull_all(&c, &mut checkpoint, &mut held, &stats).await;
            while !stop.load(Ordering::Relaxed) {
                if tokio::time::timeout(Duration::from_millis(500), poked.notified()).await.is_ok() {
                    pull_all(&c, &mut checkpoint, &mut held, &stats).await;
                }
            }
            (checkpoint, held)
        })
    };
    let mut wrote = BTreeMap::new();
    let mut next_id = 1u64;
    // Spread the clients' first pushes over one pause.
    tokio::time::sleep(pause.mul_f64(fastrand::f64())).await;
    while Instant::now() < deadline {
        let sent = now_ms();
        let mutations: Vec<Value> = (0..batch)
            .map(|i| {
                json!({"id": next_id + i, "collection": "items", "key": format!("c{}-{}", c.id, next_id + i),
                       "op": "put", "value": {"sent": sent, "by": c.id}, "baseVersion": null,
                       "hlc": format!("{sent:015}-0000-load{}", c.id), "space": space})
            })
            .collect();
        let started = Instant::now();
        match c.push(mutations).await {
            Ok(resp) => {
                let mut s = lock(&stats);
                s.push_ms.push(started.elapsed().as_secs_f64() * 1000.0);
                for r in resp["results"].as_array().into_iter().flatten() {
                    if r["status"] == "applied" {
                        s.applied += 1;
                        let id = r["id"].as_u64().unwrap_or(0);
                        wrote.insert(format!("c{}-{id}", c.id), r["version"].as_u64().unwrap_or(0));
                    }
                }
                next_id += batch;
            }
            // The same ids are sent again: applied at most once.
            Err(_) => lock(&stats).errors += 1,
        }
        tokio::time::sleep(pause).await;
    }
    // Quiesce: every client has its last push answered, the last pokes arrive, then the
    // reader stops and the client pulls to the end.
    done.wait().await;
    tokio::time::sleep(Duration::from_secs(2)).await;
    stop.store(true, Ordering::Relaxed);
    poked.notify_one();
    let (mut checkpoint, mut held) = reader.await.unwrap_or_default();
    listener.abort();
    pull_all(&c, &mut checkpoint, &mut held, &stats).await;
    Outcome { space: c.space, held, wrote }
}

fn percentile(sorted: &[f64], p: f64) -> f64 {
    if sorted.is_empty() {
        return f64::NAN;
    }
    sorted[((sorted.len() as f64 - 1.0) * p).round() as usize]
}

#[tokio::main]
async fn main() -> Result<(), String> {
    let servers: Vec<String> = std::env::var("LOAD_SERVERS")
        .map_err(|_| "LOAD_SERVERS is not set (comma-separated base URLs)".to_string())?
        .split(',')
        .map(String::from)
        .collect();
    let admin = std::env::var("LOAD_ADMIN_TOKEN").map_err(|_| "LOAD_ADMIN_TOKEN is not set".to_string())?;
    let clients: usize = env("LOAD_CLIENTS", 500);
    let space_size: usize = env("LOAD_SPACE_SIZE", 10);
    let seconds: u64 = env("LOAD_SECONDS", 60);
    let http = reqwest::Client::builder()
        .timeout(Duration::from_secs(600))
        .pool_max_idle_per_host(clients * 2)
        .build()
        .map_err(|e| e.to_string())?;
    for id in 0..clients {
        let url = format!("{}/sync/admin/spaces/load-{}/members/u{id}", servers[0], id / space_size);
        let resp = http
            .put(url)
            .bearer_auth(&admin)
            .body(json!({"role": "writer"}).to_string())
            .send()
            .await
            .map_err(|e| e.to_string())?;
        if !resp.status().is_success() {
            return Err(format!("granting u{id}: HTTP {}", resp.status()));
        }
    }
    let stats = Arc::new(Mutex::new(Stats::default()));
    let started = Instant::now();
    let deadline = started + Duration::from_secs(seconds);
    let done = Arc::new(Barrier::new(clients));
    let tasks: Vec<_> = (0..clients)
        .map(|id| {
            let client = Client {
                id,
                user: format!("u{id}"),
                space: id / space_size,
                base: servers[id % servers.len()].clone(),
                http: http.clone(),
            };
            tokio::spawn(run_client(client, deadline, stats.clone(), done.clone()))
        })
        .collect();
    let mut outcomes = Vec::with_capacity(clients);
    for task in tasks {
        outcomes.push(task.await.map_err(|e| e.to_string())?);
    }
    let writing = seconds as f64;
    // Convergence: every member holds every document its space's members applied.
    let mut applied_by_space: HashMap<usize, BTreeMap<String, u64>> = HashMap::new();
    for o in &outcomes {
        applied_by_space.entry(o.space).or_default().extend(o.wrote.iter().map(|(k, v)| (k.clone(), *v)));
    }
    let (mut converged, mut lost) = (0usize, BTreeSet::new());
    for o in &outcomes {
        let want = &applied_by_space[&o.space];
        let missing: Vec<&String> = want.iter().filter(|(k, v)| o.held.get(*k) != Some(v)).map(|(k, _)| k).collect();
        if missing.is_empty() {
            converged += 1;
        }
        lost.extend(missing.into_iter().cloned());
    }
    let mut s = std::mem::take(&mut *lock(&stats));
    for v in [&mut s.push_ms, &mut s.pull_ms, &mut s.fanout_ms] {
        v.sort_by(f64::total_cmp);
    }
    println!(
        "load: {} clients in {} spaces of {}, {} servers, {} s: applied {} mutations ({:.0}/s), \
         push p50 {:.1} ms p99 {:.1} ms ({} pushes), pull p50 {:.1} ms p99 {:.1} ms ({} pulls), \
         fan-out p50 {:.0} ms p99 {:.0} ms ({} deliveries), errors {}, converged {}/{}, lost {}",
        clients,
        clients.div_ceil(space_size),
        space_size,
        servers.len(),
        seconds,
        s.applied,
        s.applied as f64 / writing,
        percentile(&s.push_ms, 0.5),
        percentile(&s.push_ms, 0.99),
        s.push_ms.len(),
        percentile(&s.pull_ms, 0.5),
        percentile(&s.pull_ms, 0.99),
        s.pull_ms.len(),
        percentile(&s.fanout_ms, 0.5),
        percentile(&s.fanout_ms, 0.99),
        s.fanout_ms.len(),
        s.errors,
        converged,
        clients,
        lost.len()
    );
    if converged != clients {
        return Err(format!("{} clients did not converge; lost {}", clients - converged, lost.len()));
    }
    if s.applied == 0 {
        return Err("nothing was applied".into());
    }
    Ok(())
}
