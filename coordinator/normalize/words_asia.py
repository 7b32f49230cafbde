"""Korean, Mandarin and Hindi: the words and habits ``Lexicon`` asks for.

Longer than most modules on purpose: three tables of words, one per language, and the few
counter rules Korean and Mandarin need (which numeral a counted thing takes)."""

from __future__ import annotations

from coordinator.normalize.lexicon import Lexicon, Money, Unit
from coordinator.normalize.numbers import Speller

# ---- Korean --------------------------------------------------------------------------------------

# Korean counts hours, things, people and ages with native numerals up to 99 ("세 시", "스무 살")
# and everything else with Sino-Korean ones ("삼 분", "이천 원").
_NATIVE_LIMIT = 99
_KO = Speller(
    "ko",
    "spellout-cardinal-sinokorean",
    "spellout-ordinal-native-count",
    ("영", "일", "이", "삼", "사", "오", "육", "칠", "팔", "구"),
)
# Months six and ten drop a consonant: 유월, 시월.
_KO_MONTHS = ("일", "이", "삼", "사", "오", "유", "칠", "팔", "구", "시", "십일", "십이")


def _ko_native(value: int) -> str:
    if not 0 < value <= _NATIVE_LIMIT:
        return _KO.cardinal(value) + " "
    return _KO.cardinal(value, "spellout-cardinal-native-attributive") + " "


def _ko_nth(value: int) -> str:
    return "첫 " if value == 1 else _ko_native(value)


def _ko_month(value: int) -> str:
    return _KO_MONTHS[value - 1] if 1 <= value <= len(_KO_MONTHS) else _KO.cardinal(value)


def _ko_date(lex: Lexicon, year: int | None, month: int, day: int) -> str:
    spoken = f"{_ko_month(month)}월 {lex.speller.cardinal(day)}일"
    return f"{lex.speller.cardinal(year)}년 {spoken}" if year is not None else spoken


def _ko_time(lex: Lexicon, hour: int, minute: int, suffix: str | None) -> str:
    del suffix
    spoken = f"{_ko_native(hour)}시"
    return f"{spoken} {lex.speller.cardinal(minute)}분" if minute else spoken


def _sino_year(lex: Lexicon, year: int) -> str:
    return lex.speller.cardinal(year)


KO = Lexicon(
    language="ko",
    speller=_KO,
    decimal_mark=".",
    group_marks=",",
    point="점",
    minus="마이너스",
    percent="퍼센트",
    range_word="에서",
    and_word="그리고",
    plus="플러스",
    dot="점",
    slash="슬래시",
    at="골뱅이",
    hashtag="해시태그",
    number_sign="번",
    money_join="",
    currencies={
        "USD": Money("달러", "달러", "센트", "센트"),
        "EUR": Money("유로", "유로", "센트", "센트"),
        "GBP": Money("파운드", "파운드", "펜스", "펜스"),
        "JPY": Money("엔", "엔", "센", "센"),
        "INR": Money("루피", "루피", "파이사", "파이사"),
        "KRW": Money("원", "원", "전", "전"),
        "CNY": Money("위안", "위안", "펀", "펀"),
        "CHF": Money("스위스 프랑", "스위스 프랑", "상팀", "상팀"),
    },
    units={
        "km": Unit("킬로미터", "킬로미터"),
        "m": Unit("미터", "미터"),
        "cm": Unit("센티미터", "센티미터"),
        "mm": Unit("밀리미터", "밀리미터"),
        "kg": Unit("킬로그램", "킬로그램"),
        "g": Unit("그램", "그램"),
        "mg": Unit("밀리그램", "밀리그램"),
        "l": Unit("리터", "리터"),
        "ml": Unit("밀리리터", "밀리리터"),
        "°C": Unit("도", "도"),
        "°": Unit("도", "도"),
        "m²": Unit("제곱미터", "제곱미터"),
        "GB": Unit("기가바이트", "기가바이트"),
        "MB": Unit("메가바이트", "메가바이트"),
        "km/h": Unit("킬로미터", "킬로미터"),
    },
    scales=("만", "억", "조"),
    abbreviations={},
    months=tuple(f"{month}월" for month in _KO_MONTHS),
    date_order="YMD",
    say_date=_ko_date,
    say_time=_ko_time,
    say_year=_sino_year,
    half="이분의 일",
    over="분의",
    denominator_first=True,
    counters={
        "개": _ko_native,
        "명": _ko_native,
        "살": _ko_native,
        "시간": _ko_native,
        "시": _ko_native,
        "마리": _ko_native,
        "잔": _ko_native,
        "권": _ko_native,
        "번째": _ko_nth,
        "월": _ko_month,
    },
    money_minor=False,
)

