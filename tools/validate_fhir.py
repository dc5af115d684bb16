#!/usr/bin/env python3
"""Independent checker for FHIR R4 JSON resources emitted by the gateway.

    python3 tools/validate_fhir.py --shared ../shared/fhir [--profile base|us-core|gateway]
                                   [--verbose] [--no-fhirkit] FILE_OR_DIR...

Each input file holds one resource or a Bundle (the Bundle and each entry.resource are checked,
each counted as one resource), or, named *.ndjson, one resource per line (Bulk Data output). Checks per resource:
  a. the official R4 JSON schema, `#/definitions/<Type>` (contained resources are checked against
     their own type; the schema's missing `_x` siblings of canonical elements are added back);
  b. a StructureDefinition snapshot:
       base     the R4 definition, where r4/StructureDefinition-<Type>.json exists;
       us-core  the US Core profile declared in meta.profile if the package has it, else the one
                mapped from the type (US_CORE_MAP), else as base;
       gateway  our profiles/ (differential applied onto the US Core snapshot), else as us-core.
     Checked: min/max cardinality (choice types too), fixed[x], pattern[x], allowed choice types,
     required bindings that expand offline (US Core ValueSets/CodeSystems, the schema's enum for
     core code bindings, R4_EXTRA), slices with value/pattern/type discriminators (extension
     slices by url). Not checked: FHIRPath invariants, reference targets, contents of extensions,
     bindings that don't expand and slices whose discriminator doesn't evaluate (--verbose lists
     them; all such US Core slices are 0..*);
  c. fhirkit (PyPI fhirkit-rs) when importable, for paths a and b found clean.
Prints `FILE[#entry]: Type/id: path: message` per problem, then `N passed, M failed`;
exits 0 iff no resource failed.
"""
import argparse
import json
import sys
from pathlib import Path

import jsonschema

try:
    import fhirkit
except ImportError:  # optional
    fhirkit = None

US_CORE = "http://hl7.org/fhir/us/core/StructureDefinition/"
US_CORE_MAP = {
    "Patient": "us-core-patient",
    "Practitioner": "us-core-practitioner",
    "Encounter": "us-core-encounter",
    "MedicationRequest": "us-core-medicationrequest",
    "Organization": "us-core-organization",
    "Observation": "us-core-observation-lab",
    "DiagnosticReport": "us-core-diagnosticreport-lab",
}


def load(path):
    with open(path, encoding="utf-8") as f:
        if str(path).endswith(".ndjson"):
            return [json.loads(line) for line in f if line.strip()]
        return json.load(f)


def cap(type_code):
    return type_code[:1].upper() + type_code[1:]


def card(max_):
    return float("inf") if max_ == "*" else int(max_)


def as_list(v):
    return v if isinstance(v, list) else [v]


def fixed_or_pattern(el):
    """('fixed'|'pattern', value) of an element definition, or (None, None)."""
    for k, v in el.items():
        if k.startswith("fixed") or k.startswith("pattern"):
            return ("fixed" if k.startswith("fixed") else "pattern"), v
    return None, None


def matches_pattern(inst, pat):
    """FHIR pattern semantics: every field of the pattern is in the instance; each item of a
    pattern array matches some item of the instance array."""
    if isinstance(pat, dict):
        return isinstance(inst, dict) and all(matches_pattern(inst.get(k), v) for k, v in pat.items())
    if isinstance(pat, list):
        items = as_list(inst) if inst is not None else []
        return all(any(matches_pattern(i, p) for i in items) for p in pat)
    return inst == pat


