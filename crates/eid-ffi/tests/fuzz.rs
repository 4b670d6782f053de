//! Arbitrary and mutated inputs through the C entry points: tokens, JWKS documents, eKYC
//! presentations, status list tokens, personal IDs, PHC strings and claim names.
//!
//! Every call must return a status other than `EID_STATUS_PANIC`; `EID_STATUS_OK` only for
//! an input that really is valid (a mutated token, presentation or status list token
//! only when the mutation left the signed content and the signature unchanged); its
//! out-parameter NULL on failure; `eid_last_error` empty exactly after a success; and
//! every call, once each handle and string it gave out is freed, leaves no Rust heap
//! allocation behind (counted per thread by the allocator below).
//!
//! A seeded deterministic generator drives the cases. `EID_FUZZ_CASES` sets the number
//! of cases per target (default 15000; PHC strings get a fifth of it, eKYC presentations
//! and status lists half) and `EID_FUZZ_SEED` the seed (default fixed), for longer
//! local runs: `EID_FUZZ_CASES=100000 cargo test -p eid-ffi --test fuzz`.
//! A failure prints the seed, target and case number; the fixtures (keys, salts) are
//! fresh each run, so a seed replays the same mutations on new inputs.

mod support;

use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::Cell;
use std::ffi::{CStr, CString, c_char};
use std::ptr;

use base64ct::{Base64Unpadded, Base64UrlUnpadded, Encoding};
use eid::*;
use eid_core::citizen::PersonalId;
use eid_core::credential::password::{Password, PasswordParams};
use serde_json::{Value, json};
use support::fixtures::{self, Fixtures};
use time::OffsetDateTime;

// ---------------------------------------------------------------------------------------
// Heap accounting: bytes allocated minus bytes freed, per thread.

struct Counting;

thread_local! {
    static LIVE: Cell<isize> = const { Cell::new(0) };
}

fn count(delta: isize) {
    // `try_with` fails only during thread teardown; nothing to count then.
    let _ = LIVE.try_with(|live| live.set(live.get() + delta));
}

// SAFETY: forwards to the system allocator; only counts.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        // SAFETY: forwarded contract.
        let p = unsafe { System.alloc(layout) };
        if !p.is_null() {
            count(layout.size() as isize);
        }
        p
    }
    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        // SAFETY: forwarded contract.
        let p = unsafe { System.alloc_zeroed(layout) };
        if !p.is_null() {
            count(layout.size() as isize);
        }
        p
    }
    unsafe fn dealloc(&self, p: *mut u8, layout: Layout) {
        count(-(layout.size() as isize));
        // SAFETY: forwarded contract.
        unsafe { System.dealloc(p, layout) }
    }
    unsafe fn realloc(&self, p: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        // SAFETY: forwarded contract.
        let q = unsafe { System.realloc(p, layout, new_size) };
        if !q.is_null() {
            count(new_size as isize - layout.size() as isize);
        }
        q
    }
}

#[global_allocator]
static ALLOCATOR: Counting = Counting;

fn live() -> isize {
    LIVE.with(Cell::get)
}

/// Runs `case` (which frees what it got) and fails if the library kept heap memory.
/// Before and after, a successful call resets `eid_last_error` (whose message is kept
/// per thread) to the same empty string, so only what the case leaked remains.
fn no_leak(what: &str, case: impl FnOnce()) {
    reset_last_error();
    let before = live();
    case();
    reset_last_error();
    let leaked = live() - before;
    assert_eq!(leaked, 0, "{what}: {leaked} bytes not freed");
}

fn reset_last_error() {
    let id = c"001090012345";
    // SAFETY: a NUL-terminated string; NULL problem_out is allowed.
    let status = unsafe { eid_personal_id_validate(id.as_ptr(), ptr::null_mut()) };
    assert_eq!(status, eid_status::Ok);
}

// ---------------------------------------------------------------------------------------
// The generator.

/// SplitMix64: small, seedable, good enough to pick mutations.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }
    /// Uniform in `0..n` (n > 0).
    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }
    fn chance(&mut self, percent: usize) -> bool {
        self.below(100) < percent
    }
    fn pick<'a, T>(&mut self, items: &'a [T]) -> &'a T {
        &items[self.below(items.len())]
    }
    fn byte(&mut self) -> u8 {
        if self.chance(50) {
            *self.pick(INTERESTING)
        } else {
            self.next() as u8
        }
    }
    fn bytes(&mut self, max: usize) -> Vec<u8> {
        let len = self.below(max + 1);
        (0..len).map(|_| self.byte()).collect()
    }
}

/// Bytes that matter to the parsers: separators, base64url, JSON, UTF-8 lead bytes.
const INTERESTING: &[u8] = b".~$=,-_+/AQgw09azZ{}[]\":\\ \t\n\x7f\x80\xbf\xc3\xe1\xf0\xff";

fn cases() -> usize {
    std::env::var("EID_FUZZ_CASES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(15000)
}

fn seed() -> u64 {
    std::env::var("EID_FUZZ_SEED")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(0x00E1_D0FF_1B33_2026)
}

/// Runs `body` for `n` cases with a generator seeded per target and case.
fn run(target: &str, n: usize, mut body: impl FnMut(&mut Rng, usize)) {
    let base = seed();
    let salt = target.bytes().fold(0xCBF2_9CE4_8422_2325u64, |h, b| {
        (h ^ u64::from(b)).wrapping_mul(0x100_0000_01B3)
    });
    for case in 0..n {
        let mut rng = Rng(base ^ salt ^ (case as u64).wrapping_mul(0x2545_F491_4F6C_DD1D));
        let outcome =
            std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| body(&mut rng, case)));
        if let Err(panic) = outcome {
            eprintln!("fuzz failure: target {target}, case {case}, EID_FUZZ_SEED={base}");
            std::panic::resume_unwind(panic);
        }
    }
}

