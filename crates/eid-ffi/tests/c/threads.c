/*
 * threads.c: one eid_verifier shared by several threads while its key set is replaced,
 * and eid_last_error kept per thread. Compiled and run by tests/c_programs.rs.
 *
 * Usage: threads JWKS_A JWKS_B ISSUER AUDIENCE TOKEN_FILE ITERATIONS JWKS_OTHER
 *
 * JWKS_A and JWKS_B are two key sets that both hold the key TOKEN_FILE's token is
 * signed with (B has another key as well). THREADS threads each verify the token at
 * least ITERATIONS times with the one verifier, and go on until the main thread has
 * replaced the key set MIN_REPLACEMENTS times, so the two overlap; the main thread
 * replaces it, alternating A and B, until every worker is done. Every verification
 * must succeed with the same `sub`. Afterwards JWKS_OTHER, a key set without that key,
 * must make the token fail with EID_STATUS_UNKNOWN_KEY (so replacing does take effect),
 * and JWKS_A make it verify again.
 *
 * Each thread also fails a call of its own (a personal ID of its own wrong length)
 * and checks that eid_last_error names its own failure, after all the threads have
 * failed theirs and again after each verification.
 *
 * Exit status 0 only when every check held.
 */

#define _POSIX_C_SOURCE 200809L

#include <eid.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "eid_test.h"

#define THREADS 4
#define MIN_REPLACEMENTS 50

struct worker {
    int index;
    const eid_verifier *verifier;
    const char *token;
    const char *sub;
    unsigned iterations;
    unsigned verified;
    unsigned failures;
};

static pthread_barrier_t all_failed_once;
static atomic_uint replacements;
static atomic_int workers_running;

/* This thread's own failure: a personal ID of (index + 1) characters. Returns whether
 * eid_last_error then names exactly that length. */
static int fail_own_way(int index, char *message, size_t size) {
    char id[THREADS + 2];
    memset(id, '1', (size_t)index + 1);
    id[index + 1] = '\0';
    if (eid_personal_id_validate(id, NULL) != EID_STATUS_INVALID_PERSONAL_ID) {
        return 0;
    }
    snprintf(message, size, "%s", eid_last_error());
    return 1;
}

/* Whether eid_last_error still is this thread's message (with its own length). */
static int last_error_is(const char *message, int index) {
    char expected[64];
    snprintf(expected, sizeof expected, "found %d characters", index + 1);
    const char *error = eid_last_error();
    return error != NULL && strcmp(error, message) == 0 && strstr(error, expected) != NULL;
}

static void *work(void *argument) {
    struct worker *w = argument;
    char message[256] = "";
    if (!fail_own_way(w->index, message, sizeof message)) {
        fprintf(stderr, "thread %d: personal ID not refused\n", w->index);
        w->failures++;
    }
    pthread_barrier_wait(&all_failed_once);
    if (!last_error_is(message, w->index)) {
        fprintf(stderr, "thread %d: eid_last_error is \"%s\", not its own \"%s\"\n", w->index,
                eid_last_error(), message);
        w->failures++;
    }

    for (unsigned i = 0; i < w->iterations || atomic_load(&replacements) < MIN_REPLACEMENTS;
         i++) {
        eid_claims *claims = NULL;
        eid_status status = eid_verify_token(w->verifier, w->token, EID_LOA_LOW, &claims);
        const char *sub = NULL;
        if (status != EID_STATUS_OK || claims == NULL) {
            fprintf(stderr, "thread %d, verification %u: %s: %s\n", w->index, i,
                    status_name(status), eid_last_error());
            w->failures++;
        } else if (eid_last_error()[0] != '\0') {
            fprintf(stderr, "thread %d: a success left the error \"%s\"\n", w->index,
                    eid_last_error());
            w->failures++;
        } else if (eid_claims_sub(claims, &sub) != EID_STATUS_OK || strcmp(sub, w->sub) != 0) {
            fprintf(stderr, "thread %d: sub %s\n", w->index, sub != NULL ? sub : "(NULL)");
            w->failures++;
        } else {
            w->verified++;
        }
        eid_claims_free(claims);
        if (!fail_own_way(w->index, message, sizeof message) ||
            !last_error_is(message, w->index)) {
            fprintf(stderr, "thread %d: eid_last_error is \"%s\"\n", w->index, eid_last_error());
            w->failures++;
        }
    }
    atomic_fetch_sub(&workers_running, 1);
    return NULL;
}

