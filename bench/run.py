#!/usr/bin/env python3
"""Drives bench/run.sh: seeds, starts the gateway, runs wrk and pgbench, prints a Markdown report and writes JSON."""
import argparse
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
GROUPINGS = {"one": "1 tenant holding all --patients", "many": "--tenants tenants sharing the same --patients"}
READS = {"bare": "GET /healthz (bare route)", "read": "GET Patient/<id>", "family": "Patient?family=<name>&_count=20",
         "encounter": "Encounter?patient=<id>&date=ge<date>"}
PGBENCH = "pgbench: the read's SQL (BEGIN, set_config, SELECT, COMMIT)"
WRITES = [  # scenario, endpoint, clients, path after /<tenant>/r4, body
    ("post", "POST Observation, 1 client", 1, "/Observation", "observation"),
    ("post", "POST Observation, 32 clients", 32, "/Observation", "observation"),
    ("transaction", "POST transaction (1 DiagnosticReport + 10 Observations), 8 clients", 8, "", "transaction"),
]
ENDPOINTS = [*READS, "pgbench", "post", "transaction"]
SCENARIOS = [*GROUPINGS, *ENDPOINTS, "seed-scale"]
ENDPOINT_ORDER = [*READS.values(), PGBENCH, *(write[1] for write in WRITES)]
READ_COMMIT = "off"  # seeding, reads and pgbench
WRITE_COMMITS = ["on", "off"]  # the first is the headline figure


@dataclass(frozen=True)
class Grouping:
    name: str
    database: str
    slugs: list
    port: int

    @property
    def label(self):
        return "1 tenant" if len(self.slugs) == 1 else f"{len(self.slugs)} tenants"


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


def write_config(directory, grouping):
    port = grouping.port
    lines = [
        "server:", "  host: 127.0.0.1", f"  port: {port}", f"  public_base_url: http://127.0.0.1:{port}",
        "  cursor_secret: bench-cursor-secret-0123456789abcdef0123",
        "database:", f"  url: postgres://fhir_gateway:gateway@127.0.0.1:{PORT}/{grouping.database}",
        f"  migration_url: postgres://fhir_owner:owner@127.0.0.1:{PORT}/{grouping.database}",
        "development_issuer:", f"  key_file: {directory}/dev-key.pem", "tenants:",
    ]
    for slug in grouping.slugs:
        lines += [f"  - slug: {slug}", "    issuer: development", f"    audience: http://127.0.0.1:{port}/{slug}/r4"]
    path = os.path.join(directory, f"{grouping.database}.yaml")
    with open(path, "w") as handle:
        handle.write("\n".join(lines) + "\n")
    return path


def seed(config, slugs, patients_per_tenant):
    started = time.time()
    for index in range(0, len(slugs), 200):
        run([BINARY, "seed", "--config", config, "--tenants", ",".join(slugs[index:index + 200]), "--patients", str(patients_per_tenant)])
    return time.time() - started


@contextlib.contextmanager
def gateway(config, port):
    server = subprocess.Popen([BINARY, "serve", "--config", config], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                              env={**os.environ, "LOG_LEVEL": "warning"})
    try:
        wait_until_ready(port)
        yield f"http://127.0.0.1:{port}"
    finally:
        server.terminate()
        server.wait()


def wait_until_ready(port):
    for _ in range(100):
        try:
            urllib.request.urlopen(f"http://127.0.0.1:{port}/readyz", timeout=1)
            return
        except OSError:
            time.sleep(0.2)
    raise RuntimeError(f"the gateway on port {port} did not become ready")


def tokens(config, slugs, scope):
    return run([BINARY, "token", "--config", config, "--tenant", ",".join(slugs), "--scope", scope, "--ttl", "7200"]).stdout.split()


def get(url, token):
    request = urllib.request.Request(url, headers={"Authorization": f"Bearer {token}"})
    with urllib.request.urlopen(request, timeout=30) as response:
        return json.load(response)


