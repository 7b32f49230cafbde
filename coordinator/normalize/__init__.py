"""Text read the way a person reads it: the spoken form of what a user or a chat model wrote
(numbers, money, dates, units, symbols, markdown), with a map from every spoken span back to the
written characters (``spans``). Pure: no model, no web framework."""
