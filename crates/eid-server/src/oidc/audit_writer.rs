//! Group commit of audit records: requests that issue tokens or release data must have
//! their record on the audit log before they answer, and a durable write costs one
//! flush to disk (about 0.7 ms here) under the chain head's lock. One task appends
//! whatever records are waiting in a single transaction, and each request resumes when
//! the transaction holding its record has committed; the records queued meanwhile go in
//! the next one. Nothing is answered before its record is durable.

use std::sync::Arc;

use eid_core::audit::AuditRecord;
use eid_core::store::DurableStore;
use tokio::sync::{mpsc, oneshot};

/// At most this many records per transaction.
const MAX_BATCH: usize = 256;
/// Records waiting for the writer (callers wait for room beyond it).
const QUEUE: usize = 4096;

type Reply = oneshot::Sender<Result<(), String>>;

/// A record could not be appended (the cause, which holds no personal data).
#[derive(Debug, thiserror::Error)]
#[error("audit append failed: {0}")]
pub struct AuditWriteError(String);

/// Appends audit records in group commits. Cheap to clone.
#[derive(Clone)]
pub struct AuditWriter {
    queue: mpsc::Sender<(AuditRecord, Reply)>,
}

impl AuditWriter {
    /// Starts the writer task on the current Tokio runtime; it ends when every clone is
    /// dropped.
    pub fn start(durable: Arc<dyn DurableStore>) -> Self {
        let (queue, mut waiting) = mpsc::channel::<(AuditRecord, Reply)>(QUEUE);
        tokio::spawn(async move {
            let mut batch = Vec::with_capacity(MAX_BATCH);
            while waiting.recv_many(&mut batch, MAX_BATCH).await > 0 {
                let (records, replies): (Vec<_>, Vec<_>) = batch.drain(..).unzip();
                let outcome = durable
                    .append_audit_batch(records)
                    .await
                    .map(|_| ())
                    .map_err(|err| err.to_string());
                for reply in replies {
                    // A caller that went away no longer needs the answer.
                    let _ = reply.send(outcome.clone());
                }
            }
        });
        Self { queue }
    }

    /// Appends `record`, returning once it is committed.
    pub async fn append(&self, record: AuditRecord) -> Result<(), AuditWriteError> {
        let (reply, answer) = oneshot::channel();
        self.queue
            .send((record, reply))
            .await
            .map_err(|_| AuditWriteError("the audit writer has stopped".into()))?;
        answer
            .await
            .map_err(|_| AuditWriteError("the audit writer has stopped".into()))?
            .map_err(AuditWriteError)
    }
}

#[cfg(test)]
mod tests {
    use eid_core::audit::{Actor, AuditEvent, Outcome};
    use eid_core::store::SqliteStore;

    use super::*;

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn concurrent_appends_all_land_in_one_chain() {
        let durable: Arc<dyn DurableStore> = Arc::new(SqliteStore::in_memory().await.unwrap());
        let writer = AuditWriter::start(Arc::clone(&durable));
        let tasks: Vec<_> = (0..200)
            .map(|_| {
                let writer = writer.clone();
                tokio::spawn(async move {
                    let record =
                        AuditRecord::new(AuditEvent::TokenIssued, Actor::System, Outcome::Success);
                    writer.append(record).await
                })
            })
            .collect();
        for task in tasks {
            task.await.unwrap().unwrap();
        }
        assert_eq!(durable.verify_audit_chain().await.unwrap().seq, 200);
    }
}