# ---- Mandarin ------------------------------------------------------------------------------------


class _MandarinSpeller(Speller):
    """CLDR writes the inner zero 〇 and says 二 before 千/万/亿; speech says 零 and 两."""

    def cardinal(self, value: int, ruleset: str | None = None) -> str:
        spoken = super().cardinal(value, ruleset).replace("〇", "零")
        for big in ("千", "万", "亿"):
            if spoken.startswith("二" + big):
                spoken = "两" + spoken[1:]
        return spoken


_ZH = _MandarinSpeller(
    "zh",
    "spellout-cardinal",
    "spellout-ordinal",
    ("零", "一", "二", "三", "四", "五", "六", "七", "八", "九"),
)
# A year of four digits before 年 is read digit by digit (二零二四年); a count of years is a number.
_YEAR_DIGITS = 1000


def _zh_liang(value: int) -> str:
    return "两" if value == 2 else _ZH.cardinal(value)


def _zh_year_or_count(value: int) -> str:
    return _ZH.digits(str(value), "") if value >= _YEAR_DIGITS else _zh_liang(value)


def _zh_date(lex: Lexicon, year: int | None, month: int, day: int) -> str:
    spoken = f"{_ZH.cardinal(month)}月{_ZH.cardinal(day)}日"
    return f"{_ZH.digits(str(year), '')}年{spoken}" if year is not None else spoken


def _zh_time(lex: Lexicon, hour: int, minute: int, suffix: str | None) -> str:
    del suffix
    spoken = f"{_zh_liang(hour)}点"
    if not minute:
        return spoken
    return f"{spoken}{'零' if minute < 10 else ''}{_ZH.cardinal(minute)}分"


def _zh_year(lex: Lexicon, year: int) -> str:
    return _ZH.digits(str(year), "")


ZH = Lexicon(
    language="zh",
    speller=_ZH,
    decimal_mark=".",
    group_marks=",",
    point="点",
    minus="负",
    percent="百分之",
    range_word="到",
    and_word="和",
    plus="加",
    dot="点",
    slash="斜杠",
    at="艾特",
    hashtag="话题",
    number_sign="第",
    money_join="",
    currencies={
        "USD": Money("美元", "美元", "美分", "美分"),
        "EUR": Money("欧元", "欧元", "欧分", "欧分"),
        "GBP": Money("英镑", "英镑", "便士", "便士"),
        "JPY": Money("日元", "日元", "钱", "钱"),
        "INR": Money("卢比", "卢比", "派萨", "派萨"),
        "KRW": Money("韩元", "韩元", "钱", "钱"),
        "CNY": Money("元", "元", "分", "分"),
        "CHF": Money("瑞士法郎", "瑞士法郎", "生丁", "生丁"),
    },
    units={
        "km": Unit("公里", "公里"),
        "m": Unit("米", "米"),
        "cm": Unit("厘米", "厘米"),
        "mm": Unit("毫米", "毫米"),
        "kg": Unit("公斤", "公斤"),
        "g": Unit("克", "克"),
        "mg": Unit("毫克", "毫克"),
        "l": Unit("升", "升"),
        "ml": Unit("毫升", "毫升"),
        "km/h": Unit("公里每小时", "公里每小时"),
        "°C": Unit("摄氏度", "摄氏度"),
        "°": Unit("度", "度"),
        "m²": Unit("平方米", "平方米"),
        "h": Unit("小时", "小时"),
        "min": Unit("分钟", "分钟"),
    },
    scales=("万", "亿"),
    abbreviations={},
    months=tuple(
        f"{month}月" for month in ("一", "二", "三", "四", "五", "六", "七", "八", "九", "十", "十一", "十二")
    ),
    date_order="YMD",
    say_date=_zh_date,
    say_time=_zh_time,
    say_year=_zh_year,
    spaced=False,
    half="二分之一",
    over="分之",
    counters={
        "年": _zh_year_or_count,
        **{
            word: _zh_liang
            for word in ("个", "位", "只", "本", "次", "天", "件", "条", "张", "岁", "杯", "名")
        },
    },
    percent_before=True,
    denominator_first=True,
    money_minor=False,
    symbol_codes={"¥": "CNY", "￥": "CNY"},
)