/// Applies one to four mutations to `input`: byte flips and replacements, insertions,
/// deletions, truncations, duplications, splices with `donors`, and operations on the
/// `sep`-separated segments (swaps, drops, duplicates, segments of donors).
fn mutate(rng: &mut Rng, input: &[u8], donors: &[&[u8]], sep: u8) -> Vec<u8> {
    let mut out = input.to_vec();
    for _ in 0..1 + rng.below(4) {
        let len = out.len();
        match rng.below(11) {
            0..=2 => small_change(rng, &mut out, 8),
            3 if len > 0 => {
                let i = rng.below(len);
                let j = (i + 1 + rng.below(16)).min(len);
                out.drain(i..j);
            }
            4 => out.truncate(rng.below(len + 1)),
            5 if len > 0 => {
                let i = rng.below(len);
                let j = (i + 1 + rng.below(32)).min(len);
                let at = rng.below(len + 1);
                let copy = out[i..j].to_vec();
                out.splice(at..at, copy);
            }
            6 if !donors.is_empty() => {
                // Head of one, tail of another.
                let donor = rng.pick(donors);
                let i = rng.below(len + 1);
                let j = rng.below(donor.len() + 1);
                out.truncate(i);
                out.extend_from_slice(&donor[j..]);
            }
            7 | 8 => {
                let mut segments: Vec<Vec<u8>> =
                    out.split(|b| *b == sep).map(<[u8]>::to_vec).collect();
                let n = segments.len();
                match rng.below(4) {
                    0 if n > 1 => {
                        let (a, b) = (rng.below(n), rng.below(n));
                        segments.swap(a, b);
                    }
                    1 if n > 1 => {
                        segments.remove(rng.below(n));
                    }
                    2 => {
                        let i = rng.below(n);
                        let copy = segments[i].clone();
                        segments.insert(rng.below(n + 1), copy);
                    }
                    _ if !donors.is_empty() => {
                        let donor: Vec<&[u8]> = rng.pick(donors).split(|b| *b == sep).collect();
                        let i = rng.below(n);
                        segments[i] = rng.pick(&donor).to_vec();
                    }
                    _ => {}
                }
                out = segments.join(&sep);
            }
            9 => {
                // Decode a base64url segment, change its bytes, encode it again, so the
                // change reaches the JSON (or signature) parser.
                let mut segments: Vec<Vec<u8>> =
                    out.split(|b| *b == sep).map(<[u8]>::to_vec).collect();
                let i = rng.below(segments.len());
                if let Ok(mut decoded) =
                    Base64UrlUnpadded::decode_vec(std::str::from_utf8(&segments[i]).unwrap_or("!"))
                {
                    decoded = mutate_plain(rng, &decoded);
                    segments[i] = Base64UrlUnpadded::encode_string(&decoded).into_bytes();
                    out = segments.join(&sep);
                }
            }
            _ => {
                let i = rng.below(len + 1);
                let extra = [sep];
                out.splice(i..i, extra);
            }
        }
    }
    out
}

/// Changes decoded bytes (JSON, mostly).
fn mutate_plain(rng: &mut Rng, input: &[u8]) -> Vec<u8> {
    let mut out = input.to_vec();
    small_change(rng, &mut out, 6);
    out
}

/// One small change: a bit flip, a byte replaced, up to `extra` random bytes inserted, or
/// a cut.
fn small_change(rng: &mut Rng, out: &mut Vec<u8>, extra: usize) {
    let len = out.len();
    match rng.below(4) {
        0 if len > 0 => {
            let i = rng.below(len);
            out[i] ^= 1 << rng.below(8);
        }
        1 if len > 0 => {
            let i = rng.below(len);
            out[i] = rng.byte();
        }
        2 => {
            let i = rng.below(len + 1);
            let bytes = rng.bytes(extra);
            out.splice(i..i, bytes);
        }
        _ => out.truncate(rng.below(len + 1)),
    }
}

/// A C string of `bytes`, cut at the first NUL as a C caller's string would be.
fn c_bytes(mut bytes: Vec<u8>) -> CString {
    if let Some(nul) = bytes.iter().position(|b| *b == 0) {
        bytes.truncate(nul);
    }
    CString::new(bytes).expect("cut at the NUL")
}

fn c(s: &str) -> CString {
    CString::new(s).expect("no NUL")
}

fn last_error() -> String {
    // SAFETY: never NULL, valid until the next call on this thread.
    unsafe { CStr::from_ptr(eid_last_error()) }
        .to_string_lossy()
        .into_owned()
}

/// The checks every call gets: no panic, the message empty exactly after a success, and
/// the out-parameter set exactly on success.
fn check_outcome(status: eid_status, out_is_null: bool, what: &str) {
    assert_ne!(status, eid_status::Panic, "{what}: {}", last_error());
    let message = last_error();
    if status == eid_status::Ok {
        assert!(!out_is_null, "{what}: OK with a NULL out-parameter");
        assert_eq!(message, "", "{what}: message after success");
    } else {
        assert!(out_is_null, "{what}: {status:?} with an out-parameter set");
        assert!(!message.is_empty(), "{what}: {status:?} without a message");
    }
}

/// `(signing input, decoded signature)` of a compact JWS, if it has that shape.
fn jws_parts(token: &[u8]) -> Option<(Vec<u8>, Vec<u8>)> {
    let token = std::str::from_utf8(token).ok()?;
    let (input, signature) = token.rsplit_once('.')?;
    Some((
        input.as_bytes().to_vec(),
        Base64UrlUnpadded::decode_vec(signature).ok()?,
    ))
}

