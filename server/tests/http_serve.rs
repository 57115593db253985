//! The listener over real sockets: idle and slow connections are closed after their
//! timeouts (short ones, configured for the test), the per-client and global connection caps
//! hold, and the service keeps answering meanwhile.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;
use std::time::{Duration, Instant};

use axum::routing::get;
use axum::Router;
use imapcopy::web::{self, ServeLimits};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpSocket, TcpStream};

const SECOND: Duration = Duration::from_secs(1);

/// A 1 s header timeout and a 2 s idle timeout: distinct, so that each is seen to apply.
fn limits(per_client: usize, max_connections: usize) -> ServeLimits {
    ServeLimits {
        header_timeout: SECOND,
        idle_timeout: 2 * SECOND,
        per_client,
        max_connections,
        drain: SECOND,
        ..ServeLimits::default()
    }
}

/// Serves `app`; returns its address and what stops it.
async fn start(
    app: Router,
    limits: ServeLimits,
) -> (
    SocketAddr,
    tokio::sync::oneshot::Sender<()>,
    tokio::task::JoinHandle<anyhow::Result<()>>,
) {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let task = tokio::spawn(web::serve(listener, app, limits, async move {
        let _ = stopped.await;
    }));
    (addr, stop, task)
}

/// A small application: a quick answer and one that takes longer than the idle timeout.
fn small_app() -> Router {
    Router::new()
        .route("/healthz", get(|| async { "ok" }))
        .route(
            "/slow",
            get(|| async {
                tokio::time::sleep(Duration::from_millis(3000)).await;
                "done"
            }),
        )
}

/// A connection from the loopback address `from` (127.0.0.0/8 is all loopback on Linux:
/// each is another client).
async fn connect_from(from: &str, server: SocketAddr) -> TcpStream {
    let socket = TcpSocket::new_v4().unwrap();
    socket
        .bind(SocketAddr::new(from.parse::<IpAddr>().unwrap(), 0))
        .unwrap();
    socket.connect(server).await.unwrap()
}

/// One request on a fresh connection, closed after the answer.
async fn fetch(from: &str, server: SocketAddr, path: &str) -> String {
    let mut stream = connect_from(from, server).await;
    stream
        .write_all(
            format!("GET {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n")
                .as_bytes(),
        )
        .await
        .unwrap();
    let mut answer = String::new();
    tokio::time::timeout(Duration::from_secs(10), stream.read_to_string(&mut answer))
        .await
        .expect("an answer")
        .unwrap();
    answer
}

