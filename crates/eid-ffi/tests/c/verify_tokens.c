/*
 * verify_tokens.c: drives the whole C API of libeid from C, as a relying party would.
 * Compiled and run by tests/c_programs.rs (natively, under valgrind, and linked
 * against the static library).
 *
 * Usage: verify_tokens JWKS_FILE ISSUER CASES_FILE EKYC_FILE
 *
 * CASES_FILE has one token case a line (blank lines and lines starting with '#' are
 * skipped), five fields separated by single spaces:
 *
 *     <expected eid_status number> <min_loa> <audience> <label> <token>
 *
 * One verifier is made per distinct audience (the ID tokens' client id and the access
 * tokens' resource server) and shared by all the cases for it. The claims of every
 * token that verifies are read back and printed as "<label> <field>=<value>" lines.
 *
 * EKYC_FILE has "<key> <value>" lines: audience, nonce, personal_id, status_uri,
 * presentation, status_valid, status_suspended, status_revoked (an eKYC credential
 * presented with a key binding for audience/nonce, and three Status List Tokens).
 *
 * Then personal ID validation, argon2id passwords, eKYC credentials, and NULL for every
 * pointer argument of every function. Exit status 0 only when every check held.
 */

#include <eid.h>
#include <inttypes.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "eid_test.h"

static unsigned checks = 0;
static unsigned failures = 0;