/// Whether `mutated` is `original` as far as a signature check goes: the same signing
/// input and the same signature bytes.
fn same_jws(mutated: &[u8], original: &str) -> bool {
    mutated == original.as_bytes()
        || matches!((jws_parts(mutated), jws_parts(original.as_bytes())), (Some(a), Some(b)) if a == b)
}

// ---------------------------------------------------------------------------------------
// Fixtures shared by the targets.

struct Setup {
    f: Fixtures,
    jwks: String,
    /// A good ID token for [`fixtures::CLIENT_ID`], valid for a day.
    token: String,
    /// A good access token (`typ` `at+jwt`) for [`fixtures::API`], valid for a day.
    access: String,
    /// An access token (for the same key; the verifier's audience is the client's, so it
    /// fails on audience) and other valid-looking donors.
    donors: Vec<String>,
}

fn setup() -> Setup {
    let f = Fixtures::new();
    let mut claims = f.id_claims();
    claims["exp"] = json!(OffsetDateTime::now_utc().unix_timestamp() + 24 * 3600);
    let token = f.sign(&claims);
    let now = OffsetDateTime::now_utc().unix_timestamp();
    let access = f
        .ring
        .active()
        .sign(
            "at+jwt",
            &json!({
                "iss": fixtures::ISSUER, "sub": f.subject(), "aud": fixtures::API,
                "iat": now, "exp": now + 24 * 3600, "auth_time": now - 60,
                "jti": "fuzz-1", "client_id": fixtures::CLIENT_ID, "scope": "openid profile",
                "acr": "http://eidas.europa.eu/LoA/high",
            }),
        )
        .expect("sign");
    let donors = vec![
        f.access_token(eid_core::assurance::Loa::High),
        f.expired_id_token(),
        f.wrong_audience_id_token(),
        f.foreign_key_id_token(),
        fixtures::alg_none(&token),
        fixtures::tampered(&token),
    ];
    let jwks = f.jwks();
    Setup {
        f,
        jwks,
        token,
        access,
        donors,
    }
}

fn new_verifier(jwks: &CStr) -> (eid_status, *mut eid_verifier) {
    new_verifier_for(jwks, fixtures::CLIENT_ID)
}

fn new_verifier_for(jwks: &CStr, audience: &str) -> (eid_status, *mut eid_verifier) {
    let mut v = ptr::null_mut();
    // SAFETY: NUL-terminated strings and a writable out-parameter.
    let status = unsafe {
        eid_verifier_new(
            jwks.as_ptr(),
            c(fixtures::ISSUER).as_ptr(),
            c(audience).as_ptr(),
            60,
            &mut v,
        )
    };
    check_outcome(status, v.is_null(), "eid_verifier_new");
    (status, v)
}

fn verify(v: *const eid_verifier, token: &CStr, min_loa: eid_loa) -> eid_status {
    let mut claims = ptr::null_mut();
    // SAFETY: a live verifier, a NUL-terminated token, a writable out-parameter.
    let status = unsafe { eid_verify_token(v, token.as_ptr(), min_loa, &mut claims) };
    check_outcome(status, claims.is_null(), "eid_verify_token");
    if status == eid_status::Ok {
        read_all(claims);
        // SAFETY: a live handle, freed once.
        unsafe { eid_claims_free(claims) };
    }
    status
}

type TextGetter = unsafe extern "C" fn(*const eid_claims, *mut *const c_char) -> eid_status;

/// Reads every getter of a verified handle (strings must be NUL-terminated UTF-8).
fn read_all(claims: *const eid_claims) {
    let getters: [TextGetter; 9] = [
        eid_claims_sub,
        eid_claims_acr,
        eid_claims_name,
        eid_claims_family_name,
        eid_claims_given_name,
        eid_claims_middle_name,
        eid_claims_birthdate,
        eid_claims_personal_id,
        eid_claims_status_uri,
    ];
    for getter in getters {
        let mut out = ptr::null();
        // SAFETY: a live handle and a writable out-parameter.
        let status = unsafe { getter(claims, &mut out) };
        assert!(matches!(status, eid_status::Ok | eid_status::NotPresent));
        check_outcome(status, out.is_null(), "text getter");
        if !out.is_null() {
            // SAFETY: borrowed from the live handle.
            assert!(unsafe { CStr::from_ptr(out) }.to_str().is_ok());
        }
    }
    let mut count = 0;
    // SAFETY: as above.
    assert_eq!(
        unsafe { eid_claims_amr_count(claims, &mut count) },
        eid_status::Ok
    );
    for i in 0..=count {
        let mut out = ptr::null();
        // SAFETY: as above.
        let status = unsafe { eid_claims_amr(claims, i, &mut out) };
        let expected = if i < count {
            eid_status::Ok
        } else {
            eid_status::InvalidArgument
        };
        assert_eq!(status, expected);
        check_outcome(status, out.is_null(), "eid_claims_amr");
    }
    let mut json = ptr::null_mut();
    // SAFETY: as above.
    let status = unsafe { eid_claims_json(claims, &mut json) };
    assert_eq!(status, eid_status::Ok);
    // SAFETY: an owned string from the library.
    let text = unsafe { CStr::from_ptr(json) }
        .to_str()
        .expect("UTF-8")
        .to_owned();
    assert!(
        serde_json::from_str::<Value>(&text)
            .expect("JSON")
            .is_object()
    );
    // SAFETY: owned, freed once.
    unsafe { eid_string_free(json) };
    let (mut exp, mut kind, mut loa) = (0, eid_kind::IdToken, EID_LOA_NONE);
    // SAFETY: as above.
    unsafe {
        let status = eid_claims_exp(claims, &mut exp);
        assert!(matches!(status, eid_status::Ok | eid_status::NotPresent));
        assert_eq!(eid_claims_kind(claims, &mut kind), eid_status::Ok);
        let status = eid_claims_loa(claims, &mut loa);
        assert!(matches!(status, eid_status::Ok | eid_status::NotPresent));
    }
}

