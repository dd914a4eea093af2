//! A scenario written for Goose (its own `user.get`, `user.post`, `user.request(GooseRequest)`,
//! `set_success`, `set_failure`), run by skein's virtual users against a local server: every
//! request the server saw is in the statistics, once, with Locust's outcome.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

use axum::http::StatusCode;
use axum::routing::{get, post};
use axum::Router;
use goose::goose::{
    GooseMethod, GooseRequest, GooseUser, Scenario, Transaction, TransactionResult,
};
use goose::transaction;
use skein::engine::{hub, select_classes, SessionFactory, VirtualUser};
use skein_api::UserClass;

async fn index(user: &mut GooseUser) -> TransactionResult {
    let _goose = user.get("/").await?;
    Ok(())
}

async fn submit(user: &mut GooseUser) -> TransactionResult {
    let _goose = user.post("/submit", "payload").await?;
    Ok(())
}

/// A named request whose 200 has the wrong body: a failure with the tag.
async fn named_wrong_body(user: &mut GooseUser) -> TransactionResult {
    let request = GooseRequest::builder()
        .method(GooseMethod::Get)
        .path("/wrong?id=1")
        .name("wrong body")
        .build();
    let mut goose = user.request(request).await?;
    if let Ok(response) = goose.response {
        let text = response.text().await.unwrap_or_default();
        if !text.contains("expected") {
            return user.set_failure("body lacks 'expected'", &mut goose.request, None, None);
        }
    }
    Ok(())
}

/// A 404 the transaction accepts.
async fn accepted_404(user: &mut GooseUser) -> TransactionResult {
    let mut goose = user.get("/missing").await?;
    if let Ok(response) = &goose.response {
        if response.status() == 404 {
            return user.set_success(&mut goose.request);
        }
    }
    Ok(())
}

/// A 500 nobody accepts.
async fn broken(user: &mut GooseUser) -> TransactionResult {
    let _goose = user.get("/broken").await?;
    Ok(())
}

/// Two requests in one transaction: the first is flushed by the second, the second by the
/// engine at the end of the transaction.
async fn two(user: &mut GooseUser) -> TransactionResult {
    let _a = user.get("/").await?;
    let _b = user.get("/").await?;
    Ok(())
}

async fn server(hits: Arc<AtomicUsize>) -> String {
    let h = |hits: Arc<AtomicUsize>| {
        move || {
            hits.fetch_add(1, Ordering::SeqCst);
            std::future::ready(())
        }
    };
    let (a, b, c, d, e) = (
        h(hits.clone()),
        h(hits.clone()),
        h(hits.clone()),
        h(hits.clone()),
        h(hits.clone()),
    );
    let app = Router::new()
        .route(
            "/",
            get(move || {
                let f = a.clone();
                async move {
                    f().await;
                    "hello"
                }
            }),
        )
        .route(
            "/submit",
            post(move || {
                let f = b.clone();
                async move {
                    f().await;
                    "thanks"
                }
            }),
        )
        .route(
            "/wrong",
            get(move || {
                let f = c.clone();
                async move {
                    f().await;
                    "something else"
                }
            }),
        )
        .route(
            "/missing",
            get(move || {
                let f = d.clone();
                async move {
                    f().await;
                    (StatusCode::NOT_FOUND, "no")
                }
            }),
        )
        .route(
            "/broken",
            get(move || {
                let f = e.clone();
                async move {
                    f().await;
                    (StatusCode::INTERNAL_SERVER_ERROR, "oops")
                }
            }),
        );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        let _ = axum::serve(listener, app).await;
    });
    format!("http://{addr}")
}

