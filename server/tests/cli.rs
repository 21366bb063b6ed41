//! The binary: refusing to start without an auth mode, the listening line, graceful
//! shutdown; and, with PostgreSQL, two server processes on one database.

mod common;

use std::collections::BTreeSet;
use std::process::Stdio;
use std::time::Duration;

use common::*;
use serde_json::json;
use tokio::process::Command;

const BIN: &str = env!("CARGO_BIN_EXE_pwa-sync-server");

async fn run_to_exit(args: &[&str]) -> std::process::Output {
    let child = Command::new(BIN)
        .args(args)
        .env_remove("PWA_SYNC_JWT_SECRET")
        .env_remove("PWA_SYNC_WEBHOOK_SECRET")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .unwrap();
    tokio::time::timeout(Duration::from_secs(30), child.wait_with_output()).await.expect("exits").unwrap()
}

#[tokio::test]
async fn refuses_to_start_without_an_auth_mode() {
    let dir = tempfile::tempdir().unwrap();
    let db = format!("sqlite://{}/sync.db", dir.path().display());
    let out = run_to_exit(&["--listen", "127.0.0.1:0", "--database", &db]).await;
    assert_eq!(out.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("--jwt-secret") && stderr.contains("--dev-auth"), "{stderr}");
    assert!(!String::from_utf8_lossy(&out.stdout).contains("listening"));
    // Nothing was created either.
    assert!(!dir.path().join("sync.db").exists());
}

#[tokio::test]
async fn refuses_to_start_with_both_auth_modes() {
    let out = run_to_exit(&["--listen", "127.0.0.1:0", "--dev-auth", "--jwt-secret", "s3cret"]).await;
    assert_eq!(out.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("only one"), "{stderr}");
}

#[tokio::test]
async fn refuses_to_start_with_a_webhook_but_no_secret() {
    let dir = tempfile::tempdir().unwrap();
    let db = format!("sqlite://{}/sync.db", dir.path().display());
    let out = run_to_exit(&[
        "--listen",
        "127.0.0.1:0",
        "--database",
        &db,
        "--dev-auth",
        "--webhook",
        "http://127.0.0.1:9/hook",
    ])
    .await;
    assert_eq!(out.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("--webhook-secret") && stderr.contains("PWA_SYNC_WEBHOOK_SECRET"), "{stderr}");
    assert!(!dir.path().join("sync.db").exists());
    let out =
        run_to_exit(&["--listen", "127.0.0.1:0", "--dev-auth", "--webhook", "ftp://x/y", "--webhook-secret", "s"])
            .await;
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("http://"), "{}", String::from_utf8_lossy(&out.stderr));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn webhook_secret_may_come_from_the_environment() {
    let dir = tempfile::tempdir().unwrap();
    let db = format!("sqlite://{}/sync.db", dir.path().display());
    let p =
        spawn_server_with(&db, &["--webhook", "http://127.0.0.1:9/hook"], &[("PWA_SYNC_WEBHOOK_SECRET", "from-env")])
            .await;
    let (status, health) = Api::new(&p.base).get("/sync/health", None, None).await;
    assert_eq!(status.as_u16(), 200);
    assert_eq!(health, json!({"status": "healthy"}));
}

