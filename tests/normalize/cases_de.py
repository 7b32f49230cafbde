"""Written → spoken cases for 'de': shapes from news, recipes, invoices and chat replies."""

CASES: list[tuple[str, str]] = [
    (
        "Der Umsatz stieg auf 4,2 Mrd. Euro, ein Plus von 12 %.",
        "Der Umsatz stieg auf vier Komma zwei Milliarden Euro, ein Plus von zwölf Prozent.",
    ),
    (
        "Die Aktie fiel um 3,5 % auf 127,80 €.",
        "Die Aktie fiel um drei Komma fünf Prozent auf einhundertsiebenundzwanzig Euro und achtzig Cent.",
    ),
    ("Nachts wird es -5 °C kalt.", "Nachts wird es minus fünf Grad Celsius kalt."),
    (
        "Rund 1.200 Menschen kamen zur Kundgebung.",
        "Rund eintausendzweihundert Menschen kamen zur Kundgebung.",
    ),
    (
        "Das Treffen ist um 14:30 Uhr in Raum 204.",
        "Das Treffen ist um vierzehn Uhr dreißig in Raum zweihundertvier.",
    ),
    ("Der Zug fährt um 18:45.", "Der Zug fährt um achtzehn Uhr fünfundvierzig."),
    (
        "Der Bericht vom 04.03.2024 ist online.",
        "Der Bericht vom vierten März zweitausendvierundzwanzig ist online.",
    ),
    ("Sie wurde 1987 geboren.", "Sie wurde neunzehnhundertsiebenundachtzig geboren."),
    ("Am 4. März beginnt die Messe.", "Am vierten März beginnt die Messe."),
    ("Der 3. Platz ging an Berlin.", "Der dritte Platz ging an Berlin."),
    (
        "Mischen Sie 250 g Mehl mit 500 ml Milch.",
        "Mischen Sie zweihundertfünfzig Gramm Mehl mit fünfhundert Milliliter Milch.",
    ),
    ("Dazu 2 EL Öl und 1 TL Salz.", "Dazu zwei Esslöffel Öl und ein Teelöffel Salz."),
    (
        "Bei 180 °C 25-30 min backen.",
        "Bei einhundertachtzig Grad Celsius fünfundzwanzig bis dreißig Minuten backen.",
    ),
    ("Sie brauchen 2,5 kg Kartoffeln.", "Sie brauchen zwei Komma fünf Kilogramm Kartoffeln."),
    (
        "Rechnung Nr. 4521, fällig am 2024-03-31.",
        "Rechnung Nummer viertausendfünfhunderteinundzwanzig, fällig am einunddreißigsten März zweitausendvierundzwanzig.",
    ),
    (
        "Gesamt: 1.249,99 € inkl. MwSt.",
        "Gesamt: eintausendzweihundertneunundvierzig Euro und neunundneunzig Cent inklusive Mehrwertsteuer.",
    ),
    ("Offener Betrag: 350 EUR.", "Offener Betrag: dreihundertfünfzig Euro."),
    ("Das Ticket kostet 45 $.", "Das Ticket kostet fünfundvierzig Dollar."),
    (
        "Rufen Sie +49 30 1234 5678 an.",
        "Rufen Sie plus vier neun, drei null, eins zwei drei vier, fünf sechs sieben acht an.",
    ),
    ("Schreiben Sie an info@beispiel.de.", "Schreiben Sie an info at beispiel Punkt de."),
    (
        "Mehr unter https://www.beispiel.de/hilfe.",
        "Mehr unter www Punkt beispiel Punkt de Schrägstrich hilfe.",
    ),
    ("Dr. Müller und Prof. Schmidt kommen.", "Doktor Müller und Professor Schmidt kommen."),
    ("Brot, Wein usw.", "Brot, Wein und so weiter."),
    ("Das gilt z.B. für Kinder.", "Das gilt zum Beispiel für Kinder."),
    ("Die EU und die USA verhandeln.", "Die E U und die U S A verhandeln."),
    ("Der ADAC hilft.", "Der ADAC hilft."),
    ("Salz & Pfeffer.", "Salz und Pfeffer."),
    ("Das ist toll!!", "Das ist toll!"),
    ("Wirklich?!", "Wirklich?"),
    ("Warte... was?", "Warte... was?"),
    ("Super 👍 bis morgen 😀", "Super bis morgen "),
    ("<laugh> Das war lustig. <sigh>", "<laugh> Das war lustig. <sigh>"),
    ("Version 1.2.3 ist da.", "Version ein Punkt zwei Punkt drei ist da."),
    ("Der Raum ist 12 m lang.", "Der Raum ist zwölf Meter lang."),
    ("Bis zu 50 % Rabatt!", "Bis zu fünfzig Prozent Rabatt!"),
    ("Das Spiel endete 3:1.", "Das Spiel endete drei:eins."),
    ("Er gewann 1.000.000 € im Lotto.", "Er gewann eine Million Euro im Lotto."),
    ("Die Temperatur steigt um 2,75 Grad.", "Die Temperatur steigt um zwei Komma sieben fünf Grad."),
    ("Der Preis sank von 10 € auf 8,50 €.", "Der Preis sank von zehn Euro auf acht Euro und fünfzig Cent."),
    ("Die Postleitzahl ist 01067.", "Die Postleitzahl ist null eins null sechs sieben."),
    ("Das Auto fährt 120 km/h.", "Das Auto fährt einhundertzwanzig Kilometer pro Stunde."),
    (
        "Im Jahr 2023 waren es ca. 3 Mio. Besucher.",
        "Im Jahr zweitausenddreiundzwanzig waren es circa drei Millionen Besucher.",
    ),
]
