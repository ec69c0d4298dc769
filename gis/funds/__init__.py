"""The money of the programme (资金, 跟踪审计): each project's ledger from the estimate to the final
account, the funding rules of ``layers/programme/funds.yaml`` and the breaches they flag.

Above the evidence floor: a ledger entry may cite the evidence items (approvals, invoices) it rests on.
"""