const LOAS: &[eid_loa] = &[
    EID_LOA_NONE,
    EID_LOA_LOW,
    EID_LOA_SUBSTANTIAL,
    EID_LOA_HIGH,
    4,
    u32::MAX,
];

// ---------------------------------------------------------------------------------------
// Targets.

#[test]
fn tokens() {
    let s = setup();
    let (_, id_verifier) = new_verifier(&c(&s.jwks));
    let (_, api_verifier) = new_verifier_for(&c(&s.jwks), fixtures::API);
    let mut donor_list: Vec<&[u8]> = s.donors.iter().map(|d| d.as_bytes()).collect();
    donor_list.push(s.token.as_bytes());
    donor_list.push(s.access.as_bytes());
    let donors = donor_list;
    // The unmutated tokens verify (so the oracle below is not vacuous), each only with
    // its own audience.
    assert_eq!(
        verify(id_verifier, &c(&s.token), EID_LOA_HIGH),
        eid_status::Ok
    );
    assert_eq!(
        verify(api_verifier, &c(&s.access), EID_LOA_HIGH),
        eid_status::Ok
    );
    assert_eq!(
        verify(id_verifier, &c(&s.access), EID_LOA_NONE),
        eid_status::WrongAudience
    );
    let (mut accepted, mut changed) = (0, 0);
    run("tokens", cases(), |rng, case| {
        // A quarter of the cases start from the access token, checked for the API.
        let (original, v) = if rng.chance(25) {
            (&s.access, api_verifier)
        } else {
            (&s.token, id_verifier)
        };
        let input = match rng.below(10) {
            0 => rng.bytes(400),
            1 => {
                // Three random base64url-ish segments.
                let mut t = rng.bytes(60);
                t.push(b'.');
                t.extend(rng.bytes(200));
                t.push(b'.');
                t.extend(rng.bytes(90));
                t
            }
            _ => mutate(rng, original.as_bytes(), &donors, b'.'),
        };
        let token = c_bytes(input);
        let loa = *rng.pick(LOAS);
        no_leak("eid_verify_token", || {
            let status = verify(v, &token, loa);
            if status == eid_status::Ok {
                accepted += 1;
                changed += usize::from(token.as_bytes() != original.as_bytes());
                assert!(
                    same_jws(token.as_bytes(), original),
                    "case {case}: a changed token verified: {token:?}"
                );
                assert!(loa <= EID_LOA_HIGH);
            }
            if loa > EID_LOA_HIGH {
                assert_eq!(status, eid_status::InvalidArgument);
            }
        });
    });
    eprintln!(
        "tokens: {accepted} mutated inputs equal to the original verified \
         ({changed} of them not byte-identical)"
    );
    // NULL out-parameter and NULL verifier are refused.
    // SAFETY: NULL is allowed everywhere.
    unsafe {
        let token = c(&s.token);
        let status = eid_verify_token(id_verifier, token.as_ptr(), EID_LOA_NONE, ptr::null_mut());
        assert_eq!(status, eid_status::InvalidArgument);
        let mut out = ptr::null_mut();
        let status = eid_verify_token(ptr::null(), token.as_ptr(), EID_LOA_NONE, &mut out);
        assert_eq!(status, eid_status::InvalidArgument);
        assert!(out.is_null());
        eid_verifier_free(id_verifier);
        eid_verifier_free(api_verifier);
    }
}

/// The ES256 key of a JWKS document with `kid`: `(x, y)` decoded, if the entry is an EC
/// P-256 key.
fn es256_entries(jwks: &Value) -> Vec<(String, Vec<u8>, Vec<u8>)> {
    let Some(keys) = jwks.get("keys").and_then(Value::as_array) else {
        return Vec::new();
    };
    keys.iter()
        .filter_map(|k| {
            let text = |name: &str| k.get(name).and_then(Value::as_str);
            if text("kty")? != "EC" || text("crv")? != "P-256" {
                return None;
            }
            let x = Base64UrlUnpadded::decode_vec(text("x")?).ok()?;
            let y = Base64UrlUnpadded::decode_vec(text("y")?).ok()?;
            Some((text("kid")?.to_owned(), x, y))
        })
        .collect()
}

