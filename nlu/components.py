"""Rasa pipeline components for workers' Chinese.

`NormalizingJiebaTokenizer` is Rasa's JiebaTokenizer that segments the *normalised* text (simplified, half-width,
lower-case; see `nlu.text.normalize_keep_offsets`) while keeping offsets into the original message. Featurizers and DIET thus see
繁體 and full-width input exactly as they see simplified input, and entity spans still point at what the user wrote.
It loads the project's user dictionaries (`nlu/userdict/`: policy terms and Ningxia place names) like its parent.
"""

from __future__ import annotations

import jieba
from rasa.engine.recipes.default_recipe import DefaultV1Recipe
from rasa.nlu.tokenizers.jieba_tokenizer import JiebaTokenizer
from rasa.nlu.tokenizers.tokenizer import Token
from rasa.shared.nlu.training_data.message import Message

from nlu.text import normalize_keep_offsets


@DefaultV1Recipe.register(DefaultV1Recipe.ComponentType.MESSAGE_TOKENIZER, is_trainable=True)
class NormalizingJiebaTokenizer(JiebaTokenizer):
    """Jieba segmentation of normalised text; whitespace is not a token."""

    def tokenize(self, message: Message, attribute: str) -> list[Token]:
        """Tokens of the normalised text, at the same offsets as in the original text."""
        text = normalize_keep_offsets(message.get(attribute))
        tokens = [Token(word, start) for word, start, _ in jieba.tokenize(text) if word.strip()]
        return self._apply_token_pattern(tokens)