/* Records one check; prints the failure (with the call's eid_last_error) when false. */
#define CHECK(condition, ...)                                                             \
    do {                                                                                  \
        checks++;                                                                         \
        if (!(condition)) {                                                               \
            failures++;                                                                   \
            fprintf(stderr, "FAIL %s:%d: %s: ", __FILE__, __LINE__, #condition);          \
            fprintf(stderr, __VA_ARGS__);                                                 \
            fprintf(stderr, " (last error: \"%s\")\n", eid_last_error());                 \
        }                                                                                 \
    } while (0)

/* A call returned `want`; and eid_last_error is empty exactly when that is OK. */
#define EXPECT_STATUS(call, want)                                                         \
    do {                                                                                  \
        eid_status got_ = (call);                                                         \
        CHECK(got_ == (want), "%s returned %s, expected %s", #call, status_name(got_),    \
              status_name(want));                                                         \
        const char *error_ = eid_last_error();                                            \
        CHECK(error_ != NULL && ((want) == EID_STATUS_OK) == (error_[0] == '\0'),         \
              "%s: eid_last_error is \"%s\"", #call, error_ ? error_ : "(NULL)");         \
    } while (0)

/* A non-NULL pointer that is no handle: out-parameters start as this, to see them reset. */
static char junk;
#define JUNK ((void *)&junk)

/* ---------------------------------------------------------------- claims read back */

typedef eid_status (*borrowed_getter)(const eid_claims *, const char **);

static const struct {
    const char *name;
    borrowed_getter get;
} string_getters[] = {
    {"sub", eid_claims_sub},
    {"acr", eid_claims_acr},
    {"name", eid_claims_name},
    {"family_name", eid_claims_family_name},
    {"middle_name", eid_claims_middle_name},
    {"given_name", eid_claims_given_name},
    {"birthdate", eid_claims_birthdate},
    {"personal_id", eid_claims_personal_id},
    {"status_uri", eid_claims_status_uri},
};
#define STRING_GETTERS (sizeof string_getters / sizeof string_getters[0])

/* Prints a borrowed string claim (or "<absent>"); NOT_PRESENT must come with NULL. */
static const char *print_borrowed(const char *label, const char *name, borrowed_getter get,
                                  const eid_claims *claims) {
    const char *value = JUNK;
    eid_status status = get(claims, &value);
    CHECK(status == EID_STATUS_OK || status == EID_STATUS_NOT_PRESENT, "%s %s: %s", label,
          name, status_name(status));
    CHECK((status == EID_STATUS_OK) == (value != NULL), "%s %s: %s with value %p", label,
          name, status_name(status), (const void *)value);
    printf("%s %s=%s\n", label, name, value != NULL ? value : "<absent>");
    return status == EID_STATUS_OK ? value : NULL;
}

/* Prints an owned string claim read with eid_claims_string, and frees it. */
static void print_owned(const char *label, const char *name, const eid_claims *claims) {
    char *value = JUNK;
    eid_status status = eid_claims_string(claims, name, &value);
    CHECK(status == EID_STATUS_OK || status == EID_STATUS_NOT_PRESENT, "%s %s: %s", label,
          name, status_name(status));
    CHECK((status == EID_STATUS_OK) == (value != NULL), "%s %s: value %p", label, name,
          (void *)value);
    printf("%s %s=%s\n", label, name, value != NULL ? value : "<absent>");
    eid_string_free(value);
}

/* Reads every claim of a verified token or credential back and prints it. */
static void print_claims(const char *label, const eid_claims *claims) {
    eid_kind kind = 0;
    EXPECT_STATUS(eid_claims_kind(claims, &kind), EID_STATUS_OK);
    printf("%s kind=%d\n", label, (int)kind);

    eid_loa loa = 99;
    eid_status status = eid_claims_loa(claims, &loa);
    CHECK(status == EID_STATUS_OK || (status == EID_STATUS_NOT_PRESENT && loa == EID_LOA_NONE),
          "%s loa: %s, %u", label, status_name(status), (unsigned)loa);
    printf("%s loa=%u\n", label, (unsigned)loa);

    for (size_t i = 0; i < STRING_GETTERS; i++) {
        print_borrowed(label, string_getters[i].name, string_getters[i].get, claims);
    }

    size_t count = 99;
    EXPECT_STATUS(eid_claims_amr_count(claims, &count), EID_STATUS_OK);
    printf("%s amr=", label);
    for (size_t i = 0; i < count; i++) {
        const char *method = NULL;
        EXPECT_STATUS(eid_claims_amr(claims, i, &method), EID_STATUS_OK);
        printf("%s%s", i > 0 ? "," : "", method != NULL ? method : "(NULL)");
    }
    printf("\n");
    const char *beyond = JUNK;
    EXPECT_STATUS(eid_claims_amr(claims, count, &beyond), EID_STATUS_INVALID_ARGUMENT);
    CHECK(beyond == NULL, "%s amr[%zu] out of range left %p", label, count,
          (const void *)beyond);

    int64_t exp = -1, auth_time = -1;
    EXPECT_STATUS(eid_claims_exp(claims, &exp), EID_STATUS_OK);
    CHECK(exp > 1700000000, "%s exp=%" PRId64, label, exp);
    status = eid_claims_auth_time(claims, &auth_time);
    CHECK(status == EID_STATUS_OK || (status == EID_STATUS_NOT_PRESENT && auth_time == 0),
          "%s auth_time: %s", label, status_name(status));
    CHECK(status != EID_STATUS_OK || (auth_time > 1700000000 && auth_time <= exp),
          "%s auth_time=%" PRId64 " exp=%" PRId64, label, auth_time, exp);
    printf("%s exp=%" PRId64 "\n%s auth_time=%" PRId64 "\n", label, exp, label, auth_time);

    print_owned(label, "nonce", claims);
    print_owned(label, "iss", claims);
    char *missing = JUNK;
    EXPECT_STATUS(eid_claims_string(claims, "no_such_claim", &missing), EID_STATUS_NOT_PRESENT);
    CHECK(missing == NULL, "missing claim left %p", (void *)missing);
    char *number = JUNK;
    EXPECT_STATUS(eid_claims_string(claims, "exp", &number), EID_STATUS_INVALID_ARGUMENT);
    CHECK(number == NULL, "non-string claim left %p", (void *)number);

    char *json = NULL;
    EXPECT_STATUS(eid_claims_json(claims, &json), EID_STATUS_OK);
    CHECK(json != NULL && json[0] == '{' && json[strlen(json) - 1] == '}', "%s json", label);
    printf("%s json=%s\n", label, json != NULL ? json : "(NULL)");
    eid_string_free(json);
}

/* ---------------------------------------------------------------- token cases */

#define MAX_VERIFIERS 8

static struct {
    const char *audience; /* borrowed from the cases text */
    eid_verifier *verifier;
} verifiers[MAX_VERIFIERS];
static size_t verifier_count = 0;

/* The verifier for `audience`, made on first use. */
static eid_verifier *verifier_for(const char *jwks, const char *issuer, const char *audience) {
    for (size_t i = 0; i < verifier_count; i++) {
        if (strcmp(verifiers[i].audience, audience) == 0) {
            return verifiers[i].verifier;
        }
    }
    if (verifier_count == MAX_VERIFIERS) {
        return NULL;
    }
    eid_verifier *verifier = JUNK;
    EXPECT_STATUS(eid_verifier_new(jwks, issuer, audience, 60, &verifier), EID_STATUS_OK);
    if (verifier == NULL || verifier == JUNK) {
        return NULL;
    }
    verifiers[verifier_count].audience = audience;
    verifiers[verifier_count].verifier = verifier;
    verifier_count++;
    return verifier;
}

/* The next space-separated field of *cursor (NUL-terminated in place), or NULL. */
static char *next_field(char **cursor) {
    char *start = *cursor;
    if (start == NULL || *start == '\0') {
        return NULL;
    }
    char *space = strchr(start, ' ');
    if (space != NULL) {
        *space = '\0';
        *cursor = space + 1;
    } else {
        *cursor = start + strlen(start);
    }
    return start;
}

/* The first case that verified, and its verifier. */
static const char *first_good_token = NULL;
static eid_verifier *good_verifier = NULL;

static unsigned run_token_cases(const char *jwks, const char *issuer, char *cases) {
    unsigned count = 0;
    char *line = cases;
    while (line != NULL && *line != '\0') {
        char *newline = strchr(line, '\n');
        if (newline != NULL) {
            *newline = '\0';
        }
        char *next = newline != NULL ? newline + 1 : NULL;
        if (line[0] == '\0' || line[0] == '#') {
            line = next;
            continue;
        }
        char *cursor = line;
        char *expected_text = next_field(&cursor);
        char *loa_text = next_field(&cursor);
        char *audience = next_field(&cursor);
        char *label = next_field(&cursor);
        char *token = cursor; /* the rest of the line, possibly empty */
        CHECK(expected_text != NULL && loa_text != NULL && audience != NULL && label != NULL,
              "malformed case line");
        if (expected_text == NULL || loa_text == NULL || audience == NULL || label == NULL) {
            line = next;
            continue;
        }
        int expected = (int)strtol(expected_text, NULL, 10);
        eid_loa min_loa = (eid_loa)strtoul(loa_text, NULL, 10);
        eid_verifier *verifier = verifier_for(jwks, issuer, audience);
        CHECK(verifier != NULL, "no verifier for %s", audience);

        eid_claims *claims = JUNK;
        eid_status status = eid_verify_token(verifier, token, min_loa, &claims);
        const char *error = eid_last_error();
        count++;
        CHECK((int)status == expected, "case %s: got %s, expected %s", label,
              status_name(status), status_name(expected));
        CHECK((status == EID_STATUS_OK) == (claims != NULL), "case %s: %s with claims %p",
              label, status_name(status), (void *)claims);
        CHECK(error != NULL && (status == EID_STATUS_OK) == (error[0] == '\0'),
              "case %s: %s with last error \"%s\"", label, status_name(status), error);
        printf("case %s: %s%s%s\n", label, status_name(status), error[0] ? ": " : "", error);
        if (status == EID_STATUS_OK && claims != NULL) {
            print_claims(label, claims);
            if (first_good_token == NULL) {
                first_good_token = token;
                good_verifier = verifier;
            }
        }
        eid_claims_free(claims == JUNK ? NULL : claims);
        line = next;
    }
    return count;
}

/* ---------------------------------------------------------------- other functions */

static void personal_ids(const char *valid) {
    static const struct {
        const char *id;
        eid_id_problem problem;
    } ids[] = {
        {"12345", EID_ID_PROBLEM_WRONG_LENGTH},
        {"0010900123456", EID_ID_PROBLEM_WRONG_LENGTH},
        {"", EID_ID_PROBLEM_WRONG_LENGTH},
        {"00109001234X", EID_ID_PROBLEM_NOT_A_DIGIT},
        {"001 90012345", EID_ID_PROBLEM_NOT_A_DIGIT},
        {"999090012345", EID_ID_PROBLEM_UNKNOWN_PLACE},
    };
    eid_id_problem problem = EID_ID_PROBLEM_UNKNOWN_PLACE;
    EXPECT_STATUS(eid_personal_id_validate(valid, &problem), EID_STATUS_OK);
    CHECK(problem == EID_ID_PROBLEM_NONE, "valid ID: problem %d", (int)problem);
    EXPECT_STATUS(eid_personal_id_validate(valid, NULL), EID_STATUS_OK);
    for (size_t i = 0; i < sizeof ids / sizeof ids[0]; i++) {
        problem = EID_ID_PROBLEM_NONE;
        EXPECT_STATUS(eid_personal_id_validate(ids[i].id, &problem),
                      EID_STATUS_INVALID_PERSONAL_ID);
        CHECK(problem == ids[i].problem, "ID \"%s\": problem %d, expected %d", ids[i].id,
              (int)problem, (int)ids[i].problem);
        printf("personal_id \"%s\": problem %d: %s\n", ids[i].id, (int)problem,
               eid_last_error());
        EXPECT_STATUS(eid_personal_id_validate(ids[i].id, NULL), EID_STATUS_INVALID_PERSONAL_ID);
    }
}

/* Few calls: each argon2id hash costs 19 MiB and two passes (slow under valgrind). */
static void passwords(void) {
    const char *password = "correct horse battery staple";
    char *phc = JUNK;
    EXPECT_STATUS(eid_password_hash(password, &phc), EID_STATUS_OK);
    static const char prefix[] = "$argon2id$v=19$m=19456,t=2,p=1$";
    CHECK(phc != NULL && strncmp(phc, prefix, sizeof prefix - 1) == 0, "PHC %s",
          phc != NULL ? phc : "(NULL)");
    printf("password hash: %.31s...\n", phc != NULL ? phc : "(NULL)");

    char *rehash = JUNK;
    EXPECT_STATUS(eid_password_verify(password, phc, &rehash), EID_STATUS_OK);
    CHECK(rehash == NULL, "current parameters asked for a rehash");
    EXPECT_STATUS(eid_password_verify("Correct horse battery staple", phc, NULL),
                  EID_STATUS_PASSWORD_MISMATCH);

    /* Refused before any hashing: not PHC, bcrypt, argon2i, and over 1 GiB. */
    static const char *const malformed[] = {
        "not a phc string",
        "$2b$12$R9h/cIPz0gi.URNNX3kh2OPST9/PgBkqquzi.Ss7KIUgO2t0jWMUW",
        "$argon2i$v=19$m=19456,t=2,p=1$c29tZXNhbHRzb21lc2FsdA$"
        "qLml8lDgYkpCyrLkMt2uMXjg7QK4ftH6ZC4Bp4Xu5aU",
        "$argon2id$v=19$m=2097152,t=2,p=1$c29tZXNhbHRzb21lc2FsdA$"
        "qLml8lDgYkpCyrLkMt2uMXjg7QK4ftH6ZC4Bp4Xu5aU",
    };
    for (size_t i = 0; i < sizeof malformed / sizeof malformed[0]; i++) {
        rehash = JUNK;
        EXPECT_STATUS(eid_password_verify(password, malformed[i], &rehash),
                      EID_STATUS_INVALID_ARGUMENT);
        CHECK(rehash == NULL, "malformed PHC %zu left %p", i, (void *)rehash);
    }
    eid_string_free(phc == JUNK ? NULL : phc);
}

/* The value of the "<key> <value>" line of the eKYC file, whose lines have been made
 * NUL-terminated strings (`length` bytes in all), or NULL. */
static const char *setting(const char *text, size_t length, const char *key) {
    size_t key_length = strlen(key);
    for (const char *line = text; line < text + length; line += strlen(line) + 1) {
        if (strncmp(line, key, key_length) == 0 && line[key_length] == ' ') {
            return line + key_length + 1;
        }
    }
    fprintf(stderr, "no %s in the eKYC file\n", key);
    return NULL;
}

static void ekyc(const char *jwks, const char *issuer, char *settings,
                 const eid_claims *token_claims) {
    size_t length = strlen(settings);
    for (char *newline = strchr(settings, '\n'); newline != NULL;
         newline = strchr(newline + 1, '\n')) {
        *newline = '\0';
    }
    const char *audience = setting(settings, length, "audience");
    const char *nonce = setting(settings, length, "nonce");
    const char *personal_id = setting(settings, length, "personal_id");
    const char *status_uri = setting(settings, length, "status_uri");
    const char *presentation = setting(settings, length, "presentation");
    const char *valid = setting(settings, length, "status_valid");
    const char *suspended = setting(settings, length, "status_suspended");
    const char *revoked = setting(settings, length, "status_revoked");
    CHECK(audience && nonce && personal_id && status_uri && presentation && valid &&
              suspended && revoked,
          "incomplete eKYC file");
    if (!(audience && nonce && personal_id && status_uri && presentation && valid &&
          suspended && revoked)) {
        return;
    }

    eid_ekyc_verifier *verifier = JUNK;
    EXPECT_STATUS(eid_ekyc_verifier_new(jwks, issuer, 60, &verifier), EID_STATUS_OK);
    if (verifier == NULL || verifier == JUNK) {
        return;
    }
    EXPECT_STATUS(eid_ekyc_verifier_replace_jwks(verifier, jwks), EID_STATUS_OK);
    EXPECT_STATUS(eid_ekyc_verifier_replace_jwks(verifier, "{\"keys\": 7}"),
                  EID_STATUS_INVALID_JWKS);

    eid_claims *credential = JUNK;
    EXPECT_STATUS(eid_ekyc_verify(verifier, presentation, audience, nonce, &credential),
                  EID_STATUS_OK);
    if (credential != NULL && credential != JUNK) {
        eid_kind kind = EID_KIND_ID_TOKEN;
        EXPECT_STATUS(eid_claims_kind(credential, &kind), EID_STATUS_OK);
        CHECK(kind == EID_KIND_EKYC_CREDENTIAL, "credential kind %d", (int)kind);
        print_claims("ekyc", credential);
        const char *value = NULL;
        EXPECT_STATUS(eid_claims_personal_id(credential, &value), EID_STATUS_OK);
        CHECK(value != NULL && strcmp(value, personal_id) == 0, "credential personal ID");
        value = NULL;
        EXPECT_STATUS(eid_claims_status_uri(credential, &value), EID_STATUS_OK);
        CHECK(value != NULL && strcmp(value, status_uri) == 0, "status URI %s",
              value ? value : "(NULL)");

        EXPECT_STATUS(eid_ekyc_check_status(verifier, credential, valid), EID_STATUS_OK);
        EXPECT_STATUS(eid_ekyc_check_status(verifier, credential, suspended),
                      EID_STATUS_SUSPENDED);
        EXPECT_STATUS(eid_ekyc_check_status(verifier, credential, revoked), EID_STATUS_REVOKED);
        printf("ekyc status: valid, suspended, revoked as expected\n");
        /* A token's claims are no credential; a token is no Status List Token. */
        EXPECT_STATUS(eid_ekyc_check_status(verifier, token_claims, valid),
                      EID_STATUS_INVALID_ARGUMENT);
        eid_status status = eid_ekyc_check_status(verifier, credential, "not a token");
        CHECK(status != EID_STATUS_OK, "garbage status list token accepted");
        eid_claims_free(credential);
    }

    eid_claims *wrong = JUNK;
    EXPECT_STATUS(eid_ekyc_verify(verifier, presentation, audience, "another-nonce", &wrong),
                  EID_STATUS_KEY_BINDING_FAILED);
    CHECK(wrong == NULL, "wrong nonce left claims %p", (void *)wrong);
    printf("ekyc wrong nonce: %s\n", eid_last_error());
    wrong = JUNK;
    EXPECT_STATUS(eid_ekyc_verify(verifier, presentation, "https://other.example", nonce, &wrong),
                  EID_STATUS_KEY_BINDING_FAILED);
    CHECK(wrong == NULL, "wrong audience left claims %p", (void *)wrong);
    /* Both NULL: no key binding may be present, and this presentation has one. */
    EXPECT_STATUS(eid_ekyc_verify(verifier, presentation, NULL, NULL, &wrong),
                  EID_STATUS_KEY_BINDING_FAILED);
    /* Only one of them: a caller mistake. */
    EXPECT_STATUS(eid_ekyc_verify(verifier, presentation, audience, NULL, &wrong),
                  EID_STATUS_INVALID_ARGUMENT);
    EXPECT_STATUS(eid_ekyc_verify(verifier, presentation, NULL, nonce, &wrong),
                  EID_STATUS_INVALID_ARGUMENT);
    CHECK(wrong == NULL, "failed verification left claims %p", (void *)wrong);
    eid_ekyc_verifier_free(verifier);
}

/* NULL for each pointer argument of every function: EID_STATUS_INVALID_ARGUMENT, out
 * parameters reset, a message, no crash. */
static void null_arguments(const char *jwks, const char *issuer, eid_verifier *verifier,
                           const eid_claims *claims, const char *token) {
    const eid_status invalid = EID_STATUS_INVALID_ARGUMENT;

    eid_verifier *new_verifier = JUNK;
    EXPECT_STATUS(eid_verifier_new(NULL, issuer, "aud", 60, &new_verifier), invalid);
    CHECK(new_verifier == NULL, "verifier_out not reset");
    new_verifier = JUNK;
    EXPECT_STATUS(eid_verifier_new(jwks, NULL, "aud", 60, &new_verifier), invalid);
    CHECK(new_verifier == NULL, "verifier_out not reset");
    new_verifier = JUNK;
    EXPECT_STATUS(eid_verifier_new(jwks, issuer, NULL, 60, &new_verifier), invalid);
    CHECK(new_verifier == NULL, "verifier_out not reset");
    EXPECT_STATUS(eid_verifier_new(jwks, issuer, "aud", 60, NULL), invalid);
    /* Not NULL but out of range. */
    EXPECT_STATUS(eid_verifier_new(jwks, issuer, "", 60, &new_verifier), invalid);
    EXPECT_STATUS(eid_verifier_new(jwks, issuer, "aud", 301, &new_verifier), invalid);
    EXPECT_STATUS(eid_verifier_new("[]", issuer, "aud", 60, &new_verifier),
                  EID_STATUS_INVALID_JWKS);
    CHECK(new_verifier == NULL, "verifier_out not reset");

    EXPECT_STATUS(eid_verifier_replace_jwks(NULL, jwks), invalid);
    EXPECT_STATUS(eid_verifier_replace_jwks(verifier, NULL), invalid);

    eid_claims *out = JUNK;
    EXPECT_STATUS(eid_verify_token(NULL, token, EID_LOA_NONE, &out), invalid);
    CHECK(out == NULL, "claims_out not reset");
    out = JUNK;
    EXPECT_STATUS(eid_verify_token(verifier, NULL, EID_LOA_NONE, &out), invalid);
    CHECK(out == NULL, "claims_out not reset");
    EXPECT_STATUS(eid_verify_token(verifier, token, EID_LOA_NONE, NULL), invalid);
    EXPECT_STATUS(eid_verify_token(verifier, token, 9, &out), invalid);
    EXPECT_STATUS(eid_verify_token(verifier, "\xff\xfe", EID_LOA_NONE, &out), invalid);

    for (size_t i = 0; i < STRING_GETTERS; i++) {
        const char *value = JUNK;
        EXPECT_STATUS(string_getters[i].get(NULL, &value), invalid);
        CHECK(value == NULL, "%s: out not reset", string_getters[i].name);
        EXPECT_STATUS(string_getters[i].get(claims, NULL), invalid);
    }
    eid_kind kind;
    EXPECT_STATUS(eid_claims_kind(NULL, &kind), invalid);
    EXPECT_STATUS(eid_claims_kind(claims, NULL), invalid);
    eid_loa loa = 7;
    EXPECT_STATUS(eid_claims_loa(NULL, &loa), invalid);
    CHECK(loa == EID_LOA_NONE, "loa_out not reset");
    EXPECT_STATUS(eid_claims_loa(claims, NULL), invalid);
    int64_t seconds = 7;
    EXPECT_STATUS(eid_claims_exp(NULL, &seconds), invalid);
    CHECK(seconds == 0, "exp out not reset");
    EXPECT_STATUS(eid_claims_exp(claims, NULL), invalid);
    seconds = 7;
    EXPECT_STATUS(eid_claims_auth_time(NULL, &seconds), invalid);
    CHECK(seconds == 0, "auth_time out not reset");
    EXPECT_STATUS(eid_claims_auth_time(claims, NULL), invalid);
    size_t count = 7;
    EXPECT_STATUS(eid_claims_amr_count(NULL, &count), invalid);
    CHECK(count == 0, "count_out not reset");
    EXPECT_STATUS(eid_claims_amr_count(claims, NULL), invalid);
    const char *method = JUNK;
    EXPECT_STATUS(eid_claims_amr(NULL, 0, &method), invalid);
    CHECK(method == NULL, "amr out not reset");
    EXPECT_STATUS(eid_claims_amr(claims, 0, NULL), invalid);
    char *owned = JUNK;
    EXPECT_STATUS(eid_claims_string(NULL, "sub", &owned), invalid);
    CHECK(owned == NULL, "string out not reset");
    owned = JUNK;
    EXPECT_STATUS(eid_claims_string(claims, NULL, &owned), invalid);
    CHECK(owned == NULL, "string out not reset");
    EXPECT_STATUS(eid_claims_string(claims, "sub", NULL), invalid);
    owned = JUNK;
    EXPECT_STATUS(eid_claims_json(NULL, &owned), invalid);
    CHECK(owned == NULL, "json_out not reset");
    EXPECT_STATUS(eid_claims_json(claims, NULL), invalid);

    eid_ekyc_verifier *ekyc_verifier = JUNK;
    EXPECT_STATUS(eid_ekyc_verifier_new(NULL, issuer, 60, &ekyc_verifier), invalid);
    CHECK(ekyc_verifier == NULL, "ekyc verifier_out not reset");
    EXPECT_STATUS(eid_ekyc_verifier_new(jwks, NULL, 60, &ekyc_verifier), invalid);
    EXPECT_STATUS(eid_ekyc_verifier_new(jwks, issuer, 60, NULL), invalid);
    EXPECT_STATUS(eid_ekyc_verifier_replace_jwks(NULL, jwks), invalid);
    EXPECT_STATUS(eid_ekyc_verifier_new(jwks, issuer, 60, &ekyc_verifier), EID_STATUS_OK);
    EXPECT_STATUS(eid_ekyc_verifier_replace_jwks(ekyc_verifier, NULL), invalid);
    out = JUNK;
    EXPECT_STATUS(eid_ekyc_verify(NULL, "x~", NULL, NULL, &out), invalid);
    CHECK(out == NULL, "ekyc claims_out not reset");
    EXPECT_STATUS(eid_ekyc_verify(ekyc_verifier, NULL, NULL, NULL, &out), invalid);
    EXPECT_STATUS(eid_ekyc_verify(ekyc_verifier, "x~", NULL, NULL, NULL), invalid);
    EXPECT_STATUS(eid_ekyc_check_status(NULL, claims, token), invalid);
    EXPECT_STATUS(eid_ekyc_check_status(ekyc_verifier, NULL, token), invalid);
    EXPECT_STATUS(eid_ekyc_check_status(ekyc_verifier, claims, NULL), invalid);
    eid_ekyc_verifier_free(ekyc_verifier);

    /* Checked before any hashing, so these cost nothing. */
    owned = JUNK;
    EXPECT_STATUS(eid_password_hash(NULL, &owned), invalid);
    CHECK(owned == NULL, "phc_out not reset");
    EXPECT_STATUS(eid_password_hash("password", NULL), invalid);
    EXPECT_STATUS(eid_password_hash("", &owned), invalid);
    owned = JUNK;
    EXPECT_STATUS(eid_password_verify(NULL, "$argon2id$", &owned), invalid);
    CHECK(owned == NULL, "rehash_out not reset");
    EXPECT_STATUS(eid_password_verify("password", NULL, &owned), invalid);
    EXPECT_STATUS(eid_password_verify("password", NULL, NULL), invalid);
    eid_id_problem problem = EID_ID_PROBLEM_UNKNOWN_PLACE;
    EXPECT_STATUS(eid_personal_id_validate(NULL, &problem), invalid);
    CHECK(problem == EID_ID_PROBLEM_NONE, "problem_out not reset");
    EXPECT_STATUS(eid_personal_id_validate(NULL, NULL), invalid);

    /* The frees ignore NULL. */
    eid_string_free(NULL);
    eid_claims_free(NULL);
    eid_verifier_free(NULL);
    eid_ekyc_verifier_free(NULL);
    printf("null arguments: all refused\n");
}

/* ---------------------------------------------------------------- main */

int main(int argc, char **argv) {
    if (argc != 5) {
        fprintf(stderr, "usage: %s JWKS_FILE ISSUER CASES_FILE EKYC_FILE\n", argv[0]);
        return 2;
    }
    const char *issuer = argv[2];
    char *jwks = read_text_file(argv[1]);
    char *cases = read_text_file(argv[3]);
    char *settings = read_text_file(argv[4]);
    if (jwks == NULL || cases == NULL || settings == NULL) {
        free(jwks);
        free(cases);
        free(settings);
        return 2;
    }

    const char *version = eid_version();
    CHECK(version != NULL && version[0] != '\0', "eid_version");
    printf("version=%s\n", version != NULL ? version : "(NULL)");
    const char *error = eid_last_error();
    CHECK(error != NULL && error[0] == '\0', "eid_last_error before any call");

    unsigned cases_run = run_token_cases(jwks, issuer, cases);
    CHECK(cases_run > 0, "no token case");
    CHECK(verifier_count > 0, "no verifier");

    /* A token's claims for the NULL checks and the eKYC status check. */
    eid_verifier *verifier = good_verifier;
    const char *good_token = first_good_token;
    eid_claims *token_claims = NULL;
    CHECK(good_token != NULL, "no case verified");
    if (good_token != NULL) {
        EXPECT_STATUS(eid_verify_token(verifier, good_token, EID_LOA_NONE, &token_claims),
                      EID_STATUS_OK);
    }

    if (good_token != NULL) {
        /* A bad key set leaves the old one in place. */
        EXPECT_STATUS(eid_verifier_replace_jwks(verifier, "not json"), EID_STATUS_INVALID_JWKS);
        eid_claims *again = NULL;
        EXPECT_STATUS(eid_verify_token(verifier, good_token, EID_LOA_NONE, &again),
                      EID_STATUS_OK);
        eid_claims_free(again);
        EXPECT_STATUS(eid_verifier_replace_jwks(verifier, jwks), EID_STATUS_OK);
        null_arguments(jwks, issuer, verifier, token_claims, good_token);
    }

    if (good_token != NULL && token_claims != NULL) {
        /* The typed entry points: the ID token's nonce, and the token kind. */
        char *nonce = NULL;
        EXPECT_STATUS(eid_claims_string(token_claims, "nonce", &nonce), EID_STATUS_OK);
        eid_claims *checked = JUNK;
        EXPECT_STATUS(eid_verify_id_token(verifier, good_token, nonce, EID_LOA_NONE, &checked),
                      EID_STATUS_OK);
        CHECK(checked != NULL && checked != JUNK, "eid_verify_id_token gave no claims");
        eid_claims_free(checked == JUNK ? NULL : checked);
        eid_string_free(nonce);
        const char *wrong_nonces[] = {"another-nonce", NULL};
        for (size_t i = 0; i < 2; i++) {
            checked = JUNK;
            EXPECT_STATUS(
                eid_verify_id_token(verifier, good_token, wrong_nonces[i], EID_LOA_NONE, &checked),
                EID_STATUS_WRONG_NONCE);
            CHECK(checked == NULL, "wrong nonce left claims %p", (void *)checked);
        }
        checked = JUNK;
        EXPECT_STATUS(eid_verify_access_token(verifier, good_token, EID_LOA_NONE, &checked),
                      EID_STATUS_WRONG_TOKEN_TYPE);
        CHECK(checked == NULL, "ID token as access token left claims %p", (void *)checked);
    }

    personal_ids("001090012345");
    passwords();
    ekyc(jwks, issuer, settings, token_claims);

    eid_claims_free(token_claims);
    for (size_t i = 0; i < verifier_count; i++) {
        eid_verifier_free(verifiers[i].verifier);
    }
    free(jwks);
    free(cases);
    free(settings);
    printf("verify_tokens: %u token cases, %u checks, %u failures\n", cases_run, checks,
           failures);
    return failures == 0 ? 0 : 1;
}
