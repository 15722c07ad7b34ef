"""Person names in running text, offline: Chinese characters, pinyin and English, with no cue word needed.

Chinese: a surname lexicon (the Hundred Family Surnames, single and compound) finds where a name may
start; jieba's dictionary (shipped inside the package, no download) says whether those characters are
instead the start of an ordinary word (高血压, 白细胞, 方案, 华山医院) and, by the person names it lists,
which characters given names are made of; words after the name (医院, 科, 菌, 病, 路) rule out places,
departments, organisms and diseases; rare surnames that are also common characters need a context
word (说, 诉, 男, 岁, 问, 和 ...). Pinyin: a surname and a given name made of one or two pinyin syllables
(pypinyin's syllable table), in either order, with or without tone marks. English: a first name from
gender-guesser's name dictionary (nam_dict, Great Britain, Ireland and U.S.A. columns: deliberately not
Faker's lists, which the tests draw names from) followed by a capitalised surname, or a title.
No tokenizer runs over text without Chinese characters.
"""

from __future__ import annotations

import importlib.util
import logging
import math
import re
import unicodedata
from collections.abc import Iterable, Iterator
from dataclasses import replace
from functools import lru_cache
from importlib import resources
from pathlib import Path
from types import ModuleType

import polars as pl

from enclave.pii import lexicons
from enclave.pii.entities import Entity
from enclave.pii.normalize import simplified
from enclave.pii.recognizers import Match

log = logging.getLogger(__name__)


def _words(text: str) -> frozenset[str]:
    return frozenset(text.split())


# 百家姓 (the Hundred Family Surnames), single-character part, plus common surnames it does not list.
HUNDRED_FAMILY = (
    "赵钱孙李周吴郑王冯陈褚卫蒋沈韩杨朱秦尤许何吕施张孔曹严华金魏陶姜戚谢邹喻柏水窦章云苏潘葛奚范彭郎"
    "鲁韦昌马苗凤花方俞任袁柳酆鲍史唐费廉岑薛雷贺倪汤滕殷罗毕郝邬安常乐于时傅皮卞齐康伍余元卜顾孟平黄"
    "和穆萧尹姚邵湛汪祁毛禹狄米贝明臧计伏成戴谈宋茅庞熊纪舒屈项祝董梁杜阮蓝闵席季麻强贾路娄危江童颜郭"
    "梅盛林刁钟徐邱骆高夏蔡田樊胡凌霍虞万支柯昝管卢莫经房裘缪干解应宗丁宣贲邓郁单杭洪包诸左石崔吉钮龚"
    "程嵇邢滑裴陆荣翁荀羊於惠甄曲家封芮羿储靳汲邴糜松井段富巫乌焦巴弓牧隗山谷车侯宓蓬全郗班仰秋仲伊宫"
    "宁仇栾暴甘钭厉戎祖武符刘景詹束龙叶幸司韶郜黎蓟薄印宿白怀蒲邰从鄂索咸籍赖卓蔺屠蒙池乔阴胥能苍双"
    "闻莘党翟谭贡劳逄姬申扶堵冉宰郦雍郤璩桑桂濮牛寿通边扈燕冀郏浦尚农温别庄晏柴瞿阎充慕连茹习宦艾鱼容"
    "向古易慎戈廖庾终暨居衡步都耿满弘匡国文寇广禄阙东殴殳沃利蔚越夔隆师巩厍聂晁勾敖融冷訾辛阚那简饶空"
    "曾毋沙乜养鞠须丰巢关蒯相查后荆红游竺权逯盖益桓公晋楚闫法汝鄢涂钦岳帅缑亢况郈有琴商牟佘佴伯赏墨哈"
    "谯笪年爱阳佟言福付覃邝"
)
COMPOUND_SURNAMES = _words(
    "万俟 司马 上官 欧阳 夏侯 诸葛 闻人 东方 赫连 皇甫 尉迟 公羊 澹台 公冶 宗政 濮阳 淳于 "
    "单于 太叔 申屠 公孙 仲孙 轩辕 令狐 钟离 宇文 长孙 慕容 鲜于 闾丘 司徒 司空 亓官 司寇 "
    "子车 颛孙 端木 巫马 公西 漆雕 乐正 壤驷 公良 拓跋 夹谷 宰父 谷梁 段干 百里 东郭 南门 "
    "呼延 归海 羊舌 微生 梁丘 左丘 东门 西门 南宫 第五 "
)
# The ~300 most frequent surnames (about 85 % of people): these may start a name without a context word.
COMMON_SURNAMES = frozenset(
    "王李张刘陈杨黄赵吴周徐孙马朱胡郭何高林罗郑梁谢宋唐许韩冯邓曹彭曾肖田董袁潘于蒋蔡余杜叶程苏魏吕丁任"
    "沈姚卢姜崔钟谭陆汪范金石廖贾夏韦付傅方白邹孟熊秦邱江尹薛闫阎段雷侯龙史陶黎贺顾毛郝龚邵万钱严覃武戴莫"
    "孔向汤常温康施文牛樊葛邢安齐易乔伍庞颜倪庄聂章鲁岳翟殷詹申欧耿关兰焦俞左柳甘祝包宁尚符舒阮柯纪梅童凌"
    "毕单季裴霍涂成苗谷盛曲翁冉骆蓝路游辛靳管柴蒙鲍华喻祁蒲房滕屈饶解牟艾尤阳时穆农司卓古吉缪简车项连芦麦"
    "褚娄窦戚岑景党宫费卜冷晏席卫米柏宗瞿桂全佟应臧闵苟邬边卞姬师和仇栾隋商刁沙荣巫寇桑郎甄丛仲虞敖巩明佘"
    "池查麻苑迟邝萧洪廉")
