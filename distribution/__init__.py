"""The distribution network above the merchants: operator → super distributors →
distributors → dealers/franchisees → retailers (merchants), depth configurable. Each node
has its own prepaid account, status and limits; credit moves down the tree and is recalled
up it only as balanced ledger transfers, and a node acts only on its own subtree."""
