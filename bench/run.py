#!/usr/bin/env python3
"""Drives bench/run.sh: seeds, starts the gateway, runs wrk and pgbench, prints a Markdown report."""
import argparse
import json
import os
import platform
import re
import subprocess
import sys
import tempfile
import time
import urllib.parse
import urllib.request

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
PORT = int(os.environ["BENCH_PG_PORT"])
PGBIN = os.environ["BENCH_PGBIN"]
BINARY = os.environ["BENCH_BINARY"]


def run(command, **kwargs):
    return subprocess.run(command, check=True, text=True, capture_output=True, **kwargs)


def create_database(name):
    run([f"{PGBIN}/psql", "-h", "127.0.0.1", "-p", str(PORT), "-U", "postgres", "-q", "-d", "postgres",
         "-c", f"CREATE DATABASE {name} OWNER fhir_owner"])


def write_config(directory, database, slugs, port):
    lines = [
        "server:", "  host: 127.0.0.1", f"  port: {port}", f"  public_base_url: http://127.0.0.1:{port}",
        "  cursor_secret: bench-cursor-secret-0123456789abcdef0123",
        "database:", f"  url: postgres://fhir_gateway:gateway@127.0.0.1:{PORT}/{database}",
        f"  migration_url: postgres://fhir_owner:owner@127.0.0.1:{PORT}/{database}",
        "development_issuer:", f"  key_file: {directory}/dev-key.pem", "tenants:",
    ]
    for slug in slugs:
        lines += [f"  - slug: {slug}", "    issuer: development", f"    audience: http://127.0.0.1:{port}/{slug}/r4"]
    path = os.path.join(directory, f"{database}.yaml")
    with open(path, "w") as handle:
        handle.write("\n".join(lines) + "\n")
    return path


def get(url, token):
    request = urllib.request.Request(url, headers={"Authorization": f"Bearer {token}"})
    with urllib.request.urlopen(request, timeout=30) as response:
        return json.load(response)


def wrk(requests_file, url, duration, connections):
    output = run(["wrk", "-t2", f"-c{connections}", f"-d{duration}s", "--latency", "-s", os.path.join(ROOT, "bench/rotate.lua"),
                  url, "--", requests_file]).stdout
    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", output).group(1))
    def percentile(label):
        match = re.search(rf"^\s+{label}%\s+([\d.]+)(us|ms|s)", output, re.M)
        value, unit = float(match.group(1)), match.group(2)
        return value / 1000 if unit == "us" else value * 1000 if unit == "s" else value
    errors = re.search(r"Non-2xx or 3xx responses: (\d+)", output)
    return rps, percentile("50"), percentile("99"), int(errors.group(1)) if errors else 0


def pgbench(database, tenant_id, patient_id, duration, connections):
    script = f"""BEGIN;
SELECT set_config('app.tenant_id', '{tenant_id}', true);
SELECT t.id, t.hospital_id, t.mrn, t.given_name, t.middle_name, t.family_name, t.gender, t.birth_date, t.phone, t.email, t.address_line, t.city, t.state, t.postal_code, t.country, t.deceased_at, t.active, t.updated_at FROM patients t WHERE t.tenant_id = '{tenant_id}'::uuid AND t.id = '{patient_id}'::uuid;
COMMIT;
"""
    with tempfile.NamedTemporaryFile("w", suffix=".sql", delete=False) as handle:
        handle.write(script)
    output = run([f"{PGBIN}/pgbench", "-n", "-h", "127.0.0.1", "-p", str(PORT), "-U", "fhir_gateway", "-c", str(connections), "-j", "2",
                  "-T", str(duration), "-f", handle.name, database], env={**os.environ, "PGPASSWORD": "gateway"}).stdout
    return float(re.search(r"tps = ([\d.]+)", output).group(1))


def wrk_post(path, token, body_file, url, duration, connections):
    output = run(["wrk", "-t2" if connections > 1 else "-t1", f"-c{connections}", f"-d{duration}s", "--latency",
                  "-s", os.path.join(ROOT, "bench/post.lua"), url, "--", path, token, body_file]).stdout
    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", output).group(1))
    def percentile(label):
        match = re.search(rf"^\s+{label}%\s+([\d.]+)(us|ms|s)", output, re.M)
        value, unit = float(match.group(1)), match.group(2)
        return value / 1000 if unit == "us" else value * 1000 if unit == "s" else value
    errors = re.search(r"Non-2xx or 3xx responses: (\d+)", output)
    return rps, percentile("50"), percentile("99"), int(errors.group(1)) if errors else 0