SURNAMES = frozenset(HUNDRED_FAMILY) | COMMON_SURNAMES
# Common surnames that are also everyday function words: a name needs a context word after them.
AMBIGUOUS = frozenset("于和时向成明文高方常安齐易关包宁尚单全应边师商沙查麻司古吉车项连路游能都那后相家国"
                      "从有别空通终步满利东双红平元")


def has_common_surname(value: str) -> bool:
    """A 2-4 character value that starts with a common single or a compound surname (bare name columns)."""
    if len(value) < 2 or len(value) > 4:
        return False
    value = simplified(value)
    return value[:2] in COMPOUND_SURNAMES or value[0] in COMMON_SURNAMES


# Characters that end or break a name: grammar words, pronouns, counters, numbers.
STOP = frozenset("的了是在和有不这我他她它们于因诉说后等与及到被把将向对从也都就还又很最其之所以而但或者如若即已"
                 "曾正再才各每该此那哪些么吗呢吧啊呀哦嗯个年月日时分秒岁次例名位种项条型期级度率量为以一二三四五六"
                 "七八九十百千万两几多少无非未没要会能可应需请让给叫问称表示回忆提认告介绍入出院科病症菌药片粒毫克升"
                 "男女你您咱自己前中上下里外内左右间来去过着地得并且或及时")
# What follows a surname-led word that makes it a place, institution, department, organism or disease.
NOT_A_PERSON_AFTER = re.compile(
    r"^(?:医院|医科|医学|大学|学院|中学|小学|卫生|保健|诊所|中心|科|病(?![情人历房区床例史程])|"
    r"症|综合征|菌|氏|路|街|道|巷|村|镇|乡|县|市|区|省|山|河|湖|江|桥|站|港|湾|岛|"
    r"集团|公司|药业|制药|片|胶囊|注射液|颗粒|霉素|肽|胺|酮|酸|"
    r"儿童医院|妇幼|妇产|纪念|故居|基金|楼|馆|奖|国际和平)")  # places named after people: 宋庆龄儿童医院, 逸夫楼
CONTEXT_AFTER = re.compile(
    r"^(?:[，,、]?\s*[男女][，,性]|说|诉|称|表示|回忆|提到|认为|告诉|介绍|讲|答|问|笑|哭|自述|没有|"
    r"情绪|病情|血糖|血压|和(?:女儿|儿子|妻子|丈夫|家人|母亲|父亲|老伴)|最近|先生|女士|老师|"
    r"医生|医师|大夫|护士|主任|教授|同学|同志|阿姨|叔叔|爷爷|奶奶|老人|"
    r"的(?:妻子|丈夫|母亲|父亲|儿子|女儿|家属|病情)|[，,]?\s*\d{1,3}岁|入院|出院|就诊|复诊|住院|于\d)")
CONTEXT_BEFORE = re.compile(
    r"(?:患者|病人|家属|姓名|联系人|医生|医师|护士|主任|老师|问|叫|找|给|让|和|与|同|跟|访谈了|"
    r"记录了|建议|对|向|陪|收治|探望|据|由|被|受访者|访谈对象|参与者)[:：\s]*$")
CJK = re.compile(r"[\u4e00-\u9fff]+")


@lru_cache(maxsize=1)
def _dictionary() -> pl.DataFrame:
    """jieba's dictionary (dict.txt inside the package: "word frequency tag" lines), read by polars."""
    return pl.read_csv(str(resources.files("jieba").joinpath("dict.txt")), has_header=False, separator=" ",
                       quote_char=None, schema={"word": pl.Utf8, "freq": pl.Int64, "tag": pl.Utf8})


