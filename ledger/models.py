"""Storage of the committed chain: append-only blocks and transactions, node metadata.

Blocks and transactions are written once, in one database transaction per block
(``ledger.services.persist_block``), and never changed: ``save`` of an existing row,
``delete`` and the queryset's ``update``/``delete`` raise ``AppendOnlyViolation``. The
canonical JSON of every header and transaction is stored verbatim so the chain can be
served to peers and re-verified from genesis without trusting derived columns.
"""

from __future__ import annotations

from typing import Any, NoReturn

from django.db import models

from .errors import AppendOnlyViolation


class AppendOnlyQuerySet(models.QuerySet):  # type: ignore[misc,type-arg,unused-ignore]
    """Querysets that can read and insert, never rewrite history."""

    def update(self, **kwargs: Any) -> NoReturn:
        raise AppendOnlyViolation(f"{self.model.__name__} rows cannot be updated")

    def delete(self) -> NoReturn:
        raise AppendOnlyViolation(f"{self.model.__name__} rows cannot be deleted")

    def update_or_create(self, *args: Any, **kwargs: Any) -> NoReturn:
        raise AppendOnlyViolation(f"{self.model.__name__} rows cannot be updated")

    def bulk_update(self, *args: Any, **kwargs: Any) -> NoReturn:
        raise AppendOnlyViolation(f"{self.model.__name__} rows cannot be updated")


class AppendOnlyModel(models.Model):  # type: ignore[misc,unused-ignore]
    """A row is inserted once; saving it again or deleting it is refused."""

    objects = AppendOnlyQuerySet.as_manager()

    class Meta:
        abstract = True

    def save(self, *args: Any, **kwargs: Any) -> None:
        if not self._state.adding:
            raise AppendOnlyViolation(f"{type(self).__name__} rows cannot be changed once stored")
        kwargs["force_insert"] = True
        super().save(*args, **kwargs)

    def delete(self, *args: Any, **kwargs: Any) -> NoReturn:
        raise AppendOnlyViolation(f"{type(self).__name__} rows cannot be deleted")


class Block(AppendOnlyModel):
    """One committed block: header fields for queries, canonical header and certificate."""

    height = models.PositiveBigIntegerField(unique=True)
    hash = models.CharField(max_length=64, unique=True)
    prev = models.CharField(max_length=64)
    time = models.BigIntegerField(help_text="Block time, unix milliseconds (from the header).")
    proposer = models.CharField(max_length=64)
    round = models.PositiveIntegerField()
    tx_count = models.PositiveIntegerField()
    tx_root = models.CharField(max_length=64)
    state_root = models.CharField(max_length=64)
    header = models.TextField(help_text="Canonical JSON of the header; its SHA-256 is the hash.")
    certificate = models.JSONField(help_text="Commit certificate: precommit signatures of > 2/3.")
    committed_at = models.DateTimeField(help_text="Wall time at which this node stored the block.")

    class Meta:
        ordering = ("height",)

    def __str__(self) -> str:
        return f"block {self.height} {self.hash[:12]}"


class Transaction(AppendOnlyModel):
    """One committed transaction, in block order."""

    tx_id = models.CharField(max_length=64, unique=True)
    block = models.ForeignKey(Block, on_delete=models.PROTECT, related_name="transactions")
    index = models.PositiveIntegerField()
    contract = models.CharField(max_length=64)
    type = models.CharField(max_length=32)
    election = models.CharField(max_length=64, blank=True, default="", db_index=True)
    sender = models.CharField(max_length=40, db_index=True)
    body = models.TextField(help_text="Canonical JSON of the signed transaction.")

    class Meta:
        ordering = ("block_id", "index")
        constraints = (models.UniqueConstraint(fields=("block", "index"), name="ledger_tx_block_index_unique"),)

    def __str__(self) -> str:
        return f"tx {self.tx_id[:12]} {self.contract}.{self.type}"


class NodeMeta(models.Model):  # type: ignore[misc,unused-ignore]
    """Key/value facts about this node's database: genesis, signer state.

    Not append-only: the signer state moves forward with every vote this node signs.
    """

    GENESIS = "genesis"
    GENESIS_HASH = "genesis_hash"
    SIGNER_STATE = "signer_state"

    key = models.CharField(max_length=64, primary_key=True)
    value = models.TextField()
    updated_at = models.DateTimeField(auto_now=True)

    def __str__(self) -> str:
        return str(self.key)


class ContractSource(AppendOnlyModel):
    """The definition of a contract (its module source), stored apart from its execution."""

    contract_id = models.CharField(max_length=64)
    sha256 = models.CharField(max_length=64)
    source = models.TextField()
    stored_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = (
            models.UniqueConstraint(fields=("contract_id", "sha256"), name="ledger_contract_source_unique"),
        )

    def __str__(self) -> str:
        return f"{self.contract_id} {self.sha256[:12]}"
