"""Schemas of the policy files: unknown keys and wrong values are errors, never silently ignored."""

from __future__ import annotations

import re
from typing import Annotated, Literal

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, model_validator

from enclave.models import WorkMode

_SIZE = re.compile(r"^(\d+(?:\.\d+)?)([KMGT]?)$")
_UNITS = {"": 1, "K": 1024, "M": 1024**2, "G": 1024**3, "T": 1024**4}


def size_to_bytes(text: str) -> int:
    m = _SIZE.match(text.strip().upper())
    if not m:
        raise ValueError(f"{text!r} is not a size such as 512M or 2G")
    return int(float(m.group(1)) * _UNITS[m.group(2)])


def _check_size(text: str) -> str:
    size_to_bytes(text)
    return text.strip().upper()


Size = Annotated[str, AfterValidator(_check_size)]


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Limits(Strict):
    cpu_limit: float = Field(gt=0, le=64, description="CPU cores")
    mem_limit: Size = Field(description="memory, e.g. 2G")
    pids_limit: int = Field(ge=16, le=100000, description="processes and threads")


class JobPolicy(Strict):
    """Blind-mode jobs: the limits every job container runs under, and how many run at once."""

    limits: Limits = Field(default_factory=lambda: Limits(cpu_limit=1.0, mem_limit="2G", pids_limit=256))
    wall_seconds: int = Field(default=3600, ge=1, description="a job still running after this is stopped")
    outputs_size: Size = Field(default="1G", description="the job's writable outputs folder (its own tmpfs)")
    scratch_size: Size = Field(default="256M", description="the job's /tmp")
    max_code_bytes: int = Field(default=64 * 1024**2, ge=1, description="the code folder snapshotted at submission")
    max_code_files: int = Field(default=5000, ge=1)
    max_log_bytes: int = Field(default=4 * 1024**2, ge=1, description="what is kept of a job's log")
    max_running: int = Field(default=2, ge=1, description="jobs running at once in the whole enclave")
    max_running_per_project: int = Field(default=1, ge=1, description="jobs of one project running at once")
    max_queued_per_project: int = Field(default=50, ge=1)

    @model_validator(mode="after")
    def _per_project_within_global(self) -> JobPolicy:
        if self.max_running_per_project > self.max_running:
            raise ValueError("max_running_per_project is above max_running")
        return self


class WorkspacePolicy(Strict):
    """Limits and timeouts for workspaces; a project may ask for less than the maximum, never more."""

    defaults: Limits
    maximum: Limits
    jobs: JobPolicy = Field(default_factory=JobPolicy)
    scratch_size: Size = "1G"
    workspace_size: Size = Field(default="10G", description="each project's /workspace is its own filesystem "
                                 "of this size: its disk quota")
    idle_timeout_seconds: int = Field(default=3600, ge=60)
    cull_every_seconds: int = Field(default=300, ge=10)
    start_timeout_seconds: int = Field(default=120, ge=10)
    archive_retention_days: int = Field(default=365, ge=0, description="closed projects' archived workspaces "
                                        "are deleted this many days after closing")

    @model_validator(mode="after")
    def _defaults_within_maximum(self) -> WorkspacePolicy:
        d, m = self.defaults, self.maximum
        if d.cpu_limit > m.cpu_limit:
            raise ValueError("defaults.cpu_limit is above maximum.cpu_limit")
        if size_to_bytes(d.mem_limit) > size_to_bytes(m.mem_limit):
            raise ValueError("defaults.mem_limit is above maximum.mem_limit")
        if d.pids_limit > m.pids_limit:
            raise ValueError("defaults.pids_limit is above maximum.pids_limit")
        return self


