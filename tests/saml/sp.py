#!/usr/bin/env python3
"""An outside SAML 2.0 service provider, pysaml2, for the end-to-end tests.

Driven step by step by tests/tests/saml_sp.rs:

  sp.py keys DIR                    writes an RSA key and self-signed certificate
  sp.py metadata                    prints this SP's metadata (what the IdP registers)
  sp.py request [options]           prints the AuthnRequest to send, as JSON
  sp.py response REQUEST_ID         reads a base64 SAMLResponse on stdin, validates it
                                    (signed response AND signed assertion, InResponseTo,
                                    audience, recipient, times) and prints what it says
  sp.py logout NAME_ID              prints a signed LogoutRequest URL (HTTP-Redirect)
  sp.py logout-response             reads the LogoutResponse query on stdin, validates it

The SP's identity comes from the environment: SP_ENTITY_ID, SP_ACS_URL, SP_SLO_URL,
SP_KEY, SP_CERT, SP_ENCRYPTION (1: assertions are to be encrypted to it), IDP_METADATA (a file: the IdP's metadata as the daemon serves it) and
IDP_SSO_URL / IDP_SLO_URL.
"""

import base64
import datetime
import json
import os
import sys
import urllib.parse

from saml2 import BINDING_HTTP_POST, BINDING_HTTP_REDIRECT
from saml2.client import Saml2Client
from saml2.config import SPConfig
from saml2.metadata import create_metadata_string
from saml2.saml import NAMEID_FORMAT_PERSISTENT, NAMEID_FORMAT_TRANSIENT, AuthnContextClassRef, NameID
from saml2.samlp import RequestedAuthnContext
from saml2.sigver import SIG_RSA_SHA256
from saml2.xmldsig import DIGEST_SHA256

LEVELS = {
    "low": "http://eidas.europa.eu/LoA/low",
    "substantial": "http://eidas.europa.eu/LoA/substantial",
    "high": "http://eidas.europa.eu/LoA/high",
}


def env(name):
    value = os.environ.get(name)
    if not value:
        sys.exit(f"{name} is not set")
    return value


def config(with_idp=True):
    conf = {
        "entityid": env("SP_ENTITY_ID"),
        "key_file": env("SP_KEY"),
        "cert_file": env("SP_CERT"),
        "xmlsec_binary": "/usr/bin/xmlsec1",
        "allow_unknown_attributes": True,
        "accepted_time_diff": 60,
        "signing_algorithm": SIG_RSA_SHA256,
        "digest_algorithm": DIGEST_SHA256,
        "service": {
            "sp": {
                "endpoints": {
                    "assertion_consumer_service": [(env("SP_ACS_URL"), BINDING_HTTP_POST)],
                    "single_logout_service": [(env("SP_SLO_URL"), BINDING_HTTP_REDIRECT)],
                },
                "authn_requests_signed": True,
                "logout_requests_signed": True,
                "want_assertions_signed": True,
                "want_response_signed": True,
                "allow_unsolicited": False,
                "name_id_format": [NAMEID_FORMAT_PERSISTENT, NAMEID_FORMAT_TRANSIENT],
            }
        },
    }
    if os.environ.get("SP_ENCRYPTION") == "1":
        # Publish the key for encryption too, and decrypt assertions with it.
        conf["encryption_keypairs"] = [{"key_file": env("SP_KEY"), "cert_file": env("SP_CERT")}]
    if with_idp:
        conf["metadata"] = {"local": [env("IDP_METADATA")]}
    sp_config = SPConfig()
    sp_config.load(conf)
    return sp_config


def keys(directory):
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import rsa
    from cryptography.x509.oid import NameOID

    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "pysaml2 test SP")])
    now = datetime.datetime.now(datetime.timezone.utc)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(days=1))
        .not_valid_after(now + datetime.timedelta(days=30))
        .sign(key, hashes.SHA256())
    )
    with open(os.path.join(directory, "sp.key"), "wb") as f:
        f.write(
            key.private_bytes(
                serialization.Encoding.PEM,
                serialization.PrivateFormat.PKCS8,
                serialization.NoEncryption(),
            )
        )
    with open(os.path.join(directory, "sp.crt"), "wb") as f:
        f.write(cert.public_bytes(serialization.Encoding.PEM))