def _derive_word_table() -> tuple[pl.DataFrame, int, int]:
    """jieba's words with their frequencies (sorted, the last entry of a word wins, as in jieba), the total
    frequency and the longest word: what jieba builds its prefix dictionary from."""
    table = _dictionary().select("word", "freq")
    words = table.sort("word", maintain_order=True).filter(  # the last of equal words
        pl.col("word").ne(pl.col("word").shift(-1)).fill_null(True))
    return words, int(table["freq"].sum()), int(words["word"].str.len_chars().max() or 1)


@lru_cache(maxsize=1)
def _word_table() -> tuple[pl.DataFrame, int, int]:
    """`_derive_word_table`, from the lexicon cache."""
    totals = dict(_lexicons()["totals"].iter_rows())
    words = _lexicons()["words"].select(word="value", freq="number")
    return words, int(totals["total"]), int(totals["longest"])


# jieba's own patterns (jieba/__init__.py): the blocks it segments, the whitespace it splits the rest at, and
# the single letters and digits its no-HMM cut joins into one token
_JIEBA_HAN = re.compile("([\u4E00-\u9FD5a-zA-Z0-9+#&\\._%\\-]+)")
_JIEBA_SKIP = re.compile(r"(\r\n|\s)")
_JIEBA_ENG = re.compile("[a-zA-Z0-9]")


class _Segmenter:
    """jieba's `Tokenizer.cut(sentence, HMM=False)`, line for line, over a prefix dictionary (`FREQ`) that holds
    only what the texts read so far need.

    Importing jieba loads its HMM model (finalseg's emission tables, a tenth of a second) that a cut
    without HMM never reads; jieba's own start-up builds (or unmarshals) a dictionary of every word
    and word prefix, about a second and a half. Its segmentation of a run looks up only the run's own
    substrings, so those are looked up in the word table (by polars) before a run is segmented
    (`prepare_runs`), with the same values jieba would give them: a word's frequency, 0 for a prefix of
    a word, absent otherwise. A test holds the cut to jieba's own.
    """

    def __init__(self, total: int) -> None:
        self.FREQ: dict[str, int] = {}  # noqa: N815 (jieba's name)
        self.total = total

    def _dag(self, sentence: str) -> dict[int, list[int]]:
        dag, n, freq = {}, len(sentence), self.FREQ
        for k in range(n):
            ends, i, frag = [], k, sentence[k]
            while i < n and frag in freq:
                if freq[frag]:
                    ends.append(i)
                i += 1
                frag = sentence[k:i + 1]
            dag[k] = ends or [k]
        return dag

    def _cut_block(self, sentence: str) -> Iterator[str]:
        dag, n, freq = self._dag(sentence), len(sentence), self.FREQ
        route: dict[int, tuple[float, int]] = {n: (0, 0)}
        logtotal = math.log(self.total)
        for idx in range(n - 1, -1, -1):
            route[idx] = max((math.log(freq.get(sentence[idx:x + 1]) or 1) - logtotal + route[x + 1][0], x)
                             for x in dag[idx])
        x, buf = 0, ""
        while x < n:
            y = route[x][1] + 1
            word = sentence[x:y]
            if _JIEBA_ENG.match(word) and len(word) == 1:
                buf += word
            else:
                if buf:
                    yield buf
                    buf = ""
                yield word
            x = y
        if buf:
            yield buf

    def cut(self, sentence: str) -> Iterator[str]:
        for blk in _JIEBA_HAN.split(sentence):
            if not blk:
                continue
            if _JIEBA_HAN.match(blk):
                yield from self._cut_block(blk)
                continue
            for x in _JIEBA_SKIP.split(blk):
                if _JIEBA_SKIP.match(x):
                    yield x
                else:
                    yield from x


@lru_cache(maxsize=1)
def _jieba() -> _Segmenter:
    """The segmenter, with jieba's total frequency."""
    return _Segmenter(_word_table()[1])


_PREPARED: set[str] = set()


def prepare_runs(runs: Iterable[str]) -> None:
    """Look up, in one polars pass, every substring of these runs that jieba's prefix dictionary holds."""
    new = {v for r in runs for _, w in _windows(r) for v in (w, simplified(w)) if v not in _PREPARED}
    if not new:
        return
    words, _total, longest = _word_table()
    freq = _jieba().FREQ
    subs = {r[i:j] for r in new for i in range(len(r)) for j in range(i + 1, min(len(r), i + longest) + 1)}
    subs.difference_update(freq)
    if subs:
        query = pl.DataFrame({"q": sorted(subs)})
        at = words["word"].search_sorted(query["q"], side="left").clip(0, len(words) - 1)
        found = query.with_columns(w=words["word"].gather(at), f=words["freq"].gather(at)).filter(
            pl.col("w").str.starts_with(pl.col("q")))  # the first word at or after q is q, or starts with it
        freq.update(zip(found["q"].to_list(), [f if w == q else 0 for q, w, f in found.iter_rows()], strict=True))
    _PREPARED.update(new)


