"""English, French, German, Spanish and Italian: the words and habits ``Lexicon`` asks for.

Longer than most modules on purpose: it is five tables of words, one per language, and nothing
else; splitting them would scatter what a translator reviews together."""

from __future__ import annotations

from coordinator.normalize.lexicon import Lexicon, Money, Unit
from coordinator.normalize.numbers import Speller

# ---- English -------------------------------------------------------------------------------------


def _en_date(lex: Lexicon, year: int | None, month: int, day: int) -> str:
    spoken = f"{lex.months[month - 1]} {lex.speller.ordinal(day)}"
    return f"{spoken}, {lex.say_year(lex, year)}" if year is not None else spoken


def _en_time(lex: Lexicon, hour: int, minute: int, suffix: str | None) -> str:
    spoken = lex.speller.cardinal(hour)
    if minute == 0:
        spoken += "" if suffix else " o'clock"
    elif minute < 10:
        spoken += " oh " + lex.speller.cardinal(minute)
    else:
        spoken += " " + lex.speller.cardinal(minute)
    return f"{spoken} {' '.join(suffix.replace('.', '').lower())}" if suffix else spoken


def _en_year(lex: Lexicon, year: int) -> str:
    return lex.speller.year(year)


EN = Lexicon(
    language="en",
    speller=Speller(
        "en",
        "spellout-cardinal",
        "spellout-ordinal",
        ("zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine"),
    ),
    decimal_mark=".",
    group_marks=",",
    point="point",
    minus="minus",
    percent="percent",
    range_word="to",
    and_word="and",
    plus="plus",
    dot="dot",
    slash="slash",
    at="at",
    hashtag="hashtag",
    number_sign="number",
    money_join="and",
    currencies={
        "USD": Money("dollar", "dollars", "cent", "cents"),
        "EUR": Money("euro", "euros", "cent", "cents"),
        "GBP": Money("pound", "pounds", "penny", "pence"),
        "JPY": Money("yen", "yen", "sen", "sen"),
        "INR": Money("rupee", "rupees", "paisa", "paise"),
        "KRW": Money("won", "won", "jeon", "jeon"),
        "CNY": Money("yuan", "yuan", "fen", "fen"),
        "CHF": Money("Swiss franc", "Swiss francs", "centime", "centimes"),
    },
    units={
        "km": Unit("kilometer", "kilometers"),
        "m": Unit("meter", "meters"),
        "cm": Unit("centimeter", "centimeters"),
        "mm": Unit("millimeter", "millimeters"),
        "kg": Unit("kilogram", "kilograms"),
        "g": Unit("gram", "grams"),
        "mg": Unit("milligram", "milligrams"),
        "l": Unit("liter", "liters"),
        "ml": Unit("milliliter", "milliliters"),
        "km/h": Unit("kilometer per hour", "kilometers per hour"),
        "mph": Unit("mile per hour", "miles per hour"),
        "°C": Unit("degree Celsius", "degrees Celsius"),
        "°F": Unit("degree Fahrenheit", "degrees Fahrenheit"),
        "°": Unit("degree", "degrees"),
        "m²": Unit("square meter", "square meters"),
        "km²": Unit("square kilometer", "square kilometers"),
        "GB": Unit("gigabyte", "gigabytes"),
        "MB": Unit("megabyte", "megabytes"),
        "TB": Unit("terabyte", "terabytes"),
        "kWh": Unit("kilowatt hour", "kilowatt hours"),
        "lb": Unit("pound", "pounds"),
        "lbs": Unit("pounds", "pounds"),
        "oz": Unit("ounce", "ounces"),
        "ft": Unit("foot", "feet"),
        "mi": Unit("mile", "miles"),
        "h": Unit("hour", "hours"),
        "min": Unit("minute", "minutes"),
        "ms": Unit("millisecond", "milliseconds"),
        "tbsp": Unit("tablespoon", "tablespoons"),
        "tsp": Unit("teaspoon", "teaspoons"),
    },
    scales=("thousand", "million", "billion", "trillion"),
    abbreviations={
        "Dr.": "Doctor",
        "Mr.": "Mister",
        "Mrs.": "Missus",
        "Ms.": "Miz",
        "Prof.": "Professor",
        "Jr.": "Junior",
        "Sr.": "Senior",
        "etc.": "et cetera",
        "e.g.": "for example",
        "i.e.": "that is",
        "vs.": "versus",
        "approx.": "approximately",
        "incl.": "including",
        "Inc.": "Incorporated",
        "Ltd.": "Limited",
        "Ave.": "Avenue",
        "Mt.": "Mount",
        "St.": "Street",
        "Mr": "Mister",
        "Mrs": "Missus",
        "Dr": "Doctor",
    },
    months=(
        "January",
        "February",
        "March",
        "April",
        "May",
        "June",
        "July",
        "August",
        "September",
        "October",
        "November",
        "December",
    ),
    date_order="MDY",
    say_date=_en_date,
    say_time=_en_time,
    say_year=_en_year,
    ordinal_suffixes={"st": "", "nd": "", "rd": "", "th": ""},
    half="one half",
    over="over",
    year_range=(1100, 2099),
)

