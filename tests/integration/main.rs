//! Integration tests: the real Worker under `wrangler dev`, spoken to over HTTP and SSE.
//! One server for the whole run (fresh tenant per test); tests run four at a time, then the
//! tests that restart the server run alone. Run with `make test` (after `make build`).

mod api;
mod collab;
mod hardening;
mod push;
mod realtime;
mod support;
mod webhooks;
mod websocket;
mod wsclient;

use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::{Arc, Mutex};
use std::time::Instant;

use support::{Client, Server};

pub type Test = (&'static str, fn(&Client));
pub type ServerTest = (&'static str, fn(&mut Server));

fn main() {
    let filter = std::env::args().nth(1).filter(|a| !a.starts_with('-'));
    let selected = |name: &str| filter.as_deref().is_none_or(|f| name.contains(f));

    let mut tests: Vec<Test> = Vec::new();
    tests.extend(api::TESTS);
    tests.extend(collab::TESTS);
    tests.extend(hardening::TESTS);
    tests.extend(push::TESTS);
    tests.extend(realtime::TESTS);
    tests.extend(webhooks::TESTS);
    tests.extend(websocket::TESTS);
    tests.retain(|(name, _)| selected(name));
    let mut server_tests: Vec<ServerTest> = realtime::SERVER_TESTS.to_vec();
    server_tests.extend(websocket::SERVER_TESTS);
    server_tests.extend(hardening::SERVER_TESTS);
    server_tests.extend(push::SERVER_TESTS);
    server_tests.retain(|(name, _)| selected(name));

    let started = Instant::now();
    let mut server = Server::start();
    eprintln!(
        "worker up on 127.0.0.1:{} in {:.1}s; running {} tests",
        server.port,
        started.elapsed().as_secs_f64(),
        tests.len() + server_tests.len()
    );
    let client = server.client();
    let queue = Arc::new(Mutex::new(tests));
    let failures = Arc::new(Mutex::new(Vec::<String>::new()));
    let passed = Arc::new(Mutex::new(0usize));

    let workers: Vec<_> = (0..4)
        .map(|_| {
            let (queue, failures, passed, client) = (
                queue.clone(),
                failures.clone(),
                passed.clone(),
                client.clone(),
            );
            std::thread::spawn(move || loop {
                let Some((name, test)) = queue.lock().ok().and_then(|mut q| q.pop()) else {
                    return;
                };
                let t = Instant::now();
                let ok = catch_unwind(AssertUnwindSafe(|| test(&client))).is_ok();
                report(name, ok, t, &failures, &passed);
            })
        })
        .collect();
    for w in workers {
        let _ = w.join();
    }
    for (name, test) in server_tests {
        let t = Instant::now();
        let ok = catch_unwind(AssertUnwindSafe(|| test(&mut server))).is_ok();
        report(name, ok, t, &failures, &passed);
    }
    if !failures.lock().map(|f| f.is_empty()).unwrap_or(true) {
        // Keep the Worker's state and wrangler.log to look at.
        std::env::set_var("KEEP_STATE", "1");
        eprintln!(
            "kept the Worker's state and log in {:?}",
            server.state_dir()
        );
    }
    drop(server);

    let failures = failures.lock().map(|f| f.clone()).unwrap_or_default();
    let passed = passed.lock().map(|p| *p).unwrap_or(0);
    println!();
    for f in &failures {
        println!("FAILED: {f}");
    }
    println!(
        "test result: {}. {passed} passed; {} failed; finished in {:.1}s",
        if failures.is_empty() { "ok" } else { "FAILED" },
        failures.len(),
        started.elapsed().as_secs_f64()
    );
    if !failures.is_empty() {
        std::process::exit(1);
    }
}

fn report(
    name: &str,
    ok: bool,
    started: Instant,
    failures: &Mutex<Vec<String>>,
    passed: &Mutex<usize>,
) {
    let took = started.elapsed().as_secs_f64();
    if ok {
        println!("test {name} ... ok ({took:.1}s)");
        if let Ok(mut p) = passed.lock() {
            *p += 1;
        }
    } else {
        println!("test {name} ... FAILED ({took:.1}s)");
        if let Ok(mut f) = failures.lock() {
            f.push(name.to_string());
        }
    }
}