/// Changes a parsed JWKS document: a member of a key changed, removed or added, keys
/// duplicated, dropped or replaced.
fn mutate_jwks(rng: &mut Rng, jwks: &Value, other: &Value) -> Value {
    let mut doc = jwks.clone();
    let values = [
        json!(null),
        json!(1),
        json!(""),
        json!("EC"),
        json!("P-256"),
        json!("P-384"),
        json!("RSA"),
        json!("sig"),
        json!("enc"),
        json!("ES256"),
        json!("RS256"),
        json!(["verify"]),
        json!(["sign"]),
        json!([]),
        json!({}),
        json!("AAAA"),
        json!("x"),
    ];
    let names = [
        "kid", "kty", "crv", "x", "y", "use", "alg", "key_ops", "d", "n", "e",
    ];
    match rng.below(6) {
        0 | 1 => {
            if let Some(key) = doc["keys"][0].as_object_mut() {
                let name = *rng.pick(&names);
                if rng.chance(30) {
                    key.remove(name);
                } else if rng.chance(50) {
                    key.insert(name.to_owned(), rng.pick(&values).clone());
                } else if let Some(Value::String(text)) = key.get_mut(name) {
                    let mut bytes = text.clone().into_bytes();
                    let i = rng.below(bytes.len().max(1));
                    if let Some(b) = bytes.get_mut(i) {
                        *b = *rng.pick(b"AQgw_-09azZ");
                    }
                    *text = String::from_utf8(bytes).expect("ASCII");
                }
            }
        }
        2 => {
            let first = doc["keys"][0].clone();
            if let Some(keys) = doc["keys"].as_array_mut() {
                keys.push(first);
            }
        }
        3 => {
            // Another ring's key under this ring's kid.
            let kid = doc["keys"][0]["kid"].clone();
            let mut foreign = other["keys"][0].clone();
            foreign["kid"] = kid;
            doc["keys"] = json!([foreign]);
        }
        4 => doc["keys"] = rng.pick(&values).clone(),
        _ => {
            if let Some(keys) = doc["keys"].as_array_mut() {
                keys.insert(0, other["keys"][0].clone());
            }
        }
    }
    doc
}

#[test]
fn jwks_documents() {
    let s = setup();
    let original: Value = serde_json::from_str(&s.jwks).expect("JSON");
    let other: Value = serde_json::from_str(&Fixtures::new().jwks()).expect("JSON");
    let (_, good) = new_verifier(&c(&s.jwks));
    let token = c(&s.token);
    let kid = serde_json::from_slice::<Value>(
        &Base64UrlUnpadded::decode_vec(s.token.split('.').next().expect("header")).expect("b64"),
    )
    .expect("JSON")["kid"]
        .as_str()
        .expect("kid")
        .to_owned();
    let (_, x, y) = es256_entries(&original).remove(0);
    let donors: Vec<String> = vec![other.to_string()];
    let donor_bytes: Vec<&[u8]> = donors.iter().map(|d| d.as_bytes()).collect();
    let mut usable = 0;
    run("jwks", cases(), |rng, case| {
        let input = match rng.below(8) {
            0 => rng.bytes(300),
            1..=3 => mutate_jwks(rng, &original, &other).to_string().into_bytes(),
            _ => mutate(rng, s.jwks.as_bytes(), &donor_bytes, b'"'),
        };
        let jwks = c_bytes(input);
        no_leak("eid_verifier_new", || {
            let (status, v) = new_verifier(&jwks);
            assert!(
                matches!(
                    status,
                    eid_status::Ok | eid_status::InvalidJwks | eid_status::InvalidArgument
                ),
                "{status:?}"
            );
            let parsed = std::str::from_utf8(jwks.to_bytes())
                .ok()
                .and_then(|t| serde_json::from_str::<Value>(t).ok());
            if status == eid_status::Ok {
                let parsed = parsed.as_ref().expect("accepted JWKS is JSON");
                assert!(
                    parsed["keys"].is_array(),
                    "case {case}: accepted without keys"
                );
                // The good token verifies with it only if the document still holds the
                // signing key under its kid.
                let status = verify(v, &token, EID_LOA_NONE);
                if status == eid_status::Ok {
                    usable += 1;
                    let entries = es256_entries(parsed);
                    assert!(
                        entries
                            .iter()
                            .any(|(k, ex, ey)| *k == kid && *ex == x && *ey == y),
                        "case {case}: verified with a JWKS lacking the key: {jwks:?}"
                    );
                }
                // SAFETY: made above, freed once.
                unsafe { eid_verifier_free(v) };
            }
            // The eKYC verifier takes the same documents.
            let mut e = ptr::null_mut();
            // SAFETY: NUL-terminated strings and a writable out-parameter.
            let ekyc = unsafe {
                eid_ekyc_verifier_new(jwks.as_ptr(), c(fixtures::ISSUER).as_ptr(), 60, &mut e)
            };
            check_outcome(ekyc, e.is_null(), "eid_ekyc_verifier_new");
            assert_eq!(ekyc, status, "case {case}: the two verifiers disagree");
            // SAFETY: NULL or made above; freed once.
            unsafe { eid_ekyc_verifier_free(e) };

            // A failed replacement keeps the old keys; a successful one is undone.
            // SAFETY: a live verifier and a NUL-terminated string.
            let replaced = unsafe { eid_verifier_replace_jwks(good, jwks.as_ptr()) };
            assert_ne!(replaced, eid_status::Panic);
            assert_eq!(replaced, status, "case {case}: replace and new disagree");
            if replaced == eid_status::Ok {
                // SAFETY: as above.
                let restored = unsafe { eid_verifier_replace_jwks(good, c(&s.jwks).as_ptr()) };
                assert_eq!(restored, eid_status::Ok);
            }
            assert_eq!(verify(good, &token, EID_LOA_NONE), eid_status::Ok);
        });
    });
    eprintln!("jwks: {usable} mutated documents still verified the token");
    // SAFETY: made above, freed once.
    unsafe { eid_verifier_free(good) };
}

