"""Words of the governance pages in zh-CN; English is the key itself."""

from __future__ import annotations

from collections.abc import Callable

from enclave.i18n import CORE_WORDS, CORE_ZH, localize

ZH_CN: dict[str, str] = {
    # the names of datasets.yaml's tiers (a deployment that renames one shows its own name as it is); the
    # accreditation levels' names come from governance.yaml in both languages (`name_zh`)
    "open": "公开", "aggregated": "汇总", "pseudonymised": "假名化", "sensitive": "敏感", "identifiable": "可识别",
    "URL": "网址",
    "Governance": "数据治理",
    "Data catalogue": "资源目录",
    "Applications": "项目申请",
    "Application": "申请",
    "Accreditation": "资质",
    "Dashboard": "监管看板",
    "Audit trail": "审计日志",
    "Exports and workspaces": "导出与工作区",
    "Operations": "运维视图",
    "Workspaces": "工作区",
    "Signed in as": "当前用户",
    "Error": "错误",
    "Back": "返回",
    "None.": "无。",
    "Accepted despite problems, because:": "尽管存在问题仍被接收，理由：",
    "Accreditations lapsing or lapsed": "即将过期或已过期的资质",
    "Action (* matches anything)": "操作（* 匹配任意字符）",
    "Action": "操作",
    "Applicant": "申请人",
    "Applications in the approval chain": "审批中的申请",
    "Apply for a project": "申请新项目",
    "Approval chain": "审批链",
    "Approve": "批准",
    "Ask for changes": "要求修改",
    "Reject": "拒绝",
    "Chain verified": "日志链校验通过",
    "The chain does NOT verify": "日志链校验失败",
    "records, each linked to the one before and to the anchor kept outside the database.":
        "条记录，每条都与前一条链接，并与数据库之外保存的锚点一致。",
    "records": "条记录",
    "Changed from the version before": "与上一版本相比的变更",
    "Changes were asked for: amend the application and submit it again (a new version).":
        "审批方要求修改：请修改申请后重新提交（将成为新版本）。",
    "Column": "字段",
    "Comment (needed to ask for changes or reject)": "意见（要求修改或拒绝时必填）",
    "Comment": "意见",
    "Data owner": "数据所有者",
    "Dataset": "数据集",
    "Decided by": "决定人",
    "Decisions so far": "已有的审批决定",
    "Description": "说明",
    "Details": "详情",
    "Direct identifiers": "直接标识符",
    "Download the dummy (CSV)": "下载模拟数据（CSV）",
    "Drawn on the server from the database.": "图表由服务器根据数据库绘制。",
    "Due": "截止时间",
    "Dummy version": "模拟数据版本",
    "Edit the documentation": "编辑数据说明",
    "Enclave objects are changed here through the governance cycle, and with the enclave CLI and Ansible on the "
    "same rules; the JupyterHub admin panel is not the tool for them.":
        "Enclave 的项目、成员和数据授权通过此处的治理流程变更，或使用遵循同样规则的 Enclave 命令行和 Ansible；"
        "JupyterHub 管理面板不用于管理这些对象。",
    "Every application": "全部申请",
    "Every party approved: the project exists with its members, datasets and expiry.":
        "各方均已批准：项目已创建，成员、数据集和有效期均已生效。",
    "Everyone's accreditation": "全部人员资质",
    "Expires": "到期日",
    "Export requests and their reviews": "导出申请及其审核",
    "File": "文件",
    "Files": "文件数",
    "From": "起始日期",
    "To": "截止日期",
    "Highest tier": "最高可用级别",
    "Ingestion checks": "入库检查",
    "Level": "等级",
    "Levels": "资质等级",
    "Members": "成员",
    "My applications": "我的申请",
    "My projects": "我的项目",
    "Name": "名称",
    "No dataset matches.": "没有符合条件的数据集。",
    "No description yet.": "暂无说明。",
    "No dummy version was made for this dataset.": "该数据集没有模拟数据版本。",
    "No ingestion checks recorded for this version.": "该版本没有入库检查记录。",
    "Notes": "字段说明",
    "Nothing waits for your decision.": "没有等待您审批的事项。",
    "Party": "审批方",
    "Problems": "问题",
    "Project": "项目",
    "Projects": "项目",
    "Record an accreditation": "登记资质",
    "Recorded by": "登记人",
    "Requester": "申请人",
    "Reviews": "审核",
    "Rows": "行数",
    "Save draft": "保存草稿",
    "Save": "保存",
    "Schema": "数据结构",
    "Search (name, description, columns)": "搜索（名称、说明、字段）",
    "Search": "搜索",
    "Stage": "阶段",
    "Start a workspace": "启动工作区",
    "State": "状态",
    "Steward": "数据管理员",
    "Stored": "入库日期",
    "Submit": "提交",
    "Submitted versions": "已提交的版本",
    "Submitted": "提交时间",
    "Target": "对象",
    "The application cannot be submitted yet:": "申请暂不能提交：",
    "The dummy version is synthetic: generated at ingestion with the same columns and types, it describes no real "
    "person and is safe to view and download.":
        "模拟数据为合成数据：入库时按相同字段和类型生成，不对应任何真实个人，可以安全查看和下载。",
    "Tier": "级别",
    "Time": "时间",
    "Title": "标题",
    "Training completed": "培训完成日期",
    "Type": "类型",
    "Updated": "更新时间",
    "User": "用户",
    "Usernames separated by spaces; you are the PI. Every member needs an account and an accreditation for the "
    "data's tier.": "用户名以空格分隔；您是项目负责人。每位成员都需要账号及与数据级别相符的资质。",
    "Version": "版本",
    "Waiting for your decision": "等待您审批",
    "Waiting for": "等待",
    "Who may decide": "可审批人",
    "Who used which workspace when": "工作区使用记录",
    "Withdraw": "撤回",
    "Workspace": "工作区",
    "Your draft is saved.": "草稿已保存。",
    "Your part": "您的审批角色",
    "allows data up to tier": "可使用的最高数据级别",
    "allows no dataset tier": "不可使用任何级别的数据",
    "amendment of": "修订项目",
    "amendment": "修订",
    "Amendment": "修订",
    "Ethics approval document (PDF, at most 5 MB)": "伦理审批文件（PDF，不超过 5 MB）",
    "Attached": "已附文件",
    "ethics_doc": "伦理审批文件",
    "Ask for an amendment": "申请修订（成员、数据集、延期）",
    "any": "全部",
    "can start": "可以启动",
    "k-anonymity": "k-匿名",
    "lapsed": "已过期",
    "lapses soon": "即将过期",
    "none found": "未发现",
    "overdue": "已超时",
    "passed": "通过",
    "resolved by": "裁决人",
    "smallest class": "最小等价类",
    # form fields
    "slug": "项目名称（英文短名）",
    "title": "标题",
    "purpose": "研究目的（使用场景）",
    "datasets": "申请的数据集",
    "members": "项目成员",
    "outputs": "预期产出",
    "duration_days": "期限（天）",
    "ethics_ref": "伦理批件编号",
    "comment": "意见",
    # states, parties, decisions
    "draft": "草稿",
    "submitted": "已提交",
    "changes": "需修改",
    "approved": "已批准",
    "rejected": "已拒绝",
    "withdrawn": "已撤回",
    "waiting": "等待前序阶段",
    "pending": "待审批",
    "superseded": "已被新版本取代",
    "steward": "数据管理员",
    "data_owner": "数据所有者",
    "ethics": "伦理/合规审查",
    "approve": "批准",
    "return": "退回修改",
    "reject": "拒绝",
    "in_review": "审核中",
    "returned": "已退回",
    "conflicted": "意见冲突",
    "released": "已发布",
    "revised": "已修订",
    "requested": "申请中",
    "active": "活动",
    "suspended": "已暂停",
    "expired": "已过期",
    "closed": "已关闭",
    # dashboard
    "Active workspaces (peak per day)": "活动工作区（每日峰值）",
    "workspaces": "工作区",
    "Export requests per month": "每月导出申请",
    "Export review wait, median hours to the second review": "导出审核等待时间（至第二位审核员决定的小时数中位数）",
    "hours": "小时",
    "Approval wait, median days per party": "项目审批等待时间（各审批方天数中位数）",
    "days": "天",
    "time limit": "时限",
    "longest limit": "最长时限",
    "Dataset versions by tier": "各级别数据集版本数",
    "versions": "版本数",
    "Projects by state": "各状态项目数",
    "projects": "项目",
    # operations view
    "Running workspaces": "运行中的工作区",
    "Running": "运行数",
    "Started": "启动时间",
    "Last activity": "最近活动",
    "(no project)": "（无项目）",
    "The hub's database could not be read: running workspaces and services are not shown.":
        "无法读取 JupyterHub 数据库：不显示运行中的工作区和服务。",
    "No workspace is running.": "当前没有运行中的工作区。",
    "Services": "服务",
    "Registered with the hub; last seen is when the service last used its API token with the hub.":
        "在 JupyterHub 注册的服务；“最近一次”为该服务最近一次使用其 API 令牌访问 JupyterHub 的时间。",
    "Last seen": "最近一次",
    "never": "从未",
    "Overdue approval steps": "已超时的审批步骤",
    "Escalated": "已升级提醒",
    "Restore drills": "恢复演练",
    "Latest drill": "最近一次演练",
    "pass": "通过",
    "fail": "失败",
    "No restore drill is recorded in the audit trail.": "审计日志中没有恢复演练记录。",
    "When": "时间",
    "Snapshot": "快照",
    # approved packages
    "Packages": "软件包",
    "Package": "软件包",
    "Package request": "软件包申请",
    "Package requests": "软件包申请",
    "Package requests waiting for a steward": "等待管理员审批的软件包申请",
    "Packages: what the workspace can install, and asking for more": "软件包：工作区可安装的软件包，以及申请新的软件包",
    "Workspaces have no internet: packages come from the enclave's own index, which holds the approved packages "
    "below. Ask here for one it lacks; a package steward decides.":
        "工作区无法访问互联网：软件包来自 Enclave 自己的软件包索引，其中包含下列已批准的软件包。"
        "如需其他软件包，请在此申请，由软件包管理员审批。",
    "In a workspace:": "在工作区中：",
    "Ask for a package": "申请软件包",
    "Please correct what is marked below; nothing was asked.": "请修改下方标出的问题；申请尚未提交。",
    "Package name (as on PyPI)": "软件包名称（与 Python 官方软件包索引上一致）",
    "Version (optional: the steward pins one)": "版本（可不填：由管理员指定固定版本）",
    "Reason: what the package is for in this project": "理由：该软件包在本项目中的用途",
    "Ask for it": "提交申请",
    "You are a member of no open project: packages are asked for a project.":
        "您不是任何进行中项目的成员：软件包须为某个项目申请。",
    "Your request is recorded; a package steward decides, and you are told.":
        "您的申请已记录；软件包管理员审批后会通知您。",
    "Your projects' package requests": "您所在项目的软件包申请",
    "Reason": "理由",
    "Decision": "审批结果",
    "Decided": "已审批",
    "Approved packages": "已批准的软件包",
    "In the enclave's index: install it in the workspace.": "已在 Enclave 软件包索引中：可在工作区中安装。",
    "Not yet in the enclave's index: {reason}": "尚未进入 Enclave 软件包索引：{reason}",
    "Approving adds the package, pinned, to the allow-list; the host then fetches its files, checks them (wheels "
    "only, sizes, hashes) and adds them to the enclave's index.":
        "批准后，该软件包以固定版本加入允许清单；主机随即下载其文件并检查（仅限 wheel、大小、哈希），"
        "再加入 Enclave 软件包索引。",
    "Version to pin": "固定版本",
    "Reason (optional)": "理由（可不填）",
    "Reason for refusing (the researcher reads it)": "拒绝理由（申请人会看到）",
    "Refuse": "拒绝",
    "refused": "已拒绝",
    # messages from the service
    "level must be a number and dates YYYY-MM-DD": "等级须为数字，日期格式为 YYYY-MM-DD",
    "unknown level, or the expiry is not after the training": "等级不存在，或到期日不晚于培训日期",
}