#[tokio::test]
async fn goose_requests_are_recorded_once_with_locusts_outcome() {
    let hits = Arc::new(AtomicUsize::new(0));
    let base = server(hits.clone()).await;
    let scenario = Scenario::new("GooseStyle")
        .register_transaction(transaction!(index).set_name("index"))
        .register_transaction(transaction!(submit).set_name("submit"))
        .register_transaction(transaction!(named_wrong_body).set_name("wrong"))
        .register_transaction(transaction!(accepted_404).set_name("missing"))
        .register_transaction(transaction!(broken).set_name("broken"))
        .register_transaction(transaction!(two).set_name("two"));
    let plan = select_classes(&[UserClass::new(scenario)], &[], None, None)
        .unwrap()
        .remove(0);
    let hub = hub::spawn(0.0, "local".into());
    let mut vu = VirtualUser::new(
        plan,
        base.parse().unwrap(),
        &SessionFactory::new().unwrap(),
        hub.clone(),
    )
    .unwrap();
    // Random picks: 60 iterations reach every transaction (each has 1/6) with near certainty.
    for _ in 0..60 {
        vu.iterate(None).await;
    }
    let seen = hits.load(Ordering::SeqCst) as u64;
    let (total, entries, errors, exceptions) = hub
        .read(|v| {
            let t = v.stats.total();
            let entries: Vec<(String, String, u64, u64)> = v
                .stats
                .entries()
                .iter()
                .map(|e| {
                    (
                        e.method.clone(),
                        e.name.clone(),
                        e.num_requests,
                        e.num_failures,
                    )
                })
                .collect();
            let errors: Vec<(String, String, String, u64)> = v
                .stats
                .errors()
                .iter()
                .map(|e| {
                    (
                        e.method.clone(),
                        e.name.clone(),
                        e.error.clone(),
                        e.occurrences,
                    )
                })
                .collect();
            (
                (t.num_requests, t.num_failures),
                entries,
                errors,
                v.exceptions.len(),
            )
        })
        .await
        .unwrap();
    assert_eq!(
        total.0, seen,
        "every request the server saw is recorded, once"
    );
    let entry = |m: &str, n: &str| {
        entries
            .iter()
            .find(|e| e.0 == m && e.1 == n)
            .map(|e| (e.2, e.3))
            .unwrap_or_else(|| panic!("no entry {m} {n} in {entries:?}"))
    };
    let (n, f) = entry("GET", "/");
    assert!(n > 0 && f == 0, "{entries:?}");
    let (n, f) = entry("POST", "/submit");
    assert!(n > 0 && f == 0, "{entries:?}");
    let (n, f) = entry("GET", "wrong body");
    assert!(n > 0 && f == n, "set_failure fails each: {entries:?}");
    let (n, f) = entry("GET", "/missing");
    assert!(n > 0 && f == 0, "set_success accepts each: {entries:?}");
    let (n, f) = entry("GET", "/broken");
    assert!(n > 0 && f == n, "{entries:?}");
    assert_eq!(
        total.1,
        entry("GET", "wrong body").1 + entry("GET", "/broken").1
    );

    let error = |n: &str| {
        errors
            .iter()
            .find(|e| e.1 == n)
            .unwrap_or_else(|| panic!("no error for {n} in {errors:?}"))
            .clone()
    };
    let wrong = error("wrong body");
    assert_eq!(wrong.2, "CatchResponseError(\"body lacks 'expected'\")");
    assert_eq!(wrong.3, entry("GET", "wrong body").1);
    let broken = error("/broken");
    assert_eq!(
        broken.2,
        "HTTPError('500 Server Error: Internal Server Error for url: /broken')"
    );
    assert_eq!(errors.len(), 2, "{errors:?}");
    assert_eq!(
        exceptions, 0,
        "set_failure's error is the request's failure, not an exception"
    );
}

/// A request, then a wait that never ends: the user is killed in the middle.
async fn get_then_hang(user: &mut GooseUser) -> TransactionResult {
    let _goose = user.get("/").await?;
    std::future::pending::<()>().await;
    Ok(())
}