/// SIGTERM while a webhook request hangs: the process exits promptly, and the event is
/// released (pending, no attempt counted) to be sent again later.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn shutdown_interrupts_a_hanging_webhook_and_keeps_the_event() {
    // Accepts connections (the kernel's backlog) but never answers.
    let silent = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let hook = format!("http://{}/hook", silent.local_addr().unwrap());
    let dir = tempfile::tempdir().unwrap();
    let db = format!("sqlite://{}/sync.db", dir.path().display());
    let mut p =
        spawn_server_with(&db, &["--webhook", &hook, "--webhook-secret", "s", "--webhook-timeout-secs", "60"], &[])
            .await;
    let api = Api::new(&p.base);
    api.push_ok("alice", &batch("c-1", vec![put(1, "n", "k", json!({}), None)])).await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    let pid = p.child.id().unwrap().to_string();
    assert!(std::process::Command::new("kill").args(["-TERM", &pid]).status().unwrap().success());
    let status = tokio::time::timeout(Duration::from_secs(8), p.child.wait()).await.expect("exits on SIGTERM").unwrap();
    assert!(status.success(), "{status:?}");
    let pool = sqlx::SqlitePool::connect(&db).await.unwrap();
    let row: (String, i64, Option<String>) =
        sqlx::query_as("SELECT state, CAST(attempts AS BIGINT), claimed_by FROM webhook_outbox")
            .fetch_one(&pool)
            .await
            .unwrap();
    assert_eq!(row, ("pending".to_string(), 0, None));
    drop(silent);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn binary_prints_its_address_serves_and_shuts_down_gracefully() {
    let dir = tempfile::tempdir().unwrap();
    let db = format!("sqlite://{}/nested/dir/sync.db", dir.path().display());
    let mut p = spawn_server(&db).await;
    assert!(dir.path().join("nested/dir/sync.db").exists(), "SQLite file and parent dirs created");
    let api = Api::new(&p.base);
    let (status, health) = api.get("/sync/health", None, None).await;
    assert_eq!(status.as_u16(), 200, "{health}");
    let mut events = api.events("alice").await;
    let v = version_of(&api.push_ok("alice", &batch("c-1", vec![put(1, "n", "k", json!({"a": 1}), None)])).await, 0);
    assert!(events.wait_for_checkpoint(v, Duration::from_secs(10)).await);
    // SIGTERM: exits cleanly although an event stream is open.
    let pid = p.child.id().unwrap().to_string();
    let kill = std::process::Command::new("kill").args(["-TERM", &pid]).status().unwrap();
    assert!(kill.success());
    let status =
        tokio::time::timeout(Duration::from_secs(10), p.child.wait()).await.expect("exits on SIGTERM").unwrap();
    assert!(status.success(), "{status:?}");
    // The data survives a restart (WAL file included).
    let p2 = spawn_server(&db).await;
    let page = Api::new(&p2.base).pull_ok("alice", 0, 10).await;
    assert_eq!(page["changes"][0]["value"], json!({"a": 1}));
}

/// Two server processes on one PostgreSQL database.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
#[ignore = "needs PostgreSQL: run through scripts/with-postgres.sh (make test-host does)"]
async fn postgres_two_processes_stay_correct() {
    let backend = Backend::postgres()
        .unwrap_or_else(|| panic!("{POSTGRES_ENV} is not set: run through scripts/with-postgres.sh"));
    let db = fresh_db(&backend).await;
    // Started at once: both run migrations concurrently.
    let (p1, p2) = tokio::join!(spawn_server(&db.url), spawn_server(&db.url));
    let (a1, a2) = (Api::new(&p1.base), Api::new(&p2.base));

    // A poke crosses processes: subscribed on 1, pushed to 2.
    let mut events = a1.events("watcher").await;
    let v = version_of(&a2.push_ok("watcher", &batch("w-1", vec![put(1, "n", "k", json!({}), None)])).await, 0);
    assert!(events.wait_for_checkpoint(v, Duration::from_secs(10)).await, "poke from process 2 reached process 1");
    let mut other = a1.events("bystander").await;

    // Concurrent pushes to both processes from several tasks, while pullers on both
    // processes follow along.
    const TASKS: u64 = 6;
    const ROUNDS: u64 = 10;
    const PER: u64 = 5;
    let mut pushers = Vec::new();
    for t in 0..TASKS {
        let (a1, a2) = (a1.clone(), a2.clone());
        pushers.push(tokio::spawn(async move {
            let mut versions = Vec::new();
            let mut first_batch = None;
            for round in 0..ROUNDS {
                let muts = (0..PER)
                    .map(|i| put(round * PER + i + 1, "items", &format!("t{t}-r{round}-{i}"), json!({"t": t}), None));
                let body = batch(&format!("c-{t}"), muts.collect());
                let api = if (t + round) % 2 == 0 { &a1 } else { &a2 };
                let resp = api.push_ok("alice", &body).await;
                versions.extend((0..PER as usize).map(|i| version_of(&resp, i)));
                if round == 0 {
                    first_batch = Some((body, resp, (t + round) % 2));
                }
            }
            (versions, first_batch.unwrap())
        }));
    }
    let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let mut pullers = Vec::new();
    for api in [a1.clone(), a2.clone()] {
        let stop = stop.clone();
        pullers.push(tokio::spawn(async move {
            let (mut checkpoint, mut seen) = (0u64, Vec::new());
            loop {
                let done = stop.load(std::sync::atomic::Ordering::SeqCst);
                let (changes, cp) = api.pull_all("alice", checkpoint, 13).await;
                seen.extend(changes.iter().map(|c| c["version"].as_u64().unwrap()));
                checkpoint = cp;
                if done {
                    return seen;
                }
                tokio::time::sleep(Duration::from_millis(3)).await;
            }
        }));
    }
    let mut all = BTreeSet::new();
    let mut firsts = Vec::new();
    for p in pushers {
        let (versions, first) = p.await.unwrap();
        for v in versions {
            assert!(all.insert(v), "version {v} handed out twice");
        }
        firsts.push(first);
    }
    stop.store(true, std::sync::atomic::Ordering::SeqCst);
    assert_eq!(all.len() as u64, TASKS * ROUNDS * PER);
    for puller in pullers {
        let seen = puller.await.unwrap();
        assert!(seen.windows(2).all(|w| w[0] < w[1]), "each change once, in version order");
        assert_eq!(seen.into_iter().collect::<BTreeSet<_>>(), all, "a puller saw every change");
    }

    // A duplicate sent to the other process is answered as before and not re-applied.
    const DOCUMENTS: &str = "SELECT COUNT(*) FROM documents";
    const MUTATIONS: &str = "SELECT COUNT(*) FROM mutations";
    let before = (db_count(&db.url, DOCUMENTS).await, db_count(&db.url, MUTATIONS).await);
    for (body, resp, sent_to) in &firsts {
        let other_api = if *sent_to == 0 { &a2 } else { &a1 };
        let again = other_api.push_ok("alice", body).await;
        assert_eq!(again["results"], resp["results"]);
        // The client's highest recorded id by now, not the one at the first answer.
        assert_eq!(again["lastMutationId"], ROUNDS * PER);
    }
    assert_eq!(before, (db_count(&db.url, DOCUMENTS).await, db_count(&db.url, MUTATIONS).await));
    let (changes, _) = a2.pull_all("alice", 0, 1000).await;
    assert_eq!(changes.len() as u64, TASKS * ROUNDS * PER);

    // The bystander heard nothing of alice's pushes.
    assert_eq!(other.next_data(Duration::from_millis(500)).await, None);
    drop((p1, p2));
}