#[test]
fn ekyc_presentations() {
    let s = setup();
    let credential = s.f.credential();
    let mut v = ptr::null_mut();
    // SAFETY: NUL-terminated strings and a writable out-parameter.
    let status = unsafe {
        eid_ekyc_verifier_new(
            c(&s.jwks).as_ptr(),
            c(fixtures::ISSUER).as_ptr(),
            60,
            &mut v,
        )
    };
    assert_eq!(status, eid_status::Ok);
    let other = Fixtures::new().credential();
    let donors_owned = [
        other.presentation.clone(),
        other.without_key_binding.clone(),
        credential.without_key_binding.clone(),
        s.token.clone(),
    ];
    let donors: Vec<&[u8]> = donors_owned.iter().map(|d| d.as_bytes()).collect();
    let kb_prefix_len = credential.presentation.rfind('~').expect("~") + 1;
    let (kb_prefix, kb_jwt) = credential.presentation.split_at(kb_prefix_len);

    let ekyc = |presentation: &CStr, audience: Option<&CStr>, nonce: Option<&CStr>| {
        let mut claims = ptr::null_mut();
        // SAFETY: a live verifier, NULL or NUL-terminated strings, a writable out.
        let status = unsafe {
            eid_ekyc_verify(
                v,
                presentation.as_ptr(),
                audience.map_or(ptr::null(), CStr::as_ptr),
                nonce.map_or(ptr::null(), CStr::as_ptr),
                &mut claims,
            )
        };
        check_outcome(status, claims.is_null(), "eid_ekyc_verify");
        if status == eid_status::Ok {
            read_all(claims);
            // SAFETY: a live handle, freed once.
            unsafe { eid_claims_free(claims) };
        }
        status
    };
    let (audience, nonce) = (c(fixtures::VERIFIER), c(fixtures::KB_NONCE));
    assert_eq!(
        ekyc(&c(&credential.presentation), Some(&audience), Some(&nonce)),
        eid_status::Ok
    );
    // The credential is bound to its holder's key: never accepted without a key binding.
    assert_eq!(
        ekyc(&c(&credential.without_key_binding), None, None),
        eid_status::KeyBindingFailed
    );

    let (mut with_kb, mut changed) = (0, 0);
    run("ekyc", cases() / 2, |rng, case| {
        let key_binding = rng.chance(60);
        let source = if key_binding {
            &credential.presentation
        } else {
            &credential.without_key_binding
        };
        let input = if rng.chance(5) {
            rng.bytes(400)
        } else {
            mutate(rng, source.as_bytes(), &donors, b'~')
        };
        let presentation = c_bytes(input);
        // Mostly the right audience and nonce for the source; sometimes others.
        let (aud, non) = match rng.below(10) {
            0 => (Some(c("")), Some(nonce.clone())),
            1 => (Some(audience.clone()), None),
            2 => (Some(audience.clone()), Some(c("other-nonce"))),
            _ if key_binding => (Some(audience.clone()), Some(nonce.clone())),
            _ => (None, None),
        };
        no_leak("eid_ekyc_verify", || {
            let status = ekyc(&presentation, aud.as_deref(), non.as_deref());
            if status != eid_status::Ok {
                return;
            }
            let bytes = presentation.to_bytes();
            match (aud.as_deref(), non.as_deref()) {
                (Some(a), Some(n)) => {
                    assert!(a == audience.as_c_str() && n == nonce.as_c_str());
                    // The KB-JWT's sd_hash covers everything before it.
                    with_kb += 1;
                    changed += usize::from(bytes != credential.presentation.as_bytes());
                    assert!(
                        bytes.len() > kb_prefix_len
                            && &bytes[..kb_prefix_len] == kb_prefix.as_bytes()
                            && same_jws(&bytes[kb_prefix_len..], kb_jwt),
                        "case {case}: a changed presentation verified: {presentation:?}"
                    );
                }
                (None, None) => {
                    panic!("case {case}: accepted without key binding: {presentation:?}")
                }
                _ => panic!("case {case}: OK with only one of audience and nonce"),
            }
        });
    });
    eprintln!("ekyc: accepted {with_kb} with key binding ({changed} of them not byte-identical)");
    // SAFETY: made above, freed once.
    unsafe { eid_ekyc_verifier_free(v) };
}

#[test]
fn status_list_tokens() {
    let s = setup();
    let credential = s.f.credential();
    let mut v = ptr::null_mut();
    let mut cred = ptr::null_mut();
    let (_, tv) = new_verifier(&c(&s.jwks));
    let mut token_claims = ptr::null_mut();
    // SAFETY: NUL-terminated strings, writable out-parameters.
    unsafe {
        let status = eid_ekyc_verifier_new(
            c(&s.jwks).as_ptr(),
            c(fixtures::ISSUER).as_ptr(),
            60,
            &mut v,
        );
        assert_eq!(status, eid_status::Ok);
        let status = eid_ekyc_verify(
            v,
            c(&credential.presentation).as_ptr(),
            c(fixtures::VERIFIER).as_ptr(),
            c(fixtures::KB_NONCE).as_ptr(),
            &mut cred,
        );
        assert_eq!(status, eid_status::Ok);
        let status = eid_verify_token(tv, c(&s.token).as_ptr(), EID_LOA_NONE, &mut token_claims);
        assert_eq!(status, eid_status::Ok);
    }
    let sources = [
        (&credential.status_valid, eid_status::Ok),
        (&credential.status_suspended, eid_status::Suspended),
        (&credential.status_revoked, eid_status::Revoked),
    ];
    let donors_owned = [
        credential.status_valid.clone(),
        credential.status_revoked.clone(),
        s.token.clone(),
    ];
    let donors: Vec<&[u8]> = donors_owned.iter().map(|d| d.as_bytes()).collect();
    let check = |handle: *const eid_claims, token: &CStr| {
        // SAFETY: live handles and a NUL-terminated string.
        let status = unsafe { eid_ekyc_check_status(v, handle, token.as_ptr()) };
        assert_ne!(status, eid_status::Panic, "{}", last_error());
        assert_eq!(status == eid_status::Ok, last_error().is_empty());
        status
    };
    for (token, expected) in sources {
        assert_eq!(check(cred, &c(token)), expected);
    }
    let (mut decided, mut changed) = (0, 0);
    run("status", cases() / 2, |rng, case| {
        let (source, _) = *rng.pick(&sources);
        let input = if rng.chance(5) {
            rng.bytes(300)
        } else {
            mutate(rng, source.as_bytes(), &donors, b'.')
        };
        let token = c_bytes(input);
        no_leak("eid_ekyc_check_status", || {
            let status = check(cred, &token);
            if matches!(
                status,
                eid_status::Ok | eid_status::Suspended | eid_status::Revoked
            ) {
                decided += 1;
                let (_, right) = sources
                    .iter()
                    .find(|(t, _)| same_jws(token.to_bytes(), t))
                    .unwrap_or_else(|| panic!("case {case}: {status:?} from {token:?}"));
                assert_eq!(status, *right, "case {case}");
                changed += usize::from(
                    !sources
                        .iter()
                        .any(|(t, _)| t.as_bytes() == token.to_bytes()),
                );
            }
            // A token's claims are no credential.
            assert_eq!(check(token_claims, &token), eid_status::InvalidArgument);
        });
    });
    eprintln!(
        "status lists: {decided} mutated tokens equal to an original decided \
         ({changed} of them not byte-identical)"
    );
    // SAFETY: made above, freed once each.
    unsafe {
        eid_claims_free(cred);
        eid_claims_free(token_claims);
        eid_ekyc_verifier_free(v);
        eid_verifier_free(tv);
    }
}