def request(args):
    """Options: --binding redirect|post, --level L, --comparison C, --force, --passive,
    --transient, --acs URL (another AssertionConsumerServiceURL), --unsigned."""
    opts = {"binding": "redirect", "comparison": "minimum"}
    flags = set()
    it = iter(args)
    for arg in it:
        if arg in ("--binding", "--level", "--comparison", "--acs"):
            opts[arg[2:]] = next(it)
        else:
            flags.add(arg)
    client = Saml2Client(config=config())
    kwargs = {}
    if "level" in opts:
        kwargs["requested_authn_context"] = RequestedAuthnContext(
            authn_context_class_ref=[AuthnContextClassRef(text=LEVELS[opts["level"]])],
            comparison=opts["comparison"],
        )
    if "--force" in flags:
        kwargs["force_authn"] = "true"
    if "--passive" in flags:
        kwargs["is_passive"] = "true"
    if "acs" in opts:
        kwargs["assertion_consumer_service_url"] = opts["acs"]
    destination = env("IDP_SSO_URL")
    nameid = NAMEID_FORMAT_TRANSIENT if "--transient" in flags else NAMEID_FORMAT_PERSISTENT
    sign = "--unsigned" not in flags
    relay_state = "rs-" + os.urandom(4).hex()
    if opts["binding"] == "redirect":
        req_id, req = client.create_authn_request(
            destination, nameid_format=nameid, sign=False, **kwargs
        )
        info = client.apply_binding(
            BINDING_HTTP_REDIRECT,
            str(req),
            destination,
            relay_state=relay_state,
            sign=sign,
            sigalg=SIG_RSA_SHA256,
        )
        url = dict(info["headers"])["Location"]
        print(json.dumps({"id": req_id, "url": url, "relay_state": relay_state}))
    else:
        req_id, req = client.create_authn_request(
            destination,
            nameid_format=nameid,
            sign=sign,
            sign_alg=SIG_RSA_SHA256,
            digest_alg=DIGEST_SHA256,
            **kwargs,
        )
        xml = str(req)
        print(
            json.dumps(
                {
                    "id": req_id,
                    "url": destination,
                    "relay_state": relay_state,
                    "xml": xml,
                    "form": {
                        "SAMLRequest": base64.b64encode(xml.encode()).decode(),
                        "RelayState": relay_state,
                    },
                }
            )
        )


def response(request_id):
    client = Saml2Client(config=config())
    encoded = sys.stdin.read().strip()
    try:
        resp = client.parse_authn_request_response(
            encoded, BINDING_HTTP_POST, outstanding={request_id: "/"}
        )
    except Exception as err:  # the status of a refused request arrives as an exception
        print(json.dumps({"error": type(err).__name__, "message": str(err)}))
        return
    if resp is None:
        sys.exit("pysaml2 returned no response")
    assertion = resp.assertion
    (context, _authorities, instant) = resp.authn_info()[0]
    print(
        json.dumps(
            {
                "issuer": resp.issuer(),
                "in_response_to": resp.in_response_to,
                "response_signed": resp.response.signature is not None,
                "response_algorithm": resp.response.signature.signed_info.signature_method.algorithm,
                "assertion_algorithm": assertion.signature.signed_info.signature_method.algorithm,
                "encrypted": b"EncryptedAssertion" in base64.b64decode(encoded),
                "assertion_signed": assertion.signature is not None,
                "name_id": resp.name_id.text,
                "name_id_format": resp.name_id.format,
                "authn_context": context,
                "authn_instant": instant,
                "session_index": assertion.authn_statement[0].session_index,
                "attributes": resp.get_identity(),
                "audience": [
                    a.text
                    for r in assertion.conditions.audience_restriction
                    for a in r.audience
                ],
            }
        )
    )


def logout(name_id):
    client = Saml2Client(config=config())
    req_id, req = client.create_logout_request(
        env("IDP_SLO_URL"),
        issuer_entity_id=None,
        name_id=NameID(format=NAMEID_FORMAT_PERSISTENT, text=name_id),
        sign=False,
    )
    info = client.apply_binding(
        BINDING_HTTP_REDIRECT,
        str(req),
        env("IDP_SLO_URL"),
        relay_state="logout-rs",
        sign=True,
        sigalg=SIG_RSA_SHA256,
    )
    print(json.dumps({"id": req_id, "url": dict(info["headers"])["Location"]}))


def logout_response():
    client = Saml2Client(config=config())
    query = urllib.parse.parse_qs(sys.stdin.read().strip())
    message = query["SAMLResponse"][0]
    try:
        resp = client.parse_logout_request_response(message, BINDING_HTTP_REDIRECT)
    except Exception as err:  # a non-success status arrives as an exception
        print(json.dumps({"status_ok": False, "error": type(err).__name__, "message": str(err)}))
        return
    print(
        json.dumps(
            {
                "status_ok": resp.status_ok(),
                "in_response_to": resp.response.in_response_to,
                "issuer": resp.issuer(),
                "relay_state": query.get("RelayState", [None])[0],
            }
        )
    )


def main():
    command, args = sys.argv[1], sys.argv[2:]
    if command == "keys":
        keys(args[0])
    elif command == "metadata":
        print(create_metadata_string(None, config(with_idp=False), 4, None, None, None, None, None).decode())
    elif command == "request":
        request(args)
    elif command == "response":
        response(args[0])
    elif command == "logout":
        logout(args[0])
    elif command == "logout-response":
        logout_response()
    else:
        sys.exit(f"unknown command {command}")


if __name__ == "__main__":
    main()
