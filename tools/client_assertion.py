#!/usr/bin/env python3
"""Makes a SMART Backend Services client: a key pair and its public JWKS, and signed client assertions.

    python3 tools/client_assertion.py keygen --alg ES384 --kid lab-ec-1 --key lab-key.pem --jwks lab-jwks.json
    python3 tools/client_assertion.py sign --key lab-key.pem --kid lab-ec-1 --client-id lab-engine \
        --aud http://127.0.0.1:8080/acme/auth/token

Needs the `cryptography` package (pip install cryptography). ES384 and RS384, as SMART requires.
"""
import argparse, base64, json, sys, time, uuid

from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa
from cryptography.hazmat.primitives.asymmetric.utils import decode_dss_signature


def b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def number(value: int, size: int) -> str:
    return b64url(value.to_bytes(size, "big"))


def keygen(args):
    if args.alg == "ES384":
        key = ec.generate_private_key(ec.SECP384R1())
        public = key.public_key().public_numbers()
        jwk = {"kty": "EC", "crv": "P-384", "x": number(public.x, 48), "y": number(public.y, 48)}
    else:
        key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        public = key.public_key().public_numbers()
        jwk = {"kty": "RSA", "n": number(public.n, 256), "e": number(public.e, 3)}
    jwk.update({"kid": args.kid, "alg": args.alg, "use": "sig"})
    with open(args.key, "wb") as out:
        out.write(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()))
    with open(args.jwks, "w") as out:
        json.dump({"keys": [jwk]}, out)


def sign(args):
    with open(args.key, "rb") as handle:
        key = serialization.load_pem_private_key(handle.read(), password=None)
    alg = "ES384" if isinstance(key, ec.EllipticCurvePrivateKey) else "RS384"
    now = int(time.time())
    header = {"alg": alg, "typ": "JWT", "kid": args.kid}
    claims = {"iss": args.client_id, "sub": args.client_id, "aud": args.aud, "exp": now + args.ttl, "iat": now, "jti": str(uuid.uuid4())}
    signing_input = b64url(json.dumps(header).encode()) + "." + b64url(json.dumps(claims).encode())
    if alg == "ES384":
        r, s = decode_dss_signature(key.sign(signing_input.encode(), ec.ECDSA(hashes.SHA384())))
        signature = r.to_bytes(48, "big") + s.to_bytes(48, "big")
    else:
        signature = key.sign(signing_input.encode(), padding.PKCS1v15(), hashes.SHA384())
    print(signing_input + "." + b64url(signature))


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    commands = parser.add_subparsers(dest="command", required=True)
    make = commands.add_parser("keygen", help="a private key (PEM) and its public JWKS")
    make.add_argument("--alg", choices=["ES384", "RS384"], default="ES384")
    make.add_argument("--kid", required=True)
    make.add_argument("--key", required=True)
    make.add_argument("--jwks", required=True)
    make.set_defaults(run=keygen)
    assertion = commands.add_parser("sign", help="a client assertion, printed")
    assertion.add_argument("--key", required=True)
    assertion.add_argument("--kid", required=True)
    assertion.add_argument("--client-id", required=True)
    assertion.add_argument("--aud", required=True, help="the token endpoint URL")
    assertion.add_argument("--ttl", type=int, default=240, help="seconds until exp (at most 300)")
    assertion.set_defaults(run=sign)
    args = parser.parse_args()
    args.run(args)


if __name__ == "__main__":
    sys.exit(main())