class Tier(Strict):
    name: str
    description: str = ""
    allowed_in_workspaces: bool = True
    modes: list[WorkMode] = Field(default_factory=lambda: [WorkMode.INTERACTIVE, WorkMode.BLIND],
                                  description="ways of working allowed for projects holding data of this tier: "
                                  "interactive (rows visible in the workspace), blind (dummy data in the "
                                  "workspace, real rows only in checked jobs) or both")

    @model_validator(mode="after")
    def _some_mode(self) -> Tier:
        if not self.modes:
            raise ValueError("modes: at least one of interactive, blind")
        return self


class DatasetPolicy(Strict):
    """Dataset tiers and the checks at the door; a tier not allowed in workspaces is never ingested."""

    tiers: dict[int, Tier]
    import_dir: str = Field(default="import", description="where stewards put files to ingest; relative to "
                            "ENCLAVE_HOME unless absolute")
    k_anonymity: int = Field(default=5, ge=2, le=1000)
    suggested_quasi_identifiers: list[str] = Field(default_factory=lambda: [
        "age", "age_band", "sex", "gender", "postcode", "zip", "zipcode", "birth_date", "dob", "birth_year",
        "admission_date", "discharge_date", "ethnicity", "region", "性别", "年龄", "邮编", "出生日期"])
    max_file_bytes: int = Field(default=20 * 1024**3, ge=1)

    @model_validator(mode="after")
    def _tiers_known(self) -> DatasetPolicy:
        if not self.tiers:
            raise ValueError("tiers: at least one tier must be defined")
        return self


class DisclosureControl(Strict):
    """Statistical disclosure control for tables (ACRO defaults; OpenSAFELY-style rounding selectable)."""

    mode: Literal["threshold", "opensafely"] = "threshold"
    threshold: int = Field(default=10, ge=1, description="counts below this fail (mode threshold)")
    redact_at_or_below: int = Field(default=7, ge=0, description="mode opensafely: counts <= this must be redacted")
    rounding_base: int = Field(default=5, ge=1, description="mode opensafely: other counts must be multiples")
    zeros_disclosive: bool = True
    dominance_n: int = Field(default=2, ge=1)
    dominance_k: float = Field(default=0.9, gt=0, le=1)
    p_percent: float = Field(default=0.1, gt=0, lt=1)
    min_residual_df: int = Field(default=10, ge=1)


class EgressPolicy(Strict):
    """What may leave, and the automatic checks every file gets before two people review it."""

    allowed_types: list[str] = Field(default_factory=lambda: [
        "csv", "tsv", "txt", "md", "json", "html", "svg", "ipynb", "png", "jpg", "pdf", "parquet", "xlsx"])
    max_file_bytes: int = Field(default=16 * 1024**2, ge=1)
    max_files_per_request: int = Field(default=20, ge=1, description="files named in one request")
    max_request_bytes: int = Field(default=64 * 1024**2, ge=1, description="all files of one request together")
    max_requests_per_day: int = Field(default=50, ge=1, description="requests per project in any 24 hours")
    max_files_per_day: int = Field(default=500, ge=1, description="files requested per project in any 24 hours")
    archives: Literal["unpack", "refuse"] = "unpack"
    max_zip_members: int = Field(default=1000, ge=1, description="members of one archive (zip or xlsx)")
    max_zip_total_bytes: int = Field(default=64 * 1024**2, ge=1, description="what one archive, and all archives "
                                     "nested in it, unpack to together")
    max_zip_ratio: int = Field(default=100, ge=2, description="uncompressed / compressed size of a member of "
                               "64 KiB or more, or of the whole archive: more looks like a zip bomb")
    max_image_pixels: int = Field(default=40_000_000, ge=1, description="pixels of one image: more is refused "
                                  "(a decompression bomb)")
    max_image_bytes: int = Field(default=128 * 1024**2, ge=1, description="what one image's pixels decode to "
                                 "(width × height × bytes per pixel, 8 for 16-bit RGBA): more is refused")
    images: Literal["check", "review"] = Field(default="check", description="`check`: images pass when their "
                                               "pixels look like a chart; `review`: every image goes to review "
                                               "(visible text in images is not read automatically)")
    max_check_seconds: float = Field(default=60.0, gt=0, description="CPU seconds the checks may spend on one "
                                     "file; a file whose checks do not finish in time is blocked")
    max_findings_per_kind: int = Field(default=1000, ge=1, description="findings of one kind listed for one "
                                       "file; more stop the checks and block the file")
    row_cap: int = Field(default=5000, ge=1)
    sdc: DisclosureControl = Field(default_factory=DisclosureControl)
    model_attack_auc: float = Field(default=0.6, gt=0.5, le=1.0,
                                    description="worst-case membership-inference AUC at which a model is blocked")
    project_sdc: dict[str, DisclosureControl] = Field(
        default_factory=dict, description="per-project disclosure control, e.g. OpenSAFELY-style rounding")

    def for_project(self, slug: str) -> EgressPolicy:
        """The policy a project's requests are checked against."""
        if slug in self.project_sdc:
            return self.model_copy(update={"sdc": self.project_sdc[slug]})
        return self


