//! The byte stream under a session's HTTP/1 connection: it applies requests' socket timeout
//! (no progress in either direction for that long fails the read or write) and watches each
//! response head the way Python's `http.client` reads it (line lengths, header count, the
//! status line), so that a head `http.client` rejects fails with `http.client`'s own verdict.

use std::io;
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};
use std::time::Duration;

use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::time::Sleep;

/// `http.client._MAXLINE`.
const MAX_LINE: usize = 65536;
/// `http.client._MAXHEADERS`.
const MAX_HEADERS: usize = 100;

/// What a response head broke of `http.client`'s limits, first one first.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum HeadViolation {
    StatusLineTooLong,
    HeaderLineTooLong,
    TooManyHeaders,
}

/// The response head as it streams in: one state machine per response, reset when a request
/// starts.
#[derive(Debug, Default)]
pub(crate) struct HeadScan {
    done: bool,
    /// 0 = the status line.
    line_no: usize,
    line_len: usize,
    /// The current line has something besides its CR/LF.
    line_nonblank: bool,
    /// The status line as received (up to `MAX_LINE + 1` bytes, as `readline` keeps it).
    pub(crate) status_line: Vec<u8>,
    pub(crate) violation: Option<HeadViolation>,
}

impl HeadScan {
    /// A fresh scan that keeps the status line's buffer (a request's allocation fewer).
    fn reset(&mut self) {
        let mut status_line = std::mem::take(&mut self.status_line);
        status_line.clear();
        *self = HeadScan {
            status_line,
            ..HeadScan::default()
        };
    }

    fn feed(&mut self, mut data: &[u8]) {
        while !self.done && !data.is_empty() {
            let (line, rest, ended) = match memchr::memchr(b'\n', data) {
                Some(i) => (&data[..=i], &data[i + 1..], true),
                None => (data, &data[data.len()..], false),
            };
            data = rest;
            if self.line_no == 0 {
                let room = (MAX_LINE + 1).saturating_sub(self.status_line.len());
                self.status_line
                    .extend_from_slice(&line[..line.len().min(room)]);
            }
            self.line_len += line.len();
            self.line_nonblank |= line.iter().any(|&b| b != b'\r' && b != b'\n');
            if self.line_len > MAX_LINE && self.violation.is_none() {
                self.violation = Some(if self.line_no == 0 {
                    HeadViolation::StatusLineTooLong
                } else {
                    HeadViolation::HeaderLineTooLong
                });
            }
            if ended {
                self.end_line();
            }
        }
    }

    fn end_line(&mut self) {
        let blank = !self.line_nonblank && self.line_no > 0;
        // Python's check, after appending a header line: more than 100 fails.
        if !blank && self.line_no > MAX_HEADERS && self.violation.is_none() {
            self.violation = Some(HeadViolation::TooManyHeaders);
        }
        self.line_no += 1;
        self.line_len = 0;
        self.line_nonblank = false;
        if blank {
            // An interim 1xx head is followed by the real one, which http.client reads afresh.
            let interim = self.status_line.get(9) == Some(&b'1')
                && !self.status_line.starts_with(b"HTTP/1.1 101");
            if interim && self.violation.is_none() {
                *self = HeadScan::default();
            } else {
                self.done = true;
            }
        }
    }
}

/// What the session and its connection's stream share: the timeout of the request in flight
/// and what the stream saw of its response head.
#[derive(Debug, Default)]
pub(crate) struct WireState {
    timeout: Option<Duration>,
    generation: u64,
    pub(crate) head: HeadScan,
    /// A write failed: `http.client` then reads on and finds the connection closed.
    pub(crate) write_failed: bool,
    /// The last failure was this stream's own timeout.
    pub(crate) timed_out: bool,
}

pub(crate) type SharedWire = Arc<Mutex<WireState>>;

/// Called before a request is written: its timeout, a fresh head scan.
pub(crate) fn begin_request(state: &SharedWire, timeout: Option<Duration>) {
    let mut s = lock(state);
    s.timeout = timeout;
    s.generation += 1;
    s.head.reset();
    s.write_failed = false;
    s.timed_out = false;
}

pub(crate) fn lock(state: &SharedWire) -> std::sync::MutexGuard<'_, WireState> {
    // Only ever locked by the task that owns the session; a poisoned lock holds plain data.
    state.lock().unwrap_or_else(|p| p.into_inner())
}

pub(crate) struct Wire<T> {
    inner: T,
    state: SharedWire,
    /// Armed while an operation is pending, for the request `generation` it was armed in.
    timer: Option<(u64, Pin<Box<Sleep>>)>,
}

impl<T> Wire<T> {
    pub(crate) fn new(inner: T, state: SharedWire) -> Self {
        Wire {
            inner,
            state,
            timer: None,
        }
    }