# ---- French --------------------------------------------------------------------------------------


def _fr_day(lex: Lexicon, day: int) -> str:
    return "premier" if day == 1 else lex.speller.cardinal(day)


def _fr_date(lex: Lexicon, year: int | None, month: int, day: int) -> str:
    spoken = f"{_fr_day(lex, day)} {lex.months[month - 1]}"
    return f"{spoken} {lex.say_year(lex, year)}" if year is not None else spoken


def _fr_time(lex: Lexicon, hour: int, minute: int, suffix: str | None) -> str:
    del suffix
    spoken = "une heure" if hour == 1 else f"{lex.speller.cardinal(hour)} heures"
    return f"{spoken} {lex.speller.cardinal(minute)}" if minute else spoken


def _cardinal_year(lex: Lexicon, year: int) -> str:
    return lex.speller.cardinal(year)


FR = Lexicon(
    language="fr",
    speller=Speller(
        "fr",
        "spellout-cardinal-masculine",
        "spellout-ordinal-masculine",
        ("zéro", "un", "deux", "trois", "quatre", "cinq", "six", "sept", "huit", "neuf"),
    ),
    decimal_mark=",",
    group_marks=". \u00a0\u202f",
    point="virgule",
    minus="moins",
    percent="pour cent",
    range_word="à",
    and_word="et",
    plus="plus",
    dot="point",
    slash="slash",
    at="arobase",
    hashtag="hashtag",
    number_sign="numéro",
    money_join="et",
    currencies={
        "USD": Money("dollar", "dollars", "cent", "cents"),
        "EUR": Money("euro", "euros", "centime", "centimes"),
        "GBP": Money("livre", "livres", "penny", "pence"),
        "JPY": Money("yen", "yens", "sen", "sen"),
        "INR": Money("roupie", "roupies", "paisa", "paisas"),
        "KRW": Money("won", "wons", "jeon", "jeon"),
        "CNY": Money("yuan", "yuans", "fen", "fens"),
        "CHF": Money("franc suisse", "francs suisses", "centime", "centimes"),
    },
    units={
        "km": Unit("kilomètre", "kilomètres"),
        "m": Unit("mètre", "mètres"),
        "cm": Unit("centimètre", "centimètres"),
        "mm": Unit("millimètre", "millimètres"),
        "kg": Unit("kilo", "kilos"),
        "g": Unit("gramme", "grammes"),
        "mg": Unit("milligramme", "milligrammes"),
        "l": Unit("litre", "litres"),
        "cl": Unit("centilitre", "centilitres"),
        "ml": Unit("millilitre", "millilitres"),
        "km/h": Unit("kilomètre heure", "kilomètres heure"),
        "°C": Unit("degré", "degrés"),
        "°": Unit("degré", "degrés"),
        "m²": Unit("mètre carré", "mètres carrés"),
        "km²": Unit("kilomètre carré", "kilomètres carrés"),
        "Go": Unit("gigaoctet", "gigaoctets"),
        "Mo": Unit("mégaoctet", "mégaoctets"),
        "kWh": Unit("kilowattheure", "kilowattheures"),
        "min": Unit("minute", "minutes"),
        "ms": Unit("milliseconde", "millisecondes"),
    },
    scales=("mille", "million", "millions", "milliard", "milliards"),
    abbreviations={
        "M.": "Monsieur",
        "Mme": "Madame",
        "Mmes": "Mesdames",
        "Mlle": "Mademoiselle",
        "Dr": "Docteur",
        "Pr": "Professeur",
        "etc.": "et cetera",
        "p. ex.": "par exemple",
        "c.-à-d.": "c'est-à-dire",
        "av.": "avenue",
        "bd": "boulevard",
        "env.": "environ",
    },
    months=(
        "janvier",
        "février",
        "mars",
        "avril",
        "mai",
        "juin",
        "juillet",
        "août",
        "septembre",
        "octobre",
        "novembre",
        "décembre",
    ),
    date_order="DMY",
    say_date=_fr_date,
    say_time=_fr_time,
    say_year=_cardinal_year,
    ordinal_suffixes={"er": "", "re": "spellout-ordinal-feminine", "e": "", "ème": "", "eme": ""},
    millions_of="d'",
    half="un demi",
    over="sur",
    fraction_as_number=True,
)

