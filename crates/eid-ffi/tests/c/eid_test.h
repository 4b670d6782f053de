/*
 * eid_test.h: helpers shared by the C test programs of libeid (the .c files beside it), which
 * tests/c_programs.rs compiles and runs. C11; nothing here is part of the library.
 */

#ifndef EID_TEST_H
#define EID_TEST_H

#include <eid.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* The name of a status, from the library. */
static inline const char *status_name(eid_status status) {
    return eid_status_name((int32_t)status);
}

/*
 * The whole content of the file at `path` as a NUL-terminated string without its
 * trailing newlines, to be freed with free(); NULL (with a message) on failure.
 */
static inline char *read_text_file(const char *path) {
    FILE *file = fopen(path, "rb");
    if (file == NULL) {
        fprintf(stderr, "cannot open %s\n", path);
        return NULL;
    }
    size_t capacity = 4096, length = 0;
    char *text = malloc(capacity);
    while (text != NULL) {
        size_t got = fread(text + length, 1, capacity - length - 1, file);
        length += got;
        if (length + 1 < capacity) {
            break; /* end of file (or error, checked below) */
        }
        char *bigger = realloc(text, capacity * 2);
        if (bigger == NULL) {
            free(text);
            text = NULL;
            break;
        }
        text = bigger;
        capacity *= 2;
    }
    int failed = ferror(file) || text == NULL;
    fclose(file);
    if (failed) {
        fprintf(stderr, "cannot read %s\n", path);
        free(text);
        return NULL;
    }
    while (length > 0 && (text[length - 1] == '\n' || text[length - 1] == '\r')) {
        length--;
    }
    text[length] = '\0';
    return text;
}

#endif /* EID_TEST_H */