_READ_DATA_SUBSET = re.compile(r"^(all|none|(\d+)/(\d+)|(\d+(?:\.\d+)?)%|\d+[kKmMgGtT]?)$")


def _check_read_data_subset(text: str) -> str:
    m = _READ_DATA_SUBSET.match(text.strip())
    if not m or (m.group(2) and not 1 <= int(m.group(2)) <= int(m.group(3))) or (
            m.group(4) and not 0 < float(m.group(4)) <= 100):
        raise ValueError(f"{text!r} is not a part of the repository to read back: 'all', 'none' (structure "
                         "only), 'n/t' (e.g. 1/7), a percentage above 0 (e.g. 10%) or a size (e.g. 2G)")
    return text.strip()


class BackupPolicy(Strict):
    """Retention of the restic repository's snapshots (`restic forget --prune` after every backup) and how
    much of the repository a restore or a drill reads back (`restic check --read-data-subset`)."""

    keep_last: int = Field(default=1, ge=1, description="the newest snapshots always kept, whatever their age")
    keep_daily: int = Field(default=7, ge=0)
    keep_weekly: int = Field(default=5, ge=0)
    keep_monthly: int = Field(default=12, ge=0)
    keep_yearly: int = Field(default=0, ge=0)
    with_datasets: bool = Field(default=False, description="snapshots include the dataset files, not only "
                                "their manifests")
    read_data_subset: Annotated[str, AfterValidator(_check_read_data_subset)] = Field(
        default="10%", description="of the repository's data packs read back and authenticated before a restore "
        "and in every drill; 'all' reads every pack, 'none' checks the structure only (a restore still "
        "authenticates every blob it reads)")


def _check_chinese_name(value: str | None) -> str | None:
    if value is not None and not any("\u4e00" <= c <= "\u9fff" for c in value):
        raise ValueError("name_zh must be the level's name in Chinese")
    return value


class AccreditationLevel(Strict):
    name: str = Field(min_length=1, description="the level's name, as English pages say it")
    name_zh: Annotated[str | None, AfterValidator(_check_chinese_name)] = Field(
        default=None, description="the level's name on zh-CN pages; without it they show `name` as it is")
    max_tier: int = Field(ge=0, description="the highest dataset tier a person at this level may use")

    def name_in(self, lang: str) -> str:
        """The level's name in the reader's language (zh-CN: `name_zh` when the policy gives one)."""
        return (self.name_zh or self.name) if lang == "zh-CN" else self.name


class ChainStep(Strict):
    """One party of the approval chain. Steps of the same stage run in parallel; a stage opens when the
    one before it has approved. Steward and data-owner steps are one per requested dataset."""

    party: Literal["steward", "data_owner", "ethics"]
    stage: int = Field(default=1, ge=1)
    days: float = Field(default=5, gt=0, description="time limit of the step; overdue steps are escalated")
    min_tier: int = Field(default=0, ge=0, description="only for datasets of this tier or above (ethics: the "
                          "step is there when any requested dataset is)")


