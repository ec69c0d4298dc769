"""What gisplan's tables would be on PostgreSQL with Citus, and what in today's schema stands in the way.

Citus is not in Debian 12, so nothing here runs on a Citus cluster: this is the plan (which tables
are distributed and by which column, which are reference tables copied to every node), its DDL,
and :func:`blockers`, which reads a gisplan database's catalogue and lists what Citus would refuse
under its documented rules (docs.citusdata.com, "Creating and Modifying Distributed Objects" and
"Triggers on Distributed Tables"):

- a primary key or unique constraint of a distributed table must include its distribution column
  (uniqueness is enforced within a shard only);
- a foreign key may go from a distributed table to a reference table, between reference tables, or
  between co-located distributed tables on their distribution columns; never from a reference table
  to a distributed one;
- triggers on distributed tables are not created through the coordinator (Citus 11 and later allow
  them under ``citus.enable_unsafe_triggers``, which runs them on each shard).

Why this plan: the large tables are the road network, the buildings, the audit log and the gap
results (a province: millions of road segments; 50,000 compounds × 16 types a run). The analyses
read roads by box and write results by compound, so roads are spread by ``fid`` (a box reads every
shard in parallel) and results by ``compound_fid``. The compounds (tens of thousands) and
everything the programme and the API join them with are reference tables: a join of results to
their compound, or of a project to its compound, stays on one node whatever the shard.
"""

from __future__ import annotations

from sqlalchemy import Connection, text

# table -> distribution column
DISTRIBUTED: dict[str, str] = {
    "roads": "fid",
    "buildings": "fid",
    "pipelines": "fid",
    "audit_log": "id",
    "gap_results": "compound_fid",
    "pipeline_findings": "id",
    # the files (gigabytes of photos) by their hash, and the items with them, so that an item's
    # foreign key to its file stays on one shard
    "evidence_files": "sha256",
    "evidence": "sha256",
}
REFERENCE: tuple[str, ...] = (
    "compounds",
    "facilities",
    "water",
    "gap_runs",
    "site_proposals",
    "pipeline_runs",
    "imports",
    "users",
    "jobs",
    "layer_changes",
    "gisplan_meta",
    "programme_projects",
    "programme_stage_dates",
    "programme_events",
    "programme_submissions",
    "acceptances",
    "acceptance_scores",
    "programme_permits",
    "inspection_findings",
    "funds_entries",
    "consultations",
    "consultation_results",
    "consultation_outcomes",
    "notices",
    "feedback",
    "feedback_steps",
    "assessment_manual_scores",
    "assessment_publications",
)
# the coordinator's own: Alembic's revision, PostGIS's catalogue
LOCAL: tuple[str, ...] = ("alembic_version", "spatial_ref_sys")

TABLES = "SELECT tablename FROM pg_tables WHERE schemaname = 'public'"
KEYS = """SELECT c.conrelid::regclass::text, c.conname, c.contype,
                 array(SELECT a.attname FROM unnest(c.conkey) k JOIN pg_attribute a
                       ON a.attrelid = c.conrelid AND a.attnum = k)::text[],
                 c.confrelid::regclass::text
          FROM pg_constraint c JOIN pg_namespace n ON n.oid = c.connamespace
          WHERE n.nspname = 'public' AND c.contype IN ('p', 'u', 'f')"""
TRIGGERS = """SELECT DISTINCT event_object_table, trigger_name FROM information_schema.triggers
              WHERE trigger_schema = 'public'"""


def placement(table: str) -> str:
    """``distributed``, ``reference``, ``local`` or ``unplaced`` (a table the plan forgot)."""
    if table in DISTRIBUTED:
        return "distributed"
    if table in REFERENCE:
        return "reference"
    return "local" if table in LOCAL else "unplaced"


def ddl() -> list[str]:
    """The statements that would lay the schema out on a Citus cluster (reference tables first:
    the distributed ones' foreign keys point at them)."""
    out = [f"SELECT create_reference_table('{t}')" for t in REFERENCE]
    out += [f"SELECT create_distributed_table('{t}', '{c}')" for t, c in DISTRIBUTED.items()]
    return out


def blockers(conn: Connection) -> list[str]:
    """What Citus would refuse in this database's schema under the plan, one line each (sorted)."""
    found: list[str] = []
    tables = {r[0] for r in conn.execute(text(TABLES))}
    found += [f"{t}: not placed (distributed, reference or local)" for t in tables if placement(t) == "unplaced"]
    for row in conn.execute(text(KEYS)):
        table, name, kind, target = str(row[0]), str(row[1]), str(row[2]), str(row[4])
        columns: list[str] = list(row[3])
        where = placement(table)
        if kind in ("p", "u") and where == "distributed" and DISTRIBUTED[table] not in columns:
            found.append(f"{table}: {name} ({', '.join(columns)}) lacks the distribution column {DISTRIBUTED[table]}")
        if kind == "f" and where == "reference" and placement(target) == "distributed":
            found.append(f"{table}: {name} points from a reference table to the distributed {target}")
        co_located = columns == [DISTRIBUTED.get(table)] and DISTRIBUTED.get(target) == DISTRIBUTED.get(table)
        if kind == "f" and where == "distributed" and placement(target) == "distributed" and not co_located:
            found.append(f"{table}: {name} joins two distributed tables")
    for on, trigger in conn.execute(text(TRIGGERS)):
        if placement(str(on)) == "distributed":
            found.append(f"{on}: trigger {trigger} (needs citus.enable_unsafe_triggers, runs per shard)")
    return sorted(set(found))