# Codes of core R4 required bindings used by the gateway's resources that neither the R4 schema
# (it has no enum for them) nor the US Core package enumerates; transcribed from the R4 spec.
R4_EXTRA = {
    "http://hl7.org/fhir/ValueSet/medicationrequest-status": (
        "http://hl7.org/fhir/CodeSystem/medicationrequest-status",
        "active on-hold cancelled completed entered-in-error stopped draft unknown"),
    "http://hl7.org/fhir/ValueSet/medicationrequest-intent": (
        "http://hl7.org/fhir/CodeSystem/medicationrequest-intent",
        "proposal plan order original-order reflex-order filler-order instance-order option"),
    "http://hl7.org/fhir/ValueSet/medicationrequest-category": (
        "http://terminology.hl7.org/CodeSystem/medicationrequest-category",
        "inpatient outpatient community discharge"),
    "http://hl7.org/fhir/ValueSet/request-priority": (
        "http://hl7.org/fhir/request-priority", "routine urgent asap stat"),
}

GATEWAY_MAP = {t: "fhir-gateway-" + US_CORE_MAP[t][len("us-core-"):] for t in
               ("Patient", "Practitioner", "Encounter", "MedicationRequest", "Organization")}


class Terminology:
    """Expands the US Core ValueSets that are enumerable from the package's own files."""

    def __init__(self, us_core_dir):
        self.valuesets, self.codesystems, self.cache = {}, {}, {}
        for f in sorted(us_core_dir.glob("ValueSet-*.json")):
            vs = load(f)
            self.valuesets[vs["url"]] = vs
        for f in sorted(us_core_dir.glob("CodeSystem-*.json")):
            cs = load(f)
            self.codesystems[cs["url"]] = cs

    def _all_codes(self, concepts):
        for c in concepts:
            yield c["code"]
            yield from self._all_codes(c.get("concept", []))

    def _part(self, inc):
        if inc.get("filter") or (inc.get("valueSet") and inc.get("system")):
            return None
        codes = set()
        for sub in inc.get("valueSet", []):
            s = self.expand(sub)
            if s is None:
                return None
            codes |= s
        system = inc.get("system")
        if inc.get("concept"):
            codes |= {(system, c["code"]) for c in inc["concept"]}
        elif system:
            cs = self.codesystems.get(system)
            if not cs or cs.get("content") != "complete":
                return None
            codes |= {(system, c) for c in self._all_codes(cs.get("concept", []))}
        return codes

    def expand(self, url):
        """Set of (system, code), or None when it cannot be expanded offline."""
        url = url.split("|")[0]
        if url in R4_EXTRA:
            system, codes = R4_EXTRA[url]
            return {(system, c) for c in codes.split()}
        if url not in self.cache:
            self.cache[url] = None  # guards against include cycles
            vs, codes = self.valuesets.get(url), set()
            if vs is None:
                return None
            for inc in vs.get("compose", {}).get("include", []):
                part = self._part(inc)
                if part is None:
                    return None
                codes |= part
            for exc in vs.get("compose", {}).get("exclude", []):
                part = self._part(exc)
                if part is None:
                    return None
                codes -= part
            self.cache[url] = codes
        return self.cache[url]


class Profile:
    """A StructureDefinition snapshot indexed by element id."""

    def __init__(self, sd, elements=None):
        self.name, self.url = sd["name"], sd["url"]
        self.by_id, self.children, self.slices = {}, {}, {}
        for el in elements or sd["snapshot"]["element"]:
            eid = el["id"]
            self.by_id[eid] = el
            if "." not in eid:
                self.root = eid
                continue
            parent, last = eid.rsplit(".", 1)
            if ":" in last:  # a slice of parent.name
                name = last.split(":", 1)[0]
                self.slices.setdefault(f"{parent}.{name}", []).append(el)
            else:
                self.children.setdefault(parent, []).append(el)


