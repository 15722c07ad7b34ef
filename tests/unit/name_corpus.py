"""A labelled set of clinical prose, vignettes and interview quotes with person names and hard negatives.

Generated deterministically (Faker with a fixed seed): names without cue words in Chinese, pinyin
(Faker's romanised zh_CN names, both orders, tone marks, upper-case surnames) and English, and
sentences full of things that are not names (hospitals, departments, drugs, eponymous diseases,
months, cities). Each sample is (text, [(start, end)] of the names in it).
"""

from __future__ import annotations

import random

from faker import Faker

Sample = tuple[str, list[tuple[int, int]]]

ZH_TEMPLATES = [
    "{n}于2023年3月因胸痛入院，心电图提示ST段抬高。", "复诊时{n}诉头晕乏力，血压150/95mmHg。",
    "我问{n}最近睡得怎么样，她说还好。", "{n}，男，62岁，糖尿病史10年，口服二甲双胍。",
    "北京协和医院心内科收治{n}后给予阿司匹林。", "访谈中{n}提到家里经济困难。", "据{n}回忆，症状始于去年冬天。",
    "“我每天都要吃药，”{n}说，“不吃就睡不着。”", "上周{n}和女儿一起来门诊复查。", "{n}的妻子陪同就诊。",
    "病例三：{n}，女，45岁，乳腺癌术后化疗。", "随访期间{n}血糖控制良好。", "华山医院神经内科会诊后，{n}转入ICU。",
    "{n}自述吸烟二十年，每日一包。", "研究者在社区访谈了{n}，并记录了她的用药情况。", "今天{n}没有按时服用降压药。",
    "{n}表示对治疗效果比较满意。", "主治医生建议{n}减少盐的摄入。", "第二次访谈时，{n}情绪明显好转。",
    "出院小结：{n}病情稳定，予以出院。",
]
ZH_NEGATIVES = [
    "北京协和医院心内科给予二甲双胍和阿司匹林治疗。", "高血压病史十年，李斯特菌感染后白细胞升高。",
    "周一复查肝功能，黄疸消退，金黄色葡萄球菌培养阴性。", "于是我们采用程度分级评估疼痛。",
    "帕金森病和阿尔茨海默病患者的照护负担较重。", "上海交通大学医学院附属瑞金医院内分泌科。",
    "华山医院神经内科开展了多中心研究。", "方案调整后，常规监测血压和心率。", "患者的数量为120例，平均年龄54岁。",
    "左氧氟沙星和万古霉素联合使用。", "安定片每晚一粒，石膏固定四周。", "明显好转后改为口服林可霉素。",
    "江苏省人民医院与南京鼓楼医院合作。", "武汉协和医院呼吸科收治了大量病例。", "黄山市人民医院的随访率较高。",
    "高危人群应定期筛查，包括糖化血红蛋白。", "文献表明，何时开始治疗仍有争议。", "全身麻醉下行腹腔镜胆囊切除术。",
    "连续三个月的应用效果良好。", "白细胞计数和中性粒细胞比例均升高。", "宁可多查一次，也不要漏诊。",
    "孙中山先生纪念医院位于广州。", "广州市第一人民医院急诊科。", "项目组在成都和重庆开展了调查。",
    "曲线下面积为0.82，路径分析结果稳健。", "卫生院的医生每周下乡随访。", "叶酸片和维生素B12补充治疗。",
    "康复科和骨科联合查房。", "温度、湿度和空气质量与发病率相关。", "石家庄市第三医院的数据已脱敏。",
]
EN_TEMPLATES = [
    "{n} was admitted in March with chest pain.", "At follow-up {n} reported dizziness and fatigue.",
    "\"I take my tablets every day,\" said {n}, \"or I can't sleep.\"", "We interviewed {n} at home in the spring.",
    "{n}, a 62-year-old retired teacher, has had diabetes for ten years.", "The nurse asked {n} about her diet.",
    "According to {n}, the symptoms started last winter.", "Case 3: {n} presented with a persistent cough.",
    "{n} came to the clinic with her daughter.", "During the second interview {n} seemed more relaxed.",
    "Discharge summary: {n} is stable and can go home.", "The GP referred {n} to cardiology.",
    "{n} said the new inhaler made a big difference.", "Last week {n} missed two doses of metformin.",
]
EN_NEGATIVES = [
    "Patients were recruited at the Mayo Clinic and Johns Hopkins Hospital.",
    "Addison's disease and Graves' disease were excluded.",
    "Parkinson's disease progression was measured with the Hoehn and Yahr scale.",
    "Kaplan Meier curves and Cox Proportional Hazards models.",
    "In May Patients were screened at Royal Free Hospital.", "Follow-up ended in June and again in April.",
    "New York and Los Angeles sites enrolled most participants.", "The Table Shows Mean Age by Group.",
    "Hodgkin lymphoma and Crohn's disease cohorts were compared.", "Down syndrome and Bell's palsy were rare.",
    "Data from Great Ormond Street Hospital and Guy's and St Thomas' Trust.",
    "The Glasgow Coma Scale and Charlson Comorbidity Index.", "Figure Two shows the Forest Plot.",
    "Wilson disease was diagnosed in two children.", "Recruitment ran from January to March.",
    "Hong Kong and Macau residents were included.", "Sites in Beijing, Shanghai and Wuhan took part.",
    "Queen Elizabeth Hospital Birmingham joined in the second year.", "Victoria Station is near the clinic.",
    "Mann Whitney tests and Fisher exact tests were used.", "Student t tests compared Monday and Friday admissions.",
]
PINYIN_TEMPLATES = [
    "{n} was admitted to Ruijin Hospital in March.", "Interviewee {n} said she could not afford the drugs.",
    "{n}, 58, a farmer from Sichuan, has hypertension.", "We spoke with {n} twice during follow-up.",
    "According to {n}, the pain began last year.", "{n} reported no side effects.",
    "The case of {n} is described below.",
]