def request_files(directory, grouping, url, slug_tokens):
    """Writes one "path<TAB>token" file per read endpoint, from up to 200 tenants' first 50 patients."""
    lines = {"bare": ["/healthz\t"], "read": [], "family": [], "encounter": []}
    slugs = grouping.slugs
    for slug in slugs if len(slugs) <= 200 else slugs[:: max(1, len(slugs) // 200)]:
        token = slug_tokens[slug]
        for entry in get(f"{url}/{slug}/r4/Patient?_count=50", token).get("entry", []):
            patient = entry["resource"]
            lines["read"].append(f"/{slug}/r4/Patient/{patient['id']}\t{token}")
            lines["family"].append(f"/{slug}/r4/Patient?family={urllib.parse.quote(patient['name'][0]['family'][:4])}&_count=20\t{token}")
            lines["encounter"].append(f"/{slug}/r4/Encounter?patient={patient['id']}&date=ge2024-06-01\t{token}")
    files = {}
    for name, content in lines.items():
        files[name] = os.path.join(directory, f"{grouping.database}-{name}.txt")
        with open(files[name], "w") as handle:
            handle.write("\n".join(content) + "\n")
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


def first_patient(database, slug):
    return psql(database, f"SELECT p.tenant_id, p.id FROM patients p JOIN tenants t ON t.id = p.tenant_id "
                          f"WHERE t.slug = '{slug}' ORDER BY p.id LIMIT 1").split("|")


def pgbench(database, tenant_id, patient_id, duration, connections):
    script = f"""BEGIN;
SELECT set_config('app.tenant_id', '{tenant_id}', true);
SELECT t.id, t.hospital_id, t.mrn, t.given_name, t.middle_name, t.family_name, t.gender, t.birth_date, t.phone, t.email, t.address_line, t.city, t.state, t.postal_code, t.country, t.deceased_at, t.active, t.updated_at FROM patients t WHERE t.tenant_id = '{tenant_id}'::uuid AND t.id = '{patient_id}'::uuid;
COMMIT;
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
    with gateway(config, grouping.port) as url:
        slug_tokens = dict(zip(grouping.slugs, tokens(config, grouping.slugs, "system/*.rs")))
        files = request_files(directory, grouping, url, slug_tokens)
        return [figure(grouping, name, READS[name], READ_COMMIT, args.connections,
                       wrk("rotate.lua", url, args.duration, args.connections, [files[name]])) for name in names]


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
    """Seeds the grouping's database and measures the endpoints; returns its summary and its figures."""
    create_database(grouping.database)
    config = write_config(directory, grouping)
    seed_seconds = seed(config, grouping.slugs, max(1, args.patients // len(grouping.slugs)))
    figures = []
    reads = [name for name in READS if name in endpoints]
    if reads:
        figures += read_figures(directory, grouping, config, reads, args)
    if "pgbench" in endpoints:
        figures.append(pgbench_figure(grouping, args))
    writes = [name for name in ["post", "transaction"] if name in endpoints]
    if writes:
        for commit in WRITE_COMMITS:
            figures += write_figures(directory, grouping, config, writes, commit, args)
    summary = {"grouping": grouping.name, "label": grouping.label, "tenants": len(grouping.slugs), "patients": args.patients,
               "seed_seconds": seed_seconds}
    return summary, figures


def plan(names):
    """Maps each grouping to run to its endpoints. A kind (grouping, endpoint) that --scenario leaves unnamed means all of it."""
    groupings = [name for name in GROUPINGS if name in names]
    endpoints = [name for name in ENDPOINTS if name in names]
    if names and not groupings and not endpoints:
        return {}
    endpoints = endpoints or ENDPOINTS
    selected = {name: [endpoint for endpoint in endpoints if name == "one" or endpoint not in ["post", "transaction"]]
                for name in groupings or GROUPINGS}
    return {name: chosen for name, chosen in selected.items() if chosen}


def add_ratios(figures):
    bare = {entry["grouping"]: entry["requests_per_second"] for entry in figures if entry["scenario"] == "bare"}
    for entry in figures:
        base = bare.get(entry["grouping"])
        entry["vs_bare"] = entry["requests_per_second"] / base if base else None


def seed_scale(directory, patients):
    grouping = Grouping("scale", "bench_scale", ["scale"], 18183)
    create_database(grouping.database)
    config = write_config(directory, grouping)
    started = time.time()
    output = run([BINARY, "seed", "--config", config, "--tenants", "scale", "--patients", str(patients)]).stdout.strip()
    return {"patients": patients, "seconds": time.time() - started, "output": output, "synchronous_commit": READ_COMMIT}


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
    print("| scenario | endpoint | synchronous_commit | requests/s | p50 ms | p99 ms | non-2xx | vs bare route |")
    print("|---|---|---|---|---|---|---|---|")
    labels = {summary["grouping"]: summary["label"] for summary in report["groupings"]}
    for entry in report["figures"]:
        print(f"| {labels[entry['grouping']]} | {entry['endpoint']} | {entry['synchronous_commit']} | {entry['requests_per_second']:,.0f}"
              f" | {cell(entry['p50_ms'], '{:.2f}')} | {cell(entry['p99_ms'], '{:.2f}')} | {cell(entry['errors'], '{}')}"
              f" | {cell(entry['vs_bare'], '{:.2f}')} |")
    print()
    for summary in report["groupings"]:
        print(f"Seeding ({summary['label']}, {summary['patients']} patients in all): {summary['seed_seconds']:.1f} s")
    if report["seed_scale"]:
        scale = report["seed_scale"]
        print(f"Seeding one tenant with {scale['patients']:,} patients: {scale['seconds']:.0f} s ({scale['output']})")


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
               + f"  {'seed-scale':<12}time seeding one tenant with --seed-scale patients\n"
               "Tenant groupings and endpoints combine: read,many runs GET Patient/<id> at --tenants tenants only;\n"
               "a kind left unnamed means all of it. Without bare, 'vs bare route' stays empty.\n"
               f"Writes run with synchronous_commit {' and then '.join(WRITE_COMMITS)}; everything else with {READ_COMMIT}.")
    parser.add_argument("--patients", type=int, default=20000, help="total patients in each scenario")
    parser.add_argument("--tenants", type=int, default=1000, help="tenants in the many-tenant scenario")
    parser.add_argument("--duration", type=int, default=15)
    parser.add_argument("--connections", type=int, default=32)
    parser.add_argument("--seed-scale", type=int, default=0, help="also time seeding one tenant with this many patients")
    parser.add_argument("--scenario", type=scenario_names, default=[], metavar="NAME[,NAME...]",
                        help="run only these scenarios (listed below); default: all")
    parser.add_argument("--json", default="bench/results/latest.json", metavar="PATH",
                        help="where to write the results as JSON, relative to the repository root (default: %(default)s)")
    args = parser.parse_args()
    if "seed-scale" in args.scenario and not args.seed_scale:
        parser.error("--scenario seed-scale needs --seed-scale N")
    if args.scenario and not plan(args.scenario) and "seed-scale" not in args.scenario:
        parser.error("--scenario selects nothing to run (post and transaction run at 1 tenant only)")
    return args


def main(args):
    directory = tempfile.mkdtemp(prefix="fhir-gateway-bench-")
    groupings = [Grouping("one", "bench_one", ["solo"], 18181),
                 Grouping("many", "bench_many", [f"t{index:04d}" for index in range(args.tenants)], 18182)]
    selected = plan(args.scenario)
    summaries, figures = [], []
    for grouping in groupings:
        if grouping.name in selected:
            summary, measured = bench_grouping(directory, grouping, selected[grouping.name], args)
            summaries.append(summary)
            figures += measured
    figures.sort(key=lambda entry: (list(GROUPINGS).index(entry["grouping"]), ENDPOINT_ORDER.index(entry["endpoint"])))
    add_ratios(figures)
    wants_scale = args.seed_scale and (not args.scenario or "seed-scale" in args.scenario)
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
        "seed_scale": seed_scale(directory, args.seed_scale) if wants_scale else None,
    }
    print_markdown(report)
    write_json(report, args.json)


if __name__ == "__main__":
    arguments = parse_arguments()
    PORT, PGBIN, BINARY = int(os.environ["BENCH_PG_PORT"]), os.environ["BENCH_PGBIN"], os.environ["BENCH_BINARY"]
    sys.exit(main(arguments))