/// Waits until the server closes `stream` (EOF or reset); how long that took from `since`.
async fn closed(mut stream: impl AsyncReadExt + Unpin, since: Instant) -> Duration {
    let mut buf = [0u8; 1024];
    loop {
        match tokio::time::timeout(Duration::from_secs(10), stream.read(&mut buf)).await {
            Err(_) => panic!("still open after {:?}", since.elapsed()),
            Ok(Ok(0)) | Ok(Err(_)) => return since.elapsed(),
            Ok(Ok(_)) => continue,
        }
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn idle_and_slow_connections_are_closed_and_the_service_keeps_answering() {
    let (server, stop, task) = start(small_app(), limits(20, 100)).await;
    let opened = Instant::now();

    // 10 connections that send nothing, 10 that send a header byte every 100 ms.
    let mut idle = Vec::new();
    for _ in 0..10 {
        idle.push(connect_from("127.0.0.1", server).await);
    }
    let mut slow = Vec::new();
    for _ in 0..10 {
        let (read, mut write) = connect_from("127.0.0.1", server).await.into_split();
        tokio::spawn(async move {
            if write
                .write_all(b"GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Slow: ")
                .await
                .is_err()
            {
                return;
            }
            while write.write_all(b"a").await.is_ok() {
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
        });
        slow.push(read);
    }

    // The 21st connection of this client is refused at once.
    let refused = fetch("127.0.0.1", server, "/healthz").await;
    assert!(
        refused.starts_with("HTTP/1.1 429 Too Many Requests\r\n"),
        "{refused}"
    );
    assert!(refused.contains("Retry-After: 5\r\n"), "{refused}");

    // Meanwhile other clients are served, and a request that takes longer than the idle
    // timeout is not cut.
    let other = fetch("127.0.0.2", server, "/healthz").await;
    assert!(other.starts_with("HTTP/1.1 200 OK\r\n"), "{other}");
    let long = tokio::spawn(async move { fetch("127.0.0.3", server, "/slow").await });

    // Every held connection is closed after its own timeout: a head that does not complete
    // after 1 s (though bytes keep coming), a connection that sends nothing after 2 s.
    let idle: Vec<_> = idle
        .into_iter()
        .map(|stream| tokio::spawn(closed(stream, opened)))
        .collect();
    let slow: Vec<_> = slow
        .into_iter()
        .map(|stream| tokio::spawn(closed(stream, opened)))
        .collect();
    for wait in slow {
        let after = wait.await.unwrap();
        assert!(
            after >= Duration::from_millis(900) && after < Duration::from_millis(1800),
            "slow head closed after {after:?}"
        );
    }
    for wait in idle {
        let after = wait.await.unwrap();
        assert!(
            after >= Duration::from_millis(1800) && after < Duration::from_millis(2800),
            "idle connection closed after {after:?}"
        );
    }
    let long = long.await.unwrap();
    assert!(
        long.starts_with("HTTP/1.1 200 OK\r\n") && long.ends_with("done"),
        "{long}"
    );

    // A keep-alive connection is closed once idle for the idle timeout.
    let mut kept = connect_from("127.0.0.4", server).await;
    kept.write_all(b"GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n")
        .await
        .unwrap();
    let mut head = [0u8; 17];
    kept.read_exact(&mut head).await.unwrap();
    assert_eq!(&head, b"HTTP/1.1 200 OK\r\n");
    let answered = Instant::now();
    let after = closed(kept, answered).await;
    assert!(
        after >= Duration::from_millis(1800) && after < Duration::from_millis(2800),
        "idle keep-alive closed after {after:?}"
    );

    // The slots are free again.
    let again = fetch("127.0.0.1", server, "/healthz").await;
    assert!(again.starts_with("HTTP/1.1 200 OK\r\n"), "{again}");

    stop.send(()).unwrap();
    tokio::time::timeout(Duration::from_secs(5), task)
        .await
        .expect("serve returns after the shutdown signal")
        .unwrap()
        .unwrap();
}

#[tokio::test(flavor = "multi_thread")]
async fn beyond_the_global_cap_connections_wait_to_be_accepted() {
    let (server, _stop, _task) = start(small_app(), limits(0, 2)).await;
    let _held = [
        connect_from("127.0.0.1", server).await,
        connect_from("127.0.0.2", server).await,
    ];
    tokio::time::sleep(Duration::from_millis(100)).await;
    let asked = Instant::now();
    let answer = fetch("127.0.0.3", server, "/healthz").await;
    let waited = asked.elapsed();
    assert!(answer.starts_with("HTTP/1.1 200 OK\r\n"), "{answer}");
    assert!(
        waited >= Duration::from_millis(1500),
        "answered after {waited:?}: the third connection was accepted beside two held ones"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn trusted_proxies_are_not_capped_per_client() {
    let mut limits = limits(2, 100);
    limits.trusted = web::client::TrustedProxies::parse(&["127.0.0.1"]).unwrap();
    let (server, _stop, _task) = start(small_app(), limits).await;
    let _held: Vec<TcpStream> =
        futures::future::join_all((0..3).map(|_| connect_from("127.0.0.1", server))).await;
    let answer = fetch("127.0.0.1", server, "/healthz").await;
    assert!(answer.starts_with("HTTP/1.1 200 OK\r\n"), "{answer}");
    // Anyone else is capped.
    let _other = [
        connect_from("127.0.0.2", server).await,
        connect_from("127.0.0.2", server).await,
    ];
    let refused = fetch("127.0.0.2", server, "/healthz").await;
    assert!(refused.starts_with("HTTP/1.1 429"), "{refused}");
}

/// The whole application over a socket: a 10 MB upload is refused with 413 as soon as its
/// head arrives, and the connection is closed (the body is never read).
#[tokio::test(flavor = "multi_thread")]
async fn a_10_mb_upload_is_refused_with_413_before_it_is_sent() {
    let dir = tempfile::tempdir().unwrap();
    let store = Arc::new(imapcopy::jobs::store::Store::new(
        imapcopy::db::open(dir.path()).unwrap(),
        imapcopy::seal::Sealer::ephemeral(),
        Arc::new(imapcopy::jobs::store::SystemClock),
    ));
    let service = web::wizard::WizardService {
        drafts: web::drafts::DraftStore::new(Duration::from_secs(60)),
        jobs: store,
        connect: Arc::new(mailcopy::ConnectOptions::new(Arc::new(
            mailcopy::net::StaticResolver::new(),
        ))),
        limits: web::wizard::Limits::per_minute(10, 10, 10),
        check_timeout: SECOND,
        cookie_attributes: String::new(),
        smtp_reports: false,
        sign_in: Default::default(),
        volumes: None,
    };
    let options = leptos::config::LeptosOptions::builder()
        .output_name("imapcopy")
        .site_root("target/site")
        .build();
    let app = web::router(options, web::shared(service), &web::WebConfig::local());
    let (server, _stop, _task) = start(app, limits(20, 100)).await;

    let mut stream = connect_from("127.0.0.1", server).await;
    stream
        .write_all(
            b"POST /api/validate_account HTTP/1.1\r\nHost: 127.0.0.1:3000\r\n\
              Content-Type: application/x-www-form-urlencoded\r\nAccept: application/json\r\n\
              Content-Length: 10485760\r\n\r\nside=source&",
        )
        .await
        .unwrap();
    let sent = Instant::now();
    let mut answer = Vec::new();
    tokio::time::timeout(Duration::from_secs(5), stream.read_to_end(&mut answer))
        .await
        .expect("answered and closed without the body")
        .unwrap();
    let answer = String::from_utf8_lossy(&answer);
    assert!(
        answer.starts_with("HTTP/1.1 413 Payload Too Large\r\n"),
        "{answer}"
    );
    assert!(answer.ends_with("\"TooLarge\""), "{answer}");
    assert!(sent.elapsed() < Duration::from_secs(2));
}