@lru_cache(maxsize=1)
def _name_lexicon() -> tuple[frozenset[str], frozenset[str]]:
    """`_derive_name_lexicon`, from the lexicon cache."""
    return _lexicon_set("given"), _lexicon_set("known")


def _derive_name_lexicon() -> tuple[frozenset[str], frozenset[str]]:
    """From jieba's dictionary: characters of given names (after a surname in words tagged `nr`), and the
    surname-led three-character words tagged `nr` (mostly people; its two-character `nr` words are too
    often ordinary words such as 阳光, 卫星, 康复 to trust without a context word).

    Counted by polars (one pass over the dictionary, not a Python loop over its tens of thousands of names):
    it is read at the start of every scan that meets Chinese text."""
    word = pl.col("word")
    compound = word.str.slice(0, 2).is_in(list(COMPOUND_SURNAMES))
    tagged = _dictionary().filter(pl.col("tag").str.starts_with("nr") & word.str.len_chars().is_between(2, 4)
                                  & (word.str.slice(0, 1).is_in(list(SURNAMES)) | compound))
    tagged = tagged.select("word", given=word.str.slice(pl.when(compound).then(2).otherwise(1)))
    counts = tagged.select(c=pl.col("given").str.split("")).explode("c")["c"].value_counts(name="n")
    given = frozenset(c for c, n in counts.iter_rows() if n >= 2 and c and c not in STOP)
    tail = tagged.filter(word.str.len_chars() >= 3).select("word", c=word.str.slice(1).str.split("")).explode("c")
    known = tail.group_by("word").agg(pl.col("c").is_in(list(given)).all()).filter(pl.col("c"))["word"]
    return given, frozenset(known.to_list())


def given_name_chars() -> frozenset[str]:
    return _name_lexicon()[0]


# jieba lists these surname-led words as names, but in clinical text they are things or places.
NR_NOT_PERSON = _words(
    "胡萝卜 黄金周 石家庄 季后赛 蒙古人 金水河 金水桥 黄鹤楼 屈家岭 杜鹃花 马其顿 莫斯科 "
    "柏拉图 马克思 詹姆斯 王夫人 李太后 "
)
PLACE_END = frozenset("市县区镇乡村庄河湖江山岭楼桥湾岛港寺庙宫殿府人赛周")


def _tokens(run: str) -> list[tuple[int, int, str]]:
    """jieba's dictionary segmentation (no HMM guesses): (start, end, word)."""
    prepare_runs((run,))
    out, pos = [], 0
    for w in _jieba().cut(run):
        out.append((pos, pos + len(w), w))
        pos += len(w)
    return out


def _name_end(run: str, s: int, sur: int, starts: dict[int, tuple[int, str]]) -> int:
    """Where a name starting with a surname at `s` ends: one or two given-name characters, or `s + sur`."""
    given, freq = given_name_chars(), _jieba().FREQ
    end = s + sur
    for i in range(2):
        c = run[end:end + 1]
        if not c or c not in given:
            break
        nxt = starts.get(end)
        if i == 1 and nxt and nxt[0] > end + 1 and freq.get(nxt[1], 0) > 0:
            break  # the second character starts a word of its own (许利|提到)
        end += 1
    return end


def _chinese_in_run(run: str, offset: int) -> list[Match]:
    tokens = _tokens(run)
    starts = {s: (e, w) for s, e, w in tokens}
    freq = _jieba().FREQ
    known = _name_lexicon()[1]
    out: list[Match] = []
    taken = 0
    for s, e, w in tokens:
        if s < taken:
            continue
        sur = 2 if run[s:s + 2] in COMPOUND_SURNAMES else 1 if run[s] in SURNAMES else 0
        if not sur:
            continue
        in_word = e - s > sur and freq.get(w, 0) > 0 and not (sur == 2 and e - s <= 4)
        end = e if in_word else _name_end(run, s, sur, starts)
        if end == s + sur:
            continue
        after, before = run[end:end + 6], run[max(0, s - 6):s]
        if NOT_A_PERSON_AFTER.match(after):
            continue
        surname = run[s:s + sur]
        cued = bool(CONTEXT_AFTER.match(after) or CONTEXT_BEFORE.search(before))
        if in_word:  # an ordinary word (高血压, 方案, 华山医院) unless jieba lists it as a person's name
            listed = w in known and w not in NR_NOT_PERSON and w[-1] not in PLACE_END
            if not (listed and surname not in AMBIGUOUS or cued and 2 <= len(w) <= 3 and all(
                    c in given_name_chars() for c in w[sur:])):
                continue
        elif (surname in AMBIGUOUS or surname not in COMMON_SURNAMES and sur == 1) and not cued:
            continue
        out.append(Match(Entity.PERSON, offset + s, offset + end, run[s:end], 0.8 if cued else 0.7,
                         "name.zh-surname-lexicon"))
        taken = end
    return out