class Checker:
    def __init__(self, shared, profile_set, verbose=False, use_fhirkit=True, gateway_dir=None):
        self.shared, self.profile_set, self.verbose = Path(shared), profile_set, verbose
        self.use_fhirkit = use_fhirkit and fhirkit is not None
        schema = load(self.shared / "r4" / "fhir.schema.json")
        self.defs = schema["definitions"]
        # Nested resources are checked one by one against their own type, which is far faster
        # and gives better messages than the schema's oneOf over every resource type.
        self.defs["ResourceList"] = {"type": "object", "required": ["resourceType"]}
        # The published R4 schema omits the `_name` (extensions) sibling of canonical elements,
        # e.g. QuestionnaireResponse._questionnaire, which is valid FHIR JSON: add them back.
        for d in self.defs.values():
            props = d.get("properties", {})
            for k, v in list(props.items()):
                if v.get("items", v).get("$ref") == "#/definitions/canonical" and "_" + k not in props:
                    ext = {"$ref": "#/definitions/Element"}
                    props["_" + k] = {"type": "array", "items": ext} if "items" in v else ext
        self.type_suffixes = {cap(k) for k in self.defs if "_" not in k}
        self.validators, self.profiles = {}, {}
        self.term = Terminology(self.shared / "us-core")
        self.notes = set()  # skipped bindings/slices, printed with --verbose
        self.gateway_dir = Path(gateway_dir) if gateway_dir else Path(__file__).resolve().parents[1] / "profiles"
        types = load(self.shared / "r4" / "profiles-types.json")
        self.datatype_elements = {e["id"]: e for entry in types["entry"]
                                  for e in entry["resource"].get("snapshot", {}).get("element", [])}

    # ---------- a. JSON schema ----------
    def schema_problems(self, res, prefix):
        rtype = res.get("resourceType")
        if rtype not in self.defs or "properties" not in self.defs[rtype]:
            return [(prefix, "missing", f"unknown resourceType {rtype!r}")]
        if rtype not in self.validators:
            self.validators[rtype] = jsonschema.Draft6Validator(
                {"$ref": f"#/definitions/{rtype}", "definitions": self.defs})
        out = []
        for e in sorted(self.validators[rtype].iter_errors(res), key=lambda e: list(map(str, e.absolute_path))):
            path = prefix + "".join(f"[{p}]" if isinstance(p, int) else f".{p}" for p in e.absolute_path)
            if e.validator == "required":
                missing = e.message.split("'")[1]
                out.append((f"{path}.{missing}", "missing", "required element missing"))
            elif e.validator == "additionalProperties":
                for k in sorted(set(e.instance) - set(e.schema.get("properties", {}))):
                    out.append((f"{path}.{k}", "schema", "unknown element"))
            else:
                msg = e.message if len(e.message) < 200 else e.message[:200] + "..."
                out.append((path, "schema", f"{msg} ({e.validator})"))
        for i, c in enumerate(res.get("contained", []) if isinstance(res.get("contained"), list) else []):
            if isinstance(c, dict):
                out += self.schema_problems(c, f"{prefix}.contained[{i}]")
        return out

    # ---------- b. StructureDefinition snapshot ----------
    def profile_for(self, res):
        rtype = res.get("resourceType")
        names = []
        if self.profile_set == "gateway":
            path = self.gateway_dir / f"StructureDefinition-{GATEWAY_MAP.get(rtype, '-')}.json"
            if path.is_file():
                if path not in self.profiles:
                    self.profiles[path] = self.derived_profile(load(path))
                return self.profiles[path]
        if self.profile_set in ("us-core", "gateway"):
            declared = [p.split("|")[0] for p in res.get("meta", {}).get("profile", [])
                        if isinstance(p, str) and p.startswith(US_CORE)]
            names = [("us-core", p[len(US_CORE):]) for p in declared]
            if rtype in US_CORE_MAP:
                names.append(("us-core", US_CORE_MAP[rtype]))
        names.append(("r4", rtype))
        for folder, name in names:
            path = self.shared / folder / f"StructureDefinition-{name}.json"
            if path in self.profiles:
                prof = self.profiles[path]
            elif path.is_file():
                prof = self.profiles[path] = Profile(load(path))
            else:
                continue
            if prof.root == rtype:
                return prof
        return None

    def derived_profile(self, sd):
        """Snapshot of a constraint profile: its differential applied to its base's snapshot.
        Elements below the base snapshot's depth come from the R4 datatype definitions.
        Raises ValueError when an element doesn't resolve or loosens the base cardinality."""
        base = self.profile_for_url(sd["baseDefinition"])
        by_id = {e["id"]: dict(e) for e in base.by_id.values()}
        for d in sd["differential"]["element"]:
            el = by_id.get(d["id"])
            if el is None:
                parent_id, name = d["id"].rsplit(".", 1)
                parent = by_id.get(parent_id, {})
                types = [t["code"] for t in parent.get("type", [])]
                owner = types[0] if len(types) == 1 and types[0] not in ("Element", "BackboneElement") \
                    else parent.get("dtpath")
                el = dict(self.datatype_elements.get(f"{owner}.{name}", {}))
                if not el:
                    raise ValueError(f"{sd['url']}: {d['id']} not found in base or datatypes")
                el["dtpath"] = el["path"]
                by_id[d["id"]] = el
            if d.get("min", el["min"]) < el["min"] or card(d.get("max", el["max"])) > card(el["max"]):
                raise ValueError(f"{sd['url']}: {d['id']} loosens cardinality {el['min']}..{el['max']}")
            if any(k.startswith(("fixed", "pattern")) for k in d):
                for k in [k for k in el if k.startswith(("fixed", "pattern"))]:
                    del el[k]
            el.update({k: v for k, v in d.items() if k != "path"})
        return Profile(sd, list(by_id.values()))

    def profile_for_url(self, url):
        name = url.split("|")[0].rsplit("/", 1)[-1]
        path = self.shared / "us-core" / f"StructureDefinition-{name}.json"
        if path not in self.profiles:
            self.profiles[path] = Profile(load(path))
        return self.profiles[path]

    def occurrences(self, node, name, path):
        """(json key, value, instance path) for each occurrence of element `name` in node."""
        if name.endswith("[x]"):
            base = name[:-3]
            keys = [k for k in node if k.startswith(base) and k[len(base):] in self.type_suffixes]
        else:
            keys = [name] if name in node else []
        if not keys and "_" + name in node:  # primitive carrying only extensions
            return [(name, None, f"{path}.{name}")]
        out = []
        for k in keys:
            v = node[k]
            if isinstance(v, list):
                out += [(k, item, f"{path}.{k}[{i}]") for i, item in enumerate(v)]
            else:
                out.append((k, v, f"{path}.{k}"))
        return out

    def walk(self, prof, eid, node, defname, path, out):
        for el in prof.children.get(eid, []):
            name = el["id"].rsplit(".", 1)[1]
            items = self.occurrences(node, name, path)
            self.check_items(prof, el, items, defname, f"{path}.{name}", out)

    def check_items(self, prof, el, items, defname, epath, out, slice_label=""):
        what = f"slice {slice_label}: " if slice_label else ""
        if len(items) < el["min"]:
            out.append((epath, "missing" if not slice_label else "slice",
                        f"{what}min cardinality {el['min']} not met (found {len(items)}) [{prof.name}]"))
        if len(items) > card(el["max"]):
            out.append((epath, "card", f"{what}max cardinality {el['max']} exceeded (found {len(items)}) [{prof.name}]"))
        kind, expected = fixed_or_pattern(el)
        name = el["id"].rsplit(".", 1)[1]
        choice_base = name[:-3] if name.endswith("[x]") else None  # not for type slices
        allowed = {cap(t["code"]): t["code"] for t in el.get("type", [])}
        for key, val, ipath in items:
            if choice_base is not None and allowed and key[len(choice_base):] not in allowed:
                out.append((ipath, "type", f"type not allowed here (allowed: {', '.join(sorted(allowed.values()))}) [{prof.name}]"))
                continue
            if val is None:
                continue
            if kind == "fixed" and val != expected:
                out.append((ipath, "fixed", f"must be fixed value {json.dumps(expected)} [{prof.name}]"))
            if kind == "pattern" and not matches_pattern(val, expected):
                out.append((ipath, "pattern", f"does not match pattern {json.dumps(expected)} [{prof.name}]"))
            prop = self.defs.get(defname, {}).get("properties", {}).get(key, {})
            prop = prop.get("items", prop)
            self.check_binding(prof, el, val, prop, ipath, out)
            if isinstance(val, dict):
                child_def = prop.get("$ref", "").rsplit("/", 1)[-1]
                self.walk(prof, el["id"], val, child_def, ipath, out)
        if "slicing" in el:
            for s in prof.slices.get(el["id"], []):
                matched = []
                for item in items:
                    m = self.in_slice(prof, el, s, item)
                    if m is None:
                        self.notes.add(f"{prof.name}: slice {s['id']} not checked (discriminator not evaluable)")
                        break
                    if m:
                        matched.append(item)
                else:
                    self.check_items(prof, s, matched, defname, epath, out, s["sliceName"])

    def in_slice(self, prof, base, s, item):
        """True/False if item belongs to slice s, None if the discriminator can't be evaluated."""
        key, val, _ = item
        for d in base["slicing"].get("discriminator", []):
            dpath = d["path"]
            if d["type"] == "type" and dpath == "$this":
                types = {cap(t["code"]) for t in s.get("type", [])}
                base_name = base["id"].rsplit(".", 1)[1][:-3]
                if key[len(base_name):] not in types:
                    return False
                continue
            if d["type"] not in ("value", "pattern"):
                return None
            target = s if dpath == "$this" else prof.by_id.get(f"{s['id']}.{dpath}")
            kind, expected = fixed_or_pattern(target) if target else (None, None)
            if kind is None and dpath == "url" and s.get("type", [{}])[0].get("profile"):
                kind, expected = "fixed", s["type"][0]["profile"][0].split("|")[0]  # extension slices
            values = [val]
            if dpath != "$this":
                for step in dpath.split("."):
                    values = [x for v in values if isinstance(v, dict) for x in as_list(v.get(step, []))]
            if kind is not None:
                if not any(matches_pattern(v, expected) for v in values):
                    return False
            elif target and target.get("binding", {}).get("strength") == "required":
                codes = self.term.expand(target["binding"]["valueSet"])
                if codes is None:
                    return None
                if not any(self.in_codes(v, codes, None) for v in values):
                    return False
            else:
                return None
        return True

    @staticmethod
    def in_codes(val, codes, enum):
        """val (code, Coding or CodeableConcept) against (system, code) pairs or a plain enum."""
        if isinstance(val, str):
            return val in enum if enum is not None else val in {c for _, c in codes}
        if not isinstance(val, dict):
            return False
        codings = val.get("coding", []) if "coding" in val or "text" in val else [val]
        for c in codings:
            if not isinstance(c, dict):
                continue
            if enum is not None and c.get("code") in enum:
                return True
            if codes is not None and (c.get("system"), c.get("code")) in codes:
                return True
        return False

    def check_binding(self, prof, el, val, prop, ipath, out):
        b = el.get("binding", {})
        if b.get("strength") != "required" or "valueSet" not in b:
            return
        vs = b["valueSet"].split("|")[0]
        codes, enum = self.term.expand(vs), None
        if codes is None and vs.startswith("http://hl7.org/fhir/ValueSet/"):
            enum = prop.get("enum")  # a core binding on a code: the schema lists its codes
        if codes is None and enum is None:
            self.notes.add(f"{prof.name}: binding {el['id']} -> {b['valueSet']} not checked (not expandable)")
            return
        if not self.in_codes(val, codes, enum):
            out.append((ipath, "binding", f"code not in required ValueSet {b['valueSet']} [{prof.name}]"))

    # ---------- c. fhirkit ----------
    def fhirkit_problems(self, res):
        out = []
        for i in fhirkit.validate(res):
            if i.severity == "error":
                missing = "required element missing" in i.message
                out.append((i.path, "missing" if missing else "fhirkit", f"{i.message} (fhirkit)"))
            elif self.verbose:
                self.notes.add(f"fhirkit warning at {i.path}: {i.message}")
        return out

    def check(self, res):
        rtype = res.get("resourceType") if isinstance(res, dict) else None
        if not isinstance(rtype, str):
            return [(str(rtype), "missing", "not a FHIR resource (no resourceType)")]
        raw = self.schema_problems(res, rtype)
        prof = self.profile_for(res)
        if prof is not None:
            self.walk(prof, prof.root, res, rtype, rtype, raw)
        if self.use_fhirkit:  # a third opinion: only for paths the other checks found clean
            flagged = {path for path, _, _ in raw}
            raw += [p for p in self.fhirkit_problems(res) if p[0] not in flagged]
        problems, seen_missing, seen = [], set(), set()
        for path, kind, msg in raw:
            if kind == "missing":
                if path in seen_missing:
                    continue
                seen_missing.add(path)
            if (path, msg) not in seen:
                seen.add((path, msg))
                problems.append((path, msg))
        return problems


