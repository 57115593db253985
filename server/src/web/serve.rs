//! Serving connections. `axum::serve` sets no timers and accepts without bound, so an idle
//! socket, or a client sending one header byte a second, stays open for ever, and enough of
//! them exhaust the file descriptors. Here each connection is driven by hyper's HTTP/1 server
//! (through hyper-util's Tokio adapters) over a socket that enforces:
//!
//! * **header timeout**: once the first byte of a request has arrived, its whole head must
//!   arrive within `header_timeout` (the body is bounded by the body layer);
//! * **idle timeout**: a connection with no request in progress is closed after
//!   `idle_timeout` without a new request, and a response the client does not read for
//!   `idle_timeout` ends the connection; a request being handled (a Validate waits for the
//!   IMAP server) is never cut;
//! * **connection caps**: at most `per_client` connections per client address (an IPv6 /64
//!   counts as one; trusted proxies are exempt: they carry everybody), refused with 429, and
//!   at most `max_connections` in all (beyond, the listener stops accepting until one ends).

use std::collections::HashMap;
use std::future::Future;
use std::io;
use std::net::{IpAddr, SocketAddr};
use std::pin::Pin;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};
use std::time::Duration;

use axum::body::Body;
use axum::extract::ConnectInfo;
use axum::Router;
use hyper::body::Incoming;
use hyper_util::rt::{TokioIo, TokioTimer};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt, ReadBuf};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{watch, OwnedSemaphorePermit, Semaphore};
use tokio::time::{Instant, Sleep};
use tower::ServiceExt;

use super::client::{client_key, TrustedProxies};

#[derive(Clone, Debug)]
pub struct ServeLimits {
    pub header_timeout: Duration,
    pub idle_timeout: Duration,
    /// Connections at the same time per client address (0: no cap).
    pub per_client: usize,
    pub max_connections: usize,
    /// Exempt from `per_client` (reverse proxies carry many clients).
    pub trusted: TrustedProxies,
    /// At shutdown, how long requests in progress may take to finish.
    pub drain: Duration,
}

impl Default for ServeLimits {
    fn default() -> ServeLimits {
        ServeLimits {
            header_timeout: Duration::from_secs(10),
            idle_timeout: Duration::from_secs(60),
            per_client: 32,
            max_connections: 512,
            trusted: TrustedProxies::default(),
            drain: Duration::from_secs(8),
        }
    }
}