    /// Progress was made: the socket timeout starts again.
    /// A write's outcome: progress stops the stall timer, a failure is remembered (it tells
    /// which Python text the fault gets), and a pending write runs the timer.
    fn after_write(
        &mut self,
        cx: &mut Context<'_>,
        polled: Poll<io::Result<usize>>,
    ) -> Poll<io::Result<usize>> {
        match polled {
            Poll::Ready(Ok(n)) => {
                self.progressed();
                Poll::Ready(Ok(n))
            }
            Poll::Ready(Err(e)) => {
                lock(&self.state).write_failed = true;
                Poll::Ready(Err(e))
            }
            Poll::Pending => self.pending(cx).map(Err),
        }
    }

    fn progressed(&mut self) {
        self.timer = None;
    }

    /// Nothing to do yet: fails with `TimedOut` once the request's timeout has passed.
    fn pending(&mut self, cx: &mut Context<'_>) -> Poll<io::Error> {
        let (timeout, generation) = {
            let s = lock(&self.state);
            (s.timeout, s.generation)
        };
        let Some(timeout) = timeout else {
            self.timer = None;
            return Poll::Pending;
        };
        if self.timer.as_ref().is_none_or(|(g, _)| *g != generation) {
            self.timer = Some((generation, Box::pin(tokio::time::sleep(timeout))));
        }
        let (_, sleep) = self.timer.as_mut().expect("just armed");
        match sleep.as_mut().poll(cx) {
            Poll::Ready(()) => {
                self.timer = None;
                lock(&self.state).timed_out = true;
                Poll::Ready(io::Error::new(io::ErrorKind::TimedOut, "timed out"))
            }
            Poll::Pending => Poll::Pending,
        }
    }
}

use std::future::Future;

impl<T: AsyncRead + Unpin> AsyncRead for Wire<T> {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let before = buf.filled().len();
        match Pin::new(&mut self.inner).poll_read(cx, buf) {
            Poll::Ready(Ok(())) => {
                self.progressed();
                let new = &buf.filled()[before..];
                if !new.is_empty() {
                    lock(&self.state).head.feed(new);
                }
                Poll::Ready(Ok(()))
            }
            Poll::Ready(Err(e)) => Poll::Ready(Err(e)),
            Poll::Pending => self.pending(cx).map(Err),
        }
    }
}

impl<T: AsyncWrite + Unpin> AsyncWrite for Wire<T> {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        data: &[u8],
    ) -> Poll<io::Result<usize>> {
        let polled = Pin::new(&mut self.inner).poll_write(cx, data);
        self.after_write(cx, polled)
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_shutdown(cx)
    }

    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        let polled = Pin::new(&mut self.inner).poll_write_vectored(cx, bufs);
        self.after_write(cx, polled)
    }

    fn is_write_vectored(&self) -> bool {
        self.inner.is_write_vectored()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn scan(parts: &[&[u8]]) -> HeadScan {
        let mut s = HeadScan::default();
        for p in parts {
            s.feed(p);
        }
        s
    }

    #[test]
    fn head_limits_as_http_client() {
        let ok = scan(&[b"HTTP/1.1 200 OK\r\nA: b\r\n", b"\r\nbody"]);
        assert!(ok.done && ok.violation.is_none());
        assert_eq!(ok.status_line, b"HTTP/1.1 200 OK\r\n");

        let long = vec![b'a'; MAX_LINE];
        let s = scan(&[b"HTTP/1.1 200 OK\r\nX: ", &long, b"\r\n\r\n"]);
        assert_eq!(s.violation, Some(HeadViolation::HeaderLineTooLong));
        // Exactly 65536 bytes with its CRLF is still accepted.
        let edge = vec![b'a'; MAX_LINE - 5];
        let s = scan(&[b"HTTP/1.1 200 OK\r\nX: ", &edge, b"\r\n\r\n"]);
        assert_eq!(s.violation, None);

        let many: Vec<u8> = (0..101)
            .flat_map(|i| format!("H{i}: v\r\n").into_bytes())
            .collect();
        let s = scan(&[b"HTTP/1.1 200 OK\r\n", &many, b"\r\n"]);
        assert_eq!(s.violation, Some(HeadViolation::TooManyHeaders));
        let hundred: Vec<u8> = (0..100)
            .flat_map(|i| format!("H{i}: v\r\n").into_bytes())
            .collect();
        assert_eq!(
            scan(&[b"HTTP/1.1 200 OK\r\n", &hundred, b"\r\n"]).violation,
            None
        );

        // The real head after a 100 Continue is scanned afresh.
        let s = scan(&[b"HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 200 OK\r\n\r\n"]);
        assert_eq!(s.status_line, b"HTTP/1.1 200 OK\r\n");
    }
}