def _tone_marked(name: str) -> str:
    from pypinyin import Style, lazy_pinyin

    del lazy_pinyin, Style  # tone marks are added by hand below to keep pypinyin out of the labels
    marks = {"a": "ā", "e": "ě", "i": "í", "o": "ò", "u": "ū"}
    out = []
    for word in name.split():
        for v in "aeiou":
            if v in word:
                word = word.replace(v, marks[v], 1)
                break
        out.append(word)
    return " ".join(out)


def _fill(template: str, name: str) -> Sample:
    start = template.index("{n}")
    return template.replace("{n}", name), [(start, start + len(name))]


def corpus(language: str, size: int = 300, seed: int = 11) -> list[Sample]:
    """`size` named samples in `language` (zh, pinyin, en) plus every hard negative of that language."""
    rng = random.Random(seed)
    fake = Faker("zh_CN" if language in ("zh", "pinyin") else "en")
    fake.seed_instance(seed)
    out: list[Sample] = []
    for i in range(size):
        if language == "zh":
            out.append(_fill(rng.choice(ZH_TEMPLATES), fake.name()))
        elif language == "pinyin":
            last, first = fake.last_romanized_name(), fake.first_romanized_name()
            style = i % 4
            name = (f"{last} {first}" if style == 0 else f"{first} {last}" if style == 1
                    else f"{last.upper()} {first}" if style == 2 else _tone_marked(f"{last} {first}"))
            out.append(_fill(rng.choice(PINYIN_TEMPLATES), name))
        else:
            out.append(_fill(rng.choice(EN_TEMPLATES), f"{fake.first_name()} {fake.last_name()}"))
    negatives = ZH_NEGATIVES if language == "zh" else EN_NEGATIVES
    out += [(text, []) for text in negatives]
    return out


def precision_recall(samples: list[Sample], find) -> tuple[float, float, list[str]]:
    """Span overlap scoring: a planted name is found if a reported PERSON span overlaps it."""
    tp = fp = fn = 0
    misses: list[str] = []
    for text, gold in samples:
        spans = [(m.start, m.end) for m in find(text)]
        hit = [any(s < ge and gs < e for s, e in spans) for gs, ge in gold]
        tp += sum(hit)
        fn += len(hit) - sum(hit)
        extra = [text[s:e] for s, e in spans if not any(s < ge and gs < e for gs, ge in gold)]
        fp += len(extra)
        misses += [f"miss {text[gs:ge]} in {text}" for (gs, ge), h in zip(gold, hit, strict=True) if not h]
        misses += [f"false {x} in {text}" for x in extra]
    precision = tp / (tp + fp) if tp + fp else 1.0
    recall = tp / (tp + fn) if tp + fn else 1.0
    return precision, recall, misses