# ---- German --------------------------------------------------------------------------------------


def _de_date(lex: Lexicon, year: int | None, month: int, day: int) -> str:
    # Dates are mostly said after "am", "vom", "bis zum": the dative ending ("am vierten März").
    spoken = f"{lex.speller.ordinal(day, 'spellout-ordinal-n')} {lex.months[month - 1]}"
    return f"{spoken} {lex.say_year(lex, year)}" if year is not None else spoken


def _de_time(lex: Lexicon, hour: int, minute: int, suffix: str | None) -> str:
    del suffix
    spoken = f"{'ein' if hour == 1 else lex.speller.cardinal(hour)} Uhr"
    return f"{spoken} {lex.speller.cardinal(minute)}" if minute else spoken


def _de_year(lex: Lexicon, year: int) -> str:
    return lex.speller.year(year)


DE = Lexicon(
    language="de",
    speller=Speller(
        "de",
        "spellout-cardinal-neuter",
        "spellout-ordinal",
        ("null", "eins", "zwei", "drei", "vier", "fünf", "sechs", "sieben", "acht", "neun"),
    ),
    decimal_mark=",",
    group_marks=". \u00a0\u202f",
    point="Komma",
    minus="minus",
    percent="Prozent",
    range_word="bis",
    and_word="und",
    plus="plus",
    dot="Punkt",
    slash="Schrägstrich",
    at="at",
    hashtag="Hashtag",
    number_sign="Nummer",
    money_join="und",
    currencies={
        "USD": Money("Dollar", "Dollar", "Cent", "Cent"),
        "EUR": Money("Euro", "Euro", "Cent", "Cent"),
        "GBP": Money("Pfund", "Pfund", "Penny", "Pence"),
        "JPY": Money("Yen", "Yen", "Sen", "Sen"),
        "INR": Money("Rupie", "Rupien", "Paisa", "Paise"),
        "KRW": Money("Won", "Won", "Jeon", "Jeon"),
        "CNY": Money("Yuan", "Yuan", "Fen", "Fen"),
        "CHF": Money("Franken", "Franken", "Rappen", "Rappen"),
    },
    units={
        "km": Unit("Kilometer", "Kilometer"),
        "m": Unit("Meter", "Meter"),
        "cm": Unit("Zentimeter", "Zentimeter"),
        "mm": Unit("Millimeter", "Millimeter"),
        "kg": Unit("Kilogramm", "Kilogramm"),
        "g": Unit("Gramm", "Gramm"),
        "mg": Unit("Milligramm", "Milligramm"),
        "l": Unit("Liter", "Liter"),
        "ml": Unit("Milliliter", "Milliliter"),
        "km/h": Unit("Kilometer pro Stunde", "Kilometer pro Stunde"),
        "°C": Unit("Grad Celsius", "Grad Celsius"),
        "°": Unit("Grad", "Grad"),
        "m²": Unit("Quadratmeter", "Quadratmeter"),
        "km²": Unit("Quadratkilometer", "Quadratkilometer"),
        "GB": Unit("Gigabyte", "Gigabyte"),
        "MB": Unit("Megabyte", "Megabyte"),
        "kWh": Unit("Kilowattstunde", "Kilowattstunden"),
        "h": Unit("Stunde", "Stunden"),
        "min": Unit("Minute", "Minuten"),
        "Std.": Unit("Stunde", "Stunden"),
        "EL": Unit("Esslöffel", "Esslöffel"),
        "TL": Unit("Teelöffel", "Teelöffel"),
    },
    scales=("Tausend", "Mio.", "Million", "Millionen", "Mrd.", "Milliarde", "Milliarden"),
    abbreviations={
        "z.B.": "zum Beispiel",
        "z. B.": "zum Beispiel",
        "d.h.": "das heißt",
        "usw.": "und so weiter",
        "bzw.": "beziehungsweise",
        "ca.": "circa",
        "Dr.": "Doktor",
        "Prof.": "Professor",
        "Hr.": "Herr",
        "Fr.": "Frau",
        "Str.": "Straße",
        "evtl.": "eventuell",
        "ggf.": "gegebenenfalls",
        "inkl.": "inklusive",
        "zzgl.": "zuzüglich",
        "Mio.": "Millionen",
        "Mrd.": "Milliarden",
        "MwSt.": "Mehrwertsteuer",
    },
    months=(
        "Januar",
        "Februar",
        "März",
        "April",
        "Mai",
        "Juni",
        "Juli",
        "August",
        "September",
        "Oktober",
        "November",
        "Dezember",
    ),
    date_order="DMY",
    say_date=_de_date,
    say_time=_de_time,
    say_year=_de_year,
    lone_one="eins",
    half="ein halb",
    over="durch",
    year_range=(1100, 1999),
)