# ---- Hindi ---------------------------------------------------------------------------------------


def _hi_year(lex: Lexicon, year: int) -> str:
    """Hindi says a year of the 1100s-1900s in hundreds: "उन्नीस सौ सत्तासी" (1987)."""
    low, high = lex.year_range
    if not low <= year <= high:
        return lex.speller.cardinal(year)
    hundreds, rest = divmod(year, 100)
    spoken = f"{lex.speller.cardinal(hundreds)} सौ"
    return f"{spoken} {lex.speller.cardinal(rest)}" if rest else spoken


def _hi_date(lex: Lexicon, year: int | None, month: int, day: int) -> str:
    spoken = f"{lex.speller.cardinal(day)} {lex.months[month - 1]}"
    return f"{spoken} {lex.say_year(lex, year)}" if year is not None else spoken


def _hi_time(lex: Lexicon, hour: int, minute: int, suffix: str | None) -> str:
    del suffix
    if not minute:
        return f"{lex.speller.cardinal(hour)} बजे"
    return f"{lex.speller.cardinal(hour)} बजकर {lex.speller.cardinal(minute)} मिनट"


HI = Lexicon(
    language="hi",
    speller=Speller(
        "hi",
        "spellout-cardinal",
        "spellout-ordinal-masculine",
        ("शून्य", "एक", "दो", "तीन", "चार", "पाँच", "छह", "सात", "आठ", "नौ"),
    ),
    decimal_mark=".",
    group_marks=",",
    point="दशमलव",
    minus="माइनस",
    percent="प्रतिशत",
    range_word="से",
    and_word="और",
    plus="प्लस",
    dot="डॉट",
    slash="स्लैश",
    at="एट",
    hashtag="हैशटैग",
    number_sign="नंबर",
    money_join="और",
    currencies={
        "INR": Money("रुपया", "रुपये", "पैसा", "पैसे"),
        "USD": Money("डॉलर", "डॉलर", "सेंट", "सेंट"),
        "EUR": Money("यूरो", "यूरो", "सेंट", "सेंट"),
        "GBP": Money("पाउंड", "पाउंड", "पेंस", "पेंस"),
        "JPY": Money("येन", "येन", "सेन", "सेन"),
        "KRW": Money("वॉन", "वॉन", "जॉन", "जॉन"),
        "CNY": Money("युआन", "युआन", "फेन", "फेन"),
        "CHF": Money("स्विस फ्रैंक", "स्विस फ्रैंक", "सेंटीम", "सेंटीम"),
    },
    units={
        "km": Unit("किलोमीटर", "किलोमीटर"),
        "m": Unit("मीटर", "मीटर"),
        "cm": Unit("सेंटीमीटर", "सेंटीमीटर"),
        "mm": Unit("मिलीमीटर", "मिलीमीटर"),
        "kg": Unit("किलो", "किलो"),
        "g": Unit("ग्राम", "ग्राम"),
        "mg": Unit("मिलीग्राम", "मिलीग्राम"),
        "l": Unit("लीटर", "लीटर"),
        "ml": Unit("मिलीलीटर", "मिलीलीटर"),
        "km/h": Unit("किलोमीटर प्रति घंटा", "किलोमीटर प्रति घंटा"),
        "°C": Unit("डिग्री सेल्सियस", "डिग्री सेल्सियस"),
        "°": Unit("डिग्री", "डिग्री"),
        "m²": Unit("वर्ग मीटर", "वर्ग मीटर"),
        "GB": Unit("जीबी", "जीबी"),
        "MB": Unit("एमबी", "एमबी"),
        "h": Unit("घंटा", "घंटे"),
        "min": Unit("मिनट", "मिनट"),
    },
    scales=("हज़ार", "लाख", "करोड़"),
    abbreviations={"डॉ.": "डॉक्टर"},
    months=(
        "जनवरी",
        "फ़रवरी",
        "मार्च",
        "अप्रैल",
        "मई",
        "जून",
        "जुलाई",
        "अगस्त",
        "सितंबर",
        "अक्टूबर",
        "नवंबर",
        "दिसंबर",
    ),
    date_order="DMY",
    say_date=_hi_date,
    say_time=_hi_time,
    say_year=_hi_year,
    year_range=(1100, 1999),
    half="आधा",
    over="बटा",
    indian_grouping=True,
)
