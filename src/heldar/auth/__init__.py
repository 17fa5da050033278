"""Authentication, authorization and audit: who is calling, what they may do, what they did.

`rbac` maps roles to capabilities, `passwords`/`tokens` hold credentials safely, `sessions` and
`api_keys` turn a presented secret into a `Principal`, `throttle` slows password guessing, `csrf`
guards cookie sessions, and `audit` keeps the hash-chained, append-only record.
"""