int main(int argc, char **argv) {
    if (argc != 8) {
        fprintf(stderr,
                "usage: %s JWKS_A JWKS_B ISSUER AUDIENCE TOKEN_FILE ITERATIONS JWKS_OTHER\n",
                argv[0]);
        return 2;
    }
    char *jwks_a = read_text_file(argv[1]);
    char *jwks_b = read_text_file(argv[2]);
    char *token = read_text_file(argv[5]);
    unsigned iterations = (unsigned)strtoul(argv[6], NULL, 10);
    char *jwks_other = read_text_file(argv[7]);
    if (jwks_a == NULL || jwks_b == NULL || token == NULL || iterations == 0 ||
        jwks_other == NULL) {
        free(jwks_a);
        free(jwks_b);
        free(token);
        free(jwks_other);
        return 2;
    }
    unsigned failures = 0;

    eid_verifier *verifier = NULL;
    eid_status status = eid_verifier_new(jwks_a, argv[3], argv[4], 60, &verifier);
    eid_claims *claims = NULL;
    const char *borrowed_sub = NULL;
    if (status == EID_STATUS_OK) {
        status = eid_verify_token(verifier, token, EID_LOA_LOW, &claims);
    }
    if (status == EID_STATUS_OK) {
        status = eid_claims_sub(claims, &borrowed_sub);
    }
    if (status != EID_STATUS_OK) {
        fprintf(stderr, "setup: %s: %s\n", status_name(status), eid_last_error());
        eid_claims_free(claims);
        eid_verifier_free(verifier);
        free(jwks_a);
        free(jwks_b);
        free(token);
        free(jwks_other);
        return 1;
    }
    char *sub = malloc(strlen(borrowed_sub) + 1);
    if (sub == NULL) {
        return 2;
    }
    strcpy(sub, borrowed_sub);
    eid_claims_free(claims);

    pthread_t threads[THREADS];
    struct worker workers[THREADS];
    pthread_barrier_init(&all_failed_once, NULL, THREADS + 1);
    atomic_store(&workers_running, THREADS);
    for (int i = 0; i < THREADS; i++) {
        workers[i] = (struct worker){i, verifier, token, sub, iterations, 0, 0};
        if (pthread_create(&threads[i], NULL, work, &workers[i]) != 0) {
            fprintf(stderr, "pthread_create failed\n");
            return 2;
        }
    }

    /* The main thread's own failure, which no worker may see. */
    eid_status own = eid_verify_token(verifier, NULL, EID_LOA_NONE, &claims);
    char main_message[256];
    snprintf(main_message, sizeof main_message, "%s", eid_last_error());
    if (own != EID_STATUS_INVALID_ARGUMENT || strstr(main_message, "token") == NULL) {
        fprintf(stderr, "main: NULL token gave %s: %s\n", status_name(own), main_message);
        failures++;
    }
    pthread_barrier_wait(&all_failed_once);
    if (strcmp(eid_last_error(), main_message) != 0) {
        fprintf(stderr, "main: eid_last_error is \"%s\"\n", eid_last_error());
        failures++;
    }

    while (atomic_load(&workers_running) > 0) {
        unsigned n = atomic_load(&replacements);
        status = eid_verifier_replace_jwks(verifier, n % 2 == 0 ? jwks_b : jwks_a);
        if (status != EID_STATUS_OK) {
            fprintf(stderr, "replacement %u: %s: %s\n", n, status_name(status),
                    eid_last_error());
            failures++;
        }
        atomic_fetch_add(&replacements, 1);
    }

    unsigned verified = 0;
    for (int i = 0; i < THREADS; i++) {
        pthread_join(threads[i], NULL);
        verified += workers[i].verified;
        failures += workers[i].failures;
        if (workers[i].verified < iterations) {
            fprintf(stderr, "thread %d verified only %u times\n", i, workers[i].verified);
            failures++;
        }
    }
    pthread_barrier_destroy(&all_failed_once);

    /* The replacements took effect: without the signing key the token fails. */
    static const eid_status expected[] = {EID_STATUS_UNKNOWN_KEY, EID_STATUS_OK};
    const char *key_sets[] = {jwks_other, jwks_a};
    for (int i = 0; i < 2; i++) {
        status = eid_verifier_replace_jwks(verifier, key_sets[i]);
        claims = NULL;
        if (status == EID_STATUS_OK) {
            status = eid_verify_token(verifier, token, EID_LOA_LOW, &claims);
        }
        eid_claims_free(claims);
        if (status != expected[i]) {
            fprintf(stderr, "after the threads, key set %d: %s (%s), expected %s\n", i,
                    status_name(status), eid_last_error(), status_name(expected[i]));
            failures++;
        }
    }

    printf("threads: %d threads, %u verifications, %u key set replacements, %u failures\n",
           THREADS, verified, atomic_load(&replacements), failures);
    eid_verifier_free(verifier);
    free(sub);
    free(jwks_a);
    free(jwks_b);
    free(token);
    free(jwks_other);
    return failures == 0 ? 0 : 1;
}
