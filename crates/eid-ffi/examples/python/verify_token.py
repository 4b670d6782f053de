#!/usr/bin/env python3
"""Verify an eid ID token or access token offline with libeid, from Python (ctypes).

    verify_token.py --jwks jwks.json --issuer https://eid.example.vn --audience bank \\
        [--min-loa substantial] [--token token.txt] [--lib /path/to/libeid.so]

The JWKS file is the issuer's key set (as served at its jwks_uri; fetching and
refreshing it is up to you). The token is read from --token FILE, or from standard input
when --token is "-" or not given. libeid.so is loaded from --lib, else from the EID_LIB
environment variable, else by name through the dynamic loader's search path.

On success: prints the token's claims as JSON, then "sub: ..." and "loa: ...", and exits
with status 0. When the token does not verify: prints "error: EID_STATUS_...: <why>" on
standard error and exits with status 1 (2 for bad usage or a library that does not load).

Only the Python standard library is needed. The declarations below follow include/eid.h:
copy the ones you use; every argtypes/restype must match the header exactly.
"""

import argparse
import ctypes
import json
import os
import sys

EID_STATUS_OK = 0
EID_STATUS_NOT_PRESENT = 15

# The EID_LOA_ constants.
LOA_LEVELS = {"none": 0, "low": 1, "substantial": 2, "high": 3}
LOA_NAMES = {level: name for name, level in LOA_LEVELS.items()}


class EidError(Exception):
    """A call into libeid that did not return EID_STATUS_OK."""

    def __init__(self, function, status, name, message):
        super().__init__(f"{name}: {message} ({function})")
        self.status = status
        self.name = name


def load_library(path):
    """Loads libeid and declares the functions this script uses."""
    lib = ctypes.CDLL(path)
    # Handles (eid_verifier *, eid_claims *) are opaque pointers: c_void_p. Strings the
    # library lends (eid_last_error, eid_claims_sub) are c_char_p, which Python copies
    # into bytes; strings the caller owns (eid_claims_json) are c_void_p, so that the
    # pointer can be given back to eid_string_free.
    status = ctypes.c_int  # a C enum
    lib.eid_version.argtypes = []
    lib.eid_version.restype = ctypes.c_char_p
    lib.eid_last_error.argtypes = []
    lib.eid_last_error.restype = ctypes.c_char_p
    lib.eid_status_name.argtypes = [ctypes.c_int32]
    lib.eid_status_name.restype = ctypes.c_char_p
    lib.eid_string_free.argtypes = [ctypes.c_void_p]
    lib.eid_string_free.restype = None
    lib.eid_verifier_new.argtypes = [
        ctypes.c_char_p,  # jwks
        ctypes.c_char_p,  # issuer
        ctypes.c_char_p,  # audience
        ctypes.c_uint32,  # leeway_seconds
        ctypes.POINTER(ctypes.c_void_p),  # eid_verifier **verifier_out
    ]
    lib.eid_verifier_new.restype = status
    lib.eid_verifier_free.argtypes = [ctypes.c_void_p]
    lib.eid_verifier_free.restype = None
    lib.eid_verify_token.argtypes = [
        ctypes.c_void_p,  # const eid_verifier *
        ctypes.c_char_p,  # token
        ctypes.c_uint32,  # eid_loa min_loa
        ctypes.POINTER(ctypes.c_void_p),  # eid_claims **claims_out
    ]
    lib.eid_verify_token.restype = status
    lib.eid_claims_free.argtypes = [ctypes.c_void_p]
    lib.eid_claims_free.restype = None
    lib.eid_claims_json.argtypes = [ctypes.c_void_p, ctypes.POINTER(ctypes.c_void_p)]
    lib.eid_claims_json.restype = status
    lib.eid_claims_sub.argtypes = [ctypes.c_void_p, ctypes.POINTER(ctypes.c_char_p)]
    lib.eid_claims_sub.restype = status
    lib.eid_claims_loa.argtypes = [ctypes.c_void_p, ctypes.POINTER(ctypes.c_uint32)]
    lib.eid_claims_loa.restype = status
    return lib


def check(lib, function, status):
    """Raises EidError unless status is EID_STATUS_OK. Call it right after the call:
    eid_last_error describes the last call on this thread."""
    if status != EID_STATUS_OK:
        message = lib.eid_last_error().decode("utf-8", "replace")
        raise EidError(function, status, lib.eid_status_name(status).decode(), message)


def verify(lib, jwks, issuer, audience, token, min_loa):
    """Verifies token; returns (claims as a dict, sub, LoA level)."""
    verifier = ctypes.c_void_p()
    check(lib, "eid_verifier_new", lib.eid_verifier_new(
        jwks.encode(), issuer.encode(), audience.encode(), 60, ctypes.byref(verifier)))
    claims = ctypes.c_void_p()
    try:
        check(lib, "eid_verify_token", lib.eid_verify_token(
            verifier, token.encode(), min_loa, ctypes.byref(claims)))

        text = ctypes.c_void_p()
        check(lib, "eid_claims_json", lib.eid_claims_json(claims, ctypes.byref(text)))
        try:
            document = json.loads(ctypes.string_at(text.value).decode("utf-8"))
        finally:
            lib.eid_string_free(text)

        sub = ctypes.c_char_p()  # borrowed from the claims: copy it before freeing them
        check(lib, "eid_claims_sub", lib.eid_claims_sub(claims, ctypes.byref(sub)))
        sub = sub.value.decode("utf-8")

        level = ctypes.c_uint32()
        status = lib.eid_claims_loa(claims, ctypes.byref(level))
        if status != EID_STATUS_NOT_PRESENT:
            check(lib, "eid_claims_loa", status)
        return document, sub, level.value
    finally:
        lib.eid_claims_free(claims)  # NULL (None) is ignored
        lib.eid_verifier_free(verifier)


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--lib", default=os.environ.get("EID_LIB", "libeid.so"),
                        help="path of libeid.so (default: $EID_LIB, else the loader's search)")
    parser.add_argument("--jwks", required=True, help="file holding the issuer's JWKS")
    parser.add_argument("--issuer", required=True, help="the expected iss")
    parser.add_argument("--audience", required=True,
                        help="your client id (ID tokens) or resource identifier (access tokens)")
    parser.add_argument("--min-loa", choices=LOA_LEVELS, default="none",
                        help="the lowest level of assurance accepted (default: none)")
    parser.add_argument("--token", default="-", help='file holding the token; "-" for stdin')
    args = parser.parse_args()

    try:
        lib = load_library(args.lib)
    except OSError as error:
        print(f"error: cannot load libeid: {error}", file=sys.stderr)
        return 2
    try:
        with open(args.jwks, encoding="utf-8") as file:
            jwks = file.read()
        if args.token == "-":
            token = sys.stdin.read().strip()
        else:
            with open(args.token, encoding="utf-8") as file:
                token = file.read().strip()
    except OSError as error:
        print(f"error: {error}", file=sys.stderr)
        return 2

    try:
        claims, sub, level = verify(
            lib, jwks, args.issuer, args.audience, token, LOA_LEVELS[args.min_loa])
    except EidError as error:
        print(f"error: {error}", file=sys.stderr)
        return 1
    print(json.dumps(claims, indent=2, ensure_ascii=False))
    print(f"sub: {sub}")
    print(f"loa: {LOA_NAMES.get(level, level)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