/// Spaces across processes on one PostgreSQL: a grant made through process 1 reaches
/// the member's stream on process 2 (which then follows the space), a write to the space
/// on 1 pokes the member on 2, and a removal there stops the pokes.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "needs PostgreSQL: run through scripts/with-postgres.sh (make test-host does)"]
async fn postgres_space_pokes_cross_processes() {
    let backend = Backend::postgres()
        .unwrap_or_else(|| panic!("{POSTGRES_ENV} is not set: run through scripts/with-postgres.sh"));
    let db = fresh_db(&backend).await;
    let env = [("PWA_SYNC_ADMIN_TOKEN", "adm")];
    let (p1, p2) = tokio::join!(spawn_server_with(&db.url, &[], &env), spawn_server_with(&db.url, &[], &env));
    let (a1, a2) = (Api::new(&p1.base), Api::new(&p2.base));
    let mut bob = a2.events("bob").await;
    let member = |role: Option<&str>| {
        let url = format!("{}/sync/admin/spaces/g/members/bob", a1.base);
        let req = match role {
            Some(role) => a1.http.put(url).body(json!({ "role": role }).to_string()),
            None => a1.http.delete(url),
        };
        req.bearer_auth("adm").send()
    };
    assert_eq!(member(Some("reader")).await.unwrap().status(), 200);
    assert!(bob.next_data(Duration::from_secs(10)).await.is_some(), "the grant on 1 pokes bob on 2");
    let write = |key: &str| {
        let body = json!({"writes": [{"space": "g", "collection": "c", "key": key, "op": "put", "value": {}}]});
        a1.http.post(format!("{}/sync/admin/writes", a1.base)).bearer_auth("adm").body(body.to_string()).send()
    };
    let resp = write("k1").await.unwrap();
    let (_, body) = read(resp).await;
    let v = body["results"][0]["version"].as_u64().unwrap();
    assert!(bob.wait_for_checkpoint(v, Duration::from_secs(10)).await, "a write to g on 1 pokes bob on 2");
    assert_eq!(member(None).await.unwrap().status(), 200);
    assert!(bob.next_data(Duration::from_secs(10)).await.is_some(), "the removal pokes bob");
    write("k2").await.unwrap();
    assert_eq!(bob.next_data(Duration::from_millis(1000)).await, None, "no pokes of g after the removal");
    let page = a2.pull_ok("bob", v, 10).await;
    assert_eq!(page["revoked"], json!(["g"]));
}
