//! A real SMTP server for report tests: Debian's `python3-aiosmtpd` (run with Debian's own
//! `/usr/bin/python3`, where the package lives), listening on a free loopback port and storing
//! every message it accepts into a maildir of its own.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::{bail, Context, Result};

pub struct Smtp {
    child: Child,
    port: u16,
    dir: tempfile::TempDir,
}

const PYTHON: &str = "/usr/bin/python3";

impl Smtp {
    pub fn start() -> Result<Smtp> {
        let dir = tempfile::Builder::new()
            .prefix("imapcopy-smtp-")
            .tempdir()?;
        let maildir = dir.path().join("maildir");
        let mut last_error = None;
        for _attempt in 0..5 {
            let port = crate::free_port()?;
            let log = std::fs::File::create(dir.path().join("smtp.log"))?;
            let mut child = Command::new(PYTHON)
                .args([
                    "-m",
                    "aiosmtpd",
                    "-n",
                    "-l",
                    &format!("127.0.0.1:{port}"),
                    "-c",
                    "aiosmtpd.handlers.Mailbox",
                ])
                .arg(&maildir)
                .stdin(Stdio::null())
                .stdout(log.try_clone()?)
                .stderr(log)
                .spawn()
                .with_context(|| {
                    format!("starting {PYTHON} -m aiosmtpd (Debian package python3-aiosmtpd)")
                })?;
            match wait_ready(&mut child, port, dir.path(), Duration::from_secs(10)) {
                Ok(()) => return Ok(Smtp { child, port, dir }),
                Err(e) => {
                    // Most likely the port was taken in between: try another.
                    let _ = child.kill();
                    let _ = child.wait();
                    last_error = Some(e);
                }
            }
        }
        Err(last_error.unwrap_or_else(|| anyhow::anyhow!("SMTP server did not start")))
    }

    pub fn port(&self) -> u16 {
        self.port
    }

    pub fn log(&self) -> String {
        std::fs::read_to_string(self.dir.path().join("smtp.log")).unwrap_or_default()
    }

    pub fn maildir(&self) -> PathBuf {
        self.dir.path().join("maildir")
    }

    /// Every message received so far, as raw bytes.
    pub fn messages(&self) -> Result<Vec<Vec<u8>>> {
        let mut out = Vec::new();
        for sub in ["new", "cur"] {
            let dir = self.maildir().join(sub);
            if !dir.exists() {
                continue;
            }
            let mut entries: Vec<_> = std::fs::read_dir(&dir)?
                .filter_map(|e| e.ok())
                .map(|e| e.path())
                .collect();
            entries.sort();
            for path in entries {
                out.push(std::fs::read(&path)?);
            }
        }
        Ok(out)
    }

    /// Waits (bounded) until at least `n` messages arrived.
    pub fn wait_for(&self, n: usize, limit: Duration) -> Result<Vec<Vec<u8>>> {
        let deadline = Instant::now() + limit;
        loop {
            let messages = self.messages()?;
            if messages.len() >= n || Instant::now() >= deadline {
                return Ok(messages);
            }
            std::thread::sleep(Duration::from_millis(100));
        }
    }
}

fn wait_ready(child: &mut Child, port: u16, dir: &Path, limit: Duration) -> Result<()> {
    use std::io::{BufRead, BufReader};
    let log = || std::fs::read_to_string(dir.join("smtp.log")).unwrap_or_default();
    let deadline = Instant::now() + limit;
    while Instant::now() < deadline {
        if let Some(status) = child.try_wait()? {
            bail!("aiosmtpd exited with {status}: {}", log());
        }
        if let Ok(stream) = std::net::TcpStream::connect_timeout(
            &([127, 0, 0, 1], port).into(),
            Duration::from_millis(500),
        ) {
            stream.set_read_timeout(Some(Duration::from_secs(2)))?;
            let mut line = String::new();
            if BufReader::new(&stream).read_line(&mut line).is_ok() && line.starts_with("220") {
                return Ok(());
            }
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    bail!("aiosmtpd not ready after {limit:?}: {}", log())
}

impl Drop for Smtp {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
