//! ES256 ID-token verification through the C ABI against eid-core and against the bare
//! aws-lc-rs ECDSA P-256 verify, on the same token in the same run:
//! `cargo bench -p eid-ffi --bench verify`.
//!
//! * `C ABI`: the `extern "C"` functions `eid_verify_token` (with a NUL-terminated
//!   token) and `eid_claims_free`, called with the C calling convention from the `eid`
//!   rlib (no LTO, so nothing is inlined across the boundary): what a C caller pays.
//! * `eid-core`: `TokenVerifier::verify_token_at` (what `eid_verify_token` wraps) and
//!   `verify_id_token_at` (typed claims only), each with `OffsetDateTime::now_utc()` as
//!   the C entry point takes it.
//! * `bare`: aws-lc-rs `UnparsedPublicKey::verify` (ECDSA_P256_SHA256_FIXED) over the
//!   token's signing input and its 64-byte signature, decoded once outside the loop.
//! * `bare, key parsed once`: the same with aws-lc-rs's `ParsedPublicKey`.
//! * the steps between them (header and payload parsing, typed claims, the claims map),
//!   to show where the difference goes.
//! * `2 threads`: two threads sharing one verifier (wall-clock per verification, so the
//!   throughput line is tokens/s over both threads).

#[path = "../tests/support/fixtures.rs"]
mod fixtures;

use std::ffi::CString;
use std::hint::black_box;
use std::ptr;
use std::time::{Duration as StdDuration, Instant};

use aws_lc_rs::signature::{ECDSA_P256_SHA256_FIXED, ParsedPublicKey, UnparsedPublicKey};
use base64ct::{Base64UrlUnpadded, Encoding};
use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use eid::{
    EID_LOA_HIGH, eid_claims_free, eid_status, eid_verifier, eid_verifier_free, eid_verifier_new,
    eid_verify_token,
};
use eid_core::assurance::Loa;
use eid_core::token::{IdTokenClaims, TokenVerifier, VerificationKeys};
use fixtures::{CLIENT_ID, Fixtures, ISSUER};
use serde::Deserialize;
use serde_json::{Map, Value, json};
use time::{Duration, OffsetDateTime};

/// A C verifier handle shared by the threads of the throughput bench.
#[derive(Clone, Copy)]
struct Shared(*mut eid_verifier);
// SAFETY: `eid_verifier` is documented as shareable across threads.
unsafe impl Send for Shared {}
unsafe impl Sync for Shared {}

impl Shared {
    fn get(&self) -> *const eid_verifier {
        self.0
    }
}

/// One verification through the C ABI, as a C caller does it.
fn c_verify(verifier: *const eid_verifier, token: &CString) {
    let mut claims = ptr::null_mut();
    // SAFETY: a live verifier, a NUL-terminated token and a writable out-parameter.
    let status = unsafe {
        eid_verify_token(
            verifier,
            black_box(token.as_ptr()),
            EID_LOA_HIGH,
            &mut claims,
        )
    };
    assert_eq!(status, eid_status::Ok);
    // SAFETY: a live handle from eid_verify_token, freed once.
    unsafe { eid_claims_free(black_box(claims)) };
}

/// Runs `iters` calls of `f` split over `threads` threads; the wall-clock time.
fn threaded(iters: u64, threads: u64, f: impl Fn() + Sync) -> StdDuration {
    let per_thread = iters.div_ceil(threads);
    let start = Instant::now();
    std::thread::scope(|scope| {
        for _ in 0..threads {
            scope.spawn(|| {
                for _ in 0..per_thread {
                    f();
                }
            });
        }
    });
    start.elapsed()
}

