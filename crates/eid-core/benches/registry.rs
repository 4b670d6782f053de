//! `verify` on a 1,000,000-citizen embedded register (a temporary SQLite file, built once).
//!
//! ```text
//! cargo bench -p eid-core --bench registry
//! ```
//!
//! Besides criterion's estimates, prints p50/p99/p99.9 latencies of single `verify` calls
//! measured by hand (criterion reports means and medians of batches, not tail latency).
//! `EID_BENCH_CITIZENS` overrides the register size.

use std::hint::black_box;
use std::time::{Duration, Instant};

use criterion::{Criterion, criterion_group, criterion_main};
use eid_core::citizen::PersonalId;
use eid_core::registry::{
    EmbeddedRegistry, IdentityClaims, PopulationRegistry, RegisterLocation, SyntheticPopulation,
};
use tokio::runtime::Runtime;

const SEED: u64 = 42;
/// One claim is kept for every `STRIDE` generated citizens.
const STRIDE: usize = 97;

struct Fixture {
    runtime: Runtime,
    registry: EmbeddedRegistry,
    known: Vec<IdentityClaims>,
    unknown: Vec<IdentityClaims>,
    _dir: tempfile::TempDir,
}

fn fixture() -> Fixture {
    let citizens: u64 = std::env::var("EID_BENCH_CITIZENS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(1_000_000);
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("tokio runtime");
    let dir = tempfile::tempdir().expect("temporary directory");
    let location = RegisterLocation::File(dir.path().join("register.sqlite"));
    let registry = runtime.block_on(async {
        let registry = EmbeddedRegistry::open(location)
            .await
            .expect("open register");
        let start = Instant::now();
        registry
            .load_synthetic(citizens, SEED)
            .await
            .expect("load register");
        eprintln!(
            "built a {citizens}-citizen register in {:.2?}",
            start.elapsed()
        );
        registry
    });
    let known: Vec<IdentityClaims> = SyntheticPopulation::new(citizens, SEED)
        .expect("generator")
        .step_by(STRIDE)
        .map(|r| {
            let r = r.expect("synthetic citizen");
            IdentityClaims::of_identity(r.personal_id, &r.identity)
        })
        .collect();
    // Same numbers with another random part: almost all unknown to the register.
    let unknown = known
        .iter()
        .filter_map(|c| {
            let digits = c.personal_id.expose();
            let changed = format!(
                "{}{:06}",
                &digits[..6],
                (digits[6..].parse::<u32>().ok()? + 1) % 1_000_000
            );
            Some(IdentityClaims::new(PersonalId::parse(&changed).ok()?))
        })
        .collect();
    Fixture {
        runtime,
        registry,
        known,
        unknown,
        _dir: dir,
    }
}

fn percentiles(f: &Fixture) {
    let mut samples: Vec<Duration> = f
        .known
        .iter()
        .cycle()
        .take(20_000)
        .map(|claims| {
            let start = Instant::now();
            let m = f.runtime.block_on(f.registry.verify(claims));
            let elapsed = start.elapsed();
            black_box(m).expect("verify");
            elapsed
        })
        .collect();
    samples.sort_unstable();
    let at = |q: f64| samples[((samples.len() as f64 * q) as usize).min(samples.len() - 1)];
    eprintln!(
        "verify, {} single calls: p50 {:.1?}, p99 {:.1?}, p99.9 {:.1?}, max {:.1?}",
        samples.len(),
        at(0.50),
        at(0.99),
        at(0.999),
        samples[samples.len() - 1]
    );
}

fn bench_verify(c: &mut Criterion) {
    let f = fixture();
    percentiles(&f);
    let mut group = c.benchmark_group("registry");
    for (name, claims) in [("verify_known", &f.known), ("verify_unknown", &f.unknown)] {
        let mut next = claims.iter().cycle();
        group.bench_function(name, |b| {
            b.iter(|| {
                let claims = next.next().expect("non-empty cycle");
                black_box(f.runtime.block_on(f.registry.verify(black_box(claims))))
            })
        });
    }
    group.finish();
}

criterion_group!(benches, bench_verify);
criterion_main!(benches);