class GovernancePolicy(Strict):
    """Who approves project applications, in what order and how fast; how accreditation grades access."""

    levels: dict[int, AccreditationLevel]
    not_enrolled_max_tier: int = Field(default=-1, ge=-1, description="accounts with no accreditation record "
                                       "may use data up to this tier (-1: none); a transition setting")
    lapsed_max_tier: int = Field(default=-1, ge=-1, description="accounts whose accreditation expired may use "
                                 "data up to this tier (-1: none)")
    lapse_warning_days: int = Field(default=30, ge=1, description="stewards are told this many days before "
                                    "a member's accreditation lapses")
    chain: list[ChainStep]
    stewards: dict[str, list[str]] = Field(default_factory=dict, description="dataset name -> the usernames "
                                           "of its stewards; '*' for datasets not named")
    data_owners: dict[str, list[str]] = Field(default_factory=dict, description="dataset name -> owners; '*'")
    ethics_officers: list[str] = Field(default_factory=list)
    max_duration_days: int = Field(default=1095, ge=1, description="longest project an application may ask for")

    @model_validator(mode="after")
    def _chain_has_people(self) -> GovernancePolicy:
        if not self.chain:
            raise ValueError("chain: at least one approval step is required")
        parties = {s.party for s in self.chain}
        if "ethics" in parties and not self.ethics_officers:
            raise ValueError("ethics_officers: the chain has an ethics step but nobody is named")
        if "steward" in parties and not self.stewards:
            raise ValueError("stewards: the chain has steward steps but no steward is named")
        if "data_owner" in parties and not self.data_owners:
            raise ValueError("data_owners: the chain has data-owner steps but no owner is named")
        return self

    def people(self, party: str, dataset: str = "") -> list[str]:
        """Who may decide a step of `party` (for `dataset`, for stewards and owners)."""
        if party == "ethics":
            return list(self.ethics_officers)
        table = self.stewards if party == "steward" else self.data_owners
        return list(table.get(dataset, table.get("*", [])))

    def max_tier_for(self, level: int | None) -> int:
        """The highest tier a current accreditation of `level` allows (-1: none)."""
        return self.levels[level].max_tier if level in self.levels else -1


_PACKAGE_NAME = re.compile(r"^[A-Za-z0-9]([A-Za-z0-9._-]*[A-Za-z0-9])?$")
_SHA256 = re.compile(r"^[0-9a-f]{64}$")


def normalize_package_name(name: str) -> str:
    """PEP 503: runs of -, _ and . are one '-', case does not matter (how pip and indexes compare names)."""
    return re.sub(r"[-_.]+", "-", name).lower()


def _check_package_name(name: str) -> str:
    if not _PACKAGE_NAME.match(name):
        raise ValueError(f"{name!r} is not a Python package name (letters, digits, '.', '_' and '-')")
    return normalize_package_name(name)


PackageName = Annotated[str, AfterValidator(_check_package_name)]


class PinnedPackage(Strict):
    """One allow-listed Python package, at exactly one version; its files' sha256 (the builder fills them)."""

    version: str = Field(min_length=1, pattern=r"^[0-9A-Za-z.!+_-]+$")
    sha256: list[str] = Field(default_factory=list, description="accepted files' sha256 (hex); empty: filled "
                              "by the first `enclave packages build`, checked on every later one")

    @model_validator(mode="after")
    def _hashes_hex(self) -> PinnedPackage:
        bad = [h for h in self.sha256 if not _SHA256.match(h)]
        if bad:
            raise ValueError(f"sha256: {bad[0]!r} is not 64 lower-case hex digits")
        return self


_DEBIAN_R_PACKAGE = re.compile(r"^r-(cran|bioc|other)-[a-z0-9][a-z0-9.+-]*$")