# English is the key itself, except where the key is an identifier rather than words (an export's state).
EN: dict[str, str] = {"in_review": "in review"}


def translator(lang: str) -> Callable[[str], str]:
    if lang == "zh-CN":
        return lambda text: ZH_CN.get(text, text)
    return lambda text: EN.get(text, text)


# Refusals of governance.rules and governance.workflow in zh-CN, keyed by their English template.
REFUSALS_ZH: dict[str, str] = {
    "no application {id}": "没有编号为 {id} 的申请",
    "no application {app_id}": "没有编号为 {app_id} 的申请",
    "only researchers apply for projects": "只有研究人员可以申请项目",
    "auditors change nothing: an auditor account cannot apply for a project":
        "审计员不做任何变更：审计员账号不能申请项目",
    "only the PI of project '{slug}' may ask to amend it": "只有项目“{slug}”的负责人可以申请修改它",
    "only {applicant}, who applied, may change application {id}": "只有申请人 {applicant} 可以修改申请 {id}",
    "application {id} is {state}: submitted versions never change": "申请 {id} 的状态为“{state}”：已提交的版本不能更改",
    "only {applicant}, who applied, may withdraw application {id}": "只有申请人 {applicant} 可以撤回申请 {id}",
    "application {id} is {state} and can no longer be withdrawn": "申请 {id} 的状态为“{state}”，已不能撤回",
    "auditors change nothing: an auditor account cannot decide applications":
        "审计员不做任何变更：审计员账号不能审批申请",
    "you are not named as {party}{what} in governance.yaml": "您在 governance.yaml 中没有被指定为 {party}{what}",
    "nobody approves their own application": "任何人都不能审批自己的申请",
    "you are a member named in application {id}, so you cannot decide it": "您是申请 {id} 中列出的成员，因此不能审批它",
    "you are or were a member of project '{slug}', so you cannot decide its amendment":
        "您是或曾是项目“{slug}”的成员，因此不能审批其修改申请",
    "application {id} is {state}: nothing waits for a decision": "申请 {id} 的状态为“{state}”：没有等待审批的内容",
    "this step is {state}, not waiting for a decision": "此步骤的状态为“{state}”，不在等待审批",
    "you already decided as {party} on this version: another person must decide as {party2}":
        "您已以 {party} 身份审批过此版本：必须由另一人以 {party2} 身份审批",
    "auditors change nothing": "审计员不做任何变更",
    "only the stewards of {name} edit its description": "只有 {name} 的数据管理员可以编辑其说明",
    "only administrators record accreditations": "只有管理员可以记录资质",
    "the audit view is for auditors and administrators": "审计视图仅供审计员和管理员使用",
    "the dashboard is for stewards, approvers, auditors and administrators":
        "监管看板仅供数据管理员、审批人、审计员和管理员使用",
    "the operations view is for administrators": "运维视图仅供管理员使用",
    "application {id} cannot go from {state} to {to}": "申请 {id} 不能从“{state}”变为“{to}”",
    "application {app_id} has no step {step_id}": "申请 {app_id} 没有步骤 {step_id}",
}


def message(text: str, lang: str) -> str:
    """A refusal in the reader's language, by its template (`REFUSALS_ZH`, the core's `CORE_ZH`); as it is otherwise."""
    keyed = localize(text, lang, {**CORE_ZH, **REFUSALS_ZH}, {**CORE_WORDS, **ZH_CN})
    return keyed if keyed is not None else str(text)