/// Serves `app` on `listener` until `shutdown` completes, then lets requests in progress
/// finish (at most [`ServeLimits::drain`]).
pub async fn serve(
    listener: TcpListener,
    app: Router,
    limits: ServeLimits,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> anyhow::Result<()> {
    let limits = Arc::new(limits);
    let max = limits.max_connections.clamp(1, Semaphore::MAX_PERMITS);
    let slots = Arc::new(Semaphore::new(max));
    let per_client = Arc::new(ClientCounts::default());
    let (stop, stopped) = watch::channel(false);
    tokio::pin!(shutdown);
    loop {
        let permit = tokio::select! {
            biased;
            _ = &mut shutdown => break,
            permit = slots.clone().acquire_owned() => match permit {
                Ok(permit) => permit,
                Err(_) => break,
            },
        };
        let (stream, peer) = tokio::select! {
            biased;
            _ = &mut shutdown => break,
            accepted = listener.accept() => match accepted {
                Ok(accepted) => accepted,
                Err(e) => {
                    accept_failed(e).await;
                    continue;
                }
            },
        };
        let counted = if limits.per_client == 0 || limits.trusted.contains(peer.ip()) {
            None
        } else {
            match per_client.add(client_key(peer.ip()), limits.per_client) {
                Some(counted) => Some(counted),
                None => {
                    tokio::spawn(refuse_connection(stream, peer, permit));
                    continue;
                }
            }
        };
        tokio::spawn(serve_connection(
            stream,
            peer,
            app.clone(),
            limits.clone(),
            stopped.clone(),
            (permit, counted),
        ));
    }
    drop(listener);
    let _ = stop.send(true);
    let all = u32::try_from(max).unwrap_or(u32::MAX);
    if tokio::time::timeout(limits.drain, slots.acquire_many(all))
        .await
        .is_err()
    {
        tracing::warn!("connections still open at shutdown were dropped");
    }
    Ok(())
}

async fn accept_failed(e: io::Error) {
    // A connection reset before it was accepted is the client's business; anything else
    // (out of file descriptors) gets a pause so that the loop does not spin.
    if !matches!(
        e.kind(),
        io::ErrorKind::ConnectionAborted | io::ErrorKind::ConnectionReset
    ) {
        tracing::warn!(error = %e, "accepting a connection failed");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// Answers 429 and closes. What the client already sent is read (for at most a second)
/// before the socket is dropped: closing over unread data would reset the connection, and
/// the client might never see the answer.
async fn refuse_connection(mut stream: TcpStream, peer: SocketAddr, _slot: OwnedSemaphorePermit) {
    tracing::debug!(%peer, "too many connections from this client: refused");
    let linger = async {
        stream
            .write_all(b"HTTP/1.1 429 Too Many Requests\r\nRetry-After: 5\r\nContent-Length: 0\r\nConnection: close\r\n\r\n")
            .await?;
        stream.shutdown().await?;
        let mut sink = [0u8; 4096];
        while stream.read(&mut sink).await? > 0 {}
        Ok::<_, io::Error>(())
    };
    let _ = tokio::time::timeout(Duration::from_secs(1), linger).await;
}

async fn serve_connection(
    stream: TcpStream,
    peer: SocketAddr,
    app: Router,
    limits: Arc<ServeLimits>,
    mut stopped: watch::Receiver<bool>,
    _held: (OwnedSemaphorePermit, Option<Counted>),
) {
    if let Err(e) = stream.set_nodelay(true) {
        tracing::debug!(error = %e, "set_nodelay failed");
    }
    let activity = Arc::new(Activity::new());
    let io = TimedIo::new(stream, activity.clone(), &limits);
    let service = hyper::service::service_fn(move |mut request: hyper::Request<Incoming>| {
        let in_flight = activity.request_started();
        request.extensions_mut().insert(ConnectInfo(peer));
        let app = app.clone();
        async move {
            let response = app.oneshot(request.map(Body::new)).await;
            drop(in_flight);
            response
        }
    });
    let mut builder = hyper::server::conn::http1::Builder::new();
    builder
        .timer(TokioTimer::new())
        // hyper's own timer, a backstop: it runs from the moment a request is awaited, so it
        // spans the idle wait and the head.
        .header_read_timeout(limits.idle_timeout + limits.header_timeout)
        .keep_alive(true);
    let connection = builder.serve_connection(TokioIo::new(io), service);
    tokio::pin!(connection);
    let result = tokio::select! {
        result = connection.as_mut() => result,
        _ = stop_requested(&mut stopped) => {
            connection.as_mut().graceful_shutdown();
            connection.as_mut().await
        }
    };
    if let Err(e) = result {
        tracing::debug!(%peer, error = %e, "connection ended with an error");
    }
}

async fn stop_requested(stopped: &mut watch::Receiver<bool>) {
    loop {
        if *stopped.borrow_and_update() {
            return;
        }
        if stopped.changed().await.is_err() {
            return;
        }
    }
}

/// Open connections per client key.
#[derive(Default)]
struct ClientCounts(Mutex<HashMap<IpAddr, usize>>);

/// One counted connection; uncounts itself when dropped.
struct Counted {
    counts: Arc<ClientCounts>,
    key: IpAddr,
}

impl ClientCounts {
    fn add(self: &Arc<Self>, key: IpAddr, cap: usize) -> Option<Counted> {
        let mut counts = self.0.lock().unwrap_or_else(|p| p.into_inner());
        let count = counts.entry(key).or_insert(0);
        if *count >= cap {
            return None;
        }
        *count += 1;
        Some(Counted {
            counts: self.clone(),
            key,
        })
    }
}

impl Drop for Counted {
    fn drop(&mut self) {
        let mut counts = self.counts.0.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(count) = counts.get_mut(&self.key) {
            *count = count.saturating_sub(1);
            if *count == 0 {
                counts.remove(&self.key);
            }
        }
    }
}

/// What a connection is doing, shared by its socket and its service. Times are milliseconds
/// since `base`.
struct Activity {
    base: Instant,
    in_flight: AtomicUsize,
    /// Last sign of life: accepted, a request started or ended, bytes written.
    progress: AtomicU64,
    /// When the first byte of the next request head arrived (+1; 0: none yet).
    head_started: AtomicU64,
}

/// A request being handled; ends (and counts as progress) when dropped.
struct InFlight(Arc<Activity>);

impl Activity {
    fn new() -> Activity {
        Activity {
            base: Instant::now(),
            in_flight: AtomicUsize::new(0),
            progress: AtomicU64::new(0),
            head_started: AtomicU64::new(0),
        }
    }

    fn now(&self) -> u64 {
        u64::try_from(self.base.elapsed().as_millis()).unwrap_or(u64::MAX)
    }

    fn at(&self, ms: u64) -> Instant {
        self.base + Duration::from_millis(ms)
    }

    fn progressed(&self) {
        self.progress.store(self.now(), Ordering::Relaxed);
    }

    fn request_started(self: &Arc<Self>) -> InFlight {
        self.in_flight.fetch_add(1, Ordering::AcqRel);
        self.head_started.store(0, Ordering::Relaxed);
        self.progressed();
        InFlight(self.clone())
    }

    fn bytes_read(&self) {
        if self.in_flight.load(Ordering::Acquire) == 0
            && self.head_started.load(Ordering::Relaxed) == 0
        {
            self.head_started.store(self.now() + 1, Ordering::Relaxed);
        }
    }
}

impl Drop for InFlight {
    fn drop(&mut self) {
        self.0.in_flight.fetch_sub(1, Ordering::AcqRel);
        self.0.progressed();
    }
}

/// The socket with the timeouts of the module: a read or write that would wait past its
/// deadline fails with `TimedOut`, which ends the connection.
struct TimedIo {
    inner: TcpStream,
    activity: Arc<Activity>,
    header_timeout: Duration,
    idle_timeout: Duration,
    timer: Pin<Box<Sleep>>,
    armed: Option<Instant>,
}

impl TimedIo {
    fn new(inner: TcpStream, activity: Arc<Activity>, limits: &ServeLimits) -> TimedIo {
        TimedIo {
            inner,
            activity,
            header_timeout: limits.header_timeout,
            idle_timeout: limits.idle_timeout,
            timer: Box::pin(tokio::time::sleep(Duration::ZERO)),
            armed: None,
        }
    }

    /// Until when waiting for bytes from the client is fine: not bounded while a request is
    /// handled, else by the head's timeout once it began, else by the idle timeout.
    fn read_deadline(&self) -> Option<Instant> {
        let a = &self.activity;
        if a.in_flight.load(Ordering::Acquire) > 0 {
            return None;
        }
        match a.head_started.load(Ordering::Relaxed) {
            0 => Some(a.at(a.progress.load(Ordering::Relaxed)) + self.idle_timeout),
            started => Some(a.at(started - 1) + self.header_timeout),
        }
    }

    /// Until when a client may leave the response unread.
    fn write_deadline(&self) -> Instant {
        let a = &self.activity;
        a.at(a.progress.load(Ordering::Relaxed)) + self.idle_timeout
    }

    /// After a write was polled: bytes written count as progress; a client not reading
    /// keeps the write pending until the idle deadline.
    fn written(
        &mut self,
        cx: &mut Context<'_>,
        polled: Poll<io::Result<usize>>,
    ) -> Poll<io::Result<usize>> {
        match polled {
            Poll::Ready(Ok(n)) => {
                if n > 0 {
                    self.activity.progressed();
                }
                Poll::Ready(Ok(n))
            }
            Poll::Ready(Err(e)) => Poll::Ready(Err(e)),
            Poll::Pending => {
                let deadline = self.write_deadline();
                self.wait_until(cx, deadline).map(Err)
            }
        }
    }

    /// Pending until `deadline`, then the error that ends the connection.
    fn wait_until(&mut self, cx: &mut Context<'_>, deadline: Instant) -> Poll<io::Error> {
        let expired = || io::Error::new(io::ErrorKind::TimedOut, "connection timed out");
        if Instant::now() >= deadline {
            return Poll::Ready(expired());
        }
        if self.armed != Some(deadline) {
            self.timer.as_mut().reset(deadline);
            self.armed = Some(deadline);
        }
        match self.timer.as_mut().poll(cx) {
            Poll::Ready(()) => Poll::Ready(expired()),
            Poll::Pending => Poll::Pending,
        }
    }
}

impl AsyncRead for TimedIo {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        let before = buf.filled().len();
        match Pin::new(&mut this.inner).poll_read(cx, buf) {
            Poll::Ready(Ok(())) => {
                if buf.filled().len() > before {
                    this.activity.bytes_read();
                }
                Poll::Ready(Ok(()))
            }
            Poll::Ready(Err(e)) => Poll::Ready(Err(e)),
            Poll::Pending => match this.read_deadline() {
                None => Poll::Pending,
                Some(deadline) => this.wait_until(cx, deadline).map(Err),
            },
        }
    }
}

impl AsyncWrite for TimedIo {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        data: &[u8],
    ) -> Poll<io::Result<usize>> {
        let this = self.get_mut();
        let polled = Pin::new(&mut this.inner).poll_write(cx, data);
        this.written(cx, polled)
    }

    fn poll_write_vectored(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        let this = self.get_mut();
        let polled = Pin::new(&mut this.inner).poll_write_vectored(cx, bufs);
        this.written(cx, polled)
    }

    fn is_write_vectored(&self) -> bool {
        self.inner.is_write_vectored()
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().inner).poll_flush(cx)
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().inner).poll_shutdown(cx)
    }
}
