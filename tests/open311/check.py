#!/usr/bin/env python3
"""Checks Fengqiao's Open311 GeoReport v2 endpoints with schemathesis against a corrected copy
of the public Swagger 2.0 description in ../shared/data/open311 (fails loudly without it).

The copy fixes the two known defects named in the data's README: the single-request path is
`/requests/{service_request_id}.{response_format}` (the Swagger says `/request/...`), and
`jurisdiction_id` is optional. It also points the description at the server under test. Then a
demo server is started, an account's session token serves as the api_key (sent as a bearer
header, which the endpoints accept too), and schemathesis runs every operation with at least
100 generated examples: no server errors, responses valid against the schemas. Finally a
request is submitted and read back, and each JSON answer is validated against the JSON Schemas
of the data set (service.json, request.json, service-definition.json). Beyond the two fixes, the
copy lists the values `response_format` and `service_code` take (json/xml; the deployment's
services), so that generated requests reach the endpoints instead of a 404.

Usage: tests/open311/check.py FENGQIAO_BIN SCHEMATHESIS_BIN [DATA_DIR]
"""
import json
import os
import socket
import subprocess
import sys
import tempfile
import time
import urllib.parse
import urllib.request


def fail(msg):
    print(f"open311 check: {msg}", file=sys.stderr)
    sys.exit(1)


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def corrected(swagger, base, service_codes):
    paths = swagger["paths"]
    wrong = "/request/{service_request_id}.{response_format}"
    if wrong not in paths:
        fail(f"the swagger no longer has the known defect path {wrong}")
    paths["/requests/{service_request_id}.{response_format}"] = paths.pop(wrong)
    swagger["parameters"]["jurisdiction_id"]["required"] = False
    # So that the generated requests reach the endpoints rather than a 404 for an unknown
    # format or service: the formats GeoReport v2 defines, the deployment's service codes.
    swagger["parameters"]["response_format"]["enum"] = ["json", "xml"]
    for ops in paths.values():
        for op in ops.values():
            for p in op.get("parameters", []):
                if p.get("name") == "service_code":
                    p["enum"] = service_codes
    u = urllib.parse.urlparse(base)
    swagger["host"] = u.netloc
    swagger["basePath"] = "/open311/v2"
    swagger["schemes"] = ["http"]
    return swagger


def call(method, url, token=None, data=None):
    body = urllib.parse.urlencode(data).encode() if data is not None else None
    req = urllib.request.Request(url, data=body, method=method)
    if token:
        req.add_header("Authorization", f"Bearer {token}")
    if body is not None:
        req.add_header("Content-Type", "application/x-www-form-urlencoded")
    with urllib.request.urlopen(req, timeout=30) as r:
        return r.status, r.read().decode()


def main():
    if len(sys.argv) < 3:
        fail(__doc__)
    bin_, st = os.path.abspath(sys.argv[1]), os.path.abspath(sys.argv[2])
    data = sys.argv[3] if len(sys.argv) > 3 else os.path.join(
        os.path.dirname(__file__), "..", "..", "..", "shared", "data", "open311")
    swagger_path = os.path.join(data, "swagger.json")
    if not os.path.exists(swagger_path):
        fail(f"{swagger_path} is missing: the Open311 check needs ../shared/data/open311")
    swagger = json.load(open(swagger_path))
    schemas = {n: json.load(open(os.path.join(data, f"{n}.json")))
               for n in ("service", "request", "service-definition")}
    work = tempfile.mkdtemp(prefix="open311-")
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    server = subprocess.Popen(
        [bin_, "demo", "--cases", "300", "--database", os.path.join(work, "demo.db"),
         "--listen", f"127.0.0.1:{port}"],
        stdout=open(os.path.join(work, "server.log"), "w"), stderr=subprocess.STDOUT)
    try:
        for _ in range(600):
            try:
                if call("GET", base + "/healthz")[0] == 200:
                    break
            except OSError:
                time.sleep(0.5)
        else:
            fail("the demo server did not start")
        req = urllib.request.Request(
            base + "/api/v1/auth/login",
            data=json.dumps({"username": "grid01", "password": "Fengqiao@2026"}).encode(),
            headers={"Content-Type": "application/json"}, method="POST")
        token = json.load(urllib.request.urlopen(req))["token"]
        spec = os.path.join(work, "swagger-corrected.json")
        codes = [s["service_code"] for s in json.loads(call("GET", base + "/open311/v2/services.json")[1])]
        json.dump(corrected(swagger, base, codes), open(spec, "w"))
        # One request to read back, by id and by token.
        _, body = call("POST", base + "/open311/v2/requests.json", token, {
            "service_code": "neighbourhood", "jurisdiction_id": "990102001001",
            "description": "邻居装修噪音扰民，双方发生口角", "last_name": "张", "first_name": "三"})
        created = json.loads(body)[0]
        rid, request_token = created["service_request_id"], created["token"]
        # The api_key of the operations that declare it (query), a bearer header that the
        # endpoints also accept for the ones that do not, and the request's id and token.
        config = os.path.join(work, "schemathesis.toml")
        open(config, "w").write(
            f'[auth.openapi.api_key]\napi_key = "{token}"\n\n'
            f'[parameters]\nservice_request_id = "{rid}"\ntoken_id = "{request_token}"\n')
        run = subprocess.run(
            [st, "--config-file", config, "run", spec, "--url", base + "/open311/v2",
             "--checks", "not_a_server_error,response_schema_conformance",
             "--max-examples", "100", "--workers", "2",
             "--header", f"Authorization: Bearer {token}",
             "--suppress-health-check", "all", "--no-color"],
            cwd=work)
        if run.returncode != 0:
            fail(f"schemathesis found problems (exit {run.returncode})")
        # A submission read back, each answer valid against the data set's JSON Schemas.
        try:
            import jsonschema  # schemathesis depends on it
        except ImportError:
            fail("jsonschema is missing from schemathesis' environment")
        checks = [
            ("/services.json", "service"),
            (f"/requests/{rid}.json", "request"),
            ("/requests.json", "request"),
        ]
        for path, name in checks:
            _, body = call("GET", base + "/open311/v2" + path, token)
            items = json.loads(body)
            if not items:
                fail(f"{path} answered nothing")
            for item in items:
                jsonschema.validate(item, schemas[name])
        _, body = call("GET", base + "/open311/v2/services/neighbourhood.json", token)
        jsonschema.validate(json.loads(body), schemas["service-definition"])
        print(f"open311 check: schemathesis passed; {len(checks) + 1} answers valid against the JSON Schemas")
    finally:
        server.terminate()
        server.wait(timeout=30)


if __name__ == "__main__":
    main()