#[test]
fn personal_ids() {
    let mut valid = 0;
    run("personal-id", cases() * 4, |rng, case| {
        let input: Vec<u8> = match rng.below(4) {
            0 => rng.bytes(16),
            1 => {
                // Twelve digits: the place code decides.
                (0..12).map(|_| b'0' + rng.below(10) as u8).collect()
            }
            2 => {
                let mut id = fixtures::PERSONAL_ID.as_bytes().to_vec();
                id = mutate_plain(rng, &id);
                id
            }
            _ => {
                // Digits of a random length around twelve, with multi-byte characters.
                let mut s = String::new();
                for _ in 0..10 + rng.below(5) {
                    s.push(*rng.pick(&['0', '1', '7', '9', 'é', '٣', '０', ' ']));
                }
                s.into_bytes()
            }
        };
        let id = c_bytes(input);
        no_leak("eid_personal_id_validate", || {
            let mut problem = eid_id_problem::UnknownPlace;
            // SAFETY: a NUL-terminated string and a writable out-parameter.
            let status = unsafe { eid_personal_id_validate(id.as_ptr(), &mut problem) };
            assert_ne!(status, eid_status::Panic);
            let text = id.to_str();
            match status {
                eid_status::Ok => {
                    valid += 1;
                    let text = text.expect("UTF-8");
                    assert_eq!(problem, eid_id_problem::None);
                    assert!(text.len() == 12 && text.bytes().all(|b| b.is_ascii_digit()));
                    assert!(PersonalId::parse(text).is_ok(), "case {case}");
                    assert_eq!(last_error(), "");
                }
                eid_status::InvalidPersonalId => {
                    let text = text.expect("UTF-8");
                    let expected = if text.chars().count() != 12 {
                        eid_id_problem::WrongLength
                    } else if !text.bytes().all(|b| b.is_ascii_digit()) {
                        eid_id_problem::NotADigit
                    } else {
                        eid_id_problem::UnknownPlace
                    };
                    assert_eq!(problem, expected, "case {case}: {text:?}");
                    assert!(PersonalId::parse(text).is_err());
                }
                eid_status::InvalidArgument => {
                    assert!(text.is_err(), "case {case}: {id:?}");
                    assert_eq!(problem, eid_id_problem::None);
                }
                other => panic!("case {case}: {other:?}"),
            }
        });
    });
    assert!(valid > 0, "no valid number generated");
}

/// Algorithm, version, sorted parameters, salt and hash.
type PhcMeaning = (String, u32, Vec<(String, u32)>, Vec<u8>, Vec<u8>);

/// The parts of a PHC string that decide a verification: algorithm, version (19 when
/// absent), the three costs, salt and hash.
fn phc_meaning(phc: &str) -> Option<PhcMeaning> {
    let mut fields = phc.split('$');
    if !fields.next()?.is_empty() {
        return None;
    }
    let alg = fields.next()?.to_owned();
    let mut rest: Vec<&str> = fields.collect();
    let version = match rest.first()?.strip_prefix("v=") {
        Some(v) => {
            let v = v.parse().ok()?;
            rest.remove(0);
            v
        }
        None => 19,
    };
    let [params, salt, hash] = rest[..] else {
        return None;
    };
    let mut params: Vec<(String, u32)> = params
        .split(',')
        .map(|p| {
            let (k, v) = p.split_once('=')?;
            Some((k.to_owned(), v.parse().ok()?))
        })
        .collect::<Option<_>>()?;
    params.sort();
    Some((
        alg,
        version,
        params,
        Base64Unpadded::decode_vec(salt).ok()?,
        Base64Unpadded::decode_vec(hash).ok()?,
    ))
}

/// Whether a PHC string asks for more work than this test wants to spend per case.
fn too_costly(phc: &str) -> bool {
    phc.split(['$', ','])
        .any(|field| match field.split_once('=') {
            Some(("m", v)) => v.parse::<u64>().is_ok_and(|m| m > 8 * 1024),
            Some(("t", v)) => v.parse::<u64>().is_ok_and(|t| t > 4),
            Some(("p", v)) => v.parse::<u64>().is_ok_and(|p| p > 4),
            _ => false,
        })
}