def lab_bodies(directory, patient):
    observation = {
        "resourceType": "Observation", "status": "final",
        "category": [{"coding": [{"system": "http://terminology.hl7.org/CodeSystem/observation-category", "code": "laboratory"}]}],
        "code": {"coding": [{"system": "http://loinc.org", "code": "718-7", "display": "Hemoglobin"}]},
        "subject": {"reference": f"Patient/{patient}"}, "effectiveDateTime": "2025-03-05T08:30:00Z",
        "valueQuantity": {"value": 13.2, "unit": "g/dL", "system": "http://unitsofmeasure.org", "code": "g/dL"},
    }
    entries = []
    for index in range(10):
        entries.append({"fullUrl": f"urn:uuid:00000000-0000-4000-8000-{index:012d}", "resource": observation,
                        "request": {"method": "POST", "url": "Observation"}})
    entries.append({"resource": {
        "resourceType": "DiagnosticReport", "status": "final",
        "category": [{"coding": [{"system": "http://terminology.hl7.org/CodeSystem/v2-0074", "code": "LAB"}]}],
        "code": {"coding": [{"system": "http://loinc.org", "code": "58410-2"}]}, "subject": {"reference": f"Patient/{patient}"},
        "result": [{"reference": f"urn:uuid:00000000-0000-4000-8000-{index:012d}"} for index in range(10)]},
        "request": {"method": "POST", "url": "DiagnosticReport"}})
    paths = {}
    for name, body in [("observation", observation), ("transaction", {"resourceType": "Bundle", "type": "transaction", "entry": entries})]:
        paths[name] = os.path.join(directory, f"{name}.json")
        with open(paths[name], "w") as handle:
            json.dump(body, handle)
    return paths