MAX_RUN = 200  # longer runs are read in overlapping windows: time and memory stay linear in the run
RUN_OVERLAP = 16  # more than a name and the context words around it


def _windows(run: str) -> list[tuple[int, str]]:
    if len(run) <= MAX_RUN:
        return [(0, run)]
    step = MAX_RUN - RUN_OVERLAP
    return [(i, run[i:i + MAX_RUN]) for i in range(0, len(run) - RUN_OVERLAP, step)]


@lru_cache(maxsize=1 << 16)
def run_names(run: str) -> tuple[Match, ...]:
    """The names in one run of Chinese characters (offsets into the run), read once per distinct run.

    A name is decided inside its run only, and a table's notes share most of their runs (places,
    drugs, phrases), so caching here is what keeps the segmenter off repeated text. A very long run is
    read in overlapping windows; a "name" of one character repeated (王王王) is padding, not a person.
    """
    found: list[Match] = []
    windows = _windows(run)
    for k, (offset, piece) in enumerate(windows):
        simple = simplified(piece)  # traditional script read as simplified, the value kept as written
        # a name belongs to the window whose middle it starts in: there it has its context on both sides
        low = offset + RUN_OVERLAP // 2 if k else 0
        high = offset + len(piece) - RUN_OVERLAP // 2 if k < len(windows) - 1 else len(run)
        for m in _chinese_in_run(simple, offset):
            value = run[m.start:m.end]
            if low <= m.start < high and len(set(value)) > 1:
                found.append(replace(m, value=value))
    return tuple(found)


def chinese_names(text: str) -> list[Match]:
    """Chinese personal names in running text, cue word or not."""
    out: list[Match] = []
    for m in CJK.finditer(text):
        if len(m.group()) >= 2:
            out += [Match(x.entity, x.start + m.start(), x.end + m.start(), x.value, x.score, x.rule)
                    for x in run_names(m.group())]
    return out


# ---- pinyin ----

@lru_cache(maxsize=1)
def pinyin_syllables() -> frozenset[str]:
    """`_derive_pinyin_syllables`, from the lexicon cache."""
    return _lexicon_set("pinyin_syllables")


def _derive_pinyin_syllables() -> frozenset[str]:
    """Every toneless pinyin syllable, from pypinyin's character table."""
    readings = {r for value in _pinyin_table().values() for r in value.split(",")}  # a few thousand distinct ones
    out = {_toneless(r) for r in readings}
    return frozenset(s for s in out if s.isalpha() and s.isascii())


@lru_cache(maxsize=1)
def pinyin_surnames() -> frozenset[str]:
    """`_derive_pinyin_surnames`, from the lexicon cache."""
    return _lexicon_set("pinyin_surnames")


def _derive_pinyin_surnames() -> frozenset[str]:
    """Surnames written in pinyin (all readings of each lexicon surname; compounds as one word).

    The readings are pypinyin's, as `pypinyin.pinyin(surname, Style.NORMAL, heteronym=True)` gives
    them: every reading of a character in its character table, and for a compound its reading in the
    phrase table when it has one there. Both tables are read directly: importing pypinyin loads its
    whole phrase table first (most of a second).
    """
    out = set()
    for s in SURNAMES | COMPOUND_SURNAMES:
        readings = _pinyin_readings(s)
        combos = [""]
        for options in readings:
            combos = [c + o for c in combos for o in options]
        out.update(c.replace("ü", "v") for c in combos)
    return frozenset(out)


def _pinyin_readings(word: str) -> list[list[str]]:
    """Toneless readings per character of `word`: its phrase-table entry, or each character's readings."""
    phrase = _compound_phrases().get(word)
    if phrase is not None:
        return [list(dict.fromkeys(_toneless(r) for r in item)) for item in phrase]
    table = _pinyin_table()
    return [list(dict.fromkeys(_toneless(r) for r in table[ord(c)].split(","))) if ord(c) in table else [c]
            for c in word]


@lru_cache(maxsize=1)
def _pinyin_table() -> dict[int, str]:
    return _data_module("pypinyin", "pinyin_dict.py").pinyin_dict