#[test]
fn phc_strings() {
    const PASSWORD: &str = "correct horse battery staple";
    let small = PasswordParams {
        m_kib: 1024,
        t: 1,
        p: 1,
    };
    let phc = small
        .hash_blocking(&Password::new(PASSWORD).expect("password"))
        .expect("hash");
    let other = small
        .hash_blocking(&Password::new("something else").expect("password"))
        .expect("hash");
    let original = phc_meaning(&phc).expect("own PHC parses");
    let pw = |password: &CStr, phc: &CStr, want_rehash: bool| {
        let mut rehash = ptr::null_mut();
        // SAFETY: NUL-terminated strings, NULL or a writable out-parameter.
        let status = unsafe {
            eid_password_verify(
                password.as_ptr(),
                phc.as_ptr(),
                if want_rehash {
                    &mut rehash
                } else {
                    ptr::null_mut()
                },
            )
        };
        assert_ne!(status, eid_status::Panic, "{}", last_error());
        assert_eq!(status == eid_status::Ok, last_error().is_empty());
        if status != eid_status::Ok {
            assert!(rehash.is_null());
        }
        // SAFETY: NULL or owned, freed once.
        unsafe { eid_string_free(rehash) };
        status
    };
    assert_eq!(pw(&c(PASSWORD), &c(&phc), false), eid_status::Ok);
    assert_eq!(
        pw(&c("wrong"), &c(&phc), false),
        eid_status::PasswordMismatch
    );

    let donors: Vec<&[u8]> = vec![other.as_bytes(), b"$argon2i$v=19$m=1024,t=1,p=1$"];
    let (mut accepted, mut changed, mut skipped) = (0, 0, 0);
    run("phc", cases() / 5, |rng, case| {
        let input = if rng.chance(5) {
            rng.bytes(120)
        } else {
            mutate(rng, phc.as_bytes(), &donors, b'$')
        };
        let mutated = c_bytes(input);
        if mutated.to_str().is_ok_and(too_costly) {
            skipped += 1;
            return;
        }
        let password = if rng.chance(85) {
            c(PASSWORD)
        } else {
            c_bytes(mutate_plain(rng, PASSWORD.as_bytes()))
        };
        let want_rehash = rng.chance(20);
        let mut equivalent = false;
        no_leak("eid_password_verify", || {
            let status = pw(&password, &mutated, want_rehash);
            assert!(
                matches!(
                    status,
                    eid_status::Ok | eid_status::PasswordMismatch | eid_status::InvalidArgument
                ),
                "case {case}: {status:?} for {mutated:?}: {}",
                last_error()
            );
            if status == eid_status::Ok {
                accepted += 1;
                // Printed after the leak check: captured output allocates.
                equivalent = mutated.as_bytes() != phc.as_bytes();
                assert_eq!(password.to_str(), Ok(PASSWORD), "case {case}");
                let meaning = mutated.to_str().ok().and_then(phc_meaning);
                assert_eq!(
                    meaning.as_ref(),
                    Some(&original),
                    "case {case}: a changed PHC string verified: {mutated:?}"
                );
            }
        });
        if equivalent {
            changed += 1;
            eprintln!("phc: accepted the equivalent {mutated:?}");
        }
    });
    eprintln!(
        "phc: {accepted} mutated strings equal in meaning verified ({changed} of them not \
         byte-identical); {skipped} skipped as too costly"
    );
}

#[test]
fn claim_names() {
    let s = setup();
    let (_, v) = new_verifier(&c(&s.jwks));
    let mut claims = ptr::null_mut();
    // SAFETY: a live verifier, a NUL-terminated token and a writable out-parameter.
    let status = unsafe { eid_verify_token(v, c(&s.token).as_ptr(), EID_LOA_NONE, &mut claims) };
    assert_eq!(status, eid_status::Ok);
    let payload: Value = serde_json::from_slice(
        &Base64UrlUnpadded::decode_vec(s.token.split('.').nth(1).expect("payload")).expect("b64"),
    )
    .expect("JSON");
    let names: Vec<&String> = payload.as_object().expect("object").keys().collect();
    let mut found = 0;
    run("claim-names", cases() * 2, |rng, case| {
        let input = match rng.below(3) {
            0 => rng.bytes(24),
            1 => rng.pick(&names).as_bytes().to_vec(),
            _ => {
                let name = rng.pick(&names).as_bytes().to_vec();
                mutate_plain(rng, &name)
            }
        };
        let name = c_bytes(input);
        no_leak("eid_claims_string", || {
            let mut out = ptr::null_mut();
            // SAFETY: a live handle, a NUL-terminated name, a writable out-parameter.
            let status = unsafe { eid_claims_string(claims, name.as_ptr(), &mut out) };
            check_outcome(status, out.is_null(), "eid_claims_string");
            let expected = match name.to_str() {
                Err(_) => eid_status::InvalidArgument,
                Ok(n) => match payload.get(n) {
                    None => eid_status::NotPresent,
                    Some(Value::String(_)) => eid_status::Ok,
                    Some(_) => eid_status::InvalidArgument,
                },
            };
            assert_eq!(status, expected, "case {case}: {name:?}");
            if status == eid_status::Ok {
                found += 1;
                // SAFETY: an owned string from the library.
                let value = unsafe { CStr::from_ptr(out) }.to_str().expect("UTF-8");
                assert_eq!(Some(value), payload[name.to_str().expect("UTF-8")].as_str());
                // SAFETY: owned, freed once.
                unsafe { eid_string_free(out) };
            }
        });
    });
    assert!(found > 0);
    // SAFETY: made above, freed once each.
    unsafe {
        eid_claims_free(claims);
        eid_verifier_free(v);
    }
}