def scenario(label, database, slugs, patients_per_tenant, port, directory, args):
    create_database(database)
    config = write_config(directory, database, slugs, port)
    started = time.time()
    for index in range(0, len(slugs), 200):
        run([BINARY, "seed", "--config", config, "--tenants", ",".join(slugs[index:index + 200]), "--patients", str(patients_per_tenant)])
    seed_seconds = time.time() - started
    server = subprocess.Popen([BINARY, "serve", "--config", config], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                              env={**os.environ, "LOG_LEVEL": "warning"})
    try:
        for _ in range(100):
            try:
                urllib.request.urlopen(f"http://127.0.0.1:{port}/readyz", timeout=1)
                break
            except Exception:
                time.sleep(0.2)
        tokens = run([BINARY, "token", "--config", config, "--tenant", ",".join(slugs), "--scope", "system/*.rs", "--ttl", "7200"]).stdout.split()
        reads, families, encounters = [], [], []
        sample = slugs if len(slugs) <= 200 else slugs[:: max(1, len(slugs) // 200)]
        first = None
        for slug in sample:
            token = tokens[slugs.index(slug)]
            bundle = get(f"http://127.0.0.1:{port}/{slug}/r4/Patient?_count=50", token)
            for entry in bundle.get("entry", []):
                patient = entry["resource"]
                first = first or (slug, patient["id"])
                reads.append(f"/{slug}/r4/Patient/{patient['id']}\t{token}")
                families.append(f"/{slug}/r4/Patient?family={urllib.parse.quote(patient['name'][0]['family'][:4])}&_count=20\t{token}")
                encounters.append(f"/{slug}/r4/Encounter?patient={patient['id']}&date=ge2024-06-01\t{token}")
        files = {}
        for name, lines in [("bare", [f"/healthz\t"]), ("read", reads), ("family", families), ("encounter", encounters)]:
            path = os.path.join(directory, f"{database}-{name}.txt")
            with open(path, "w") as handle:
                handle.write("\n".join(lines) + "\n")
            files[name] = path
        results = {}
        for name in ["bare", "read", "family", "encounter"]:
            results[name] = wrk(files[name], f"http://127.0.0.1:{port}", args.duration, args.connections)
        tenant_id = run([f"{PGBIN}/psql", "-h", "127.0.0.1", "-p", str(PORT), "-U", "postgres", "-d", database, "-tA",
                         "-c", f"SELECT id FROM tenants WHERE slug = '{first[0]}'"]).stdout.strip()
        results["pgbench"] = pgbench(database, tenant_id, first[1], args.duration, args.connections)
        if len(slugs) == 1:
            writer = run([BINARY, "token", "--config", config, "--tenant", slugs[0], "--scope",
                          "system/Observation.cruds system/DiagnosticReport.cruds", "--ttl", "7200"]).stdout.strip()
            bodies = lab_bodies(directory, first[1])
            url = f"http://127.0.0.1:{port}"
            results["create1"] = wrk_post(f"/{slugs[0]}/r4/Observation", writer, bodies["observation"], url, args.duration, 1)
            results["create32"] = wrk_post(f"/{slugs[0]}/r4/Observation", writer, bodies["observation"], url, args.duration, 32)
            results["transaction"] = wrk_post(f"/{slugs[0]}/r4", writer, bodies["transaction"], url, args.duration, 8)
        return label, seed_seconds, results
    finally:
        server.terminate()
        server.wait()


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--patients", type=int, default=20000, help="total patients in each scenario")
    parser.add_argument("--tenants", type=int, default=1000, help="tenants in the many-tenant scenario")
    parser.add_argument("--duration", type=int, default=15)
    parser.add_argument("--connections", type=int, default=32)
    parser.add_argument("--seed-scale", type=int, default=0, help="also time seeding one tenant with this many patients")
    args = parser.parse_args()
    directory = tempfile.mkdtemp(prefix="fhir-gateway-bench-")
    many = [f"t{index:04d}" for index in range(args.tenants)]
    scenarios = [
        scenario("1 tenant", "bench_one", ["solo"], args.patients, 18181, directory, args),
        scenario(f"{args.tenants} tenants", "bench_many", many, max(1, args.patients // args.tenants), 18182, directory, args),
    ]
    cpu = next((line.split(":", 1)[1].strip() for line in open("/proc/cpuinfo") if line.startswith("model name")), platform.processor())
    memory = next(line.split(":", 1)[1].strip() for line in open("/proc/meminfo") if line.startswith("MemTotal"))
    print(f"\nMachine: {os.cpu_count()} cores, {cpu}, {memory} RAM, {platform.platform()}; gateway, PostgreSQL and wrk on the same machine.")
    print(f"Run: bench/run.sh --patients {args.patients} --tenants {args.tenants} --duration {args.duration} --connections {args.connections}"
          f" ({time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())})\n")
    print("| scenario | endpoint | requests/s | p50 ms | p99 ms | non-2xx | vs bare route |")
    print("|---|---|---|---|---|---|---|")
    for label, seed_seconds, results in scenarios:
        bare = results["bare"][0]
        for name, title in [("bare", "GET /healthz (bare route)"), ("read", "GET Patient/<id>"),
                            ("family", "Patient?family=<name>&_count=20"), ("encounter", "Encounter?patient=<id>&date=ge<date>")]:
            rps, p50, p99, errors = results[name]
            print(f"| {label} | {title} | {rps:,.0f} | {p50:.2f} | {p99:.2f} | {errors} | {rps / bare:.2f} |")
        print(f"| {label} | pgbench: the read's SQL (BEGIN, set_config, SELECT, COMMIT) | {results['pgbench']:,.0f} | | | | {results['pgbench'] / bare:.2f} |")
        for name, title in [("create1", "POST Observation, 1 client"), ("create32", "POST Observation, 32 clients"),
                            ("transaction", "POST transaction (1 DiagnosticReport + 10 Observations), 8 clients")]:
            if name in results:
                rps, p50, p99, errors = results[name]
                print(f"| {label} | {title} | {rps:,.0f} | {p50:.2f} | {p99:.2f} | {errors} | {rps / bare:.2f} |")
    print()
    for label, seed_seconds, _ in scenarios:
        print(f"Seeding ({label}, {args.patients} patients in all): {seed_seconds:.1f} s")
    if args.seed_scale:
        create_database("bench_scale")
        config = write_config(directory, "bench_scale", ["scale"], 18183)
        started = time.time()
        output = run([BINARY, "seed", "--config", config, "--tenants", "scale", "--patients", str(args.seed_scale)]).stdout.strip()
        print(f"Seeding one tenant with {args.seed_scale:,} patients: {time.time() - started:.0f} s ({output})")


if __name__ == "__main__":
    sys.exit(main())