# ---- Spanish -------------------------------------------------------------------------------------


def _es_date(lex: Lexicon, year: int | None, month: int, day: int) -> str:
    spoken = f"{lex.speller.cardinal(day)} de {lex.months[month - 1]}"
    return f"{spoken} de {lex.say_year(lex, year)}" if year is not None else spoken


def _es_time(lex: Lexicon, hour: int, minute: int, suffix: str | None) -> str:
    del suffix
    spoken = "una" if hour == 1 else lex.speller.cardinal(hour)
    return f"{spoken} y {lex.speller.cardinal(minute)}" if minute else f"{spoken} en punto"


ES = Lexicon(
    language="es",
    speller=Speller(
        "es",
        "spellout-numbering",
        "spellout-ordinal-masculine",
        ("cero", "uno", "dos", "tres", "cuatro", "cinco", "seis", "siete", "ocho", "nueve"),
    ),
    decimal_mark=",",
    group_marks=". \u00a0\u202f",
    point="coma",
    minus="menos",
    percent="por ciento",
    range_word="a",
    and_word="y",
    plus="más",
    dot="punto",
    slash="barra",
    at="arroba",
    hashtag="hashtag",
    number_sign="número",
    money_join="con",
    currencies={
        "USD": Money("dólar", "dólares", "centavo", "centavos"),
        "EUR": Money("euro", "euros", "céntimo", "céntimos"),
        "GBP": Money("libra", "libras", "penique", "peniques"),
        "JPY": Money("yen", "yenes", "sen", "sen"),
        "INR": Money("rupia", "rupias", "paisa", "paisas"),
        "KRW": Money("won", "wones", "jeon", "jeon"),
        "CNY": Money("yuan", "yuanes", "fen", "fen"),
        "CHF": Money("franco suizo", "francos suizos", "céntimo", "céntimos"),
        "MXN": Money("peso", "pesos", "centavo", "centavos"),
    },
    units={
        "km": Unit("kilómetro", "kilómetros"),
        "m": Unit("metro", "metros"),
        "cm": Unit("centímetro", "centímetros"),
        "mm": Unit("milímetro", "milímetros"),
        "kg": Unit("kilo", "kilos"),
        "g": Unit("gramo", "gramos"),
        "mg": Unit("miligramo", "miligramos"),
        "l": Unit("litro", "litros"),
        "ml": Unit("mililitro", "mililitros"),
        "km/h": Unit("kilómetro por hora", "kilómetros por hora"),
        "°C": Unit("grado", "grados"),
        "°": Unit("grado", "grados"),
        "m²": Unit("metro cuadrado", "metros cuadrados"),
        "km²": Unit("kilómetro cuadrado", "kilómetros cuadrados"),
        "GB": Unit("gigabyte", "gigabytes"),
        "MB": Unit("megabyte", "megabytes"),
        "kWh": Unit("kilovatio hora", "kilovatios hora"),
        "h": Unit("hora", "horas"),
        "min": Unit("minuto", "minutos"),
    },
    scales=("mil", "millón", "millones"),
    abbreviations={
        "Sr.": "señor",
        "Sra.": "señora",
        "Srta.": "señorita",
        "Dr.": "doctor",
        "Dra.": "doctora",
        "etc.": "etcétera",
        "p. ej.": "por ejemplo",
        "aprox.": "aproximadamente",
        "Ud.": "usted",
        "Uds.": "ustedes",
        "Avda.": "avenida",
    },
    months=(
        "enero",
        "febrero",
        "marzo",
        "abril",
        "mayo",
        "junio",
        "julio",
        "agosto",
        "septiembre",
        "octubre",
        "noviembre",
        "diciembre",
    ),
    date_order="DMY",
    say_date=_es_date,
    say_time=_es_time,
    say_year=_cardinal_year,
    ordinal_suffixes={"º": "", "°": "", "ª": "spellout-ordinal-feminine"},
    millions_of="de ",
    half="un medio",
    over="entre",
    fraction_as_number=True,
)