/// A user killed in the middle of a transaction: the request it finished is still recorded.
#[tokio::test]
async fn a_killed_users_finished_requests_are_recorded() {
    let hits = Arc::new(AtomicUsize::new(0));
    let base = server(hits.clone()).await;
    let scenario =
        Scenario::new("Hang").register_transaction(transaction!(get_then_hang).set_name("hang"));
    let plan = select_classes(&[UserClass::new(scenario)], &[], None, None)
        .unwrap()
        .remove(0);
    let hub = hub::spawn(0.0, "local".into());
    let mut vu = VirtualUser::new(
        plan,
        base.parse().unwrap(),
        &SessionFactory::new().unwrap(),
        hub.clone(),
    )
    .unwrap();
    let task = tokio::spawn(async move { vu.iterate(None).await });
    // Bounded waits on events, not on durations: up to 10 s for each.
    for _ in 0..1000 {
        if hits.load(Ordering::SeqCst) == 1 {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(10)).await;
    }
    assert_eq!(hits.load(Ordering::SeqCst), 1);
    task.abort();
    let _ = task.await;
    let mut recorded = 0;
    for _ in 0..1000 {
        recorded = hub.read(|v| v.stats.total().num_requests).await.unwrap();
        if recorded == 1 {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(10)).await;
    }
    assert_eq!(
        recorded, 1,
        "the killed user's request is in the statistics"
    );
}

/// Sets a cookie on `/login`; `/whoami` answers with the cookie it was sent (or "none").
async fn cookie_server() -> String {
    let app = Router::new()
        .route(
            "/login",
            get(|| async { ([("set-cookie", "sid=user-one; Path=/")], "ok") }),
        )
        .route(
            "/whoami",
            get(|headers: axum::http::HeaderMap| async move {
                let cookie = headers
                    .get("cookie")
                    .and_then(|v| v.to_str().ok())
                    .unwrap_or("none")
                    .to_string();
                // The cookie is the status's reason for the test to read: 200 with it, 404 without.
                if cookie == "none" {
                    (StatusCode::NOT_FOUND, cookie)
                } else {
                    (StatusCode::OK, cookie)
                }
            }),
        );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    format!("http://{addr}")
}

async fn login(user: &mut GooseUser) -> TransactionResult {
    let _goose = user.get("/login").await?;
    Ok(())
}

async fn whoami(user: &mut GooseUser) -> TransactionResult {
    let _goose = user.get("/whoami").await?;
    Ok(())
}

/// Each Goose user keeps its own cookies, as Locust's `HttpUser` session does: the cookie set
/// for one user is sent by it, and not by another user of the same runner.
#[tokio::test]
async fn goose_users_keep_their_own_cookies() {
    let base = cookie_server().await;
    let sessions = SessionFactory::new().unwrap();
    let hub = hub::spawn(0.0, "local".into());
    let user = |name: &str, with_login: bool| {
        let mut scenario = Scenario::new(name);
        if with_login {
            scenario = scenario.register_transaction(transaction!(login).set_on_start());
        }
        let scenario = scenario.register_transaction(transaction!(whoami).set_name("whoami"));
        let plan = select_classes(&[UserClass::new(scenario)], &[], None, None)
            .unwrap()
            .remove(0);
        VirtualUser::new(plan, base.parse().unwrap(), &sessions, hub.clone()).unwrap()
    };
    let mut first = user("First", true);
    let mut second = user("Second", false);
    first.iterate(None).await;
    second.iterate(None).await;
    let entries = hub
        .read(|v| {
            v.stats
                .entries()
                .iter()
                .map(|e| (e.name.clone(), e.num_requests, e.num_failures))
                .collect::<Vec<_>>()
        })
        .await
        .unwrap();
    let whoami = entries
        .iter()
        .find(|e| e.0 == "/whoami")
        .unwrap_or_else(|| panic!("{entries:?}"));
    assert_eq!(
        (whoami.1, whoami.2),
        (2, 1),
        "the first user sends its cookie (200), the second has none (404): {entries:?}"
    );
}

