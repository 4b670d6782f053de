//! argon2id hashing time with the production (OWASP) parameters.
//!
//! `cargo bench -p eid-core --bench password`

use criterion::{Criterion, criterion_group, criterion_main};
use eid_core::credential::password::{Password, PasswordHasher, PasswordParams};

fn argon2id(c: &mut Criterion) {
    let runtime = tokio::runtime::Runtime::new().expect("tokio runtime");
    let hasher = PasswordHasher::new(PasswordParams::default(), 1, 1).expect("hasher");
    let stored = runtime
        .block_on(hasher.hash(Password::new("correct horse battery staple").expect("pw")))
        .expect("hash");
    let mut group = c.benchmark_group("argon2id m=19MiB t=2 p=1");
    group.sample_size(20);
    group.bench_function("hash", |b| {
        b.iter(|| {
            let pw = Password::new("correct horse battery staple").expect("pw");
            runtime.block_on(hasher.hash(pw)).expect("hash")
        })
    });
    group.bench_function("verify", |b| {
        b.iter(|| {
            let pw = Password::new("correct horse battery staple").expect("pw");
            runtime
                .block_on(hasher.verify(pw, &stored))
                .expect("verify")
        })
    });
    group.finish();
}

criterion_group!(benches, argon2id);
criterion_main!(benches);