@lru_cache(maxsize=1)
def _compound_phrases() -> dict[str, list[list[str]]]:
    """The entries of pypinyin's phrase table (phrases_dict.json) for the compound surnames."""
    import json

    spec = importlib.util.find_spec("pypinyin")
    if spec is None or not spec.submodule_search_locations:
        raise ModuleNotFoundError("pypinyin")
    text = Path(next(iter(spec.submodule_search_locations)), "phrases_dict.json").read_text(encoding="utf-8")
    entry = re.compile(r'"([\u4e00-\u9fff]{2})": (\[(?:\s*\[[^\]]*\],?)*\s*\])')
    return {m.group(1): json.loads(m.group(2)) for m in entry.finditer(text) if m.group(1) in COMPOUND_SURNAMES}


@lru_cache(maxsize=1 << 16)  # a pure function of a word or two: notes repeat their words
def _toneless(word: str) -> str:
    decomposed = unicodedata.normalize("NFD", word.lower().replace("ü", "v").replace("ǖ", "v").replace("ǘ", "v")
                                       .replace("ǚ", "v").replace("ǜ", "v"))
    return "".join(c for c in decomposed if not unicodedata.combining(c))


@lru_cache(maxsize=1 << 16)  # a pure function of a word or two: notes repeat their words
def _syllable_count(word: str) -> int:
    """How many pinyin syllables `word` splits into (0 if it does not), preferring fewer."""
    syl = pinyin_syllables()
    w = word.replace("'", "").replace("-", "").replace("’", "")
    best = [0] + [99] * len(w)
    for i in range(1, len(w) + 1):
        for j in range(max(0, i - 6), i):
            if best[j] < 99 and w[j:i] in syl:
                best[i] = min(best[i], best[j] + 1)
    return best[-1] if best[-1] < 99 else 0


# English words that are also pinyin syllables: two of them together are English, not a name.
ENGLISH_PINYIN = _words(
    "a an he she me man men long fan song pan ban can hen ran run die lie tie pie you to so we who in on "
    "ten tin pen bang hang gang hung lung sang shed shin tan wan yen zen "
)
NOT_PINYIN_NAME = frozenset({("hong", "kong"), ("tai", "chi"), ("feng", "shui"), ("yin", "yang"), ("kung", "fu"),
                             ("mao", "tai"), ("ping", "pong"), ("xi", "an"), ("dim", "sum")})
ROMAN = r"[A-Za-zÀ-ÖØ-öø-ɏ\u0300-\u036f'’-]"
PINYIN_PAIR = re.compile(rf"(?<![A-Za-zÀ-ɏ])([A-ZÀ-ÞĀ-Ž]{ROMAN}*)\s+([A-ZÀ-ÞĀ-Ž]{ROMAN}*)(?![A-Za-zÀ-ɏ])")
INSTITUTION = re.compile(r"^\s+(?:Hospital|Clinic|University|College|School|Institute|Medical|Centre|Center|Road|Rd|"
                         r"Street|St|Lu|Jie|District|County|City|Province|Village|Town|Lake|River|Mountain|Park|"
                         r"Station|Bridge|Temple|Group|Company|Co|Ltd|Pharmaceutical|Syndrome|Disease)\b")


@lru_cache(maxsize=1 << 16)  # a pure function of a word or two: notes repeat their words
def _pinyin_name(first: str, second: str) -> bool:
    a, b = _toneless(first), _toneless(second)
    if (a, b) in NOT_PINYIN_NAME or (a in ENGLISH_PINYIN and b in ENGLISH_PINYIN and first.istitle()
                                     and second.istitle() and a == first.lower() and b == second.lower()):
        return False  # plain English ("He Ran", "Long Men"), unless written with tones
    surnames = pinyin_surnames()
    return ((a in surnames and 1 <= _syllable_count(b) <= 2 and len(b) <= 12)
            or (b in surnames and 1 <= _syllable_count(a) <= 2 and len(a) <= 12))


def pinyin_names(text: str) -> list[Match]:
    """"Zhang Wei", "Wei Zhang", "Zhāng Wěi", "ZHANG Wei", "Ouyang Xiaoming"."""
    out = []
    pos = 0
    while (m := PINYIN_PAIR.search(text, pos)) is not None:
        first, second = m.group(1), m.group(2)
        if _pinyin_name(first, second) and not INSTITUTION.match(text[m.end():m.end() + 20]):
            out.append(Match(Entity.PERSON, m.start(), m.end(), m.group(), 0.75, "name.pinyin"))
            pos = m.end()
        else:
            pos = m.start(2)
    return out


# ---- English ----

@lru_cache(maxsize=1)
def english_first_names() -> frozenset[str]:
    """`_derive_english_first_names`, from the lexicon cache."""
    return _lexicon_set("english_first_names")


