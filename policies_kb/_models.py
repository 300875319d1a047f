"""SQLAlchemy models of the knowledge base's SQL copy.

The YAML files are the source of truth; these tables are the queryable copy (the operator console and reports read
them). Only table definitions live here: no engine is created at import time and no data is seeded (see
``_queries.py`` for the engine, ``session_scope()`` and the synchronisation from YAML).
"""

from __future__ import annotations

from sqlalchemy import JSON, Boolean, Column, Date, ForeignKey, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import declarative_base, relationship

__all__ = ["Base", "RuleRow", "SourceRow", "FactRow"]

Base = declarative_base()


class RuleRow(Base):
    """One rule; ``content_hash`` is a digest of ``Rule.to_dict()`` so an unchanged rule is never rewritten."""

    __tablename__ = "kb_rules"

    id = Column(String(120), primary_key=True)
    topic = Column(String(40), nullable=False, index=True)
    title = Column(Text, nullable=False)
    questions = Column(JSON, nullable=False)
    answer = Column(Text, nullable=False)
    quote = Column(Text, nullable=False)
    scope = Column(String(80), nullable=False)
    decided_locally = Column(Boolean, nullable=False)
    effective_from = Column(Date, nullable=False, index=True)
    effective_until = Column(Date, nullable=True, index=True)
    last_verified = Column(Date, nullable=False)
    conditions = Column(JSON, nullable=True)
    content_hash = Column(String(64), nullable=False)

    sources = relationship(
        "SourceRow", back_populates="rule", order_by="SourceRow.position", cascade="all, delete-orphan"
    )


class SourceRow(Base):
    """A cited source of a rule, in the order the rule lists them (position 0 is the primary source)."""

    __tablename__ = "kb_sources"
    __table_args__ = (UniqueConstraint("rule_id", "position"),)

    id = Column(Integer, primary_key=True, autoincrement=True)
    rule_id = Column(String(120), ForeignKey("kb_rules.id", ondelete="CASCADE"), nullable=False, index=True)
    position = Column(Integer, nullable=False)
    title = Column(Text, nullable=False)
    doc_no = Column(String(120), nullable=False)
    issuer = Column(Text, nullable=False)
    date = Column(Date, nullable=False)
    article = Column(String(120), nullable=False)
    url = Column(Text, nullable=True)

    rule = relationship("RuleRow", back_populates="sources")


class FactRow(Base):
    """A declared fact (what the bot may ask), with its question and, for choice facts, the choices."""

    __tablename__ = "kb_facts"

    name = Column(String(80), primary_key=True)
    type = Column(String(20), nullable=False)
    question = Column(Text, nullable=False)
    unit = Column(String(20), nullable=True)
    choices = Column(JSON, nullable=True)
