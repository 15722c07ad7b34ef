"""Words of the reviewer and requester pages in zh-CN; English is the key itself."""

from __future__ import annotations

from collections.abc import Callable

ZH_CN: dict[str, str] = {
    "Export review": "导出审核",
    "Review queue": "待审核队列",
    "My export requests": "我的导出申请",
    "Request": "申请",
    "Project": "项目",
    "Requester": "申请人",
    "State": "状态",
    "Files": "文件",
    "Submitted": "提交时间",
    "Justification": "理由说明",
    "Findings": "自动检查结果",
    "Verdict": "结论",
    "Check": "检查项",
    "Detail": "详情",
    "Location": "位置",
    "Rule": "规则",
    "No requests.": "没有申请。",
    "Open": "打开",
    "View file": "查看文件",
    "Your decision": "您的决定",
    "Approve": "批准",
    "Return": "退回修改",
    "Reject": "拒绝",
    "Comment (needed for flagged files)": "备注（有标记的文件必须填写）",
    "Comment to the requester": "给申请人的意见",
    "Private note for reviewers": "仅审核员可见的备注",
    "Submit review": "提交审核",
    "Reviews": "审核记录",
    "Reviewer": "审核员",
    "Decision": "决定",
    "Other reviews are hidden until both reviewers have decided.": "在两位审核员都做出决定之前，其他审核意见不可见。",
    "The reviewers disagree: resolve the conflict.": "审核员意见不一致：请明确裁决。",
    "Reason": "理由",
    "Resolve": "裁决",
    "Withdraw": "撤回",
    "Download": "下载",
    "Release record": "发布记录",
    "Comments from reviewers": "审核员意见",
    "You cannot review this request": "您不能审核此申请",
    "Back": "返回",
    "Signed in as": "当前用户",
    "Shown inert: nothing in a reviewed file ever runs.": "安全显示：被审核文件中的任何内容都不会被执行。",
    "submitted": "已提交",
    "in_review": "审核中",
    "approved": "已批准",
    "returned": "已退回",
    "rejected": "已拒绝",
    "conflicted": "意见冲突",
    "released": "已发布",
    "withdrawn": "已撤回",
    "pass": "通过",
    "review": "需人工审核",
    "block": "阻止",
    "Approved files can be downloaded by you only.": "已批准的文件只有您本人可以下载。",
    "Requests I reviewed": "我审核过的申请",
    "Error": "错误",
}


def translator(lang: str) -> Callable[[str], str]:
    if lang == "zh-CN":
        return lambda text: ZH_CN.get(text, text)
    return lambda text: text
