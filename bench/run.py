#!/usr/bin/env python3
"""Drives bench/run.sh: seeds, starts the gateway, runs wrk and pgbench, prints a Markdown report and writes JSON."""
import argparse
import asyncio
import base64
import collections
import concurrent.futures
import contextlib
import dataclasses
import email.utils
import http.client
import importlib
import json
import math
import multiprocessing
import os
import platform
import re
import resource
import shutil
import subprocess
import sys
import tempfile
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
from dataclasses import dataclass

connections_tool = importlib.import_module("connections")  # bench/connections.py: its HTTP/1.1 connection and request helpers

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
GROUPINGS = {"one": "1 tenant holding all --patients", "many": "--tenants tenants sharing the same --patients",
             "tenants10k": "--tenants-large tenants sharing the same --patients"}
TENANT_GROUPINGS = ["many", "tenants10k"]  # compared with one ("vs 1 tenant")
GROUPING_ORDER = [*GROUPINGS, "scale"]
READS = {"bare": "GET /healthz (bare route)", "read": "GET Patient/<id>", "family": "Patient?family=<name>&_count=20",
         "encounter": "Encounter?patient=<id>&date=ge<date>"}
SIZES = {"nomatch": "Patient?family=Zzyzx&_count=20", "count": "Patient?family=<name>&_summary=count",
         "total": "Patient?family=<name>&_count=20&_total=accurate", "sort": "Patient?_sort=family&_count=20"}
PGBENCH = "pgbench: the read's SQL (one statement that sets the tenant, as the gateway sends it)"
WRITES = [  # scenario, endpoint, clients, path after /<tenant>/r4, body
    ("post", "POST Observation, 1 client", 1, "/Observation", "observation"),
    ("post", "POST Observation, 32 clients", 32, "/Observation", "observation"),
    ("transaction", "POST transaction (1 DiagnosticReport + 10 Observations), 8 clients", 8, "", "transaction"),
]
ENDPOINTS = [*READS, "pgbench", "post", "transaction"]
STANDALONE = {
    "scale": "1 tenant of --seed-scale patients: the reads, and the size queries there and at 1 tenant of --patients",
    "memory": "start-up time and RSS with 2 and 10,000 configured tenants, then RSS under a --soak-seconds soak",
    "connections": "--open-connections keep-alive connections sharing --rate requests/s (bench/connections.py)",
    "provision": "--tenants-large seeded tenants registered by admin API PUTs: rate, PUT to first 200, RSS",
    "fairness": "a tenant over its read limit (10x) beside a tenant under a steady load: the latter's p99 and 429s",
    "export": "Bulk Data $export of 1 tenant of --export-patients patients (seeded once, kept in --pg-data): resources/s,"
              " RSS, CPU, downloads, counts against the database, files encrypted at rest, raw COPY as the baseline",
}
STANDALONE_RUNS = ["memory", "connections", "provision", "fairness"]  # standalone scenarios run when --scenario is not given
SCENARIOS = [*GROUPINGS, *ENDPOINTS, *STANDALONE]
ENDPOINT_ORDER = [*READS.values(), *SIZES.values(), PGBENCH, *(write[1] for write in WRITES)]
READ_COMMIT = "off"  # seeding, reads and pgbench
WRITE_COMMITS = ["on", "off"]  # the first is the headline figure
SEED_BATCH = 1000  # tenants per `seed` run
SAMPLED_TENANTS = 200  # tenants whose patients the read requests rotate over
MEMORY_TENANTS = [2, 10000]  # configured; only the first 2 are seeded
SOAK_CONNECTIONS, REST_SECONDS, RSS_INTERVAL = 32, 5, 5
CONNECTION_ENDPOINTS = ["bare", "read"]
MAXIMUM_CONNECTIONS_PER_CLIENT = 20000  # server.maximum_connections_per_client for the connections scenario
POOL_SIZE = 24  # PostgresBackend.maximumConnections
ADMIN_PORT_OFFSET = 1000  # admin.port = server.port + this (the admin API is off unless a scenario uses it)
TIERS = ["enterprise", "professional", "starter"]
# Every tier's limits lifted, so that only the fairness scenario's own per-tenant limit bounds anything: rates at the
# configuration's maximum, per-tenant database calls at the whole pool (POOL_SIZE), storage quotas out of reach.
UNLIMITED_RATE = "{rate: 1000000, burst: 1000000}"
TIER_LIMITS = (f"{{read: {UNLIMITED_RATE}, search: {UNLIMITED_RATE}, write: {UNLIMITED_RATE}, export: {UNLIMITED_RATE},"
               f" concurrent_requests: 100000, database_connections: {POOL_SIZE},"
               " stored_resources: {soft: 1000000000000, hard: 1000000000000}}")
BAA = {"version": "1", "signed": "2026-01-01"}  # every tenant needs an agreement in force, or its data routes answer 403
PROVISION_PORT, FAIRNESS_PORT = 18187, 18188
PROVISION_CLIENTS = 16  # concurrent admin API clients, each on its own keep-alive connection
PROVISION_SAMPLE = 50  # tenants whose time from PUT to first 200 is measured, one at a time after the others
PROVISION_GOAL_SECONDS = 1.0  # PUT to first request served
PROVISION_READ_TENANTS = 1000  # tenants the read load before the last RSS reading spreads over
SERVED_TIMEOUT = 10  # seconds a sampled tenant may take to answer 200 before it counts as never served
FAIRNESS_LIMITED, FAIRNESS_STEADY = "fair-a", "fair-b"
FAIRNESS_LIMIT = 200  # the limited tenant's read rate and burst
FAIRNESS_RATES = {FAIRNESS_STEADY: 300, FAIRNESS_LIMITED: 10 * FAIRNESS_LIMIT}  # requests/s asked
FAIRNESS_CONNECTIONS = {FAIRNESS_STEADY: 16, FAIRNESS_LIMITED: 32}
FAIRNESS_GOAL = 1.5  # steady tenant's p99 beside the limited one over its p99 alone
WARM_UP_SECONDS = 2  # the steady load alone before the measured steps, not reported
JWT = re.compile(r"^[\w-]+\.[\w-]+\.[\w-]+$", re.M | re.A)
LOG_ENTRY = re.compile(r"^\S+ \S+ \S+ \[(\d+)\] (\w+):  ", re.M)  # log_line_prefix '%m [%p] '


@dataclass(frozen=True)
class Grouping:
    name: str
    database: str
    slugs: list
    port: int
    patients: int  # in all

    @property
    def label(self):
        tenants = "1 tenant" if len(self.slugs) == 1 else f"{len(self.slugs):,} tenants"
        return f"{tenants} of {self.patients:,} patients" if self.name == "scale" else tenants


def run(command, **kwargs):
    return subprocess.run(command, check=True, text=True, capture_output=True, **kwargs)


def psql(database, sql, user="postgres"):
    return run([f"{PGBIN}/psql", "-h", "127.0.0.1", "-p", str(PORT), "-U", user, "-v", "ON_ERROR_STOP=1", "-qtA",
                "-d", database, "-c", sql]).stdout.strip()


def set_synchronous_commit(database, value):
    """Sets the database's default, which every connection opened afterwards takes (start the gateway after this)."""
    psql("postgres", f"ALTER DATABASE {database} SET synchronous_commit = {value}")
    shown = psql(database, "SHOW synchronous_commit", user="fhir_gateway")
    if shown != value:
        raise RuntimeError(f"synchronous_commit for fhir_gateway on {database} is {shown}, expected {value}")


