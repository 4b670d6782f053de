//! The hash chain: canonical encoding, entry hashes and verification.

use std::fmt;

use sha2::{Digest, Sha256};
use time::OffsetDateTime;

use super::{AuditEntry, AuditError, AuditRecord};
use crate::store::unix_micros;

/// Length of an entry hash (SHA-256).
pub const HASH_LEN: usize = 32;

/// Domain separation prefix of the canonical encoding (bump on any format change).
const DOMAIN: &[u8] = b"eid-audit-v1\0";

/// The end of the chain: the last entry's sequence number and hash (`0` and zeros when
/// the log is empty).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct ChainHead {
    /// Sequence number of the last entry.
    pub seq: u64,
    /// Hash of the last entry.
    pub hash: [u8; HASH_LEN],
}

/// Why the chain breaks at an entry.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BreakReason {
    /// No entry has this sequence number (removed, or renumbered).
    Missing,
    /// The entry does not point at its predecessor's hash (removed or reordered).
    Unlinked,
    /// The entry's fields do not match its hash (edited).
    Altered,
    /// The stored head disagrees with the last entry (entries removed or added at the
    /// end).
    HeadMismatch,
}

impl fmt::Display for BreakReason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            BreakReason::Missing => "entry missing",
            BreakReason::Unlinked => "entry does not follow its predecessor",
            BreakReason::Altered => "entry altered",
            BreakReason::HeadMismatch => "chain head does not match the last entry",
        })
    }
}

/// The first place the chain breaks.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ChainBreak {
    /// The first bad sequence number.
    pub seq: u64,
    /// What is wrong there.
    pub reason: BreakReason,
}

/// Checks entries one by one, in sequence order, from the first.
#[derive(Debug, Clone, Default)]
pub struct ChainVerifier {
    head: ChainHead,
}

impl ChainVerifier {
    /// A verifier expecting the first entry.
    pub fn new() -> Self {
        Self::default()
    }

    /// Checks the next entry.
    pub fn push(&mut self, entry: &AuditEntry) -> Result<(), AuditError> {
        let expected = self.head.seq + 1;
        let broken = |seq, reason| Err(AuditError::ChainBroken(ChainBreak { seq, reason }));
        if entry.seq != expected {
            return broken(expected.min(entry.seq), BreakReason::Missing);
        }
        if entry.prev_hash != self.head.hash {
            return broken(entry.seq, BreakReason::Unlinked);
        }
        if entry_hash(entry.seq, entry.at, &entry.record, &entry.prev_hash) != entry.hash {
            return broken(entry.seq, BreakReason::Altered);
        }
        self.head = entry.head();
        Ok(())
    }

    /// Ends verification against the stored head, returning it.
    pub fn finish(self, stored: ChainHead) -> Result<ChainHead, AuditError> {
        if stored == self.head {
            return Ok(stored);
        }
        let seq = if stored.seq > self.head.seq {
            self.head.seq + 1
        } else {
            stored.seq.max(1)
        };
        Err(AuditError::ChainBroken(ChainBreak {
            seq,
            reason: BreakReason::HeadMismatch,
        }))
    }
}

/// SHA-256 over the canonical encoding of an entry: a domain prefix, then every field in
/// a fixed order, integers big-endian, strings and byte strings prefixed with their
/// 32-bit length, optional fields with a 0/1 tag, sets with their count — so no two
/// different entries encode alike.
pub(super) fn entry_hash(
    seq: u64,
    at: OffsetDateTime,
    record: &AuditRecord,
    prev: &[u8; HASH_LEN],
) -> [u8; HASH_LEN] {
    let mut h = Encoder(Sha256::new());
    h.raw(DOMAIN);
    h.raw(&seq.to_be_bytes());
    h.raw(&unix_micros(at).to_be_bytes());
    h.bytes(record.event.as_str().as_bytes());
    h.bytes(record.actor.kind().as_bytes());
    h.opt(record.actor.id().as_deref().map(str::as_bytes));
    h.opt(
        record
            .subject
            .map(|s| s.as_uuid().into_bytes())
            .as_ref()
            .map(|b| &b[..]),
    );
    h.opt(record.relying_party.as_ref().map(|c| c.as_str().as_bytes()));
    h.len(record.attributes.len());
    for a in &record.attributes {
        h.bytes(a.as_str().as_bytes());
    }
    h.opt(record.loa.map(|l| l.as_str().as_bytes()));
    h.bytes(record.outcome.as_str().as_bytes());
    h.raw(prev);
    h.0.finalize().into()
}

/// Feeds the canonical encoding into a hasher.
struct Encoder(Sha256);

impl Encoder {
    fn raw(&mut self, b: &[u8]) {
        self.0.update(b);
    }