def _derive_english_first_names() -> frozenset[str]:
    """First names used in Great Britain, Ireland or the U.S.A., from gender-guesser's nam_dict.txt."""
    text = resources.files("gender_guesser").joinpath("data/nam_dict.txt").read_text(encoding="utf-8")
    out = set()
    for line in text.splitlines():
        if not line or line[0] in "#=" or len(line) < 33:
            continue
        if line[30:33].strip():
            name = line[3:29].strip()
            if name.isalpha():
                out.add(name)
    return frozenset(out)


def _data_module(package: str, *path: str) -> ModuleType:
    """One plain data module of a package (spaCy's stop words, pypinyin's character table) loaded without
    importing the package: importing spaCy or pypinyin whole costs a second or more at start-up."""
    spec = importlib.util.find_spec(package)
    if spec is None or not spec.submodule_search_locations:
        raise ModuleNotFoundError(package)
    file = Path(next(iter(spec.submodule_search_locations)), *path)
    loaded = importlib.util.spec_from_file_location(f"_enclave_data.{package}.{file.stem}", file)
    if loaded is None or loaded.loader is None:
        raise ModuleNotFoundError(f"{package}: {file}")
    module = importlib.util.module_from_spec(loaded)
    loaded.loader.exec_module(module)
    return module


@lru_cache(maxsize=1)
def _stop_words() -> frozenset[str]:
    return frozenset(_data_module("spacy", "lang", "en", "stop_words.py").STOP_WORDS)


MONTHS = _words(
    "January February March April May June July August September October November December "
)
# Capitalised words after a first name that make it a place, an institution, a disease or a heading.
NOT_SURNAME = _words(
    "Clinic Hospital Hospitals Infirmary Centre Center University College School Institute Foundation "
    "Trust Health Medical Medicine Disease Syndrome Sign Test Score Scale Criteria Classification Index "
    "Street Road Avenue Lane Drive Way Square Park Station Airport County City Town Valley River Lake "
    "Island Islands Mountain Bay Beach Ward Unit Department Group Study Trial Cohort Table Figure "
    "Appendix Chapter Section Model Foundation Company Inc Ltd Corporation Pharmaceuticals Pharma Day "
    "Week Month Year Morning Evening Monday Tuesday Wednesday Thursday Friday Saturday Sunday "
) | MONTHS
TITLES = r"Mr|Mrs|Ms|Miss|Mx|Dr|Prof|Sir|Madam|Dame|Lady|Lord"
SURNAME = r"(?:O'|Mc|Mac|D'|De |Van |Von )?[A-Z][a-z'-]{1,20}(?:-[A-Z][a-z]+)?"
EN_NAME = re.compile(
    rf"(?<![A-Za-z])(?:(?P<title>{TITLES})\.?\s+)?(?P<first>[A-Z][a-z]{{1,14}}|[A-Z]{{2,14}})(?:\s+[A-Z]\.)?"
    rf"\s+(?P<last>{SURNAME}|[A-Z]{{2,20}})(?![A-Za-z])")
EN_TITLE_ONLY = re.compile(rf"(?<![A-Za-z])(?:{TITLES})\.?\s+(?P<last>{SURNAME})(?![A-Za-z])")
EN_LABEL = re.compile(r"(?i:\b(?:patient|name|full name|contact|next of kin|guardian|interviewee|participant)"
                      r"\s*[:=]\s*)(?P<name>[A-Z][a-z]+(?:\s+[A-Z][a-z'-]+){1,2})")
CAPITAL = re.compile(r"(?<![A-Za-z])[A-Z]")
DATE_WORD = re.compile(r"(?i)\b(?:in|on|since|from|until|till|by|during|of|early|late|mid|last|next|this)\s+$")


EN_INSTITUTION_AFTER = re.compile(r"(?:'s)?\s+(?:[A-Z][a-z]+\s+)?(?:Hospitals?|Infirmary|Clinic|Centre|Center|"
                                  r"University|College|School|Institute|Foundation|Trust|Memorial|Building|Wing|Ward|"
                                  r"Unit|Hospice|Library|Laboratory|Medical|Children's|Women's|Cancer|Eye|Dental)\b")


@lru_cache(maxsize=1 << 16)  # notes repeat their capitalised pairs ("Presented with", "St Thomas")
def _first_and_surname(first: str, last: str) -> bool:
    """A known first name and a word that may be a surname, whatever stands around them."""
    if first not in english_first_names() or first.lower() in _stop_words():
        return False
    return not (last.title() in NOT_SURNAME or last.lower() in _stop_words()
                or last.startswith(("De ", "Van ", "Von ")))


