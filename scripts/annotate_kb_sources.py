"""One-shot (2026-12-02): add ``text:``/``quality:`` to every source and ``verified_by:`` to every rule.

Edits the YAML files as text (no re-dump), so formatting and comments stay as they are. Source quality follows
kb-audit.md and policy-facts.md (which marks each item OFFICIAL / 3RD-PARTY / news); ``verified_by`` follows the
audit's appendix ("How its content was checked"). Run once: a file that already has ``verified_by`` is skipped.
"""

from __future__ import annotations

import re
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
AUDIT = Path("/work/shared/notes/kb-audit.md")

TEXTS = {
    "关于开展县域农民工市民化质量提升行动的通知": "nx_rsh_2023_81",
    "中华人民共和国劳动法": "labor_law",
    "中华人民共和国劳动合同法": "labor_contract_law",
    "中华人民共和国劳动合同法实施条例": "labor_contract_law_regulations",
    "中华人民共和国社会保险法": "social_insurance_law",
    "失业保险条例": "unemployment_insurance_regulations",
    "工伤保险条例": "work_injury_insurance_regulations",
    "中华人民共和国劳动争议调解仲裁法": "labor_dispute_law",
    "劳动保障监察条例": "labor_inspection_regulations",
    "保障农民工工资支付条例": "migrant_wage_regulations",
    "居住证暂行条例": "residence_permit_regulations",
    "中华人民共和国义务教育法": "compulsory_education_law",
    "中华人民共和国农村土地承包法": "rural_land_contract_law",
    "住房公积金管理条例": "housing_fund_regulations",
    "中华人民共和国就业促进法": "employment_promotion_law",
    "中华人民共和国法律援助法": "legal_aid_law",
}

# Sources that are not shipped texts: what the audit / fact pack says they rest on.
QUALITY = {
    # policy-facts.md item 5: 3RD-PARTY copy of the plan's text
    "中华人民共和国国民经济和社会发展第十四个五年规划和2035年远景目标纲要": "third_party",
    # item 17: 中国建设报 report (via a repost)
    "住房和城乡建设部发展保障性租赁住房工作现场会（中国建设报报道）": "news",
    # item 69: 光明日报 (news.gmw.cn)
    "光明日报报道：宁夏就业服务（2025年11月4日）": "news",
    # item 54: 3RD-PARTY forum only
    "全国根治欠薪线索反映平台": "third_party",
    # items 15-16: 3RD-PARTY pages quoting the 办法
    "公共租赁住房管理办法": "third_party",
    # items 32-33: 3RD-PARTY
    "关于进一步做好建筑业工伤保险工作的意见": "third_party",
    # item 65: nxgy.gov.cn (official host)
    "固原市购买“铁杆庄稼保”25万人": "official_page",
    # item 7: 3RD-PARTY academic paraphrase only
    "国务院关于进一步推进户籍制度改革的意见": "third_party",
    # item 18: 3RD-PARTY repost; the doc number only in a code string
    "国务院办公厅关于加快发展保障性租赁住房的意见": "third_party",
    # item 63: 3RD-PARTY repost of 央视新闻
    "国家发展改革委以工代赈政策（央视新闻2023年6月12日报道）": "news",
    # item 25: 3RD-PARTY pages
    "城镇企业职工基本养老保险关系转移接续暂行办法": "third_party",
    # item 64: 宁夏日报 on 人民网宁夏
    "宁夏2025年第三批中央以工代赈资金下达（宁夏日报报道）": "news",
    # item 36: hrss.nx.gov.cn (only the header and 第一、二条 readable)
    "宁夏回族自治区创业担保贷款实施办法": "official_page",
    # item 39: 3RD-PARTY repost of 新华网
    "宁夏回族自治区创业担保贷款管理办法（2021年印发）": "third_party",
    # item 68: czt.nx.gov.cn
    "宁夏回族自治区就业补助资金管理和使用实施细则": "official_page",
    # item 67: 3RD-PARTY repost of 宁夏日报
    "宁夏职业技能提升行动实施方案(2019-2021年)": "third_party",
    # item 60: the 2007 text from a 3RD-PARTY page
    "就业服务与就业管理规定": "third_party",
    # item 40: 3RD-PARTY repost (新华每日电讯); the document itself was not readable
    "普惠金融发展专项资金管理办法": "third_party",
    # item 66: hy.gov.cn
    "海原县人民政府办公室文件（海政办函〔2025〕13号）": "official_page",
    # item 38: official page seen only on a mirror domain
    "银川市创业担保贷款办理流程": "third_party",
}

HOW = {
    "seed quote verbatim (81号)": "quote checked verbatim against the seed notice 宁人社函〔2023〕81号",
    "statute quote verbatim in cited article (LawRefBook)": (
        "quote checked verbatim in the cited article of the statute text (LawRefBook)"
    ),
    "fact pack / stored pages": "quote and figures compared with the fact pack (policy-facts.md) and stored pages",
}


def audit_methods() -> dict[str, tuple[str, str]]:
    methods = {}
    for line in AUDIT.read_text(encoding="utf-8").splitlines():
        match = re.match(r"\| `policies_kb/rules/(\w+)/(\w+)\.yaml` \| [^|]+ \| ([^|]+) \|$", line)
        if match:
            status = line.split("|")[2].strip()
            methods[f"{match[1]}/{match[2]}"] = (match[3].strip(), status)
    return methods


def unquote(value: str) -> str:
    value = value.strip()
    if len(value) >= 2 and value[0] == value[-1] and value[0] in "\"'":
        return value[1:-1]
    return value


def annotate(path: Path, method: tuple[str, str]) -> str:
    how, status = method
    finding = "" if status == "Fine" else f"; audit status: {status}"
    lines = path.read_text(encoding="utf-8").splitlines(keepends=True)
    out: list[str] = []
    in_sources = False
    for line in lines:
        if re.match(r"^sources:\s*$", line):
            in_sources = True
        elif re.match(r"^\S", line):
            in_sources = False
        if re.match(r"^last_verified:", line):
            out.append("last_verified: 2026-11-30\n")
            out.append(f'verified_by: "kb-audit 2026-11-30: {HOW[how]}{finding}"\n')
            continue
        out.append(line)
        match = re.match(r"^(\s*)- title:\s*(.+?)\s*$", line)
        if in_sources and match:
            indent = match[1] + "  "
            title = unquote(match[2])
            if title in TEXTS:
                out.append(f"{indent}text: {TEXTS[title]}\n")
                out.append(f"{indent}quality: official_text\n")
            elif title in QUALITY:
                out.append(f"{indent}quality: {QUALITY[title]}\n")
            else:
                raise SystemExit(f"{path}: no quality known for source {title!r}")
    return "".join(out)


def main() -> int:
    methods = audit_methods()
    for path in sorted((ROOT / "policies_kb" / "rules").glob("*/*.yaml")):
        key = f"{path.parent.name}/{path.stem}"
        text = path.read_text(encoding="utf-8")
        if "\nverified_by:" in text:
            continue
        if key not in methods:
            raise SystemExit(f"{path}: not in the audit's appendix")
        path.write_text(annotate(path, methods[key]), encoding="utf-8")
        print("annotated", key)
    return 0


if __name__ == "__main__":
    sys.exit(main())
