//! A plugin call's output, read with bounded memory: a plugin may print
//! gigabytes, or leave a daemon holding its stdout open after it exited.

use std::process::ExitStatus;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::io::{AsyncRead, AsyncReadExt};
use tokio::process::Child;
use tokio::task::JoinHandle;

/// The most kept of each stream, in bytes.
pub const LIMIT: usize = 64 * 1024;

/// How long the streams may stay open after the plugin exited (something it
/// started still holds them): what was printed by then is what counts.
const AFTER_EXIT: Duration = Duration::from_millis(200);

/// Which part of a stream to keep: the start (an answer to parse) or the end
/// (the last messages before a failure).
#[derive(Clone, Copy, Debug)]
pub enum Keep {
    Head,
    Tail,
}

#[derive(Debug)]
struct Bounded {
    keep: Keep,
    bytes: Vec<u8>,
}

impl Bounded {
    fn push(&mut self, chunk: &[u8]) {
        match self.keep {
            Keep::Head => {
                let room = LIMIT.saturating_sub(self.bytes.len());
                self.bytes
                    .extend_from_slice(&chunk[..room.min(chunk.len())]);
            }
            Keep::Tail => {
                self.bytes.extend_from_slice(chunk);
                if self.bytes.len() > 2 * LIMIT {
                    self.bytes.drain(..self.bytes.len() - LIMIT);
                }
            }
        }
    }

    fn take(&mut self) -> Vec<u8> {
        let mut bytes = std::mem::take(&mut self.bytes);
        if bytes.len() > LIMIT {
            bytes.drain(..bytes.len() - LIMIT);
        }
        bytes
    }
}

/// Reader tasks, aborted when the call is dropped (a timeout, a stop).
#[derive(Debug)]
struct Readers(Vec<JoinHandle<()>>);

impl Drop for Readers {
    fn drop(&mut self) {
        for r in &self.0 {
            r.abort();
        }
    }
}

fn read<R: AsyncRead + Unpin + Send + 'static>(
    stream: Option<R>,
    keep: Keep,
) -> (Arc<Mutex<Bounded>>, JoinHandle<()>) {
    let buffer = Arc::new(Mutex::new(Bounded {
        keep,
        bytes: Vec::new(),
    }));
    let filled = Arc::clone(&buffer);
    let task = tokio::spawn(async move {
        let Some(mut stream) = stream else { return };
        let mut chunk = vec![0; 16 * 1024];
        while let Ok(n @ 1..) = stream.read(&mut chunk).await {
            filled.lock().expect("not poisoned").push(&chunk[..n]);
        }
    });
    (buffer, task)
}

/// What a call printed and how it ended.
#[derive(Debug)]
pub struct Output {
    pub status: ExitStatus,
    pub stdout: Vec<u8>,
    pub stderr: Vec<u8>,
}

/// Waits for the plugin to exit (not for its streams to close), keeping at
/// most [`LIMIT`] bytes of each stream: `stdout` as `keep` says, stderr's end.
pub async fn wait(mut child: Child, keep: Keep) -> std::io::Result<Output> {
    let (stdout, out_task) = read(child.stdout.take(), keep);
    let (stderr, err_task) = read(child.stderr.take(), Keep::Tail);
    let mut readers = Readers(vec![out_task, err_task]);
    let status = child.wait().await?;
    let _ = tokio::time::timeout(AFTER_EXIT, async {
        for r in &mut readers.0 {
            let _ = r.await;
        }
    })
    .await;
    drop(readers);
    let stdout = stdout.lock().expect("not poisoned").take();
    let stderr = stderr.lock().expect("not poisoned").take();
    Ok(Output {
        status,
        stdout,
        stderr,
    })
}
