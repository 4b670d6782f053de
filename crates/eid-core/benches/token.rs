//! ES256 through the token layer against the bare aws-lc-rs ECDSA P-256/SHA-256
//! primitive, on the same message: `cargo bench -p eid-core --bench token`.

use std::hint::black_box;

use aws_lc_rs::rand::SystemRandom;
use aws_lc_rs::signature::{
    ECDSA_P256_SHA256_FIXED, ECDSA_P256_SHA256_FIXED_SIGNING, EcdsaKeyPair, KeyPair,
    UnparsedPublicKey,
};
use criterion::{Criterion, criterion_group, criterion_main};
use eid_core::assurance::Loa;
use eid_core::token::{
    AccessTokenRequest, Audience, Authentication, KeyRing, PairwiseSalt, RelyingParty, SectorId,
    TokenIssuer, TokenVerifier, VerificationKeys,
};
use time::{Duration, OffsetDateTime};
use uuid::Uuid;

const ISSUER: &str = "https://eid.example.vn";
const API: &str = "https://api.example.vn";

fn es256(c: &mut Criterion) {
    let now = OffsetDateTime::now_utc();
    let ring = KeyRing::generate().expect("key generation");
    let issuer = TokenIssuer::new(ISSUER, PairwiseSalt::new(&[7; 32]).expect("salt"));
    let auth = Authentication {
        account: Uuid::from_u128(42),
        auth_time: Some(now),
        loa: Some(Loa::Substantial),
        amr: vec!["hwk".to_owned(), "user".to_owned()],
    };
    let client = RelyingParty::pairwise("bank", SectorId::new("bank.example.vn").expect("sector"));
    let audience = Audience::from(API);
    let req = AccessTokenRequest {
        auth: &auth,
        client: &client,
        audience: &audience,
        scope: "openid profile",
    };
    let jwks = serde_json::to_string(&ring.jwks()).expect("jwks");
    let keys = VerificationKeys::from_json(&jwks).expect("keys");
    let verifier = TokenVerifier::new(keys, ISSUER, API, Duration::seconds(60)).expect("verifier");
    let token = issuer
        .issue_access_token(&ring, &req, now)
        .expect("issue")
        .token;

    // The bare primitive signs exactly the token's signing input (header.payload).
    let (signing_input, _) = token.rsplit_once('.').expect("three segments");
    let message = signing_input.as_bytes();
    let rng = SystemRandom::new();
    let pkcs8 = EcdsaKeyPair::generate_pkcs8(&ECDSA_P256_SHA256_FIXED_SIGNING, &rng)
        .expect("primitive key");
    let key_pair = EcdsaKeyPair::from_pkcs8(&ECDSA_P256_SHA256_FIXED_SIGNING, pkcs8.as_ref())
        .expect("primitive key");
    let signature = key_pair.sign(&rng, message).expect("primitive sign");
    let public = UnparsedPublicKey::new(&ECDSA_P256_SHA256_FIXED, key_pair.public_key().as_ref());

    let mut group = c.benchmark_group(format!("es256/{}-byte signing input", message.len()));
    group.bench_function("token layer: issue access token", |b| {
        b.iter(|| issuer.issue_access_token(&ring, black_box(&req), now))
    });
    group.bench_function("token layer: verify access token", |b| {
        b.iter(|| verifier.verify_access_token_at(black_box(&token), Some(Loa::Low), now))
    });
    group.bench_function("primitive: EcdsaKeyPair::sign", |b| {
        b.iter(|| key_pair.sign(&rng, black_box(message)))
    });
    group.bench_function("primitive: UnparsedPublicKey::verify", |b| {
        b.iter(|| public.verify(black_box(message), signature.as_ref()))
    });
    // jsonwebtoken parses the PKCS#8 key on every signature; this isolates that cost.
    group.bench_function("primitive: from_pkcs8 + sign", |b| {
        b.iter(|| {
            EcdsaKeyPair::from_pkcs8(&ECDSA_P256_SHA256_FIXED_SIGNING, black_box(pkcs8.as_ref()))
                .map(|k| k.sign(&rng, message))
        })
    });
    group.finish();
}

criterion_group!(benches, es256);
criterion_main!(benches);