def create_database(name):
    # A cluster kept between runs (bench/run.sh --pg-data) may hold the database from an earlier run.
    psql("postgres", f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")
    psql("postgres", f"CREATE DATABASE {name} OWNER fhir_owner")
    set_synchronous_commit(name, READ_COMMIT)


def postgres_settings():
    names = ["server_version", "shared_buffers", "max_connections", "fsync", "full_page_writes", "wal_level",
             "wal_sync_method", "synchronous_commit"]
    values = psql("postgres", f"SELECT {', '.join(f'current_setting({name!r})' for name in names)}").split("|")
    return dict(zip(names, values))


def write_config(directory, grouping, per_client=None, listed=None, admin=False, limits=None, suffix="", sections=()):
    """The grouping's configuration file: its tenants (or `listed`), each with a BAA in force and the tier limits lifted
    (TIER_LIMITS) so that the gateway's rate limits and caps never bound a figure; `limits` maps a slug to its own limits
    (flow-style YAML). The admin API listens on the grouping's port + ADMIN_PORT_OFFSET when `admin`, else it is off.
    `sections`: more top-level YAML lines (the export scenario's `export:`)."""
    port = grouping.port
    slugs = grouping.slugs if listed is None else listed
    lines = [
        "server:", "  host: 127.0.0.1", f"  port: {port}", f"  public_base_url: http://127.0.0.1:{port}",
        "  cursor_secret: bench-cursor-secret-0123456789abcdef0123",
        *([f"  maximum_connections_per_client: {per_client}"] if per_client else []),
        "database:", f"  url: postgres://fhir_gateway:gateway@127.0.0.1:{PORT}/{grouping.database}",
        f"  migration_url: postgres://fhir_owner:owner@127.0.0.1:{PORT}/{grouping.database}",
        "development_issuer:", f"  key_file: {directory}/dev-key.pem",
        "admin:", f"  enabled: {'true' if admin else 'false'}", "  host: 127.0.0.1", f"  port: {port + ADMIN_PORT_OFFSET}",
        "tiers:", *(f"  {tier}: {TIER_LIMITS}" for tier in TIERS),
        *sections,
        "tenants:" if slugs else "tenants: []",
    ]
    for slug in slugs:
        lines += [f"  - slug: {slug}", "    issuer: development", f"    audience: http://127.0.0.1:{port}/{slug}/r4",
                  f"    baa: {{version: \"{BAA['version']}\", signed: \"{BAA['signed']}\"}}",
                  *([f"    limits: {limits[slug]}"] if limits and slug in limits else [])]
    path = os.path.join(directory, f"{grouping.name}{suffix}.yaml")
    with open(path, "w") as handle:
        handle.write("\n".join(lines) + "\n")
    return path


def seed(config, slugs, patients_per_tenant):
    """Returns the seconds taken and the summary each `seed` run printed last (after its log lines)."""
    started = time.time()
    outputs = [run([BINARY, "seed", "--config", config, "--tenants", ",".join(slugs[index:index + SEED_BATCH]),
                    "--patients", str(patients_per_tenant)]).stdout.strip().splitlines()[-1] for index in range(0, len(slugs), SEED_BATCH)]
    return time.time() - started, outputs


def prepare(directory, grouping, **options):
    """Creates and seeds the grouping's database; returns its configuration file (write_config with `options`), the seconds
    seeding took and its summaries."""
    create_database(grouping.database)
    config = write_config(directory, grouping, **options)
    return (config, *seed(config, grouping.slugs, max(1, grouping.patients // len(grouping.slugs))))


@contextlib.contextmanager
def gateway_process(config):
    """The gateway on `config`, logging warnings and errors to the configuration's path + .log (appended)."""
    with open(config + ".log", "a") as log:
        server = subprocess.Popen([BINARY, "serve", "--config", config], stdout=log, stderr=subprocess.STDOUT,
                                  env={**os.environ, "LOG_LEVEL": "warning"})
    try:
        yield server
    finally:
        if server.poll() is not None:  # not stopped by us: say so, with the end of its log
            with open(config + ".log", errors="replace") as log:
                print(f"the gateway on {config} (pid {server.pid}) exited by itself with status {server.returncode};"
                      f" the end of {config}.log:\n{''.join(log.readlines()[-5:])}", file=sys.stderr)
        server.terminate()
        server.wait()


@contextlib.contextmanager
def gateway(config, port):
    with gateway_process(config):
        wait_until_ready(port)
        yield f"http://127.0.0.1:{port}"


def wait_until_ready(port, path="/readyz", timeout=300):
    deadline = time.time() + timeout
    while time.time() < deadline:
        try:
            urllib.request.urlopen(f"http://127.0.0.1:{port}{path}", timeout=1)
            return
        except OSError:
            time.sleep(0.05)
    raise RuntimeError(f"the gateway on port {port} did not answer {path}")


def minted(arguments, count):
    """The tokens `fhir-gateway token` printed: its JSON log lines go to stdout too (the PostgreSQL client's, from looking
    up registered tenants), so only lines shaped like a JWT count, and there must be `count` of them."""
    output = run([BINARY, "token", *arguments], env={**os.environ, "LOG_LEVEL": "warning"}).stdout
    found = JWT.findall(output)
    if len(found) != count:
        raise RuntimeError(f"fhir-gateway token {' '.join(arguments[:4])} printed {len(found)} tokens, expected {count}:"
                           f" {output[:500]}")
    return found


def tokens(config, slugs, scope):
    return minted(["--config", config, "--tenant", ",".join(slugs), "--scope", scope, "--ttl", "7200"], len(slugs))


def get(url, token):
    request = urllib.request.Request(url, headers={"Authorization": f"Bearer {token}"})
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            return json.load(response)
    except urllib.error.HTTPError as error:
        raise RuntimeError(f"GET {url} answered {error.code}: {error.read()[:500]!r}") from error


def sampled(slugs):
    return slugs if len(slugs) <= SAMPLED_TENANTS else slugs[:: len(slugs) // SAMPLED_TENANTS]


def request_files(directory, grouping, url, slug_tokens, names):
    """Writes one "path<TAB>token" file per named endpoint: reads from the given tenants' first 50 patients,
    size queries (one request each) in the first tenant."""
    lines = {"bare": ["/healthz\t"], "read": [], "family": [], "encounter": []}
    for slug, token in slug_tokens.items():
        for entry in get(f"{url}/{slug}/r4/Patient?_count=50", token).get("entry", []):
            patient = entry["resource"]
            lines["read"].append(f"/{slug}/r4/Patient/{patient['id']}\t{token}")
            lines["family"].append(f"/{slug}/r4/Patient?family={urllib.parse.quote(patient['name'][0]['family'][:4])}&_count=20\t{token}")
            lines["encounter"].append(f"/{slug}/r4/Encounter?patient={patient['id']}&date=ge2024-06-01\t{token}")
    if any(name in SIZES for name in names):
        slug, token = next(iter(slug_tokens.items()))
        family = urllib.parse.quote(family_name(grouping.database, slug))
        lines.update({name: [f"/{slug}/r4/{query.replace('<name>', family)}\t{token}"] for name, query in SIZES.items()})
    files = {}
    for name in names:
        files[name] = os.path.join(directory, f"{grouping.name}-{name}.txt")
        with open(files[name], "w") as handle:
            handle.write("\n".join(lines[name]) + "\n")
    return files


def wrk(script, url, duration, connections, script_arguments):
    """Returns requests/s, p50 ms, p99 ms and the count of non-2xx/3xx responses."""
    output = run(["wrk", f"-t{min(2, connections)}", f"-c{connections}", f"-d{duration}s", "--latency",
                  "-s", os.path.join(ROOT, "bench", script), url, "--", *script_arguments]).stdout
    def milliseconds(label):
        value, unit = re.search(rf"^\s+{label}%\s+([\d.]+)(us|ms|s)", output, re.M).groups()
        return float(value) * {"us": 0.001, "ms": 1, "s": 1000}[unit]
    errors = re.search(r"Non-2xx or 3xx responses: (\d+)", output)
    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", output).group(1))
    return rps, milliseconds("50"), milliseconds("99"), int(errors.group(1)) if errors else 0


def family_name(database, slug):
    """The alphabetically first family name in the tenant: the seeded names are the same at every size."""
    return psql(database, f"SELECT min(p.family_name) FROM patients p JOIN tenants t ON t.id = p.tenant_id WHERE t.slug = '{slug}'")


def first_patient(database, slug):
    return psql(database, f"SELECT p.tenant_id, p.id FROM patients p JOIN tenants t ON t.id = p.tenant_id "
                          f"WHERE t.slug = '{slug}' ORDER BY p.id LIMIT 1").split("|")


def pgbench(database, tenant_id, patient_id, duration, connections):
    script = f"""SELECT * FROM (SELECT t.id, t.hospital_id, t.mrn, t.given_name, t.middle_name, t.family_name, t.gender, t.birth_date, t.phone, t.email, t.address_line, t.city, t.state, t.postal_code, t.country, t.deceased_at, t.active, t.updated_at FROM patients t WHERE t.tenant_id = '{tenant_id}'::uuid AND t.id = '{patient_id}'::uuid) AS tenant_scoped WHERE (SELECT set_config('app.tenant_id', '{tenant_id}', true)) IS NOT NULL;
"""
    with tempfile.NamedTemporaryFile("w", suffix=".sql", delete=False) as handle:
        handle.write(script)
    output = run([f"{PGBIN}/pgbench", "-n", "-h", "127.0.0.1", "-p", str(PORT), "-U", "fhir_gateway", "-c", str(connections), "-j", "2",
                  "-T", str(duration), "-f", handle.name, database]).stdout
    return float(re.search(r"tps = ([\d.]+)", output).group(1))


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


def figure(grouping, scenario, endpoint, commit, clients, measured):
    rps, p50, p99, errors = measured
    return {"grouping": grouping.name, "tenants": len(grouping.slugs), "scenario": scenario, "endpoint": endpoint,
            "synchronous_commit": commit, "clients": clients, "requests_per_second": rps, "p50_ms": p50, "p99_ms": p99,
            "errors": errors}


def read_figures(directory, grouping, config, names, args):
    """Returns the figures and the request files."""
    with gateway(config, grouping.port) as url:
        slugs = sampled(grouping.slugs)
        files = request_files(directory, grouping, url, dict(zip(slugs, tokens(config, slugs, "system/*.rs"))), names)
        return [figure(grouping, name, {**READS, **SIZES}[name], READ_COMMIT, args.connections,
                       wrk("rotate.lua", url, args.duration, args.connections, [files[name]])) for name in names], files


def query_plans(grouping, config, files):
    """EXPLAIN (ANALYZE, BUFFERS), as fhir_gateway, of the statements the gateway runs for the size queries,
    read from the PostgreSQL log (log_statement = all for the database while a fresh gateway answers each once)."""
    psql("postgres", f"ALTER DATABASE {grouping.database} SET log_statement = 'all'")
    try:
        with gateway(config, grouping.port) as url:
            logged = {name: logged_statements(url, files[name]) for name in SIZES}
    finally:
        psql("postgres", f"ALTER DATABASE {grouping.database} RESET log_statement")
    return [{"grouping": grouping.name, "label": grouping.label, "endpoint": SIZES[name], "statement": index + 1,
             "statements": len(statements), "sql": sql,
             "plan": psql(grouping.database, f"EXPLAIN (ANALYZE, BUFFERS) {sql}", user="fhir_gateway")}
            for name, statements in logged.items() for index, sql in enumerate(statements)]


def logged_statements(url, request_file):
    path, token = open(request_file).readline().rstrip("\n").split("\t")
    with open(PG_LOG, "rb") as log:
        log.seek(0, os.SEEK_END)
        get(url + path, token)
        return tenant_scoped_statements(log.read().decode(errors="replace"))


def tenant_scoped_statements(log):
    """The gateway's reads in a PostgreSQL log excerpt, each with its logged parameters substituted."""
    entries = list(LOG_ENTRY.finditer(log))
    pending, statements = {}, []
    for entry, following in zip(entries, [*entries[1:], None]):
        pid, level = entry.groups()
        message = log[entry.end():following.start() if following else len(log)].strip()
        executed = re.match(r"execute [^:]*: (.*)", message, re.S)
        if level == "LOG" and executed and "AS tenant_scoped" in message:
            pending[pid] = executed.group(1)
        elif level == "DETAIL" and pid in pending and message.startswith("parameters: "):
            values = dict(re.findall(r"\$(\d+) = ('(?:[^']|'')*'|NULL)", message))
            statements.append(re.sub(r"\$(\d+)", lambda number: values[number.group(1)], pending.pop(pid)))
    return statements


def pgbench_figure(grouping, args):
    tenant_id, patient_id = first_patient(grouping.database, grouping.slugs[0])
    tps = pgbench(grouping.database, tenant_id, patient_id, args.duration, args.connections)
    return figure(grouping, "pgbench", PGBENCH, READ_COMMIT, args.connections, (tps, None, None, None))


def write_figures(directory, grouping, config, names, commit, args):
    slug = grouping.slugs[0]
    set_synchronous_commit(grouping.database, commit)
    writer = tokens(config, [slug], "system/Observation.cruds system/DiagnosticReport.cruds")[0]
    bodies = lab_bodies(directory, first_patient(grouping.database, slug)[1])
    with gateway(config, grouping.port) as url:
        return [figure(grouping, scenario, endpoint, commit, clients,
                       wrk("post.lua", url, args.duration, clients, [f"/{slug}/r4{path}", writer, bodies[body]]))
                for scenario, endpoint, clients, path, body in WRITES if scenario in names]


def bench_grouping(directory, grouping, endpoints, args):
    """Seeds the grouping's database and measures the endpoints; returns its summary, its figures and its query plans."""
    config, seed_seconds, seed_output = prepare(directory, grouping)
    figures, plans = [], []
    reads = [name for name in [*READS, *SIZES] if name in endpoints]
    if reads:
        measured, files = read_figures(directory, grouping, config, reads, args)
        figures += measured
        if any(name in SIZES for name in reads):
            plans = query_plans(grouping, config, files)
    if "pgbench" in endpoints:
        figures.append(pgbench_figure(grouping, args))
    writes = [name for name in ["post", "transaction"] if name in endpoints]
    if writes:
        for commit in WRITE_COMMITS:
            figures += write_figures(directory, grouping, config, writes, commit, args)
    summary = {"grouping": grouping.name, "label": grouping.label, "tenants": len(grouping.slugs), "patients": grouping.patients,
               "seed_seconds": seed_seconds, "seed_output": seed_output}
    return summary, figures, plans


def plan(names, seed_scale):
    """Maps each grouping to run to its endpoints. A kind (grouping, endpoint) that --scenario leaves unnamed means all of it.
    scale (which needs --seed-scale) adds the scale tenant and the size queries at 1 tenant."""
    groupings = [name for name in GROUPINGS if name in names]
    endpoints = [name for name in ENDPOINTS if name in names]
    selected = {}
    if not names or groupings or endpoints:
        selected = {name: [endpoint for endpoint in endpoints or ENDPOINTS if name == "one" or endpoint not in ["post", "transaction"]]
                    for name in groupings or GROUPINGS}
    if seed_scale and (not names or "scale" in names):
        one = selected.get("one", [])
        selected["one"] = one + [name for name in ["bare", *SIZES] if name not in one]
        selected["scale"] = [*READS, *SIZES]
    return {name: chosen for name, chosen in selected.items() if chosen}


def add_ratios(figures):
    bare = {entry["grouping"]: entry["requests_per_second"] for entry in figures if entry["scenario"] == "bare"}
    one = {(entry["endpoint"], entry["synchronous_commit"]): entry["requests_per_second"] for entry in figures if entry["grouping"] == "one"}
    for entry in figures:
        base = bare.get(entry["grouping"])
        entry["vs_bare"] = entry["requests_per_second"] / base if base else None
        single = one.get((entry["endpoint"], entry["synchronous_commit"])) if entry["grouping"] in TENANT_GROUPINGS else None
        entry["vs_one_tenant"] = entry["requests_per_second"] / single if single else None


def size_sensitivity(figures):
    """Each endpoint measured both at 1 tenant of --patients and at the scale tenant, with the ratio small/large."""
    large = {entry["endpoint"]: entry for entry in figures if entry["grouping"] == "scale"}
    keys = ["requests_per_second", "p50_ms", "p99_ms", "errors"]
    return [{"endpoint": entry["endpoint"], "small": {key: entry[key] for key in keys},
             "large": {key: large[entry["endpoint"]][key] for key in keys},
             "small_over_large": entry["requests_per_second"] / large[entry["endpoint"]]["requests_per_second"]}
            for entry in figures if entry["grouping"] == "one" and entry["endpoint"] in large]


def rss_kb(pid):
    return next(int(line.split()[1]) for line in open(f"/proc/{pid}/status") if line.startswith("VmRSS:"))


def start_up(config, grouping):
    """Seconds from starting the process until /healthz answers 200, and RSS after REST_SECONDS at rest."""
    started = time.time()
    with gateway_process(config) as server:
        wait_until_ready(grouping.port, "/healthz")
        seconds = time.time() - started
        time.sleep(REST_SECONDS)
        return {"tenants": len(grouping.slugs), "seconds_to_healthz": seconds, "rss_kb": rss_kb(server.pid)}


def soak(directory, grouping, config, seeded, args):
    """GET Patient/<id> in the seeded tenants under wrk for --soak-seconds, sampling the gateway's RSS every RSS_INTERVAL s."""
    with gateway_process(config) as server:
        wait_until_ready(grouping.port)
        url = f"http://127.0.0.1:{grouping.port}"
        files = request_files(directory, grouping, url, dict(zip(seeded, tokens(config, seeded, "system/*.rs"))), ["read"])
        with concurrent.futures.ThreadPoolExecutor(1) as pool:
            load = pool.submit(wrk, "rotate.lua", url, args.soak_seconds, SOAK_CONNECTIONS, [files["read"]])
            samples = [rss_kb(server.pid)]
            while not concurrent.futures.wait([load], timeout=RSS_INTERVAL).done:
                samples.append(rss_kb(server.pid))
            samples.append(rss_kb(server.pid))
    rps, p50, p99, errors = load.result()
    return {"tenants": len(grouping.slugs), "endpoint": READS["read"], "seconds": args.soak_seconds, "connections": SOAK_CONNECTIONS,
            "requests_per_second": rps, "p50_ms": p50, "p99_ms": p99, "errors": errors, "rss_kb_samples": samples,
            "rss_kb_first": samples[0], "rss_kb_last": samples[-1], "rss_kb_max": max(samples)}


def memory(directory, args):
    """Start-up and RSS at rest with each of MEMORY_TENANTS configured (the tenants past the first 2 are absent from the
    database: the gateway warns and answers 503 for their data routes), then the soak with the most."""
    groupings = [Grouping(f"memory{count}", "bench_memory", [f"m{index:05d}" for index in range(count)], 18185, 200)
                 for count in MEMORY_TENANTS]
    configs = [prepare(directory, groupings[0])[0], *(write_config(directory, grouping) for grouping in groupings[1:])]
    return {"seeded_tenants": len(groupings[0].slugs), "rest_seconds": REST_SECONDS,
            "at_rest": [start_up(config, grouping) for config, grouping in zip(configs, groupings)],
            "soak": soak(directory, groupings[-1], configs[-1], groupings[0].slugs, args)}


def connections(directory, args):
    """bench/connections.py against 1 tenant of --patients, for the bare route and then GET Patient/<id>."""
    grouping = Grouping("connections", "bench_connections", ["solo"], 18186, args.patients)
    config = prepare(directory, grouping, per_client=MAXIMUM_CONNECTIONS_PER_CLIENT)[0]
    with gateway(config, grouping.port) as url:
        files = request_files(directory, grouping, url, dict(zip(grouping.slugs, tokens(config, grouping.slugs, "system/*.rs"))),
                              CONNECTION_ENDPOINTS)
        figures = [{"endpoint": READS[name], **json.loads(run([
            sys.executable, os.path.join(ROOT, "bench", "connections.py"), "--port", str(grouping.port), "--requests", files[name],
            "--connections", str(args.open_connections), "--rate", str(args.rate), "--duration", str(args.duration)]).stdout)}
            for name in CONNECTION_ENDPOINTS]
        database = int(psql(grouping.database, "SELECT count(*) FROM pg_stat_activity WHERE usename = 'fhir_gateway'"))
    return {"maximum_connections_per_client": MAXIMUM_CONNECTIONS_PER_CLIENT, "database_connections": database,
            "pool_size": POOL_SIZE, "figures": figures}


class Client:
    """One keep-alive HTTP/1.1 connection to the gateway on 127.0.0.1 (http.client), opened again after a failure."""

    def __init__(self, port):
        self.port, self.connection = port, None

    def connect(self):
        if self.connection is None:
            self.connection = http.client.HTTPConnection("127.0.0.1", self.port, timeout=30)
            self.connection.connect()

    def request(self, method, path, headers, body=None):
        """Returns the status, the headers (names in lower case) and the body."""
        self.connect()
        try:
            self.connection.request(method, path, body=body, headers=headers)
            response = self.connection.getresponse()
            return response.status, {name.lower(): value for name, value in response.getheaders()}, response.read()
        except (OSError, http.client.HTTPException):
            self.close()
            raise

    def close(self):
        if self.connection is not None:
            self.connection.close()
            self.connection = None


def spread(slugs, count):
    """At most count slugs, evenly spread over the list."""
    step = max(1, len(slugs) // count)
    return slugs[step - 1::step][:count]


def tenant_document(grouping, slug):
    """The admin API body that registers a seeded tenant as the configuration file would (tier limits lifted by TIER_LIMITS)."""
    return json.dumps({"name": slug, "tier": "starter", "issuer": "development",
                       "audience": f"http://127.0.0.1:{grouping.port}/{slug}/r4", "baa": BAA}).encode()


def put_tenant(client, grouping, slug, admin_token):
    """PUT /admin/tenants/<slug>: its seconds, status (or the exception's name) and X-Registry-Outcome."""
    started = time.perf_counter()
    try:
        status, headers, _ = client.request("PUT", f"/admin/tenants/{slug}", {
            "Authorization": f"Bearer {admin_token}", "Content-Type": "application/json"}, tenant_document(grouping, slug))
    except (OSError, http.client.HTTPException) as error:
        return {"seconds": time.perf_counter() - started, "status": type(error).__name__, "outcome": None}
    return {"seconds": time.perf_counter() - started, "status": status, "outcome": headers.get("x-registry-outcome")}


def put_tenants(grouping, slugs, admin_token, clients):
    """PUTs every slug from `clients` threads, each taking the next slug on its own keep-alive connection;
    returns the seconds in all and put_tenant's answer for each."""
    pending, lock = iter(slugs), threading.Lock()

    def client():
        connection, answers = Client(grouping.port + ADMIN_PORT_OFFSET), []
        connection.connect()
        while True:
            with lock:
                slug = next(pending, None)
            if slug is None:
                connection.close()
                return answers
            answers.append(put_tenant(connection, grouping, slug, admin_token))

    started = time.perf_counter()
    with concurrent.futures.ThreadPoolExecutor(clients) as pool:
        answers = [answer for future in [pool.submit(client) for _ in range(clients)] for answer in future.result()]
    return time.perf_counter() - started, answers


def first_request_served(grouping, slug, admin_token, token):
    """Seconds from sending the tenant's PUT until GET /<slug>/r4/Patient?_count=1 answers 200 (asked again at once after
    any other answer), with the statuses answered before; both connections are open before the clock starts."""
    admin, data = Client(grouping.port + ADMIN_PORT_OFFSET), Client(grouping.port)
    admin.connect()
    data.connect()
    before = collections.Counter()
    started = time.perf_counter()
    put = put_tenant(admin, grouping, slug, admin_token)
    served = None
    while time.perf_counter() - started < SERVED_TIMEOUT:
        try:
            status = data.request("GET", f"/{slug}/r4/Patient?_count=1", {"Authorization": f"Bearer {token}"})[0]
        except (OSError, http.client.HTTPException) as error:
            status = type(error).__name__
        if status == 200:
            served = time.perf_counter() - started
            break
        before[str(status)] += 1
    admin.close()
    data.close()
    return {"slug": slug, "put_status": put["status"], "put_seconds": put["seconds"], "served_seconds": served,
            "statuses_before": dict(before)}


def registered_tenants(port, admin_token):
    """The tenants GET /admin/tenants lists, following its next links."""
    client, path, count = Client(port + ADMIN_PORT_OFFSET), "/admin/tenants?_count=1000", 0
    while path:
        status, _, body = client.request("GET", path, {"Authorization": f"Bearer {admin_token}"})
        if status != 200:
            raise RuntimeError(f"GET {path} on the admin API answered {status}: {body[:300]!r}")
        page = json.loads(body)
        count += len(page["tenants"])
        path = page.get("next")
    client.close()
    return count


def milliseconds(seconds, fraction):
    return connections_tool.percentile(sorted(seconds), fraction)


def provision(directory, args):
    """--tenants-large tenants seeded in the HMS, then a gateway whose configuration lists none (same database):
    all but PROVISION_SAMPLE registered by PROVISION_CLIENTS concurrent admin API PUTs, then the sample one at a time,
    each timed from its PUT to its first 200; then the registry's count, and RSS before and after a read load."""
    grouping = Grouping("provision", "bench_provision", [f"p{index:05d}" for index in range(args.tenants_large)],
                        PROVISION_PORT, args.patients)
    listing_config, seed_seconds, seed_output = prepare(directory, grouping)  # lists every tenant: seeding and sample tokens
    config = write_config(directory, grouping, listed=[], admin=True, suffix="-unlisted")
    sample = spread(grouping.slugs, PROVISION_SAMPLE)
    chosen = set(sample)
    bulk = [slug for slug in grouping.slugs if slug not in chosen]
    admin_token = minted(["--config", config, "--admin", "--ttl", "7200"], 1)[0]
    # Minted before the tenants exist in the registry (the listing configuration has the same issuer, audiences and key),
    # so that the clock runs from the PUT only.
    sample_tokens = tokens(listing_config, sample, "system/*.rs")
    with gateway_process(config) as server:
        wait_until_ready(grouping.port)
        url = f"http://127.0.0.1:{grouping.port}"
        rss_empty = rss_kb(server.pid)
        seconds, answers = put_tenants(grouping, bulk, admin_token, PROVISION_CLIENTS)
        served = [first_request_served(grouping, slug, admin_token, token) for slug, token in zip(sample, sample_tokens)]
        registered = registered_tenants(grouping.port, admin_token)
        rss_registered = rss_kb(server.pid)
        readers = spread(grouping.slugs, PROVISION_READ_TENANTS)
        # `token` finds these tenants in the registry: the configuration lists none.
        files = request_files(directory, grouping, url, dict(zip(readers, tokens(config, readers, "system/*.rs"))), ["read"])
        rps, p50, p99, errors = wrk("rotate.lua", url, args.duration, args.connections, [files["read"]])
        rss_read = rss_kb(server.pid)
    times = [answer["seconds"] for answer in answers]
    served_times = [entry["served_seconds"] for entry in served if entry["served_seconds"] is not None]
    before = collections.Counter()
    for entry in served:
        before.update(entry["statuses_before"])
    return {
        "tenants": len(grouping.slugs), "patients": grouping.patients, "seed_seconds": seed_seconds, "seed_output": seed_output,
        "bulk": {"tenants": len(bulk), "clients": PROVISION_CLIENTS, "seconds": seconds, "tenants_per_second": len(bulk) / seconds,
                 "p50_ms": milliseconds(times, 0.50), "p99_ms": milliseconds(times, 0.99), "max_ms": milliseconds(times, 1.0),
                 "statuses": dict(collections.Counter(str(answer["status"]) for answer in answers)),
                 "outcomes": dict(collections.Counter(str(answer["outcome"]) for answer in answers))},
        "first_request": {
            "tenants": len(served), "registered_before": len(bulk), "goal_seconds": PROVISION_GOAL_SECONDS,
            "put_p50_ms": milliseconds([entry["put_seconds"] for entry in served], 0.50),
            "put_p99_ms": milliseconds([entry["put_seconds"] for entry in served], 0.99),
            "served_p50_ms": milliseconds(served_times, 0.50), "served_p99_ms": milliseconds(served_times, 0.99),
            "served_max_ms": milliseconds(served_times, 1.0),
            "over_goal": sum(entry["served_seconds"] is None or entry["served_seconds"] >= PROVISION_GOAL_SECONDS for entry in served),
            "never_served": sum(entry["served_seconds"] is None for entry in served),
            "first_get_served": sum(entry["served_seconds"] is not None and not entry["statuses_before"] for entry in served),
            "statuses_before_200": dict(before), "put_statuses": dict(collections.Counter(str(entry["put_status"]) for entry in served)),
            "samples": served},
        "registered": registered,
        "reads": {"endpoint": READS["read"], "tenants": len(readers), "connections": args.connections, "seconds": args.duration,
                  "requests_per_second": rps, "p50_ms": p50, "p99_ms": p99, "errors": errors},
        "rss_kb": {"no_tenants": rss_empty, "registered": rss_registered, "after_reads": rss_read},
    }


async def paced_requests(port, requests_file, rate, duration, connection_count, start_at):
    """bench/connections.py's open-loop load with every status counted: GETs from a "path<TAB>token" file at `rate`
    requests/s for `duration` s, round-robin over `connection_count` keep-alive connections, from wall-clock `start_at`.
    Latency counts from when each request was due."""
    requests = connections_tool.load_requests(requests_file, f"127.0.0.1:{port}")
    connections = await connections_tool.open_connections("127.0.0.1", port, connection_count)
    if not connections:
        raise RuntimeError(f"could not connect to 127.0.0.1:{port}")
    statuses, latencies, lag = collections.Counter(), collections.defaultdict(list), 0.0

    async def send(connection, request, due):
        try:
            status = await connection.exchange(request)
        except (OSError, asyncio.IncompleteReadError, asyncio.LimitOverrunError, ValueError) as error:
            statuses[type(error).__name__] += 1
            return
        statuses[str(status)] += 1
        latencies[status].append(time.monotonic() - due)

    await asyncio.sleep(max(0.0, start_at - time.time()))
    cpu = resource.getrusage(resource.RUSAGE_SELF)
    tasks, started = [], time.monotonic()
    for index in range(int(rate * duration)):
        due = started + index / rate
        if due > time.monotonic():
            await asyncio.sleep(due - time.monotonic())
        lag = max(lag, time.monotonic() - due)
        tasks.append(asyncio.create_task(send(connections[index % len(connections)], requests[index % len(requests)], due)))
    sending = time.monotonic() - started
    _, unfinished = await asyncio.wait(tasks, timeout=30)
    used = resource.getrusage(resource.RUSAGE_SELF)
    for connection in connections:
        connection.writer.close()
    succeeded = sorted(seconds for status, values in latencies.items() if 200 <= status < 300 for seconds in values)
    limited = sorted(latencies[429])
    return {"rate": rate, "seconds": duration, "connections": len(connections), "sent": len(tasks), "sent_per_second": len(tasks) / sending,
            "generator_lag_max_ms": lag * 1000, "generator_cpu_seconds": used.ru_utime + used.ru_stime - cpu.ru_utime - cpu.ru_stime,
            "succeeded_per_second": len(succeeded) / duration,
            "statuses": dict(statuses, **({"unfinished": len(unfinished)} if unfinished else {})),
            "rate_limited": statuses["429"], "other_failures": len(tasks) - len(succeeded) - statuses["429"],
            "p50_ms": connections_tool.percentile(succeeded, 0.50), "p99_ms": connections_tool.percentile(succeeded, 0.99),
            "max_ms": connections_tool.percentile(succeeded, 1.0), "p99_ms_429": connections_tool.percentile(limited, 0.99)}


def paced_load(port, requests_file, rate, duration, connection_count, start_at):
    return asyncio.run(paced_requests(port, requests_file, rate, duration, connection_count, start_at))


def paced_loads(port, loads, duration, server=None):
    """Runs each (requests file, rate, connections) load in a process of its own, all starting together; their results,
    and with `server` (the gateway's process) the CPU seconds it used and how busy the machine's CPUs were meanwhile."""
    start_at = time.time() + 2
    with concurrent.futures.ProcessPoolExecutor(len(loads), mp_context=multiprocessing.get_context("spawn")) as pool:
        futures = [pool.submit(paced_load, port, path, rate, duration, count, start_at) for path, rate, count in loads]
        time.sleep(max(0.0, start_at - time.time()))
        before = (cpu_seconds(server.pid), cpu_ticks()) if server else None
        concurrent.futures.wait(futures)
        after = (cpu_seconds(server.pid), cpu_ticks()) if server else None
        results = [future.result() for future in futures]
    if server:
        busy, total = (after[1][index] - before[1][index] for index in range(2))
        usage = {"gateway_cpu_seconds": after[0] - before[0], "machine_busy": busy / total if total else None}
        results = [{**result, **usage} for result in results]
    return results


def cpu_seconds(pid):
    """User and system CPU seconds the process has used."""
    fields = open(f"/proc/{pid}/stat").read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def cpu_ticks():
    """The machine's busy and total CPU time so far (/proc/stat), in ticks."""
    values = [int(value) for value in open("/proc/stat").readline().split()[1:9]]  # guest time is in user already
    idle = values[3] + values[4]  # idle, iowait
    return sum(values) - idle, sum(values)


def rate_limited_answer(port, request_line):
    """The rate-limit headers of the first 429 that the request (a "path<TAB>token" line) gets when sent again and again."""
    path, token = request_line.rstrip("\n").split("\t")
    client = Client(port)
    for _ in range(3 * FAIRNESS_LIMIT):
        status, headers, _ = client.request("GET", path, {"Authorization": f"Bearer {token}"})
        if status == 429:
            client.close()
            return {name: headers.get(name.lower()) for name in ["Retry-After", "RateLimit-Policy", "RateLimit"]}
    client.close()
    return None


def fairness(directory, args):
    """Two tenants of --patients / 2 patients: FAIRNESS_STEADY at its rate alone, then the same beside FAIRNESS_LIMITED
    sending ten times its read limit; GET Patient/<id> from paced open-loop loads, each in its own process."""
    limits = {FAIRNESS_LIMITED: f"{{read: {{rate: {FAIRNESS_LIMIT}, burst: {FAIRNESS_LIMIT}}}}}"}
    grouping = Grouping("fairness", "bench_fairness", [FAIRNESS_LIMITED, FAIRNESS_STEADY], FAIRNESS_PORT, args.patients)
    config, seed_seconds, seed_output = prepare(directory, grouping, limits=limits)
    with gateway_process(config) as server:
        wait_until_ready(grouping.port)
        files = {slug: request_files(directory, dataclasses.replace(grouping, name=f"fairness-{slug}"), f"http://127.0.0.1:{grouping.port}",
                                     {slug: token}, ["read"])["read"]
                 for slug, token in zip(grouping.slugs, tokens(config, grouping.slugs, "system/*.rs"))}
        load = {slug: (files[slug], FAIRNESS_RATES[slug], FAIRNESS_CONNECTIONS[slug]) for slug in grouping.slugs}
        paced_loads(grouping.port, [load[FAIRNESS_STEADY]], WARM_UP_SECONDS)
        alone, = paced_loads(grouping.port, [load[FAIRNESS_STEADY]], args.duration, server)
        beside, limited = paced_loads(grouping.port, [load[FAIRNESS_STEADY], load[FAIRNESS_LIMITED]], args.duration, server)
        answer = rate_limited_answer(grouping.port, open(files[FAIRNESS_LIMITED]).readline())
    ratio = beside["p99_ms"] / alone["p99_ms"] if beside["p99_ms"] and alone["p99_ms"] else None
    return {"endpoint": READS["read"], "patients_per_tenant": grouping.patients // 2, "seed_seconds": seed_seconds,
            "limited": FAIRNESS_LIMITED, "steady": FAIRNESS_STEADY, "limit": {"rate": FAIRNESS_LIMIT, "burst": FAIRNESS_LIMIT},
            "seconds": args.duration, "warm_up_seconds": WARM_UP_SECONDS,
            "steady_alone": alone, "steady_beside": beside, "limited_beside": limited,
            "steady_p99_ratio": ratio, "goal_ratio": FAIRNESS_GOAL,
            "steady_rate_limited": alone["rate_limited"] + beside["rate_limited"],
            "limited_429_share": limited["rate_limited"] / limited["sent"] if limited["sent"] else None,
            "limited_429_headers": answer}


# ---- export: Bulk Data $export of one large tenant --------------------------------------------------------------------

EXPORT_PORT = 18189
EXPORT_SLUG = "bulk"
EXPORT_GOAL = 50000  # resources/s, PostgreSQL to encrypted NDJSON (the issue's goal)
EXPORT_MINIMUM_POLL = 1.0  # seconds between status requests at least, whatever Retry-After says (faster may be answered 429)
EXPORT_SAMPLE_INTERVAL = 1.0  # seconds between RSS samples of the gateway during the job
EXPORT_SEEDER = 1  # bump when the seeding changes, so that kept databases seeded the old way are seeded again
EXPORT_CHUNK = 1 << 20
EXPORT_COPY_RUNS = 2  # runs of the raw COPY baseline; the fastest is the figure (the first also warms the cache)
EXPORT_PLAINTEXT = b'"resourceType"'  # must not occur in the files the gateway keeps on disk
EXPORT_ENTROPY_MINIMUM = 65536  # bytes a file needs for its byte entropy to be reported (a short file's is low by nature)
# Each exported type and the rows it comes from, as the gateway's mapping reads them (HMSResourceTable+Definitions.swift):
# the same relations serve the database counts and the raw-SQL baseline.
EXPORT_SOURCES = {"Patient": "patients", "Encounter": "hms_encounters", "MedicationRequest": "prescriptions",
                  "Practitioner": "doctors", "Organization": "hospitals"}
EXPORT_STORED_TYPES = ["Observation", "DiagnosticReport"]  # partner-written resources (stored_resources), none seeded


class ExportFailure(Exception):
    """The export scenario could not measure; the message says why and what to do."""


def export_configuration(directory):
    """The one place that knows the gateway's `export:` configuration section: writes the key-encryption key (32 random bytes,
    base64) and returns the directory the gateway writes its files to and the section's YAML lines. `poll_seconds: 1` (the
    Retry-After the gateway gives, default 2) times the job to the second. BENCH_EXPORT_SECTION=off leaves the section out
    (a build that takes none, e.g. main before the export, to check the kick-off's failure message)."""
    files, key = os.path.join(directory, "export-files"), os.path.join(directory, "export.kek")
    with open(key, "w") as handle:
        handle.write(base64.b64encode(os.urandom(32)).decode() + "\n")
    os.chmod(key, 0o600)
    if os.environ.get("BENCH_EXPORT_SECTION") == "off":
        return files, []
    return files, ["export:", f"  directory: {files}", f"  key_encryption_key_file: {key}", f"  poll_seconds: {int(EXPORT_MINIMUM_POLL)}"]


def reset_export_state(database):
    """Forgets the export jobs and data keys an earlier run left in a kept database (schema version 13's tables, when they
    exist): each run has a new key-encryption key, which cannot unwrap the old data keys, and an unfinished job would hold
    the tenant's one export slot. Returns the rows deleted per table."""
    tables = ["gateway_export_queue", "gateway_export_jobs", "gateway_export_keys"]
    present = [table for table in tables if psql(database, f"SELECT to_regclass('public.{table}') IS NOT NULL") == "t"]
    return {table: int(psql(database, f"WITH gone AS (DELETE FROM {table} RETURNING 1) SELECT count(*) FROM gone")) for table in present}


def export_counts(database, tenant_id):
    """Rows per exported type in the database (as postgres, which row-level security does not restrict)."""
    selects = [f"SELECT '{kind}', count(*) FROM {relation} WHERE tenant_id = '{tenant_id}'" for kind, relation in EXPORT_SOURCES.items()]
    selects.append(f"SELECT resource_type, count(*) FROM stored_resources WHERE tenant_id = '{tenant_id}' GROUP BY resource_type")
    counts = {kind: 0 for kind in [*EXPORT_SOURCES, *EXPORT_STORED_TYPES]}
    for line in psql(database, " UNION ALL ".join(selects)).splitlines():
        kind, count = line.split("|")
        counts[kind] = int(count)
    return counts


def database_comment(database):
    return psql("postgres", f"SELECT shobj_description(oid, 'pg_database') FROM pg_database WHERE datname = '{database}'")


def export_database(directory, grouping, config, args):
    """The export tenant's database, named by size: kept from an earlier run when it was seeded completely the same way (a
    JSON comment on the database, written last) unless --reseed, else created and seeded with `fhir-gateway seed` (then
    ANALYZE). Returns what the comment records: seeding method, seconds, rows per type, size."""
    exists = psql("postgres", f"SELECT count(*) FROM pg_database WHERE datname = '{grouping.database}'") == "1"
    if exists and not args.reseed:
        try:
            recorded = json.loads(database_comment(grouping.database) or "null")
        except ValueError:
            recorded = None
        if recorded and recorded.get("seeder") == EXPORT_SEEDER and recorded.get("patients") == grouping.patients:
            print(f"== export: reusing {grouping.database} (seeded {recorded['seeded_at']} in {recorded['seed_seconds']:.1f} s;"
                  " --reseed seeds it again)", file=sys.stderr)
            return {**recorded, "reused": True, "size_bytes": int(psql("postgres", f"SELECT pg_database_size('{grouping.database}')"))}
        print(f"== export: {grouping.database} exists but was not seeded completely by this version; seeding again", file=sys.stderr)
    if not PG_KEPT:
        print("== export: the PostgreSQL cluster is thrown away after this run (bench/run.sh --pg-data DIR keeps it,"
              " and the seeded database with it)", file=sys.stderr)
    print(f"== export: seeding {grouping.patients:,} patients into {grouping.database} with `fhir-gateway seed`", file=sys.stderr)
    create_database(grouping.database)
    seconds, output = seed(config, grouping.slugs, grouping.patients)
    tenant_id = psql(grouping.database, f"SELECT id FROM tenants WHERE slug = '{grouping.slugs[0]}'")
    recorded = {"seeder": EXPORT_SEEDER, "method": "fhir-gateway seed (multi-row INSERTs, then ANALYZE)", "patients": grouping.patients,
                "seeded_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()), "seed_seconds": seconds, "seed_output": output,
                "binary": BINARY, "tenant_id": tenant_id, "rows": export_counts(grouping.database, tenant_id)}
    text = json.dumps(recorded).replace("'", "''")
    psql("postgres", f"COMMENT ON DATABASE {grouping.database} IS '{text}'")
    return {**recorded, "reused": False, "size_bytes": int(psql("postgres", f"SELECT pg_database_size('{grouping.database}')"))}


def export_gateway_ready(server, config, port, timeout=300):
    """Waits for /readyz like wait_until_ready, but fails at once, with the log's reason, if the gateway exits."""
    deadline = time.time() + timeout
    while time.time() < deadline:
        if server.poll() is not None:
            with open(config + ".log", errors="replace") as log:  # the reason, without the usage lines that follow it
                tail = " / ".join(line.strip() for line in log.readlines()[-5:]
                                  if line.strip() and not line.lstrip().startswith(("Usage:", "See '")))
            hint = (" This build does not know the `export:` configuration section, so it has no Bulk Data export: pass a build"
                    " with it (--binary), or set BENCH_EXPORT_SECTION=off to leave the section out." if "'export'" in tail else "")
            raise ExportFailure(f"the gateway exited at start with status {server.returncode}: {tail}.{hint}")
        try:
            urllib.request.urlopen(f"http://127.0.0.1:{port}/readyz", timeout=1)
            return
        except OSError:
            time.sleep(0.05)
    raise ExportFailure(f"the gateway on port {port} did not answer /readyz within {timeout} s")


def postgres_cpu_seconds():
    """CPU seconds used by the PostgreSQL cluster so far: the postmaster's own and its reaped children's, plus its
    live children's (so a backend that ends during the measurement is still counted, once)."""
    with open(os.path.join(PG_DATA, "postmaster.pid")) as handle:
        postmaster = int(handle.readline())
    ticks = os.sysconf("SC_CLK_TCK")
    fields = open(f"/proc/{postmaster}/stat").read().rsplit(")", 1)[1].split()
    total = sum(int(value) for value in fields[11:15])  # utime, stime, cutime, cstime
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            fields = open(f"/proc/{entry}/stat").read().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(fields[1]) == postmaster:
            total += int(fields[11]) + int(fields[12])
    return total / ticks


def memory_status(pid):
    """VmRSS and VmHWM (peak) of the process, in kB."""
    values = {}
    for line in open(f"/proc/{pid}/status"):
        name, _, rest = line.partition(":")
        if name in ("VmRSS", "VmHWM"):
            values[name] = int(rest.split()[0])
    return values["VmRSS"], values["VmHWM"]


class Sampler(threading.Thread):
    """The gateway's RSS every EXPORT_SAMPLE_INTERVAL seconds until stopped: (seconds since start, kB) pairs."""

    def __init__(self, pid):
        super().__init__(daemon=True)
        self.pid, self.samples, self.stopped, self.started = pid, [], threading.Event(), time.monotonic()

    def run(self):
        while True:
            with contextlib.suppress(OSError, StopIteration, KeyError):
                self.samples.append((round(time.monotonic() - self.started, 1), memory_status(self.pid)[0]))
            if self.stopped.wait(EXPORT_SAMPLE_INTERVAL):
                return

    def stop(self):
        self.stopped.set()
        self.join()
        return self.samples


def retry_after(headers, default):
    """Retry-After in seconds (delta-seconds or an HTTP date), at least EXPORT_MINIMUM_POLL."""
    value = headers.get("retry-after")
    seconds = default
    if value:
        try:
            seconds = float(value)
        except ValueError:
            with contextlib.suppress(TypeError, ValueError):
                seconds = email.utils.parsedate_to_datetime(value).timestamp() - time.time()
    return max(EXPORT_MINIMUM_POLL, seconds)


def http_request(url, headers, method="GET"):
    """One request to an absolute http URL: status, headers (lower-case names), body."""
    parts = urllib.parse.urlsplit(url)
    connection = http.client.HTTPConnection(parts.hostname, parts.port or 80, timeout=60)
    try:
        connection.request(method, parts.path + (f"?{parts.query}" if parts.query else ""), headers=headers)
        response = connection.getresponse()
        return response.status, {name.lower(): value for name, value in response.getheaders()}, response.read()
    finally:
        connection.close()


def kick_off(url, slug, token):
    """GET /<slug>/r4/$export: the status URL (Content-Location of the 202), the kick-off's time and the first wait."""
    kick_off_url = f"{url}/{slug}/r4/$export"
    started = time.monotonic()
    status, headers, body = http_request(kick_off_url, {"Authorization": f"Bearer {token}", "Accept": "application/fhir+json",
                                                        "Prefer": "respond-async"})
    detail = body[:400].decode(errors="replace")
    if status in (404, 405, 501):
        raise ExportFailure(f"GET {kick_off_url} answered {status}: this gateway build has no Bulk Data $export"
                            f" (pass a build with it to bench/run.sh --binary). The gateway said: {detail}")
    if status != 202:
        raise ExportFailure(f"GET {kick_off_url} answered {status}, expected 202 Accepted: {detail}")
    location = headers.get("content-location")
    if not location or not location.startswith(("http://", "https://")):
        raise ExportFailure(f"the kick-off's 202 has no absolute Content-Location (got {location!r})")
    return location, started, retry_after(headers, EXPORT_MINIMUM_POLL)


def poll(location, token, started, wait, timeout):
    """Polls the status URL, never sooner than Retry-After (at least EXPORT_MINIMUM_POLL s) after the previous answer, until
    the 200 with the manifest; cancels the job (DELETE) when there is none `timeout` s after the kick-off. Returns the manifest, seconds from kick-off
    to the 200 and to the last 202 (the job ended in between), and what the polls saw."""
    headers = {"Authorization": f"Bearer {token}", "Accept": "application/json"}
    polls, limited, progress, last_running = 0, 0, [], None
    while True:
        if time.monotonic() + wait - started > timeout:
            with contextlib.suppress(OSError, http.client.HTTPException):
                http_request(location, headers, "DELETE")
            raise ExportFailure(f"no manifest within {timeout} s of the kick-off ({polls} polls, last progress"
                                f" {progress[-1][1] if progress else None!r}); the job was cancelled with DELETE {location}")
        time.sleep(wait)
        status, answer, body = http_request(location, headers)
        polls += 1
        elapsed = time.monotonic() - started
        if status == 202:
            last_running = elapsed
            progress.append((round(elapsed, 1), answer.get("x-progress")))
            wait = retry_after(answer, EXPORT_MINIMUM_POLL)
        elif status == 429:
            limited += 1
            wait = retry_after(answer, 2 * wait)
        elif status == 200:
            try:
                manifest = json.loads(body)
            except ValueError as error:
                raise ExportFailure(f"the status URL answered 200 with a body that is not JSON: {body[:300]!r}") from error
            return manifest, elapsed, last_running, {"polls": polls, "rate_limited": limited, "progress": progress}
        else:
            raise ExportFailure(f"the status URL {location} answered {status} after {elapsed:.1f} s: {body[:400]!r}")


def download(outputs, token):
    """Streams every file of the manifest's list, counting lines and bytes per type; the first and last line of each file
    must be a resource of the file's type (OperationOutcome for the error list)."""
    per_type, total_bytes, started = {}, 0, time.monotonic()
    for output in outputs:
        parts = urllib.parse.urlsplit(output["url"])
        connection = http.client.HTTPConnection(parts.hostname, parts.port or 80, timeout=120)
        connection.request("GET", parts.path + (f"?{parts.query}" if parts.query else ""),
                           headers={"Authorization": f"Bearer {token}", "Accept": "application/fhir+ndjson"})
        response = connection.getresponse()
        if response.status != 200:
            raise ExportFailure(f"GET {output['url']} answered {response.status}: {response.read()[:300]!r}")
        lines, size, first, tail = 0, 0, None, b""
        while chunk := response.read(EXPORT_CHUNK):
            lines += chunk.count(b"\n")
            size += len(chunk)
            if first is None and b"\n" in chunk:
                first = chunk.split(b"\n", 1)[0]
            tail = (tail + chunk)[-65536:]
        connection.close()
        if tail and not tail.endswith(b"\n"):
            lines += 1  # a last line without its newline
        last = tail.rstrip(b"\n").rsplit(b"\n", 1)[-1]
        for line in {first if first is not None else tail.rstrip(b"\n"), last} - {b""}:
            try:
                kind = json.loads(line).get("resourceType")
            except ValueError:
                kind = None
            if kind != output["type"]:
                raise ExportFailure(f"{output['url']} holds a line that is not a {output['type']}: {line[:200]!r}")
        entry = per_type.setdefault(output["type"], {"files": 0, "lines": 0, "bytes": 0})
        entry["files"] += 1
        entry["lines"] += lines
        entry["bytes"] += size
        total_bytes += size
    seconds = time.monotonic() - started
    return per_type, {"bytes": total_bytes, "seconds": seconds, "mb_per_second": total_bytes / 1e6 / seconds if seconds else None}


def byte_entropy(data):
    counts = collections.Counter(data)
    return -sum(count / len(data) * math.log2(count / len(data)) for count in counts.values()) if data else None


def at_rest(files_directory):
    """Every file the gateway left under its export directory: how many, their size, which of them contain
    EXPORT_PLAINTEXT, and the lowest byte entropy (bits per byte) of a file's first MiB, among files of at least
    EXPORT_ENTROPY_MINIMUM bytes (near 8 when encrypted; NDJSON text is near 5)."""
    report = {"files": 0, "bytes": 0, "plaintext_files": [], "lowest_entropy_first_mib": None}
    if not os.path.isdir(files_directory):
        return report
    for folder, _, names in os.walk(files_directory):
        for name in names:
            path = os.path.join(folder, name)
            report["files"] += 1
            report["bytes"] += os.path.getsize(path)
            overlap, first = b"", None
            with open(path, "rb") as handle:
                while chunk := handle.read(EXPORT_CHUNK):
                    if first is None:
                        first = chunk
                    if EXPORT_PLAINTEXT in overlap + chunk:
                        report["plaintext_files"].append(os.path.relpath(path, files_directory))
                        break
                    overlap = chunk[-len(EXPORT_PLAINTEXT):]
            entropy = byte_entropy(first) if first and len(first) >= EXPORT_ENTROPY_MINIMUM else None
            if entropy is not None and (report["lowest_entropy_first_mib"] is None or entropy < report["lowest_entropy_first_mib"]):
                report["lowest_entropy_first_mib"] = entropy
    return report


def raw_read(database, tenant_id, json_rows):
    """PostgreSQL alone reading the rows the export maps: per type, `COPY (SELECT ... WHERE tenant_id = ...) TO STDOUT` as
    fhir_gateway under row-level security (app.tenant_id set, as the gateway's session would), through psql into
    /dev/null; with json_rows each row as row_to_json. Returns per type rows and seconds, and the totals."""
    per_type = {}
    for kind, relation in EXPORT_SOURCES.items():
        selected = f"row_to_json(t)" if json_rows else "t.*"
        started = time.monotonic()
        subprocess.run([f"{PGBIN}/psql", "-h", "127.0.0.1", "-p", str(PORT), "-U", "fhir_gateway", "-v", "ON_ERROR_STOP=1", "-qtA",
                        "-d", database, "-c", f"SELECT set_config('app.tenant_id', '{tenant_id}', false)",
                        "-c", f"COPY (SELECT {selected} FROM {relation} t WHERE t.tenant_id = '{tenant_id}') TO STDOUT"],
                       check=True, stdout=subprocess.DEVNULL)
        per_type[kind] = time.monotonic() - started
    seconds = sum(per_type.values())
    return {"seconds_per_type": per_type, "seconds": seconds}


def sample_reads(url, database, tenant_id, token):
    """GET <type>/<id> through the gateway for a few rows of each exported type (5 patients): each must answer 200 with the
    resource asked for. Checks that the seeded rows map to valid FHIR before the export is timed."""
    checked = collections.Counter()
    for kind, relation in EXPORT_SOURCES.items():
        column = "fhir_id" if relation == "hms_encounters" else "id"
        ids = psql(database, f"(SELECT {column} FROM {relation} WHERE tenant_id = '{tenant_id}' ORDER BY {column} LIMIT 2)"
                             f" UNION ALL (SELECT {column} FROM {relation} WHERE tenant_id = '{tenant_id}'"
                             f" ORDER BY {column} DESC LIMIT {3 if kind == 'Patient' else 1})").split()
        if kind == "Encounter":  # both kinds of encounter
            ids += psql(database, f"SELECT min(fhir_id) FROM hms_encounters WHERE tenant_id = '{tenant_id}' AND kind = 'adm'").split()
        for resource_id in ids:
            status, _, body = http_request(f"{url}/{EXPORT_SLUG}/r4/{kind}/{resource_id}",
                                           {"Authorization": f"Bearer {token}", "Accept": "application/fhir+json"})
            resource = json.loads(body) if status == 200 else {}
            if status != 200 or resource.get("resourceType") != kind or resource.get("id") != resource_id:
                raise ExportFailure(f"GET {kind}/{resource_id} answered {status}: {body[:300]!r}")
            checked[kind] += 1
    return dict(checked)


def bulk_export(directory, args):
    """The export scenario: the tenant's database (kept between runs), the raw-SQL baseline, then one $export measured from
    kick-off to manifest with the gateway's RSS and CPU and PostgreSQL's CPU, the downloads, and the checks."""
    grouping = Grouping("export", f"bench_export_{args.export_patients}", [EXPORT_SLUG], EXPORT_PORT, args.export_patients)
    config = write_config(directory, grouping)  # seeding and tokens: no export section, which builds without export refuse
    files_directory, section = export_configuration(directory)
    export_config = write_config(directory, grouping, suffix="-export", sections=section)
    result = {"tenant": EXPORT_SLUG, "patients": grouping.patients, "database": grouping.database, "goal_resources_per_second": EXPORT_GOAL,
              "configuration": section, "kept_cluster": PG_KEPT, "error": None}
    seeded = export_database(directory, grouping, config, args)
    result["seeding"] = seeded
    tenant_id = seeded["tenant_id"]
    result["database_rows"] = export_counts(grouping.database, tenant_id)
    result["pg_copy"] = [raw_read(grouping.database, tenant_id, False) for _ in range(EXPORT_COPY_RUNS)]  # the best counts
    result["pg_copy_json"] = raw_read(grouping.database, tenant_id, True)
    token = tokens(config, grouping.slugs, "system/*.rs")[0]
    result["export_rows_reset"] = reset_export_state(grouping.database)
    try:
        with gateway_process(export_config) as server:
            export_gateway_ready(server, export_config, grouping.port)
            url = f"http://127.0.0.1:{grouping.port}"
            result["reads_checked"] = sample_reads(url, grouping.database, tenant_id, token)
            time.sleep(REST_SECONDS)
            result["rss_kb_before"] = memory_status(server.pid)[0]
            gateway_cpu, postgres_cpu, machine_ticks = cpu_seconds(server.pid), postgres_cpu_seconds(), cpu_ticks()
            sampler = Sampler(server.pid)
            sampler.start()
            try:
                location, started, wait = kick_off(url, EXPORT_SLUG, token)
                manifest, seconds, last_running, polled = poll(location, token, started, wait, args.export_timeout)
            finally:
                samples = sampler.stop()
            finished = time.monotonic()
            gateway_cpu, postgres_cpu = cpu_seconds(server.pid) - gateway_cpu, postgres_cpu_seconds() - postgres_cpu
            busy, total = (after - before for after, before in zip(cpu_ticks(), machine_ticks))
            result["rss_kb_peak"] = memory_status(server.pid)[1]
            newest = max((os.path.getmtime(os.path.join(folder, name)) for folder, _, names in os.walk(files_directory)
                          for name in names), default=None)
            outputs, errors = manifest.get("output", []), manifest.get("error", [])
            resources = sum(int(output.get("count", 0)) for output in outputs)
            result.update({
                "status_url": location, "manifest": {key: manifest.get(key) for key in ["transactionTime", "request", "requiresAccessToken"]},
                "outputs": len(outputs), "error_outputs": len(errors), "resources": resources, "seconds": seconds,
                "seconds_to_last_202": last_running, "resources_per_second": resources / seconds,
                "resources_per_second_upper": resources / last_running if last_running else None,
                "last_file_written_seconds": newest - (time.time() - (time.monotonic() - started)) if newest else None,
                **polled, "rss_kb_samples": samples, "rss_kb_max_sampled": max((kb for _, kb in samples), default=None),
                "gateway_cpu_seconds": gateway_cpu, "postgres_cpu_seconds": postgres_cpu,
                "machine_busy": busy / total if total else None, "poll_seconds_after_job": finished - started - seconds})
            manifest_counts = collections.Counter()
            for output in outputs:
                manifest_counts[output["type"]] += int(output.get("count", 0))
            downloaded, speed = download(outputs, token)
            error_lines, _ = download([{**entry, "type": "OperationOutcome"} for entry in errors], token) if errors else ({}, None)
            result["download"] = speed
            result["error_lines"] = sum(entry["lines"] for entry in error_lines.values())
            result["at_rest"] = at_rest(files_directory)
            with contextlib.suppress(OSError, http.client.HTTPException):  # the client is done with the files
                result["delete_status"] = http_request(location, {"Authorization": f"Bearer {token}"}, "DELETE")[0]
    except ExportFailure as failure:
        result["error"] = str(failure)
        return result
    except (OSError, http.client.HTTPException) as error:  # the gateway stopped answering (crashed, or out of memory)
        result["error"] = f"talking to the gateway failed: {error!r}; the end of {export_config}.log says why if it exited"
        return result
    finally:
        shutil.rmtree(files_directory, ignore_errors=True)  # several GB of encrypted NDJSON
    database_rows = result["database_rows"]
    kinds = sorted(set(manifest_counts) | set(downloaded) | {kind for kind, count in database_rows.items() if count})
    result["types"] = [{"type": kind, "manifest": manifest_counts.get(kind, 0),
                        "downloaded": downloaded.get(kind, {}).get("lines", 0), "files": downloaded.get(kind, {}).get("files", 0),
                        "bytes": downloaded.get(kind, {}).get("bytes", 0), "database": database_rows.get(kind, 0)} for kind in kinds]
    mismatches = [entry["type"] for entry in result["types"] if not entry["manifest"] == entry["downloaded"] == entry["database"]]
    result["counts_match"] = not mismatches
    copy = min(result["pg_copy"], key=lambda run: run["seconds"])
    rows = sum(database_rows.values())
    result["pg_rows_per_second"] = rows / copy["seconds"]
    result["pg_json_rows_per_second"] = rows / result["pg_copy_json"]["seconds"]
    result["vs_pg_copy"] = result["resources_per_second"] / result["pg_rows_per_second"]
    result["vs_pg_copy_json"] = result["resources_per_second"] / result["pg_json_rows_per_second"]
    problems = ([f"counts differ for {', '.join(mismatches)}"] if mismatches else []) + (
        [f"plaintext on disk in {', '.join(result['at_rest']['plaintext_files'][:5])}"] if result["at_rest"]["plaintext_files"] else []) + (
        ["no files found under the export directory"] if not result["at_rest"]["files"] else [])
    if problems:
        result["error"] = "; ".join(problems)
    return result


def print_export(result):
    seeded = result["seeding"]
    rows = seeded["rows"]
    print(f"Export: 1 tenant of {result['patients']:,} patients ({sum(rows.values()):,} resources: "
          + ", ".join(f"{kind} {count:,}" for kind, count in rows.items() if count) + f"), database {result['database']}"
          f" {seeded['size_bytes'] / 2**30:.2f} GiB; seeded by {seeded['method']} in {seeded['seed_seconds']:.1f} s"
          f" ({'kept from the run of ' + seeded['seeded_at'] if seeded['reused'] else 'this run'}).\n")
    if "reads_checked" in result:
        print(f"Read through the gateway before the export, all 200: {counts(result['reads_checked'])}.\n")
    total = sum(result["database_rows"].values())
    copies = ", ".join(f"{copy['seconds']:.1f} s" for copy in result["pg_copy"])
    best = min(copy["seconds"] for copy in result["pg_copy"])
    print(f"PostgreSQL alone (`COPY (SELECT ...) TO STDOUT` per type as fhir_gateway under row-level security, through psql into"
          f" /dev/null): the {total:,} rows in {copies} (the fastest counts): {total / best:,.0f} rows/s; each row as"
          f" row_to_json {result['pg_copy_json']['seconds']:.1f} s: {total / result['pg_copy_json']['seconds']:,.0f} rows/s.\n")
    if result.get("resources") is None:
        print(f"**Export not measured:** {result['error']}\n")
        return
    print("| tenant | resources | kick-off to manifest, s | resources/s | goal | PostgreSQL COPY rows/s | vs COPY"
          " | COPY row_to_json rows/s | vs row_to_json | RSS before MB | peak RSS MB | gateway CPU s | PostgreSQL CPU s | machine busy |")
    print("|---|---|---|---|---|---|---|---|---|---|---|---|---|---|")
    print(f"| {result['patients']:,} patients | {result['resources']:,} | {result['seconds']:.1f} | {result['resources_per_second']:,.0f}"
          f" | {result['goal_resources_per_second']:,} | {result['pg_rows_per_second']:,.0f} | {result['vs_pg_copy']:.2f}"
          f" | {result['pg_json_rows_per_second']:,.0f} | {result['vs_pg_copy_json']:.2f} | {result['rss_kb_before'] / 1024:.1f}"
          f" | {result['rss_kb_peak'] / 1024:.1f} | {result['gateway_cpu_seconds']:.1f} | {result['postgres_cpu_seconds']:.1f}"
          f" | {cell(result['machine_busy'], '{:.0%}')} |")
    print(f"\nThe job ended between the last 202 ({cell(result['seconds_to_last_202'], '{:.1f} s') or 'none: done at the first poll'}) and the 200"
          f" ({result['seconds']:.1f} s; {result['polls']} polls, {result['rate_limited']} answered 429); last file written"
          f" {cell(result['last_file_written_seconds'], '{:.1f}')} s after the kick-off. RSS sampled every {EXPORT_SAMPLE_INTERVAL:g} s:"
          f" max {cell(result['rss_kb_max_sampled'] and result['rss_kb_max_sampled'] / 1024, '{:.1f}')} MB"
          f" ({len(result['rss_kb_samples'])} samples); peak is VmHWM since the gateway started.\n")
    print("| type | manifest count | lines downloaded | database rows | files | MB | match |")
    print("|---|---|---|---|---|---|---|")
    for entry in result["types"]:
        same = entry["manifest"] == entry["downloaded"] == entry["database"]
        print(f"| {entry['type']} | {entry['manifest']:,} | {entry['downloaded']:,} | {entry['database']:,} | {entry['files']}"
              f" | {entry['bytes'] / 1e6:,.1f} | {'yes' if same else '**no**'} |")
    download, disk = result["download"], result["at_rest"]
    print(f"\nDownloads: {download['bytes'] / 1e6:,.1f} MB in {download['seconds']:.1f} s ({download['mb_per_second']:,.1f} MB/s);"
          f" error list: {result['error_outputs']} files, {result['error_lines']} lines. At rest: {disk['files']} files,"
          f" {disk['bytes'] / 1e6:,.1f} MB, {len(disk['plaintext_files'])} containing {EXPORT_PLAINTEXT.decode()},"
          f" lowest byte entropy of a file's first MiB (files of 64 KiB or more) {cell(disk['lowest_entropy_first_mib'], '{:.3f}')} bits.\n")
    if result["error"]:
        print(f"**Problems:** {result['error']}\n")


def machine():
    cpu = next((line.split(":", 1)[1].strip() for line in open("/proc/cpuinfo") if line.startswith("model name")), platform.processor())
    memory = next(int(line.split()[1]) for line in open("/proc/meminfo") if line.startswith("MemTotal"))
    return {"cpu": cpu, "cores": os.cpu_count(), "memory_kb": memory, "kernel": platform.release(), "platform": platform.platform()}


def cell(value, pattern):
    return "" if value is None else pattern.format(value)


def print_markdown(report):
    host, postgres = report["machine"], report["postgresql"]
    print(f"\nMachine: {host['cores']} cores, {host['cpu']}, {host['memory_kb']} kB RAM, {host['platform']};"
          " gateway, PostgreSQL and wrk on the same machine.")
    print(f"Run: {report['command']} ({report['timestamp']})")
    settings = ", ".join(f"{name}={value}" for name, value in postgres["settings"].items() if name != "server_version")
    print(f"PostgreSQL {postgres['settings']['server_version']}: {settings} (server default). synchronous_commit is set per"
          f" database and checked with SHOW as fhir_gateway: seeding, reads and pgbench {READ_COMMIT}; writes"
          f" {' and '.join(WRITE_COMMITS)} (headline {WRITE_COMMITS[0]}).\n")
    if report["figures"]:
        print_figures(report)
    if report["size_sensitivity"]:
        print_sizes(report)
    if report["memory"]:
        print_memory(report["memory"])
    if report["connections"]:
        print_connections(report["connections"])
    if report["provision"]:
        print_provision(report["provision"])
    if report["fairness"]:
        print_fairness(report["fairness"])
    if report["export"]:
        print_export(report["export"])


def print_figures(report):
    print("| scenario | endpoint | synchronous_commit | requests/s | p50 ms | p99 ms | non-2xx | vs bare route | vs 1 tenant |")
    print("|---|---|---|---|---|---|---|---|---|")
    labels = {summary["grouping"]: summary["label"] for summary in report["groupings"]}
    for entry in report["figures"]:
        print(f"| {labels[entry['grouping']]} | {entry['endpoint']} | {entry['synchronous_commit']} | {entry['requests_per_second']:,.0f}"
              f" | {cell(entry['p50_ms'], '{:.2f}')} | {cell(entry['p99_ms'], '{:.2f}')} | {cell(entry['errors'], '{}')}"
              f" | {cell(entry['vs_bare'], '{:.2f}')} | {cell(entry['vs_one_tenant'], '{:.2f}')} |")
    print()
    for summary in report["groupings"]:
        outputs = summary["seed_output"]
        print(f"Seeding ({summary['label']}, {summary['patients']:,} patients in all): {summary['seed_seconds']:.1f} s"
              + (f" ({outputs[0]})" if len(outputs) == 1 else f" ({len(outputs)} seed runs of up to {SEED_BATCH} tenants)"))
    print()


def print_sizes(report):
    patients = {summary["grouping"]: summary["patients"] for summary in report["groupings"]}
    small, large = f"{patients['one']:,} patients", f"{patients['scale']:,} patients"
    print(f"Size sensitivity: 1 tenant of {small} against 1 tenant of {large} (goal: small/large at most 1.5)."
          f" Query plans: {report['plans_markdown']}\n")
    print(f"| endpoint | requests/s, {small} | p99 ms | requests/s, {large} | p99 ms | non-2xx | small/large |")
    print("|---|---|---|---|---|---|---|")
    for row in report["size_sensitivity"]:
        print(f"| {row['endpoint']} | {row['small']['requests_per_second']:,.0f} | {row['small']['p99_ms']:.2f}"
              f" | {row['large']['requests_per_second']:,.0f} | {row['large']['p99_ms']:.2f}"
              f" | {row['small']['errors'] + row['large']['errors']} | {row['small_over_large']:.2f} |")
    print()


def print_memory(memory):
    print(f"Memory: the gateway started with each number of configured tenants; only {memory['seeded_tenants']} are in the"
          " database, the others are absent (the gateway answers 503 for their data routes). Start-up includes applying"
          " the configured tenants to the registry (a fresh database here).\n")
    print(f"| configured tenants | start to /healthz 200, s | RSS after {memory['rest_seconds']} s at rest, MB |")
    print("|---|---|---|")
    for entry in memory["at_rest"]:
        print(f"| {entry['tenants']:,} | {entry['seconds_to_healthz']:.2f} | {entry['rss_kb'] / 1024:.1f} |")
    soaked = memory["soak"]
    print(f"\nSoak ({soaked['tenants']:,} configured tenants, {soaked['endpoint']}, wrk {soaked['connections']} connections,"
          f" {soaked['seconds']} s): {soaked['requests_per_second']:,.0f} requests/s, p99 {soaked['p99_ms']:.2f} ms,"
          f" {soaked['errors']} non-2xx; RSS first {soaked['rss_kb_first'] / 1024:.1f} MB, last {soaked['rss_kb_last'] / 1024:.1f} MB,"
          f" max {soaked['rss_kb_max'] / 1024:.1f} MB ({len(soaked['rss_kb_samples'])} samples, every {RSS_INTERVAL} s).\n")


def print_connections(result):
    print(f"Connections (bench/connections.py; server.maximum_connections_per_client: {result['maximum_connections_per_client']}"
          f" in the bench configuration, default 256; PostgreSQL connections held by the gateway afterwards:"
          f" {result['database_connections']}: a pool of at most {result['pool_size']} and the readiness probe's own connection):\n")
    print("| endpoint | connections opened | open at end | requests/s asked | achieved | p50 ms | p99 ms | max ms | errors |")
    print("|---|---|---|---|---|---|---|---|---|")
    for entry in result["figures"]:
        print(f"| {entry['endpoint']} | {entry['opened']:,} of {entry['connections']:,} | {entry['open_at_end']:,} | {entry['rate']:,}"
              f" | {entry['achieved_rate']:,.0f} | {cell(entry['p50_ms'], '{:.2f}')} | {cell(entry['p99_ms'], '{:.2f}')}"
              f" | {cell(entry['max_ms'], '{:.2f}')} | {entry['errors']}{cell(', '.join(entry['error_kinds']) or None, ' ({})')} |")
    print()


def print_provision(result):
    bulk, first, reads, rss = result["bulk"], result["first_request"], result["reads"], result["rss_kb"]
    print(f"Provisioning: {result['tenants']:,} tenants seeded in the HMS ({result['patients']:,} patients in all,"
          f" {result['seed_seconds']:.1f} s), then a gateway whose configuration lists none: PUT /admin/tenants/<slug>"
          f" from {bulk['clients']} clients on keep-alive connections.\n")
    print("| tenants registered | clients | seconds | tenants/s | PUT p50 ms | PUT p99 ms | PUT max ms | statuses | X-Registry-Outcome |")
    print("|---|---|---|---|---|---|---|---|---|")
    print(f"| {bulk['tenants']:,} | {bulk['clients']} | {bulk['seconds']:.2f} | {bulk['tenants_per_second']:,.0f}"
          f" | {cell(bulk['p50_ms'], '{:.2f}')} | {cell(bulk['p99_ms'], '{:.2f}')} | {cell(bulk['max_ms'], '{:.2f}')}"
          f" | {counts(bulk['statuses'])} | {counts(bulk['outcomes'])} |")
    print(f"\nPUT to first request served: {first['tenants']} tenants, one at a time after the {first['registered_before']:,} above,"
          f" each timed from sending its PUT until GET /<slug>/r4/Patient?_count=1 answers 200 (asked again at once otherwise):"
          f" PUT p50 {cell(first['put_p50_ms'], '{:.2f}')} ms, p99 {cell(first['put_p99_ms'], '{:.2f}')} ms"
          f" ({counts(first['put_statuses'])}); to 200 p50 {cell(first['served_p50_ms'], '{:.2f}')} ms,"
          f" p99 {cell(first['served_p99_ms'], '{:.2f}')} ms, max {cell(first['served_max_ms'], '{:.2f}')} ms;"
          f" {first['over_goal']} of {first['tenants']} at or over {first['goal_seconds']:g} s (goal: none),"
          f" {first['never_served']} never served within {SERVED_TIMEOUT} s; the first GET answered 200 for {first['first_get_served']}"
          + (f" (answers before 200: {counts(first['statuses_before_200'])})" if first["statuses_before_200"] else "") + ".")
    print(f"\nRegistry afterwards (GET /admin/tenants, all pages): {result['registered']:,} tenants."
          f" Gateway RSS: {rss['no_tenants'] / 1024:.1f} MB with none registered, {rss['registered'] / 1024:.1f} MB with"
          f" {result['registered']:,} registered, {rss['after_reads'] / 1024:.1f} MB after {reads['endpoint']} across"
          f" {reads['tenants']:,} of them (wrk {reads['connections']} connections, {reads['seconds']} s:"
          f" {reads['requests_per_second']:,.0f} requests/s, p50 {reads['p50_ms']:.2f} ms, p99 {reads['p99_ms']:.2f} ms,"
          f" {reads['errors']} non-2xx).\n")


def print_fairness(result):
    steady, limited = result["steady"], result["limited"]
    print(f"Fairness ({result['endpoint']}): {limited} limited to {result['limit']['rate']} reads/s (burst {result['limit']['burst']}),"
          f" {steady} with the tier limits lifted, {result['patients_per_tenant']:,} patients each. Open-loop loads at a fixed"
          f" rate, one process each (bench/run.py, after bench/connections.py); latency counts from when a request was due;"
          f" {result['seconds']} s per step after {result['warm_up_seconds']} s of warm-up.\n")
    print("| step | tenant | asked/s | sent/s | 2xx/s | p50 ms | p99 ms | max ms | 429 | other failures | generator lag max ms"
          " | generator CPU s | gateway CPU s | machine CPU busy |")
    print("|---|---|---|---|---|---|---|---|---|---|---|---|---|---|")
    for step, tenant, entry in [(f"{steady} alone", steady, result["steady_alone"]),
                                (f"{steady} beside {limited}", steady, result["steady_beside"]),
                                (f"{steady} beside {limited}", limited, result["limited_beside"])]:
        print(f"| {step} | {tenant} | {entry['rate']:,} | {entry['sent_per_second']:,.0f} | {entry['succeeded_per_second']:,.0f}"
              f" | {cell(entry['p50_ms'], '{:.2f}')} | {cell(entry['p99_ms'], '{:.2f}')} | {cell(entry['max_ms'], '{:.2f}')}"
              f" | {entry['rate_limited']:,} | {entry['other_failures']:,} | {entry['generator_lag_max_ms']:.1f}"
              f" | {entry['generator_cpu_seconds']:.1f} | {entry['gateway_cpu_seconds']:.1f} | {entry['machine_busy']:.0%} |")
    headers = result["limited_429_headers"]
    print(f"\n{steady}'s p99 beside {limited} over its p99 alone: {cell(result['steady_p99_ratio'], '{:.2f}')}"
          f" (goal: at most {result['goal_ratio']}); 429s to {steady}: {result['steady_rate_limited']} (goal: none);"
          f" {limited}: {cell(result['limited_429_share'], '{:.1%}')} of its requests answered 429"
          + (f" ({', '.join(f'{name}: {value}' for name, value in headers.items())})" if headers else "") + ".\n")


def counts(counter):
    return ", ".join(f"{name}: {count:,}" for name, count in sorted(counter.items())) or "none"


def write_plans(plans, path):
    lines = ["# Query plans of the size-sensitivity queries", "",
             "The statements the gateway ran (from the PostgreSQL log, parameters substituted), each run again with"
             " `EXPLAIN (ANALYZE, BUFFERS)` as fhir_gateway.", ""]
    for entry in plans:
        part = f" (statement {entry['statement']} of {entry['statements']})" if entry["statements"] > 1 else ""
        lines += [f"## {entry['label']}: `{entry['endpoint']}`{part}", "", "```sql", entry["sql"], "```", "", "```", entry["plan"], "```", ""]
    with open(path, "w") as handle:
        handle.write("\n".join(lines))
    print(f"Query plans: {path}", file=sys.stderr)


def write_json(report, path):
    os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
    with open(path, "w") as handle:
        json.dump(report, handle, indent=2)
        handle.write("\n")
    print(f"JSON: {path}", file=sys.stderr)


def scenario_names(value):
    names = [name.strip() for name in value.split(",") if name.strip()]
    unknown = [name for name in names if name not in SCENARIOS]
    if unknown or not names:
        raise argparse.ArgumentTypeError(f"unknown scenario {', '.join(unknown) or repr(value)}; valid: {', '.join(SCENARIOS)}")
    return names


def parse_arguments():
    parser = argparse.ArgumentParser(
        prog="bench/run.sh", formatter_class=argparse.RawDescriptionHelpFormatter,
        description="Benchmarks the gateway against a throwaway PostgreSQL. bench/run.sh also takes --binary PATH:"
                    " use that release build instead of running `swift build -c release`; and --pg-data DIR: a PostgreSQL"
                    " cluster kept in DIR between runs (made on first use; --scenario export uses"
                    " /var/tmp/fhir-gateway-bench-pg unless given).",
        epilog="scenarios (for --scenario):\n"
               + "".join(f"  {name:<12}{label}\n" for name, label in GROUPINGS.items())
               + "".join(f"  {name:<12}{label}\n" for name, label in READS.items())
               + f"  {'pgbench':<12}{PGBENCH}\n"
               + f"  {'post':<12}POST Observation with 1 and 32 clients (1 tenant only)\n"
               + f"  {'transaction':<12}POST transaction Bundle with 8 clients (1 tenant only)\n"
               + "".join(f"  {name:<12}{label}\n" for name, label in STANDALONE.items())
               + f"  {'':<12}size queries: {', '.join(SIZES.values())}\n"
               "Tenant groupings and endpoints combine: read,many runs GET Patient/<id> at --tenants tenants only;\n"
               "a kind left unnamed means all of it. Without bare, 'vs bare route' stays empty. scale, memory,\n"
               "connections, provision, fairness and export stand alone; without --scenario everything runs (scale only\n"
               "with --seed-scale) except export, which runs only when named (it seeds --export-patients patients once,\n"
               "into a cluster that bench/run.sh keeps in --pg-data, default /var/tmp/fhir-gateway-bench-pg).\n"
               f"Writes run with synchronous_commit {' and then '.join(WRITE_COMMITS)}; everything else with {READ_COMMIT}.")
    parser.add_argument("--patients", type=int, default=20000,
                        help="total patients in each grouping (and in the provision and fairness scenarios)")
    parser.add_argument("--tenants", type=int, default=1000, help="tenants in the many grouping")
    parser.add_argument("--tenants-large", type=int, default=10000, help="tenants in the tenants10k grouping and the provision scenario")
    parser.add_argument("--duration", type=int, default=15, help="seconds of each measured load")
    parser.add_argument("--connections", type=int, default=32)
    parser.add_argument("--seed-scale", type=int, default=0, help="patients of the scale tenant (needed by the scale scenario)")
    parser.add_argument("--soak-seconds", type=int, default=60, help="length of the memory scenario's soak")
    parser.add_argument("--open-connections", type=int, default=10000, help="connections held by the connections scenario")
    parser.add_argument("--rate", type=int, default=2000, help="requests/s over all of them in the connections scenario")
    parser.add_argument("--export-patients", type=int, default=1000000,
                        help="patients of the export scenario's tenant (default: %(default)s); its database is seeded once"
                             " and kept, by size, in the cluster of bench/run.sh --pg-data")
    parser.add_argument("--export-timeout", type=int, default=1800, metavar="SECONDS",
                        help="the export scenario gives up (and cancels the job) when there is no manifest this long after"
                             " the kick-off (default: %(default)s)")
    parser.add_argument("--reseed", action="store_true", help="seed the export scenario's database again even if kept")
    parser.add_argument("--scenario", type=scenario_names, default=[], metavar="NAME[,NAME...]",
                        help="run only these scenarios (listed below); default: all")
    parser.add_argument("--json", default="bench/results/latest.json", metavar="PATH",
                        help="where to write the results as JSON, relative to the repository root (default: %(default)s);"
                             " query plans go to plans.md beside it")
    args = parser.parse_args()
    if "scale" in args.scenario and not args.seed_scale:
        parser.error("--scenario scale needs --seed-scale N")
    if args.scenario and not plan(args.scenario, args.seed_scale) and not (set(STANDALONE) - {"scale"}) & set(args.scenario):
        parser.error("--scenario selects nothing to run (post and transaction run at 1 tenant only)")
    return args


def main(args):
    directory = tempfile.mkdtemp(prefix="fhir-gateway-bench-")
    groupings = [Grouping("one", "bench_one", ["solo"], 18181, args.patients),
                 Grouping("many", "bench_many", [f"t{index:04d}" for index in range(args.tenants)], 18182, args.patients),
                 Grouping("tenants10k", "bench_tenants10k", [f"t{index:05d}" for index in range(args.tenants_large)], 18184, args.patients),
                 Grouping("scale", "bench_scale", ["scale"], 18183, args.seed_scale)]
    selected = plan(args.scenario, args.seed_scale)
    summaries, figures, plans = [], [], []
    for grouping in groupings:
        if grouping.name in selected:
            summary, measured, planned = bench_grouping(directory, grouping, selected[grouping.name], args)
            summaries.append(summary)
            figures += measured
            plans += planned
    figures.sort(key=lambda entry: (GROUPING_ORDER.index(entry["grouping"]), ENDPOINT_ORDER.index(entry["endpoint"])))
    add_ratios(figures)
    plans_path = os.path.join(os.path.dirname(os.path.abspath(args.json)), "plans.md")
    report = {
        "timestamp": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "command": os.environ["BENCH_COMMAND"],
        "machine": machine(),
        "postgresql": {"settings": postgres_settings(),
                       "synchronous_commit": {"seeding_reads_pgbench": READ_COMMIT, "writes": WRITE_COMMITS,
                                              "headline_writes": WRITE_COMMITS[0],
                                              "how": "ALTER DATABASE ... SET synchronous_commit before the gateway starts,"
                                                     " checked with SHOW synchronous_commit as fhir_gateway"}},
        "groupings": summaries,
        "figures": figures,
        "size_sensitivity": size_sensitivity(figures),
        "plans": plans,
        "plans_markdown": os.path.relpath(plans_path, ROOT) if plans else None,
        "memory": memory(directory, args) if not args.scenario or "memory" in args.scenario else None,
        "connections": connections(directory, args) if not args.scenario or "connections" in args.scenario else None,
        "provision": provision(directory, args) if not args.scenario or "provision" in args.scenario else None,
        "fairness": fairness(directory, args) if not args.scenario or "fairness" in args.scenario else None,
        "export": bulk_export(directory, args) if "export" in args.scenario else None,
    }
    print_markdown(report)
    write_json(report, args.json)
    if plans:
        write_plans(plans, plans_path)
    if report["export"] and report["export"].get("error"):
        print(f"bench/run.sh: the export scenario failed: {report['export']['error']}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    arguments = parse_arguments()
    PORT, PGBIN, BINARY = int(os.environ["BENCH_PG_PORT"]), os.environ["BENCH_PGBIN"], os.environ["BENCH_BINARY"]
    PG_LOG = os.environ["BENCH_PG_LOG"]
    PG_DATA, PG_KEPT = os.environ.get("BENCH_PG_DATA", ""), bool(os.environ.get("BENCH_PG_KEPT"))
    sys.exit(main(arguments))