def _check_debian_r_package(name: str) -> str:
    if not _DEBIAN_R_PACKAGE.match(name):
        raise ValueError(f"{name!r} is not a Debian R package name (r-cran-…, r-bioc-… or r-other-…, lower case): "
                         "this list installs R packages into the workspace image, nothing else")
    return name


DebianRPackage = Annotated[str, AfterValidator(_check_debian_r_package)]


class PackagePolicy(Strict):
    """Python packages researchers may install from the enclave's own index, and names always refused."""

    python: dict[PackageName, PinnedPackage]
    refused_names: list[PackageName] = Field(default_factory=list, description="typosquats and known-malicious "
                                             "names: always refused (stewards extend this list)")
    top_names: list[PackageName] = Field(default_factory=list, description="well-known names a typosquat would "
                                         "imitate, besides the allow-list's own")
    typosquat_distance: int = Field(default=2, ge=0, le=3, description="a name this many edits or fewer from an "
                                    "allow-listed or top name (and not that name) is refused; 0: off")
    stewards: list[str] = Field(default_factory=list, description="usernames who approve or refuse requests")
    vetted_sdists: list[PackageName] = Field(default_factory=list, description="packages whose source "
                                             "distribution a steward has read; every other package: wheels only")
    max_file_bytes: int = Field(default=200 * 1024**2, ge=1, description="largest wheel the builder accepts")
    python_version: str = Field(default="3.11", pattern=r"^3\.\d+$", description="the workspace image's Python: "
                                "wheels are fetched for it, not for the host's")
    platforms: list[str] = Field(default_factory=lambda: ["manylinux_2_17_x86_64", "manylinux2014_x86_64"],
                                 description="wheel platform tags the workspace accepts (pure-Python wheels always)")
    r: list[DebianRPackage] = Field(default_factory=list, description="R packages in the workspace image: Debian "
                                    "12's packages of CRAN/Bioconductor, installed by images/workspace/build.sh")

    @model_validator(mode="after")
    def _refused_not_allowed(self) -> PackagePolicy:
        both = sorted(set(self.python) & set(self.refused_names))
        if both:
            raise ValueError(f"refused_names: {', '.join(both)} also on the allow-list (python)")
        twice = sorted({n for n in self.r if self.r.count(n) > 1})
        if twice:
            raise ValueError(f"r: {', '.join(twice)} listed more than once")
        return self


class ImportPolicy(Strict):
    """Files researchers bring in through the import airlock: which types, how big, who reviews what.

    Malware, a type not allowed, a file too big and a file the checks could not read are always blocked;
    personal data is never passed silently: a steward reviews it (`review`) or it is blocked (`block`).
    """

    allowed_types: list[Literal["csv", "tsv", "text", "json", "parquet"]] = Field(
        default_factory=lambda: ["csv", "tsv", "text", "json"],
        description="types by content: csv, tsv, text (code, notes), json, parquet; anything else is blocked")
    max_file_bytes: int = Field(default=20 * 1024**2, ge=1, le=1024**3, description="largest file accepted")
    personal_data: Literal["review", "block"] = Field(
        default="review", description="a file holding personal identifiers: held for a steward, or blocked")
    review_every_import: bool = Field(default=False, description="a steward reviews even files the checks passed")
    stewards: list[str] = Field(default_factory=list, description="usernames who review held imports")
    scan_timeout_seconds: int = Field(default=120, ge=5, le=3600, description="longest ClamAV scan before the "
                                      "file is blocked as unscanned")


SECTIONS: dict[str, type[Strict]] = {"workspace": WorkspacePolicy, "datasets": DatasetPolicy,
                                     "egress": EgressPolicy, "backup": BackupPolicy,
                                     "governance": GovernancePolicy, "packages": PackagePolicy,
                                     "imports": ImportPolicy}