fn verify(c: &mut Criterion) {
    let fixtures = Fixtures::new();
    // A good ID token that stays valid for the whole run.
    let mut claims = fixtures.id_claims();
    claims["exp"] = json!(OffsetDateTime::now_utc().unix_timestamp() + 7 * 24 * 3600);
    let token = fixtures.sign(&claims);
    let jwks = fixtures.jwks();

    // The C library's verifier.
    let mut c_verifier = ptr::null_mut();
    let cstr = |s: &str| CString::new(s).expect("no NUL");
    // SAFETY: NUL-terminated strings and a writable out-parameter.
    let status = unsafe {
        eid_verifier_new(
            cstr(&jwks).as_ptr(),
            cstr(ISSUER).as_ptr(),
            cstr(CLIENT_ID).as_ptr(),
            60,
            &mut c_verifier,
        )
    };
    assert_eq!(status, eid_status::Ok);
    let c_token = cstr(&token);

    // eid-core's verifier, set up as eid_verifier_new sets it up.
    let keys = VerificationKeys::from_json(&jwks).expect("keys");
    let core = TokenVerifier::new(keys, ISSUER, CLIENT_ID, Duration::seconds(60)).expect("core");
    let verified = core
        .verify_token_at(&token, Some(Loa::High), OffsetDateTime::now_utc())
        .expect("the token verifies");

    // The bare primitive: the JWKS key as an uncompressed SEC1 point, the signing input
    // and the raw r||s signature, all decoded here once.
    let jwk: Value = serde_json::from_str(&jwks).expect("jwks json");
    let coordinate = |name: &str| {
        Base64UrlUnpadded::decode_vec(jwk["keys"][0][name].as_str().expect("coordinate"))
            .expect("base64url")
    };
    let mut point = vec![0x04];
    point.extend(coordinate("x"));
    point.extend(coordinate("y"));
    let public = UnparsedPublicKey::new(&ECDSA_P256_SHA256_FIXED, point);
    let (signing_input, signature) = token.rsplit_once('.').expect("three segments");
    let message = signing_input.as_bytes();
    let signature = Base64UrlUnpadded::decode_vec(signature).expect("signature");
    assert_eq!(signature.len(), 64);
    public.verify(message, &signature).expect("bare verify");
    let mut segments = token.split('.');
    let (header_b64, payload_b64) = (segments.next().expect("h"), segments.next().expect("p"));

    let mut group = c.benchmark_group(format!("verify ES256 ID token ({} bytes)", token.len()));
    group.throughput(Throughput::Elements(1));

    group.bench_function("C ABI: eid_verify_token + eid_claims_free", |b| {
        b.iter(|| c_verify(c_verifier, &c_token))
    });
    group.bench_function("eid-core: verify_token_at", |b| {
        b.iter(|| {
            core.verify_token_at(
                black_box(&token),
                Some(Loa::High),
                OffsetDateTime::now_utc(),
            )
            .expect("verifies")
        })
    });
    group.bench_function("eid-core: verify_id_token_at", |b| {
        b.iter(|| {
            core.verify_id_token_at(
                black_box(&token),
                None,
                Some(Loa::High),
                OffsetDateTime::now_utc(),
            )
            .expect("verifies")
        })
    });
    group.bench_function("bare: aws-lc-rs ECDSA P-256 verify", |b| {
        b.iter(|| {
            public
                .verify(black_box(message), black_box(&signature))
                .expect("verifies")
        })
    });

    let parsed: ParsedPublicKey = public.parse().expect("parsed key");
    group.bench_function(
        "bare, key parsed once: aws-lc-rs ParsedPublicKey verify",
        |b| {
            b.iter(|| {
                parsed
                    .verify_sig(black_box(message), black_box(&signature))
                    .expect("verifies")
            })
        },
    );

    // The non-signature steps, measured one by one.
    group.bench_function("step: header base64url + JSON", |b| {
        b.iter(|| {
            let json = Base64UrlUnpadded::decode_vec(black_box(header_b64)).expect("b64");
            serde_json::from_slice::<Map<String, Value>>(&json).expect("json")
        })
    });
    group.bench_function("step: payload base64url + JSON to Value", |b| {
        b.iter(|| {
            let json = Base64UrlUnpadded::decode_vec(black_box(payload_b64)).expect("b64");
            serde_json::from_slice::<Value>(&json).expect("json")
        })
    });
    let payload = Value::Object(verified.claims.clone());
    group.bench_function("step: Value to IdTokenClaims", |b| {
        b.iter(|| IdTokenClaims::deserialize(black_box(&payload)).expect("typed claims"))
    });
    group.bench_function("step: clone + drop the claims map", |b| {
        b.iter(|| black_box(&verified.claims).clone())
    });
    group.bench_function("step: OffsetDateTime::now_utc", |b| {
        b.iter(OffsetDateTime::now_utc)
    });

    // Two threads sharing one verifier.
    let shared = Shared(c_verifier);
    group.bench_function(
        "2 threads, C ABI: eid_verify_token + eid_claims_free",
        |b| b.iter_custom(|iters| threaded(iters, 2, || c_verify(shared.get(), &c_token))),
    );
    group.bench_function("2 threads, bare: aws-lc-rs ECDSA P-256 verify", |b| {
        b.iter_custom(|iters| {
            threaded(iters, 2, || {
                public
                    .verify(black_box(message), black_box(&signature))
                    .expect("verifies")
            })
        })
    });
    group.finish();

    // The same three verifications interleaved: rounds of `CALLS` calls of each, in an
    // order rotated per round, so each round's ratios compare figures taken within a few
    // milliseconds of each other (a shared machine drifts more than that between
    // criterion's benchmarks). Skipped when a filter other than "interleaved" is given.
    let filter = std::env::args().skip(1).find(|a| !a.starts_with('-'));
    if filter.is_none_or(|f| "interleaved".contains(f.as_str())) {
        let variants: [(&str, &dyn Fn()); 3] = [
            ("C ABI", &|| c_verify(c_verifier, &c_token)),
            ("eid-core verify_token_at", &|| {
                core.verify_token_at(
                    black_box(&token),
                    Some(Loa::High),
                    OffsetDateTime::now_utc(),
                )
                .expect("verifies");
            }),
            ("bare", &|| {
                public
                    .verify(black_box(message), black_box(&signature))
                    .expect("verifies")
            }),
        ];
        interleaved(&variants);
    }

    // SAFETY: made above, no longer used.
    unsafe { eid_verifier_free(c_verifier) };
}

