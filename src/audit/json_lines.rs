//! Audit events as JSON lines, to a file or any writer.

use std::fs::{File, OpenOptions};
use std::io::{self, Write};
use std::path::Path;

use super::{AuditEvent, AuditSink};

/// Writes each audit event as one line of JSON (see [`AuditEvent`] for the fields) to a
/// writer: a file, a pipe, a socket.
///
/// Each line goes to the writer in a single `write_all`, so a file opened in append mode
/// (as by [`append_to`](Self::append_to)) gets whole lines even when other processes append
/// to it too. The writer is flushed whenever the queue runs empty: wrap a slow writer in a
/// `BufWriter` to batch bursts.
#[derive(Debug)]
pub struct JsonLinesAudit<W> {
    writer: W,
    line: Vec<u8>,
}

impl<W: Write + Send + 'static> JsonLinesAudit<W> {
    /// Writes to `writer`.
    pub fn new(writer: W) -> Self {
        Self {
            writer,
            line: Vec::new(),
        }
    }

    /// The writer, back.
    pub fn into_inner(self) -> W {
        self.writer
    }
}

impl JsonLinesAudit<File> {
    /// Appends to the file at `path`, creating it if missing.
    ///
    /// # Errors
    /// When the file cannot be opened for appending.
    pub fn append_to(path: impl AsRef<Path>) -> io::Result<Self> {
        let file = OpenOptions::new().create(true).append(true).open(path)?;
        Ok(Self::new(file))
    }
}

impl<W: Write + Send + 'static> AuditSink for JsonLinesAudit<W> {
    fn record(&mut self, event: &AuditEvent) -> io::Result<()> {
        self.line.clear();
        serde_json::to_writer(&mut self.line, event)?;
        self.line.push(b'\n');
        self.writer.write_all(&self.line)
    }

    fn flush(&mut self) -> io::Result<()> {
        self.writer.flush()
    }
}
