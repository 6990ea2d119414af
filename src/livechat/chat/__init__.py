"""The Chat service: rooms, memberships, messages and search.

Business rules live here, not in routes: each function takes the database and the acting
user, opens the transaction it needs, checks access by scoping its queries to what the
user may read, and raises the errors of ``livechat.errors``.
"""