def _english_full_name(text: str, m: re.Match[str]) -> bool:
    first, last = m.group("first").title(), m.group("last")
    if m.group("title"):
        return True
    if not _first_and_surname(first, last):
        return False
    if first in MONTHS and DATE_WORD.search(text[max(0, m.start() - 8):m.start()]):
        return False
    if EN_INSTITUTION_AFTER.match(text, m.end()):
        return False  # "John Radcliffe Hospital", "Royal Victoria Infirmary": a place named after someone
    return not text[m.end():m.end() + 2].startswith("'s")  # "Addison's disease" style eponyms


def english_names(text: str) -> list[Match]:
    """Full names whose first name is a known first name, or any name after a title or a label."""
    out: dict[tuple[int, int], Match] = {}
    taken_to = -1
    for start in CAPITAL.finditer(text):  # matches may overlap ("Patient John Smith"): try every capital
        m = EN_NAME.match(text, start.start())
        if m is None or m.start() < taken_to or not _english_full_name(text, m):
            continue
        rule = "name.en-title" if m.group("title") else "name.en-first-name"
        out[m.span()] = Match(Entity.PERSON, m.start(), m.end(), m.group(), 0.85, rule)
        taken_to = m.end()
    for rx, group, rule in ((EN_TITLE_ONLY, 0, "name.en-title"), (EN_LABEL, "name", "name.en-label")):
        for m in rx.finditer(text):
            span = m.span(group)
            if not any(s <= span[0] < e for s, e in out):
                out[span] = Match(Entity.PERSON, span[0], span[1], m.group(group), 0.8, rule)
    return sorted(out.values(), key=lambda x: x.start)


def latin_names(text: str) -> list[Match]:
    """English names, and pinyin names where no English name is (the English reading wins)."""
    latin = english_names(text)
    spans = [(m.start, m.end) for m in latin]
    return latin + [m for m in pinyin_names(text) if not any(s < m.end and m.start < e for s, e in spans)]


def person_names(text: str, *, chinese: bool = True, latin: bool = True) -> list[Match]:
    """Every person name: Chinese (only where there are Chinese characters), pinyin and English.

    `chinese=False` / `latin=False` skip a script a vectorised pre-filter has shown holds no name.
    """
    found: list[Match] = []
    if chinese and CJK.search(text):
        found += chinese_names(text)
    if latin and CAPITAL.search(text):
        taken = [(m.start, m.end) for m in found]
        found += [m for m in latin_names(text) if not any(s < m.end and m.start < e for s, e in taken)]
    return sorted(found, key=lambda m: m.start)


# ---- the lexicon cache ----

def _package_file(package: str, *path: str) -> Path:
    spec = importlib.util.find_spec(package)
    if spec is None or not spec.submodule_search_locations:
        raise ModuleNotFoundError(package)
    return Path(next(iter(spec.submodule_search_locations)), *path)


def _lexicon_sources() -> list[Path]:
    """The packaged files the lexicons are derived from."""
    return [_package_file("jieba", "dict.txt"), _package_file("pypinyin", "pinyin_dict.py"),
            _package_file("pypinyin", "phrases_dict.json"), _package_file("gender_guesser", "data", "nam_dict.txt")]


def _values(values: Iterable[str]) -> pl.DataFrame:
    return pl.DataFrame({"value": sorted(values), "number": None}, schema={"value": pl.Utf8, "number": pl.Int64})


def _derive_lexicons() -> lexicons.Tables:
    words, total, longest = _derive_word_table()
    given, known = _derive_name_lexicon()
    return {"words": words.select(value="word", number="freq"),
            "totals": pl.DataFrame({"value": ["total", "longest"], "number": [total, longest]}),
            "given": _values(given), "known": _values(known), "pinyin_syllables": _values(_derive_pinyin_syllables()),
            "pinyin_surnames": _values(_derive_pinyin_surnames()),
            "english_first_names": _values(_derive_english_first_names())}


def _cache_dir() -> Path | None:
    try:
        from enclave.settings import get_settings

        return get_settings().lexicon_cache
    except Exception:  # settings that cannot be read: the lexicons are derived in memory
        log.info("no lexicon cache: settings unreadable", exc_info=True)
        return None


@lru_cache(maxsize=1)
def _lexicons() -> lexicons.Tables:
    """Every derived lexicon, read from the cache file (built first when there is none for these sources)."""
    return lexicons.load_or_build(_cache_dir(), _lexicon_sources(), [Path(__file__)], _derive_lexicons)


def _lexicon_set(kind: str) -> frozenset[str]:
    return frozenset(_lexicons()[kind]["value"].to_list())


if __name__ == "__main__":  # scripts/setup.sh: the cache file built at install time
    _lexicons()
