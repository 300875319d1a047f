"""Chinese language support for the assistant: text normalisation, Ningxia place names, jieba dictionaries.

`nlu.text` (normalisation), `nlu.answers` (yes / no / unsure, numbers and ranges, questions back, on the one word
list nlu/vocabulary.yml), `nlu.extract` (phone, amount, period, PII masking) and `nlu.places` are plain Python (no
Rasa import) so actions, channels, the knowledge base and tests can use them; `nlu.components` holds the Rasa
pipeline components built on them.
"""
