"""Chinese language support for the assistant: text normalisation, Ningxia place names, jieba dictionaries.

`nlu.text` and `nlu.places` are plain Python (no Rasa import) so actions, channels and tests can use them;
`nlu.components` holds the Rasa pipeline components built on them.
"""