    fn len(&mut self, n: usize) {
        // Every encoded field is far below 4 GiB (names are bounded), so this never
        // saturates in practice; saturating keeps the encoding total.
        self.raw(&u32::try_from(n).unwrap_or(u32::MAX).to_be_bytes());
    }

    fn bytes(&mut self, b: &[u8]) {
        self.len(b.len());
        self.raw(b);
    }

    fn opt(&mut self, b: Option<&[u8]>) {
        match b {
            None => self.raw(&[0]),
            Some(b) => {
                self.raw(&[1]);
                self.bytes(b);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::assurance::Loa;
    use crate::audit::{Actor, AttributeName, AuditEvent, Outcome};
    use crate::store::{AccountId, ClientId};

    fn record(n: u8) -> AuditRecord {
        let mut r = AuditRecord::new(
            AuditEvent::DataReleased,
            Actor::Account(AccountId::new()),
            Outcome::Success,
        );
        r.relying_party = Some(ClientId::new(format!("rp{n}")).unwrap());
        r.attributes
            .insert(AttributeName::new("birthdate").unwrap());
        r.loa = Some(Loa::Substantial);
        r
    }

    fn chain(n: u8) -> Vec<AuditEntry> {
        let mut head = ChainHead::default();
        let t = OffsetDateTime::UNIX_EPOCH;
        (1..=n)
            .map(|i| {
                let e = AuditEntry::seal(&head, t, record(i));
                head = e.head();
                e
            })
            .collect()
    }

    fn verify(entries: &[AuditEntry], head: ChainHead) -> Result<ChainHead, AuditError> {
        let mut v = ChainVerifier::new();
        entries.iter().try_for_each(|e| v.push(e))?;
        v.finish(head)
    }

    fn broken(seq: u64, reason: BreakReason) -> Result<ChainHead, AuditError> {
        Err(AuditError::ChainBroken(ChainBreak { seq, reason }))
    }

    #[test]
    fn intact_chain_verifies() {
        let c = chain(4);
        assert_eq!(c[0].prev_hash, [0; HASH_LEN]);
        assert_eq!(verify(&c, c[3].head()), Ok(c[3].head()));
        assert_eq!(verify(&[], ChainHead::default()), Ok(ChainHead::default()));
    }

    #[test]
    fn edited_removed_and_reordered_entries_are_found() {
        let c = chain(5);
        let head = c[4].head();

        let mut edited = c.clone();
        edited[2].record.outcome = Outcome::Failure;
        assert_eq!(verify(&edited, head), broken(3, BreakReason::Altered));

        let mut removed = c.clone();
        removed.remove(1);
        assert_eq!(verify(&removed, head), broken(2, BreakReason::Missing));

        let mut swapped = c.clone();
        swapped.swap(1, 3);
        (swapped[1].seq, swapped[3].seq) = (2, 4);
        assert_eq!(verify(&swapped, head), broken(2, BreakReason::Unlinked));

        let truncated = &c[..4];
        assert_eq!(
            verify(truncated, head),
            broken(5, BreakReason::HeadMismatch)
        );
        assert_eq!(
            verify(&c, c[2].head()),
            broken(3, BreakReason::HeadMismatch)
        );
    }

    #[test]
    fn every_field_is_covered_by_the_hash() {
        let base = chain(1).remove(0);
        let same = |e: &AuditEntry| entry_hash(e.seq, e.at, &e.record, &e.prev_hash) == base.hash;
        assert!(same(&base));
        let mutations: [fn(&mut AuditEntry); 10] = [
            |e| e.seq = 2,
            |e| e.at += time::Duration::microseconds(1),
            |e| e.prev_hash[0] = 1,
            |e| e.record.event = AuditEvent::TokenIssued,
            |e| e.record.actor = Actor::System,
            |e| e.record.subject = Some(AccountId::new()),
            |e| e.record.relying_party = None,
            |e| e.record.attributes.clear(),
            |e| e.record.loa = None,
            |e| e.record.outcome = Outcome::Failure,
        ];
        for m in mutations {
            let mut e = base.clone();
            m(&mut e);
            assert!(!same(&e), "{e:?}");
        }
    }

    #[test]
    fn encoding_is_unambiguous_across_field_boundaries() {
        let base = chain(1).remove(0);
        let mut a = base.record.clone();
        a.attributes = ["ab", "c"].map(|s| AttributeName::new(s).unwrap()).into();
        let mut b = base.record.clone();
        b.attributes = ["a", "bc"].map(|s| AttributeName::new(s).unwrap()).into();
        let z = [0; HASH_LEN];
        assert_ne!(
            entry_hash(1, base.at, &a, &z),
            entry_hash(1, base.at, &b, &z)
        );
    }
}