async fn goose_get(user: &mut GooseUser) -> TransactionResult {
    let _goose = user.get("/refused").await?;
    Ok(())
}

async fn skein_get(user: &mut GooseUser) -> TransactionResult {
    skein_api::Request::get("/refused").send(user).await;
    Ok(())
}

/// A refused connection made by Goose's own request is reported with the text
/// `skein_api::Request` gives the same fault (Python's exception), so the two merge.
#[tokio::test]
async fn a_refused_goose_connection_has_requests_error_text() {
    // A port nobody listens on: bound, then released.
    let port = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap().port()
    };
    let base = format!("http://127.0.0.1:{port}");
    let sessions = SessionFactory::new().unwrap();
    let hub = hub::spawn(0.0, "local".into());
    for (name, t) in [
        ("Goose", transaction!(goose_get)),
        ("Skein", transaction!(skein_get)),
    ] {
        let scenario = Scenario::new(name).register_transaction(t.set_name("t"));
        let plan = select_classes(&[UserClass::new(scenario)], &[], None, None)
            .unwrap()
            .remove(0);
        let mut vu = VirtualUser::new(plan, base.parse().unwrap(), &sessions, hub.clone()).unwrap();
        vu.iterate(None).await;
    }
    let errors = hub
        .read(|v| {
            v.stats
                .errors()
                .iter()
                .map(|e| {
                    (
                        e.method.clone(),
                        e.name.clone(),
                        e.error.clone(),
                        e.occurrences,
                    )
                })
                .collect::<Vec<_>>()
        })
        .await
        .unwrap();
    assert_eq!(errors.len(), 1, "both faults merge: {errors:?}");
    assert_eq!(errors[0].3, 2, "{errors:?}");
    assert_eq!(
        errors[0].2, "ConnectionRefusedError(111, 'Connection refused')",
        "{errors:?}"
    );
}

fn rss_kib() -> u64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .unwrap_or(0)
}

/// What 1,000 idle users weigh (run by hand: `cargo test --test goose_scenarios -- --ignored
/// --nocapture`): their per-user clients alone, the users, and the users after one Goose request
/// each (each then holds its kept-alive connection in its own pool).
#[tokio::test(flavor = "current_thread")]
#[ignore]
async fn idle_user_memory() {
    const N: usize = 1000;
    // A target in another process (`SKEIN_MEM_TARGET`) keeps the server's side of the
    // connections out of the figure.
    let base = match std::env::var("SKEIN_MEM_TARGET") {
        Ok(url) => url,
        Err(_) => server(Arc::new(AtomicUsize::new(0))).await,
    };
    let sessions = SessionFactory::new().unwrap();
    let _warm = sessions.client().unwrap();
    let r0 = rss_kib();
    let clients: Vec<_> = (0..N).map(|_| sessions.client().unwrap()).collect();
    let r1 = rss_kib();
    drop(clients);
    let hub = hub::spawn(0.0, "local".into());
    let scenario =
        Scenario::new("Idle").register_transaction(transaction!(index).set_name("index"));
    let plan = select_classes(&[UserClass::new(scenario)], &[], None, None)
        .unwrap()
        .remove(0);
    let r2 = rss_kib();
    let mut users: Vec<_> = (0..N)
        .map(|_| {
            VirtualUser::new(plan.clone(), base.parse().unwrap(), &sessions, hub.clone()).unwrap()
        })
        .collect();
    let r3 = rss_kib();
    for u in users.iter_mut() {
        u.iterate(None).await;
    }
    let r4 = rss_kib();
    println!(
        "per client: {} B; per user (created): {} B; per user after one request: {} B",
        (r1 - r0) * 1024 / N as u64,
        (r3.saturating_sub(r2)) * 1024 / N as u64,
        (r4.saturating_sub(r2)) * 1024 / N as u64
    );
}