/// Calls per variant and round, and rounds, of [`interleaved`].
const CALLS: u32 = 200;
const ROUNDS: usize = 150;

/// Times `variants` in interleaved rounds; prints each one's median time per call and
/// the median (and 10th–90th percentile) of its per-round ratio to the last variant.
fn interleaved(variants: &[(&str, &dyn Fn())]) {
    let mut times = vec![Vec::with_capacity(ROUNDS); variants.len()];
    for round in 0..ROUNDS {
        for k in 0..variants.len() {
            let i = (round + k) % variants.len();
            let start = Instant::now();
            for _ in 0..CALLS {
                (variants[i].1)();
            }
            times[i].push(start.elapsed().as_secs_f64() * 1e6 / f64::from(CALLS));
        }
    }
    let quantile = |values: &[f64], q: f64| {
        let mut sorted = values.to_vec();
        sorted.sort_by(f64::total_cmp);
        sorted[((sorted.len() - 1) as f64 * q).round() as usize]
    };
    let base = times.last().expect("a baseline").clone();
    println!("interleaved: {ROUNDS} rounds of {CALLS} calls per variant");
    for (i, (name, _)) in variants.iter().enumerate() {
        let ratios: Vec<f64> = times[i].iter().zip(&base).map(|(t, b)| t / b).collect();
        println!(
            "interleaved: {name:<26} median {:8.3} µs/call  ratio to {} median {:.3} (p10 {:.3}, p90 {:.3})",
            quantile(&times[i], 0.5),
            variants.last().expect("baseline").0,
            quantile(&ratios, 0.5),
            quantile(&ratios, 0.1),
            quantile(&ratios, 0.9),
        );
    }
}

criterion_group!(benches, verify);
criterion_main!(benches);
