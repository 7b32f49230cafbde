"""Written → spoken cases for 'en': shapes from news, recipes, invoices and chat replies."""

CASES: list[tuple[str, str]] = [
    (
        "The company reported revenue of $4.2 billion, up 12% from last year.",
        "The company reported revenue of four point two billion dollars, up twelve percent from last year.",
    ),
    (
        "Shares fell 3.5% to $127.80 on Tuesday.",
        "Shares fell three point five percent to one hundred twenty-seven dollars and eighty cents on Tuesday.",
    ),
    (
        "Temperatures will drop to -5°C overnight.",
        "Temperatures will drop to minus five degrees Celsius overnight.",
    ),
    ("The vote passed 52-48 in the Senate.", "The vote passed fifty-two to forty-eight in the Senate."),
    (
        "About 1,200 people attended the rally on March 4, 2024.",
        "About one thousand two hundred people attended the rally on March fourth, twenty twenty-four.",
    ),
    ("The meeting is at 10:30am in room 204.", "The meeting is at ten thirty a m in room two hundred four."),
    ("Doors open at 7pm.", "Doors open at seven p m."),
    (
        "The 2nd quarter results were announced on 07/15/2024.",
        "The second quarter results were announced on July fifteenth, twenty twenty-four.",
    ),
    (
        "Inflation hit 3.2 percent in the 1990s.",
        "Inflation hit three point two percent in the nineteen nineties.",
    ),
    (
        "She was born in 1987 and moved in 2005.",
        "She was born in nineteen eighty-seven and moved in two thousand five.",
    ),
    ("Mix 1/2 cup sugar with 2 tbsp butter.", "Mix one half cup sugar with two tablespoons butter."),
    (
        "Bake at 350°F for 25-30 min.",
        "Bake at three hundred fifty degrees Fahrenheit for twenty-five to thirty minutes.",
    ),
    (
        "Add 500 g of flour and 250 ml of milk.",
        "Add five hundred grams of flour and two hundred fifty milliliters of milk.",
    ),
    ("Add 3/4 cup of water.", "Add three quarters cup of water."),
    ("You'll need 2.5 kg of potatoes.", "You'll need two point five kilograms of potatoes."),
    (
        "Invoice No. 4521 is due on 2024-03-31.",
        "Invoice number four thousand five hundred twenty-one is due on March thirty-first, twenty twenty-four.",
    ),
    (
        "Total: $1,249.99 (incl. $0.99 shipping).",
        "Total: one thousand two hundred forty-nine dollars and ninety-nine cents (including ninety-nine cents shipping).",
    ),
    ("Amount due: USD 350.", "Amount due: three hundred fifty dollars."),
    (
        "Pay €45 or £38.50 by 5 May.",
        "Pay forty-five euros or thirty-eight pounds and fifty pence by the fifth of May.",
    ),
    ("The fee is 100 EUR.", "The fee is one hundred euros."),
    (
        "Please call (555) 123-4567 or 555-987-6543.",
        "Please call five five five, one two three, four five six seven or five five five, nine eight seven, six five four three.",
    ),
    (
        "Our number is +44 20 7946 0958.",
        "Our number is plus four four, two zero, seven nine four six, zero nine five eight.",
    ),
    ("Email support@example.com for help.", "Email support at example dot com for help."),
    ("Visit https://www.example.com/help for more.", "Visit www dot example dot com slash help for more."),
    ("See www.python.org.", "See www dot python dot org."),
    ("Dr. Smith and Mrs. Jones met Prof. Lee.", "Doctor Smith and Missus Jones met Professor Lee."),
    ("He lives at 221 Baker St. in London.", "He lives at two hundred twenty-one Baker Street in London."),
    ("They visited St. Paul's Cathedral.", "They visited Saint Paul's Cathedral."),
    ("The FBI and the CIA work with NASA.", "The F B I and the C I A work with NASA."),
    ("The CEO said the API is ready.", "The C E O said the A P I is ready."),
    ("Bring food, drinks, etc.", "Bring food, drinks, et cetera."),
    ("Use a strong password, e.g. a passphrase.", "Use a strong password, for example a passphrase."),
    ("Salt & pepper to taste.", "Salt and pepper to taste."),
    ("Follow us @openai and #AI news!", "Follow us at openai and hashtag A I news!"),
    ("That's amazing!!", "That's amazing!"),
    ("Really?!", "Really?"),
    ("Wait... what?", "Wait... what?"),
    ("Great job 👍 see you soon 😀", "Great job see you soon "),
    ("<laugh> That was funny, right? <sigh>", "<laugh> That was funny, right? <sigh>"),
    ("I finished 1st and she came 3rd.", "I finished first and she came third."),
    ("Open 24/7.", "Open twenty-four seven."),
    ("Version 1.2.3 is out.", "Version one dot two dot three is out."),
    ("The room is 12 ft by 15 ft.", "The room is twelve feet by fifteen feet."),
    ("It's 2 + 2.", "It's two plus two."),
    ("Save up to 50%!", "Save up to fifty percent!"),
    ("The agent's code is 007.", "The agent's code is zero zero seven."),
]