def resources_in(doc, label):
    """(label, resource) for the document and, for a Bundle, each entry.resource (recursively).
    The Bundle itself is checked with its entries' resources stubbed out by the schema patch."""
    if isinstance(doc, list):  # NDJSON: one resource per line
        for i, line in enumerate(doc):
            yield f"{label}:{i + 1}", line
        return
    yield label, doc
    if isinstance(doc, dict) and doc.get("resourceType") == "Bundle":
        for i, entry in enumerate(doc.get("entry", []) or []):
            if isinstance(entry, dict) and "resource" in entry:
                yield from resources_in(entry["resource"], f"{label}#{i}")


def input_files(args):
    for a in args:
        p = Path(a)
        if p.is_dir():
            yield from sorted([*p.rglob("*.json"), *p.rglob("*.ndjson")])
        else:
            yield p


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--shared", required=True, help="folder holding r4/ and us-core/ (e.g. ../shared/fhir)")
    ap.add_argument("--profile", choices=["us-core", "base", "gateway"], default="base",
                    help="base: R4 only; us-core: US Core 9; gateway: our profiles/ (default: base)")
    ap.add_argument("--profiles-dir", help="folder of our profiles for --profile gateway (default: ../profiles)")
    ap.add_argument("--verbose", action="store_true", help="also list skipped bindings/slices")
    ap.add_argument("--no-fhirkit", action="store_true", help="do not use fhirkit even if importable")
    ap.add_argument("inputs", nargs="+", metavar="FILE_OR_DIR")
    args = ap.parse_args(argv)
    checker = Checker(args.shared, args.profile, args.verbose, not args.no_fhirkit, args.profiles_dir)
    if args.verbose:
        print(f"fhirkit: {'used' if checker.use_fhirkit else 'not used'}", file=sys.stderr)
    passed = failed = 0
    for f in input_files(args.inputs):
        try:
            doc = load(f)
        except (OSError, ValueError) as e:
            print(f"{f}: -: -: cannot read JSON: {e}")
            failed += 1
            continue
        for label, res in resources_in(doc, str(f)):
            problems = checker.check(res)
            rid = f"{res.get('resourceType', '?')}/{res.get('id', '?')}" if isinstance(res, dict) else "?"
            for path, msg in problems:
                print(f"{label}: {rid}: {path}: {msg}")
            failed += bool(problems)
            passed += not problems
    if args.verbose:
        for note in sorted(checker.notes):
            print(f"note: {note}", file=sys.stderr)
    print(f"{passed} passed, {failed} failed")
    return 0 if failed == 0 else 1


if __name__ == "__main__":
    sys.exit(main())
