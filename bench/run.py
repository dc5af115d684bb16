#!/usr/bin/env python3
"""Drives bench/run.sh: seeds, starts the gateway, runs wrk and pgbench, prints a Markdown report and writes JSON."""
import argparse
import concurrent.futures
import contextlib
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
from dataclasses import dataclass

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
}
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
    psql("postgres", f"CREATE DATABASE {name} OWNER fhir_owner")
    set_synchronous_commit(name, READ_COMMIT)


def postgres_settings():
    names = ["server_version", "shared_buffers", "max_connections", "fsync", "full_page_writes", "wal_level",
             "wal_sync_method", "synchronous_commit"]
    values = psql("postgres", f"SELECT {', '.join(f'current_setting({name!r})' for name in names)}").split("|")
    return dict(zip(names, values))


def write_config(directory, grouping, per_client=None):
    port = grouping.port
    lines = [
        "server:", "  host: 127.0.0.1", f"  port: {port}", f"  public_base_url: http://127.0.0.1:{port}",
        "  cursor_secret: bench-cursor-secret-0123456789abcdef0123",
        *([f"  maximum_connections_per_client: {per_client}"] if per_client else []),
        "database:", f"  url: postgres://fhir_gateway:gateway@127.0.0.1:{PORT}/{grouping.database}",
        f"  migration_url: postgres://fhir_owner:owner@127.0.0.1:{PORT}/{grouping.database}",
        "development_issuer:", f"  key_file: {directory}/dev-key.pem", "tenants:",
    ]
    for slug in grouping.slugs:
        lines += [f"  - slug: {slug}", "    issuer: development", f"    audience: http://127.0.0.1:{port}/{slug}/r4"]
    path = os.path.join(directory, f"{grouping.name}.yaml")
    with open(path, "w") as handle:
        handle.write("\n".join(lines) + "\n")
    return path


def seed(config, slugs, patients_per_tenant):
    """Returns the seconds taken and the summary each `seed` run printed last (after its log lines)."""
    started = time.time()
    outputs = [run([BINARY, "seed", "--config", config, "--tenants", ",".join(slugs[index:index + SEED_BATCH]),
                    "--patients", str(patients_per_tenant)]).stdout.strip().splitlines()[-1] for index in range(0, len(slugs), SEED_BATCH)]
    return time.time() - started, outputs


def prepare(directory, grouping, per_client=None):
    """Creates and seeds the grouping's database; returns its configuration file, the seconds seeding took and its summaries."""
    create_database(grouping.database)
    config = write_config(directory, grouping, per_client)
    return (config, *seed(config, grouping.slugs, max(1, grouping.patients // len(grouping.slugs))))


@contextlib.contextmanager
def gateway_process(config):
    server = subprocess.Popen([BINARY, "serve", "--config", config], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                              env={**os.environ, "LOG_LEVEL": "warning"})
    try:
        yield server
    finally:
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


def tokens(config, slugs, scope):
    return run([BINARY, "token", "--config", config, "--tenant", ",".join(slugs), "--scope", scope, "--ttl", "7200"]).stdout.split()


def get(url, token):
    request = urllib.request.Request(url, headers={"Authorization": f"Bearer {token}"})
    with urllib.request.urlopen(request, timeout=30) as response:
        return json.load(response)


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
          " database, the others are absent (the gateway warns and answers 503 for their data routes).\n")
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
                    " use that release build instead of running `swift build -c release`.",
        epilog="scenarios (for --scenario):\n"
               + "".join(f"  {name:<12}{label}\n" for name, label in GROUPINGS.items())
               + "".join(f"  {name:<12}{label}\n" for name, label in READS.items())
               + f"  {'pgbench':<12}{PGBENCH}\n"
               + f"  {'post':<12}POST Observation with 1 and 32 clients (1 tenant only)\n"
               + f"  {'transaction':<12}POST transaction Bundle with 8 clients (1 tenant only)\n"
               + "".join(f"  {name:<12}{label}\n" for name, label in STANDALONE.items())
               + f"  {'':<12}size queries: {', '.join(SIZES.values())}\n"
               "Tenant groupings and endpoints combine: read,many runs GET Patient/<id> at --tenants tenants only;\n"
               "a kind left unnamed means all of it. Without bare, 'vs bare route' stays empty. scale, memory and\n"
               "connections stand alone; without --scenario everything runs (scale only with --seed-scale).\n"
               f"Writes run with synchronous_commit {' and then '.join(WRITE_COMMITS)}; everything else with {READ_COMMIT}.")
    parser.add_argument("--patients", type=int, default=20000, help="total patients in each grouping")
    parser.add_argument("--tenants", type=int, default=1000, help="tenants in the many grouping")
    parser.add_argument("--tenants-large", type=int, default=10000, help="tenants in the tenants10k grouping")
    parser.add_argument("--duration", type=int, default=15)
    parser.add_argument("--connections", type=int, default=32)
    parser.add_argument("--seed-scale", type=int, default=0, help="patients of the scale tenant (needed by the scale scenario)")
    parser.add_argument("--soak-seconds", type=int, default=60, help="length of the memory scenario's soak")
    parser.add_argument("--open-connections", type=int, default=10000, help="connections held by the connections scenario")
    parser.add_argument("--rate", type=int, default=2000, help="requests/s over all of them in the connections scenario")
    parser.add_argument("--scenario", type=scenario_names, default=[], metavar="NAME[,NAME...]",
                        help="run only these scenarios (listed below); default: all")
    parser.add_argument("--json", default="bench/results/latest.json", metavar="PATH",
                        help="where to write the results as JSON, relative to the repository root (default: %(default)s);"
                             " query plans go to plans.md beside it")
    args = parser.parse_args()
    if "scale" in args.scenario and not args.seed_scale:
        parser.error("--scenario scale needs --seed-scale N")
    if args.scenario and not plan(args.scenario, args.seed_scale) and not {"memory", "connections"} & set(args.scenario):
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
    }
    print_markdown(report)
    write_json(report, args.json)
    if plans:
        write_plans(plans, plans_path)


if __name__ == "__main__":
    arguments = parse_arguments()
    PORT, PGBIN, BINARY = int(os.environ["BENCH_PG_PORT"]), os.environ["BENCH_PGBIN"], os.environ["BENCH_BINARY"]
    PG_LOG = os.environ["BENCH_PG_LOG"]
    sys.exit(main(arguments))
