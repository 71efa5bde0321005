//! A guest stream into a core [`OutputBuffer`].

use std::{
    pin::Pin,
    task::{Context, Poll},
};

use bytes::Bytes;
use plugin_system_core::OutputBuffer;
use tokio::io::AsyncWrite;
use wasmtime_wasi::{
    cli::{IsTerminal, StdoutStream},
    p2::{OutputStream, Pollable, StreamError},
};

/// How much a guest may write in one go before asking again; the buffer's
/// remaining room is not promised, since bytes past the limit are dropped anyway.
const WRITE_BUDGET: usize = 64 * 1024;

/// stdout or stderr captured into an [`OutputBuffer`]. Bytes past the buffer's
/// limit are dropped; once that happened, the stream reports itself closed, so
/// the guest's write fails with an I/O error instead of going on in vain.
#[derive(Clone)]
pub(super) struct Capture(pub(super) OutputBuffer);

impl IsTerminal for Capture {
    fn is_terminal(&self) -> bool {
        false
    }
}

impl StdoutStream for Capture {
    fn p2_stream(&self) -> Box<dyn OutputStream> {
        Box::new(self.clone())
    }

    fn async_stream(&self) -> Box<dyn AsyncWrite + Send + Sync> {
        Box::new(self.clone())
    }
}

#[wasmtime_wasi::async_trait]
impl OutputStream for Capture {
    fn write(&mut self, bytes: Bytes) -> Result<(), StreamError> {
        if self.0.is_closed() {
            return Err(StreamError::Closed);
        }
        self.0.write(&bytes);
        Ok(())
    }

    fn flush(&mut self) -> Result<(), StreamError> {
        Ok(())
    }

    fn check_write(&mut self) -> Result<usize, StreamError> {
        if self.0.is_closed() {
            Err(StreamError::Closed)
        } else {
            Ok(WRITE_BUDGET)
        }
    }
}

#[wasmtime_wasi::async_trait]
impl Pollable for Capture {
    async fn ready(&mut self) {}
}

impl AsyncWrite for Capture {
    fn poll_write(
        self: Pin<&mut Self>,
        _cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<std::io::Result<usize>> {
        if self.0.is_closed() {
            return Poll::Ready(Err(std::io::Error::new(
                std::io::ErrorKind::StorageFull,
                "captured output is over its limit",
            )));
        }
        // Report everything as written: what did not fit is dropped and marked.
        self.0.write(buf);
        Poll::Ready(Ok(buf.len()))
    }

    fn poll_flush(self: Pin<&mut Self>, _cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Poll::Ready(Ok(()))
    }

    fn poll_shutdown(self: Pin<&mut Self>, _cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Poll::Ready(Ok(()))
    }
}