# ---- Italian -------------------------------------------------------------------------------------


def _it_date(lex: Lexicon, year: int | None, month: int, day: int) -> str:
    spoken = f"{'primo' if day == 1 else lex.speller.cardinal(day)} {lex.months[month - 1]}"
    return f"{spoken} {lex.say_year(lex, year)}" if year is not None else spoken


def _it_time(lex: Lexicon, hour: int, minute: int, suffix: str | None) -> str:
    del suffix
    spoken = "una" if hour == 1 else lex.speller.cardinal(hour)
    return f"{spoken} e {lex.speller.cardinal(minute)}" if minute else spoken


IT = Lexicon(
    language="it",
    speller=Speller(
        "it",
        "spellout-numbering",
        "spellout-ordinal-masculine",
        ("zero", "uno", "due", "tre", "quattro", "cinque", "sei", "sette", "otto", "nove"),
    ),
    decimal_mark=",",
    group_marks=". \u00a0\u202f",
    point="virgola",
    minus="meno",
    percent="per cento",
    range_word="a",
    and_word="e",
    plus="più",
    dot="punto",
    slash="slash",
    at="chiocciola",
    hashtag="hashtag",
    number_sign="numero",
    money_join="e",
    currencies={
        "USD": Money("dollaro", "dollari", "centesimo", "centesimi"),
        "EUR": Money("euro", "euro", "centesimo", "centesimi"),
        "GBP": Money("sterlina", "sterline", "penny", "pence"),
        "JPY": Money("yen", "yen", "sen", "sen"),
        "INR": Money("rupia", "rupie", "paisa", "paise"),
        "KRW": Money("won", "won", "jeon", "jeon"),
        "CNY": Money("yuan", "yuan", "fen", "fen"),
        "CHF": Money("franco svizzero", "franchi svizzeri", "centesimo", "centesimi"),
    },
    units={
        "km": Unit("chilometro", "chilometri"),
        "m": Unit("metro", "metri"),
        "cm": Unit("centimetro", "centimetri"),
        "mm": Unit("millimetro", "millimetri"),
        "kg": Unit("chilo", "chili"),
        "g": Unit("grammo", "grammi"),
        "mg": Unit("milligrammo", "milligrammi"),
        "l": Unit("litro", "litri"),
        "ml": Unit("millilitro", "millilitri"),
        "km/h": Unit("chilometro orario", "chilometri orari"),
        "°C": Unit("grado", "gradi"),
        "°": Unit("grado", "gradi"),
        "m²": Unit("metro quadrato", "metri quadrati"),
        "km²": Unit("chilometro quadrato", "chilometri quadrati"),
        "GB": Unit("gigabyte", "gigabyte"),
        "MB": Unit("megabyte", "megabyte"),
        "kWh": Unit("chilowattora", "chilowattora"),
        "h": Unit("ora", "ore"),
        "min": Unit("minuto", "minuti"),
    },
    scales=("mila", "milione", "milioni", "miliardo", "miliardi"),
    abbreviations={
        "Sig.": "signor",
        "Sig.ra": "signora",
        "Dott.": "dottor",
        "Dott.ssa": "dottoressa",
        "Prof.": "professor",
        "ecc.": "eccetera",
        "es.": "esempio",
        "p.es.": "per esempio",
        "ca.": "circa",
        "tel.": "telefono",
    },
    months=(
        "gennaio",
        "febbraio",
        "marzo",
        "aprile",
        "maggio",
        "giugno",
        "luglio",
        "agosto",
        "settembre",
        "ottobre",
        "novembre",
        "dicembre",
    ),
    date_order="DMY",
    say_date=_it_date,
    say_time=_it_time,
    say_year=_cardinal_year,
    ordinal_suffixes={"º": "", "°": "", "ª": "spellout-ordinal-feminine"},
    millions_of="di ",
    half="un mezzo",
    over="su",
    fraction_as_number=True,
)
